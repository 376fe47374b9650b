/**
 * A Gymnasium-style environment over a trained simulator: the in-process API for TypeScript
 * agents, and the engine behind the server's sessions and stateless steps.
 *
 * The MDP is the paper's: the state is the last N (item, feedback) pairs, oldest first; the agent
 * recommends one item; the user's feedback is SAMPLED from the discriminator's real-class
 * distribution `probs`; the reward depends only on the feedback; and the state transits
 * deterministically: s' drops its oldest pair (once N are held) and appends (action, feedback).
 *
 * **Pages (slates).** Beyond the paper, an action may be a page: a list of k distinct items, top
 * to bottom. The user reads it as a cascade: item j is scored on the state extended by the
 * page's earlier (item, sampled feedback) pairs, its feedback is sampled, and the next item is
 * scored on that; the state transits by appending the page's pairs in order, and the reward is
 * their sum. A page costs k batched predictions (one per position, for every environment of a
 * batch at once). A plain item id is the single-item step, answered exactly as before.
 *
 * **Leaving.** The user leaves (`terminated`) by the rule `leaveAfterSkips` (M negatives in a row
 * within the episode, at any item of a page) or, with `leave`, by a learned leave model
 * (`leave.ts`): one seeded draw per step against P(leave after the step).
 *
 * Sampling is a pure function of (seed, step index, page position, probs)
 * ({@link sampleFeedback}), so a step is reproducible from (state, action, seed, step, negative
 * streak) alone: {@link statelessStep} gives the same answer as the corresponding
 * {@link SimEnv.step}.
 * @module
 */
import { UserError } from "../errors.ts";
import { deriveSeed, Rng } from "../random.ts";
import { type LeaveModel, leaves } from "./leave.ts";
import { defaultRewards, expectedReward } from "./reward.ts";
import type { ArrayPrediction, SimulatorLike, StepRecord } from "./types.ts";

/**
 * What an {@link InputError} is about: an unknown item or label, an item twice in one page, or
 * an action that is neither an item id nor a non-empty list of them.
 */
export type InputErrorCode = "unknown_item" | "unknown_label" | "duplicate_item" | "invalid_action";

/**
 * An action: one item id, or a page (slate) of distinct item ids, top to bottom.
 *
 * @example
 * ```ts
 * import type { Action } from "./env.ts";
 * const one: Action = "i3";
 * const page: Action = ["i3", "i7", "i9"]; // i3 on top; each item is answered after the ones above
 * ```
 */
export type Action = string | readonly string[];

/**
 * A request that names an item or label the model does not know. `path` is the JSON path of the
 * fault (e.g. `state[2].feedback`), which the server returns with a 422.
 */
export class InputError extends UserError {
  override name = "InputError";
  /** Machine-readable kind of fault. */
  readonly code: InputErrorCode;
  /** JSON path of the offending value. */
  readonly path: string;
  constructor(code: InputErrorCode, path: string, message: string) {
    super(`${path}: ${message}`);
    this.code = code;
    this.path = path;
  }
}

/** `step()` on an environment whose episode is over (or that was never reset). */
export class EpisodeOverError extends UserError {
  override name = "EpisodeOverError";
}

/**
 * Options of {@link SimEnv} (and of the server's sessions).
 *
 * @example
 * ```ts
 * import type { SimEnvOptions } from "@recsimu/recsimu";
 *
 * // Episodes of at most 30 steps; the user leaves after 3 skips in a row; a purchase is worth 5
 * // (rewards in the simulator's label order: skip, click, purchase).
 * const options: SimEnvOptions = { maxSteps: 30, leaveAfterSkips: 3, rewards: [0, 1, 5] };
 * ```
 */
export interface SimEnvOptions {
  /**
   * Steps after which an episode is truncated (Gymnasium's time limit).
   * @default ENV_DEFAULTS.maxSteps
   */
  maxSteps?: number;
  /**
   * The user leaves (`terminated`) after this many negative feedbacks in a row within the
   * episode; 0 = never. @default ENV_DEFAULTS.leaveAfterSkips
   */
  leaveAfterSkips?: number;
  /** Reward per label, in the simulator's label order. @default 1 for positive labels, 0 otherwise */
  rewards?: readonly number[];
  /**
   * A learned leave model (`loadLeaveModel` from `leave.ts`): the user leaves after a step with
   * the probability it gives, drawn with the episode's seed. Excludes `leaveAfterSkips` > 0.
   * @default undefined (the `leaveAfterSkips` rule)
   */
  leave?: LeaveModel;
  /**
   * λ of the exploit guard: every item's reward (and expected reward) is lowered by λ × the
   * answer's `spread` (the ensemble heads' standard deviation of P(positive)), so that agents
   * cannot farm regions the simulator does not know. @default 0
   */
  uncertaintyPenalty?: number;
  /**
   * μ of the support guard: every item's reward (and expected reward) is lowered by
   * μ × max(0, −support), the nats by which the logging policy was less likely than a uniform
   * draw to show the item in this state (the answer's `support`, from the checkpoint's support
   * model), so that agents cannot farm actions the log never showed in such states. Answers
   * without `support` are not lowered. @default 0
   */
  supportPenalty?: number;
}

