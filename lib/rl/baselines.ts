/**
 * Reference policies an agent is compared with: uniform random, most popular (frequency among
 * the simulator's start states) and best static ranking (the simulator's average expected
 * reward of each item over sampled start states, a strong non-personalised baseline). All
 * skip items already recommended in the episode.
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import { expectedReward } from "../sim/reward.ts";
import type { FeedbackRequest, SimulatorLike } from "../sim/types.ts";
import type { Policy, PolicyInput } from "./rollout.ts";

/**
 * Uniform over the items not yet recommended in the episode (draws from the episode's `rng`).
 *
 * @example
 * ```ts
 * import { randomPolicy } from "./baselines.ts";
 * import { Rng } from "../random.ts";
 * const [a] = randomPolicy(3).act([{ observation: [], used: new Uint8Array([1, 0, 1]), rng: new Rng(1), step: 0 }]) as number[];
 * a; // 1
 * ```
 */
export function randomPolicy(items: number, name = "random"): Policy {
  return {
    name,
    act: (inputs: readonly PolicyInput[]) =>
      inputs.map(({ used, rng }) => {
        let free = 0;
        for (let i = 0; i < items; i++) free += used[i] ? 0 : 1;
        let r = rng.int(free);
        for (let i = 0; i < items; i++) {
          if (used[i]) continue;
          if (r-- === 0) return i;
        }
        throw new RangeError("Cannot act: every item is used");
      }),
  };
}

/** Recommends the first unused item of a fixed `ranking` (item indices, best first). */
export function rankedPolicy(name: string, ranking: readonly number[]): Policy {
  return {
    name,
    act: (inputs: readonly PolicyInput[]) =>
      inputs.map(({ used }) => {
        for (const i of ranking) if (!used[i]) return i;
        throw new RangeError(`Cannot act: policy "${name}" has no unused item left`);
      }),
  };
}

/**
 * Every item index ranked by its number of occurrences in `sim.startStates` (ties: more
 * positive feedbacks first, then vocabulary order).
 */
export function popularRanking(sim: SimulatorLike): number[] {
  const index = new Map(sim.items.map((id, i) => [id, i]));
  const positive = new Map(sim.labels.map((l, k) => [l, sim.positive[k]!]));
  const count = new Float64Array(sim.itemCount);
  const pos = new Float64Array(sim.itemCount);
  for (const s of sim.startStates) {
    for (const r of s) {
      const i = index.get(r.item);
      if (i === undefined) continue;
      count[i]!++;
      if (positive.get(r.feedback)) pos[i]!++;
    }
  }
  return sim.items.map((_, i) => i).sort((a, b) =>
    count[b]! - count[a]! || pos[b]! - pos[a]! || a - b
  );
}

/**
 * Every item index ranked by the simulator's expected reward of recommending it, averaged over
 * `probes` start states drawn with `seed` (ties: vocabulary order). Costs probes × V
 * predictions, batched one start state at a time.
 */
export async function bestStaticRanking(
  sim: SimulatorLike,
  rewards: readonly number[],
  options: { probes: number; seed: number },
): Promise<{ ranking: number[]; expected: Float64Array }> {
  const v = sim.itemCount;
  const rng = new Rng(deriveSeed(options.seed, "best-static"));
  const states = sim.startStates.length > 0
    ? Array.from(
      { length: options.probes },
      () => sim.startStates[rng.int(sim.startStates.length)]!,
    )
    : [[]];
  const expected = new Float64Array(v);
  for (const state of states) {
    const requests: FeedbackRequest[] = sim.items.map((action) => ({ state: [...state], action }));
    const preds = await sim.predictArrays(requests);
    preds.forEach((p, i) => expected[i]! += expectedReward(p.probs, rewards) / states.length);
  }
  const ranking = sim.items.map((_, i) => i).sort((a, b) => expected[b]! - expected[a]! || a - b);
  return { ranking, expected };
}
