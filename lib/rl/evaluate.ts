/**
 * Evaluation of policies with common random numbers: every policy runs the SAME list of
 * (seed, start state) episodes, and the environment's feedback sampling is a pure function of
 * (seed, step, probabilities), so differences between policies are not sampling noise of the
 * start states. Paired differences against a reference policy come with their own standard
 * error (smaller than either policy's when the episodes are correlated).
 * @module
 */
import type { SimEnvOptions } from "../sim/env.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { type EpisodeSpec, type Policy, rollout } from "./rollout.ts";

/** Mean and standard error of a sample. */
export interface MeanSe {
  /** Sample mean. */
  mean: number;
  /** Standard error of the mean: sd / √n (sample sd; 0 for n < 2). */
  stderr: number;
}

/** One policy's evaluation. */
export interface PolicyScore extends MeanSe {
  /** The policy's name. */
  policy: string;
  /** Episodes run. */
  episodes: number;
  /** Mean episode length, in steps. */
  meanSteps: number;
  /** Fraction of steps with positive feedback. */
  positiveRate: number;
  /**
   * Per-episode sum of the steps' expected rewards (Σ probs · rewards): the same quantity
   * without the feedback-sampling noise of the step itself.
   */
  expectedReturn: MeanSe;
  /** Paired difference of returns against the reference policy (absent for the reference). */
  vsReference?: MeanSe & { reference: string };
  /** Return of each episode, in spec order. */
  returns: number[];
}

/**
 * Mean and standard error.
 *
 * @example
 * ```ts
 * import { meanSe } from "./evaluate.ts";
 * meanSe([1, 2, 3]); // { mean: 2, stderr: 0.5773502691896258 }
 * ```
 */
export function meanSe(xs: readonly number[]): MeanSe {
  const n = xs.length;
  if (n === 0) return { mean: NaN, stderr: NaN };
  let mean = 0;
  for (const x of xs) mean += x;
  mean /= n;
  if (n < 2) return { mean, stderr: 0 };
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { mean, stderr: Math.sqrt(ss / (n - 1) / n) };
}

/** Options of {@link evaluatePolicies}. */
export interface EvaluateOptions {
  /** The episodes every policy runs. */
  episodes: readonly EpisodeSpec[];
  /** Environment options (max steps, leaving, rewards). */
  env: SimEnvOptions;
  /** Seed of the policies' own random choices (the same for every policy). */
  policySeed: number;
  /** Name of the policy the paired differences are taken against. @default the first */
  reference?: string;
  /** Called after each policy's evaluation. */
  onPolicy?: (score: PolicyScore, seconds: number) => void;
}

/** Runs every policy on the same `options.episodes`; scores in the order of `policies`. */
export async function evaluatePolicies(
  sim: SimulatorLike,
  policies: readonly Policy[],
  options: EvaluateOptions,
): Promise<PolicyScore[]> {
  const scores: PolicyScore[] = [];
  for (const policy of policies) {
    const t0 = performance.now();
    const trajs = await rollout(sim, policy, {
      episodes: options.episodes,
      env: options.env,
      policySeed: options.policySeed,
    });
    const returns = trajs.map((t) => t.return);
    let steps = 0;
    let positives = 0;
    for (const t of trajs) {
      steps += t.actions.length;
      for (const p of t.positive) positives += p ? 1 : 0;
    }
    const score: PolicyScore = {
      policy: policy.name,
      ...meanSe(returns),
      episodes: trajs.length,
      meanSteps: steps / Math.max(1, trajs.length),
      positiveRate: positives / Math.max(1, steps),
      expectedReturn: meanSe(trajs.map((t) => t.expectedRewards.reduce((a, r) => a + r, 0))),
      returns,
    };
    scores.push(score);
    options.onPolicy?.(score, (performance.now() - t0) / 1000);
  }
  const refName = options.reference ?? policies[0]?.name;
  const ref = scores.find((s) => s.policy === refName);
  if (ref) {
    for (const s of scores) {
      if (s === ref) continue;
      s.vsReference = {
        reference: ref.policy,
        ...meanSe(s.returns.map((r, i) => r - ref.returns[i]!)),
      };
    }
  }
  return scores;
}

/** A fixed-width table of scores for stderr. */
export function scoresTable(scores: readonly PolicyScore[]): string {
  const head = `${"policy".padEnd(14)} ${"return".padStart(9)} ${"± se".padStart(8)} ${
    "pos.rate".padStart(8)
  } ${"E[return]".padStart(9)} ${"steps".padStart(6)} ${"Δ vs ref".padStart(9)} ${
    "± se".padStart(8)
  }     n`;
  const f = (x: number | undefined, w: number, d = 3) =>
    (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d)).padStart(w);
  const rows = scores.map((s) =>
    `${s.policy.padEnd(14)} ${f(s.mean, 9)} ${f(s.stderr, 8)} ${f(s.positiveRate, 8)} ${
      f(s.expectedReturn.mean, 9)
    } ${f(s.meanSteps, 6, 1)} ${f(s.vsReference?.mean, 9)} ${f(s.vsReference?.stderr, 8)} ${
      String(s.episodes).padStart(5)
    }`
  );
  return [head, "-".repeat(head.length), ...rows].join("\n");
}
