import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { Rng } from "../../lib/random.ts";
import {
  GeneratorRanker,
  logsRanking,
  rankingMetrics,
  type RankingQuery,
  relativeDifference,
  splitForGeneratorQuality,
  subsetSessions,
} from "../../lib/eval/generator_quality.ts";
import { rankerInputs, topK } from "../../models/baselines/ranker.ts";
import { PopularityRanker } from "../../models/baselines/popularity.ts";
import { trainFM, trainGru4Rec, trainWideDeep } from "../../lib/train/baselines.ts";
import { sampleCandidates } from "../../lib/train/fit_rankers.ts";
import { tinyConfig } from "../_helpers.ts";

const query = (relevant: number[], window: number[] = []): RankingQuery => ({
  row: 0,
  window: Int32Array.from(window),
  relevant: new Set(relevant),
});

Deno.test("rankingMetrics() matches hand-computed MAP and NDCG@k", () => {
  // Query 1: hits at ranks 1 and 3 of 2 relevant items.
  //   AP = (1/1 + 2/3) / 2 = 5/6; DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3).
  // Query 2: one relevant item at rank 3: AP = 1/3; NDCG = (1/log2 4) / 1 = 0.5.
  const q = [query([2, 7]), query([4])];
  const m = rankingMetrics([[2, 5, 7, 9], [1, 3, 4, 6]], q, 4);
  const ndcg1 = 1.5 / (1 + 1 / Math.log2(3));
  assertAlmostEquals(m.map, (5 / 6 + 1 / 3) / 2, 1e-12);
  assertAlmostEquals(m.ndcg, (ndcg1 + 0.5) / 2, 1e-12);
  assertEquals(m.queries, 2);
  // Lists are cut at k; -1 entries (no item, when k exceeds the vocabulary) are ignored.
  const cut = rankingMetrics([[5, 9, 2], [4, -1]], q, 2);
  assertAlmostEquals(cut.map, (0 + 1) / 2, 1e-12); // q1: no hit in [5, 9]; q2: [4], hit at rank 1
  assertAlmostEquals(cut.ndcg, (0 + 1) / 2, 1e-12);
  assertThrows(() => rankingMetrics([[1]], q, 2), TypeError);
});

Deno.test("logsRanking() ranks each window as shown; a repeated item gains once", () => {
  // Window [5, 2, 2, 7], relevant {2, 7}: hits at ranks 2 and 4 (the second 2 is not a hit).
  //   AP = (1/2 + 2/4) / 2 = 0.5; NDCG@4 = (1/log2 3 + 1/log2 5) / (1 + 1/log2 3).
  const m = logsRanking([query([2, 7], [5, 2, 2, 7])], 4);
  assertAlmostEquals(m.map, 0.5, 1e-12);
  assertAlmostEquals(m.ndcg, (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3)), 1e-12);
});

Deno.test("relativeDifference() is |m − logs| / logs as in Table 1", () => {
  assertAlmostEquals(relativeDifference(0.075, 0.097), 0.022 / 0.097, 1e-12); // FM: 22.6 %
  assertAlmostEquals(relativeDifference(0.11, 0.1), 0.1, 1e-12); // above the logs counts too
  assert(Number.isNaN(relativeDifference(0.1, 0)));
});

/** Sessions with known lengths; item = `i{row}` of the session, positive on odd rows. */
function lengthsLog(lengths: number[]): string {
  const lines = ["session_id,item_id,feedback"];
  lengths.forEach((n, s) => {
    for (let t = 0; t < n; t++) {
      lines.push(`s${s},i${(s * 7 + t) % 20},${t % 2 ? "click" : "skip"}`);
    }
  });
  return lines.join("\n") + "\n";
}

Deno.test("splitForGeneratorQuality() holds out whole sessions and builds windows from them", async () => {
  const lengths = [8, 2, 6, 9, 3, 7, 10, 5, 4, 8];
  const ds = await datasetFromText(lengthsLog(lengths), "len.csv", { stateLength: 3, minCount: 1 });
  const split = splitForGeneratorQuality(ds, { fraction: 0.5, seed: 1, k: 4 });
  const eligible = lengths.filter((n) => n >= 4).length; // N + 1 = 4 rows at least
  assertEquals(split.heldOut, Math.round(0.5 * eligible));
  assertEquals(split.queries.length + split.noPositive, split.heldOut);
  const fitIds = new Set(split.fit.sessionIds);
  assertEquals(fitIds.size + split.heldOut, ds.sessionIds.length);
  for (const q of split.queries) {
    const s = ds.sessionOffsets.findLastIndex((o) => o <= q.row);
    assert(!fitIds.has(ds.sessionIds[s]!), "a query's session is not in the fit data");
    const a = ds.sessionOffsets[s]!, b = ds.sessionOffsets[s + 1]!;
    assertEquals(q.row, a + 3); // the state is the first N = 3 pairs
    assertEquals(Array.from(q.window), Array.from(ds.rowItem.slice(a + 3, Math.min(b, a + 7))));
    const rel = [...q.window].filter((_, i) => ds.positive[ds.rowLabel[a + 3 + i]!]);
    assertEquals([...q.relevant].sort(), [...new Set(rel)].sort());
  }
  // Same vocabulary, and the fit data's tuples follow the usual rule.
  assertEquals(split.fit.items, ds.items);
  const whole = subsetSessions(ds, ds.sessionIds.map((_, i) => i), "all");
  assertEquals(Array.from(whole.train), Array.from(ds.train));
  assertEquals(Array.from(whole.validation), Array.from(ds.validation));
  assertEquals(Array.from(whole.test), Array.from(ds.test));
  assertEquals(Array.from(whole.rowItem), Array.from(ds.rowItem));
  // Another seed holds out other sessions.
  const other = splitForGeneratorQuality(ds, { fraction: 0.5, seed: 2, k: 4 });
  assert(other.fit.sessionIds.join() !== split.fit.sessionIds.join());
});

