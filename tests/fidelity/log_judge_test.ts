/**
 * The real-log judge on a toy log and a toy simulator whose answers are known: which tuples are
 * asked and refused, the replay check, the item-rate baseline, the per-label metrics and the
 * learned leave model's sessions, all against hand-computed values; and the HTML reports of both
 * modes.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { tempDir } from "../_helpers.ts";
import { TRAIN_DEFAULTS, type TrainConfig } from "../../lib/config.ts";
import { datasetFromText, sessionRole } from "../../lib/data/dataset.ts";
import { UserError } from "../../lib/errors.ts";
import { type JudgedModel, judgeLog, NO_LEAVE_MODEL_NOTE } from "../../lib/fidelity/log_judge.ts";
import { logFidelityTable } from "../../lib/fidelity/table.ts";
import { LeaveModel } from "../../lib/sim/leave.ts";
import { leaveSplit } from "../../lib/train/fit_leave.ts";
import { leaveFeatureNames } from "../../lib/train/leave_features.ts";
import { replayCheck } from "../../lib/fidelity/replay.ts";
import {
  FIDELITY_HTML_MARKER,
  logReportHtml,
  truthReportHtml,
} from "../../lib/fidelity/html_report.ts";
import { judgeResponder } from "../../lib/fidelity/judge.ts";
import { truthResponder } from "../../lib/fidelity/responders.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";

/** u1, u2 and u4 are held out (with the seed below), u3 trains. */
const LOG = `session_id,item_id,feedback
u1,a,neg
u1,b,pos
u1,c,pos
u1,a,neg
u2,c,pos
u2,b,neg
u2,a,pos
u3,a,pos
u3,b,pos
u3,c,neg
u4,b,pos
u4,c,neg
u4,b,pos
`;

/** The toy simulator's P(pos) of each item, whatever the state. */
const P_POS: Record<string, number> = { a: 0.2, b: 0.5, c: 0.9 };

/** The first seed that holds out u1, u2 and u4 and trains on u3 (holdout 0.5). */
function toySeed(): number {
  for (let seed = 0; seed < 10_000; seed++) {
    const role = (id: string) => sessionRole(id, seed, 0.5);
    if (["u1", "u2", "u4"].every((u) => role(u) === "test") && role("u3") === "train") return seed;
  }
  throw new Error("no seed found");
}

/** A toy simulator trained (as its config says) with --split users on `file`. */
function toyModel(file: string, over: Partial<TrainConfig> = {}, known = "abc"): JudgedModel {
  const config: TrainConfig = {
    ...TRAIN_DEFAULTS,
    positive: ["pos"],
    stateLength: 2,
    minStateLength: 1,
    minCount: 1,
    split: "users",
    holdout: 0.5,
    seed: toySeed(),
    ...over,
  };
  return {
    labels: ["neg", "pos"],
    positive: [false, true],
    stateLength: 2,
    itemCount: 3,
    items: ["a", "b", "c"],
    startStates: [],
    hasItem: (id) => known.includes(id),
    predictArrays: (rs) =>
      Promise.resolve(
        rs.map((r) => ({ probs: [1 - P_POS[r.action]!, P_POS[r.action]!], real: 1 })),
      ),
    describe: () => ({ model: "toy" }),
    meta: {
      config,
      data: { file, fingerprint: createHash("sha256").update(LOG).digest("hex") },
    },
  };
}

async function withLog<T>(f: (file: string) => Promise<T>): Promise<T> {
  await using d = await tempDir();
  const file = join(d.path, "log.csv");
  await Deno.writeTextFile(file, LOG);
  return await f(file);
}

