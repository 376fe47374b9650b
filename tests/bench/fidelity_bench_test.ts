/**
 * `deno task fidelity` (bench/fidelity.ts): the summariser's metrics and pass/fail logic on
 * hand-made numbers, the command line, and one end-to-end run on a tiny world and tiny models
 * (two configurations side by side, then a rerun that reuses them).
 * @module
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { runDeno, TINY_FLAGS } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import {
  compareConfigs,
  evaluateTargets,
  type FidelityReportLike,
  meanMetrics,
  splitFlags,
  summariseConfig,
  type TargetName,
  TARGETS,
  type WorldMetrics,
  worldMetrics,
} from "../../bench/_fidelity_summary.ts";
import { FlagError, parseBenchArgs, withWorld } from "../../bench/fidelity.ts";

/** A report of a simulator that meets every target, with numbers to vary. */
function report(over: {
  auc?: number | null;
  truthAuc?: number;
  logLoss?: number;
  truthLogLoss?: number;
  eceVsTruth?: number;
  spearman?: number | null;
  top?: string;
  errors?: (number | null)[];
} = {}): FidelityReportLike {
  const errors = over.errors ?? [0.1, -0.12, 0.05];
  return {
    truth: { preset: "base", seed: 0 },
    seconds: 3.5,
    prediction: {
      coverage: { refused_share: 0 },
      overall: {
        simulator: {
          auc: over.auc === undefined ? 0.88 : over.auc,
          log_loss: over.logLoss ?? 0.39,
          ece: 0.015,
          ece_vs_truth: over.eceVsTruth ?? 0.01,
          kl_to_truth: 0.01,
        },
        truth: { auc: over.truthAuc ?? 0.9, log_loss: over.truthLogLoss ?? 0.38, ece: 0.007 },
      },
    },
    policies: {
      rows: errors.map((e, i) => ({
        name: ["random", "oracle", "logging"][i] ?? `p${i}`,
        relative_error: e,
        relative_error_expected: e === null ? null : e / 2,
      })) as FidelityReportLike["policies"]["rows"],
      spearman: over.spearman === undefined ? 0.97 : over.spearman,
      kendall: 0.9,
      spearman_expected: 0.98,
      simulator_top: { name: over.top ?? "oracle" },
      true_best: { name: "oracle" },
      regret: 0,
    } as FidelityReportLike["policies"],
  } as FidelityReportLike;
}

const COST = { train_seconds: 100, train_peak_rss_mib: 500 };
const metrics = (over: Parameters<typeof report>[0] = {}) => worldMetrics(report(over), COST);
const failing = (worlds: WorldMetrics[]) =>
  Object.entries(evaluateTargets(worlds)).filter(([, t]) => !t.pass).map(([k]) => k).sort();

Deno.test("worldMetrics() derives the ratios, the gaps, best-first and the worst policy", () => {
  const m = metrics({ errors: [0.1, -0.2, 0.05] });
  assertAlmostEquals(m.auc_ratio, 0.88 / 0.9, 1e-12);
  assertAlmostEquals(m.log_loss_gap, 0.01, 1e-12);
  assertEquals([m.best_first, m.simulator_top, m.true_best], [true, "oracle", "oracle"]);
  assertAlmostEquals(m.max_abs_relative_error, 0.2, 1e-12);
  assertEquals(m.worst_policy, "oracle");
  assertAlmostEquals(m.max_abs_relative_error_expected, 0.1, 1e-12);
  assertEquals([m.train_seconds, m.train_peak_rss_mib, m.judge_seconds], [100, 500, 3.5]);
  // JSON writes NaN as null: it comes back as NaN, never as 0.
  const n = metrics({ auc: null, spearman: null, errors: [0.1, null] });
  assert(Number.isNaN(n.auc) && Number.isNaN(n.auc_ratio) && Number.isNaN(n.spearman));
  assert(Number.isNaN(n.max_abs_relative_error));
  assertEquals(n.worst_policy, "oracle");
  assertEquals(metrics({ top: "random" }).best_first, false);
});