/**
 * Defaults of {@link SimEnvOptions}: the one source for the environment, the server's sessions
 * and stateless steps, and `recsimu serve`'s flags.
 */
export const ENV_DEFAULTS: Readonly<Required<Omit<SimEnvOptions, "rewards" | "leave">>> = Object
  .freeze({
    maxSteps: 50,
    leaveAfterSkips: 0,
    uncertaintyPenalty: 0,
    supportPenalty: 0,
  });

/** {@link SimEnvOptions} with defaults applied and checked. */
export interface EnvConfig {
  /** Steps after which an episode is truncated. */
  maxSteps: number;
  /** Negative feedbacks in a row after which the user leaves; 0 = never. */
  leaveAfterSkips: number;
  /** Reward per label, in label order. */
  rewards: readonly number[];
  /** The learned leave model, when the user leaves by it instead of the rule. */
  leave?: LeaveModel;
  /** λ: rewards are lowered by λ × the answer's spread. */
  uncertaintyPenalty: number;
  /** μ: rewards are lowered by μ × max(0, −the answer's support). */
  supportPenalty: number;
}

/**
 * Options of {@link SimEnv.reset}.
 *
 * @example
 * ```ts
 * import type { ResetOptions } from "@recsimu/recsimu";
 *
 * const drawn: ResetOptions = { seed: 42 }; // a start state drawn from sim.startStates with the seed
 * const given: ResetOptions = { seed: 42, state: [{ item: "i3", feedback: "click" }] };
 * // env.reset(given);
 * ```
 */
export interface ResetOptions {
  /** Seed of the episode (start state and every sampled feedback); random when absent. */
  seed?: number;
  /**
   * Start state, oldest first (the last N pairs are kept); when absent, one of
   * `sim.startStates` drawn with the seed, or empty if the simulator has none.
   */
  state?: readonly StepRecord[];
}

/** Episode bookkeeping, returned by `reset` and inside every step's info. */
export interface EnvInfo {
  /** The episode's seed. */
  seed: number;
  /** Steps taken so far in the episode (0 after reset). */
  step: number;
  /** Negative feedbacks in a row at the end of the episode so far. */
  negative_streak: number;
}

/**
 * What `reset` returns.
 *
 * @example
 * ```ts
 * import type { ResetResult } from "@recsimu/recsimu";
 *
 * function describe({ observation, info }: ResetResult): string {
 *   return `episode ${info.seed}: ${observation.map((p) => `${p.item}/${p.feedback}`).join(" ")}`;
 * }
 * describe({
 *   observation: [{ item: "i3", feedback: "click" }],
 *   info: { seed: 42, step: 0, negative_streak: 0 },
 * }); // "episode 42: i3/click"
 * ```
 */
export interface ResetResult {
  /** The start state: at most N pairs, oldest first. */
  observation: StepRecord[];
  /** Seed and counters. */
  info: EnvInfo;
}

/**
 * The simulator's view of one step, returned in {@link StepResult.info}. Further fields of the
 * simulator's prediction (such as `ood`) are copied in too.
 */
export interface StepInfo extends EnvInfo {
  /** Probability of each feedback label. */
  probs: Record<string, number>;
  /** The discriminator's probability that (state, action) is real (absent: `--real-score off`). */
  real?: number;
  /** Σ probs · rewards. */
  expected_reward: number;
  /** With a learned leave model only: the probability that the user leaves after this step. */
  leave_prob?: number;
}

/** One item of a page, as {@link SlateStepInfo.slate} reports it. */
export interface SlateItemInfo {
  /** The item. */
  item: string;
  /** Its sampled feedback label. */
  feedback: string;
  /** The reward of that label. */
  reward: number;
  /** Probability of each label, given the state and the page's earlier pairs. */
  probs: Record<string, number>;
  /** The discriminator's probability that (that state, item) is real (absent: `--real-score off`). */
  real?: number;
  /** Σ probs · rewards of this item (given the sampled feedback of the items above it). */
  expected_reward: number;
}

