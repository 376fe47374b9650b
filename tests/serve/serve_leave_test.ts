/**
 * The learned leave model end to end: `recsimu train` stores it in the checkpoint (leave.json,
 * sha256 in the marker), `loadLeaveModel` reads it back, `recsimu serve --leave learned` serves
 * it, and a checkpoint without one (an older recsimu's) gets a clear one-line error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CheckpointError } from "../../lib/errors.ts";
import { OUTPUT_MARKER, sha256 } from "../../lib/output.ts";
import { loadLeaveModel } from "../../lib/sim/leave.ts";
import { MAIN, runRecsimu, TINY_FLAGS, Watched } from "../_cli.ts";
import { checkpointWithout } from "../_helpers.ts";

const LABELS = ["skip", "click", "purchase"];

async function trained(dir: string): Promise<{ model: string; report: Record<string, unknown> }> {
  const synth = await runRecsimu([
    "synth",
    "--out",
    `${dir}/s`,
    "--sessions",
    "60",
    "--items",
    "30",
    "--min-length",
    "10",
    "--max-length",
    "20",
    "--quiet",
  ]);
  assert.equal(synth.code, 0, synth.stderr);
  const model = `${dir}/m`;
  const train = await runRecsimu([
    "train",
    "--data",
    `${dir}/s/log.csv`,
    "--out",
    model,
    ...TINY_FLAGS,
    "--epochs",
    "0",
    "--pre-g-epochs",
    "0",
    "--pre-d-epochs",
    "0",
  ]);
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stderr, /leave model: held-out AUC \d\.\d{4} on 12 sessions/);
  return { model, report: JSON.parse(train.stdout.trim().split("\n").at(-1)!) };
}

Deno.test("train stores the leave model; serve --leave learned serves it; old checkpoints say why not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "recsimu-leave-" });
  try {
    const { model, report } = await trained(dir);
    // leave.json is registered in the marker with its sha256, and reported in the JSON.
    const bytes = await Deno.readFile(join(model, "leave.json"));
    const marker = JSON.parse(await Deno.readTextFile(join(model, OUTPUT_MARKER)));
    assert.deepEqual(marker.files["leave.json"], { sha256: sha256(bytes), bytes: bytes.length });
    const leave = report.leave as { heldout: { auc: number; sessions: number } };
    assert.equal(leave.heldout.sessions, 12);
    assert.ok(leave.heldout.auc > 0 && leave.heldout.auc < 1);
    const loaded = await loadLeaveModel(model, LABELS, 5);
    assert.deepEqual(loaded!.heldout, leave.heldout);

    // serve --leave learned answers with the learned model.
    const server = new Watched([
      "run",
      "-A",
      MAIN,
      "serve",
      "--model",
      model,
      "--port",
      "0",
      "--leave",
      "learned",
    ]);
    try {
      await server.waitFor(/listening on (http:\/\/\S+?)[ ,;)]/);
      const url = /listening on (http:\/\/\S+?)[ ,;)]/.exec(server.stderr)![1]!;
      const info = await (await fetch(`${url}/v1/model`)).json();
      assert.equal(info.env.leave, "learned");
      assert.deepEqual(info.env.leave_model.heldout, leave.heldout);
    } finally {
      server.child.kill("SIGTERM");
      await server.finish();
    }

    // An older checkpoint: one line, exit 2; so are contradictory flags.
    const old = `${dir}/old`;
    await checkpointWithout(model, old, "leave.json");
    assert.equal(await loadLeaveModel(old, LABELS, 5), undefined);
    const refused = await runRecsimu([
      "serve",
      "--model",
      old,
      "--leave",
      "learned",
      "--port",
      "0",
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr.trim(),
      /^recsimu serve: --leave learned: ".*old" has no learned leave model \(leave\.json\)[^\n]*$/,
    );
    const both = await runRecsimu([
      "serve",
      "--model",
      model,
      "--leave",
      "learned",
      "--leave-after-skips",
      "2",
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--leave learned and --leave-after-skips exclude each other/);
    const bogus = await runRecsimu(["serve", "--model", model, "--leave", "sometimes"]);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /--leave: expected rule or learned, got "sometimes"/);

    // A damaged leave.json is refused by its checksum.
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 1;
    await Deno.writeFile(join(model, "leave.json"), bytes);
    await assert.rejects(
      () => loadLeaveModel(model, LABELS, 5),
      (e: Error) => e instanceof CheckpointError && /leave\.json" is corrupted/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
