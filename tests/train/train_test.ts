import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { type Dataset, datasetFromText } from "../../lib/data/dataset.ts";
import { batchIndices, disposeBatch, toTensors } from "../../lib/data/batches.ts";
import {
  adversarialStep,
  discriminatorPretrainStep,
  fusedAdversarialStep,
  generatorPretrainStep,
} from "../../lib/train/steps.ts";
import { RecSimuModel } from "../../models/recsimu.ts";
import { RecSimuTrainer } from "../../lib/train/trainer.ts";
import { finished, trainRecSimu } from "../../lib/train/loop.ts";
import { predictTuples } from "../../lib/eval/evaluate.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { loadCheckpoint, readVariables, saveCheckpoint } from "../../lib/train/checkpoint.ts";
import { OUTPUT_MARKER } from "../../lib/output.ts";
import type { TrainConfig } from "../../lib/config.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

const small = synthText({
  seed: 1,
  sessions: 60,
  items: 40,
  categories: 5,
  minLength: 10,
  maxLength: 20,
});

/**
 * A trainer of a RecSimu model over `ds` with K = 3 classes, the sizes and settings of `c` and
 * sin(i) embeddings.
 */
function smallModel(ds: Dataset, c: TrainConfig, stateLength = 5): RecSimuTrainer {
  const emb = new Float32Array(ds.items.length * c.embDim).map((_, i) => Math.sin(i));
  const shape = {
    items: ds.items.length,
    classes: 3,
    embDim: c.embDim,
    feedbackDim: c.feedbackDim,
    hidden: c.hidden,
    fc: c.fc,
    fakeClasses: 3,
    stateLength,
  };
  return new RecSimuTrainer(new RecSimuModel(shape, emb, c), c);
}

/** Frees a trainer and its model. */
function disposeAll(t: RecSimuTrainer): void {
  t.dispose();
  t.model.dispose();
}

/** Asserts that every G and D weight of `got` is within `tol` of the same weight of `want`. */
async function assertSameWeights(
  gotTrainer: RecSimuTrainer,
  wantTrainer: RecSimuTrainer,
  tol: number,
  what = "",
) {
  const got = gotTrainer.model, want = wantTrainer.model;
  const a = await readVariables([...got.gVars(), ...got.dVars()]);
  for (const [name, t] of await readVariables([...want.gVars(), ...want.dVars()])) {
    let d = 0;
    t.data.forEach((x, i) => (d = Math.max(d, Math.abs(x - a.get(name)!.data[i]!))));
    assert(d < tol, `${name} differs by ${d}${what}`);
  }
}

for (const microBatch of [0, 10]) {
  Deno.test(`training steps leak no tensors (micro-batch ${microBatch})`, async () => {
    await initBackend("wasm", { quiet: true });
    const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
    const m = smallModel(ds, tinyConfig({ microBatch }));
    const step = async (i: number) => {
      const b = toTensors(
        batchIndices(ds, ds.train.subarray(i * 32, (i + 1) * 32)),
        m.model.table,
        5,
      );
      await generatorPretrainStep(m, b);
      await discriminatorPretrainStep(m, b);
      await adversarialStep(m, b);
      await fusedAdversarialStep(m, b);
      disposeBatch(b);
    };
    await step(0); // optimizers create their slots on first use
    const before = tf.memory().numTensors;
    for (let i = 1; i < 6; i++) await step(i);
    assertEquals(tf.memory().numTensors, before);
    disposeAll(m);
  });
}

Deno.test("training is deterministic for a seed on the CPU backend", async () => {
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const run = async (seed: number) => {
    const r = finished(await trainRecSimu(ds, tinyConfig({ seed, batch: 128 }), { quiet: true }));
    const probs = await predictTuples(r.model, ds, ds.test);
    r.model.dispose();
    return { auc: r.test.auc, probs: Array.from(probs), embeddings: Array.from(r.embeddings) };
  };
  const a = await run(3), b = await run(3), c = await run(4);
  assertEquals(a, b);
  assert(a.probs.some((p, i) => p !== c.probs[i]), "another seed gives other predictions");
});

