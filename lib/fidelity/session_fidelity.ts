/**
 * The `sessions` section of `recsimu fidelity --log`: how the checkpoint's learned leave model
 * (`lib/sim/leave.ts`) does on the held-out users' sessions.
 *
 * - **Leave prediction.** Every row of a held-out session is the question "does the user leave
 *   after this row?", yes on the session's last row, scored as `recsimu train` scores its own
 *   held-out share (`evaluateLeave` in `lib/train/fit_leave.ts`: AUC, log-loss, the base rate's
 *   log-loss). `train` fits the leave model on a seeded 80% of ALL the log's sessions, the users
 *   that `--split users` holds out from the networks included, so the section also says how
 *   many held-out sessions the leave fit saw and scores the others apart (`unseen`).
 * - **Session lengths.** The held-out sessions' logged lengths against the lengths of sessions
 *   simulated from an empty state with the replay policy on their items
 *   (`simulateSessionLengths`), each summarised (count, mean, min, p10, median, p90, max) and
 *   compared by the two-sample Kolmogorov–Smirnov distance.
 * @module
 */
import type { Dataset } from "../data/dataset.ts";
import { deriveSeed, Rng } from "../random.ts";
import { Progress } from "../progress.ts";
import type { LeaveModel } from "../sim/leave.ts";
import { loggedItems, simulateSessionLengths } from "../sim/session_lengths.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { evaluateLeave, leaveSplit, sessionLengths } from "../train/fit_leave.ts";
import type { LeaveEvaluation, LeaveModelData } from "../train/leave_features.ts";

/** Simulated sessions when none is asked: the held-out sessions, up to this many. */
export const DEFAULT_SESSION_SIMS_CAP = 1000;
/** Steps after which a simulated session is cut (`truncated`), by default. */
export const DEFAULT_SESSION_MAX_STEPS = 1000;

/** Summary statistics of session lengths (null where there are none). */
export interface LengthSummary {
  count: number;
  mean: number | null;
  min: number | null;
  /** Quantiles by linear interpolation between order statistics ({@link quantile}). */
  p10: number | null;
  median: number | null;
  p90: number | null;
  max: number | null;
}

/**
 * The q-quantile of ascending `sorted` by linear interpolation between order statistics
 * (Hyndman–Fan type 7, numpy's default): h = (n − 1)·q, x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]).
 * NaN for no values.
 *
 * @example
 * ```ts
 * import { quantile } from "./session_fidelity.ts";
 * quantile([1, 2, 3, 4], 0.5); // 2.5
 * quantile([1, 2, 3, 4], 0.1); // 1.3
 * ```
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) {
    throw new RangeError(`Cannot take a quantile: q must be in [0, 1], got ${q}`);
  }
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q, lo = Math.floor(h), hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Count, mean, min, p10, median, p90 and max of `lengths`.
 *
 * @example
 * ```ts
 * import { lengthSummary } from "./session_fidelity.ts";
 * lengthSummary([4, 1, 3, 2]);
 * // { count: 4, mean: 2.5, min: 1, p10: 1.3, median: 2.5, p90: 3.7, max: 4 }
 * ```
 */
export function lengthSummary(lengths: ArrayLike<number>): LengthSummary {
  const s = Float64Array.from(lengths).sort();
  const n = s.length;
  const or = (x: number) => (n === 0 ? null : x);
  return {
    count: n,
    mean: or(s.reduce((a, b) => a + b, 0) / n),
    min: or(s[0]!),
    p10: or(quantile(s, 0.1)),
    median: or(quantile(s, 0.5)),
    p90: or(quantile(s, 0.9)),
    max: or(s[n - 1]!),
  };
}

/**
 * The two-sample Kolmogorov–Smirnov distance D = max over x of |F_a(x) − F_b(x)|, F the
 * empirical distribution functions (the share of values ≤ x): 0 for the same distribution, 1
 * for samples that do not overlap. NaN when a sample is empty.
 *
 * @example
 * ```ts
 * import { ksDistance } from "./session_fidelity.ts";
 * ksDistance([1, 2, 3], [1, 2, 3]); // 0
 * ksDistance([1, 2], [3, 4]); // 1
 * ksDistance([1, 2, 3, 4], [3, 4, 5, 6]); // 0.5 (at x = 2: 2/4 − 0)
 * ```
 */
export function ksDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort(), y = Float64Array.from(b).sort();
  const n = x.length, m = y.length;
  if (n === 0 || m === 0) return NaN;
  let i = 0, j = 0, d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n && x[i]! <= v) i++; // every value tied at v is counted before comparing
    while (j < m && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d; // past the end of one sample the gap only narrows
}

/**
 * The distance above which the two-sample KS test rejects "same distribution" at level `alpha`,
 * asymptotically: c(α)·√((n + m)/(n·m)) with c(α) = √(−ln(α/2)/2) (1.358 at 5%). With many tied
 * values (integer lengths) the test is conservative. NaN when a sample is empty.
 *
 * @example
 * ```ts
 * import { ksCritical } from "./session_fidelity.ts";
 * ksCritical(100, 100).toFixed(3); // "0.192"
 * ```
 */
