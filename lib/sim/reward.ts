/**
 * The reward function r(s, a): a number per feedback label. The paper's reward depends
 * "solely on the type of feedback", so a reward table is one number per label, passed in by the
 * caller (recsim's rule: the reward function is not hard-coded into the environment).
 * @module
 */
import { UserError } from "../errors.ts";

/**
 * The default reward table: 1 for positive labels, 0 otherwise.
 *
 * @example
 * ```ts
 * import { defaultRewards } from "./reward.ts";
 * defaultRewards([false, true, true]); // [0, 1, 1]
 * ```
 */
export function defaultRewards(positive: readonly boolean[]): number[] {
  return positive.map((p) => (p ? 1 : 0));
}

/**
 * Parses a reward spec such as `"skip=0,click=1,purchase=5"` into one reward per label, in the
 * order of `labels`. Labels the spec leaves out keep their default (1 if positive, else 0); an
 * empty or missing spec gives the defaults. Unknown or repeated labels and values that are not
 * finite numbers are {@link UserError}s naming the entry.
 *
 * @example
 * ```ts
 * import { parseRewards } from "./reward.ts";
 * parseRewards("skip=0,click=1,purchase=5", ["skip", "click", "purchase"], [false, true, true]);
 * // [0, 1, 5]
 * ```
 */
export function parseRewards(
  spec: string | undefined,
  labels: readonly string[],
  positive: readonly boolean[],
): number[] {
  const rewards = defaultRewards(positive);
  if (spec === undefined || spec.trim() === "") return rewards;
  const seen = new Set<string>();
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    const eq = entry.lastIndexOf("=");
    if (eq <= 0) {
      throw new UserError(
        `Cannot read reward spec "${spec}": entry "${entry}" is not LABEL=NUMBER`,
      );
    }
    const label = entry.slice(0, eq).trim();
    const text = entry.slice(eq + 1).trim();
    const value = Number(text);
    const index = labels.indexOf(label);
    if (index < 0) {
      throw new UserError(
        `Cannot read reward spec "${spec}": unknown label "${label}" (the model's labels are ${
          labels.map((l) => `"${l}"`).join(", ")
        })`,
      );
    }
    if (seen.has(label)) {
      throw new UserError(`Cannot read reward spec "${spec}": label "${label}" is given twice`);
    }
    if (text === "" || !Number.isFinite(value)) {
      throw new UserError(
        `Cannot read reward spec "${spec}": reward of "${label}" must be a finite number, got "${text}"`,
      );
    }
    seen.add(label);
    rewards[index] = value;
  }
  return rewards;
}

/**
 * Expected reward Σ_k probs[k] · rewards[k] under the simulator's feedback distribution.
 *
 * @example
 * ```ts
 * import { expectedReward } from "./reward.ts";
 * expectedReward([0.5, 0.25, 0.25], [0, 1, 5]); // 1.5
 * ```
 */
export function expectedReward(probs: ArrayLike<number>, rewards: readonly number[]): number {
  if (probs.length !== rewards.length) {
    throw new RangeError(
      `Cannot compute expected reward: ${probs.length} probabilities for ${rewards.length} rewards`,
    );
  }
  let sum = 0;
  for (let k = 0; k < probs.length; k++) sum += probs[k]! * rewards[k]!;
  return sum;
}
