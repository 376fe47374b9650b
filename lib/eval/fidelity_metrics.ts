/**
 * Fidelity metrics: how close a simulator's probabilities are to observed labels and to TRUE
 * probabilities, and how well it ranks policies. Plain TypeScript, no tensors.
 *
 * - Against 0/1 labels: {@link brierScore}, {@link multiclassBrier}, {@link binaryLogLoss},
 *   {@link expectedCalibrationError} (AUC and multi-class log-loss: `metrics.ts`).
 * - Against true probabilities: {@link eceVsTruth}, {@link meanKl}.
 * - Rankings: {@link spearman}, {@link kendallTauB}, {@link averageRanks}; and
 *   {@link relativeError}.
 *
 * Conventions as in `metrics.ts`: inputs of different lengths are a `TypeError`; a value
 * outside its domain is a `RangeError`; a quantity undefined for valid input (no examples, a
 * constant ranking) is `NaN`.
 * @module
 */
import { LOG_LOSS_EPSILON, logLoss } from "./metrics.ts";

/** Slack allowed above 1 and below 0 for a probability (sums of rounded softmax outputs). */
const PROB_SLACK = 1e-9;

function sameLength(what: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>, names: string) {
  if (a.length !== b.length) {
    throw new TypeError(
      `Cannot compute ${what}: ${names} have ${a.length} and ${b.length} entries`,
    );
  }
}

function probability(what: string, name: string, x: number, i: number): number {
  if (!(x >= -PROB_SLACK && x <= 1 + PROB_SLACK)) {
    throw new RangeError(`Cannot compute ${what}: ${name}[${i}] is ${x}, expected a probability`);
  }
  return Math.min(1, Math.max(0, x));
}

function binary(what: string, name: string, x: boolean | number, i: number): number {
  if (x === true || x === 1) return 1;
  if (x === false || x === 0) return 0;
  throw new RangeError(`Cannot compute ${what}: ${name}[${i}] is ${x}, expected 0, 1 or a boolean`);
}

function finite(what: string, name: string, xs: ArrayLike<number>): void {
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]!)) {
      throw new RangeError(`Cannot compute ${what}: ${name}[${i}] is ${xs[i]}, expected finite`);
    }
  }
}

function binCount(what: string, bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`Cannot compute ${what}: bins is ${bins}, expected an integer >= 1`);
  }
}

// ---------------------------------------------------------------------------------------------
// Against labels
// ---------------------------------------------------------------------------------------------

/**
 * Brier score of a binary prediction: the mean of (p − y)², y in {0, 1}. 0 is perfect; always
 * predicting the base rate r scores r(1 − r).
 *
 * @param p predicted probability of the positive class, per example
 * @param y the observed label: `true`/`1` positive, `false`/`0` negative
 * @returns the score in [0, 1], or `NaN` without examples
 *
 * @example
 * ```ts
 * import { brierScore } from "./fidelity_metrics.ts";
 * brierScore([0.8, 0.4], [1, 0]); // (0.04 + 0.16) / 2 = 0.1
 * ```
 */
export function brierScore(p: ArrayLike<number>, y: ArrayLike<boolean | number>): number {
  const what = "the Brier score";
  sameLength(what, p, y, "p and y");
  if (p.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    sum += (probability(what, "p", p[i]!, i) - binary(what, "y", y[i]!, i)) ** 2;
  }
  return sum / p.length;
}

/**
 * Multi-class Brier score: the mean over rows of Σ_k (p_k − [y = k])². 0 is perfect, 2 the
 * worst (all mass on a wrong class).
 *
 * @param probs row-major `[n, k]` probabilities
 * @param k number of classes
 * @param yTrue class index of each row, in `[0, k)`
 * @returns the score in [0, 2], or `NaN` without rows
 *
 * @example
 * ```ts
 * import { multiclassBrier } from "./fidelity_metrics.ts";
 * multiclassBrier([0.5, 0.3, 0.2], 3, [0]); // 0.25 + 0.09 + 0.04 = 0.38
 * ```
 */
export function multiclassBrier(
  probs: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
): number {
  const what = "the multi-class Brier score";
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`Cannot compute ${what}: k is ${k}, expected an integer >= 1`);
  }
  const n = yTrue.length;
  if (probs.length !== n * k) {
    throw new TypeError(`Cannot compute ${what}: probs has ${probs.length} entries, not ${n * k}`);
  }
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = yTrue[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw new RangeError(`Cannot compute ${what}: yTrue[${i}] is ${c}, expected [0, ${k})`);
    }
    for (let j = 0; j < k; j++) {
      sum += (probability(what, "probs", probs[i * k + j]!, i * k + j) - (j === c ? 1 : 0)) ** 2;
    }
  }
  return sum / n;
}

/**
 * Binary log-loss: the mean of −ln P(observed label), with P(positive) = p, clipped below at
 * `LOG_LOSS_EPSILON` like `logLoss` (which it calls with the rows [1 − p, p]).
 *
 * @example
 * ```ts
 * import { binaryLogLoss } from "./fidelity_metrics.ts";
 * binaryLogLoss([0.5, 1], [1, 1]); // (ln 2 + 0) / 2 ≈ 0.3466
 * ```
 */