/** The info of a page step: counters, the page's total expected reward and each item's answer. */
export interface SlateStepInfo extends EnvInfo {
  /** Σ of the items' expected rewards. */
  expected_reward: number;
  /** One entry per item, top to bottom. */
  slate: SlateItemInfo[];
  /** With a learned leave model only: the probability that the user leaves after this page. */
  leave_prob?: number;
}

/**
 * What `step` returns (Gymnasium's 5-tuple as an object).
 *
 * @example
 * ```ts
 * import type { StepResult } from "@recsimu/recsimu";
 *
 * // Whether the episode is over: the user left, or the step limit was hit.
 * function over(r: StepResult): boolean {
 *   return r.terminated || r.truncated;
 * }
 * ```
 */
export interface StepResult {
  /** s': the state after the step, at most N pairs, oldest first. */
  observation: StepRecord[];
  /** The sampled feedback label. */
  feedback: string;
  /** Reward of the sampled feedback. */
  reward: number;
  /** The user left (`leaveAfterSkips` negatives in a row). */
  terminated: boolean;
  /** The episode hit `maxSteps`. May be true together with `terminated`. */
  truncated: boolean;
  /** Probabilities, realness, expected reward and counters. */
  info: StepInfo;
}

/**
 * What a page step returns: the single step's 5-tuple with one feedback per item and the sum of
 * their rewards.
 *
 * @example
 * ```ts
 * import type { SlateStepResult } from "./env.ts";
 *
 * // The items of a page the user answered positively (rewards above 0).
 * function liked(r: SlateStepResult): string[] {
 *   return r.info.slate.filter((s) => s.reward > 0).map((s) => s.item);
 * }
 * ```
 */
export interface SlateStepResult {
  /** s': the state after the page's pairs were appended in order, at most N pairs. */
  observation: StepRecord[];
  /** The sampled feedback label of each item, top to bottom. */
  feedback: string[];
  /** Σ of the items' rewards. */
  reward: number;
  /** The user left (the rule at any item of the page, or the learned leave model's draw). */
  terminated: boolean;
  /** The episode hit `maxSteps` (a page is one step). */
  truncated: boolean;
  /** Counters, total expected reward, and each item's probabilities, realness and reward. */
  info: SlateStepInfo;
}

/** What stepping with action type `A` returns: a page gives a {@link SlateStepResult}. */
export type ResultOf<A extends Action> = A extends string ? StepResult : SlateStepResult;

/** Everything a step depends on besides the model: the input of {@link statelessStep}. */
export interface StepInput {
  /** The state before the step, oldest first (the last N pairs are used). */
  state: readonly StepRecord[];
  /** The recommended item, or a page of distinct items. */
  action: Action;
  /** The episode's seed. */
  seed: number;
  /** Steps already taken in the episode before this one. @default 0 */
  step?: number;
  /** Negative feedbacks in a row before this step. @default 0 */
  negativeStreak?: number;
}

/** Checks options and fills in defaults. */
export function envConfig(sim: SimulatorLike, options: SimEnvOptions = {}): EnvConfig {
  const maxSteps = options.maxSteps ?? ENV_DEFAULTS.maxSteps;
  const leaveAfterSkips = options.leaveAfterSkips ?? ENV_DEFAULTS.leaveAfterSkips;
  const rewards = options.rewards ?? defaultRewards(sim.positive);
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 1) {
    throw new RangeError(
      `Cannot create environment: maxSteps must be an integer >= 1, got ${maxSteps}`,
    );
  }
  if (!Number.isSafeInteger(leaveAfterSkips) || leaveAfterSkips < 0) {
    throw new RangeError(
      `Cannot create environment: leaveAfterSkips must be an integer >= 0, got ${leaveAfterSkips}`,
    );
  }
  if (rewards.length !== sim.labels.length || !rewards.every(Number.isFinite)) {
    throw new RangeError(
      `Cannot create environment: expected ${sim.labels.length} finite rewards (one per label), got [${rewards}]`,
    );
  }
  const leave = options.leave;
  if (leave !== undefined) checkLeave(sim, leave, leaveAfterSkips);
  const penalty = (name: "uncertaintyPenalty" | "supportPenalty") => {
    const v = options[name] ?? ENV_DEFAULTS[name];
    if (!(v >= 0 && Number.isFinite(v))) {
      throw new RangeError(`Cannot create environment: ${name} must be a number >= 0, got ${v}`);
    }
    return v;
  };
  return {
    maxSteps,
    leaveAfterSkips,
    rewards: [...rewards],
    uncertaintyPenalty: penalty("uncertaintyPenalty"),
    supportPenalty: penalty("supportPenalty"),
    ...(leave ? { leave } : {}),
  };
}

