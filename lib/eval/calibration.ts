/**
 * Temperature scaling (Guo et al., 2017): one scalar T > 0 divides the discriminator's K
 * real-class logits, p = softmax(z_real / T), fitted by minimising the log-loss on the
 * validation tuples. T > 1 softens an over-confident model, T < 1 sharpens an under-confident
 * one; the arg-max class, and so F1 and accuracy, never change. Plain TypeScript, no tensors.
 * @module
 */

/** Log-loss, expected calibration error and AUC of P(positive) under one temperature. */
export interface CalibrationMetrics {
  /** Mean negative log-likelihood of the true class (restricted softmax). */
  logLoss: number;
  /** Expected calibration error of P(positive), 10 equal-width bins. */
  ece: number;
  /** ROC AUC of P(positive). */
  auc: number;
}

/** The same tuples' {@link CalibrationMetrics} without (T = 1) and with the temperature. */
export interface CalibrationComparison {
  before: CalibrationMetrics;
  after: CalibrationMetrics;
}

/**
 * A checkpoint's calibration (config.json's `calibration`): the temperature and what it did on
 * the validation tuples it was fitted on. A checkpoint without one answers with T = 1.
 */
export interface ModelCalibration {
  method: "temperature";
  /** T of p = softmax(z_real / T). */
  temperature: number;
  /** Validation log-loss, ECE and AUC before and after. */
  validation: CalibrationComparison;
}

/**
 * The calibration block of `train`'s and `eval`'s JSON: the method and temperature, the
 * validation figures of the fit (when there was one) and the test figures before and after.
 */
export interface CalibrationReport {
  method: "temperature" | "none";
  temperature: number;
  validation?: CalibrationComparison;
  test: CalibrationComparison;
}

/** Smallest and largest temperature {@link fitTemperature} considers. */
export const TEMPERATURE_RANGE: readonly [number, number] = [0.05, 20];

/** Smallest probability whose log stands in for a logit (the least positive float32). */
const LOGIT_FLOOR = 1.4e-45;

/** Checks that `t` is a usable temperature; throws a RangeError naming `what`. */
function checkTemperature(what: string, t: number): void {
  if (!(t > 0 && Number.isFinite(t))) {
    throw new RangeError(`${what}: temperature is ${t}, expected a positive finite number`);
  }
}

/**
 * Logits of rows of probabilities, up to a constant per row: ln p, with p below the least
 * positive float32 (an underflowed softmax) taken as that value so every logit is finite.
 *
 * @example
 * ```ts
 * import { logitsOfProbs } from "./calibration.ts";
 * logitsOfProbs([0.5, 0.5, 1, 0])[3]; // ≈ -103.3: ln(1.4e-45), a zero's stand-in
 * ```
 */
export function logitsOfProbs(probs: ArrayLike<number>): Float64Array {
  const out = new Float64Array(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = Math.log(Math.max(probs[i]!, LOGIT_FLOOR));
  return out;
}

/**
 * Rows of probabilities at temperature `temperature`: softmax(ln p / T), which is
 * softmax(z / T) for the logits z the probabilities came from (p ∝ exp z). At T = 1 the rows
 * are copied as they are (no renormalisation, so the numbers stay bit-identical). A row of
 * zeros (no real-class mass at all) stays zeros.
 *
 * @param probs row-major `[n, k]` probabilities
 * @param k classes per row
 * @param temperature T > 0
 *
 * @example
 * ```ts
 * import { temperatureScale } from "./calibration.ts";
 * temperatureScale([0.8, 0.2], 2, 2); // [2/3, 1/3]: √0.8 : √0.2 = 2 : 1
 * ```
 */
export function temperatureScale(
  probs: ArrayLike<number>,
  k: number,
  temperature: number,
): Float64Array {
  checkTemperature("temperatureScale", temperature);
  const out = Float64Array.from(probs);
  if (temperature === 1) return out;
  const inv = 1 / temperature;
  for (let r = 0; r < out.length; r += k) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, out[r + c]!);
    if (max === 0) continue;
    // Relative to the row's largest value, so the largest power is 1 and the sum cannot underflow.
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[r + c] = (out[r + c]! / max) ** inv;
    for (let c = 0; c < k; c++) out[r + c]! /= sum;
  }
  return out;
}