Deno.test("judgeLog() asks every held-out tuple and checks the replay against hand-computed returns", async () => {
  await withLog(async (file) => {
    const r = await judgeLog(toyModel(file), { baselines: ["item_rate"] });
    // u1: b c a, u2: b a, u4: c b (the first row of a session has no history).
    assertEquals(r.tuples.held_out_sessions, 3);
    assertEquals([r.tuples.tuples, r.tuples.answered, r.tuples.refused], [7, 7, 0]);
    assertEquals(r.tuples.short_state, 3); // each session's first tuple has 1 pair < N = 2
    const s = r.replay.simulator!;
    // Logged returns 2, 1, 1; expected 0.5+0.9+0.2, 0.5+0.2, 0.9+0.5.
    assertEquals([s.sessions, s.steps], [3, 7]);
    assertAlmostEquals(s.mean_logged, 4 / 3, 1e-12);
    assertAlmostEquals(s.mean_simulated, 3.7 / 3, 1e-12);
    assertAlmostEquals(s.ratio, 3.7 / 4, 1e-12);
    assertAlmostEquals(s.correlation, 0.6719319439596789, 1e-9);
    assertAlmostEquals(s.correlation_per_step, 0.027482485496465724, 1e-9);
    // Item rates on u3's tuples (b pos, c neg; prior 1/2): a 1/2, b 2/3, c 1/3.
    const i = r.replay.item_rate!;
    assertAlmostEquals(i.mean_simulated, (1.5 + (0.5 + 2 / 3) + 1) / 3, 1e-12);
    assertAlmostEquals(i.correlation, 0.9449111825230683, 1e-9);
    // P(pos) 0.5 0.9 0.2 | 0.5 0.2 | 0.9 0.5 against 1 1 0 | 0 1 | 0 1: AUC 6/12.
    const sim = r.scores.simulator!;
    assertEquals(sim.n, 7);
    assertAlmostEquals(sim.positive.auc, 0.5, 1e-12);
    assertAlmostEquals(sim.positive.mean_p, 3.7 / 7, 1e-12);
    assertAlmostEquals(sim.per_label!.neg!.auc, 0.5, 1e-12); // p_neg = 1 − p_pos, outcome flipped
    assertEquals(sim.by_state.short.n + sim.by_state.full.n, 7);
    assertEquals(sim.reliability.reduce((a, b) => a + b.n, 0), 7);
    assertEquals(r.scores.item_rate!.n, 7);
  });
});

Deno.test("judgeLog() refuses the tuples whose item the simulator does not know, by reason", async () => {
  await withLog(async (file) => {
    const r = await judgeLog(toyModel(file, {}, "ab"), { baselines: [] });
    const c = r.tuples;
    // Refused: u1 c (action), u1 a (c in its state), u2 b, u2 a, u4 c (action), u4 b.
    assertEquals([c.tuples, c.answered, c.refused], [7, 1, 6]);
    assertEquals(c.refused_by_reason.unknown_action, 2);
    assertEquals(c.refused_by_reason.unknown_history_item, 4);
    assertEquals(r.replay.simulator!.steps, 1);
    assertEquals(Object.keys(r.scores), ["simulator"]);
  });
});

Deno.test("judgeLog() rewards: the replay's expected reward is Σ r_k·p_k", async () => {
  await withLog(async (file) => {
    const r = await judgeLog(toyModel(file), { baselines: [], rewards: [-1, 2] });
    // Logged: u1 2·2 − 1 = 3, u2 2 − 1 = 1, u4 1; expected per step 3p − 1.
    assertAlmostEquals(r.replay.simulator!.mean_logged, 5 / 3, 1e-12);
    assertAlmostEquals(r.replay.simulator!.mean_simulated, (3 * 3.7 - 7) / 3, 1e-12);
    assertEquals(r.config.rewards, { neg: -1, pos: 2 });
  });
});

Deno.test("judgeLog() refuses a model trained with --split last and a log it was not trained on", async () => {
  await withLog(async (file) => {
    await assertRejects(
      () => judgeLog(toyModel(file, { split: "last" }), { model: '"m"' }),
      UserError,
      '"m" was trained with --split last',
    );
    const other = file.replace("log.csv", "other.csv");
    await Deno.writeTextFile(other, LOG + "u5,a,pos\n");
    await assertRejects(
      () => judgeLog(toyModel(file), { log: other, baselines: [] }),
      UserError,
      "is not the log the model was trained on",
    );
  });
});

Deno.test("replayCheck() with one session has no correlation, and a zero logged mean no ratio", () => {
  const r = replayCheck([1, 1], [0, 0], [0.3, 0.4]);
  assertEquals(r.sessions, 1);
  assert(Number.isNaN(r.correlation) && Number.isNaN(r.ratio));
  assertAlmostEquals(r.mean_simulated, 0.7, 1e-12);
});

/**
 * A leave model of the toy simulator that keeps every user until position 3 and lets them go
 * after it (hazard sigmoid(−40) before, sigmoid(40) from it), recorded as fitted on 3 of the
 * log's 4 sessions with seed 0 (the split `leaveSplit` gives back) and base rate 1/4.
 */
