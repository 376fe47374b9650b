/**
 * The judge: how faithful is a simulator to a known-truth world? It scores the simulator's
 * label probabilities on the world's held-out cases against the sampled labels and the TRUE
 * probabilities (`prediction.ts`), and plays the world's reference policies in the simulator to
 * compare their simulated and true returns and rankings (`ranking.ts`). The core,
 * {@link judgeResponder}, judges any {@link FidelityResponder}; judging the truth itself gives
 * KL 0, ECE against the truth 0 and rank correlation 1.
 *
 * Rules for what a simulator does not know (another engineer will make every item answerable):
 * a case whose action, history item or history label it does not know is refused and counted by
 * reason; in a policy episode, a step whose item it does not know is answered by the log's mean
 * label distribution and counted as `unanswered_steps`, and history steps it cannot read are
 * left out of the history it is sent (`trimmed_steps`).
 * @module
 */
import { backendInfo } from "../tf.ts";
import { RECSIMU_VERSION } from "../version.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { TRUTH_LABELS } from "../data/truth/world.ts";
import { predictionFidelity, type PredictionReport } from "./prediction.ts";
import { policyFidelity, type RankingReport } from "./ranking.ts";
import { type FidelityResponder, simulatorResponder } from "./responders.ts";
import { loadTruthDir, type TruthData } from "./truth_dir.ts";

/** Format of the judge's report. */
export const FIDELITY_REPORT_FORMAT = 1;

/** Options of {@link judgeResponder} and {@link judgeTruth}. */
export interface JudgeOptions {
  /** Rollouts per start state. @default the recorded rollouts (policies.json) */
  rollouts?: number;
  /** Start states used: the first S. @default the recorded count */
  startStates?: number;
  /** Root seed of the policy episodes. @default the recorded Monte Carlo seed */
  seed?: number;
  /** Equal-width bins of the calibration errors. @default 10 */
  bins?: number;
  /** No progress on stderr. @default true */
  quiet?: boolean;
  /** λ: simulated step rewards lowered by λ × the answer's spread (the exploit guard). @default 0 */
  uncertaintyPenalty?: number;
}

/** The judge's report: JSON-able (NaN becomes null in JSON). */
export interface FidelityReport {
  /** {@link FIDELITY_REPORT_FORMAT}. */
  format: number;
  /** recsimu's version. */
  recsimu: string;
  /** What was judged ("simulator", "truth", …). */
  responder: string;
  /** The world judged against. */
  truth: {
    dir: string;
    preset: unknown;
    seed: unknown;
    version: unknown;
    items: number;
    cases: number;
    start_states: number;
  };
  /** The judge's settings. */
  config: {
    bins: number;
    rollouts: number;
    start_states: number;
    seed: number;
    horizon: number;
    reward: Record<string, number>;
    leave_after_skips: number;
    uncertainty_penalty: number;
  };
  /** The backend that scored (null when no tfjs backend was initialised). */
  backend: string | null;
  /** Runtime versions. */
  versions: { deno: string; v8: string; typescript: string; tfjs: string | null };
  /** Wall time of the judging, in seconds. */
  seconds: number;
  /** Prediction fidelity on the held-out cases. */
  prediction: PredictionReport;
  /** Policy-ranking fidelity. */
  policies: RankingReport;
  /** The definitions and rules behind the numbers. */
  definitions: Record<string, string>;
}

/** The definitions written into every report. */
export const FIDELITY_DEFINITIONS: Readonly<Record<string, string>> = Object.freeze({
  positive: "click or purchase",
  ece: "sum over equal-width bins of P(positive): (n_b/n)*|mean p_b - positive rate_b|",
  ece_vs_truth: "sum over equal-width bins of p_sim: (n_b/n)*|mean p_sim_b - mean p_true_b|",
  kl_to_truth: "mean over cases of KL(p_true || p_sim) over the labels, nats; p_sim >= 1e-7",
  popularity: "the action's positive rows in log.csv (a ranking: AUC only)",
  refused_cases:
    "a case whose action, history item or history label the simulator does not know is not scored",
  unanswered_steps:
    "a policy step whose item the simulator does not know is answered by log.csv's label shares",
  trimmed_steps: "history steps the simulator cannot read are left out of the history it is sent",
  true: "the truth on the same start states, rollouts and seeds (policies.json when they match)",
  regret: "true return of the truly best policy minus that of the simulator's top (recorded)",
});

/**
 * Judges `responder` against the truth world `truth` (from {@link loadTruthDir}).
 *
 * @example
 * ```ts ignore
 * const t = await loadTruthDir("runs/base0");
 * const r = await judgeResponder(truthResponder(t.world), t, { startStates: 20 });
 * r.prediction.overall.simulator.kl_to_truth; // 0
 * ```
 */
export async function judgeResponder(
  responder: FidelityResponder,
  truth: TruthData,
  options: JudgeOptions = {},
): Promise<FidelityReport> {
  const t0 = performance.now();
  const bins = options.bins ?? 10;
  const quiet = options.quiet ?? true;
  const prediction = await predictionFidelity(responder, truth, { bins, quiet });
  const policies = await policyFidelity(responder, truth, { ...options, quiet });
  const d = truth.description;
  const rec = truth.policies;
  const info = backendInfo();
  return {
    format: FIDELITY_REPORT_FORMAT,
    recsimu: RECSIMU_VERSION,
    responder: responder.name,
    truth: {
      dir: truth.dir,
      preset: d.preset,
      seed: d.seed,
      version: d.version,
      items: truth.world.params.items,
      cases: truth.cases.length,
      start_states: truth.starts.length,
    },
    config: {
      bins,
      rollouts: policies.rollouts,
      start_states: policies.start_states,
      seed: policies.seed,
      horizon: rec.horizon,
      reward: Object.fromEntries(TRUTH_LABELS.map((l, k) => [l, rec.rewards[k]!])),
      leave_after_skips: rec.leaveAfterSkips,
      uncertainty_penalty: options.uncertaintyPenalty ?? 0,
    },
    backend: info?.name ?? null,
    versions: { ...Deno.version, tfjs: info?.tfjs ?? null },
    seconds: (performance.now() - t0) / 1000,
    prediction,
    policies,
    definitions: { ...FIDELITY_DEFINITIONS },
  };
}

/**
 * Judges a learned simulator against the truth world in `truthDir` (written by `recsimu synth
 * --truth`, or already read by {@link loadTruthDir}); the report adds the simulator's
 * description (its training config, versions and backend).
 *
 * @example
 * ```ts ignore
 * const sim = await Simulator.load("runs/model");
 * const r = await judgeTruth(sim, "runs/base0", { rollouts: 1 });
 * r.prediction.overall.simulator.auc; // vs r.prediction.overall.truth.auc, the ceiling
 * ```
 */
export async function judgeTruth(
  sim: SimulatorLike,
  truthDir: string | TruthData,
  options: JudgeOptions = {},
): Promise<FidelityReport & { simulator: Record<string, unknown> }> {
  const truth = typeof truthDir === "string" ? await loadTruthDir(truthDir) : truthDir;
  const report = await judgeResponder(simulatorResponder(sim), truth, options);
  return { ...report, simulator: sim.describe() };
}
