/**
 * Numerical safety (issue 6, part 6): a NaN or Inf loss stops training with a DivergenceError
 * that names the step and the checkpoint left on disk, which still loads with finite weights;
 * weights that turn NaN on the last step of an epoch are never validated or checkpointed;
 * embeddings files with NaN, Inf or values beyond float32 are refused.
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { trainRecSimu } from "../../lib/train/loop.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { loadEmbeddingsCsv } from "../../lib/embeddings/load.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { DataFormatError, DivergenceError } from "../../lib/errors.ts";

const LOG = synthText({ seed: 7, sessions: 60, items: 40, categories: 5, minLength: 10 });

/** Every weight of a checkpoint is finite. */
async function finiteCheckpoint(dir: string): Promise<number> {
  const ck = await loadCheckpoint(dir, { optimizer: true });
  for (const [name, t] of ck.weights) {
    assert(t.data.every(Number.isFinite), `${name} in "${dir}" holds NaN or Inf`);
  }
  return ck.history.length;
}

Deno.test("recsimu train --lr 1e30 stops at the diverging step, names it and the checkpoint kept, exit 2", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "log.csv");
  await Deno.writeTextFile(log, LOG);
  const out = join(tmp.path, "model");
  const r = await runRecsimu(
    ["train", "--data", log, "--out", out, "--quiet", ...TINY_FLAGS, "--lr", "1e30"],
    { timeoutMs: 120_000 },
  );
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  const m = new RegExp(
    String
      .raw`^recsimu train: (loss/\w+ is (NaN|-?Infinity) at|weights \S+ are NaN or Inf after) ` +
      String.raw`(pre_g|pre_d|adv) epoch (\d+) step (\d+); the last good checkpoint ` +
      String.raw`\((pre_g|pre_d|adv) epoch (\d+)\) is kept in "${out}" — lower --lr`,
  ).exec(r.stderr);
  assert(m, r.stderr);
  assertEquals(r.stdout, "");
  // The checkpoint named in the message is on disk, loads, and its weights are finite.
  const ck = await loadCheckpoint(out);
  assertEquals([ck.meta.position.phase, ck.meta.position.epoch], [m[6], Number(m[7])]);
  await finiteCheckpoint(out);
  const sim = await Simulator.load(out, { backend: "cpu" });
  const [p] = await sim.predict([{ state: [], action: ck.items[0]! }]);
  assert(
    Object.values(p!.probs).every(Number.isFinite) && Number.isFinite(p!.real),
    JSON.stringify(p),
  );
  sim.dispose();
});

/** Sets every trainable weight to NaN, as an overflowing update would. */
function poisonWeights(): void {
  for (const v of Object.values(tf.engine().registeredVariables)) {
    if (v.trainable) tf.tidy(() => v.assign(tf.fill(v.shape, NaN)));
  }
}

Deno.test("weights turned NaN mid-epoch or on an epoch's last step stop training before any checkpoint holds them", async () => {
  await initBackend("cpu", { quiet: true });
  const ds = await datasetFromText(LOG, "log.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig({
    batch: 64,
    hidden: 8,
    fc: 8,
    embDim: 6,
    preGEpochs: 2,
    preDEpochs: 2,
    epochs: 1,
  });
  const steps = Math.ceil(ds.train.length / c.batch);
  // [phase, epoch, step after which the weights turn NaN, epochs in the checkpoint left]
  const cases = [
    ["pre_g", 2, steps, 1], // last step of a generator epoch (no validation follows)
    ["pre_d", 1, steps, 2], // last step of a discriminator epoch (validation follows)
    ["adv", 1, steps, 4],
    ["pre_d", 2, 3, 3], // mid-epoch: the next loss is NaN
  ] as const;
  for (const [phase, epoch, step, kept] of cases) {
    await using tmp = await tempDir();
    const out = join(tmp.path, "model");
    const at = (phase === "pre_g" ? 0 : phase === "pre_d" ? 2 : 4) + epoch - 1; // epochs before
    let n = 0;
    const before = tf.memory().numTensors;
    const e = await assertRejects(
      () =>
        trainRecSimu(ds, c, {
          out,
          quiet: true,
          shouldStop: () => {
            if (++n === at * steps + step) poisonWeights();
            return false;
          },
        }),
      DivergenceError,
    );
    const where = `${phase} epoch ${epoch} step ${step}: ${e.message}`;
    const named = step === steps
      ? `weights \\S+ are NaN or Inf after ${phase} epoch ${epoch} step ${step}`
      : `loss/\\w+ is NaN at ${phase} epoch ${epoch} step ${step + 1}`;
    assert(new RegExp(`^${named}; the last good checkpoint .* is kept`).test(e.message), where);
    assertEquals(await finiteCheckpoint(out), kept, where);
    assertEquals(tf.memory().numTensors, before, `the model is freed; ${where}`);
  }
});

Deno.test("an embeddings file with NaN, Inf or a value beyond float32 is refused, naming line and column", async () => {
  await using tmp = await tempDir();
  const items = ["a", "b", "c"];
  const good = ["item_id,v1,v2", "a,0.1,0.2", "b,0.3,-0.4", "c,0.5,0.6"];
  const path = join(tmp.path, "emb.csv");
  for (const bad of ["NaN", "Infinity", "-inf", "1e39", "-3.5e38", "", "0x1p3"]) {
    const lines = [...good];
    lines[2] = `b,0.3,${bad}`;
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    const e = await assertRejects(() => loadEmbeddingsCsv(path, items, 2), DataFormatError);
    assert(
      e.message.startsWith(`Cannot read "${path}": line 3, column 3: expected a finite`),
      `"${bad}": ${e.message}`,
    );
  }
  // Large but representable values are squashed, not refused; the result is finite.
  const big = [...good];
  big[2] = "b,3e38,-1e30";
  await Deno.writeTextFile(path, big.join("\n") + "\n");
  const v = await loadEmbeddingsCsv(path, items, 2);
  assert(v.every((x) => Number.isFinite(x) && Math.abs(x) <= 1), String(v));
});

Deno.test("recsimu train --embeddings with a NaN exits 2 naming the file, line and column", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "log.csv");
  await Deno.writeTextFile(log, LOG);
  const ds = await datasetFromText(LOG, "log.csv", { stateLength: 5, minCount: 1 });
  const emb = join(tmp.path, "emb.csv");
  const rows = ds.items.map((id, i) => `${id},${i === 7 ? "NaN" : "0.1"},0.2,0.3,0.4,0.5,0.6`);
  await Deno.writeTextFile(emb, rows.join("\n") + "\n");
  const r = await runRecsimu(
    ["train", "--data", log, "--out", join(tmp.path, "m"), "--embeddings", emb, ...TINY_FLAGS],
    { timeoutMs: 60_000 },
  );
  assertEquals(r.code, 2, r.stderr);
  const last = r.stderr.trimEnd().split("\n").at(-1)!;
  assert(
    last.startsWith(`recsimu train: Cannot read "${emb}": line 8, column 2: expected a finite`),
    r.stderr,
  );
  assert(!/internal error|\n\s+at /.test(r.stderr), r.stderr);
});
