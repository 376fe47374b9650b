/**
 * Temperature scaling (Guo et al., 2017): one scalar T > 0 divides the discriminator's K
 * real-class logits, p = softmax(z_real / T), fitted by minimising the log-loss on the
 * validation tuples. T > 1 softens an over-confident model, T < 1 sharpens an under-confident
 * one; the arg-max class, and so F1 and accuracy, never change. With a bias per class as well,
 * p = softmax(z_real / T + b) (Platt scaling's multi-class form, fitted the same way), a model
 * whose probabilities are off by a shift — too many positives predicted, say — is corrected
 * too; with two classes P(positive) stays a monotone function of D's, so its AUC does not
 * change. Plain TypeScript, no tensors.
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
  method: "temperature" | "temperature-bias";
  /** T of p = softmax(z_real / T + b). */
  temperature: number;
  /** b, one per class, the first 0 (`temperature-bias` only; absent means 0). */
  bias?: number[];
  /** Validation log-loss, ECE and AUC before and after. */
  validation: CalibrationComparison;
}

/**
 * The calibration block of `train`'s and `eval`'s JSON: the method and temperature, the
 * validation figures of the fit (when there was one) and the test figures before and after.
 */
export interface CalibrationReport {
  method: "temperature" | "temperature-bias" | "none";
  temperature: number;
  bias?: number[];
  validation?: CalibrationComparison;
  test: CalibrationComparison;
}

/**
 * What the answers are mapped by: p = softmax(ln p_D / T + b) over the K real classes; no bias
 * is b = 0.
 */
export interface CalibrationMap {
  temperature: number;
  bias?: readonly number[];
}

/** D as trained: T = 1, no bias. */
export const IDENTITY_CALIBRATION: CalibrationMap = Object.freeze({ temperature: 1 });

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
 * Refuses input a calibration fit cannot read: `logits` not `n * k` values (TypeError), a
 * non-finite logit or a class outside `[0, k)` (RangeError), each naming `what`.
 */
function checkFitInput(
  what: string,
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
): void {
  const n = yTrue.length;
  if (!Number.isInteger(k) || k < 1 || logits.length !== n * k) {
    throw new TypeError(`${what}: ${logits.length} logits for ${n} rows of ${k} classes`);
  }
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i]!)) {
      throw new RangeError(`${what}: logits[${i}] is ${logits[i]}, expected a finite number`);
    }
  }
  for (let i = 0; i < n; i++) {
    const y = yTrue[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new RangeError(`${what}: yTrue[${i}] is ${y}, expected a class in [0, ${k})`);
    }
  }
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
  checkFitInput("fitTemperature", logits, k, yTrue);
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

/** Checks that `bias` holds `k` finite numbers; throws a RangeError naming `what`. */
function checkBias(what: string, bias: readonly number[], k: number): void {
  if (bias.length !== k || !bias.every(Number.isFinite)) {
    throw new RangeError(`${what}: bias is ${JSON.stringify(bias)}, expected ${k} finite numbers`);
  }
}

/**
 * Rows of probabilities under a {@link CalibrationMap}: softmax(ln p / T + b). Without a bias
 * this is {@link temperatureScale} (bit-identical, T = 1 included); a row of zeros stays zeros,
 * and a zero stays zero.
 *
 * @example
 * ```ts
 * import { calibrateScale } from "./calibration.ts";
 * calibrateScale([0.5, 0.5], 2, { temperature: 1, bias: [0, Math.log(3)] }); // [0.25, 0.75]
 * ```
 */
export function calibrateScale(
  probs: ArrayLike<number>,
  k: number,
  map: CalibrationMap,
): Float64Array {
  const { temperature, bias } = map;
  if (!bias) return temperatureScale(probs, k, temperature);
  checkTemperature("calibrateScale", temperature);
  checkBias("calibrateScale", bias, k);
  const out = Float64Array.from(probs);
  const inv = 1 / temperature;
  let bMax = -Infinity;
  for (let c = 0; c < k; c++) bMax = Math.max(bMax, bias[c]!);
  const w = bias.map((b) => Math.exp(b - bMax)); // exp(b) up to a constant, the largest 1
  for (let r = 0; r < out.length; r += k) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, out[r + c]!);
    if (max === 0) continue;
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[r + c] = (out[r + c]! / max) ** inv * w[c]!;
    for (let c = 0; c < k; c++) out[r + c]! /= sum;
  }
  return out;
}

