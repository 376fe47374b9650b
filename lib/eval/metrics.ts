/**
 * Evaluation metrics and significance tests, in plain TypeScript (no tensors).
 *
 * - Classification: {@link auc}, {@link binaryStats}, {@link perClassStats}, {@link logLoss},
 *   {@link expectedCalibrationError}.
 * - Ranking: {@link averagePrecision}, {@link ndcgAtK}.
 * - Across seeds / runs: {@link meanStd}, {@link pairedTTest}, {@link wilcoxonSignedRank}.
 *
 * Conventions: inputs of different lengths are a `TypeError` (wrong shape); a value outside its
 * domain (a label that is not 0/1, a class index outside `[0, k)`, a non-finite score) is a
 * `RangeError`. A quantity that is undefined for valid input (AUC with one class, a test on
 * fewer than two pairs) is `NaN`, never an exception, so that a report can still be written.
 *
 * The Student-t and normal tail probabilities are computed here from the regularized incomplete
 * beta and gamma functions (Numerical Recipes, 3rd ed., §6.1–6.4) rather than taken from an npm
 * package: they are about 100 lines, need no dependency, and are tested against SciPy values.
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Input checks
// ---------------------------------------------------------------------------------------------

function checkSameLength(
  what: string,
  a: ArrayLike<unknown>,
  aName: string,
  b: ArrayLike<unknown>,
  bName: string,
): void {
  if (a.length !== b.length) {
    throw new TypeError(
      `Cannot compute ${what}: ${aName} has ${a.length} entries but ${bName} has ${b.length}`,
    );
  }
}

/** A 0/1 or boolean label as a boolean; anything else is a RangeError. */
function label(what: string, name: string, x: boolean | number, i: number): boolean {
  if (x === true || x === 1) return true;
  if (x === false || x === 0) return false;
  throw new RangeError(`Cannot compute ${what}: ${name}[${i}] is ${x}, expected 0, 1 or a boolean`);
}

function checkFinite(what: string, name: string, xs: ArrayLike<number>): void {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isFinite(x)) {
      throw new RangeError(
        `Cannot compute ${what}: ${name}[${i}] is ${x}, expected a finite number`,
      );
    }
  }
}

function checkClassCount(what: string, k: number): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`Cannot compute ${what}: k is ${k}, expected an integer >= 1`);
  }
}

function checkClassIndex(what: string, name: string, c: number, i: number, k: number): void {
  if (!Number.isInteger(c) || c < 0 || c >= k) {
    throw new RangeError(
      `Cannot compute ${what}: ${name}[${i}] is ${c}, expected a class index in [0, ${k})`,
    );
  }
}

/** a / b, or 0 when b is 0. */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/**
 * ROC AUC, the probability that a random positive scores above a random negative, ties counting
 * one half. This equals the Mann–Whitney U statistic with average ranks for ties, divided by
 * `nPos * nNeg`. It is computed in O(n log n) by sorting the positive and negative scores
 * separately (native typed-array sorts) and merging them.
 *
 * @param positive label of each example: `true`/`1` positive, `false`/`0` negative
 * @param scores score of each example, higher meaning more likely positive; must be finite
 * @returns the AUC in [0, 1], or `NaN` when only one class is present (or there are no examples)
 *
 * @example
 * ```ts
 * import { auc } from "./metrics.ts";
 * auc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3]); // 1
 * auc([true, false], [0.5, 0.5]); // 0.5
 * ```
 */
export function auc(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): number {
  const what = "AUC";
  checkSameLength(what, positive, "positive", scores, "scores");
  checkFinite(what, "scores", scores);
  const n = scores.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) if (label(what, "positive", positive[i]!, i)) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;

  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    if (positive[i] === true || positive[i] === 1) pos[p++] = scores[i]!;
    else neg[q++] = scores[i]!;
  }
  pos.sort();
  neg.sort();

  // For each positive score s (ascending), `below` = #negatives < s and `atOrBelow` =
  // #negatives <= s; both only move forward. U counts the ties as one half.
  let u = 0;
  let below = 0;
  let atOrBelow = 0;
  for (let i = 0; i < nPos; i++) {
    const s = pos[i]!;
    while (below < nNeg && neg[below]! < s) below++;
    if (atOrBelow < below) atOrBelow = below;
    while (atOrBelow < nNeg && neg[atOrBelow]! <= s) atOrBelow++;
    u += below + 0.5 * (atOrBelow - below);
  }
  return u / nPos / nNeg;
}

