import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import { deriveSeed } from "../../lib/random.ts";
import { type TruthWriteOptions, writeTruthWorld } from "../../lib/data/truth/write.ts";
import { judgeResponder } from "../../lib/fidelity/judge.ts";
import { type FidelityResponder, truthResponder } from "../../lib/fidelity/responders.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";
import { runLockstep } from "../../lib/fidelity/lockstep.ts";
import {
  policyValues,
  referencePolicies,
  runPolicy,
  trueEnv,
} from "../../lib/data/truth/policies.ts";

/** A world small enough for a test: 120 items, 300 cases, 6 start states × 2 rollouts × 5 steps. */
const TINY: TruthWriteOptions = {
  preset: "base",
  seed: 0,
  params: { items: 120, categories: 6 },
  sessions: 120,
  cases: 300,
  startStates: 6,
  rollouts: 2,
  horizon: 5,
};

/** The truth, except that it does not know items divisible by 7. */
function partialTruth(base: FidelityResponder): FidelityResponder {
  return { ...base, name: "partial", knowsItem: (i) => i % 7 !== 0 && base.knowsItem(i) };
}

Deno.test("judging the truth itself gives KL 0, ECE against the truth 0, Spearman 1 and no error", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const r = await judgeResponder(truthResponder(truth.world), truth);
  assertEquals(r.prediction.coverage.answered, 300);
  assertEquals(r.prediction.coverage.refused, 0);
  for (const split of ["overall", "logging", "random"] as const) {
    const s = r.prediction[split];
    assertEquals(s.simulator.kl_to_truth, 0, split);
    assertEquals(s.simulator.ece_vs_truth, 0, split);
    assertEquals(s.simulator.mae_vs_truth, 0, split);
    assertEquals(s.simulator.auc, s.truth.auc, split);
    assertEquals(s.simulator.log_loss, s.truth.log_loss, split);
  }
  assertEquals(r.prediction.logging.n + r.prediction.random.n, 300);
  const p = r.policies;
  assert(p.recorded_episodes);
  assertEquals(p.spearman, 1);
  assertEquals(p.kendall, 1);
  // The lockstep episodes are exactly those policies.json was estimated from.
  for (const row of p.rows) {
    assertEquals(row.simulated, row.true_recorded, row.name);
    assertEquals(row.relative_error, 0, row.name);
    assertEquals(row.steps, 6 * 2 * 5, row.name);
  }
  assertEquals(p.simulator_top.name, p.true_best.name);
  assertEquals(p.regret, 0);
  assertEquals(p.unanswered_steps, 0);
  assertEquals(r.responder, "truth");
});

Deno.test("with fewer start states, rollouts or another seed the truth is replayed on the same episodes", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const r = await judgeResponder(truthResponder(truth.world), truth, {
    startStates: 3,
    rollouts: 3,
    seed: 11,
  });
  const p = r.policies;
  assert(!p.recorded_episodes);
  assertEquals([p.start_states, p.rollouts, p.seed], [3, 3, 11]);
  assertEquals(r.config.start_states, 3);
  for (const row of p.rows) {
    assertEquals(row.simulated, row.true, row.name);
    assertEquals(row.steps, 3 * 3 * 5, row.name);
  }
  assertEquals(p.spearman, 1);
});

Deno.test("runLockstep() plays exactly the episodes runPolicy() and policyValues() play", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, { ...TINY, leaveAfterSkips: 2 });
  const truth = await loadTruthDir(d.path);
  const { world, starts } = truth;
  const policies = referencePolicies(world);
  const envs = starts.map((s) => trueEnv(world, s));
  const options = { horizon: 6, seed: 5, rollouts: 1, leaveAfterSkips: 2 };
  const values = await policyValues(policies, envs, options);
  const seedOf = (s: number) => deriveSeed(options.seed, `${s}/0`); // policyValues' (s, r = 0)
  const specs = policies.flatMap((policy) =>
    starts.map((s, k) => ({ policy, env: trueEnv(world, s), seed: seedOf(k), k }))
  );
  const answer = truthResponder(world);
  const episodes = await runLockstep(specs, (steps) =>
    answer.predict(steps.map((st) => ({
      user: { seed: starts[specs[st.episode]!.k]!.seed, stream: `e${st.episode}` },
      history: st.history,
      item: st.item,
    }))), options);
  // The first policy's first episode, played alone, is the same episode.
  const alone = await runPolicy(policies[0]!, envs[0]!, { ...options, seed: seedOf(0) });
  assertEquals(episodes[0], alone);
  policies.forEach((p, i) => {
    const own = episodes.slice(i * starts.length, (i + 1) * starts.length);
    const mean = own.reduce((a, e) => a + e.return, 0) / own.length;
    assertAlmostEquals(mean, values[i]!.mean, 1e-12, p.name);
  });
  assert(episodes.some((e) => e.left), "the leave rule never ended an episode");
});