Deno.test("worldMetrics() compares the simulator with the observable ceiling; NaN without one", () => {
  const r = report();
  r.prediction.overall.posterior = { auc: 0.8, log_loss: 0.45, ece_vs_truth: 0.03 };
  const m = worldMetrics(r, COST);
  assertAlmostEquals(m.auc_vs_posterior, r.prediction.overall.simulator.auc / 0.8, 1e-12);
  assertAlmostEquals(
    m.log_loss_gap_posterior,
    r.prediction.overall.simulator.log_loss - 0.45,
    1e-12,
  );
  assertEquals([m.posterior_auc, m.posterior_log_loss, m.posterior_ece_vs_truth], [
    0.8,
    0.45,
    0.03,
  ]);
  const none = metrics();
  assert(Number.isNaN(none.posterior_auc) && Number.isNaN(none.auc_vs_posterior));
});

Deno.test("worldMetrics() carries the agent's returns, rank and behaviour; NaN without one", () => {
  const r = report();
  r.policies.rows.find((x) => x.name === "logging")!.true = { mean: 11 };
  r.agent = {
    simulated: { mean: 18 },
    true: { mean: 6 },
    relative_error: 2,
    rank: { simulated: 1, true: 9, of: 11 },
    behaviour: { policy: { same_category: 0.6 }, logging: { same_category: 0.4 } },
  };
  const m = worldMetrics(r, COST);
  assertEquals(
    [m.agent_simulated, m.agent_true, m.agent_relative_error, m.agent_rank_true, m.logging_true],
    [18, 6, 2, 9, 11],
  );
  assertEquals([m.agent_same_category, m.logging_same_category], [0.6, 0.4]);
  const none = metrics();
  assert(Number.isNaN(none.agent_true) && Number.isNaN(none.logging_true));
});

Deno.test("worldMetrics() carries each baseline's AUC, log-loss and ECE vs truth; NaN where absent", () => {
  const r = report();
  r.prediction.overall.item_rate = {
    auc: 0.6,
    log_loss: 0.5,
    log_loss_positive: 0.45,
    ece_vs_truth: 0.05,
  };
  r.prediction.overall.lr = { auc: 0.7, log_loss_positive: 0.42, ece_vs_truth: 0.03 };
  const m = worldMetrics(r, COST);
  assertEquals(
    [
      m.item_rate_auc,
      m.item_rate_log_loss,
      m.item_rate_log_loss_positive,
      m.item_rate_ece_vs_truth,
    ],
    [0.6, 0.5, 0.45, 0.05],
  );
  assertEquals([m.lr_auc, m.lr_log_loss_positive, m.lr_ece_vs_truth], [0.7, 0.42, 0.03]);
  assert(Number.isNaN(m.lr_log_loss), "lr has P(positive) only");
  assert(Number.isNaN(m.gru_auc) && Number.isNaN(m.gru_ece_vs_truth), "no gru in the report");
  // The mean over worlds is the mean of each figure (NaN where a world lacks it).
  const other = worldMetrics({
    ...r,
    prediction: {
      ...r.prediction,
      overall: {
        ...r.prediction.overall,
        item_rate: { auc: 0.8, log_loss: 0.7, log_loss_positive: 0.4, ece_vs_truth: 0.07 },
      },
    },
  }, COST);
  const mean = meanMetrics([m, other]);
  assertAlmostEquals(mean.item_rate_auc!, 0.7, 1e-12);
  assertAlmostEquals(mean.item_rate_ece_vs_truth!, 0.06, 1e-12);
  assertAlmostEquals(mean.auc!, 0.88, 1e-12);
  assert(Number.isNaN(mean.gru_auc!));
});

Deno.test("evaluateTargets() passes on the thresholds and fails just past each one", () => {
  assertEquals(failing([metrics()]), []);
  // On a threshold (up to rounding) passes.
  const edge = metrics({
    auc: 0.873,
    truthAuc: 0.9,
    logLoss: 0.4,
    truthLogLoss: 0.38,
    eceVsTruth: 0.02,
    spearman: 0.95,
    errors: [0.15, -0.15],
  });
  assertEquals(failing([edge]), []);
  const cases: [Parameters<typeof report>[0], TargetName][] = [
    [{ auc: 0.872 }, "auc"],
    [{ logLoss: 0.401 }, "log_loss"],
    [{ logLoss: 0.359 }, "log_loss"], // within 0.02 either side
    [{ eceVsTruth: 0.0201 }, "ece_vs_truth"],
    [{ spearman: 0.949 }, "spearman"],
    [{ top: "logging" }, "best_first"],
    [{ errors: [0.1, -0.151] }, "returns"],
    [{ errors: [0.1, null] }, "returns"], // an unmeasurable error fails
    [{ spearman: null }, "spearman"],
  ];
  for (const [over, name] of cases) {
    assertEquals(failing([metrics(over)]), [name], JSON.stringify(over));
  }
});