Deno.test("a checkpoint saves and loads to identical predictions; corrupted ones are refused", async () => {
  await initBackend("wasm", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const out = join(tmp.path, "model");
  // D as trained (no temperature), so the answers are predictTuples' restricted softmax;
  // tests/train/calibration_test.ts covers the calibrated ones.
  const c = tinyConfig({ batch: 128, calibrate: "none" });
  const r = finished(await trainRecSimu(ds, c, { quiet: true, out }));
  const probs = await predictTuples(r.model, ds, ds.test);
  r.model.dispose();
  const sim = await Simulator.load(out);
  const K = 3;
  const reqs = [...ds.test].map((a) => ({
    state: Array.from({ length: 5 }, (_, t) => ({
      item: ds.items[ds.rowItem[a - 5 + t]!]!,
      feedback: ds.labels[ds.rowLabel[a - 5 + t]!]!,
    })),
    action: ds.items[ds.rowItem[a]!]!,
  }));
  const preds = await sim.predict(reqs);
  preds.forEach((p, i) => {
    let z = 0;
    for (let k = 0; k < K; k++) z += probs[i * 2 * K + k]!;
    assertAlmostEquals(p.real!, z, 1e-5);
    assertEquals(Object.keys(p.probs), sim.labels, "probs maps each label, in label order");
    for (let k = 0; k < K; k++) {
      assertAlmostEquals(p.probs[sim.labels[k]!]!, probs[i * 2 * K + k]! / z, 1e-5);
    }
  });
  sim.dispose();
  const meta = JSON.parse(await Deno.readTextFile(join(out, "config.json")));
  assertEquals(meta.config.seed, 0);
  assertEquals(meta.labels, ["skip", "click", "purchase"]);
  assert(typeof meta.data.fingerprint === "string" && meta.data.fingerprint.length === 64);
  assert(meta.versions.tfjs && meta.backend === "wasm");
  // Flip one byte of the weights: refused with a clear message.
  const wpath = join(out, "weights.bin");
  const bytes = await Deno.readFile(wpath);
  bytes[100] = bytes[100]! ^ 0xff;
  await Deno.writeFile(wpath, bytes);
  await assertRejects(() => Simulator.load(out), CheckpointError, "corrupted");
  // Another format version: refused.
  await Deno.writeTextFile(join(out, "config.json"), JSON.stringify({ ...meta, format: 99 }));
  await assertRejects(() => Simulator.load(out), CheckpointError, "format 99");
  await assertRejects(
    () => Simulator.load(join(tmp.path, "nothing")),
    CheckpointError,
    "does not exist",
  );
  await Deno.mkdir(join(tmp.path, "empty"));
  await assertRejects(
    () => Simulator.load(join(tmp.path, "empty")),
    CheckpointError,
    "not a recsimu checkpoint",
  );
});

Deno.test("a run stopped mid-epoch and resumed ends with the same metrics as one uninterrupted run (CPU)", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig({ batch: 64, epochs: 2 });
  const full = finished(await trainRecSimu(ds, c, { quiet: true }));
  full.model.dispose();
  const out = join(tmp.path, "model");
  let steps = 0;
  const part = await trainRecSimu(ds, c, { quiet: true, out, shouldStop: () => ++steps === 17 });
  assert(part.stopped);
  part.model.dispose();
  const resumed = finished(await trainRecSimu(ds, c, { quiet: true, out, resume: true }));
  assert(!resumed.stopped);
  assertEquals(resumed.test, full.test);
  assertEquals(resumed.history.map((h) => h.loss), full.history.map((h) => h.loss));
  resumed.model.dispose();
});

