/**
 * Ridge-penalised logistic regression fitted by Newton's method, on weighted rows (a row
 * weight counts identical rows once): the fit of the learned leave model and of the support
 * model. Small feature counts only (a dense D×D Hessian per step).
 * @module
 */
import { logistic } from "./leave_features.ts";

/**
 * Rows of a logistic fit: feature vectors (`x[i][0]` must be 1, the bias), how many rows each
 * stands for, and how many of those are positive.
 */
export interface WeightedRows {
  x: Float64Array[];
  rows: number[];
  positives: number[];
}

/** Options of {@link fitLogistic}. */
export interface FitLogisticOptions {
  /** A fixed logit added to each row's (e.g. per-item effects fitted apart). @default none */
  offset?: ArrayLike<number>;
  /** The weights to start from (a warm start). @default the base rate's logit, zeros */
  start?: Float64Array;
  /** At most this many Newton steps. @default 100 */
  maxIterations?: number;
}

/** P(positive) of row i: σ(w·x_i + offset_i). */
function rowProb(g: WeightedRows, i: number, w: Float64Array, offset?: ArrayLike<number>): number {
  return logistic(w, g.x[i]!, offset?.[i] ?? 0);
}

/** Penalised negative log-likelihood of `w` on the groups. */
function objective(
  g: WeightedRows,
  w: Float64Array,
  l2: number,
  offset?: ArrayLike<number>,
): number {
  let loss = 0;
  for (let i = 0; i < g.x.length; i++) {
    const p = Math.min(Math.max(rowProb(g, i, w, offset), 1e-15), 1 - 1e-15);
    loss -= g.positives[i]! * Math.log(p) + (g.rows[i]! - g.positives[i]!) * Math.log(1 - p);
  }
  for (let d = 1; d < w.length; d++) loss += 0.5 * l2 * w[d]! * w[d]!;
  return loss;
}

/** Solves A x = b for a symmetric positive definite A (row-major D×D) by Cholesky. */
function solveSpd(A: Float64Array, b: Float64Array, D: number): Float64Array {
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * D + j]!;
      for (let k = 0; k < j; k++) s -= L[i * D + k]! * L[j * D + k]!;
      L[i * D + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j * D + j]!;
    }
  }
  const y = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * D + k]! * y[k]!;
    y[i] = s / L[i * D + i]!;
  }
  const x = new Float64Array(D);
  for (let i = D - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < D; k++) s -= L[k * D + i]! * x[k]!;
    x[i] = s / L[i * D + i]!;
  }
  return x;
}

/**
 * The Newton step −H⁻¹∇ of the penalised log-likelihood at `w`. Only H's lower triangle is
 * accumulated: the Cholesky solve reads no other entry.
 */
function newtonStep(
  g: WeightedRows,
  w: Float64Array,
  l2: number,
  offset?: ArrayLike<number>,
): Float64Array {
  const D = w.length;
  const grad = new Float64Array(D);
  const H = new Float64Array(D * D);
  for (let i = 0; i < g.x.length; i++) {
    const x = g.x[i]!, n = g.rows[i]!;
    const p = rowProb(g, i, w, offset);
    const r = n * p - g.positives[i]!, h = n * p * (1 - p);
    for (let a = 0; a < D; a++) {
      if (x[a] === 0) continue;
      grad[a]! += r * x[a]!;
      for (let b = 0; b <= a; b++) H[a * D + b]! += h * x[a]! * x[b]!;
    }
  }
  for (let d = 0; d < D; d++) {
    const pen = d === 0 ? 1e-9 : l2;
    grad[d]! += d === 0 ? 0 : l2 * w[d]!;
    H[d * D + d]! += pen;
  }
  return solveSpd(H, grad, D).map((v) => -v);
}

/**
 * Fits w by Newton's method with step halving, starting at the base rate: minimises the
 * negative log-likelihood of the weighted rows plus (l2 / 2)·|w[1:]|² (the bias `w[0]`, whose
 * feature must be the constant 1, is not penalised). Returns the weights and the iterations.
 *
 * @example
 * ```ts
 * import { fitLogistic } from "./newton_logistic.ts";
 * // Feature [1, x]: 3 of 4 rows at x = 1 are positive, 1 of 4 at x = 0.
 * const fit = fitLogistic({
 *   x: [Float64Array.of(1, 0), Float64Array.of(1, 1)],
 *   rows: [4, 4],
 *   positives: [1, 3],
 * }, 2, 0);
 * fit.w[1]!.toFixed(3); // "2.197": ln 3 − ln(1/3), the two groups' log-odds apart
 * ```
 */
export function fitLogistic(
  g: WeightedRows,
  D: number,
  l2: number,
  options: FitLogisticOptions = {},
): { w: Float64Array; iterations: number } {
  const { offset } = options;
  let w = options.start ? Float64Array.from(options.start) : new Float64Array(D);
  if (!options.start) {
    let rows = 0, positives = 0;
    for (let i = 0; i < g.x.length; i++) (rows += g.rows[i]!), (positives += g.positives[i]!);
    const rate = Math.min(Math.max(positives / Math.max(rows, 1), 1e-6), 1 - 1e-6);
    w[0] = Math.log(rate / (1 - rate)); // start at the base rate
  }
  let loss = objective(g, w, l2, offset);
  let it = 0;
  for (; it < (options.maxIterations ?? 100); it++) {
    const step = newtonStep(g, w, l2, offset);
    let t = 1, next = w, nextLoss = Infinity;
    for (let halvings = 0; halvings < 30; halvings++, t /= 2) {
      next = w.map((v, d) => v + t * step[d]!);
      nextLoss = objective(g, next, l2, offset);
      if (nextLoss <= loss) break;
    }
    if (!(nextLoss <= loss)) break;
    const moved = Math.max(...step.map((v) => Math.abs(t * v)));
    w = next;
    loss = nextLoss;
    if (moved < 1e-8) break;
  }
  return { w, iterations: it + 1 };
}
