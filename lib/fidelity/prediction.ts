/**
 * Prediction fidelity on the held-out cases of a truth world: which cases a responder can
 * answer (coverage, with the refused share by reason), and on the answered ones how its
 * P(label) compares with the sampled labels and with the TRUE probabilities, next to the
 * truth's own probabilities (the ceiling), an item-popularity ranking and, when given, baselines
 * answered on the same cases (`log_baselines.ts`, fitted by `judge.ts`); overall and by the
 * source of the case's action (logging policy or uniform).
 * @module
 */
import { auc, logLoss } from "../eval/metrics.ts";
import {
  binaryLogLoss,
  brierScore,
  eceVsTruth,
  expectedCalibrationError,
  meanKl,
  multiclassBrier,
  spearman,
} from "../eval/fidelity_metrics.ts";
import { Progress } from "../progress.ts";
import type { Probs } from "../data/truth/world.ts";
import { posteriorProbs } from "./posterior.ts";
import type { AnswerSupport, FidelityRequest, FidelityResponder } from "./responders.ts";
import type { JudgedCase, TruthData } from "./truth_dir.ts";
import { type ReliabilityBin, reliabilityBins } from "./log_scores.ts";
import type { BaselineScores, LogBaseline } from "./log_baselines.ts";

/** Why a case was not answered: its action, or an item or label of its history, is unknown. */
export type RefusalReason = "unknown_action" | "unknown_history_item" | "unknown_history_label";

/** Metrics of one scorer's probabilities against the sampled labels. */
export interface LabelScores {
  /** AUC of P(positive) (positive = click or purchase) against the sampled labels. */
  auc: number;
  /** Multi-class log-loss over the labels (nats). */
  log_loss: number;
  /** Binary log-loss of P(positive). */
  log_loss_positive: number;
  /** Brier score of P(positive). */
  brier: number;
  /** Multi-class Brier score over the labels. */
  brier_multiclass: number;
  /** Expected calibration error of P(positive) against the labels (equal-width bins). */
  ece: number;
  /** Mean P(positive). */
  mean_p_positive: number;
}

/** {@link LabelScores} of the responder, plus its distance to the truth. */
export interface ResponderScores extends LabelScores {
  /** Σ_b (n_b/n)·|mean p_sim − mean p_true| over bins of p_sim (P(positive)). */
  ece_vs_truth: number;
  /** Mean |p_sim − p_true| of P(positive). */
  mae_vs_truth: number;
  /** Mean KL(p_true ‖ p_sim) over the labels (nats). */
  kl_to_truth: number;
}

/**
 * Does the ensemble's spread say where the simulator is wrong? Over the answered cases of a
 * split, from the responder's per-answer spread (the heads' standard deviation of P(positive)).
 */
export interface SpreadScores {
  /** Mean spread. */
  mean: number;
  /** Spearman correlation of the spread with |p_sim − p_true| of P(positive). */
  error_spearman: number;
  /**
   * Spearman correlation of P(positive) itself with the same errors: what the spread must beat to
   * say more than "large probabilities have large errors" (the heads' spread grows with p).
   */
  p_error_spearman: number;
  /** Mean |p_sim − p_true| of the 10% of cases with the largest spread (at least one). */
  mae_top_decile: number;
  /** Mean |p_sim − p_true| of the other cases. */
  mae_rest: number;
}

/**
 * Does the support model say where the simulator is wrong? Over the answered cases of a split,
 * from each answer's support (ln π_log(a | s) − ln(1/V), estimated) and `ood.off_support`.
 */
export interface SupportScores {
  /** Mean support. */
  mean: number;
  /** Share of the cases flagged off support. */
  off_support_share: number;
  /** Spearman correlation of −support with |p_sim − p_true| of P(positive). */
  error_spearman: number;
  /** Mean |p_sim − p_true| of the cases flagged off support (NaN for none). */
  mae_off_support: number;
  /** Mean |p_sim − p_true| of the other cases (NaN for none). */
  mae_on_support: number;
  /**
   * Overall only: AUC of −support for telling the uniformly drawn actions from the logging
   * policy's (0.5: no better than chance; the simulator is most wrong on the uniform ones).
   */
  uniform_auc?: number;
}

