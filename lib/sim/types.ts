/**
 * What the serving layer and agents need from a trained simulator. `Simulator` in
 * `simulator.ts` implements it; tests may use a fake.
 * @module
 */

import type { StepRecord } from "../data/pair.ts";
export type { StepRecord };

/**
 * The user models a checkpoint can answer with (`--user-model`): the discriminator, or the
 * structured user model fitted beside it (`glm.json`).
 */
export const USER_MODELS = ["network", "glm"] as const;
/** One of {@link USER_MODELS}. */
export type UserModelName = typeof USER_MODELS[number];

/**
 * Whether answers carry the discriminator's real score (`--real-score`): `on` (default), or
 * `off`, only with the structured user model, which then answers without running the
 * discriminator at all (no `real`, no `ood.low_real`; several times faster per batch).
 */
export const REAL_SCORES = ["on", "off"] as const;
/** One of {@link REAL_SCORES}. */
export type RealScoreMode = typeof REAL_SCORES[number];

/**
 * Out-of-distribution flags of an answer.
 *
 * @example
 * ```ts
 * import type { OodFlags } from "@recsimu/recsimu";
 *
 * const unseen: OodFlags = { item: "unknown", state_unknown_items: 0, low_real: false, any: true };
 * ```
 */
export interface OodFlags {
  /**
   * `known`: the item has its own embedding; `unknown`: rare in the training log (below
   * --min-count) or never seen, answered as the shared rare item.
   */
  item: "known" | "unknown";
  /** Items of the (last N pairs of the) state answered as the shared rare item. */
  state_unknown_items: number;
  /**
   * D's real score is below the 1st percentile of logged validation pairs' (absent when the
   * simulator runs without the discriminator's real score, `--real-score off`).
   */
  low_real?: boolean;
  /**
   * The logging policy would rarely have shown this item in this state: its `support` is below
   * the 5th percentile of the logged validation pairs' (absent without a support model).
   */
  off_support?: boolean;
  /** Any of the above. */
  any: boolean;
}

/**
 * One reward question: how does a user with history `state` react to item `action`?
 *
 * @example
 * ```ts
 * import type { FeedbackRequest } from "@recsimu/recsimu";
 *
 * // How does a user who skipped i3, then clicked i7, react to i9?
 * const request: FeedbackRequest = {
 *   state: [{ item: "i3", feedback: "skip" }, { item: "i7", feedback: "click" }],
 *   action: "i9",
 * };
 * // const [prediction] = await sim.predict([request]);
 * ```
 */
export interface FeedbackRequest {
  /** History, oldest first; may be shorter than N (even empty) and longer (last N used). */
  state: StepRecord[];
  /** The recommended item id. */
  action: string;
}

/**
 * The simulator's answer to one {@link FeedbackRequest}, as `Simulator.predict`, `recsimu
 * predict` and `POST /v1/feedback` give it.
 *
 * @example
 * ```ts
 * import type { FeedbackPrediction } from "@recsimu/recsimu";
 *
 * const p: FeedbackPrediction = { probs: { skip: 0.7, click: 0.2, purchase: 0.1 }, real: 0.55 };
 * p.probs["click"]! + p.probs["purchase"]!; // ≈ 0.3: the probability of a positive label
 * ```
 */
export interface FeedbackPrediction {
  /**
   * Probability of each feedback label, keyed by label in label order (softmax over the K real
   * classes; the values sum to 1), e.g. `{ skip: 0.7, click: 0.2, purchase: 0.1 }`.
   */
  probs: Record<string, number>;
  /**
   * The discriminator's probability that the (state, action) pair is real; absent under
   * `--real-score off` (the structured user model answering without the discriminator).
   */
  real?: number;
  /**
   * Standard deviation of P(positive) over the discriminator's ensemble heads (0 with one
   * head): how unsure the model is of this answer.
   */
  spread?: number;
  /**
   * The support model's estimate of ln π_log(a | s) − ln(1/V): how much likelier the logging
   * policy was to show this item in this state than a uniform draw (0: as likely; negative:
   * less). The answers are learned from what the logging policy showed, so they are least
   * reliable where it is low. Absent for checkpoints without a support model.
   */
  support?: number;
  /** What the model did not know about this request. */
  ood?: OodFlags;
}

