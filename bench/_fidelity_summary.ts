/**
 * The pure half of `deno task fidelity` (bench/fidelity.ts): the main metrics of one
 * `recsimu fidelity` report (the simulator's, and the baselines' beside it), their mean over
 * worlds, and the targets of issue 14 with pass/fail. No I/O here, so the tests check the logic on
 * hand-made numbers.
 * @module
 */
import type { LogBaseline } from "../lib/fidelity/log_baselines.ts";

/** The judge's baselines (LOG_BASELINES), whose figures every world's metrics carry. */
export const SUMMARY_BASELINES = [
  "item_rate",
  "lr",
  "gru",
] as const satisfies readonly LogBaseline[];

/** A baseline's figures in a report: `log_loss` (multi-class) is absent for `lr`. */
export interface BaselineLike {
  auc: number;
  log_loss?: number;
  log_loss_positive: number;
  ece_vs_truth: number;
}

/** The parts of a `recsimu fidelity` report (lib/fidelity/judge.ts) the bench reads. */
export interface FidelityReportLike {
  truth: { preset: unknown; seed: unknown };
  seconds: number;
  prediction: {
    coverage: { refused_share: number };
    overall: {
      simulator: {
        auc: number;
        log_loss: number;
        ece: number;
        ece_vs_truth: number;
        kl_to_truth: number;
        log_loss_positive?: number;
      };
      truth: { auc: number; log_loss: number; ece: number; log_loss_positive?: number };
      /** The observable ceiling (absent in reports made before it, or with 0 particles). */
      posterior?: { auc: number; log_loss: number; ece_vs_truth: number };
    } & Partial<Record<LogBaseline, BaselineLike>>;
  };
  policies: {
    rows: {
      name: string;
      relative_error: number;
      relative_error_expected: number;
      true?: { mean: number };
    }[];
    spearman: number;
    kendall: number;
    spearman_expected: number;
    simulator_top: { name: string };
    true_best: { name: string };
    regret: number;
  };
  /** The agent trained in the simulator (with `--agent-episodes`). */
  agent?: {
    simulated: { mean: number };
    true: { mean: number };
    relative_error: number;
    rank: { simulated: number; true: number; of: number };
    behaviour: { policy: { same_category: number }; logging: { same_category: number } };
  };
}

/** What the bench measured around the judge: the training's cost. */
export interface RunCost {
  /** Wall seconds of `recsimu train` (as recorded when the model was trained). */
  train_seconds: number;
  /** Peak resident memory of the training process in MiB (null where /proc is missing). */
  train_peak_rss_mib: number | null;
}

/** A baseline's figures in {@link WorldMetrics}, e.g. `gru_auc`. */
export type BaselineMetricName = `${LogBaseline}_${
  | "auc"
  | "log_loss"
  | "log_loss_positive"
  | "ece_vs_truth"}`;

/**
 * The main metrics of one world (NaN becomes null in JSON); each baseline's AUC, log-loss
 * (multi-class; NaN for `lr`), binary log-loss of P(positive) and ECE against the truth on the
 * same cases, NaN when the report has no such baseline.
 */
export interface WorldMetrics extends RunCost, Record<BaselineMetricName, number> {
  /** The simulator's AUC of P(positive) on the world's answered cases, and the truth's. */
  auc: number;
  truth_auc: number;
  /** auc / truth_auc. */
  auc_ratio: number;
  /** Multi-class log-loss, the simulator's and the truth's, and their difference. */
  log_loss: number;
  truth_log_loss: number;
  log_loss_gap: number;
  /** Binary log-loss of P(positive), the simulator's and the truth's. */
  log_loss_positive: number;
  truth_log_loss_positive: number;
  /** ECE against the labels (simulator, truth) and against the TRUE probabilities. */
  ece: number;
  truth_ece: number;
  ece_vs_truth: number;
  kl_to_truth: number;
  /**
   * The observable ceiling's AUC, log-loss and ECE against the truth (the best any model of the
   * log can do; NaN when the report has none), the simulator's AUC over it, and its log-loss
   * above it.
   */
  posterior_auc: number;
  posterior_log_loss: number;
  posterior_ece_vs_truth: number;
  auc_vs_posterior: number;
  log_loss_gap_posterior: number;
  /** Share of the cases the simulator refused. */
  refused_share: number;
  /** Rank correlation of the simulated and true mean returns (and expected returns). */
  spearman: number;
  kendall: number;
  spearman_expected: number;
  /** Whether the simulator ranks the truly best policy first. */
  best_first: boolean;
  simulator_top: string;
  true_best: string;
  regret: number;
  /** Largest |relative error| of a policy's simulated mean return (NaN when any is NaN). */
  max_abs_relative_error: number;
  /** The policy with that error. */
  worst_policy: string;
  /** The same for the expected returns (less noise). */
  max_abs_relative_error_expected: number;
  /** Wall seconds of the judge itself. */
  judge_seconds: number;
  /**
   * The agent trained in the simulator (`--agent-episodes`; NaN without one): its simulated and
   * TRUE mean returns, their relative error, its true rank among the reference policies and
   * itself, the logging policy's true return beside it, and the share of its steps (and the
   * logging policy's) showing the category of the item before.
   */
  agent_simulated: number;
  agent_true: number;
  agent_relative_error: number;
  agent_rank_true: number;
  logging_true: number;
  agent_same_category: number;
  logging_same_category: number;
}