Deno.test("GeneratorRanker ranks items by distance to G(s); topK breaks ties by item index", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  const ds = await datasetFromText(lengthsLog([8, 8, 8]), "len.csv", {
    stateLength: 3,
    minCount: 1,
  });
  const V = ds.items.length, E = 2;
  const emb = new Float32Array(V * E);
  for (let i = 0; i < V; i++) emb.set([i / V, 0], i * E);
  const inputs = rankerInputs(ds, emb, E);
  const target = 0.51; // nearest items: round(0.51 V) then its neighbours
  const g = new GeneratorRanker(
    (b) => tf.fill([b.actionIndex.shape[0], E], 0).add(tf.tensor1d([target, 0])) as tf.Tensor2D,
    E,
  );
  const before = tf.memory().numTensors;
  const top = topK(g, inputs, ds, ds.test, 4);
  const expected = [...Array(V).keys()].sort((a, b) =>
    Math.abs(a / V - target) - Math.abs(b / V - target) || a - b
  ).slice(0, 4);
  for (let i = 0; i < ds.test.length; i++) {
    assertEquals(Array.from(top.subarray(i * 4, i * 4 + 4)), expected);
  }
  // Popularity: equal counts tie, and ties go to the lower item index.
  const pop = new PopularityRanker(ds, emb, E);
  const p = topK(pop, pop.inputs, ds, ds.test.subarray(0, 1), V);
  assertEquals(new Set(p).size, V);
  pop.dispose();
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([inputs.table, inputs.features, inputs.isPositive]);
});

Deno.test("sampleCandidates() keeps every action once and fills with distinct items", () => {
  const { items, targets } = sampleCandidates(Int32Array.of(5, 3, 5, 9), 100, 10, new Rng(1));
  assertEquals(items.length, 10);
  assertEquals(new Set(items).size, 10);
  assertEquals(Array.from(targets).map((t) => items[t]), [5, 3, 5, 9]);
});

/** A logging policy that always shows the next item of a cycle over 8 items. */
function cycleLog(sessions: number): string {
  const rng = new Rng(4);
  const lines = ["session_id,item_id,feedback"];
  for (let s = 0; s < sessions; s++) {
    let it = rng.int(8);
    for (let t = 0; t < 6; t++) {
      lines.push(`s${s},c${it},${rng.next() < 0.5 ? "click" : "skip"}`);
      it = (it + 1) % 8;
    }
  }
  return lines.join("\n") + "\n";
}

Deno.test("FM, Wide & Deep and GRU4Rec learn to recommend the logging policy's next item", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  const ds = await datasetFromText(cycleLog(80), "cycle.csv", { stateLength: 2, minCount: 1 });
  const V = ds.items.length;
  const emb = new Float32Array(V * V);
  for (let i = 0; i < V; i++) emb[i * V + i] = 0.8;
  const config = tinyConfig({
    stateLength: 2,
    minStateLength: 2,
    embDim: V,
    hidden: 16,
    fc: 16,
    batch: 32,
    learningRate: 0.02,
    preGEpochs: 0,
    epochs: 8,
  });
  const before = tf.memory().numTensors;
  for (const train of [trainFM, trainWideDeep, trainGru4Rec]) {
    const m = await train(ds, { config, embeddings: emb, quiet: true });
    const top = topK(m, m.inputs, ds, ds.test, 1);
    const hits = Array.from(ds.test).filter((r, i) => top[i] === ds.rowItem[r]).length;
    assert(hits / ds.test.length > 0.9, `${m.name}: top-1 accuracy ${hits / ds.test.length}`);
    assertEquals(m.training.history.length, 8);
    m.dispose();
  }
  assertEquals(tf.memory().numTensors, before);
});
