/**
 * Configuration of `recsimu agent`: one type, a doc line and a default for every field, and
 * validation (cleanrl style: every knob of the run is here and is reported with the results).
 * @module
 */

/** Every setting of an agent run: environment, REINFORCE, network and evaluation. */
export interface AgentConfig {
  /** Training budget, in episodes (rounded up to whole batches of `envs`). */
  episodes: number;
  /** Steps per episode (the environment's truncation limit). */
  maxSteps: number;
  /** The user leaves after this many negative feedbacks in a row; 0 = never. */
  leaveAfterSkips: number;
  /** Environments stepped together with one batched `predict` per step (= episodes per update). */
  envs: number;
  /**
   * λ of the exploit guard, as `serve --uncertainty-penalty`: every reward (training and
   * evaluation) is lowered by λ × the answer's spread; 0 = off.
   */
  uncertaintyPenalty: number;
  /**
   * μ of the support guard, as `serve --support-penalty`: every reward (training and evaluation)
   * is lowered by μ × max(0, −the answer's support); 0 = off.
   */
  supportPenalty: number;
  /** Learning algorithm; only `reinforce` (policy gradient) is implemented. */
  algo: "reinforce";
  /**
   * Reward that REINFORCE credits: `expected` (Σ probs · rewards of each step, the sampled
   * feedback's conditional mean: unbiased and far less noisy) or `sampled` (the reward of the
   * sampled feedback). Evaluation always reports sampled returns.
   */
  rewardSignal: "expected" | "sampled";
  /** Discount factor of the return-to-go that weights each log-probability. */
  gamma: number;
  /** Adam learning rate of the policy. */
  learningRate: number;
  /** Weight of the entropy bonus in the policy loss. */
  entropyCoef: number;
  /** Rate of the running-mean baseline, one mean per step index: b_t += rate · (mean G_t − b_t). */
  baselineRate: number;
  /** Divide advantages by their batch standard deviation. */
  normalizeAdvantages: boolean;
  /** Clip the global gradient norm to this value; 0 = no clipping. */
  maxGradNorm: number;
  /** Width of the policy's hidden layer. */
  hidden: number;
  /** Size of the fixed random item embeddings used when the simulator has none. */
  randomEmbDim: number;
  /** Evaluation episodes per policy (the same (seed, start state) list for every policy). */
  evalEpisodes: number;
  /** Start states sampled to rank items for the `best-static` baseline (0 = skip it). */
  staticProbeStates: number;
  /** Root seed; weights, training episodes, action sampling and evaluation derive from it. */
  seed: number;
}

/** Defaults of {@link AgentConfig}. */
export const AGENT_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  episodes: 2000,
  maxSteps: 20,
  leaveAfterSkips: 0,
  envs: 32,
  uncertaintyPenalty: 0,
  supportPenalty: 0,
  algo: "reinforce",
  rewardSignal: "expected",
  gamma: 1,
  learningRate: 0.01,
  entropyCoef: 0.01,
  baselineRate: 0.1,
  normalizeAdvantages: true,
  maxGradNorm: 1,
  hidden: 32,
  randomEmbDim: 16,
  evalEpisodes: 200,
  staticProbeStates: 32,
  seed: 0,
});

/**
 * Fills defaults and checks ranges; throws `RangeError` naming the field.
 *
 * @example
 * ```ts
 * import { agentConfig } from "./config.ts";
 * agentConfig({ episodes: 64, envs: 16 }).maxSteps; // 20
 * ```
 */
export function agentConfig(over: Partial<AgentConfig> = {}): AgentConfig {
  const c: AgentConfig = { ...AGENT_DEFAULTS, ...over };
  const ints: [keyof AgentConfig, number][] = [
    ["episodes", 1],
    ["maxSteps", 1],
    ["leaveAfterSkips", 0],
    ["envs", 1],
    ["hidden", 1],
    ["randomEmbDim", 1],
    ["evalEpisodes", 1],
    ["staticProbeStates", 0],
    ["seed", 0],
  ];
  for (const [k, min] of ints) {
    const x = c[k] as number;
    if (!Number.isSafeInteger(x) || x < min) {
      throw new RangeError(`Cannot configure agent: ${k} must be an integer >= ${min}, got ${x}`);
    }
  }
  const ranges: [keyof AgentConfig, number, number, boolean][] = [
    ["gamma", 0, 1, true],
    ["learningRate", 0, Infinity, false],
    ["entropyCoef", 0, Infinity, true],
    ["baselineRate", 0, 1, false],
    ["maxGradNorm", 0, Infinity, true],
    ["uncertaintyPenalty", 0, Infinity, true],
    ["supportPenalty", 0, Infinity, true],
  ];
  for (const [k, lo, hi, loIncluded] of ranges) {
    const x = c[k] as number;
    if (!Number.isFinite(x) || x > hi || x < lo || (!loIncluded && x === lo)) {
      throw new RangeError(
        `Cannot configure agent: ${k} must be in ${loIncluded ? "[" : "("}${lo}, ${hi}], got ${x}`,
      );
    }
  }
  if (c.rewardSignal !== "expected" && c.rewardSignal !== "sampled") {
    throw new RangeError(
      `Cannot configure agent: rewardSignal must be "expected" or "sampled", got "${c.rewardSignal}"`,
    );
  }
  if (c.algo !== "reinforce") {
    throw new RangeError(`Cannot configure agent: algo must be "reinforce", got "${c.algo}"`);
  }
  return c;
}