/**
 * Mean negative log-likelihood of the true classes under softmax(β · logits) and its
 * derivative in β: d/dβ = mean(E_q[z] − z_y), q = softmax(βz). The loss is convex in β, so the
 * derivative increases with β.
 */
function nllAndSlope(
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
  beta: number,
): { nll: number; slope: number } {
  const n = yTrue.length;
  let nll = 0, slope = 0;
  for (let i = 0; i < n; i++) {
    const r = i * k;
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, beta * logits[r + c]!);
    let sum = 0, mean = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(beta * logits[r + c]! - max);
      sum += e;
      mean += e * logits[r + c]!;
    }
    const zy = logits[r + yTrue[i]!]!;
    nll += max + Math.log(sum) - beta * zy;
    slope += mean / sum - zy;
  }
  return { nll: nll / n, slope: slope / n };
}

/**
 * Mean log-loss of the true classes under softmax(logits / T), unclipped, in nats.
 *
 * @example
 * ```ts
 * import { temperatureLogLoss } from "./calibration.ts";
 * temperatureLogLoss([0, 0], 2, [1], 3); // ln 2: equal logits give 1/2 at any T
 * ```
 */
export function temperatureLogLoss(
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
  temperature: number,
): number {
  checkTemperature("temperatureLogLoss", temperature);
  return nllAndSlope(logits, k, yTrue, 1 / temperature).nll;
}

/**
 * The temperature T in {@link TEMPERATURE_RANGE} that minimises the mean log-loss of
 * softmax(logits / T) on the rows: the log-loss is convex in β = 1/T, so its derivative is
 * bisected (in ln β, 100 halvings: far below float64 resolution); deterministic. An end of the
 * range is returned when the minimum lies beyond it, and 1 when the loss does not depend on T
 * (every row's logits equal) or there are no rows.
 *
 * @param logits row-major `[n, k]` logits; any constant per row may be added (log-probabilities do)
 * @param k classes per row
 * @param yTrue true class of each of the `n` rows, in `[0, k)`
 * @throws {TypeError} when `logits` does not hold `n * k` values
 * @throws {RangeError} on a non-finite logit or a class outside `[0, k)`
 *
 * @example
 * ```ts
 * import { fitTemperature } from "./calibration.ts";
 * // Always right but only 73% sure: a smaller temperature (sharper) fits better.
 * fitTemperature([1, 0, 0, 1], 2, [0, 1]); // 0.05, the range's end
 * ```
 */
export function fitTemperature(
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
): number {
  const n = yTrue.length;
  if (!Number.isInteger(k) || k < 1 || logits.length !== n * k) {
    throw new TypeError(`fitTemperature: ${logits.length} logits for ${n} rows of ${k} classes`);
  }
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i]!)) {
      throw new RangeError(
        `fitTemperature: logits[${i}] is ${logits[i]}, expected a finite number`,
      );
    }
  }
  for (let i = 0; i < n; i++) {
    const y = yTrue[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new RangeError(`fitTemperature: yTrue[${i}] is ${y}, expected a class in [0, ${k})`);
    }
  }
  if (n === 0) return 1;
  const slope = (lnBeta: number) => nllAndSlope(logits, k, yTrue, Math.exp(lnBeta)).slope;
  let lo = -Math.log(TEMPERATURE_RANGE[1]), hi = -Math.log(TEMPERATURE_RANGE[0]);
  const atLo = slope(lo), atHi = slope(hi);
  // The slope rises by ∫ Var_q(z) dβ over the range: nothing when every row's logits are equal.
  if (atHi - atLo <= 1e-12) return 1;
  if (atLo >= 0) return TEMPERATURE_RANGE[1];
  if (atHi <= 0) return TEMPERATURE_RANGE[0];
  for (let i = 0; i < 100 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (slope(mid) < 0) lo = mid;
    else hi = mid;
  }
  return Math.exp(-(lo + hi) / 2);
}