/** Confusion counts and derived rates for the positive class; see {@link binaryStats}. */
export interface BinaryStats {
  /** Predicted positive, truly positive. */
  tp: number;
  /** Predicted positive, truly negative. */
  fp: number;
  /** Predicted negative, truly positive. */
  fn: number;
  /** Predicted negative, truly negative. */
  tn: number;
  /** tp / (tp + fp); 0 when nothing is predicted positive. */
  precision: number;
  /** tp / (tp + fn); 0 when nothing is truly positive. */
  recall: number;
  /** 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall; 0 when that is 0 / 0. */
  f1: number;
  /** (tp + tn) / n; 0 when n = 0. */
  accuracy: number;
}

/**
 * Binary confusion stats for the positive class. Every rate whose denominator is 0 is 0, not NaN.
 *
 * @param positive true label of each example (`true`/`1` positive, `false`/`0` negative)
 * @param predictedPositive predicted label of each example, same encoding
 *
 * @example
 * ```ts
 * import { binaryStats } from "./metrics.ts";
 * const s = binaryStats([1, 1, 0, 0], [1, 0, 1, 0]);
 * s.tp; // 1
 * s.f1; // 0.5
 * ```
 */
export function binaryStats(
  positive: ArrayLike<boolean | number>,
  predictedPositive: ArrayLike<boolean | number>,
): BinaryStats {
  const what = "binary stats";
  checkSameLength(what, positive, "positive", predictedPositive, "predictedPositive");
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (let i = 0; i < positive.length; i++) {
    const t = label(what, "positive", positive[i]!, i);
    const p = label(what, "predictedPositive", predictedPositive[i]!, i);
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
    else tn++;
  }
  return {
    tp,
    fp,
    fn,
    tn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    accuracy: ratio(tp + tn, positive.length),
  };
}

/** Precision, recall, F1 and support of one class; see {@link perClassStats}. */
export interface ClassStats {
  /** Of the examples predicted as this class, the fraction that are; 0 when none predicted. */
  precision: number;
  /** Of the examples of this class, the fraction predicted as it; 0 when there are none. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  /** Number of examples whose true class is this one. */
  support: number;
}

/**
 * Per-class precision, recall, F1 and support for `k` classes (one-vs-rest), from true and
 * predicted class indices. Rates with a zero denominator are 0, as in scikit-learn's
 * `zero_division=0`.
 *
 * @param yTrue true class index of each example, an integer in `[0, k)`
 * @param yPred predicted class index of each example, an integer in `[0, k)`
 * @param k number of classes
 * @returns one entry per class, index = class
 *
 * @example
 * ```ts
 * import { perClassStats } from "./metrics.ts";
 * const [c0, c1] = perClassStats([0, 0, 1], [0, 1, 1], 2);
 * c0!.recall; // 0.5
 * c1!.precision; // 0.5
 * ```
 */
export function perClassStats(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  k: number,
): ClassStats[] {
  const what = "per-class stats";
  checkClassCount(what, k);
  checkSameLength(what, yTrue, "yTrue", yPred, "yPred");
  const tp = new Float64Array(k);
  const support = new Float64Array(k);
  const predicted = new Float64Array(k);
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    checkClassIndex(what, "yTrue", t, i, k);
    checkClassIndex(what, "yPred", p, i, k);
    support[t]!++;
    predicted[p]!++;
    if (t === p) tp[t]!++;
  }
  const out: ClassStats[] = [];
  for (let c = 0; c < k; c++) {
    const precision = ratio(tp[c]!, predicted[c]!);
    const recall = ratio(tp[c]!, support[c]!);
    out.push({
      precision,
      recall,
      f1: ratio(2 * precision * recall, precision + recall),
      support: support[c]!,
    });
  }
  return out;
}

/** Smallest probability {@link logLoss} takes the log of. */
export const LOG_LOSS_EPSILON = 1e-7;