function toyLeave(): LeaveModel {
  const labels = ["neg", "pos"], edges = [3];
  const features = leaveFeatureNames(labels, edges);
  const w: Record<string, number> = { bias: -40, "position>=3": 80 };
  return LeaveModel.fromData(
    {
      format: 1,
      method: "logistic",
      labels,
      state_length: 2,
      streak_cap: 10,
      position_edges: edges,
      features,
      weights: features.map((f) => w[f] ?? 0),
      l2: 1,
      train: { sessions: 3, rows: 10, base_rate: 0.25, iterations: 1 },
      heldout: { sessions: 1, rows: 3, base_rate: 1 / 3, auc: null, log_loss: 0, base_log_loss: 0 },
      seed: 0,
    },
    labels,
    2,
  );
}

Deno.test("judgeLog() with a leave model scores the held-out sessions' ends and their simulated lengths", async () => {
  await withLog(async (file) => {
    const r = await judgeLog(toyModel(file), { baselines: [], leave: toyLeave() });
    const s = r.sessions!;
    assertEquals(r.notes, {});
    assertEquals(s.held_out_sessions, 3); // u1 (4 rows), u2 (3), u4 (3)
    // Rows: u1's last (position 3) at sigmoid(40), the 9 others at sigmoid(−40); 3 ends.
    const e = s.leave!;
    assertEquals([e.sessions, e.rows], [3, 10]);
    assertAlmostEquals(e.base_rate, 0.3, 1e-12);
    // u1's end beats the 7 stays; u2's and u4's ends tie with them: (7 + 2·7/2) / 21.
    assertAlmostEquals(e.auc!, 2 / 3, 1e-12);
    // The two ends at sigmoid(−40) are clipped to 1e-15 in the log-loss; the rest cost ~0.
    assertAlmostEquals(e.log_loss!, (2 * 15 * Math.LN10) / 10, 1e-9);
    assertAlmostEquals(e.base_log_loss!, (3 * Math.log(4) + 7 * Math.log(4 / 3)) / 10, 1e-12);
    // The leave fit's split (seed 0) holds out one of the log's 4 sessions.
    const ds = await datasetFromText(LOG, "log.csv", { stateLength: 2, minCount: 1 });
    const [out] = Array.from(leaveSplit(ds, 0).heldout, (j) => ds.sessionIds[j]!);
    const unseen = ["u1", "u2", "u4"].includes(out!) ? 1 : 0;
    assertEquals(s.leave_fit.seen, 3 - unseen);
    assertEquals(s.leave_fit.unseen?.sessions ?? 0, unseen);
    // Logged 4 3 3; every simulated user leaves after position 3: 4 4 4.
    const L = s.lengths;
    assertEquals([L.policy, L.seed, L.max_steps], ["replay", 0, 1000]);
    assertEquals(L.logged, { count: 3, mean: 10 / 3, min: 3, p10: 3, median: 3, p90: 3.8, max: 4 });
    assertEquals(L.simulated, {
      count: 3,
      mean: 4,
      min: 4,
      p10: 4,
      median: 4,
      p90: 4,
      max: 4,
      truncated: 0,
    });
    assertAlmostEquals(L.ks!, 2 / 3, 1e-12);
    assertAlmostEquals(
      L.ks_critical_05!,
      Math.sqrt(-Math.log(0.025) / 2) * Math.sqrt(6 / 9),
      1e-12,
    );
    const table = logFidelityTable(r);
    assert(table.includes("leave AUC 0.6667") && table.includes("KS distance 0.667"), table);
    const html = await logReportHtml(r, "toy");
    assert(html.includes('<section id="sessions">') && html.includes("Kolmogorov"), "no sessions");
  });
});

Deno.test("judgeLog() simulates --session-sims sessions cut at --session-max-steps, and none with 0", async () => {
  await withLog(async (file) => {
    const sessions = { sims: 5, maxSteps: 2, seed: 7 };
    const r = await judgeLog(toyModel(file), { baselines: [], leave: toyLeave(), sessions });
    const L = r.sessions!.lengths;
    assertEquals([L.seed, L.max_steps, L.logged.count], [7, 2, 3]);
    assertEquals([L.simulated!.count, L.simulated!.max, L.simulated!.truncated], [5, 2, 5]);
    assertEquals(L.ks, 1); // every logged session is longer than every cut one
    const none = await judgeLog(toyModel(file), {
      baselines: [],
      leave: toyLeave(),
      sessions: { sims: 0 },
    });
    const N = none.sessions!.lengths;
    assertEquals([N.simulated, N.ks, N.ks_critical_05, N.logged.count], [null, null, null, 3]);
    assertEquals(none.sessions!.leave, r.sessions!.leave);
    assert(logFidelityTable(none).includes("no sessions simulated"));
  });
});