/** The targets of issue 14, by name. */
export type TargetName =
  | "auc"
  | "log_loss"
  | "ece_vs_truth"
  | "spearman"
  | "best_first"
  | "returns";

/** One target, judged. */
export interface TargetResult {
  /** What it asks, in words. */
  target: string;
  /** The measured value the threshold applies to (NaN: not measurable, which fails). */
  value: number;
  threshold: number;
  pass: boolean;
}

/** Slack for values that sit on a threshold up to rounding. */
const EPS = 1e-9;

/** The thresholds of issue 14 ("Targets"). */
export const TARGETS: Readonly<
  Record<TargetName, { target: string; threshold: number; direction: "min" | "max" }>
> = Object.freeze({
  auc: {
    target: "mean AUC / the truth's mean AUC >= 0.97",
    threshold: 0.97,
    direction: "min",
  },
  log_loss: {
    target: "|mean log-loss - the truth's mean log-loss| <= 0.02",
    threshold: 0.02,
    direction: "max",
  },
  ece_vs_truth: {
    target: "mean ECE against the true probabilities <= 0.02",
    threshold: 0.02,
    direction: "max",
  },
  spearman: {
    target: "mean Spearman of simulated vs true policy returns >= 0.95",
    threshold: 0.95,
    direction: "min",
  },
  best_first: {
    target: "share of worlds where the truly best policy is ranked first = 1",
    threshold: 1,
    direction: "min",
  },
  returns: {
    target: "largest |relative error| of any policy's return, over all worlds, <= 0.15",
    threshold: 0.15,
    direction: "max",
  },
});

/** The main metrics of one report; `cost` is the training's. */
export function worldMetrics(report: FidelityReportLike, cost: RunCost): WorldMetrics {
  const sim = report.prediction.overall.simulator;
  const truth = report.prediction.overall.truth;
  const p = report.policies;
  const worst = maxAbs(p.rows.map((r) => [r.name, num(r.relative_error)]));
  const worstExpected = maxAbs(p.rows.map((r) => [r.name, num(r.relative_error_expected)]));
  const [auc, truthAuc, logLoss, truthLogLoss] = [sim.auc, truth.auc, sim.log_loss, truth.log_loss]
    .map(num);
  return {
    auc: auc!,
    truth_auc: truthAuc!,
    auc_ratio: auc! / truthAuc!,
    log_loss: logLoss!,
    truth_log_loss: truthLogLoss!,
    log_loss_gap: logLoss! - truthLogLoss!,
    log_loss_positive: num(sim.log_loss_positive),
    truth_log_loss_positive: num(truth.log_loss_positive),
    ece: num(sim.ece),
    truth_ece: num(truth.ece),
    ece_vs_truth: num(sim.ece_vs_truth),
    kl_to_truth: num(sim.kl_to_truth),
    ...posteriorMetrics(report.prediction.overall.posterior, auc!, logLoss!),
    refused_share: num(report.prediction.coverage.refused_share),
    spearman: num(p.spearman),
    kendall: num(p.kendall),
    spearman_expected: num(p.spearman_expected),
    best_first: p.simulator_top.name === p.true_best.name,
    simulator_top: p.simulator_top.name,
    true_best: p.true_best.name,
    regret: num(p.regret),
    max_abs_relative_error: worst.value,
    worst_policy: worst.name,
    max_abs_relative_error_expected: worstExpected.value,
    judge_seconds: num(report.seconds),
    ...agentMetrics(report),
    ...baselineMetrics(report.prediction.overall),
    ...cost,
  };
}

