/**
 * `--residual-items R` below the vocabulary size: the vocabulary is ordered by count, the
 * residual table has R + 2 rows, and the checkpoint answers the same after Simulator.load.
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { initBackend } from "../../lib/tf.ts";
import { datasetFromText, datasetOptions } from "../../lib/data/dataset.ts";
import { finished, trainRecSimu } from "../../lib/train/loop.ts";
import { predictTuples } from "../../lib/eval/evaluate.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

const LOG = synthText({ seed: 2, sessions: 60, items: 40, minLength: 10, maxLength: 20 });

Deno.test("a model with a capped residual table trains, orders items by count and reloads", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const c = tinyConfig({
    batch: 128,
    calibrate: "none",
    epochs: 0,
    preGEpochs: 0,
    residualItems: 5,
  });
  const ds = await datasetFromText(LOG, "small.csv", datasetOptions(c));
  assert(ds.items.length > 5, "the fixture needs more items than the cap");
  const count = new Map<number, number>();
  for (const i of ds.rowItem) count.set(i, (count.get(i) ?? 0) + 1);
  for (let i = 1; i < ds.items.length; i++) {
    assert(
      (count.get(i - 1) ?? 0) >= (count.get(i) ?? 0),
      `item ${i} is more frequent than ${i - 1}`,
    );
  }
  const out = join(tmp.path, "model");
  const r = finished(await trainRecSimu(ds, c, { quiet: true, out }));
  assertEquals(r.model.shape.residualItems, 5);
  assertEquals(r.model.d.params.get("item/residual").shape, [7, c.itemDim]);
  const probs = await predictTuples(r.model, ds, ds.test);
  r.model.dispose();
  const sim = await Simulator.load(out, { backend: "cpu" });
  const N = c.stateLength, K = ds.labels.length;
  const reqs = [...ds.test].map((a) => ({
    state: Array.from({ length: N }, (_, t) => ({
      item: ds.items[ds.rowItem[a - N + t]!]!,
      feedback: ds.labels[ds.rowLabel[a - N + t]!]!,
    })),
    action: ds.items[ds.rowItem[a]!]!,
  }));
  const preds = await sim.predict(reqs);
  preds.forEach((p, i) => {
    let z = 0;
    for (let k = 0; k < K; k++) z += probs[i * 2 * K + k]!;
    assertAlmostEquals(p.real!, z, 1e-5);
  });
  sim.dispose();
});
