/**
 * The judge on a real log, where no truth is known: the users a model trained with
 * `--split users` never saw are rebuilt from the log (`held_out.ts`), every one of their tuples
 * is asked, and the answers are scored per label and for P(positive) beside baselines fitted on
 * the same training users (`log_baselines.ts`), with a replay check of each held-out session's
 * logged return against the simulator's expected return for the same actions (`replay.ts`); and,
 * when the model has a learned leave model, its leave prediction and the simulated vs logged
 * session lengths on the held-out sessions (`session_fidelity.ts`).
 * @module
 */
import { backendInfo } from "../tf.ts";
import { RECSIMU_VERSION } from "../version.ts";
import { UserError } from "../errors.ts";
import type { TrainConfig } from "../config.ts";
import { datasetOptions, loadDataset, USERS_VALIDATION_SHARE } from "../data/dataset.ts";
import { baselineEpochs } from "../train/fit_classifiers.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { defaultRewards } from "../sim/reward.ts";
import {
  answerHeldOut,
  type HeldOutTuples,
  loadHeldOut,
  type LogRefusal,
  requireUsersSplit,
} from "./held_out.ts";
import { type ScoredTuples, type ScorerReport, scoreTuples } from "./log_scores.ts";
import {
  type BaselineScores,
  baselineScores,
  loadBaselineFit,
  LOG_BASELINES,
  type LogBaseline,
} from "./log_baselines.ts";
import { expectedRewards, replayCheck, type ReplayReport } from "./replay.ts";
import type { LeaveModel } from "../sim/leave.ts";
import {
  leaveFitIds,
  type SessionFidelity,
  sessionFidelity,
  type SessionFidelityOptions,
} from "./session_fidelity.ts";

/** Format of the real-log judge's report. */
export const LOG_FIDELITY_FORMAT = 1;

/** A trained simulator with the record of how it was trained (a `Simulator`). */
export interface JudgedModel extends SimulatorLike {
  /** The checkpoint's config.json: the training config and the data's fingerprint. */
  readonly meta: { config: TrainConfig; data: { file: string; fingerprint: string } };
}

/** Options of {@link judgeLog}. */
export interface LogJudgeOptions {
  /** The log: the one the model was trained on (checked by fingerprint). @default meta.data.file */
  log?: string;
  /** How the model is named in messages. @default "the model" */
  model?: string;
  /** Baselines to fit and score. @default all of LOG_BASELINES */
  baselines?: readonly LogBaseline[];
  /** The model's item embeddings [V, E] (the checkpoint's), which LR and GRU need. */
  embeddings?: Float32Array;
  /** Reward of each label, in the model's label order. @default 1 positive, 0 otherwise */
  rewards?: readonly number[];
  /** Equal-width bins of the ECEs and reliability diagrams. @default 10 */
  bins?: number;
  /** No progress on stderr. @default true */
  quiet?: boolean;
  /**
   * The model's learned leave model (`loadLeaveModel`): adds the `sessions` section; without
   * it `sessions` is null with a note. @default none
   */
  leave?: LeaveModel;
  /** The simulated sessions of the `sessions` section (count, step cap, seed). @default {} */
  sessions?: Pick<SessionFidelityOptions, "sims" | "maxSteps" | "seed">;
}

/** Why a report's `sessions` is null: the model has no learned leave model. */
export const NO_LEAVE_MODEL_NOTE =
  "no learned leave model (leave.json) in the checkpoint: it was trained by an earlier recsimu or its training did not finish; recsimu train fits one (no flag needed) when a run finishes, so retrain, or finish a stopped run with --resume";

/** Which held-out tuples were asked and answered. */
export interface LogCoverage {
  /** Held-out (test) sessions with at least one tuple. */
  held_out_sessions: number;
  /** Every tuple of those sessions (each row with ≥ 1 earlier row). */
  tuples: number;
  answered: number;
  refused: number;
  refused_share: number;
  /** Refused tuples by reason (the first that applies). */
  refused_by_reason: Record<LogRefusal, number>;
  /** Tuples whose state is shorter than N (left-padded), answered or not. */
  short_state: number;
  /** The same among the answered tuples. */
  answered_short_state: number;
}