/**
 * Mean negative log-likelihood of the true class (categorical cross-entropy). The probability of
 * the true class is clipped below at {@link LOG_LOSS_EPSILON} (1e-7), so one confident mistake
 * costs at most `-ln(1e-7)` ≈ 16.1; rows are not renormalized.
 *
 * @param probs predicted probabilities, row-major `[n, k]` (length `n * k`), each in [0, 1]
 * @param k number of classes (row length)
 * @param yTrue true class index of each of the `n` rows, an integer in `[0, k)`
 * @returns the mean loss in nats, or `NaN` when `n = 0`
 *
 * @example
 * ```ts
 * import { logLoss } from "./metrics.ts";
 * logLoss([0.5, 0.5, 1, 0], 2, [1, 0]); // (ln 2 + 0) / 2 ≈ 0.3466
 * ```
 */
export function logLoss(probs: ArrayLike<number>, k: number, yTrue: ArrayLike<number>): number {
  const what = "log-loss";
  checkClassCount(what, k);
  const n = yTrue.length;
  if (probs.length !== n * k) {
    throw new TypeError(
      `Cannot compute ${what}: probs has ${probs.length} entries, expected n * k = ${n} * ${k}`,
    );
  }
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = yTrue[i]!;
    checkClassIndex(what, "yTrue", c, i, k);
    const p = probs[i * k + c]!;
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(
        `Cannot compute ${what}: probs[${i * k + c}] (row ${i}, class ${c}) is ${p}, ` +
          "expected a probability in [0, 1]",
      );
    }
    sum -= Math.log(Math.max(p, LOG_LOSS_EPSILON));
  }
  return sum / n;
}

/**
 * Expected calibration error of a binary probability: the predictions are put into `bins`
 * equal-width bins of [0, 1] (a probability of exactly 1 goes into the last), and the error is
 * the mean over bins of |positive rate − mean probability|, weighted by each bin's share of
 * the examples. 0 is perfectly calibrated; empty bins count nothing.
 *
 * @param labels label of each example: `true`/`1` positive, `false`/`0` negative
 * @param probs predicted probability of a positive label of each example, in [0, 1]
 * @param bins number of equal-width bins, an integer >= 1 @default 10
 * @returns the error in [0, 1], or `NaN` when there are no examples
 *
 * @example
 * ```ts
 * import { expectedCalibrationError } from "./metrics.ts";
 * expectedCalibrationError([1, 0, 1, 1], [0.75, 0.75, 0.75, 0.75]); // 0: 3 of 4 are positive
 * expectedCalibrationError([0, 0], [0.9, 0.1]); // (|0 − 0.9| + |0 − 0.1|) / 2 = 0.5
 * ```
 */
export function expectedCalibrationError(
  labels: ArrayLike<boolean | number>,
  probs: ArrayLike<number>,
  bins = 10,
): number {
  const what = "expected calibration error";
  checkSameLength(what, labels, "labels", probs, "probs");
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`Cannot compute ${what}: bins is ${bins}, expected an integer >= 1`);
  }
  const n = probs.length;
  if (n === 0) return NaN;
  const count = new Float64Array(bins), pos = new Float64Array(bins), sum = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = probs[i]!;
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(`Cannot compute ${what}: probs[${i}] is ${p}, expected [0, 1]`);
    }
    const b = Math.min(Math.floor(p * bins), bins - 1);
    count[b]!++;
    sum[b]! += p;
    if (label(what, "labels", labels[i]!, i)) pos[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b]! > 0) ece += Math.abs(pos[b]! - sum[b]!) / n;
  }
  return ece;
}

// ---------------------------------------------------------------------------------------------
// Ranking
// ---------------------------------------------------------------------------------------------

/**
 * Average precision of a ranked list: the sum of precision@i over the ranks i that hold a
 * relevant id, divided by `min(|relevant|, ranked.length)`. An id repeated in `ranked` counts as
 * a hit only the first time. Mean over queries gives MAP.
 *
 * @param ranked recommended ids, best first
 * @param relevant the ids that are relevant
 * @returns AP in [0, 1]; 0 when `relevant` or `ranked` is empty
 *
 * @example
 * ```ts
 * import { averagePrecision } from "./metrics.ts";
 * averagePrecision(["a", "x", "b"], new Set(["a", "b"])); // (1/1 + 2/3) / 2 ≈ 0.8333
 * ```
 */
