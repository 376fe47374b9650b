/**
 * The learned leave model in the simulator: P(the user leaves after this item), from the
 * checkpoint's `leave.json` (fitted by `recsimu train` on the log's session ends; the features
 * are documented in `lib/train/leave_features.ts`), and the seeded draw that ends an episode.
 *
 * In an episode the position of an item is its 0-based index in the episode (the start state is
 * the user's history, not part of the session), the negative streak counts within the episode,
 * and the state is the environment's state before the item. A page of k items at step t holds
 * positions t·k … t·k + k − 1; the user leaves after the page with probability
 * 1 − Π_j (1 − h_j) over its items' hazards h_j, decided by one uniform draw from
 * `deriveSeed(seed, "leave:<t>")`.
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import {
  checkLeaveModel,
  LEAVE_FILE,
  type LeaveEvaluation,
  leaveFeatures,
  type LeaveModelData,
  logistic,
} from "../train/leave_features.ts";
import type { StepRecord } from "./types.ts";

/**
 * A fitted leave model, ready to answer. Build it from `leave.json`'s data
 * ({@link LeaveModel.fromData}) or load it from a checkpoint ({@link loadLeaveModel}).
 *
 * @example
 * ```ts
 * import { LeaveModel } from "./leave.ts";
 * import { leaveFeatureNames } from "../train/leave_features.ts";
 * const labels = ["neg", "pos"];
 * const features = leaveFeatureNames(labels, [5]);
 * // A user who leaves more after a negative and from position 5 on.
 * const weights = [-3, 1, 0, 0, 0, 0, 0, 2];
 * const m = LeaveModel.fromData({
 *   format: 1, method: "logistic", labels, state_length: 2, streak_cap: 10, position_edges: [5],
 *   features, weights, l2: 1, seed: 0, heldout: null,
 *   train: { sessions: 1, rows: 1, base_rate: 1, iterations: 1 },
 * }, labels, 2);
 * m.hazard({ state: [], feedback: 0, streak: 1, position: 7 }); // sigmoid(-3 + 1 + 2) = 0.5
 * ```
 */
export class LeaveModel {
  /** The stored model (`leave.json`). */
  readonly data: Readonly<LeaveModelData>;
  readonly #labelIndex: Map<string, number>;
  readonly #x: Float64Array;

  private constructor(data: LeaveModelData) {
    this.data = data;
    this.#labelIndex = new Map(data.labels.map((l, k) => [l, k]));
    this.#x = new Float64Array(data.weights.length);
  }

  /**
   * A model from parsed `leave.json` data, checked against the simulator's labels and state
   * length (a {@link CheckpointError} names the field that does not fit).
   */
  static fromData(
    data: unknown,
    labels: readonly string[],
    stateLength: number,
    file = LEAVE_FILE,
  ): LeaveModel {
    return new LeaveModel(checkLeaveModel(data, file, labels, stateLength));
  }

  /** The labels the model was fitted with, in class order. */
  get labels(): readonly string[] {
    return this.data.labels;
  }

  /** The held-out evaluation stored with the model (null when there was none). */
  get heldout(): LeaveEvaluation | null {
    return this.data.heldout;
  }

  /**
   * h = P(the user leaves after this item): `state` is the state before it (its last N pairs
   * count), `feedback` the item's label index, `streak` the negatives in a row ending at it
   * (itself included), `position` its 0-based index in the episode.
   */
  hazard(
    q: { state: readonly StepRecord[]; feedback: number; streak: number; position: number },
  ): number {
    const K = this.data.labels.length, N = this.data.state_length;
    const counts = new Int32Array(K);
    for (let i = Math.max(0, q.state.length - N); i < q.state.length; i++) {
      const k = this.#labelIndex.get(q.state[i]!.feedback);
      if (k !== undefined) counts[k]!++;
    }
    const x = leaveFeatures(
      this.#x,
      { feedback: q.feedback, streak: q.streak, stateCounts: counts, position: q.position },
      K,
      N,
      this.data.position_edges,
    );
    return logistic(this.data.weights, x);
  }

  /** A short description for `GET /v1/model` and logs. */
  describe(): Record<string, unknown> {
    return {
      method: this.data.method,
      features: this.data.features,
      train: this.data.train,
      heldout: this.data.heldout,
    };
  }
}

/**
 * Whether the user leaves at step `step` of the episode seeded `seed`, given the probability
 * `p` of leaving: one uniform from `deriveSeed(seed, "leave:<step>")` below `p`. Pure.
 *
 * @example
 * ```ts
 * import { leaves } from "./leave.ts";
 * leaves(1, 42, 3); // true: probability 1
 * leaves(0, 42, 3); // false
 * leaves(0.3, 42, 3) === leaves(0.3, 42, 3); // true
 * ```
 */
export function leaves(p: number, seed: number, step: number): boolean {
  return new Rng(deriveSeed(seed, `leave:${step}`)).next() < p;
}

/**
 * The learned leave model of the checkpoint in `dir` (its `leave.json`, sha256-checked), or
 * undefined for a checkpoint without one (trained before recsimu learned leave models, or
 * whose training did not finish).
 *
 * @example
 * ```ts ignore
 * const leave = await loadLeaveModel("model/", sim.labels, sim.stateLength);
 * const env = new SimEnv(sim, { leave });
 * ```
 */
export async function loadLeaveModel(
  dir: string,
  labels: readonly string[],
  stateLength: number,
): Promise<LeaveModel | undefined> {
  // Imported here, so that the environments (which import this module) load no tfjs.
  const { readOptionalCheckpointJson } = await import("../train/checkpoint.ts");
  const read = await readOptionalCheckpointJson(dir, LEAVE_FILE);
  return read && LeaveModel.fromData(read.data, labels, stateLength, read.file);
}
