/**
 * Paired comparisons over seeds for `deno task fidelity:logs` (bench/fidelity_logs.ts): the mean
 * and sd of per-seed differences, the paired t statistic, and an EXACT sign-flip permutation
 * p-value (all 2^n sign patterns of the differences). No I/O and no distribution tables.
 * @module
 */
import { meanStd } from "../lib/eval/metrics.ts";

/** Largest n enumerated exactly (2^20 ≈ 10^6 sign patterns). */
export const MAX_EXACT_N = 20;

/** A paired comparison of n per-seed differences d_i = a_i − b_i. */
export interface PairedStats {
  /** Pairs compared (those where both values are finite). */
  n: number;
  /** Mean of d (NaN when n = 0). */
  mean: number;
  /** Sample standard deviation of d, n − 1 in the denominator (NaN when n < 2). */
  sd: number;
  /** Paired t = mean / (sd / √n): ±Infinity when sd = 0 and mean ≠ 0, NaN when n < 2. */
  t: number;
  /** Share of the 2^n sign flips whose sum is ≥ the observed sum (H1: mean > 0). */
  p_one_sided: number;
  /** Share of the 2^n sign flips whose |sum| is ≥ the observed |sum|. */
  p_two_sided: number;
  /** Pairs with d > 0, d = 0 and d < 0. */
  wins: number;
  ties: number;
  losses: number;
}

/**
 * Exact sign-flip permutation p-values of the differences `d`: under H0 (no difference) each d_i
 * is as likely to be −d_i, so the observed sum is compared with the sums of all 2^n sign
 * patterns. Sums within a relative 1e-12 of the observed one count as reaching it (ties in
 * floating point). Both are 1 when n = 0.
 * @throws {RangeError} when n > {@link MAX_EXACT_N}
 *
 * @example
 * ```ts
 * import { signFlipPValues } from "./_paired.ts";
 *
 * signFlipPValues([1, 2, 3]); // { one_sided: 0.125, two_sided: 0.25 }
 * ```
 */
export function signFlipPValues(d: readonly number[]): { one_sided: number; two_sided: number } {
  const n = d.length;
  if (n > MAX_EXACT_N) {
    throw new RangeError(`signFlipPValues: at most ${MAX_EXACT_N} differences, got ${n}`);
  }
  const observed = d.reduce((a, b) => a + b, 0);
  const tol = 1e-12 * Math.max(1, d.reduce((a, b) => a + Math.abs(b), 0));
  let upper = 0, extreme = 0;
  const patterns = 2 ** n;
  for (let mask = 0; mask < patterns; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i]! : d[i]!;
    if (s >= observed - tol) upper++;
    if (Math.abs(s) >= Math.abs(observed) - tol) extreme++;
  }
  return { one_sided: upper / patterns, two_sided: extreme / patterns };
}

/**
 * The paired comparison of `a` with `b` (same seeds, same order): pairs where either value is not
 * finite are left out.
 * @throws {RangeError} when the arrays differ in length
 *
 * @example
 * ```ts
 * import { pairedStats } from "./_paired.ts";
 *
 * const s = pairedStats([0.8, 0.9, 1.0], [0.7, 0.7, 0.7]); // d = 0.1, 0.2, 0.3
 * s.wins; // 3
 * s.p_one_sided; // 0.125
 * ```
 */
export function pairedStats(a: readonly number[], b: readonly number[]): PairedStats {
  if (a.length !== b.length) {
    throw new RangeError(
      `pairedStats: expected arrays of one length, got ${a.length} and ${b.length}`,
    );
  }
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! - b[i]!;
    if (Number.isFinite(x)) d.push(x);
  }
  return differenceStats(d);
}

/** {@link PairedStats} of the differences themselves. */
export function differenceStats(d: readonly number[]): PairedStats {
  const { mean, std, n } = meanStd(d);
  // Equal differences have sd 0 exactly (their float mean can differ from them by an ulp).
  const sd = n < 2 ? NaN : d.every((x) => x === d[0]) ? 0 : std;
  const t = n < 2 ? NaN : sd === 0 ? (mean === 0 ? NaN : Math.sign(mean) * Infinity) : mean /
    (sd / Math.sqrt(n));
  const p = signFlipPValues(d);
  return {
    n,
    mean,
    sd,
    t,
    p_one_sided: p.one_sided,
    p_two_sided: p.two_sided,
    wins: d.filter((x) => x > 0).length,
    ties: d.filter((x) => x === 0).length,
    losses: d.filter((x) => x < 0).length,
  };
}

/** The smallest one-sided sign-flip p-value n pairs can reach: 2^−n (all differences > 0). */
export function smallestPValue(n: number): number {
  return 2 ** -n;
}
