/**
 * Running policies in simulated episodes: the {@link Policy} interface, episode lists with
 * explicit (seed, start state) pairs, and {@link rollout}, which steps a whole list of episodes
 * together with ONE batched `predict` per step.
 *
 * Items are not repeated within an episode (every policy sees a `used` mask and must pick an
 * unused item); once all items are used the mask is cleared.
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import { SimEnv, type SimEnvOptions, stepMany } from "../sim/env.ts";
import type { SimulatorLike, StepRecord } from "../sim/types.ts";

/** One episode to run: its seed (feedback sampling) and its start state. */
export interface EpisodeSpec {
  /** The episode seed passed to `SimEnv.reset`. */
  seed: number;
  /** Start state, oldest first. */
  state: readonly StepRecord[];
}

/** What a policy sees of one environment at one step. */
export interface PolicyInput {
  /** The current state, oldest first. */
  observation: readonly StepRecord[];
  /** `used[i]` is 1 when item i was already recommended in this episode. */
  used: Uint8Array;
  /** The episode's own generator for the policy's random choices (seeded per episode). */
  rng: Rng;
  /** Steps already taken in the episode. */
  step: number;
}

/** A recommender: picks one unused item index per input, for a batch of environments. */
export interface Policy {
  /** Name used in reports. */
  readonly name: string;
  /** One item index (into `sim.items`) per input, none of them marked used. */
  act(inputs: readonly PolicyInput[]): number[] | Promise<number[]>;
}

/** What happened in one episode. */
export interface Trajectory {
  /** The episode's spec. */
  spec: EpisodeSpec;
  /** The state before each step (recorded only with `record`). */
  observations: StepRecord[][];
  /** Item index recommended at each step. */
  actions: number[];
  /** Reward of each step (of the sampled feedback). */
  rewards: number[];
  /** Expected reward of each step under the simulator's feedback distribution. */
  expectedRewards: number[];
  /** Whether each step's feedback was positive. */
  positive: boolean[];
  /** Sum of rewards. */
  return: number;
  /** The user left before the step limit. */
  terminated: boolean;
}

/** Options of {@link rollout}. */
export interface RolloutOptions {
  /** The episodes to run, all at once. */
  episodes: readonly EpisodeSpec[];
  /** Environment options (max steps, leaving, rewards). */
  env: SimEnvOptions;
  /** Seed of the policies' random choices; each episode gets a child seed. @default 0 */
  policySeed?: number;
  /** Record the observation before every step (for training). @default false */
  record?: boolean;
}

/**
 * `count` episode specs: seeds derived from `seed`, start states drawn (with each episode's
 * seed) from `sim.startStates`, or empty when it has none. The same arguments always give the
 * same list, so every policy can be evaluated on identical episodes.
 *
 * @example
 * ```ts ignore
 * const specs = episodeSpecs(sim, 200, deriveSeed(0, "eval"));
 * ```
 */
export function episodeSpecs(sim: SimulatorLike, count: number, seed: number): EpisodeSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const s = deriveSeed(seed, `episode:${i}`);
    const n = sim.startStates.length;
    const state = n > 0 ? sim.startStates[new Rng(deriveSeed(s, "start")).int(n)]! : [];
    return { seed: s, state };
  });
}

/**
 * Runs every episode of `options.episodes` under `policy` until it terminates or is truncated.
 * All running episodes step together: one `policy.act` and one `predict` per step.
 */
export async function rollout(
  sim: SimulatorLike,
  policy: Policy,
  options: RolloutOptions,
): Promise<Trajectory[]> {
  const specs = options.episodes;
  const v = sim.itemCount;
  const policySeed = options.policySeed ?? 0;
  const envs = specs.map(() => new SimEnv(sim, options.env));
  const positiveOf = new Map(sim.labels.map((l, k) => [l, sim.positive[k]!]));
  const used = specs.map(() => new Uint8Array(v));
  const usedCount = new Int32Array(specs.length);
  const rngs = specs.map((s) => new Rng(deriveSeed(policySeed, `episode:${s.seed}`)));
  const out: Trajectory[] = specs.map((spec, i) => {
    envs[i]!.reset({ seed: spec.seed, state: spec.state });
    return {
      spec,
      observations: [],
      actions: [],
      rewards: [],
      expectedRewards: [],
      positive: [],
      return: 0,
      terminated: false,
    };
  });
  for (;;) {
    const active: number[] = [];
    envs.forEach((env, i) => {
      if (!env.done) active.push(i);
    });
    if (active.length === 0) break;
    const inputs = active.map((i): PolicyInput => {
      if (usedCount[i] === v) {
        used[i]!.fill(0);
        usedCount[i] = 0;
      }
      return {
        observation: envs[i]!.observation,
        used: used[i]!,
        rng: rngs[i]!,
        step: out[i]!.actions.length,
      };
    });
    const actions = await policy.act(inputs);
    if (actions.length !== active.length) {
      throw new Error(
        `Policy "${policy.name}" returned ${actions.length} of ${active.length} actions`,
      );
    }
    active.forEach((i, j) => {
      const a = actions[j]!;
      if (!Number.isInteger(a) || a < 0 || a >= v || used[i]![a]) {
        throw new Error(`Policy "${policy.name}" chose an invalid or used item index ${a}`);
      }
    });
    const results = await stepMany(
      active.map((i, j) => ({ env: envs[i]!, action: sim.items[actions[j]!]! })),
    );
    active.forEach((i, j) => {
      const t = out[i]!;
      const a = actions[j]!;
      const r = results[j]!;
      if (options.record) t.observations.push(inputs[j]!.observation.map((p) => ({ ...p })));
      t.actions.push(a);
      t.rewards.push(r.reward);
      t.expectedRewards.push(r.info.expected_reward);
      t.positive.push(positiveOf.get(r.feedback) ?? false);
      t.return += r.reward;
      t.terminated = r.terminated;
      used[i]![a] = 1;
      usedCount[i]!++;
    });
  }
  return out;
}