Deno.test("items a responder does not know: cases refused by reason, steps answered by the log's shares", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const r = await judgeResponder(partialTruth(truthResponder(truth.world)), truth, {
    startStates: 3,
    rollouts: 1,
  });
  const c = r.prediction.coverage;
  const unknown = (i: number) => i % 7 === 0;
  const action = truth.cases.filter((k) => unknown(k.action)).length;
  const history =
    truth.cases.filter((k) => !unknown(k.action) && k.state.some((s) => unknown(s.item)))
      .length;
  assertEquals(c.refused_by_reason, {
    unknown_action: action,
    unknown_history_item: history,
    unknown_history_label: 0,
  });
  assertEquals(c.refused, action + history);
  assertEquals(c.answered, 300 - action - history);
  assertEquals(c.by_source.logging.answered + c.by_source.random.answered, c.answered);
  assertEquals(r.prediction.overall.n, c.answered);
  assertAlmostEquals(c.refused_share, (action + history) / 300, 1e-15);
  const p = r.policies;
  assert(p.unanswered_steps > 0, "no policy showed an unknown item");
  // An unknown item shown stays in the history: later steps send the history without it.
  assert(p.trimmed_steps > 0, "no history was trimmed");
  assertEquals(p.unanswered_steps, p.rows.reduce((a, row) => a + row.unanswered_steps, 0));
  for (const row of p.rows) assert(row.unanswered_steps <= row.steps, row.name);
  // The answered cases are still the truth's, so they score as the truth does.
  assertEquals(r.prediction.overall.simulator.kl_to_truth, 0);
});

/** Writes a tiny world and trains a tiny model on its log with the real CLI. */
async function worldAndModel(dir: string, world: TruthWriteOptions): Promise<void> {
  await writeTruthWorld(join(dir, "w"), world);
  const t = await runRecsimu([
    "train",
    "--data",
    join(dir, "w", "log.csv"),
    "--out",
    join(dir, "m"),
    ...TINY_FLAGS,
    "--quiet",
  ]);
  assertEquals(t.code, 0, t.stderr);
}

/** Paths that every fidelity report has. */
const REPORT_FIELDS = [
  "kind",
  "model",
  "format",
  "recsimu",
  "truth.preset",
  "truth.seed",
  "config.seed",
  "config.rollouts",
  "config.start_states",
  "config.bins",
  "config.reward.purchase",
  "backend",
  "versions.deno",
  "versions.tfjs",
  "simulator.config.seed",
  "simulator.versions",
  "prediction.coverage.refused_by_reason.unknown_action",
  "prediction.coverage.truth_auc_all_cases",
  ...["overall", "logging", "random"].flatMap((s) => [
    `prediction.${s}.n`,
    ...[
      "auc",
      "log_loss",
      "log_loss_positive",
      "brier",
      "ece",
      "ece_vs_truth",
      "kl_to_truth",
    ].map((m) => `prediction.${s}.simulator.${m}`),
    `prediction.${s}.truth.auc`,
    `prediction.${s}.truth.log_loss`,
    `prediction.${s}.popularity.auc`,
  ]),
  "policies.spearman",
  "policies.kendall",
  "policies.simulator_top.name",
  "policies.simulator_top.true",
  "policies.true_best.name",
  "policies.unanswered_steps",
  "definitions.unanswered_steps",
];

/** The value at a dotted path, or undefined. */
function at(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], obj);
}

