/**
 * `recsimu train --split users` and `recsimu fidelity --log` as a user runs them: the split is
 * recorded in the checkpoint, the report has every field and counts the held-out tuples as the
 * log says, the HTML report is written, replaced only with --overwrite and never over a user's
 * file, and wrong combinations are one-line errors.
 * @module
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { NO_EPOCHS, runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { sessionRole } from "../../lib/data/dataset.ts";
import { FIDELITY_HTML_MARKER } from "../../lib/fidelity/html_report.ts";

const LOG = synthText({ sessions: 40, items: 20, minLength: 7, maxLength: 12 });
const FAST = ["--epochs", "0", "--pre-g-epochs", "0", "--pre-d-epochs", "1", "--quiet"];

/** Held-out sessions of LOG (seed 0, holdout 0.3): their tuples and positive tuples. */
function expectedHeldOut(): { sessions: number; tuples: number; positives: number } {
  const bySession = new Map<string, string[]>();
  for (const line of LOG.trimEnd().split("\n").slice(1)) {
    const [s, , feedback] = line.split(",");
    bySession.set(s!, [...(bySession.get(s!) ?? []), feedback!]);
  }
  let sessions = 0, tuples = 0, positives = 0;
  for (const [id, fb] of bySession) {
    if (sessionRole(id, 0, 0.3) !== "test") continue;
    sessions++;
    tuples += fb.length - 1; // every row but the first has a history
    positives += fb.slice(1).filter((f) => f === "click" || f === "purchase").length;
  }
  return { sessions, tuples, positives };
}

Deno.test("train --split users records the split; fidelity --log judges every held-out tuple beside the baselines", async () => {
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
    ...FAST,
  ]);
  assertEquals(t.code, 0, t.stderr);
  const config = JSON.parse(await Deno.readTextFile(join(model, "config.json"))).config;
  assertEquals([config.split, config.holdout, config.seed], ["users", 0.3, 0]);
  const out = join(d.path, "f.json"), html = join(d.path, "r.html");
  const args = ["fidelity", "--model", model, "--log", log, "--backend", "cpu"];
  const r = await runRecsimu([...args, "--out", out, "--report", html]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stderr.includes("held-out users:"), r.stderr);
  const j = JSON.parse(r.stdout);
  assertEquals(JSON.parse(await Deno.readTextFile(out)), j);
  assertEquals([j.kind, j.mode], ["recsimu-fidelity-report", "log"]);
  const want = expectedHeldOut();
  assertEquals(j.tuples.held_out_sessions, want.sessions);
  assertEquals(j.tuples.tuples, want.tuples);
  assertEquals(j.tuples.answered + j.tuples.refused, j.tuples.tuples);
  assertEquals(j.tuples.refused, 0); // --min-count 1: every item is known
  assertEquals(Object.keys(j.scores), ["simulator", "item_rate", "lr", "gru"]);
  type Scores = {
    n: number;
    positive: Record<string, number>;
    per_label: unknown;
    reliability: { n: number }[];
  };
  for (const [name, s] of Object.entries(j.scores) as [string, Scores][]) {
    assertEquals(s.n, j.tuples.answered, name);
    for (const k of ["auc", "log_loss", "ece", "brier"]) {
      assert(typeof s.positive[k] === "number", `${name}.positive.${k}`);
    }
    assertEquals(s.per_label === null, name === "lr", name); // LR predicts P(positive) only
    assertEquals(s.reliability.reduce((a, b) => a + b.n, 0), s.n, name);
  }
  assertEquals(Object.keys(j.replay), ["simulator", "item_rate", "gru"]);
  assertEquals(j.replay.simulator.steps, j.tuples.answered);
  assertAlmostEquals(j.replay.simulator.mean_logged, want.positives / want.sessions, 1e-12);
  const page = await Deno.readTextFile(html);
  assert(page.includes(FIDELITY_HTML_MARKER) && page.includes('class="vega-lite-spec"'));
  // A second run replaces the two reports only with --overwrite.
  const again = await runRecsimu([...args, "--baselines", "none", "--report", html, "--quiet"]);
  assertEquals(again.code, 2, again.stderr);
  assert(again.stderr.includes("pass --overwrite"), again.stderr);
  const over = await runRecsimu([
    ...args,
    "--baselines",
    "item_rate",
    "--report",
    html,
    "--overwrite",
    "--quiet",
  ]);
  assertEquals(over.code, 0, over.stderr);
  assertEquals(Object.keys(JSON.parse(over.stdout).scores), ["simulator", "item_rate"]);
});

Deno.test("fidelity --log refuses a user's file, a --split last model and flags of the other mode", async () => {
  await using d = await tempDir();
  const log = join(d.path, "log.csv");
  await Deno.writeTextFile(log, LOG);
  const model = join(d.path, "m");
  const t = await runRecsimu(["train", "--data", log, "--out", model, ...TINY_FLAGS, ...NO_EPOCHS]);
  assertEquals(t.code, 0, t.stderr);
  const notes = join(d.path, "notes.html");
  await Deno.writeTextFile(notes, "<p>my notes</p>");
  const base = ["fidelity", "--model", model, "--log", log, "--backend", "cpu"];
  const cases: [string[], string][] = [
    [["--report", notes], "is an existing file that is not a recsimu fidelity HTML report"],
    [[], "was trained with --split last"],
    [["--rollouts", "2"], "--rollouts: only with --truth"],
    [["--posterior-particles", "10"], "--posterior-particles: only with --truth"],
    [["--baselines", "knn"], '--baselines: unknown baseline "knn"'],
    [["--truth", d.path], "--truth and --log exclude each other"],
  ];
  for (const [extra, message] of cases) {
    const r = await runRecsimu([...base, ...extra]);
    assertEquals(r.code, 2, `${extra}: ${r.stderr}`);
    assert(r.stderr.includes(message), `${extra}: ${r.stderr}`);
    // One line (Deno's own notice of a lock held by another process aside).
    const lines = r.stderr.trim().split("\n").filter((l) => !/waiting for file lock/.test(l));
    assertEquals(lines.length, 1, r.stderr);
  }
  assertEquals(await Deno.readTextFile(notes), "<p>my notes</p>");
  const h = await runRecsimu([
    "train",
    "--data",
    log,
    "--out",
    join(d.path, "x"),
    "--holdout",
    "0.3",
  ]);
  assertEquals(h.code, 2, h.stderr);
  assert(h.stderr.includes("--holdout: only with --split users"), h.stderr);
});
