/**
 * The metrics of one scorer on held-out tuples of a real log: P(positive) (AUC, log-loss, ECE,
 * Brier), each label one-vs-rest (AUC, log-loss, ECE), the reliability bins of P(positive), and
 * the AUC and log-loss on short (< N pairs, left-padded) and full states apart.
 * @module
 */
import { auc, logLoss } from "../eval/metrics.ts";
import {
  binaryLogLoss,
  brierScore,
  calibrationBins,
  expectedCalibrationError,
} from "../eval/fidelity_metrics.ts";

/** Metrics of one probability against a binary outcome. */
export interface BinaryScores {
  /** ROC AUC. */
  auc: number;
  /** Binary log-loss (nats; p clipped at 1e-7). */
  log_loss: number;
  /** Expected calibration error (equal-width bins). */
  ece: number;
  /** Brier score. */
  brier: number;
  /** Mean predicted probability. */
  mean_p: number;
  /** Share of tuples with the outcome. */
  rate: number;
}

/** One bin of a reliability diagram of P(positive). */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  /** Tuples whose P(positive) falls in the bin. */
  n: number;
  /** Mean P(positive) in the bin (null when empty). */
  mean_predicted: number;
  /** Observed positive rate in the bin (null when empty). */
  positive_rate: number;
  /** Truth worlds only: the mean TRUE P(positive) in the bin. */
  mean_true?: number;
}

/** A scorer's metrics on the answered held-out tuples. */
export interface ScorerReport {
  /** Tuples scored. */
  n: number;
  /** P(positive) (positive = the model's positive labels). */
  positive: BinaryScores;
  /** Multi-class log-loss over the K labels; null for a scorer of P(positive) only (LR). */
  log_loss: number | null;
  /** Each label one-vs-rest, p_k against [label = k]; null for a scorer of P(positive) only. */
  per_label: Record<string, BinaryScores> | null;
  /** P(positive) on states shorter than N and on full states. */
  by_state: Record<"short" | "full", { n: number; auc: number; log_loss: number }>;
  /** Reliability bins of P(positive). */
  reliability: ReliabilityBin[];
}

/** What the tuples are: their labels, which are positive, which states are short. */
export interface ScoredTuples {
  /** Label names, in the order of `labels` and of the probability rows. */
  labelNames: readonly string[];
  /** Whether each label is positive. */
  positive: readonly boolean[];
  /** Each tuple's label. */
  labels: Int32Array;
  /** Each tuple's state is shorter than N (1) or full (0). */
  short: Uint8Array;
  /** Equal-width bins of the ECEs and the reliability diagram. */
  bins: number;
}

/** The metrics of probability `p` against the 0/1 outcome `y`. */
export function binaryScores(p: Float64Array, y: Uint8Array, bins: number): BinaryScores {
  const n = p.length;
  let sp = 0, sy = 0;
  for (let i = 0; i < n; i++) {
    sp += p[i]!;
    sy += y[i]!;
  }
  return {
    auc: auc(y, p),
    log_loss: binaryLogLoss(p, y),
    ece: expectedCalibrationError(p, y, bins),
    brier: brierScore(p, y),
    mean_p: n ? sp / n : NaN,
    rate: n ? sy / n : NaN,
  };
}

/** Reliability bins of `p` against the outcome `y` (and the true probabilities `truth`). */
export function reliabilityBins(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  bins: number,
  truth?: ArrayLike<number>,
): ReliabilityBin[] {
  const observed = calibrationBins(p, y, bins);
  const vsTruth = truth ? calibrationBins(p, truth, bins) : undefined;
  return observed.map((b, i) => ({
    lo: b.lo,
    hi: b.hi,
    n: b.n,
    mean_predicted: b.meanPredicted,
    positive_rate: b.meanTarget,
    ...(vsTruth ? { mean_true: vsTruth[i]!.meanTarget } : {}),
  }));
}

/** Values in [0, 1]: sums of float32 probabilities can pass 1 by a rounding error. */
const clip = (x: number) => Math.min(1, Math.max(0, x));

/** P(positive) of probability rows [n, K]. */
export function positiveProbability(
  probs: Float64Array,
  positive: readonly boolean[],
): Float64Array {
  const K = positive.length;
  const n = probs.length / K;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) if (positive[k]) s += probs[i * K + k]!;
    out[i] = clip(s);
  }
  return out;
}

/** AUC and log-loss of P(positive) on the tuples where `keep` holds. */
function subsetScores(p: Float64Array, y: Uint8Array, keep: (i: number) => boolean) {
  const ps: number[] = [], ys: number[] = [];
  for (let i = 0; i < p.length; i++) {
    if (keep(i)) {
      ps.push(p[i]!);
      ys.push(y[i]!);
    }
  }
  return { n: ps.length, auc: auc(ys, ps), log_loss: ps.length ? binaryLogLoss(ps, ys) : NaN };
}

/** Per label one-vs-rest metrics of probability rows [n, K]. */
function perLabel(probs: Float64Array, t: ScoredTuples): Record<string, BinaryScores> {
  const K = t.labelNames.length;
  const n = t.labels.length;
  return Object.fromEntries(t.labelNames.map((name, k) => {
    const p = new Float64Array(n), y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      p[i] = clip(probs[i * K + k]!);
      y[i] = t.labels[i] === k ? 1 : 0;
    }
    return [name, binaryScores(p, y, t.bins)];
  }));
}

/**
 * The metrics of a scorer on tuples `t`: from probability rows [n, K] (`probs`), or from
 * P(positive) alone (`pPositive`, for a scorer such as LR that predicts nothing else).
 */
export function scoreTuples(
  scores: { probs: Float64Array } | { pPositive: Float64Array },
  t: ScoredTuples,
): ScorerReport {
  const n = t.labels.length;
  const probs = "probs" in scores ? scores.probs : undefined;
  const p = "probs" in scores
    ? positiveProbability(scores.probs, t.positive)
    : scores.pPositive.map(clip);
  if (p.length !== n) throw new TypeError(`scoreTuples: ${p.length} scores for ${n} tuples`);
  const y = Uint8Array.from(t.labels, (l) => (t.positive[l] ? 1 : 0));
  return {
    n,
    positive: binaryScores(p, y, t.bins),
    log_loss: probs ? logLoss(probs, t.labelNames.length, t.labels) : null,
    per_label: probs ? perLabel(probs, t) : null,
    by_state: {
      short: subsetScores(p, y, (i) => t.short[i] === 1),
      full: subsetScores(p, y, (i) => t.short[i] === 0),
    },
    reliability: reliabilityBins(p, y, t.bins),
  };
}