/**
 * A baseline's scores on the same cases: those of P(positive) always; the multi-class log-loss
 * and Brier and the KL to the truth only for baselines with all label probabilities
 * (`item_rate`, `gru`; `lr` gives P(positive) alone).
 */
export type BaselineCaseScores =
  & Omit<ResponderScores, "log_loss" | "brier_multiclass" | "kl_to_truth">
  & Partial<Pick<ResponderScores, "log_loss" | "brier_multiclass" | "kl_to_truth">>;

/** Baselines answered on the same cases as the responder. */
export interface CaseBaselines {
  /** Their names, in report order. */
  readonly names: readonly LogBaseline[];
  /**
   * Their answers on `cases` (the answered cases, in order): probability rows [n, 3] in the
   * truth's label order (skip, click, purchase), or P(positive) alone; by name.
   */
  answer(cases: readonly JudgedCase[]): Promise<ReadonlyMap<LogBaseline, BaselineScores>>;
}

/**
 * The metrics of one split of the answered cases; each baseline's beside the responder's,
 * under its name (`item_rate`, `lr`, `gru`), when baselines were asked.
 */
export interface SplitReport extends Partial<Record<LogBaseline, BaselineCaseScores>> {
  /** Answered cases in the split. */
  n: number;
  /** Share of sampled labels that are positive. */
  positive_rate: number;
  /** Mean true P(positive). */
  mean_true_p_positive: number;
  /** The responder judged. */
  simulator: ResponderScores;
  /** The truth's own probabilities: the ceiling (its KL and ECE-vs-truth are 0). */
  truth: LabelScores;
  /**
   * The observable ceiling: P(label | observable history, item) averaged over the posterior of
   * the user's latent given the history (`posterior.ts`). The truth knows each user's latent,
   * which no history fully reveals; no model of the log can beat this on average. Absent when
   * `posteriorParticles` is 0.
   */
  posterior?: ResponderScores;
  /** Cases ranked by the action's positive rows in the log: a ranking, so AUC only. */
  popularity: { auc: number };
  /**
   * Reliability bins of the responder's P(positive): the observed positive rate and the mean
   * TRUE P(positive) per bin.
   */
  reliability: ReliabilityBin[];
  /** The same bins of the observable ceiling's P(positive) (with `posterior`). */
  posterior_reliability?: ReliabilityBin[];
  /** What the responder's spread says about its errors; absent for responders without one. */
  spread?: SpreadScores;
  /** What the responder's support says about its errors; absent without a support model. */
  support?: SupportScores;
}

/** Which cases were answered. */
export interface Coverage {
  /** Cases in cases.jsonl. */
  cases: number;
  /** Cases answered (and scored). */
  answered: number;
  /** Cases refused. */
  refused: number;
  /** refused / cases. */
  refused_share: number;
  /** Refused cases by reason (the first that applies, in this order). */
  refused_by_reason: Record<RefusalReason, number>;
  /** Cases and answered cases by source of the action. */
  by_source: Record<JudgedCase["source"], { cases: number; answered: number }>;
  /** The truth's AUC on ALL cases, answered or not: shows what the refusal leaves out. */
  truth_auc_all_cases: number;
}

/** Prediction fidelity: coverage, then the metrics overall and by source. */
export interface PredictionReport {
  coverage: Coverage;
  /** How the observable ceiling was sampled, or null when it was not computed. */
  posterior: PosteriorSampling | null;
  overall: SplitReport;
  logging: SplitReport;
  random: SplitReport;
}

/** The importance sampling behind the `posterior` scores. */
export interface PosteriorSampling {
  /** Users drawn from the world's prior. */
  particles: number;
  /** Seed of the particles. */
  seed: number;
  /** Median effective sample size over the cases. */
  ess_median: number;
  /** 5th percentile of the effective sample size. */
  ess_p5: number;
  /** Seconds taken. */
  seconds: number;
}