export function averagePrecision(
  ranked: readonly (string | number)[],
  relevant: ReadonlySet<string | number>,
): number {
  const denominator = Math.min(relevant.size, ranked.length);
  if (denominator === 0) return 0;
  const seen = new Set<string | number>();
  let hits = 0;
  let sum = 0;
  for (let i = 0; i < ranked.length; i++) {
    const id = ranked[i]!;
    if (relevant.has(id) && !seen.has(id)) {
      seen.add(id);
      hits++;
      sum += hits / (i + 1);
    }
  }
  return sum / denominator;
}

/**
 * NDCG@k: DCG of the first `k` ranked ids divided by the DCG of an ideal ranking, with the
 * discount `1 / log2(rank + 1)` (rank 1-based). Gains are binary (1 for an id in a `Set`) or
 * graded (the value of a `Map`, used linearly). An id repeated in `ranked` gains only the first
 * time.
 *
 * @param ranked recommended ids, best first
 * @param relevant relevant ids (gain 1 each), or a map from id to a finite gain >= 0
 * @param k cut-off, an integer >= 1
 * @returns NDCG in [0, 1]; 0 when no id has a positive gain
 *
 * @example
 * ```ts
 * import { ndcgAtK } from "./metrics.ts";
 * ndcgAtK(["x", "a"], new Set(["a"]), 2); // (1/log2 3) / 1 ≈ 0.6309
 * ```
 */
export function ndcgAtK(
  ranked: readonly (string | number)[],
  relevant: ReadonlySet<string | number> | ReadonlyMap<string | number, number>,
  k: number,
): number {
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`Cannot compute NDCG@k: k is ${k}, expected an integer >= 1`);
  }
  const graded = typeof (relevant as ReadonlyMap<unknown, unknown>).get === "function";
  const gainOf = graded
    ? (id: string | number) => (relevant as ReadonlyMap<string | number, number>).get(id) ?? 0
    : (id: string | number) => (relevant.has(id) ? 1 : 0);
  const gains: number[] = [];
  if (graded) {
    for (const [id, g] of relevant as ReadonlyMap<string | number, number>) {
      if (!(Number.isFinite(g) && g >= 0)) {
        throw new RangeError(
          `Cannot compute NDCG@k: the gain of ${JSON.stringify(id)} is ${g}, expected a ` +
            "finite number >= 0",
        );
      }
      if (g > 0) gains.push(g);
    }
  } else {
    for (let i = 0; i < relevant.size; i++) gains.push(1);
  }
  gains.sort((a, b) => b - a);
  let ideal = 0;
  for (let i = 0; i < Math.min(k, gains.length); i++) ideal += gains[i]! / Math.log2(i + 2);
  if (ideal === 0) return 0;

  const seen = new Set<string | number>();
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) {
    const id = ranked[i]!;
    if (seen.has(id)) continue;
    seen.add(id);
    dcg += gainOf(id) / Math.log2(i + 2);
  }
  return dcg / ideal;
}

// ---------------------------------------------------------------------------------------------
// Across runs: summary and significance tests
// ---------------------------------------------------------------------------------------------

/** Mean, sample standard deviation and count; see {@link meanStd}. */
export interface MeanStd {
  /** Arithmetic mean; NaN when n = 0. */
  mean: number;
  /** Sample standard deviation (divisor n - 1); 0 when n = 1, NaN when n = 0. */
  std: number;
  /** Number of values. */
  n: number;
}

/**
 * Mean and sample (n - 1) standard deviation, computed in two passes for accuracy.
 *
 * @param xs finite values
 *
 * @example
 * ```ts
 * import { meanStd } from "./metrics.ts";
 * meanStd([1, 2, 3]); // { mean: 2, std: 1, n: 3 }
 * ```
 */
export function meanStd(xs: readonly number[]): MeanStd {
  checkFinite("mean and std", "xs", xs);
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  if (n === 1) return { mean, std: 0, n };
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}