Deno.test("the model holds only G, D and the table; the trainer owns the optimisers' state", async () => {
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig();
  const before = tf.memory().numTensors;
  const t = smallModel(ds, c);
  const m = t.model;
  // G's and D's variables and the table: nothing else was allocated for the model.
  const own = m.gVars().length + m.dVars().length + 1;
  const b = toTensors(batchIndices(ds, ds.train.subarray(0, 32)), m.table, 5);
  await adversarialStep(t, b);
  disposeBatch(b);
  assert(tf.memory().numTensors > before + own, "the optimisers made their state");
  t.dispose();
  assertEquals(tf.memory().numTensors, before + own);
  m.dispose();
  assertEquals(tf.memory().numTensors, before);
  // Built from the shape, the embeddings, the seed and the item-bias flag alone.
  const emb = new Float32Array(m.shape.items * m.shape.embDim).map((_, i) => Math.sin(i));
  const again = new RecSimuModel(m.shape, emb, { seed: c.seed, itemBias: false });
  const fresh = smallModel(ds, c);
  await assertSameWeights(new RecSimuTrainer(again, c), fresh, 1e-12);
  again.dispose();
  disposeAll(fresh);
});

Deno.test("with --patience a stopped run keeps its best weights in best.bin, not in optimizer.bin, and resumes exactly (also from the older layout)", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig({ batch: 64, epochs: 4, patience: 3 });
  const full = finished(await trainRecSimu(ds, c, { quiet: true }));
  full.model.dispose();
  const out = join(tmp.path, "model");
  // Stopped in the third adversarial epoch: pre_g, pre_d and two adversarial epochs are done.
  const steps = Math.ceil(ds.train.length / c.batch);
  let n = 0;
  const part = await trainRecSimu(ds, c, {
    quiet: true,
    out,
    shouldStop: () => ++n === 4 * steps + 2,
  });
  assert(part.stopped);
  part.model.dispose();
  const marker = JSON.parse(await Deno.readTextFile(join(out, OUTPUT_MARKER)));
  assert("best.bin" in marker.files && "best.json" in marker.files, "best.bin is checksummed");
  const names = (f: string) =>
    Deno.readTextFile(join(out, f)).then((t) =>
      (JSON.parse(t).tensors as { name: string }[]).map((x) => x.name)
    );
  assert((await names("optimizer.json")).every((k) => /^[GD]:/.test(k)), "only Adam state");
  const stopped = await loadCheckpoint(out, { optimizer: true });
  assertEquals([...stopped.best!.keys()].sort(), [...stopped.weights.keys()].sort());
  const resumed = finished(await trainRecSimu(ds, c, { quiet: true, out, resume: true }));
  assertEquals(resumed.test, full.test);
  assertEquals(resumed.history.map((h) => h.loss), full.history.map((h) => h.loss));
  resumed.model.dispose();
  // The layout before best.bin: the best weights under "best:" in optimizer.bin.
  const legacy = join(tmp.path, "legacy");
  const best = [...stopped.best!].map(([k, v]) => [`best:${k}`, v] as const);
  await saveCheckpoint(legacy, {
    ...stopped,
    optimizer: new Map([...stopped.optimizer!, ...best]),
    best: undefined,
  });
  assert(!(await Deno.lstat(join(legacy, "best.bin")).then(() => true, () => false)));
  const read = await loadCheckpoint(legacy, { optimizer: true });
  assertEquals([...read.best!.keys()], [...stopped.best!.keys()]);
  const w = "G/head/2/w";
  assert(read.best!.get(w)!.data.length > 0);
  assertEquals(read.best!.get(w)!.data, stopped.best!.get(w)!.data);
  assert([...read.optimizer!.keys()].every((k) => /^[GD]:/.test(k)), "best: keys split off");
  const fromLegacy = finished(
    await trainRecSimu(ds, c, { quiet: true, out: legacy, resume: true }),
  );
  assertEquals(fromLegacy.test, full.test);
  fromLegacy.model.dispose();
});