function checkLeave(sim: SimulatorLike, leave: LeaveModel, leaveAfterSkips: number): void {
  if (leaveAfterSkips > 0) {
    throw new RangeError(
      `Cannot create environment: leaveAfterSkips (${leaveAfterSkips}) and a learned leave model exclude each other`,
    );
  }
  if (leave.labels.join("\u0000") !== sim.labels.join("\u0000")) {
    throw new RangeError(
      `Cannot create environment: the leave model's labels (${leave.labels}) are not the simulator's (${sim.labels})`,
    );
  }
}

/** A fresh random episode seed (32 bits from the system's CSPRNG). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/**
 * Index of the feedback drawn from `probs` for step `step` of the episode seeded `seed` (item
 * `position` of the step's page): one uniform u from `deriveSeed(seed, "step:<step>")` (position
 * 0, as for a single item) or `deriveSeed(seed, "step:<step>:<position>")`, then the inverse CDF
 * of `probs` (normalised). A pure function: the same arguments always give the same index.
 *
 * @example
 * ```ts
 * import { sampleFeedback } from "./env.ts";
 * sampleFeedback([0.2, 0.8], 7, 0) === sampleFeedback([0.2, 0.8], 7, 0); // true
 * sampleFeedback([0.2, 0.8], 7, 0, 0) === sampleFeedback([0.2, 0.8], 7, 0); // true
 * ```
 */
export function sampleFeedback(
  probs: ArrayLike<number>,
  seed: number,
  step: number,
  position = 0,
): number {
  let total = 0;
  for (let k = 0; k < probs.length; k++) {
    const p = probs[k]!;
    if (!(p >= 0) || !Number.isFinite(p)) {
      throw new RangeError(`Cannot sample feedback: probability ${k} is ${p}`);
    }
    total += p;
  }
  if (!(total > 0)) throw new RangeError("Cannot sample feedback: probabilities sum to 0");
  const purpose = position === 0 ? `step:${step}` : `step:${step}:${position}`;
  let r = new Rng(deriveSeed(seed, purpose)).next() * total;
  for (let k = 0; k < probs.length; k++) {
    r -= probs[k]!;
    if (r < 0) return k;
  }
  // Rounding left a sliver: the last class with non-zero probability.
  for (let k = probs.length - 1; k >= 0; k--) if (probs[k]! > 0) return k;
  return probs.length - 1;
}

/**
 * The paper's deterministic transition: append (action, feedback) and keep the last `n` pairs.
 * Returns a new array; `state` is not modified.
 *
 * @example
 * ```ts
 * import { transition } from "./env.ts";
 * transition([{ item: "a", feedback: "skip" }, { item: "b", feedback: "click" }], "c", "skip", 2);
 * // [{ item: "b", feedback: "click" }, { item: "c", feedback: "skip" }]
 * ```
 */
export function transition(
  state: readonly StepRecord[],
  action: string,
  feedback: string,
  n: number,
): StepRecord[] {
  return lastPairs([...state, { item: action, feedback }], n);
}

/** A copy of the last `n` pairs of `state` (`n` = 0 keeps none). */
export function lastPairs(state: readonly StepRecord[], n: number): StepRecord[] {
  const from = Math.max(0, state.length - n);
  return state.slice(from).map((r) => ({ item: r.item, feedback: r.feedback }));
}

/**
 * Throws {@link InputError} at `path` unless `item` is in the simulator's vocabulary or the
 * simulator answers unknown items.
 */
export function checkItem(sim: SimulatorLike, item: string, path: string): void {
  if (!sim.hasItem(item) && !sim.answersUnknownItems) {
    throw new InputError("unknown_item", path, `unknown item "${clip(item)}"`);
  }
}

/** Throws {@link InputError} with the path of the first unknown item or label of `state`. */
export function checkState(sim: SimulatorLike, state: readonly StepRecord[], path: string): void {
  for (let i = 0; i < state.length; i++) {
    const r = state[i]!;
    checkItem(sim, r.item, `${path}[${i}].item`);
    if (!sim.labels.includes(r.feedback)) {
      throw new InputError(
        "unknown_label",
        `${path}[${i}].feedback`,
        `unknown feedback label "${clip(r.feedback)}" (labels: ${sim.labels.join(", ")})`,
      );
    }
  }
}