Deno.test("evaluateTargets() judges means over worlds, but best-first and returns in every world", () => {
  // AUC: the ratio of the mean AUCs; one poor world is carried by a good one.
  const a = metrics({ auc: 0.9 }), b = metrics({ auc: 0.85 });
  const t = evaluateTargets([a, b]);
  assertAlmostEquals(t.auc.value, 0.875 / 0.9, 1e-12);
  assert(t.auc.pass);
  assertEquals(failing([metrics({ spearman: 0.99 }), metrics({ spearman: 0.92 })]), []);
  assertEquals(failing([metrics({ spearman: 0.96 }), metrics({ spearman: 0.92 })]), ["spearman"]);
  // The best policy must come first everywhere, every return be within 15% everywhere.
  const misses = evaluateTargets([metrics(), metrics(), metrics({ top: "random" })]).best_first;
  assertEquals([misses.pass, misses.value], [false, 2 / 3]);
  const worst = evaluateTargets([metrics(), metrics({ errors: [0.3] })]).returns;
  assertEquals([worst.pass, worst.value], [false, 0.3]);
  assertEquals(meanMetrics([a, b]).best_first, 1);
  assertThrows(() => meanMetrics([]), RangeError, "at least one world");
});

Deno.test("summariseConfig() and compareConfigs() put configurations side by side", () => {
  const run = (w: string, m: WorldMetrics) => ({
    world: w,
    model_dir: `m/${w}`,
    report_file: `r/${w}.json`,
    reused: { world: false, model: false, report: false },
    metrics: m,
  });
  const good = summariseConfig("defaults", [], [
    run("base-s0", metrics()),
    run("hard-s0", metrics()),
  ]);
  const bad = summariseConfig("--arch paper", ["--arch", "paper"], [
    run("base-s0", metrics({ auc: 0.7 })),
    run("hard-s0", metrics({ top: "random" })),
  ]);
  assertEquals([good.all_pass, good.targets_passed], [true, 6]);
  assertEquals([bad.all_pass, bad.targets_passed], [false, 4]);
  assertEquals(bad.runs.map((r) => r.targets.best_first.pass), [true, false]);
  assertEquals(bad.runs.map((r) => r.targets.auc.pass), [false, true]);
  const c = compareConfigs([good, bad]);
  assertEquals(c.names, ["defaults", "--arch paper"]);
  assertAlmostEquals(c.mean.auc![1]!, 0.79, 1e-12);
  assertEquals(c.targets.auc!.pass, [true, false]);
  assertEquals(Object.keys(c.targets).sort(), Object.keys(TARGETS).sort());
});

Deno.test("splitFlags() and parseBenchArgs() read flag strings as a shell would", () => {
  assertEquals(splitFlags(` --arch paper  --note "a b" '' --x 'c"d' `), [
    "--arch",
    "paper",
    "--note",
    "a b",
    "",
    "--x",
    'c"d',
  ]);
  assertThrows(() => splitFlags(`--x "open`), SyntaxError, "unterminated");
  const o = parseBenchArgs([
    "--seeds",
    "3",
    "--presets=hard",
    "--train-flags",
    "--epochs 1",
    "--compare",
    "",
    "--arch paper",
    "--jobs",
    "2",
  ]);
  assert(o !== "help");
  assertEquals([o.presets, o.seeds, o.jobs], [["hard"], [3], 2]);
  assertEquals([o.commonTrainFlags, o.configs], [["--epochs", "1"], [[], ["--arch", "paper"]]]);
  const d = parseBenchArgs([]);
  assert(d !== "help");
  assertEquals([d.presets, d.seeds, d.configs, d.jobs], [["base", "hard"], [0, 1, 2], [[]], 1]);
  for (
    const [args, msg] of [
      [["--presets", "easy"], "--presets"],
      [["--seeds", "x"], "--seeds"],
      [["--jobs", "3"], "--jobs"],
      [["--compare", "--epochs 1"], "--compare"],
      [["--train-flags", `"x`], "--train-flags"],
      [["--bogus"], "unexpected argument"],
    ] as [string[], string][]
  ) {
    assertThrows(() => parseBenchArgs(args), FlagError, msg);
  }
});

