/**
 * `recsimu fidelity --log` as a user runs it on a tiny synthetic log, for the learned leave
 * model: a checkpoint of `train --split users` (which fits leave.json) gets a `sessions` section
 * with plausible figures and its block in the table and the HTML page; the same checkpoint
 * without leave.json gets `sessions: null` and the note; the session flags are checked; and the
 * config-only read that checks the split first agrees with the full load.
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { sessionRole } from "../../lib/data/dataset.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { OUTPUT_MARKER } from "../../lib/output.ts";
import { loadCheckpoint, loadCheckpointMeta } from "../../lib/train/checkpoint.ts";

const LOG = synthText({ sessions: 40, items: 20, minLength: 7, maxLength: 12 });
const NO_EPOCHS = ["--epochs", "0", "--pre-g-epochs", "0", "--pre-d-epochs", "0", "--quiet"];

/** Logged lengths of LOG's held-out sessions (seed 0, holdout 0.3). */
function heldOutLengths(): number[] {
  const n = new Map<string, number>();
  for (const line of LOG.trimEnd().split("\n").slice(1)) {
    const s = line.split(",")[0]!;
    n.set(s, (n.get(s) ?? 0) + 1);
  }
  return [...n].filter(([id]) => sessionRole(id, 0, 0.3) === "test").map(([, k]) => k);
}

/** Removes leave.json and its entry in the marker: a checkpoint from before leave models. */
async function dropLeave(model: string): Promise<void> {
  await Deno.remove(join(model, "leave.json"));
  const path = join(model, OUTPUT_MARKER);
  const marker = JSON.parse(await Deno.readTextFile(path));
  delete marker.files["leave.json"];
  await Deno.writeTextFile(path, JSON.stringify(marker));
}

Deno.test("fidelity --log reports the leave model's sessions, and null with a note without one", async () => {
  await using d = await tempDir();
  const log = join(d.path, "log.csv");
  await Deno.writeTextFile(log, LOG);
  const model = join(d.path, "m");
  const t = await runRecsimu([
    "train",
    "--data",
    log,
    "--out",
    model,
    ...TINY_FLAGS,
    "--split",
    "users",
    "--holdout",
    "0.3",
    ...NO_EPOCHS,
  ]);
  assertEquals(t.code, 0, t.stderr);
  const base = ["fidelity", "--model", model, "--log", log, "--backend", "cpu", "--baselines"];
  const html = join(d.path, "r.html");
  const r = await runRecsimu([...base, "none", "--report", html, "--session-sims", "50"]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stderr.includes("sessions (learned leave model):"), r.stderr);
  assert(r.stderr.includes("KS distance"), r.stderr);
  const j = JSON.parse(r.stdout);
  const s = j.sessions;
  const lengths = heldOutLengths();
  assertEquals(s.held_out_sessions, lengths.length);
  assertEquals(s.leave.sessions, lengths.length);
  assertEquals(s.leave.rows, lengths.reduce((a, b) => a + b, 0));
  assert(s.leave.auc >= 0 && s.leave.auc <= 1, `auc ${s.leave.auc}`);
  assert(s.leave.log_loss > 0 && s.leave.base_log_loss > 0);
  // train left the test users out of the leave fit: none of the held-out sessions was seen.
  assertEquals(s.leave_fit.seen, 0);
  assertEquals(s.leave_fit.unseen?.sessions, lengths.length);
  const leaveJson = JSON.parse(await Deno.readTextFile(join(model, "leave.json")));
  assertEquals(leaveJson.excluded.sessions, lengths.length);
  assertEquals(leaveJson.train.sessions + leaveJson.heldout.sessions, 40 - lengths.length);
  const L = s.lengths;
  assertEquals(L.logged.count, lengths.length);
  assertEquals([L.logged.min, L.logged.max], [Math.min(...lengths), Math.max(...lengths)]);
  assertEquals([L.simulated.count, L.seed, L.max_steps, L.policy], [50, 0, 1000, "replay"]);
  assert(L.simulated.min >= 1 && L.simulated.max <= 1000 && L.simulated.truncated <= 50);
  assert(L.simulated.p10 <= L.simulated.median && L.simulated.median <= L.simulated.p90);
  assert(L.ks >= 0 && L.ks <= 1 && L.ks_critical_05 > 0);
  assertEquals(j.notes, {});
  assert((await Deno.readTextFile(html)).includes('<section id="sessions">'));
  // Seeded: the same flags give the same section (but its time).
  const again = await runRecsimu([...base, "none", "--session-sims", "50", "--quiet"]);
  const s2 = JSON.parse(again.stdout).sessions;
  assertEquals({ ...s2, seconds: 0 }, { ...s, seconds: 0 });
  // A step cap cuts the simulated sessions.
  const cut = await runRecsimu([
    ...base,
    "none",
    "--session-sims",
    "8",
    "--session-max-steps",
    "2",
    "--seed",
    "3",
    "--quiet",
  ]);
  assertEquals(cut.code, 0, cut.stderr);
  const C = JSON.parse(cut.stdout).sessions.lengths;
  assertEquals([C.seed, C.simulated.count, C.simulated.max <= 2], [3, 8, true]);
  assertEquals(C.ks, 1); // every logged session has at least 7 rows
  // Without leave.json: sessions null, the note, exit 0.
  await dropLeave(model);
  const none = await runRecsimu([...base, "item_rate"]);
  assertEquals(none.code, 0, none.stderr);
  const n = JSON.parse(none.stdout);
  assertEquals(n.sessions, null);
  assert(n.notes.sessions.includes("no learned leave model (leave.json)"), n.notes.sessions);
  assert(none.stderr.includes("sessions: no learned leave model"), none.stderr);
});

Deno.test("fidelity --log checks the session flags; loadCheckpointMeta() reads and verifies config.json alone", async () => {
  await using d = await tempDir();
  const log = join(d.path, "log.csv");
  await Deno.writeTextFile(log, LOG);
  const model = join(d.path, "m");
  const t = await runRecsimu(["train", "--data", log, "--out", model, ...TINY_FLAGS, ...NO_EPOCHS]);
  assertEquals(t.code, 0, t.stderr);
  const cases: [string[], string][] = [
    [["--log", log, "--session-sims", "-1"], "--session-sims"],
    [["--log", log, "--session-max-steps", "0"], "--session-max-steps"],
    [["--truth", d.path, "--session-sims", "5"], "--session-sims: only with --log"],
    // The split is checked from config.json before anything else loads.
    [["--log", log], "was trained with --split last"],
  ];
  for (const [extra, message] of cases) {
    const r = await runRecsimu(["fidelity", "--model", model, "--backend", "cpu", ...extra]);
    assertEquals(r.code, 2, `${extra}: ${r.stderr}`);
    assert(r.stderr.includes(message), `${extra}: ${r.stderr}`);
  }
  const meta = await loadCheckpointMeta(model);
  assertEquals(meta, (await loadCheckpoint(model)).meta);
  // config.json is checked against the marker's sha256, as the full load checks it.
  const config = join(model, "config.json");
  await Deno.writeTextFile(config, (await Deno.readTextFile(config)) + " ");
  await assertRejects(() => loadCheckpointMeta(model), CheckpointError, "corrupted");
});