Deno.test("judgeLog() without a leave model reports sessions null and says how to get one", async () => {
  await withLog(async (file) => {
    const r = await judgeLog(toyModel(file), { baselines: [] });
    assertEquals(r.sessions, null);
    assertEquals(r.notes, { sessions: NO_LEAVE_MODEL_NOTE });
    assert(NO_LEAVE_MODEL_NOTE.includes("recsimu train"));
    assert(logFidelityTable(r).includes(`sessions: ${NO_LEAVE_MODEL_NOTE}`));
    const html = await logReportHtml(r, "toy");
    assert(html.includes("no learned leave model (leave.json)"));
  });
});

/** The JSON of every Vega-Lite specification embedded in `html`. */
function specs(html: string): Record<string, unknown>[] {
  return [
    ...html.matchAll(
      /<script type="application\/json" class="vega-lite-spec"[^>]*>(.*?)<\/script>/gs,
    ),
  ]
    .map((m) => JSON.parse(m[1]!));
}

Deno.test("logReportHtml() is a page with the reliability diagram's SVG and its Vega-Lite spec", async () => {
  await withLog(async (file) => {
    const r = await judgeLog(toyModel(file), { baselines: ["item_rate"] });
    const html = await logReportHtml(r, "toy");
    assert(html.startsWith("<!DOCTYPE html>") && html.includes(FIDELITY_HTML_MARKER));
    assert(html.includes("<svg"), "no SVG");
    const [spec] = specs(html);
    assert(spec && String(spec.$schema).includes("vega-lite"), "no spec");
    const values = (spec.data as { values: { scorer: string; n: number }[] }).values;
    assertEquals(new Set(values.map((v) => v.scorer)), new Set(["simulator", "item_rate"]));
    assertEquals(values.filter((v) => v.scorer === "simulator").reduce((a, v) => a + v.n, 0), 7);
  });
});

Deno.test("truthReportHtml() has the reliability against the truth and the returns scatter with y = x", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, {
    preset: "base",
    seed: 0,
    params: { items: 60, categories: 4 },
    sessions: 40,
    cases: 120,
    startStates: 3,
    rollouts: 1,
    horizon: 3,
  });
  const truth = await loadTruthDir(d.path);
  const r = await judgeResponder(truthResponder(truth.world), truth);
  // The truth judged against itself: each bin's mean true probability is its mean prediction.
  for (const b of r.prediction.overall.reliability.filter((b) => b.n > 0)) {
    assertAlmostEquals(b.mean_true!, b.mean_predicted, 1e-9);
  }
  const html = await truthReportHtml(r, "truth");
  assert(html.includes(FIDELITY_HTML_MARKER) && html.includes('data-chart="returns"'));
  const [reliability, returns] = specs(html);
  const targets = (reliability!.data as { values: { target: string }[] }).values.map((v) =>
    v.target
  );
  assert(targets.includes("true probability") && targets.includes("observed rate"));
  // The observable ceiling is a second series, over the same cases.
  const scorers = (reliability!.data as { values: { scorer: string; n: number }[] }).values;
  const count = (s: string) =>
    scorers.filter((v) => v.scorer === s).reduce((a, v) => a + v.n, 0) / 2; // 2 targets per bin
  assertEquals(count("observable ceiling"), r.prediction.overall.n);
  assertEquals(count("truth"), r.prediction.overall.n);
  assert(html.includes("AUC ceiling"));
  assert(!html.includes("Spearman with error"), "the truth has no spread: no spread table");
  const withSpread = {
    ...r,
    prediction: {
      ...r.prediction,
      overall: {
        ...r.prediction.overall,
        spread: {
          mean: 0.0123,
          error_spearman: 0.5,
          p_error_spearman: 0.6,
          mae_top_decile: 0.2,
          mae_rest: 0.1,
        },
      },
    },
  };
  const page2 = await truthReportHtml(withSpread, "truth");
  assert(page2.includes("Spearman with error") && page2.includes("0.0123"));
  const layers = returns!.layer as { data: { values: Record<string, unknown>[] } }[];
  const [line, points] = layers;
  const [p0, p1] = line!.data.values as { x: number; y: number }[];
  assert(p0!.x === p0!.y && p1!.x === p1!.y && p1!.x > p0!.x, "no y = x line");
  assertEquals(points!.data.values.map((v) => v.name), r.policies.rows.map((row) => row.name));
});