/** Probabilities as a label → probability record (own data properties, any label name). */
export function probsRecord(
  labels: readonly string[],
  probs: ArrayLike<number>,
): Record<string, number> {
  return Object.fromEntries(labels.map((l, k) => [l, probs[k]!]));
}

/** Throws unless a prediction has K finite probabilities and a finite realness (if any). */
export function checkPrediction(
  sim: SimulatorLike,
  p: ArrayPrediction | undefined,
): ArrayPrediction {
  if (
    p === undefined || p.probs.length !== sim.labels.length || !p.probs.every(Number.isFinite) ||
    (p.real !== undefined && !Number.isFinite(p.real))
  ) {
    throw new Error("The simulator returned a malformed or non-finite prediction");
  }
  return p;
}

/**
 * The items of `action` after checking them: an item id is a page of one; a list must be
 * non-empty, of known, distinct items. Throws {@link InputError} at the path of the first fault
 * (`action[2]` for an item already on the page).
 */
export function checkAction(sim: SimulatorLike, action: Action, path: string): readonly string[] {
  if (typeof action === "string") {
    checkItem(sim, action, path);
    return [action];
  }
  if (!Array.isArray(action) || action.length === 0) {
    throw new InputError(
      "invalid_action",
      path,
      "expected an item id or a non-empty list of distinct item ids",
    );
  }
  const first = new Map<string, number>();
  action.forEach((item: unknown, j) => {
    const at = `${path}[${j}]`;
    if (typeof item !== "string") {
      throw new InputError("invalid_action", at, `expected an item id, got ${typeof item}`);
    }
    checkItem(sim, item, at);
    const seen = first.get(item);
    if (seen !== undefined) {
      throw new InputError(
        "duplicate_item",
        at,
        `item "${clip(item)}" is already at ${path}[${seen}]; a page holds distinct items`,
      );
    }
    first.set(item, j);
  });
  return action;
}

/** One entry of a batch of steps: its configuration, its input and its checked page. */
interface PendingStep {
  config: EnvConfig;
  input: StepInput;
  page: readonly string[];
}

/** What the cascade drew for one item of a page. */
interface ItemDraw {
  prediction: ArrayPrediction;
  /** The sampled label's index. */
  k: number;
  /** P(the user leaves after this item), 0 without a leave model. */
  hazard: number;
}

/**
 * The cascade of a batch of steps: position j of every page that has one is scored in ONE
 * batched prediction, on its state extended by the page's earlier (item, sampled feedback)
 * pairs. Returns each entry's draws and final state.
 */
async function cascade(
  sim: SimulatorLike,
  steps: readonly PendingStep[],
): Promise<{ draws: ItemDraw[]; state: StepRecord[] }[]> {
  const N = sim.stateLength;
  const out = steps.map((s) => ({
    draws: [] as ItemDraw[],
    state: lastPairs(s.input.state, N),
    streak: s.input.negativeStreak ?? 0,
  }));
  const depth = Math.max(...steps.map((s) => s.page.length));
  for (let j = 0; j < depth; j++) {
    const live = steps.flatMap((s, i) => (s.page.length > j ? [i] : []));
    const predictions = await sim.predictArrays(
      live.map((i) => ({ state: out[i]!.state, action: steps[i]!.page[j]! })),
    );
    if (predictions.length !== live.length) {
      throw new Error(`The simulator answered ${predictions.length} of ${live.length} requests`);
    }
    live.forEach((i, n) => {
      const { input, config, page } = steps[i]!, o = out[i]!;
      const prediction = checkPrediction(sim, predictions[n]);
      const t = input.step ?? 0;
      const k = sampleFeedback(prediction.probs, input.seed, t, j);
      o.streak = sim.positive[k] ? 0 : o.streak + 1;
      const position = t * page.length + j;
      const hazard = config.leave?.hazard({
        state: o.state,
        feedback: k,
        streak: o.streak,
        position,
      });
      o.draws.push({ prediction, k, hazard: hazard ?? 0 });
      o.state = transition(o.state, page[j]!, sim.labels[k]!, N);
    });
  }
  return out;
}

/** A prediction's answer for an info: probs as a label map, realness, expected reward, extras. */
function answer(sim: SimulatorLike, p: ArrayPrediction, expected: number) {
  const { probs, real, ...extra } = p;
  return {
    probs: probsRecord(sim.labels, probs),
    ...(real !== undefined ? { real } : {}),
    expected_reward: expected,
    ...extra,
  };
}