/**
 * A {@link FeedbackPrediction} with the probabilities as an array in label order: the shape of
 * the batched hot path (environment steps, agent rollouts, the server), which indexes by class.
 *
 * @example
 * ```ts
 * import type { ArrayPrediction } from "@recsimu/recsimu";
 *
 * const p: ArrayPrediction = { probs: [0.7, 0.2, 0.1], real: 0.55 }; // labels skip, click, purchase
 * p.probs.indexOf(Math.max(...p.probs)); // 0: the likeliest label is the first
 * ```
 */
export interface ArrayPrediction {
  /** Probability of each feedback label, in the order of `labels`; sums to 1. */
  probs: number[];
  /**
   * The discriminator's probability that the (state, action) pair is real; absent under
   * `--real-score off` (the structured user model answering without the discriminator).
   */
  real?: number;
  /**
   * Standard deviation of P(positive) over the discriminator's ensemble heads (0 with one
   * head): how unsure the model is of this answer.
   */
  spread?: number;
  /**
   * The support model's estimate of ln π_log(a | s) − ln(1/V): how much likelier the logging
   * policy was to show this item in this state than a uniform draw (0: as likely; negative:
   * less). The answers are learned from what the logging policy showed, so they are least
   * reliable where it is low. Absent for checkpoints without a support model.
   */
  support?: number;
  /** What the model did not know about this request. */
  ood?: OodFlags;
}

/**
 * A trained simulator as the server and agents see it.
 *
 * @example
 * ```ts
 * import { SimEnv, type SimulatorLike } from "@recsimu/recsimu";
 *
 * // A stand-in whose users click with probability 0.3 whatever they saw: enough to test an
 * // agent's plumbing without a trained model.
 * const fake: SimulatorLike = {
 *   labels: ["skip", "click"],
 *   positive: [false, true],
 *   stateLength: 5,
 *   itemCount: 2,
 *   items: ["a", "b"],
 *   startStates: [],
 *   hasItem: (id) => id === "a" || id === "b",
 *   predictArrays: (requests) =>
 *     Promise.resolve(requests.map(() => ({ probs: [0.7, 0.3], real: 0.5 }))),
 *   describe: () => ({ model: "fake" }),
 * };
 * const env = new SimEnv(fake, { maxSteps: 3 });
 * env.reset({ seed: 1 });
 * (await env.step("a")).reward; // 1 when the sampled feedback is "click", else 0
 * ```
 */
export interface SimulatorLike {
  /** The K feedback labels, in class order. */
  readonly labels: readonly string[];
  /** For each label, whether it counts as positive. */
  readonly positive: readonly boolean[];
  /** State length N the model was trained with. */
  readonly stateLength: number;
  /** Number of items in the vocabulary. */
  readonly itemCount: number;
  /** Item ids in vocabulary order. */
  readonly items: readonly string[];
  /**
   * Real start states (histories of up to N pairs taken from held-out sessions of the log), for
   * environments that reset to a realistic user; may be empty.
   */
  readonly startStates: readonly (readonly StepRecord[])[];
  /** True when `id` is in the vocabulary. */
  hasItem(id: string): boolean;
  /**
   * True when items outside the vocabulary are answered (as the shared rare item, with
   * `ood.item` = "unknown") rather than refused. @default false
   */
  readonly answersUnknownItems?: boolean;
  /**
   * Scores many requests in one batched pass, probabilities as arrays in label order (the
   * public `Simulator.predict` gives label maps). Throws `UserError` naming the request index
   * and field for unknown items or labels (callers validate first to give per-request errors).
   */
  predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]>;
  /** Model description for `GET /v1/model` (config, backend, versions). */
  describe(): Record<string, unknown>;
}
