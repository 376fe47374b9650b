import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { type Dataset, datasetFromText } from "../../lib/data/dataset.ts";
import { Rng } from "../../lib/random.ts";
import { tinyConfig } from "../_helpers.ts";
import type { TrainConfig } from "../../lib/config.ts";
import { predictionMetrics, scoreMetrics } from "../../lib/eval/evaluate.ts";
import { RandomBaseline } from "../../models/baselines/random.ts";
import { trainGan, trainGanS, trainGru, trainLR, trainRandom } from "../../lib/train/baselines.ts";

/**
 * A log over 10 items in two groups (a0…a4 and b0…b4), items drawn uniformly. The feedback of
 * row t follows `rule` (given the groups of rows t, t−1, t−2); the first two rows of a session
 * are random.
 */
function ruleLog(
  rule: (g: boolean, g1: boolean, g2: boolean) => boolean,
  opts: { sessions?: number; length?: number; seed?: number } = {},
): string {
  const rng = new Rng(opts.seed ?? 1);
  const lines = ["session_id,item_id,feedback"];
  for (let s = 0; s < (opts.sessions ?? 120); s++) {
    const groups: boolean[] = [];
    for (let t = 0; t < (opts.length ?? 12); t++) {
      const a = rng.next() < 0.5;
      groups.push(a);
      const pos = t < 2 ? rng.next() < 0.5 : rule(a, groups[t - 1]!, groups[t - 2]!);
      lines.push(`s${s},${a ? "a" : "b"}${rng.int(5)},${pos ? "click" : "skip"}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Embeddings whose first coordinate is the group (±0.8); the others tell items apart. */
function groupEmbeddings(ds: Dataset, dim: number): Float32Array {
  const e = new Float32Array(ds.items.length * dim);
  ds.items.forEach((id, i) => {
    const k = Number(id.slice(1));
    e[i * dim] = id.startsWith("a") ? 0.8 : -0.8;
    for (let d = 1; d < dim; d++) e[i * dim + d] = 0.3 * Math.sin((k + 1) * d);
  });
  return e;
}

const N = 3;
async function ruleData(rule: Parameters<typeof ruleLog>[0]): Promise<Dataset> {
  return await datasetFromText(ruleLog(rule), "rule.csv", { stateLength: N, minCount: 1 });
}
function cfg(over: Partial<TrainConfig> = {}): TrainConfig {
  return tinyConfig({
    stateLength: N,
    minStateLength: N,
    embDim: 4,
    hidden: 16,
    fc: 16,
    batch: 32,
    learningRate: 0.01,
    preDEpochs: 0,
    epochs: 20,
    ...over,
  });
}

// Linear rule: the candidate of group a is clicked.
const linearRule = (g: boolean) => g;
// Order-dependent XOR rule: clicked when the two most recent items share a group. No single
// feature is correlated with the label, so no linear model of the concatenated pairs can do
// better than chance.
const xorRule = (_g: boolean, g1: boolean, g2: boolean) => g1 === g2;

Deno.test("RandomBaseline scores are uniform, seeded and thresholded at 0.5", async () => {
  const ds = await ruleData(linearRule);
  const m = await trainRandom(ds, { seed: 3 });
  const p = m.predict(ds, ds.train);
  assert("positive" in p);
  const again = new RandomBaseline(3).predict(ds, ds.train);
  assert("positive" in again);
  assertEquals(Array.from(p.positive), Array.from(again.positive));
  const mean = p.positive.reduce((a, b) => a + b, 0) / p.positive.length;
  assertAlmostEquals(mean, 0.5, 0.05);
  const metrics = predictionMetrics(p, ds, ds.train);
  assertAlmostEquals(metrics.auc, 0.5, 0.08);
  // Predicted positive exactly when the score exceeds 0.5.
  const predicted = Array.from(p.positive).filter((s) => s > 0.5).length;
  const truePositives = metrics.recall * metrics.positiveRate * ds.train.length;
  assertAlmostEquals(truePositives / metrics.precision, predicted, 1e-6);
});

Deno.test("scoreMetrics() puts a binary score on one positive and one negative class", () => {
  const ds = {
    labels: ["skip", "click", "buy"],
    positive: [false, true, true],
    rowLabel: Int32Array.of(0, 1, 2, 0),
  };
  const m = scoreMetrics(Float64Array.of(0.2, 0.9, 0.6, 0.7), ds, Int32Array.of(0, 1, 2, 3));
  assertEquals(m.n, 4);
  assertAlmostEquals(m.auc, 3 / 4, 1e-12); // pairs (0.9, 0.2) (0.9, 0.7) (0.6, 0.2) won, (0.6, 0.7) lost
  assertAlmostEquals(m.precision, 2 / 3, 1e-12);
  assertAlmostEquals(m.recall, 1, 1e-12);
});

Deno.test("LR separates a linearly separable feedback rule", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  const ds = await ruleData(linearRule);
  const c = cfg({ epochs: 15, learningRate: 0.05 });
  const before = tf.memory().numTensors;
  const lr = await trainLR(ds, {
    config: c,
    embeddings: groupEmbeddings(ds, c.embDim),
    quiet: true,
  });
  const m = predictionMetrics(lr.predict(ds, ds.test), ds, ds.test);
  lr.dispose();
  assertEquals(tf.memory().numTensors, before);
  assert(m.auc > 0.97, `LR AUC ${m.auc}`);
  assert(m.f1 > 0.9, `LR F1 ${m.f1}`);
});

Deno.test("GRU captures an order-dependent XOR rule that LR cannot", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  const ds = await ruleData(xorRule);
  const c = cfg({ epochs: 25 });
  const embeddings = groupEmbeddings(ds, c.embDim);
  const rows = Int32Array.from([...ds.test, ...ds.validation]);
  const before = tf.memory().numTensors;
  const gru = await trainGru(ds, { config: c, embeddings, quiet: true });
  const g = predictionMetrics(gru.predict(ds, rows), ds, rows);
  gru.dispose();
  const lr = await trainLR(ds, {
    config: cfg({ epochs: 15, learningRate: 0.05 }),
    embeddings,
    quiet: true,
  });
  const l = predictionMetrics(lr.predict(ds, rows), ds, rows);
  lr.dispose();
  assertEquals(tf.memory().numTensors, before);
  assert(g.auc > 0.9, `GRU AUC ${g.auc}`);
  assert(l.auc < 0.7, `LR AUC ${l.auc}`);
});

Deno.test("GAN-s and GAN learn a feedback rule; their predictions are distributions", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  const ds = await ruleData(linearRule);
  const c = cfg({ epochs: 6 });
  const embeddings = groupEmbeddings(ds, c.embDim);
  const before = tf.memory().numTensors;
  const ganS = await trainGanS(ds, { config: c, embeddings, quiet: true });
  const ps = ganS.predict(ds, ds.test);
  assert("probs" in ps);
  for (let i = 0; i < ds.test.length; i++) {
    assertAlmostEquals(ps.probs[2 * i]! + ps.probs[2 * i + 1]!, 1, 1e-5);
  }
  const s = predictionMetrics(ps, ds, ds.test);
  ganS.dispose();
  const gan = await trainGan(ds, { config: cfg({ epochs: 6 }), embeddings, quiet: true });
  const u = predictionMetrics(gan.predict(ds, ds.test), ds, ds.test);
  assertEquals(gan.training.history.length, 6);
  assert(Number.isFinite(gan.training.history[0]!.loss["loss/d"]!));
  gan.dispose();
  assertEquals(tf.memory().numTensors, before);
  assert(s.auc > 0.97, `GAN-s AUC ${s.auc}`);
  assert(u.auc > 0.9, `GAN AUC ${u.auc}`);
});
