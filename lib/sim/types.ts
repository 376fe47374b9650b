/**
 * What the serving layer and agents need from a trained simulator. `Simulator` in
 * `simulator.ts` implements it; tests may use a fake.
 * @module
 */

/** One (item, feedback) pair of a state, oldest first. */
export interface StepRecord {
  /** Item id as in the log. */
  item: string;
  /** Feedback label as in the log (one of `labels`). */
  feedback: string;
}

/** One reward question: how does a user with history `state` react to item `action`? */
export interface FeedbackRequest {
  /** History, oldest first; may be shorter than N (even empty) and longer (last N used). */
  state: StepRecord[];
  /** The recommended item id. */
  action: string;
}

/** The simulator's answer to one {@link FeedbackRequest}. */
export interface FeedbackPrediction {
  /** Probability of each feedback label (order of `labels`), softmax over the K real classes. */
  probs: number[];
  /** The discriminator's probability that the (state, action) pair is real. */
  real: number;
}

/** A trained simulator as the server and agents see it. */
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
   * Scores many requests in one batched pass. Throws `UserError` naming the request index and
   * field for unknown items or labels (callers validate first to give per-request errors).
   */
  predict(requests: readonly FeedbackRequest[]): Promise<FeedbackPrediction[]>;
  /** Model description for `GET /v1/model` (config, backend, versions). */
  describe(): Record<string, unknown>;
}
