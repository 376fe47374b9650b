/**
 * The replay check: for each held-out session, the return of the logged feedback (Σ r(label)
 * over its answered tuples) against the simulator's expected return for the same action
 * sequence, teacher-forced (each step's state is the logged history, its expected reward
 * Σ_k r_k·p_k). A simulator whose users react as the logged ones did gives a ratio near 1 and a
 * high correlation across sessions.
 * @module
 */
import { pearson } from "../eval/fidelity_metrics.ts";

/** The replay check's figures. */
export interface ReplayReport {
  /** Sessions with at least one answered tuple. */
  sessions: number;
  /** Answered tuples summed over. */
  steps: number;
  /** Mean over sessions of the logged return. */
  mean_logged: number;
  /** Mean over sessions of the expected return. */
  mean_simulated: number;
  /** mean_simulated / mean_logged (null when the logged mean is 0). */
  ratio: number;
  /** Pearson correlation across sessions of the logged and expected returns. */
  correlation: number;
  /**
   * The same for the returns per step (return / steps): sums grow with the session's length on
   * both sides, which alone correlates them; per step, only the users' behaviour does.
   */
  correlation_per_step: number;
}

/** Σ_k r_k·p_k of each probability row [n, K]. */
export function expectedRewards(probs: Float64Array, rewards: readonly number[]): Float64Array {
  const K = rewards.length;
  const n = probs.length / K;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += probs[i * K + k]! * rewards[k]!;
    out[i] = s;
  }
  return out;
}

/**
 * The replay check of steps grouped into sessions: `session[i]` names step i's session (any
 * number), `logged[i]` is the reward of its logged label, `expected[i]` the simulator's
 * expected reward.
 *
 * @example
 * ```ts
 * import { replayCheck } from "./replay.ts";
 * const r = replayCheck([7, 7, 9], [1, 0, 1], [0.5, 0.5, 0.25]);
 * [r.sessions, r.mean_logged, r.mean_simulated]; // [2, 1, 0.625]
 * ```
 */
export function replayCheck(
  session: ArrayLike<number>,
  logged: ArrayLike<number>,
  expected: ArrayLike<number>,
): ReplayReport {
  if (session.length !== logged.length || logged.length !== expected.length) {
    throw new TypeError(
      `replayCheck: ${session.length} sessions, ${logged.length} logged and ${expected.length} expected rewards`,
    );
  }
  const sums = new Map<number, { logged: number; expected: number; steps: number }>();
  for (let i = 0; i < session.length; i++) {
    let s = sums.get(session[i]!);
    if (!s) sums.set(session[i]!, s = { logged: 0, expected: 0, steps: 0 });
    s.logged += logged[i]!;
    s.expected += expected[i]!;
    s.steps++;
  }
  const rows = [...sums.values()];
  const n = rows.length;
  const mean = (f: (r: (typeof rows)[number]) => number) =>
    n ? rows.reduce((a, r) => a + f(r), 0) / n : NaN;
  const meanLogged = mean((r) => r.logged);
  const meanSimulated = mean((r) => r.expected);
  return {
    sessions: n,
    steps: session.length,
    mean_logged: meanLogged,
    mean_simulated: meanSimulated,
    ratio: meanLogged === 0 ? NaN : meanSimulated / meanLogged,
    correlation: pearson(rows.map((r) => r.logged), rows.map((r) => r.expected)),
    correlation_per_step: pearson(
      rows.map((r) => r.logged / r.steps),
      rows.map((r) => r.expected / r.steps),
    ),
  };
}