/**
 * Mean log-loss of the true classes under softmax(logits / T + b), unclipped, in nats.
 *
 * @example
 * ```ts
 * import { calibratedLogLoss } from "./calibration.ts";
 * calibratedLogLoss([0, 0], 2, [1], { temperature: 1, bias: [0, Math.log(3)] }); // -ln 0.75
 * ```
 */
export function calibratedLogLoss(
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
  map: CalibrationMap,
): number {
  checkTemperature("calibratedLogLoss", map.temperature);
  const beta = 1 / map.temperature, b = map.bias ?? new Array<number>(k).fill(0);
  checkBias("calibratedLogLoss", b, k);
  let nll = 0;
  for (let i = 0; i < yTrue.length; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, beta * logits[i * k + c]! + b[c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(beta * logits[i * k + c]! + b[c]! - max);
    const y = yTrue[i]!;
    nll += max + Math.log(sum) - beta * logits[i * k + y]! - b[y]!;
  }
  return nll / Math.max(yTrue.length, 1);
}

/** Ridge on the biases: keeps them finite when a class never occurs (per row, in nats). */
const BIAS_RIDGE = 1e-6;

/**
 * Mean NLL of softmax(β z + b) (b₀ = 0), with the ridge, and its gradient and Hessian in
 * θ = (β, b₁ … b_{K−1}). Row by row, with q the softmax and y the one-hot label: ∂/∂β =
 * E_q[z] − z_y, ∂/∂b_c = q_c − y_c; ∂²/∂β² = Var_q(z), ∂²/∂β∂b_c = q_c (z_c − E_q[z]),
 * ∂²/∂b_c∂b_d = q_c δ_cd − q_c q_d. The NLL is convex in θ (a softmax of an affine map).
 */
function nllGradHess(
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
  theta: Float64Array,
): { nll: number; grad: Float64Array; hess: Float64Array } {
  const n = yTrue.length, P = k; // parameters: β and k − 1 biases
  const grad = new Float64Array(P), hess = new Float64Array(P * P);
  const beta = theta[0]!;
  const q = new Float64Array(k);
  let nll = 0;
  for (let i = 0; i < n; i++) {
    const r = i * k;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      q[c] = beta * logits[r + c]! + (c > 0 ? theta[c]! : 0);
      max = Math.max(max, q[c]!);
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += q[c] = Math.exp(q[c]! - max);
    let ez = 0, ez2 = 0;
    for (let c = 0; c < k; c++) {
      q[c]! /= sum;
      ez += q[c]! * logits[r + c]!;
      ez2 += q[c]! * logits[r + c]! ** 2;
    }
    const y = yTrue[i]!;
    nll += max + Math.log(sum) - beta * logits[r + y]! - (y > 0 ? theta[y]! : 0);
    grad[0]! += ez - logits[r + y]!;
    hess[0]! += ez2 - ez * ez;
    for (let c = 1; c < k; c++) {
      grad[c]! += q[c]! - (c === y ? 1 : 0);
      const hb = q[c]! * (logits[r + c]! - ez);
      hess[c]! += hb;
      hess[c * P]! += hb;
      for (let d = 1; d < k; d++) hess[c * P + d]! += (c === d ? q[c]! : 0) - q[c]! * q[d]!;
    }
  }
  const m = Math.max(n, 1);
  nll /= m;
  for (let j = 0; j < P * P; j++) hess[j]! /= m;
  for (let j = 0; j < P; j++) grad[j]! /= m;
  for (let c = 1; c < k; c++) {
    nll += BIAS_RIDGE / 2 * theta[c]! ** 2;
    grad[c]! += BIAS_RIDGE * theta[c]!;
    hess[c * P + c]! += BIAS_RIDGE;
  }
  return { nll, grad, hess };
}

/** Solves the symmetric system `a x = b` (a: [n, n], row-major) by Gaussian elimination. */
function solve(a: Float64Array, b: Float64Array): Float64Array {
  const n = b.length;
  const m = Float64Array.from(a), x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r * n + col]!) > Math.abs(m[piv * n + col]!)) piv = r;
    }
    if (piv !== col) {
      for (let c = 0; c < n; c++) {
        [m[col * n + c], m[piv * n + c]] = [m[piv * n + c]!, m[col * n + c]!];
      }
      [x[col], x[piv]] = [x[piv]!, x[col]!];
    }
    const d = m[col * n + col]!;
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col]! / d;
      for (let c = col; c < n; c++) m[r * n + c]! -= f * m[col * n + c]!;
      x[r]! -= f * x[col]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let c = r + 1; c < n; c++) s -= m[r * n + c]! * x[c]!;
    x[r] = s / m[r * n + r]!;
  }
  return x;
}