export function binaryLogLoss(p: ArrayLike<number>, y: ArrayLike<boolean | number>): number {
  const what = "the binary log-loss";
  sameLength(what, p, y, "p and y");
  const rows = new Float64Array(2 * p.length);
  const labels = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const q = probability(what, "p", p[i]!, i);
    rows[2 * i] = 1 - q;
    rows[2 * i + 1] = q;
    labels[i] = binary(what, "y", y[i]!, i);
  }
  return logLoss(rows, 2, labels);
}

/** One bin of a reliability diagram. */
export interface CalibrationBin {
  /** Lower edge of the bin (the bin is [lo, hi); the last one includes 1). */
  lo: number;
  /** Upper edge. */
  hi: number;
  /** Examples whose prediction falls in the bin. */
  n: number;
  /** Mean prediction in the bin (NaN when empty). */
  meanPredicted: number;
  /** Mean target in the bin: the label rate or the mean true probability (NaN when empty). */
  meanTarget: number;
}

/**
 * Reliability bins: `bins` equal-width bins over [0, 1] of the prediction `p` (p = 1 goes in
 * the last bin), each with its mean prediction and mean `target`.
 *
 * @example
 * ```ts
 * import { calibrationBins } from "./fidelity_metrics.ts";
 * calibrationBins([0.1, 0.7, 0.9], [0, 1, 1], 2).map((b) => b.n); // [1, 2]
 * ```
 */
export function calibrationBins(
  p: ArrayLike<number>,
  target: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  const what = "calibration bins";
  binCount(what, bins);
  sameLength(what, p, target, "p and target");
  const n = new Float64Array(bins);
  const sp = new Float64Array(bins);
  const st = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    const q = probability(what, "p", p[i]!, i);
    const b = Math.min(bins - 1, Math.floor(q * bins));
    n[b]!++;
    sp[b]! += q;
    st[b]! += probability(what, "target", target[i]!, i);
  }
  return Array.from({ length: bins }, (_, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    n: n[b]!,
    meanPredicted: n[b] ? sp[b]! / n[b]! : NaN,
    meanTarget: n[b] ? st[b]! / n[b]! : NaN,
  }));
}

/** Σ_b (n_b / n)·|mean prediction_b − mean target_b| over the non-empty bins. */
function ece(p: ArrayLike<number>, target: ArrayLike<number>, bins: number): number {
  if (p.length === 0) return NaN;
  let sum = 0;
  for (const b of calibrationBins(p, target, bins)) {
    if (b.n > 0) sum += (b.n / p.length) * Math.abs(b.meanPredicted - b.meanTarget);
  }
  return sum;
}

/**
 * Expected calibration error against observed labels: with `bins` equal-width bins of the
 * prediction p, Σ_b (n_b / n)·|mean p_b − positive rate_b|.
 *
 * @param p predicted P(positive) per example
 * @param y observed label per example (0/1 or boolean)
 * @param bins number of equal-width bins over [0, 1] @default 10
 * @returns the ECE in [0, 1], or `NaN` without examples
 *
 * @example
 * ```ts
 * import { expectedCalibrationError } from "./fidelity_metrics.ts";
 * // Bin [0.9, 1]: mean p 0.9, rate 0.5 → ECE 0.4 (all examples in one bin).
 * expectedCalibrationError([0.9, 0.9], [1, 0]); // 0.4
 * ```
 */
export function expectedCalibrationError(
  p: ArrayLike<number>,
  y: ArrayLike<boolean | number>,
  bins = 10,
): number {
  const what = "the expected calibration error";
  sameLength(what, p, y, "p and y");
  const labels = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) labels[i] = binary(what, "y", y[i]!, i);
  return ece(p, labels, bins);
}

/**
 * Expected calibration error against TRUE probabilities: the examples are binned by the
 * simulator's prediction (`bins` equal-width bins), and each bin compares its mean prediction
 * with its mean true probability: Σ_b (n_b / n)·|mean pSim_b − mean pTrue_b|. It is 0 when the
 * simulator equals the truth, and, unlike the ECE against labels, it has no label-sampling
 * noise. It is at most the mean |pSim − pTrue| (errors of opposite sign in a bin cancel).
 *
 * @param pSim the simulator's P(positive) per example
 * @param pTrue the true P(positive) per example
 * @param bins number of equal-width bins over [0, 1] of pSim @default 10
 * @returns the ECE in [0, 1], or `NaN` without examples
 *
 * @example
 * ```ts
 * import { eceVsTruth } from "./fidelity_metrics.ts";
 * eceVsTruth([0.2, 0.25], [0.1, 0.15]); // both in bin [0.2, 0.3): |0.225 − 0.125| = 0.1
 * ```
 */
export function eceVsTruth(pSim: ArrayLike<number>, pTrue: ArrayLike<number>, bins = 10): number {
  sameLength("the expected calibration error against the truth", pSim, pTrue, "pSim and pTrue");
  return ece(pSim, pTrue, bins);
}