/** The agent's figures (NaN without one). */
function agentMetrics(report: FidelityReportLike) {
  const a = report.agent;
  return {
    agent_simulated: num(a?.simulated.mean),
    agent_true: num(a?.true.mean),
    agent_relative_error: num(a?.relative_error),
    agent_rank_true: num(a?.rank.true),
    logging_true: num(report.policies.rows.find((r) => r.name === "logging")?.true?.mean),
    agent_same_category: num(a?.behaviour.policy.same_category),
    logging_same_category: num(a?.behaviour.logging.same_category),
  };
}

/** The observable ceiling's figures and the simulator's distance to them (NaN without one). */
function posteriorMetrics(
  post: { auc: number; log_loss: number; ece_vs_truth: number } | undefined,
  auc: number,
  logLoss: number,
) {
  const [pAuc, pLogLoss] = [num(post?.auc), num(post?.log_loss)];
  return {
    posterior_auc: pAuc,
    posterior_log_loss: pLogLoss,
    posterior_ece_vs_truth: num(post?.ece_vs_truth),
    auc_vs_posterior: auc / pAuc,
    log_loss_gap_posterior: logLoss - pLogLoss,
  };
}

/** Each baseline's figures, flat (`item_rate_auc`, …); NaN for a baseline the report lacks. */
function baselineMetrics(
  overall: Partial<Record<LogBaseline, BaselineLike>>,
): Record<BaselineMetricName, number> {
  const out = {} as Record<BaselineMetricName, number>;
  for (const b of SUMMARY_BASELINES) {
    const s = overall[b];
    out[`${b}_auc`] = num(s?.auc);
    out[`${b}_log_loss`] = num(s?.log_loss);
    out[`${b}_log_loss_positive`] = num(s?.log_loss_positive);
    out[`${b}_ece_vs_truth`] = num(s?.ece_vs_truth);
  }
  return out;
}

/** The largest |x| and its name; NaN (name of the first NaN) when any value is NaN or null. */
function maxAbs(named: [string, number][]): { name: string; value: number } {
  let best = { name: "", value: -Infinity };
  for (const [name, x] of named) {
    if (Number.isNaN(x)) return { name, value: NaN };
    if (Math.abs(x) > best.value) best = { name, value: Math.abs(x) };
  }
  return named.length === 0 ? { name: "", value: NaN } : best;
}

/** A number of the report; null (JSON's NaN) and missing values become NaN. */
function num(x: unknown): number {
  return typeof x === "number" ? x : NaN;
}

/** The mean over worlds of every numeric metric; `best_first` becomes the share of worlds. */
export function meanMetrics(worlds: readonly WorldMetrics[]): Record<string, number> {
  if (worlds.length === 0) throw new RangeError("meanMetrics: expected at least one world");
  const out: Record<string, number> = {};
  for (const key of Object.keys(worlds[0]!) as (keyof WorldMetrics)[]) {
    const first = worlds[0]![key];
    if (typeof first === "string") continue;
    const xs = worlds.map((w) => {
      const v = w[key];
      return typeof v === "boolean" ? (v ? 1 : 0) : num(v);
    });
    out[key] = xs.reduce((a, b) => a + b, 0) / xs.length;
  }
  return out;
}

/** Judges a value against a target: NaN fails. */
function judged(name: TargetName, value: number): TargetResult {
  const t = TARGETS[name];
  const pass = !Number.isNaN(value) &&
    (t.direction === "min" ? value >= t.threshold - EPS : value <= t.threshold + EPS);
  return { target: t.target, value, threshold: t.threshold, pass };
}

/**
 * The targets of issue 14 on a set of worlds, judged on the means (AUC as the ratio of the mean
 * AUCs), except the two that say "every": the best policy must be first in every world and the
 * returns' largest relative error is taken over all worlds.
 */
export function evaluateTargets(
  worlds: readonly WorldMetrics[],
): Record<TargetName, TargetResult> {
  const m = meanMetrics(worlds);
  const worstReturn = worlds.some((w) => Number.isNaN(num(w.max_abs_relative_error)))
    ? NaN
    : Math.max(...worlds.map((w) => w.max_abs_relative_error));
  return {
    auc: judged("auc", m.auc! / m.truth_auc!),
    log_loss: judged("log_loss", Math.abs(m.log_loss! - m.truth_log_loss!)),
    ece_vs_truth: judged("ece_vs_truth", m.ece_vs_truth!),
    spearman: judged("spearman", m.spearman!),
    best_first: judged("best_first", m.best_first!),
    returns: judged("returns", worstReturn),
  };
}

