import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./_assert.ts";
import { initBackend, tf } from "../lib/tf.ts";
import { type Dataset, datasetFromText } from "../lib/data/dataset.ts";
import { batchIndices, disposeBatch, toTensors } from "../lib/data/batches.ts";
import {
  adversarialStep,
  discriminatorPretrainStep,
  fusedAdversarialStep,
  generatorPretrainStep,
  RecSimuModel,
} from "../lib/train/recsimu.ts";
import { finished, trainRecSimu } from "../lib/train/loop.ts";
import { predictTuples } from "../lib/eval/evaluate.ts";
import { Simulator } from "../lib/sim/simulator.ts";
import { CheckpointError } from "../lib/errors.ts";
import { readVariables } from "../lib/train/checkpoint.ts";
import type { TrainConfig } from "../lib/config.ts";
import { synthText, tempDir, tinyConfig } from "./_helpers.ts";

const small = synthText({
  seed: 1,
  sessions: 60,
  items: 40,
  categories: 5,
  minLength: 10,
  maxLength: 20,
});

/** A RecSimu model over `ds` with K = 3 classes, the sizes of `c` and sin(i) embeddings. */
function smallModel(ds: Dataset, c: TrainConfig, stateLength = 5): RecSimuModel {
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
  return new RecSimuModel(shape, emb, c);
}

/** Asserts that every G and D weight of `got` is within `tol` of the same weight of `want`. */
async function assertSameWeights(got: RecSimuModel, want: RecSimuModel, tol: number, what = "") {
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
      const b = toTensors(batchIndices(ds, ds.train.subarray(i * 32, (i + 1) * 32)), m.table, 5);
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
    m.dispose();
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
  const r = finished(await trainRecSimu(ds, tinyConfig({ batch: 128 }), { quiet: true, out }));
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
    assertAlmostEquals(p.real, z, 1e-5);
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
  const L = await import("../lib/train/losses.ts");
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig();
  const fused = smallModel(ds, c), ref = smallModel(ds, c);
  const b = toTensors(batchIndices(ds, ds.train.subarray(0, 48)), fused.table, 5);
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
  ref.optD.applyGradients(gd.grads as never);
  ref.optG.applyGradients(gg.grads as never);
  assertAlmostEquals(r.lossD, gd.value.dataSync()[0]!, 1e-5);
  assertAlmostEquals(r.lossG, gg.value.dataSync()[0]!, 1e-5);
  await assertSameWeights(fused, ref, 1e-5);
  tf.dispose([fake, p, gd.value, gg.value, ...Object.values(gd.grads), ...Object.values(gg.grads)]);
  disposeBatch(b);
  fused.dispose();
  ref.dispose();
});

Deno.test("micro-batches give the same update as whole batches, for every step kind", async () => {
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const whole = smallModel(ds, tinyConfig());
  const micro = smallModel(ds, tinyConfig({ microBatch: 7 }));
  const b = toTensors(batchIndices(ds, ds.train.subarray(0, 48)), whole.table, 5);
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
  whole.dispose();
  micro.dispose();
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
      const batch = toTensors(batchIndices(ds, ds.train.subarray(0, 48)), kept.table, N);
      assert((await batch.state.mask!.min().data())[0] === 0, "the batch has padded states");
      const probe = kept.g.applyForLater(batch.state);
      const { value, grads } = probe.gradients((g) => tf.mean(tf.square(g)) as tf.Scalar);
      // Same names in the same order as variableGrads: tfjs's Adam keeps moments by position.
      assertEquals(Object.keys(grads), kept.gVars().map((v) => v.name));
      for (const v of kept.gVars()) assertEquals(grads[v.name]!.shape, v.shape, v.name);
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
      kept.dispose();
      again.dispose();
    }
  });
}

Deno.test("--item-bias learns per-item feedback that frozen embeddings cannot express", async () => {
  await initBackend("wasm", { quiet: true });
  const rng = new (await import("../lib/random.ts")).Rng(11);
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
  const run = async (itemBias: boolean) => {
    const c = tinyConfig({
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
  const [plain, biased] = [await run(false), await run(true)];
  console.log(`AUC without item bias ${plain.toFixed(3)}, with ${biased.toFixed(3)}`);
  assert(biased > plain + 0.05 && biased > 0.75, `item bias ${biased} vs plain ${plain}`);
});