/** Result of {@link pairedTTest}. */
export interface TTestResult {
  /** t statistic, mean(a - b) / (sd(a - b) / sqrt(n)). */
  t: number;
  /** Degrees of freedom, n - 1. */
  df: number;
  /** Two-sided p-value from the Student-t distribution with `df` degrees of freedom. */
  p: number;
  /** mean(a - b). */
  meanDiff: number;
}

/**
 * Paired two-sided t-test of mean(a - b) = 0 (as SciPy's `ttest_rel`). The p-value is exact:
 * `p = I_x(df/2, 1/2)` with `x = df / (df + t²)`, the regularized incomplete beta function.
 *
 * Degenerate cases: with n < 2 pairs, `t` and `p` are NaN. When every difference is the same,
 * `t` is ±Infinity and `p` is 0 if that difference is non-zero, and both are NaN if it is 0.
 *
 * @param a first value of each pair (e.g. method A's score per seed); finite
 * @param b second value of each pair, same length; finite
 *
 * @example
 * ```ts
 * import { pairedTTest } from "./metrics.ts";
 * const r = pairedTTest([2, 4, 6], [1, 2, 3]); // differences 1, 2, 3
 * r.t; // 2 / (1 / sqrt 3) ≈ 3.4641
 * r.df; // 2
 * ```
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): TTestResult {
  const what = "paired t-test";
  checkSameLength(what, a, "a", b, "b");
  checkFinite(what, "a", a);
  checkFinite(what, "b", b);
  const d = a.map((x, i) => x - b[i]!);
  const { mean, std, n } = meanStd(d);
  const df = Math.max(n - 1, 0);
  if (n < 2) return { t: NaN, df, p: NaN, meanDiff: mean };
  if (std === 0) {
    return mean === 0
      ? { t: NaN, df, p: NaN, meanDiff: 0 }
      : { t: mean > 0 ? Infinity : -Infinity, df, p: 0, meanDiff: mean };
  }
  const t = mean / (std / Math.sqrt(n));
  return { t, df, p: studentTTwoSidedP(t, df), meanDiff: mean };
}

/** Result of {@link wilcoxonSignedRank}. */
export interface WilcoxonResult {
  /** min(W+, W-): the smaller of the rank sums of the positive and negative differences. */
  w: number;
  /** Two-sided p-value. */
  p: number;
  /** Number of non-zero differences (the pairs the test uses). */
  n: number;
}

/** Largest number of non-zero differences for which {@link wilcoxonSignedRank} is exact. */
export const WILCOXON_EXACT_MAX_N = 20;

/**
 * Wilcoxon signed-rank test of the differences `a - b`, two-sided. Zero differences are dropped
 * (Wilcoxon's method, SciPy's default `zero_method="wilcox"`); the others are ranked by absolute
 * value, ties getting average ranks (values compared exactly).
 *
 * With n <= {@link WILCOXON_EXACT_MAX_N} (20) non-zero differences the p-value is exact: the
 * distribution of W+ over all 2^n sign assignments of the observed ranks (with tied ranks this is
 * the exact conditional distribution). Above that, the normal approximation with the tie
 * correction `Σ(t³ - t) / 48` to the variance and no continuity correction (as SciPy's
 * `method="approx"`). With no non-zero difference, `p` is NaN.
 *
 * @param a first value of each pair; finite
 * @param b second value of each pair, same length; finite
 *
 * @example
 * ```ts
 * import { wilcoxonSignedRank } from "./metrics.ts";
 * const r = wilcoxonSignedRank([2, 3, 4, 5, 6], [1, 1, 1, 1, 1]); // all 5 differences > 0
 * r.w; // 0
 * r.p; // 2 / 2^5 = 0.0625
 * ```
 */