/** One world's run of one training configuration. */
export interface WorldRun {
  /** The world's key, e.g. "base-s0". */
  world: string;
  model_dir: string;
  report_file: string;
  /** Which steps were reused from the work folder. */
  reused: { world: boolean; model: boolean; report: boolean };
  metrics: WorldMetrics;
  targets: Record<TargetName, TargetResult>;
}

/** One training configuration over all worlds. */
export interface ConfigSummary {
  /** The configuration's flags as given ("defaults" when none). */
  name: string;
  train_flags: string[];
  runs: WorldRun[];
  mean: Record<string, number>;
  targets: Record<TargetName, TargetResult>;
  targets_passed: number;
  all_pass: boolean;
}

/** A configuration's summary from its runs. */
export function summariseConfig(
  name: string,
  trainFlags: readonly string[],
  runs: readonly Omit<WorldRun, "targets">[],
): ConfigSummary {
  const withTargets = runs.map((r) => ({ ...r, targets: evaluateTargets([r.metrics]) }));
  const targets = evaluateTargets(runs.map((r) => r.metrics));
  const passed = Object.values(targets).filter((t) => t.pass).length;
  return {
    name,
    train_flags: [...trainFlags],
    runs: withTargets,
    mean: meanMetrics(runs.map((r) => r.metrics)),
    targets,
    targets_passed: passed,
    all_pass: passed === Object.keys(targets).length,
  };
}

/** Side by side: each mean metric and each target's value, one entry per configuration. */
export function compareConfigs(configs: readonly ConfigSummary[]): {
  names: string[];
  mean: Record<string, number[]>;
  targets: Record<string, { value: number[]; pass: boolean[] }>;
} {
  const mean: Record<string, number[]> = {};
  for (const key of Object.keys(configs[0]?.mean ?? {})) {
    mean[key] = configs.map((c) => c.mean[key] ?? NaN);
  }
  const targets: Record<string, { value: number[]; pass: boolean[] }> = {};
  for (const key of Object.keys(TARGETS) as TargetName[]) {
    targets[key] = {
      value: configs.map((c) => c.targets[key].value),
      pass: configs.map((c) => c.targets[key].pass),
    };
  }
  return { names: configs.map((c) => c.name), mean, targets };
}

/**
 * Splits a flag string as a shell would, for the simple cases: whitespace separates words,
 * '…' and "…" quote (no escapes inside single quotes; \" and \\ inside double quotes).
 * @throws {SyntaxError} on an unterminated quote.
 */
export function splitFlags(text: string): string[] {
  const out: string[] = [];
  let word = "", inWord = false, quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (quote === '"' && c === "\\" && /["\\]/.test(text[i + 1] ?? "")) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== null) throw new SyntaxError(`Cannot split flags "${text}": unterminated ${quote}`);
  if (inWord) out.push(word);
  return out;
}

/**
 * The benches' raw flags: `--name value`, `--name=value` and boolean `--name`, values by name, and
 * the words after `--compare` (up to the next flag of the bench). `fail` builds the one-line
 * error of an unknown argument or a missing value.
 */
export function scanBenchArgs(
  args: readonly string[],
  flags: { values: readonly string[]; booleans: readonly string[] },
  usage: string,
  fail: (message: string) => Error,
): { values: Map<string, string>; compare: string[] } {
  const values = new Map<string, string>();
  const compare: string[] = [];
  const known = (a: string) =>
    a.startsWith("--") &&
    (flags.values.includes(a.slice(2).split("=")[0]!) || flags.booleans.includes(a.slice(2)));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h") values.set("help", "true");
    else if (!known(a)) throw fail(`unexpected argument ${JSON.stringify(a)}\n${usage}`);
    else if (flags.booleans.includes(a.slice(2))) {
      values.set(a.slice(2), "true");
      while (a === "--compare" && i + 1 < args.length && !known(args[i + 1]!)) {
        compare.push(args[++i]!);
      }
    } else if (a.includes("=")) {
      values.set(a.slice(2, a.indexOf("=")), a.slice(a.indexOf("=") + 1));
    } else {
      if (i + 1 >= args.length) throw fail(`${a}: expected a value`);
      values.set(a.slice(2), args[++i]!);
    }
  }
  return { values, compare };
}

/** {@link splitFlags} of flag `flag`'s value, its error as `fail`'s. */
export function flagWords(flag: string, text: string, fail: (message: string) => Error): string[] {
  try {
    return splitFlags(text);
  } catch (e) {
    throw fail(`${flag}: ${(e as Error).message}`);
  }
}