export function ksCritical(n: number, m: number, alpha = 0.05): number {
  if (n < 1 || m < 1) return NaN;
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

/** Logged against simulated session lengths. */
export interface SessionLengthComparison {
  /** Always `"replay"`: simulated session i recommends the items of a held-out session in order. */
  policy: "replay";
  /** Root seed of the simulated sessions. */
  seed: number;
  /** Step cap of a simulated session. */
  max_steps: number;
  /** The held-out sessions' logged lengths (rows). */
  logged: LengthSummary;
  /** The simulated sessions' lengths, and how many the cap cut; null when none was simulated. */
  simulated: (LengthSummary & { truncated: number }) | null;
  /** Two-sample KS distance between the logged and the simulated lengths; null without both. */
  ks: number | null;
  /** The KS distance that rejects "same distribution" at 5% ({@link ksCritical}); null without both. */
  ks_critical_05: number | null;
}

/** The `sessions` section of a real-log report. */
export interface SessionFidelity {
  /** Held-out sessions (every test session, one-row sessions included). */
  held_out_sessions: number;
  /** The leave model on every row of the held-out sessions. */
  leave: LeaveEvaluation | null;
  /**
   * The held-out sessions the leave model was fitted on (`train` fits it on a share of all the
   * log's sessions), null when its split cannot be rebuilt; and its scores on the others.
   */
  leave_fit: { seen: number | null; unseen: LeaveEvaluation | null };
  lengths: SessionLengthComparison;
  /** Seconds this section took. */
  seconds: number;
}

/** Options of {@link sessionFidelity}. */
export interface SessionFidelityOptions {
  /**
   * Simulated sessions; 0 skips the simulation. When fewer than the held-out sessions, a seeded
   * sample of them (`deriveSeed(seed, "sessions:sample")`) is replayed; when more, they cycle.
   * @default min(held-out sessions, DEFAULT_SESSION_SIMS_CAP)
   */
  sims?: number;
  /** Steps after which a simulated session is cut. @default DEFAULT_SESSION_MAX_STEPS */
  maxSteps?: number;
  /** Root seed of the simulated sessions. @default 0 */
  seed?: number;
  /**
   * Ids of the sessions the leave model was fitted on ({@link leaveFitIds}); null when
   * unknown. @default null
   */
  fitIds?: ReadonlySet<string> | null;
  /** No progress on stderr. @default true */
  quiet?: boolean;
}

/**
 * The ids of the sessions of `ds` that `fitLeaveModel` fitted `leave` on: its seeded split
 * rebuilt on `ds` (the data set `recsimu train` fitted it on), or null when the rebuilt split's
 * sizes differ from the recorded ones (another data set, another held-out share, or a fit that
 * left sessions out: `excluded`).
 *
 * @example
 * ```ts ignore
 * const ids = leaveFitIds(trainDs, leave.data);
 * ids?.has("u1"); // whether the leave model saw u1's session end
 * ```
 */
export function leaveFitIds(
  ds: Dataset,
  leave: Pick<LeaveModelData, "seed" | "train" | "heldout">,
): Set<string> | null {
  const split = leaveSplit(ds, leave.seed);
  if (
    split.fit.length !== leave.train.sessions ||
    split.heldout.length !== (leave.heldout?.sessions ?? 0)
  ) return null;
  return new Set(Array.from(split.fit, (j) => ds.sessionIds[j]!));
}

/**
 * Judges leave model `leave` of simulator `sim` on the held-out sessions `held.sessions` of
 * `held.ds` (the log as read by the judge: every row, the simulator's state length and labels).
 * Seeded: the same inputs give the same section (but its `seconds`).
 * @throws {RangeError} when `held.ds` has other labels or another state length than `leave`
 */
export async function sessionFidelity(
  sim: SimulatorLike,
  leave: LeaveModel,
  held: { ds: Dataset; sessions: Int32Array },
  options: SessionFidelityOptions = {},
): Promise<SessionFidelity> {
  const t0 = performance.now();
  const { ds, sessions } = held;
  if (
    ds.labels.join("\n") !== leave.labels.join("\n") || ds.stateLength !== leave.data.state_length
  ) {
    throw new RangeError(
      `Cannot judge the leave model: it has labels ${leave.labels} and N = ${leave.data.state_length}, the log ${ds.labels} and N = ${ds.stateLength}`,
    );
  }
  const seed = options.seed ?? 0;
  const maxSteps = options.maxSteps ?? DEFAULT_SESSION_MAX_STEPS;
  const sims = options.sims ?? Math.min(sessions.length, DEFAULT_SESSION_SIMS_CAP);
  const fitIds = options.fitIds ?? null;
  const unseen = fitIds === null ? null : sessions.filter((j) => !fitIds.has(ds.sessionIds[j]!));
  const logged = sessionLengths(ds, sessions);
  let simulated: SessionLengthComparison["simulated"] = null, ks = null, critical = null;
  if (sims > 0 && sessions.length > 0) {
    const progress = new Progress("simulated sessions", sims, { quiet: options.quiet ?? true });
    const r = await simulateSessionLengths(sim, leave, {
      sessions: sims,
      replay: loggedItems(ds, replayed(sessions, sims, seed)),
      maxSteps,
      seed,
      batch: Math.min(sims, 1024),
      onProgress: (ended) => progress.update(ended),
    });
    simulated = { ...lengthSummary(r.lengths), truncated: r.truncated };
    ks = ksDistance(logged, r.lengths);
    critical = ksCritical(logged.length, r.lengths.length);
  }
  return {
    held_out_sessions: sessions.length,
    leave: evaluateLeave(leave.data, ds, { sessions }),
    leave_fit: {
      seen: unseen === null ? null : sessions.length - unseen.length,
      unseen: unseen === null ? null : evaluateLeave(leave.data, ds, { sessions: unseen }),
    },
    lengths: {
      policy: "replay",
      seed,
      max_steps: maxSteps,
      logged: lengthSummary(logged),
      simulated,
      ks,
      ks_critical_05: critical,
    },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The sessions replayed by `sims` simulated ones: all (cycled), or a seeded sample in order. */
function replayed(sessions: Int32Array, sims: number, seed: number): Int32Array {
  if (sims >= sessions.length) return sessions;
  const pick = new Rng(deriveSeed(seed, "sessions:sample")).shuffle(Int32Array.from(sessions));
  return pick.slice(0, sims).sort();
}