/** Options of {@link predictionFidelity}. */
export interface PredictionOptions {
  /** Equal-width bins of the ECEs. @default 10 */
  bins?: number;
  /** Cases per responder call. @default 1024 */
  batch?: number;
  /** No progress on stderr. @default true */
  quiet?: boolean;
  /** Baselines scored beside the responder on the cases it answered. @default none */
  baselines?: CaseBaselines;
  /** Particles of the observable ceiling (`posterior`); 0 leaves it out. @default 2000 */
  posteriorParticles?: number;
}

/** The reason `c` cannot be answered, or undefined. */
function refusal(r: FidelityResponder, c: JudgedCase): RefusalReason | undefined {
  if (!r.knowsItem(c.action)) return "unknown_action";
  if (!c.state.every((s) => r.knowsItem(s.item))) return "unknown_history_item";
  if (!c.state.every((s) => r.knowsLabel(s.label))) return "unknown_history_label";
  return undefined;
}

/** P(positive) of a probability triple. */
const positive = (p: Probs) => p[1] + p[2];

/** P(positive) of row `i` of probability rows [n, 3]. */
const positive3 = (p: Float64Array, i: number) => p[3 * i + 1]! + p[3 * i + 2]!;

/** The metrics of P(positive) `pPos` against `labels` (positive: > 0). */
function positiveLabelScores(
  pPos: Float64Array,
  labels: Uint8Array,
  bins: number,
): Omit<LabelScores, "log_loss" | "brier_multiclass"> {
  const n = labels.length;
  const isPos = Uint8Array.from(labels, (l) => (l > 0 ? 1 : 0));
  return {
    auc: auc(isPos, pPos),
    log_loss_positive: binaryLogLoss(pPos, isPos),
    brier: brierScore(pPos, isPos),
    ece: expectedCalibrationError(pPos, isPos, bins),
    mean_p_positive: n === 0 ? NaN : pPos.reduce((a, b) => a + b, 0) / n,
  };
}

/** The label metrics of probability rows `probs` (row-major [n, 3]) against `labels`. */
function labelScores(probs: Float64Array, labels: Uint8Array, bins: number): LabelScores {
  return {
    ...positiveLabelScores(Float64Array.from(labels, (_, i) => positive3(probs, i)), labels, bins),
    log_loss: logLoss(probs, 3, labels),
    brier_multiclass: multiclassBrier(probs, 3, labels),
  };
}

/** {@link LabelScores} of rows `probs` and their distance to the true rows `pTrue` ([n, 3]). */
function responderScores(
  probs: Float64Array,
  pTrue: Float64Array,
  labels: Uint8Array,
  bins: number,
): ResponderScores {
  const pos = (p: Float64Array) => Float64Array.from(labels, (_, i) => positive3(p, i));
  return {
    ...labelScores(probs, labels, bins),
    ...truthDistance(pos(probs), pos(pTrue), bins),
    kl_to_truth: meanKl(pTrue, probs, 3),
  };
}

/** ECE and mean absolute error of P(positive) `pPos` against the true P(positive) `posTrue`. */
function truthDistance(
  pPos: ArrayLike<number>,
  posTrue: ArrayLike<number>,
  bins: number,
): Pick<ResponderScores, "ece_vs_truth" | "mae_vs_truth"> {
  const n = pPos.length;
  let mae = 0;
  for (let i = 0; i < n; i++) mae += Math.abs(pPos[i]! - posTrue[i]!) / n;
  return { ece_vs_truth: eceVsTruth(pPos, posTrue, bins), mae_vs_truth: n === 0 ? NaN : mae };
}

/** The scores of a baseline that gives P(positive) `pPos` alone. */
function positiveScores(
  pPos: Float64Array,
  posTrue: Float64Array,
  labels: Uint8Array,
  bins: number,
): BaselineCaseScores {
  return { ...positiveLabelScores(pPos, labels, bins), ...truthDistance(pPos, posTrue, bins) };
}