/**
 * The temperature T and per-class bias b (b₀ = 0) that minimise the mean log-loss of
 * softmax(logits / T + b) on the rows, by damped Newton steps on (1/T, b) from (1, 0) with a
 * backtracking line search (the loss is convex, so this finds its minimum); deterministic. 1/T
 * is kept in {@link TEMPERATURE_RANGE}'s inverse; a ridge of 1e-6 keeps the biases finite when
 * a class never occurs. No rows give T = 1 and b = 0; logits that carry nothing (equal within
 * each row) keep T = 1 and fit b to the labels' log-odds.
 *
 * @param logits row-major `[n, k]` logits; any constant per row may be added (log-probabilities do)
 * @param k classes per row
 * @param yTrue true class of each of the `n` rows, in `[0, k)`
 * @throws {TypeError} when `logits` does not hold `n * k` values
 * @throws {RangeError} on a non-finite logit or a class outside `[0, k)`
 *
 * @example
 * ```ts
 * import { fitTemperatureBias } from "./calibration.ts";
 * // Equal logits, three of four rows class 1: the bias alone says 3 : 1.
 * const fit = fitTemperatureBias([0, 0, 0, 0, 0, 0, 0, 0], 2, [1, 1, 1, 0]);
 * fit.bias[1]; // ≈ ln 3
 * ```
 */
export function fitTemperatureBias(
  logits: ArrayLike<number>,
  k: number,
  yTrue: ArrayLike<number>,
): { temperature: number; bias: number[] } {
  const n = yTrue.length;
  checkFitInput("fitTemperatureBias", logits, k, yTrue);
  const [betaLo, betaHi] = [1 / TEMPERATURE_RANGE[1], 1 / TEMPERATURE_RANGE[0]];
  let theta = new Float64Array(k);
  theta[0] = 1;
  if (n === 0) return { temperature: 1, bias: new Array<number>(k).fill(0) };
  let cur = nllGradHess(logits, k, yTrue, theta);
  for (let it = 0; it < 100; it++) {
    // Levenberg damping keeps the step defined when the logits carry nothing (Var_q(z) = 0).
    const h = Float64Array.from(cur.hess);
    for (let j = 0; j < k; j++) h[j * k + j]! += 1e-9;
    const step = solve(h, cur.grad);
    let t = 1, next = cur, cand = theta;
    for (let ls = 0; ls < 40; ls++, t /= 2) {
      cand = theta.map((v, j) => v - t * step[j]!);
      cand[0] = Math.min(Math.max(cand[0]!, betaLo), betaHi);
      next = nllGradHess(logits, k, yTrue, cand);
      if (next.nll <= cur.nll) break;
    }
    if (!(next.nll <= cur.nll)) break;
    const moved = cand.reduce((s, v, j) => Math.max(s, Math.abs(v - theta[j]!)), 0);
    theta = cand;
    const gain = cur.nll - next.nll;
    cur = next;
    if (moved < 1e-12 || gain < 1e-15) break;
  }
  return { temperature: 1 / theta[0]!, bias: [0, ...Array.from(theta.subarray(1))] };
}