Deno.test("end to end: on a synthetic log RecSimu's discriminator clearly beats item popularity", async () => {
  await initBackend("wasm", { quiet: true });
  const text = synthText({
    seed: 5,
    sessions: 600,
    items: 150,
    categories: 10,
    minLength: 25,
    maxLength: 45,
  });
  const ds = await datasetFromText(text, "synth.csv", { stateLength: 10, minCount: 1 });
  const r = finished(
    await trainRecSimu(
      ds,
      tinyConfig({
        stateLength: 10,
        minStateLength: 10,
        hidden: 32,
        fc: 32,
        embDim: 12,
        batch: 100,
        epochs: 2,
      }),
      {
        quiet: true,
      },
    ),
  );
  const pop = r.baselines.popularity!.auc, rate = r.baselines.item_rate!.auc;
  console.log(
    `RecSimu AUC ${r.test.auc.toFixed(3)}, popularity ${pop.toFixed(3)}, item rate ${
      rate.toFixed(3)
    }`,
  );
  assert(r.test.auc > pop + 0.05, `RecSimu AUC ${r.test.auc} vs popularity ${pop}`);
  assert(r.test.auc > rate + 0.05, `RecSimu AUC ${r.test.auc} vs item rate ${rate}`);
  r.model.dispose();
});

Deno.test("the fused adversarial step equals a simultaneous d-step and g-step computed separately", async () => {
  const L = await import("../../lib/train/losses.ts");
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig();
  const fused = smallModel(ds, c), refTrainer = smallModel(ds, c), ref = refTrainer.model;
  const b = toTensors(batchIndices(ds, ds.train.subarray(0, 48)), fused.model.table, 5);
  const r = await fusedAdversarialStep(fused, b);
  // Reference: both gradients from the same (old) parameters, then both updates.
  const fake = tf.tidy(() => ref.g.apply(b.state));
  const p = tf.tidy(() => ref.d.state(b.state));
  const gd = tf.variableGrads(() => {
    const q = ref.d.state(b.state);
    return L.lossD(ref.d.score(q, b.action), ref.d.score(q, fake), b.label, 3, c);
  }, ref.dVars());
  const gg = tf.variableGrads(() => {
    const g = ref.g.apply(b.state);
    return L.lossG(ref.d.score(p, g), g, b.action, 3, c.beta);
  }, ref.gVars());
  refTrainer.optD.applyGradients(gd.grads as never);
  refTrainer.optG.applyGradients(gg.grads as never);
  assertAlmostEquals(r.lossD, gd.value.dataSync()[0]!, 1e-5);
  assertAlmostEquals(r.lossG, gg.value.dataSync()[0]!, 1e-5);
  await assertSameWeights(fused, refTrainer, 1e-5);
  tf.dispose([fake, p, gd.value, gg.value, ...Object.values(gd.grads), ...Object.values(gg.grads)]);
  disposeBatch(b);
  disposeAll(fused);
  disposeAll(refTrainer);
});