Deno.test({
  name: "recsimu fidelity judges a trained model: every field, coverage counted, --out owned",
  permissions: { read: true, write: true, run: true, env: true },
  async fn() {
    await using d = await tempDir();
    // 300 items and 60 short sessions: many items never reach the log, so cases are refused.
    await worldAndModel(d.path, {
      ...TINY,
      params: { items: 300, categories: 6 },
      sessions: 60,
      maxLength: 20,
    });
    const out = join(d.path, "report.json");
    const args = ["fidelity", "--model", join(d.path, "m"), "--truth", join(d.path, "w")];
    const cut = ["--start-states", "3", "--rollouts", "1", "--backend", "cpu"];
    const html = join(d.path, "report.html");
    const r = await runRecsimu([...args, ...cut, "--out", out, "--report", html]);
    assertEquals(r.code, 0, r.stderr);
    const page = await Deno.readTextFile(html);
    assert(page.includes('data-chart="returns"') && page.includes('data-chart="reliability"'));
    const report = JSON.parse(r.stdout);
    for (const f of REPORT_FIELDS) assert(at(report, f) !== undefined, `missing ${f}`);
    assertEquals(report.kind, "recsimu-fidelity-report");
    assertEquals(report.backend, "cpu");
    assertEquals(report.policies.rows.length, 10);
    const c = report.prediction.coverage;
    assertEquals(c.answered + c.refused, 300);
    const reasons = Object.values(c.refused_by_reason) as number[];
    assertEquals(reasons.reduce((a, b) => a + b, 0), c.refused);
    // The default model answers items it has no vector for (its rare item); the paper's refuses.
    const meta = JSON.parse(await Deno.readTextFile(join(d.path, "m", "config.json")));
    if ((meta.shape.arch ?? "paper") === "attn") assertEquals(c.refused, 0, JSON.stringify(c));
    else assert(c.refused_by_reason.unknown_action > 0, JSON.stringify(c));
    assertEquals(report.prediction.overall.n, c.answered);
    // The observable ceiling sits beside the simulator by default (2000 particles).
    assertEquals(report.prediction.posterior.particles, 2000);
    assert(report.prediction.overall.posterior.auc < report.prediction.overall.truth.auc);
    assert(/\n\s+posterior /.test(r.stderr), r.stderr);
    assert(r.stderr.includes("policy           simulated"), r.stderr);
    assert(r.stderr.includes("cases: "), r.stderr);
    assertEquals(JSON.parse(await Deno.readTextFile(out)), report);
    // The report file is recsimu's own: a second run needs --overwrite.
    const again = await runRecsimu([...args, ...cut, "--out", out, "--quiet"]);
    assertEquals(again.code, 2);
    assert(again.stderr.includes("already holds a recsimu fidelity report"), again.stderr);
    const over = await runRecsimu([...args, ...cut, "--out", out, "--overwrite", "--quiet"]);
    assertEquals(over.code, 0, over.stderr);
    assertEquals(over.stderr, "");
  },
});

Deno.test({
  name: "recsimu fidelity: bad flags and folders are one line, exit 2",
  permissions: { read: true, write: true, run: true, env: true },
  async fn() {
    await using d = await tempDir();
    await writeTruthWorld(join(d.path, "w"), TINY);
    await Deno.writeTextFile(join(d.path, "not-a-report.json"), "{}\n");
    const w = join(d.path, "w");
    const cases: [string[], string][] = [
      [["fidelity", "--truth", w], "--model is required"],
      [["fidelity", "--model", d.path], "--truth WORLD_DIR or --log LOG.csv is required"],
      [["fidelity", "--model", d.path, "--truth", w, "--log", w], "exclude each other"],
      [["fidelity", "--model", d.path, "--truth", w, "--reward", "skip=0"], "only with --log"],
      [["fidelity", "--model", d.path, "--truth", w, "--baselines", "knn"], "unknown baseline"],
      [["fidelity", "--model", d.path, "--truth", d.path], "world.json"],
      [["fidelity", "--model", d.path, "--truth", w, "--start-states", "7"], "--start-states"],
      [["fidelity", "--model", d.path, "--truth", w, "--rollouts", "0"], "--rollouts"],
      [["fidelity", "--model", d.path, "--truth", w, "--posterior-particles", "-1"], "--posterior"],
      [["fidelity", "--model", d.path, "--truth", w, "--bins", "x"], "--bins"],
      [
        ["fidelity", "--model", d.path, "--truth", w, "--out", join(d.path, "not-a-report.json")],
        "not a recsimu fidelity report",
      ],
      // The report never replaces an input of the world, nor a folder.
      [
        ["fidelity", "--model", d.path, "--truth", w, "--out", join(w, "truth", "world.json")],
        "not a recsimu fidelity report",
      ],
      [["fidelity", "--model", d.path, "--truth", w, "--out", w], "is a folder"],
    ];
    for (const [argv, want] of cases) {
      const r = await runRecsimu(argv);
      assertEquals(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(r.stderr.includes(want), `${argv.join(" ")}: ${r.stderr}`);
    }
  },
});