export function wilcoxonSignedRank(a: readonly number[], b: readonly number[]): WilcoxonResult {
  const what = "Wilcoxon signed-rank test";
  checkSameLength(what, a, "a", b, "b");
  checkFinite(what, "a", a);
  checkFinite(what, "b", b);
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! - b[i]!;
    if (x !== 0) d.push(x);
  }
  const n = d.length;
  if (n === 0) return { w: 0, p: NaN, n };

  // Doubled average ranks are integers: a tie block at 1-based ranks i..j gets (i + j) / 2.
  const order = d.map((_, i) => i).sort((i, j) => Math.abs(d[i]!) - Math.abs(d[j]!));
  const rank2 = new Array<number>(n);
  let tieTerm = 0; // Σ (t³ - t) over tie blocks
  for (let start = 0; start < n;) {
    let end = start + 1;
    const v = Math.abs(d[order[start]!]!);
    while (end < n && Math.abs(d[order[end]!]!) === v) end++;
    const r2 = start + 1 + end; // (start + 1) + end, the sum of the block's first and last rank
    for (let m = start; m < end; m++) rank2[order[m]!] = r2;
    const t = end - start;
    tieTerm += t * t * t - t;
    start = end;
  }
  let wPlus2 = 0;
  for (let i = 0; i < n; i++) if (d[i]! > 0) wPlus2 += rank2[i]!;
  const total2 = n * (n + 1);
  const w2 = Math.min(wPlus2, total2 - wPlus2);
  const w = w2 / 2;

  if (n <= WILCOXON_EXACT_MAX_N) {
    // counts[s] = number of sign assignments whose doubled positive-rank sum is s.
    const counts = new Float64Array(total2 + 1);
    counts[0] = 1;
    let reach = 0;
    for (let i = 0; i < n; i++) {
      const r = rank2[i]!;
      for (let s = reach; s >= 0; s--) counts[s + r]! += counts[s]!;
      reach += r;
    }
    let tail = 0;
    for (let s = 0; s <= w2; s++) tail += counts[s]!;
    return { w, p: Math.min(1, (2 * tail) / 2 ** n), n };
  }
  const mean = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48;
  const z = (w - mean) / Math.sqrt(variance);
  return { w, p: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)), n };
}

// ---------------------------------------------------------------------------------------------
// Special functions (Numerical Recipes, 3rd ed., §6.1, §6.2, §6.4)
// ---------------------------------------------------------------------------------------------

/** Lanczos coefficients of NR3 `gammln` (g = 671/128, 14 terms; relative error < 1e-15). */
const LANCZOS = [
  57.1562356658629235,
  -59.5979603554754912,
  14.1360979747417471,
  -0.491913816097620199,
  0.339946499848118887e-4,
  0.465236289270485756e-4,
  -0.983744753048795646e-4,
  0.158088703224912494e-3,
  -0.210264441724104883e-3,
  0.217439618115212643e-3,
  -0.164318106536763890e-3,
  0.844182239838527433e-4,
  -0.261908384015814087e-4,
  0.368991826595316234e-5,
];

/**
 * ln Γ(x) for x > 0 (Lanczos approximation, NR3 `gammln`; relative error below 1e-15).
 *
 * @example
 * ```ts
 * import { lnGamma } from "./metrics.ts";
 * lnGamma(5); // ln 4! = ln 24 ≈ 3.1781
 * ```
 */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`Cannot compute ln Γ(x): x is ${x}, expected x > 0`);
  let y = x;
  const tmp0 = x + 5.2421875;
  const tmp = (x + 0.5) * Math.log(tmp0) - tmp0;
  let ser = 0.999999999999997092;
  for (const c of LANCZOS) ser += c / ++y;
  return tmp + Math.log((2.5066282746310005 * ser) / x);
}

/** Stirling's series remainder ω(x) = ln Γ(x) - [(x - ½) ln x - x + ½ ln 2π], for x >= 100. */
function stirlingRemainder(x: number): number {
  const x2 = x * x;
  return (1 / 12 - (1 / 360 - 1 / (1260 * x2)) / x2) / x;
}

/**
 * ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b). When one argument is large, ln Γ(big) and
 * ln Γ(big + small) are huge and nearly equal, so their difference is taken from Stirling's series
 * in closed form instead of by subtraction (relative error ~1e-15 rather than ~1e-8 at 1e7).
 */
function lnBeta(a: number, b: number): number {
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big < 100) return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
  const sum = big + small;
  const lnGammaRatio = -(big - 0.5) * Math.log1p(small / big) - small * Math.log(sum) + small +
    stirlingRemainder(big) - stirlingRemainder(sum); // ln Γ(big) - ln Γ(big + small)
  return lnGamma(small) + lnGammaRatio;
}

const FPMIN = 1e-300;
const EPS = Number.EPSILON;
const MAX_ITERATIONS = 100_000;

