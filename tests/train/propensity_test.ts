/**
 * `--propensity-clip`: the generator's logging-policy estimate against a direct computation,
 * the weights' normalisation and clip, how they enter a batch, and a training that records them.
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { datasetFromText, datasetOptions } from "../../lib/data/dataset.ts";
import { batchIndices, disposeBatch, toTensors } from "../../lib/data/batches.ts";
import { trainingRows } from "../../lib/data/training_rows.ts";
import { finished, trainRecSimu } from "../../lib/train/loop.ts";
import { fitPropensity } from "../../lib/train/propensity.ts";
import { withPropensity } from "../../lib/train/batch_rows.ts";
import { validateConfig } from "../../lib/config.ts";
import { UserError } from "../../lib/errors.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

const LOG = synthText({ seed: 4, sessions: 50, items: 30, minLength: 10, maxLength: 20 });

/** log π(a | s) of `rows` computed element by element from G(s) and the item table. */
async function directLogPropensity(
  model: Awaited<ReturnType<typeof trainRecSimu>>["model"] & object,
  ds: Awaited<ReturnType<typeof datasetFromText>>,
  rows: Int32Array,
  tau: number,
): Promise<number[]> {
  const b = toTensors(batchIndices(ds, rows), model.table, ds.stateLength);
  const g = model.g.applyInference(b.state);
  const gv = await g.data(), table = await model.table.data();
  g.dispose();
  disposeBatch(b);
  const V = ds.items.length, E = model.shape.embDim;
  return [...rows].map((r, i) => {
    const logits = Array.from({ length: V }, (_, j) => {
      let d2 = 0;
      for (let e = 0; e < E; e++) d2 += (gv[i * E + e]! - table[j * E + e]!) ** 2;
      return -d2 / tau;
    });
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
    return logits[ds.rowItem[r]!]! - lse;
  });
}

Deno.test("propensity weights are 1 / π(a | s) of G's Gaussian policy, mean 1, clipped", async () => {
  await initBackend("cpu", { quiet: true });
  const c = tinyConfig({ epochs: 0, preDEpochs: 0, calibrate: "none" });
  const ds = await datasetFromText(LOG, "p.csv", datasetOptions(c));
  const r = finished(await trainRecSimu(ds, c, { quiet: true }));
  const rows = trainingRows(ds, c);
  const before = tf.memory().numTensors;
  const fit = await fitPropensity(r.model, ds, rows, 1e6, c.seed);
  assertEquals(tf.memory().numTensors, before, "fitPropensity leaks no tensors");
  assert(fit.tau > 0 && Number.isFinite(fit.logLik) && fit.eps >= 0 && fit.eps < 1);
  assertAlmostEquals(fit.uniformLogLik, -Math.log(ds.items.length), 1e-12);
  const mean = [...rows].reduce((s, i) => s + fit.weights[i]!, 0) / rows.length;
  assertAlmostEquals(mean, 1, 1e-5);
  // Unclipped, weights are proportional to 1 / π: w_i π_i is the same for every tuple.
  const some = rows.subarray(0, 12);
  // π = (1 − ε) π_G + ε pop(a), pop the add-one smoothed share of the tuples' actions.
  const pop = new Float64Array(ds.items.length).fill(1);
  for (const i of rows) pop[ds.rowItem[i]!]!++;
  const z = pop.reduce((a, b) => a + b, 0);
  const lp = (await directLogPropensity(r.model, ds, some, fit.tau)).map((l, i) =>
    Math.log((1 - fit.eps) * Math.exp(l) + fit.eps * pop[ds.rowItem[some[i]!]!]! / z)
  );
  const products = [...some].map((row, i) => Math.log(fit.weights[row]!) + lp[i]!);
  for (const p of products) assertAlmostEquals(p, products[0]!, 1e-3);

  const clipped = await fitPropensity(r.model, ds, rows, 1.01, c.seed);
  assert(clipped.clippedShare > 0, "a clip of 1.01 cuts some weights");
  const max = Math.max(...[...rows].map((i) => clipped.weights[i]!));
  const scaledMean = [...rows].reduce((s, i) => s + clipped.weights[i]!, 0) / rows.length;
  assertAlmostEquals(scaledMean, 1, 1e-5);
  // The clipped tuples all sit at the (rescaled) clip, the largest weight.
  const atMax = [...rows].filter((i) => Math.abs(clipped.weights[i]! - max) < 1e-5 * max).length;
  assert(atMax >= Math.floor(clipped.clippedShare * rows.length), `${atMax} tuples at the clip`);
  assert(clipped.effectiveShare > fit.effectiveShare, "clipping raises the effective sample");
  r.model.dispose();
});

Deno.test("withPropensity multiplies each head's bootstrap weight by its tuple's weight", () => {
  const idx = {
    items: new Int32Array(0),
    feedback: new Int32Array(0),
    actions: new Int32Array(2),
    labels: new Int32Array(2),
    weights: new Float32Array([1, 2, 0, 3]),
  };
  const pw = new Float32Array([9, 0.5, 4]);
  assertEquals([...withPropensity(idx, [2, 1], pw, 2).weights!], [4, 8, 0, 1.5]);
  const bare = { ...idx, weights: undefined };
  assertEquals([...withPropensity(bare, [0, 2], pw, 1).weights!], [9, 4]);
});

Deno.test("propensityClip must be 0 or above 1", () => {
  validateConfig(tinyConfig({ propensityClip: 0 }));
  validateConfig(tinyConfig({ propensityClip: 10 }));
  for (const bad of [0.5, 1, -2, Infinity, NaN]) {
    assertThrows(() => validateConfig(tinyConfig({ propensityClip: bad })), UserError);
  }
});

Deno.test("a training with --propensity-clip records the fit in config.json", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const c = tinyConfig({ calibrate: "none", propensityClip: 5 });
  const ds = await datasetFromText(LOG, "p.csv", datasetOptions(c));
  const out = join(tmp.path, "model");
  const r = finished(await trainRecSimu(ds, c, { quiet: true, out }));
  r.model.dispose();
  const meta = JSON.parse(await Deno.readTextFile(join(out, "config.json")));
  assertEquals(meta.config.propensityClip, 5);
  assertEquals(meta.propensity.clip, 5);
  assert(meta.propensity.tau > 0 && meta.propensity.effectiveShare <= 1);
  assertEquals(meta.propensity.weights, undefined);
});

Deno.test("a run with --propensity-clip stopped in an adversarial round resumes exactly", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const c = tinyConfig({ calibrate: "none", propensityClip: 5, epochs: 2 });
  const ds = await datasetFromText(LOG, "p.csv", datasetOptions(c));
  const full = finished(await trainRecSimu(ds, c, { quiet: true }));
  full.model.dispose();
  const steps = Math.ceil(trainingRows(ds, c).length / c.batch);
  const out = join(tmp.path, "model");
  let n = 0;
  // pre_g, pre_d, then the first adversarial epoch and one step of the second: G has moved on.
  const stopAt = 3 * steps + 1;
  const part = await trainRecSimu(ds, c, { quiet: true, out, shouldStop: () => ++n === stopAt });
  assert(part.stopped);
  part.model.dispose();
  const resumed = finished(await trainRecSimu(ds, c, { quiet: true, out, resume: true }));
  assertEquals(resumed.test, full.test);
  assertEquals(resumed.history.map((h) => h.loss), full.history.map((h) => h.loss));
  resumed.model.dispose();
});