/** The result of one step from its cascade: rewards, counters and whether the user leaves. */
function stepResult(
  sim: SimulatorLike,
  s: PendingStep,
  c: { draws: ItemDraw[]; state: StepRecord[] },
): StepResult | SlateStepResult {
  const { config, input } = s;
  const t = input.step ?? 0;
  let streak = input.negativeStreak ?? 0, longest = 0, stay = 1, reward = 0, expected = 0;
  const items = c.draws.map((d, j) => {
    streak = sim.positive[d.k] ? 0 : streak + 1;
    longest = Math.max(longest, streak);
    stay *= 1 - d.hazard;
    // The exploit guards: λ × the heads' spread and μ × the support's shortfall below 0 off
    // the reward and the expected reward.
    const uncertainty = config.uncertaintyPenalty * (d.prediction.spread ?? 0);
    const support = config.supportPenalty * Math.max(0, -(d.prediction.support ?? 0));
    const er = expectedReward(d.prediction.probs, config.rewards) - uncertainty - support;
    const r = config.rewards[d.k]! - uncertainty - support;
    reward += r;
    expected += er;
    const item = { item: s.page[j]!, feedback: sim.labels[d.k]!, reward: r };
    const pen = {
      ...(config.uncertaintyPenalty > 0 ? { uncertainty_penalty: uncertainty } : {}),
      ...(config.supportPenalty > 0 ? { support_penalty: support } : {}),
    };
    return { ...item, ...answer(sim, d.prediction, er), ...pen };
  });
  const leaveProb = 1 - stay;
  const terminated = config.leave !== undefined
    ? leaves(leaveProb, input.seed, t)
    : config.leaveAfterSkips > 0 && longest >= config.leaveAfterSkips;
  const counters = { seed: input.seed, step: t + 1, negative_streak: streak };
  const leave = config.leave !== undefined ? { leave_prob: leaveProb } : {};
  const base = { observation: c.state, terminated, truncated: t + 1 >= config.maxSteps };
  if (typeof input.action === "string") {
    const { feedback, reward, item: _, ...rest } = items[0]!;
    return { ...base, feedback, reward, info: { ...rest, ...counters, ...leave } };
  }
  return {
    ...base,
    feedback: items.map((i) => i.feedback),
    reward,
    info: { ...counters, expected_reward: expected, slate: items, ...leave },
  };
}

/** Steps a batch of checked entries: the cascade, then each entry's result. */
async function runSteps(
  sim: SimulatorLike,
  steps: readonly PendingStep[],
): Promise<(StepResult | SlateStepResult)[]> {
  if (steps.length === 0) return [];
  const cascades = await cascade(sim, steps);
  return steps.map((s, i) => stepResult(sim, s, cascades[i]!));
}

/**
 * One step without an environment object: the same answer as the session / {@link SimEnv} step
 * with the same (state, action, seed, step, negative streak).
 */
export function statelessStep(
  sim: SimulatorLike,
  input: StepInput & { action: string },
  options?: SimEnvOptions,
): Promise<StepResult>;
export function statelessStep(
  sim: SimulatorLike,
  input: StepInput & { action: readonly string[] },
  options?: SimEnvOptions,
): Promise<SlateStepResult>;
export function statelessStep(
  sim: SimulatorLike,
  input: StepInput,
  options?: SimEnvOptions,
): Promise<StepResult | SlateStepResult>;
export async function statelessStep(
  sim: SimulatorLike,
  input: StepInput,
  options: SimEnvOptions = {},
): Promise<StepResult | SlateStepResult> {
  const config = envConfig(sim, options);
  checkState(sim, input.state, "state");
  const page = checkAction(sim, input.action, "action");
  return (await runSteps(sim, [{ config, input, page }]))[0]!;
}

/**
 * One environment and the action to take in it, for {@link stepMany}.
 *
 * @example
 * ```ts
 * import { type EnvAction, SimEnv } from "@recsimu/recsimu";
 *
 * // One action per environment, for SimEnv.stepMany (one batched prediction for all of them).
 * function actions(envs: readonly SimEnv[], pick: (env: SimEnv) => string): EnvAction[] {
 *   return envs.map((env) => ({ env, action: pick(env) }));
 * }
 * // const results = await SimEnv.stepMany(actions(envs, (env) => policy(env.observation)));
 * ```
 */
export interface EnvAction<A extends Action = string> {
  /** The environment to step. */
  env: SimEnv;
  /** The recommended item, or a page of distinct items. */
  action: A;
}