Deno.test("micro-batches give the same update as whole batches, for every step kind", async () => {
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const whole = smallModel(ds, tinyConfig());
  const micro = smallModel(ds, tinyConfig({ microBatch: 7 }));
  const b = toTensors(batchIndices(ds, ds.train.subarray(0, 48)), whole.model.table, 5);
  for (const step of [generatorPretrainStep, discriminatorPretrainStep]) {
    assertAlmostEquals(await step(micro, b), await step(whole, b), 1e-5);
  }
  for (const step of [adversarialStep, fusedAdversarialStep]) {
    const [x, y] = [await step(micro, b), await step(whole, b)];
    assertAlmostEquals(x.lossD, y.lossD, 1e-5);
    assertAlmostEquals(x.lossG, y.lossG, 1e-5);
  }
  await assertSameWeights(micro, whole, 1e-4);
  disposeBatch(b);
  disposeAll(whole);
  disposeAll(micro);
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`the adversarial step keeping G(s) equals the one recomputing it (${backend})`, async () => {
    await initBackend(backend, { quiet: true });
    const N = 12; // longer than many prefixes: masked (left-padded) states are in the batch
    const ds = await datasetFromText(small, "small.csv", {
      stateLength: N,
      minCount: 1,
      minStateLength: 1,
    });
    for (const steps of [{ dSteps: 1, gSteps: 1 }, { dSteps: 2, gSteps: 3 }]) {
      const kept = smallModel(ds, tinyConfig(steps), N);
      const again = smallModel(ds, tinyConfig(steps), N);
      const batch = toTensors(batchIndices(ds, ds.train.subarray(0, 48)), kept.model.table, N);
      assert((await batch.state.mask!.min().data())[0] === 0, "the batch has padded states");
      const probe = kept.model.g.applyForLater(batch.state);
      const { value, grads } = probe.gradients((g) => tf.mean(tf.square(g)) as tf.Scalar);
      // Same names in the same order as variableGrads: tfjs's Adam keeps moments by position.
      assertEquals(Object.keys(grads), kept.model.gVars().map((v) => v.name));
      for (const v of kept.model.gVars()) assertEquals(grads[v.name]!.shape, v.shape, v.name);
      tf.dispose([value, ...Object.values(grads)]);
      probe.dispose();
      for (let i = 0; i < 2; i++) {
        const [x, y] = [
          await adversarialStep(kept, batch),
          await adversarialStep(again, batch, { reuse: false }),
        ];
        assertAlmostEquals(x.lossD, y.lossD, 1e-5);
        assertAlmostEquals(x.lossG, y.lossG, 1e-5);
      }
      await assertSameWeights(again, kept, 1e-5, ` (${JSON.stringify(steps)})`);
      disposeBatch(batch);
      disposeAll(kept);
      disposeAll(again);
    }
  });
}

Deno.test("--item-bias (paper) and the default model learn per-item feedback that frozen embeddings cannot express", async () => {
  await initBackend("wasm", { quiet: true });
  const rng = new (await import("../../lib/random.ts")).Rng(11);
  const V = 300;
  const lines = ["session_id,item_id,feedback"];
  for (let s = 0; s < 400; s++) {
    for (let t = 0; t < 20; t++) {
      const item = rng.int(V);
      const good = item % 2 === 0; // the feedback depends on the item alone
      lines.push(`s${s},i${item},${rng.next() < (good ? 0.85 : 0.15) ? "click" : "skip"}`);
    }
  }
  const ds = await datasetFromText(lines.join("\n"), "items.csv", { stateLength: 5, minCount: 1 });
  // Random 4-dim embeddings: too few dimensions to memorise 300 items' quality.
  const vectors = new Float32Array(ds.items.length * 4).map(() => Math.tanh(rng.normal()));
  const run = async (itemBias: boolean, arch: "paper" | "attn" = "paper") => {
    const c = tinyConfig({
      arch,
      heads: arch === "paper" ? 1 : 4,
      matchFeatures: arch === "attn",
      embDim: 4,
      itemBias,
      batch: 100,
      epochs: 2,
      preDEpochs: 2,
      learningRate: 0.01,
    });
    const r = finished(
      await trainRecSimu(ds, c, { quiet: true, embeddings: { vectors, source: "test" } }),
    );
    r.model.dispose();
    return r.test.auc;
  };
  const [plain, biased, attn] = [await run(false), await run(true), await run(false, "attn")];
  console.log(
    `AUC paper ${plain.toFixed(3)}, --item-bias ${biased.toFixed(3)}, attn ${attn.toFixed(3)}`,
  );
  assert(biased > plain + 0.05 && biased > 0.75, `item bias ${biased} vs plain ${plain}`);
  // The default has an item bias of its own (and trainable item vectors).
  assert(attn > plain + 0.05 && attn > 0.75, `attn ${attn} vs paper ${plain}`);
});