/** The mean of `xs`; NaN for none. */
const mean = (xs: readonly number[]) =>
  xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * {@link SpreadScores} of the spreads `spread` and the absolute errors `error` (same order).
 *
 * @example
 * ```ts
 * import { spreadScores } from "./prediction.ts";
 * spreadScores([0.1, 0.3, 0.2], [0.05, 0.2, 0.1], [0.2, 0.5, 0.4]).mae_top_decile; // 0.2
 * ```
 */
export function spreadScores(
  spread: readonly number[],
  error: readonly number[],
  p: readonly number[],
): SpreadScores {
  const n = spread.length;
  if (error.length !== n || p.length !== n) {
    throw new RangeError(
      `spreadScores: ${n} spreads but ${error.length} errors and ${p.length} probabilities`,
    );
  }
  // The top decile by spread (ties broken by case order: deterministic).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    spread[b]! - spread[a]! || a - b
  );
  const top = n === 0 ? 0 : Math.max(1, Math.round(n / 10));
  return {
    mean: mean(spread),
    error_spearman: n < 2 ? NaN : spearman(spread, error),
    p_error_spearman: n < 2 ? NaN : spearman(p, error),
    mae_top_decile: mean(order.slice(0, top).map((i) => error[i]!)),
    mae_rest: mean(order.slice(top).map((i) => error[i]!)),
  };
}

/**
 * {@link SupportScores} (without `uniform_auc`) of the supports `logit`, their off-support flags
 * `off` and the absolute errors `error` (same order).
 *
 * @example
 * ```ts
 * import { supportScores } from "./prediction.ts";
 * const s = supportScores([2, -3, 1], [false, true, false], [0.1, 0.4, 0.2]);
 * [s.off_support_share, s.mae_off_support, s.mae_on_support]; // [1/3, 0.4, ≈0.15]
 * ```
 */
export function supportScores(
  logit: readonly number[],
  off: readonly boolean[],
  error: readonly number[],
): SupportScores {
  const n = logit.length;
  if (off.length !== n || error.length !== n) {
    throw new RangeError(
      `supportScores: ${n} supports but ${off.length} flags and ${error.length} errors`,
    );
  }
  return {
    mean: mean(logit),
    off_support_share: n === 0 ? NaN : off.filter(Boolean).length / n,
    error_spearman: n < 2 ? NaN : spearman(logit.map((z) => -z), error),
    mae_off_support: mean(error.filter((_, i) => off[i])),
    mae_on_support: mean(error.filter((_, i) => !off[i])),
  };
}

/** The answers of the cases `idx` and what they are scored against. */
interface SplitInputs {
  cases: readonly JudgedCase[];
  sim: ReadonlyMap<number, Probs>;
  /** The responder's spread of each answer, by case index; undefined without spreads. */
  spreads?: ReadonlyMap<number, number>;
  /** The responder's support of each answer, by case index; undefined without supports. */
  supports?: ReadonlyMap<number, AnswerSupport>;
  /** The observable ceiling's rows [cases, 3], by case index; undefined when not computed. */
  posterior?: Float64Array;
  popularity: Float64Array;
  /** Each baseline's answers, in the order of the answered cases. */
  baselines: ReadonlyMap<LogBaseline, BaselineScores>;
  /** Case index → its position among the answered cases. */
  position: ReadonlyMap<number, number>;
  bins: number;
}

/** A baseline's answers on the cases `idx`, in their order. */
function baselineSplit(
  s: BaselineScores,
  idx: readonly number[],
  position: ReadonlyMap<number, number>,
): BaselineScores {
  if ("pPositive" in s) {
    return { pPositive: Float64Array.from(idx, (c) => s.pPositive[position.get(c)!]!) };
  }
  const probs = new Float64Array(3 * idx.length);
  idx.forEach((c, i) =>
    probs.set(s.probs.subarray(3 * position.get(c)!, 3 * position.get(c)! + 3), 3 * i)
  );
  return { probs };
}

