/**
 * The judge: how faithful is a simulator to a known-truth world? It scores the simulator's
 * label probabilities on the world's held-out cases against the sampled labels and the TRUE
 * probabilities (`prediction.ts`), and plays the world's reference policies in the simulator to
 * compare their simulated and true returns and rankings (`ranking.ts`). {@link judgeTruth} also
 * scores baselines fitted on the world's log.csv as the model's training read it
 * (`log_baselines.ts`) on the same cases, so that the report says whether the simulator beats
 * simple supervised models, not only how far it is from the truth. The core,
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
import { join } from "node:path";
import { backendInfo } from "../tf.ts";
import { UserError } from "../errors.ts";
import { RECSIMU_VERSION } from "../version.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { TRUTH_LABELS } from "../data/truth/world.ts";
import { type CaseBaselines, predictionFidelity, type PredictionReport } from "./prediction.ts";
import {
  learnedPolicyFidelity,
  type LearnedPolicyReport,
  policyFidelity,
  type RankingReport,
} from "./ranking.ts";
import type { TruthPolicy } from "../data/truth/policies.ts";
import { type FidelityResponder, simulatorResponder } from "./responders.ts";
import { type JudgedCase, loadTruthDir, type TruthData } from "./truth_dir.ts";
import {
  type BaselineFit,
  type BaselineModel,
  type BaselineScores,
  loadBaselineFit,
  type LogBaseline,
  predictBaselines,
  questionsView,
} from "./log_baselines.ts";

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
  /**
   * μ: simulated step rewards lowered by μ × max(0, −the answer's support) (the support guard).
   * @default 0
   */
  supportPenalty?: number;
  /**
   * A policy learned in the responder (e.g. `recsimu agent`'s, trained with the same penalties),
   * played in it and in the truth after the reference policies (the report's `agent`), with a
   * record of its training. @default none
   */
  learnedPolicy?: { policy: TruthPolicy; training: Record<string, unknown> };
  /** Baselines scored beside the responder on the cases it answers. @default none */
  caseBaselines?: CaseBaselines;
  /** Particles of the observable ceiling (`prediction.*.posterior`); 0 leaves it out. @default 2000 */
  posteriorParticles?: number;
}

/** Options of {@link judgeTruth}: those of {@link judgeResponder}, and its baselines. */
export interface TruthJudgeOptions extends Omit<JudgeOptions, "caseBaselines"> {
  /**
   * Baselines fitted on the world's log.csv as the model's training read it (its config and
   * vocabulary: `sim.meta`) and scored on the cases the simulator answers. @default none
   */
  baselines?: readonly LogBaseline[];
  /** The model's item embeddings [V, E], which `lr` and `gru` need. @default none */
  embeddings?: Float32Array;
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
    support_penalty: number;
    /** The baselines scored beside the simulator (`prediction.*.<name>`). */
    baselines: LogBaseline[];
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
  /** The learned policy judged in the simulator and the truth (with `learnedPolicy`). */
  agent?: LearnedPolicyReport & { training: Record<string, unknown> };
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
  posterior:
    "the observable ceiling: P(label | observable history, item) averaged over the posterior of the user's latent given the history (importance sampling over users drawn from the world's prior); the truth knows each user's latent, no model of the log can beat this on average",
  baselines:
    "fitted on log.csv's training tuples as the model's training read them (its config, vocabulary, embeddings, sizes and seed), scored on the cases the simulator answered; lr gives P(positive) only",
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
  const prediction = await predictionFidelity(responder, truth, {
    bins,
    quiet,
    baselines: options.caseBaselines,
    posteriorParticles: options.posteriorParticles,
  });
  const policies = await policyFidelity(responder, truth, { ...options, quiet });
  const learned = options.learnedPolicy;
  const agent = learned && {
    ...await learnedPolicyFidelity(responder, truth, learned.policy, policies, {
      ...options,
      quiet,
    }),
    training: learned.training,
  };
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
      support_penalty: options.supportPenalty ?? 0,
      baselines: [...options.caseBaselines?.names ?? []],
    },
    backend: info?.name ?? null,
    versions: { ...Deno.version, tfjs: info?.tfjs ?? null },
    seconds: (performance.now() - t0) / 1000,
    prediction,
    policies,
    ...(agent ? { agent } : {}),
    definitions: { ...FIDELITY_DEFINITIONS },
  };
}

/** A simulator with the record of how it was trained (a `Simulator`), as baselines need it. */
export type TrainedSimulator = SimulatorLike & {
  readonly meta?: BaselineModel["meta"] & { readonly data?: { readonly fingerprint: string } };
};