/** The real-log judge's report: JSON-able (NaN becomes null). */
export interface LogFidelityReport {
  format: number;
  recsimu: string;
  mode: "log";
  log: { file: string; fingerprint: string; rows: number; sessions: number };
  config: {
    bins: number;
    baselines: LogBaseline[];
    rewards: Record<string, number>;
    split: { split: "users"; holdout: number; seed: number; validation_share: number };
    state_length: number;
    baseline_epochs: number;
  };
  backend: string | null;
  versions: { deno: string; v8: string; typescript: string; tfjs: string | null };
  seconds: number;
  tuples: LogCoverage;
  /** The simulator's metrics, then each baseline's, on the answered tuples. */
  scores: Record<string, ScorerReport>;
  /** The replay check of the simulator and of each baseline with label probabilities. */
  replay: Record<string, ReplayReport>;
  /** The learned leave model on the held-out sessions; null without one (see `notes`). */
  sessions: SessionFidelity | null;
  /** Why a section is missing, by section. */
  notes: Record<string, string>;
  definitions: Record<string, string>;
}

/** The definitions written into every real-log report. */
export const LOG_FIDELITY_DEFINITIONS: Readonly<Record<string, string>> = Object.freeze({
  held_out: "sessions whose sha256('recsimu-split-users:SEED:ID') / 2^32 < holdout, as in training",
  tuples: "every row of a held-out session with >= 1 earlier row; state = up to N rows before it",
  refused: "a tuple whose item, label, state item or state label the simulator does not know",
  per_label: "one-vs-rest: p_k against [label = k]",
  ece: "sum over equal-width bins of p: (n_b/n)*|mean p_b - outcome rate_b|",
  baselines: "fitted on the model's training tuples with its embeddings, sizes and seed",
  replay:
    "per held-out session over its answered tuples: sum of r(logged label) vs sum of sum_k r_k*p_k",
  sessions_leave:
    "every row of a held-out session asks P(leave after it); yes on the session's last row; AUC and mean log-loss, base_log_loss that of the leave fit's base rate",
  sessions_leave_fit:
    "with --split users train fits the leave model without the test users (seen = 0); older checkpoints fitted a seeded 80% of all sessions: seen = held-out sessions among them, unseen = scores on the others",
  sessions_lengths:
    "logged rows of each held-out session vs simulateSessionLengths from an empty state, replay policy on those sessions' items (a seeded sample when fewer), cut at max_steps (truncated)",
  sessions_ks:
    "two-sample Kolmogorov-Smirnov distance max_x |F_logged(x) - F_simulated(x)| of the length distributions; ks_critical_05 = 1.358*sqrt((n+m)/(n*m))",
  quantiles: "linear interpolation between order statistics (numpy's default)",
});

/** The coverage figures of `h`. */
function coverage(h: HeldOutTuples): LogCoverage {
  const tuples = h.rows.length;
  const answered = h.answered.length;
  return {
    held_out_sessions: h.sessions,
    tuples,
    answered,
    refused: tuples - answered,
    refused_share: tuples ? (tuples - answered) / tuples : NaN,
    refused_by_reason: { ...h.refusedByReason },
    short_state: h.shortState,
    answered_short_state: h.short.reduce((a, s) => a + s, 0),
  };
}

/** Fits the baselines on the model's own training tuples (rebuilt from the log). */
async function fitBaselines(
  sim: JudgedModel,
  log: string,
  h: HeldOutTuples,
  o: LogJudgeOptions & { baselines: readonly LogBaseline[] },
): Promise<Map<LogBaseline, BaselineScores>> {
  if (o.baselines.length === 0) return new Map();
  return await baselineScores(o.baselines, h, await loadBaselineFit(sim, log, o));
}

/** The replay check of probability rows `probs` on the answered tuples of `h`. */
function replayOf(h: HeldOutTuples, probs: Float64Array, rewards: readonly number[]): ReplayReport {
  const session = Int32Array.from(h.answered, (i) => h.ds.rowSessionStart[h.rows[i]!]!);
  const logged = Float64Array.from(h.labels, (k) => rewards[k]!);
  return replayCheck(session, logged, expectedRewards(probs, rewards));
}

/**
 * Judges `sim` on the users its training held out (`--split users`): coverage, per-label and
 * P(positive) metrics beside the baselines, and the replay check.
 * @throws {UserError} when the model was not trained with `--split users`, or `log` is not
 * the log it was trained on
 *
 * @example
 * ```ts ignore
 * const sim = await Simulator.load("runs/model_users");
 * const r = await judgeLog(sim, { baselines: ["item_rate"] });
 * r.scores.simulator.positive.auc; // vs r.scores.item_rate.positive.auc
 * ```
 */