/**
 * Mean Kullback–Leibler divergence KL(p_true ‖ p_sim) over rows of K label probabilities, in
 * nats: mean over rows of Σ_k p_true,k · ln(p_true,k / p_sim,k). Terms with p_true,k = 0 are 0;
 * p_sim,k is clipped below at `LOG_LOSS_EPSILON`, so one impossible label costs a bounded
 * amount (as in `logLoss`). Equals the expected log-loss of p_sim minus that of p_true.
 *
 * @param pTrue row-major `[n, k]` true probabilities
 * @param pSim row-major `[n, k]` simulated probabilities
 * @param k number of labels
 * @returns the mean divergence (≥ 0 up to the clipping), or `NaN` without rows
 *
 * @example
 * ```ts
 * import { meanKl } from "./fidelity_metrics.ts";
 * meanKl([0.5, 0.5], [0.25, 0.75], 2); // 0.5·ln 2 + 0.5·ln(2/3) ≈ 0.1438
 * ```
 */
export function meanKl(pTrue: ArrayLike<number>, pSim: ArrayLike<number>, k: number): number {
  const what = "the mean KL divergence";
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`Cannot compute ${what}: k is ${k}, expected an integer >= 1`);
  }
  sameLength(what, pTrue, pSim, "pTrue and pSim");
  if (pTrue.length % k !== 0) {
    throw new TypeError(`Cannot compute ${what}: ${pTrue.length} entries are not rows of ${k}`);
  }
  const n = pTrue.length / k;
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < pTrue.length; i++) {
    const t = probability(what, "pTrue", pTrue[i]!, i);
    const s = probability(what, "pSim", pSim[i]!, i);
    if (t > 0) sum += t * Math.log(t / Math.max(s, LOG_LOSS_EPSILON));
  }
  return sum / n;
}

// ---------------------------------------------------------------------------------------------
// Rankings
// ---------------------------------------------------------------------------------------------

/**
 * Ranks 1 … n of `x` in ascending order, tied values sharing their average rank.
 *
 * @example
 * ```ts
 * import { averageRanks } from "./fidelity_metrics.ts";
 * averageRanks([10, 30, 20, 20]); // [1, 4, 2.5, 2.5]
 * ```
 */
export function averageRanks(x: ArrayLike<number>): number[] {
  finite("ranks", "x", x);
  const order = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const ranks = new Array<number>(x.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && x[order[j + 1]!] === x[order[i]!]) j++;
    for (let t = i; t <= j; t++) ranks[order[t]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

/**
 * Pearson correlation of two equal-length arrays; NaN when either is constant (or empty).
 *
 * @example
 * ```ts
 * import { pearson } from "./fidelity_metrics.ts";
 * pearson([1, 2, 3], [2, 4, 7]); // ≈ 0.9934
 * ```
 */
export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/**
 * Spearman's rank correlation: the Pearson correlation of the average ranks (ties share their
 * average rank).
 *
 * @returns ρ in [−1, 1], or `NaN` with fewer than 2 values or when either side is constant
 *
 * @example
 * ```ts
 * import { spearman } from "./fidelity_metrics.ts";
 * spearman([1, 2, 3], [10, 30, 20]); // 0.5
 * ```
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  sameLength("Spearman's rho", x, y, "x and y");
  if (x.length < 2) return NaN;
  return pearson(averageRanks(x), averageRanks(y));
}

/**
 * Kendall's tau-b, which corrects for ties: (n_c − n_d) / √((n₀ − n₁)(n₀ − n₂)), with n_c and
 * n_d the concordant and discordant pairs, n₀ = n(n−1)/2, and n₁, n₂ the pairs tied in x and
 * in y. O(n²): meant for short lists (policies).
 *
 * @returns τ_b in [−1, 1], or `NaN` with fewer than 2 values or when either side is constant
 *
 * @example
 * ```ts
 * import { kendallTauB } from "./fidelity_metrics.ts";
 * kendallTauB([1, 2, 3], [10, 30, 20]); // (2 − 1) / 3 ≈ 0.3333
 * ```
 */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const what = "Kendall's tau-b";
  sameLength(what, x, y, "x and y");
  finite(what, "x", x);
  finite(what, "y", y);
  const n = x.length;
  if (n < 2) return NaN;
  let s = 0;
  let tiesX = 0;
  let tiesY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0) tiesX++;
      if (dy === 0) tiesY++;
      s += dx * dy;
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const den = Math.sqrt((n0 - tiesX) * (n0 - tiesY));
  return den === 0 ? NaN : s / den;
}

/**
 * Relative error of an estimate: (estimate − truth) / |truth|; positive when it overestimates.
 *
 * @returns the signed relative error, or `NaN` when the truth is 0 or either is not finite
 *
 * @example
 * ```ts
 * import { relativeError } from "./fidelity_metrics.ts";
 * relativeError(12, 10); // 0.2
 * relativeError(-3, -2); // -0.5
 * ```
 */
export function relativeError(estimate: number, truth: number): number {
  if (!Number.isFinite(estimate) || !Number.isFinite(truth) || truth === 0) return NaN;
  return (estimate - truth) / Math.abs(truth);
}