/**
 * Judges a learned simulator against the truth world in `truthDir` (written by `recsimu synth
 * --truth`, or already read by {@link loadTruthDir}), with the baselines `options.baselines`
 * beside it; the report adds the simulator's description (its training config, versions and
 * backend).
 * @throws {UserError} when baselines are asked and the world's log.csv is not the model's
 * training log
 *
 * @example
 * ```ts ignore
 * const sim = await Simulator.load("runs/model");
 * const r = await judgeTruth(sim, "runs/base0", { rollouts: 1, baselines: ["item_rate"] });
 * r.prediction.overall.simulator.auc; // vs r.prediction.overall.truth.auc, the ceiling
 * r.prediction.overall.item_rate?.auc; // and the item rates fitted on the same tuples
 * ```
 */
export async function judgeTruth(
  sim: TrainedSimulator,
  truthDir: string | TruthData,
  options: TruthJudgeOptions = {},
): Promise<FidelityReport & { simulator: Record<string, unknown> }> {
  const truth = typeof truthDir === "string" ? await loadTruthDir(truthDir) : truthDir;
  const { baselines = [], ...rest } = options;
  const caseBaselines = baselines.length === 0
    ? undefined
    : truthBaselines(baselines, await truthBaselineFit(sim, truth, baselines, options));
  const report = await judgeResponder(simulatorResponder(sim), truth, { ...rest, caseBaselines });
  return { ...report, simulator: sim.describe() };
}

/**
 * The baselines' training tuples: the world's log.csv read as the model's training read it.
 * Refuses a log that is not the model's (its fingerprint), and `lr` when the model's positive
 * labels are not the judge's (click, purchase): its P(positive) would be of another event.
 */
async function truthBaselineFit(
  sim: TrainedSimulator,
  truth: TruthData,
  baselines: readonly LogBaseline[],
  o: TruthJudgeOptions,
): Promise<BaselineFit> {
  const meta = sim.meta;
  if (!meta) throw new TypeError("judgeTruth: baselines need the model's training config (meta)");
  const log = join(truth.dir, "log.csv");
  const model = { itemCount: sim.itemCount, labels: sim.labels, meta };
  const fit = await loadBaselineFit(model, log, {
    baselines,
    embeddings: o.embeddings,
    quiet: o.quiet ?? true,
  });
  const fp = meta.data?.fingerprint;
  if (fp !== undefined && fp !== fit.train.fingerprint) {
    throw new UserError(
      `"${log}" is not the log the model was trained on (sha256 ${
        fit.train.fingerprint.slice(0, 12)
      }…, the model's ${
        fp.slice(0, 12)
      }…): the baselines are fitted on the model's training tuples; use --baselines none`,
    );
  }
  const positives = fit.train.labels.filter((_, k) => fit.train.positive[k]);
  if (baselines.includes("lr") && positives.join() !== TRUTH_LABELS.slice(1).join()) {
    throw new UserError(
      `--baselines lr: the model's positive labels (${positives}) are not the world's (${
        TRUTH_LABELS.slice(1)
      }), so its P(positive) is of another event; leave lr out`,
    );
  }
  return fit;
}

/** The baselines of `fit` answering the truth's cases, in the truth's label order. */
function truthBaselines(names: readonly LogBaseline[], fit: BaselineFit): CaseBaselines {
  const K = fit.train.labels.length;
  const column = TRUTH_LABELS.map((l) => fit.train.labels.indexOf(l));
  const toTruth = (s: BaselineScores): BaselineScores => {
    if ("pPositive" in s) return s;
    const n = s.probs.length / K;
    const probs = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let j = 0; j < 3; j++) z += column[j]! >= 0 ? s.probs[i * K + column[j]!]! : 0;
      for (let j = 0; j < 3; j++) {
        probs[3 * i + j] = column[j]! >= 0 && z > 0 ? s.probs[i * K + column[j]!]! / z : 0;
      }
    }
    return { probs };
  };
  return {
    names,
    async answer(cases: readonly JudgedCase[]) {
      const { view, rows } = questionsView(
        fit.train,
        cases.map((c) => ({
          state: c.state.map((s) => ({ item: `i${s.item}`, feedback: TRUTH_LABELS[s.label] })),
          action: `i${c.action}`,
        })),
      );
      const raw = await predictBaselines(names, view, rows, fit);
      return new Map([...raw].map(([name, s]) => [name, toTruth(s)]));
    },
  };
}