export async function judgeLog(
  sim: JudgedModel,
  options: LogJudgeOptions = {},
): Promise<LogFidelityReport> {
  const t0 = performance.now();
  const o = { bins: 10, quiet: true, baselines: [...LOG_BASELINES], ...options };
  const config = sim.meta.config;
  requireUsersSplit(config, o.model ?? "the model");
  const log = o.log ?? sim.meta.data.file;
  const h = await loadHeldOut(log, config, sim);
  if (h.ds.fingerprint !== sim.meta.data.fingerprint) {
    throw new UserError(
      `"${log}" is not the log ${o.model ?? "the model"} was trained on (sha256 ${
        h.ds.fingerprint.slice(0, 12)
      }…, the model's ${
        sim.meta.data.fingerprint.slice(0, 12)
      }…): its held-out users are defined on that log`,
    );
  }
  const rewards = o.rewards ?? defaultRewards(sim.positive);
  const probs = await answerHeldOut(sim, h, { quiet: o.quiet });
  const t: ScoredTuples = {
    labelNames: sim.labels,
    positive: sim.positive,
    labels: h.labels,
    short: h.short,
    bins: o.bins,
  };
  const scores: Record<string, ScorerReport> = { simulator: scoreTuples({ probs }, t) };
  const replay: Record<string, ReplayReport> = { simulator: replayOf(h, probs, rewards) };
  const sessions = o.leave === undefined ? null : await sessionsOf(sim, o.leave, log, h, o);
  for (const [name, s] of await fitBaselines(sim, log, h, o)) {
    scores[name] = scoreTuples(s, t);
    if ("probs" in s) replay[name] = replayOf(h, s.probs, rewards);
  }
  return assemble(sim, h, { ...o, log, rewards, t0, scores, replay, sessions });
}

/**
 * The `sessions` section. A leave fit that left the test users out (`excluded`, `train --split
 * users` since it records that) saw none of the held-out sessions. An older one fitted on a split
 * of all the sessions of `train`'s own data set: with rare items kept (every arch but the paper's)
 * that has the same sessions as the judge's, else it is rebuilt to find which ones it saw.
 */
async function sessionsOf(
  sim: JudgedModel,
  leave: LeaveModel,
  log: string,
  h: HeldOutTuples,
  o: LogJudgeOptions,
): Promise<SessionFidelity> {
  const options = datasetOptions(sim.meta.config);
  const fitIds = leave.data.excluded
    ? new Set<string>()
    : leaveFitIds(options.rareItems ? h.ds : await loadDataset(log, options), leave.data);
  return await sessionFidelity(sim, leave, { ds: h.ds, sessions: h.heldOutSessions }, {
    ...o.sessions,
    fitIds,
    quiet: o.quiet,
  });
}

/** The report around the figures. */
function assemble(
  sim: JudgedModel,
  h: HeldOutTuples,
  o: Required<Pick<LogJudgeOptions, "bins" | "baselines">> & {
    log: string;
    rewards: readonly number[];
    t0: number;
    scores: Record<string, ScorerReport>;
    replay: Record<string, ReplayReport>;
    sessions: SessionFidelity | null;
  },
): LogFidelityReport {
  const c = sim.meta.config;
  const info = backendInfo();
  return {
    format: LOG_FIDELITY_FORMAT,
    recsimu: RECSIMU_VERSION,
    mode: "log",
    log: {
      file: o.log,
      fingerprint: h.ds.fingerprint,
      rows: h.ds.stats.rows,
      sessions: h.ds.stats.sessions,
    },
    config: {
      bins: o.bins,
      baselines: [...o.baselines],
      rewards: Object.fromEntries(sim.labels.map((l, k) => [l, o.rewards[k]!])),
      split: {
        split: "users",
        holdout: c.holdout ?? 0.2,
        seed: c.seed,
        validation_share: USERS_VALIDATION_SHARE,
      },
      state_length: sim.stateLength,
      baseline_epochs: baselineEpochs(c),
    },
    backend: info?.name ?? null,
    versions: { ...Deno.version, tfjs: info?.tfjs ?? null },
    seconds: (performance.now() - o.t0) / 1000,
    tuples: coverage(h),
    scores: o.scores,
    replay: o.replay,
    sessions: o.sessions,
    notes: o.sessions === null ? { sessions: NO_LEAVE_MODEL_NOTE } : {},
    definitions: { ...LOG_FIDELITY_DEFINITIONS },
  };
}
