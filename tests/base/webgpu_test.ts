/**
 * Training and prediction on `--backend webgpu` run only where a real (non-fallback) GPU adapter
 * exists; elsewhere the test is skipped, visibly, with the reason.
 */
import { assert } from "../_assert.ts";
import { probeGpu } from "../../lib/tf.ts";
import { synthText, tinyConfig } from "../_helpers.ts";

const gpu = await probeGpu();
if (!gpu.ok) console.error(`webgpu_test: skipped — ${gpu.detail}`);

Deno.test({
  name: "a tiny RecSimu trains and predicts on a real WebGPU adapter (async reads only)",
  ignore: !gpu.ok,
  async fn() {
    const { initBackend, tf } = await import("../../lib/tf.ts");
    const { datasetFromText } = await import("../../lib/data/dataset.ts");
    const { finished, trainRecSimu } = await import("../../lib/train/loop.ts");
    await initBackend("webgpu", { quiet: true });
    assert(tf.getBackend() === "webgpu");
    const text = synthText({
      seed: 5,
      sessions: 300,
      items: 80,
      categories: 8,
      minLength: 15,
      maxLength: 30,
    });
    const ds = await datasetFromText(text, "synth.csv", { stateLength: 5, minCount: 1 });
    const r = finished(await trainRecSimu(ds, tinyConfig({ batch: 100 }), { quiet: true }));
    assert(Number.isFinite(r.test.auc) && r.test.auc > 0.5, `AUC ${r.test.auc}`);
    r.model.dispose();
  },
});