/**
 * A Gymnasium-style environment: one simulated user over a {@link SimulatorLike}.
 *
 * @example
 * ```ts
 * import {
 *   initBackend,
 *   loadDataset,
 *   SimEnv,
 *   Simulator,
 *   SYNTH_DEFAULTS,
 *   TRAIN_DEFAULTS,
 *   trainRecSimu,
 *   writeSynthLog,
 * } from "@recsimu/recsimu";
 *
 * await initBackend("cpu", { quiet: true });
 * const dir = await Deno.makeTempDir();
 * // A tiny model on a small synthetic log (a second or two); real ones are larger.
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 20, items: 20 });
 * const shape = { stateLength: 5, minStateLength: 5, minCount: 1 };
 * const ds = await loadDataset(`${dir}/log.csv`, shape);
 * const config = { ...TRAIN_DEFAULTS, ...shape, hidden: 8, fc: 8, embDim: 6, epochs: 1 };
 * await trainRecSimu(ds, config, { out: `${dir}/model`, quiet: true });
 *
 * const sim = await Simulator.load(`${dir}/model`);
 * const env = new SimEnv(sim, { maxSteps: 20 });
 * const { observation } = env.reset({ seed: 1 }); // a start state from the log's held-out sessions
 * const { feedback, reward, terminated, truncated } = await env.step(sim.items[0]!);
 * // feedback: a label sampled from the simulator's probabilities; reward: that label's reward
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SimEnv {
  /** The simulator that answers. */
  readonly sim: SimulatorLike;
  /** Checked options. */
  readonly config: EnvConfig;
  #state: StepRecord[] = [];
  #seed = 0;
  #step = 0;
  #streak = 0;
  #ready = false;
  #done = false;
  #busy = false;

  constructor(sim: SimulatorLike, options: SimEnvOptions = {}) {
    this.sim = sim;
    this.config = envConfig(sim, options);
  }

  /** Starts an episode. Throws {@link InputError} for unknown items or labels in `state`. */
  reset(options: ResetOptions = {}): ResetResult {
    if (this.#busy) throw new UserError("Cannot reset: a step of this environment is in progress");
    const seed = options.seed ?? randomSeed();
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Cannot reset: seed must be an integer, got ${seed}`);
    }
    let start: readonly StepRecord[] = [];
    if (options.state !== undefined) {
      checkState(this.sim, options.state, "state");
      start = options.state;
    } else if (this.sim.startStates.length > 0) {
      const i = new Rng(deriveSeed(seed, "start")).int(this.sim.startStates.length);
      start = this.sim.startStates[i]!;
    }
    this.#state = lastPairs(start, this.sim.stateLength);
    this.#seed = seed;
    this.#step = 0;
    this.#streak = 0;
    this.#ready = true;
    this.#done = false;
    return { observation: this.observation, info: this.info };
  }

  /** The current state (a copy), oldest first. */
  get observation(): StepRecord[] {
    return lastPairs(this.#state, this.sim.stateLength);
  }

  /** Seed and counters of the current episode. */
  get info(): EnvInfo {
    return { seed: this.#seed, step: this.#step, negative_streak: this.#streak };
  }

  /** True once the episode is terminated or truncated (or before the first reset). */
  get done(): boolean {
    return !this.#ready || this.#done;
  }

  /** True while a step is waiting for the simulator. */
  get busy(): boolean {
    return this.#busy;
  }

  /**
   * Recommends `action` (an item, or a page of distinct items); the simulated user answers.
   * Throws {@link InputError} for unknown items and for an item twice in a page.
   */
  step(action: string): Promise<StepResult>;
  step(action: readonly string[]): Promise<SlateStepResult>;
  step(action: Action): Promise<StepResult | SlateStepResult>;
  async step(action: Action): Promise<StepResult | SlateStepResult> {
    return (await SimEnv.#stepAll([{ env: this, action }], (_) => "action"))[0]!;
  }

  /**
   * Steps many environments of one simulator with ONE batched `predict` call per page position
   * (one in all for single items).
   */
  static stepMany<A extends Action>(steps: readonly EnvAction<A>[]): Promise<ResultOf<A>[]> {
    return SimEnv.#stepAll(steps, (i) => `steps[${i}].action`) as Promise<ResultOf<A>[]>;
  }

  static async #stepAll(
    steps: readonly EnvAction<Action>[],
    path: (i: number) => string,
  ): Promise<(StepResult | SlateStepResult)[]> {
    if (steps.length === 0) return [];
    const sim = steps[0]!.env.sim;
    const seen = new Set<SimEnv>();
    const pending: PendingStep[] = [];
    for (let i = 0; i < steps.length; i++) {
      const { env, action } = steps[i]!;
      if (env.sim !== sim) {
        throw new TypeError("Cannot step many environments of different simulators at once");
      }
      if (seen.has(env)) {
        throw new UserError(`${path(i)}: the same environment appears twice in one step`);
      }
      seen.add(env);
      if (!env.#ready) throw new EpisodeOverError("Cannot step: call reset() first");
      if (env.#done) throw new EpisodeOverError("Cannot step: the episode is over; call reset()");
      if (env.#busy) throw new UserError("Cannot step: a step of this environment is in progress");
      const page = checkAction(sim, action, path(i));
      const input = {
        state: env.#state,
        action,
        seed: env.#seed,
        step: env.#step,
        negativeStreak: env.#streak,
      };
      pending.push({ config: env.config, input, page });
    }
    for (const { env } of steps) env.#busy = true;
    let results: (StepResult | SlateStepResult)[];
    try {
      results = await runSteps(sim, pending);
    } finally {
      for (const { env } of steps) env.#busy = false;
    }
    // Commit only once every result is computed, so a failure leaves all environments unchanged.
    steps.forEach(({ env }, i) => {
      const r = results[i]!;
      env.#state = lastPairs(r.observation, sim.stateLength);
      env.#step = r.info.step;
      env.#streak = r.info.negative_streak;
      env.#done = r.terminated || r.truncated;
    });
    return results;
  }
}

/**
 * Steps many environments of one simulator with ONE batched `predict` call; see
 * {@link SimEnv.stepMany}. Errors name the entry (`steps[3].action`) and leave every
 * environment unchanged.
 */
export function stepMany<A extends Action>(steps: readonly EnvAction<A>[]): Promise<ResultOf<A>[]> {
  return SimEnv.stepMany(steps);
}

/** Options of {@link VecSimEnv.reset}. */
export interface VecResetOptions {
  /** Root seed; environment i gets `deriveSeed(seed, "env:<i>")`. Random when absent. */
  seed?: number;
}

/**
 * `numEnvs` environments over one simulator, stepped together with one batched `predict` per
 * step. No auto-reset: reset finished environments through `envs[i].reset()`.
 *
 * @example
 * ```ts
 * import {
 *   initBackend,
 *   loadDataset,
 *   Simulator,
 *   SYNTH_DEFAULTS,
 *   TRAIN_DEFAULTS,
 *   trainRecSimu,
 *   VecSimEnv,
 *   writeSynthLog,
 * } from "@recsimu/recsimu";
 *
 * await initBackend("cpu", { quiet: true });
 * const dir = await Deno.makeTempDir();
 * // A tiny model on a small synthetic log (a second or two); real ones are larger.
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 20, items: 20 });
 * const shape = { stateLength: 5, minStateLength: 5, minCount: 1 };
 * const ds = await loadDataset(`${dir}/log.csv`, shape);
 * const config = { ...TRAIN_DEFAULTS, ...shape, hidden: 8, fc: 8, embDim: 6, epochs: 1 };
 * await trainRecSimu(ds, config, { out: `${dir}/model`, quiet: true });
 *
 * const sim = await Simulator.load(`${dir}/model`);
 * const vec = new VecSimEnv(sim, 4, { maxSteps: 10 });
 * const starts = vec.reset({ seed: 7 }); // environment i is seeded with deriveSeed(7, "env:<i>")
 * const results = await vec.step(starts.map((_, i) => sim.items[i]!)); // one batched prediction
 * results.map((r) => r.reward); // one reward per environment
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class VecSimEnv {
  /** The environments. */
  readonly envs: readonly SimEnv[];

  constructor(sim: SimulatorLike, numEnvs: number, options: SimEnvOptions = {}) {
    if (!Number.isSafeInteger(numEnvs) || numEnvs < 1) {
      throw new RangeError(
        `Cannot create VecSimEnv: numEnvs must be an integer >= 1, got ${numEnvs}`,
      );
    }
    this.envs = Array.from({ length: numEnvs }, () => new SimEnv(sim, options));
  }

  /** Resets every environment with a seed derived from the root seed. */
  reset(options: VecResetOptions = {}): ResetResult[] {
    const seed = options.seed ?? randomSeed();
    return this.envs.map((env, i) => env.reset({ seed: deriveSeed(seed, `env:${i}`) }));
  }

  /** One action (an item or a page) per environment, in order. */
  step<A extends Action>(actions: readonly A[]): Promise<ResultOf<A>[]> {
    if (actions.length !== this.envs.length) {
      throw new RangeError(
        `Cannot step: expected ${this.envs.length} actions, got ${actions.length}`,
      );
    }
    return stepMany(this.envs.map((env, i) => ({ env, action: actions[i]! })));
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