/** Continued fraction for the incomplete beta function (modified Lentz), NR3 `betacf`. */
function betaContinuedFraction(a: number, b: number, x: number, y: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  // 1 - qab·x / qap; near x = 1 written with y = 1 - x, where the direct form cancels.
  let d = x <= 0.5 ? 1 - (qab * x) / qap : (1 - b + qab * y) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) <= EPS) return h;
  }
  throw new Error(`Incomplete beta did not converge (a = ${a}, b = ${b}, x = ${x})`);
}

/**
 * Regularized incomplete beta function I_x(a, b), for a, b > 0 and x in [0, 1], by the continued
 * fraction of NR3 `betai`. `y` must be 1 - x; passing it separately keeps precision when x is
 * close to 1.
 *
 * @example
 * ```ts
 * import { regularizedIncompleteBeta } from "./metrics.ts";
 * regularizedIncompleteBeta(1, 1, 0.3); // I_x(1, 1) = x = 0.3
 * ```
 */
export function regularizedIncompleteBeta(a: number, b: number, x: number, y = 1 - x): number {
  if (!(a > 0 && b > 0)) {
    throw new RangeError(`Cannot compute I_x(a, b): a = ${a}, b = ${b}, expected both > 0`);
  }
  if (!(x >= 0 && x <= 1)) {
    throw new RangeError(`Cannot compute I_x(a, b): x is ${x}, expected x in [0, 1]`);
  }
  if (x === 0) return 0;
  if (y === 0) return 1;
  // log1p keeps a·ln x accurate when x is near 1 and a is large (a t-test with many pairs).
  const lnX = x > 0.5 ? Math.log1p(-y) : Math.log(x);
  const lnY = y > 0.5 ? Math.log1p(-x) : Math.log(y);
  const lnFront = a * lnX + b * lnY - lnBeta(a, b);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x, y)) / a;
  return 1 - (front * betaContinuedFraction(b, a, y, x)) / b;
}

/**
 * Two-sided tail P(|T| >= |t|) of Student's t with df > 0 degrees of freedom, as
 * I_x(df/2, 1/2) with x = df / (df + t²). Agrees with SciPy to ~1e-14 (relative) up to
 * df = 1e5 and ~1e-10 at df = 1e7.
 *
 * @example
 * ```ts
 * import { studentTTwoSidedP } from "./metrics.ts";
 * studentTTwoSidedP(1, 1); // Cauchy: 1 - (2/π)·atan(1) = 0.5
 * ```
 */
export function studentTTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  const t2 = t * t;
  return regularizedIncompleteBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x >= 0. */
function upperIncompleteGamma(a: number, x: number): number {
  if (x === 0) return 1;
  const lnFront = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    // Series for P(a, x), NR3 `gser`.
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < MAX_ITERATIONS; i++) {
      ap++;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) return 1 - sum * Math.exp(lnFront);
    }
  } else {
    // Continued fraction for Q(a, x), NR3 `gcf` (modified Lentz).
    let b = x + 1 - a;
    let c = 1 / FPMIN;
    let d = 1 / b;
    let h = d;
    for (let i = 1; i <= MAX_ITERATIONS; i++) {
      const an = -i * (i - a);
      b += 2;
      d = an * d + b;
      if (Math.abs(d) < FPMIN) d = FPMIN;
      c = b + an / c;
      if (Math.abs(c) < FPMIN) c = FPMIN;
      d = 1 / d;
      const del = d * c;
      h *= del;
      if (Math.abs(del - 1) <= EPS) return Math.exp(lnFront) * h;
    }
  }
  throw new Error(`Incomplete gamma did not converge (a = ${a}, x = ${x})`);
}

/**
 * Complementary error function, via erfc(z) = Q(1/2, z²) for z >= 0 and 2 - erfc(-z) below.
 * The two-sided normal tail P(|Z| >= z) is `erfc(z / Math.SQRT2)`.
 *
 * @example
 * ```ts
 * import { erfc } from "./metrics.ts";
 * erfc(1.959963984540054 / Math.SQRT2); // ≈ 0.05
 * ```
 */
export function erfc(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return z >= 0 ? upperIncompleteGamma(0.5, z * z) : 2 - upperIncompleteGamma(0.5, z * z);
}