/** The metrics of the answered cases `idx`. */
function splitReport(idx: readonly number[], o: SplitInputs): SplitReport {
  const { cases, sim, popularity, bins } = o;
  const n = idx.length;
  const pSim = new Float64Array(3 * n);
  const pTrue = new Float64Array(3 * n);
  const labels = new Uint8Array(n);
  const pop = new Float64Array(n);
  idx.forEach((c, i) => {
    pSim.set(sim.get(c)!, 3 * i);
    pTrue.set(cases[c]!.probs, 3 * i);
    labels[i] = cases[c]!.label;
    pop[i] = popularity[cases[c]!.action]!;
  });
  const posSim = idx.map((c) => positive(sim.get(c)!));
  const posTrue = Float64Array.from(idx, (c) => positive(cases[c]!.probs));
  const truthScores = labelScores(pTrue, labels, bins);
  const baselines: Partial<Record<LogBaseline, BaselineCaseScores>> = {};
  for (const [name, answers] of o.baselines) {
    const b = baselineSplit(answers, idx, o.position);
    baselines[name] = "probs" in b
      ? responderScores(b.probs, pTrue, labels, bins)
      : positiveScores(b.pPositive, posTrue, labels, bins);
  }
  const post = o.posterior;
  const pPost = post && new Float64Array(3 * n);
  if (post && pPost) idx.forEach((c, i) => pPost.set(post.subarray(3 * c, 3 * c + 3), 3 * i));
  return {
    n,
    positive_rate: n === 0 ? NaN : labels.reduce((a, l) => a + (l > 0 ? 1 : 0), 0) / n,
    mean_true_p_positive: truthScores.mean_p_positive,
    simulator: responderScores(pSim, pTrue, labels, bins),
    truth: truthScores,
    ...(pPost ? { posterior: responderScores(pPost, pTrue, labels, bins) } : {}),
    popularity: { auc: auc(Array.from(labels, (l) => (l > 0 ? 1 : 0)), pop) },
    ...baselines,
    reliability: reliabilityBins(
      posSim.map((p) => Math.min(1, Math.max(0, p))),
      Array.from(labels, (l) => (l > 0 ? 1 : 0)),
      bins,
      posTrue,
    ),
    ...(o.spreads
      ? {
        spread: spreadScores(
          idx.map((c) => o.spreads!.get(c) ?? 0),
          posSim.map((p, i) => Math.abs(p - posTrue[i]!)),
          posSim,
        ),
      }
      : {}),
    ...(o.supports
      ? {
        support: supportScores(
          idx.map((c) => o.supports!.get(c)!.logit),
          idx.map((c) => o.supports!.get(c)!.off),
          posSim.map((p, i) => Math.abs(p - posTrue[i]!)),
        ),
      }
      : {}),
    ...(pPost
      ? {
        posterior_reliability: reliabilityBins(
          Array.from({ length: n }, (_, i) => Math.min(1, Math.max(0, positive3(pPost, i)))),
          Array.from(labels, (l) => (l > 0 ? 1 : 0)),
          bins,
          posTrue,
        ),
      }
      : {}),
  };
}

/** Asks `responder` about every answerable case, in batches; returns the answers by case. */
async function answerCases(
  responder: FidelityResponder,
  truth: TruthData,
  answerable: readonly number[],
  o: { batch: number; quiet: boolean },
): Promise<
  {
    probs: Map<number, Probs>;
    spreads?: Map<number, number>;
    supports?: Map<number, AnswerSupport>;
  }
> {
  const out = new Map<number, Probs>();
  // Spreads and supports are kept only when every answer came with one (see `lastSpreads`).
  let spreads = responder.lastSpreads ? new Map<number, number>() : undefined;
  let supports = responder.lastSupports ? new Map<number, AnswerSupport>() : undefined;
  const progress = new Progress("cases", answerable.length, { quiet: o.quiet, unitsPerStep: 1 });
  for (let i = 0; i < answerable.length; i += o.batch) {
    const chunk = answerable.slice(i, i + o.batch);
    const requests: FidelityRequest[] = chunk.map((k) => {
      const c = truth.cases[k]!;
      const seed = truth.world.userSeed("case", c.user);
      return { user: { seed, stream: `case/${k}` }, history: c.state, item: c.action };
    });
    const probs = await responder.predict(requests);
    chunk.forEach((k, j) => out.set(k, probs[j]!));
    const sp = responder.lastSpreads?.() ?? [];
    if (sp.length !== chunk.length) spreads = undefined;
    spreads && chunk.forEach((k, j) => spreads!.set(k, sp[j]!));
    const su = responder.lastSupports?.() ?? [];
    if (su.length !== chunk.length) supports = undefined;
    supports && chunk.forEach((k, j) => supports!.set(k, su[j]!));
    progress.update(Math.min(i + o.batch, answerable.length));
  }
  return { probs: out, spreads, supports };
}