Deno.test("withWorld() puts each world's folder for {world} in the training flags", () => {
  const o = parseBenchArgs([
    "--compare",
    "",
    "--item-features {world}/truth/items.csv --item-feature-columns category",
  ]);
  assert(o !== "help");
  assertEquals(withWorld(o.configs[1]!, "/w/base-s2"), [
    "--item-features",
    "/w/base-s2/truth/items.csv",
    "--item-feature-columns",
    "category",
  ]);
  assertEquals(withWorld(["--x", "{world}:{world}"], "d"), ["--x", "d:d"]);
  assertEquals(withWorld(o.configs[0]!, "/w"), []);
});

const BENCH = ["run", "-A", "bench/fidelity.ts"];
const WORLD = ["--presets", "base", "--seeds", "0", "--sessions", "40", "--items", "40"];
const JUDGE = ["--fidelity-flags", "--start-states 4 --rollouts 1 --backend cpu"];
const TINY = ["--train-flags", [...TINY_FLAGS, "--pre-g-epochs", "0"].join(" ")];

Deno.test("the bench trains two configurations on a tiny world, prints one JSON and reuses its work", async () => {
  await using dir = await tempDir();
  const work = ["--work", dir.path, "--categories", "4"];
  const first = await runDeno(
    [
      ...BENCH,
      ...WORLD,
      ...work,
      ...JUDGE,
      ...TINY,
      "--jobs",
      "2",
      "--compare",
      "--epochs 0",
      "--epochs 1",
    ],
    { timeoutMs: 90_000 },
  );
  assertEquals(first.code, 0, first.stderr);
  const out = JSON.parse(first.stdout);
  assertEquals(out.kind, "recsimu-fidelity-bench");
  assertEquals(out.worlds.map((w: { world: string }) => w.world), [
    "base-s0-sessions40items40categories4",
  ]);
  assertEquals(out.configs.map((c: { name: string }) => c.name), ["--epochs 0", "--epochs 1"]);
  assertEquals(Object.keys(out.comparison.targets).sort(), Object.keys(TARGETS).sort());
  for (const c of out.configs) {
    assertEquals(c.runs.length, 1);
    const r = c.runs[0];
    assertEquals(r.reused, { world: false, model: false, report: false });
    // The metrics are those of the report the judge wrote, and the targets follow from them.
    const fromFile = worldMetrics(JSON.parse(await Deno.readTextFile(r.report_file)), {
      train_seconds: r.metrics.train_seconds,
      train_peak_rss_mib: r.metrics.train_peak_rss_mib,
    });
    assertEquals(JSON.parse(JSON.stringify(fromFile)), r.metrics);
    const targets = evaluateTargets([fromFile]);
    for (const k of Object.keys(TARGETS) as TargetName[]) {
      assertEquals(c.targets[k].pass, targets[k].pass, k);
      assertEquals(typeof c.targets[k].pass, "boolean");
    }
    assert(r.metrics.truth_auc > 0.5 && r.metrics.train_seconds > 0, JSON.stringify(r.metrics));
    // The judge's default baselines (item_rate, lr) ride along; gru is not fitted by default.
    assert(Number.isFinite(r.metrics.item_rate_auc) && Number.isFinite(r.metrics.lr_auc));
    assert(Number.isFinite(r.metrics.item_rate_ece_vs_truth), JSON.stringify(r.metrics));
    assertEquals(r.metrics.gru_auc, null);
    assert(r.metrics.train_peak_rss_mib === null || r.metrics.train_peak_rss_mib > 20);
  }
  assert(out.configs[0].runs[0].model_dir !== out.configs[1].runs[0].model_dir);
  // A rerun of one configuration finds its world, model and report.
  const again = await runDeno(
    [
      ...BENCH,
      ...WORLD,
      ...work,
      ...JUDGE,
      "--train-flags",
      [...TINY_FLAGS, "--pre-g-epochs", "0", "--epochs", "1"].join(" "),
    ],
    { timeoutMs: 60_000 },
  );
  assertEquals(again.code, 0, again.stderr);
  const re = JSON.parse(again.stdout).configs[0].runs[0];
  assertEquals(re.reused, { world: true, model: true, report: true });
  assertEquals(re.metrics, out.configs[1].runs[0].metrics);
});