/** The observable ceiling of every case (`posterior.ts`), or undefined when `particles` is 0. */
function observableCeiling(
  truth: TruthData,
  particles: number,
): { probs: Float64Array; sampling: PosteriorSampling } | undefined {
  if (particles === 0) return undefined;
  const t0 = performance.now();
  const seed = 0;
  const a = posteriorProbs(truth.world, truth.cases, { particles, seed });
  const ess = Array.from(a.ess).sort((x, y) => x - y);
  const at = (q: number) => ess.length === 0 ? NaN : ess[Math.floor(q * (ess.length - 1))]!;
  return {
    probs: a.probs,
    sampling: {
      particles,
      seed,
      ess_median: at(0.5),
      ess_p5: at(0.05),
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

/**
 * Judges `responder` on the cases of `truth`: coverage, then the metrics of the answered
 * cases overall and by source.
 */
export async function predictionFidelity(
  responder: FidelityResponder,
  truth: TruthData,
  options: PredictionOptions = {},
): Promise<PredictionReport> {
  const o = { bins: 10, batch: 1024, quiet: true, ...options };
  const cases = truth.cases;
  const reasons: Record<RefusalReason, number> = {
    unknown_action: 0,
    unknown_history_item: 0,
    unknown_history_label: 0,
  };
  const bySource = { logging: { cases: 0, answered: 0 }, random: { cases: 0, answered: 0 } };
  const answerable: number[] = [];
  cases.forEach((c, k) => {
    const why = refusal(responder, c);
    bySource[c.source].cases++;
    if (why) reasons[why]++;
    else {
      answerable.push(k);
      bySource[c.source].answered++;
    }
  });
  const { probs: sim, spreads, supports } = await answerCases(responder, truth, answerable, o);
  const posterior = observableCeiling(truth, o.posteriorParticles ?? 2000);
  const inputs: SplitInputs = {
    cases,
    sim,
    spreads,
    supports,
    posterior: posterior?.probs,
    popularity: truth.log.itemPositives,
    baselines: o.baselines ? await o.baselines.answer(answerable.map((k) => cases[k]!)) : new Map(),
    position: new Map(answerable.map((k, i) => [k, i])),
    bins: o.bins,
  };
  const split = (source?: JudgedCase["source"]) =>
    splitReport(
      source ? answerable.filter((k) => cases[k]!.source === source) : answerable,
      inputs,
    );
  const refused = cases.length - answerable.length;
  return {
    posterior: posterior?.sampling ?? null,
    coverage: {
      cases: cases.length,
      answered: answerable.length,
      refused,
      refused_share: cases.length === 0 ? NaN : refused / cases.length,
      refused_by_reason: reasons,
      by_source: bySource,
      truth_auc_all_cases: auc(
        cases.map((c) => (c.label > 0 ? 1 : 0)),
        cases.map((c) => positive(c.probs)),
      ),
    },
    overall: withUniformAuc(split(), answerable, cases, supports),
    logging: split("logging"),
    random: split("random"),
  };
}

/** The overall split with its support's `uniform_auc` (unchanged without supports). */
function withUniformAuc(
  r: SplitReport,
  answerable: readonly number[],
  cases: readonly JudgedCase[],
  supports: ReadonlyMap<number, AnswerSupport> | undefined,
): SplitReport {
  if (!supports || !r.support) return r;
  const uniform = auc(
    answerable.map((k) => (cases[k]!.source === "random" ? 1 : 0)),
    answerable.map((k) => -supports.get(k)!.logit),
  );
  return { ...r, support: { ...r.support, uniform_auc: uniform } };
}
