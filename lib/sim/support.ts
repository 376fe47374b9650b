/**
 * The support model in the simulator: for an answered (state, action), the estimated
 * ln π_log(a | s) − ln(1/V), how much likelier the logging policy was to show the item than a
 * uniform draw (`support` of an answer; `ood.off_support` below the threshold fitted on the
 * logged validation pairs). From the checkpoint's `support.json`, fitted by `recsimu train`
 * (`lib/train/fit_support.ts`; the features in `lib/train/support_features.ts`).
 * @module
 */
import {
  checkSupportModel,
  SUPPORT_FILE,
  type SupportContext,
  supportContext,
  supportFeatureNames,
  supportFeatures,
  supportLogit,
  type SupportModelData,
} from "../train/support_features.ts";

/** What a support model must fit: the simulator's labels, state length and vocabulary. */
export interface SupportShape {
  labels: readonly string[];
  stateLength: number;
  /** Item2vec vectors [V, E] of the vocabulary (a checkpoint's `embeddings.bin`). */
  vectors: Float32Array;
  dim: number;
}

/**
 * A fitted support model, ready to answer.
 *
 * @example
 * ```ts
 * import { SupportModel } from "./support.ts";
 * import { supportFeatureNames } from "../train/support_features.ts";
 * const labels = ["neg", "pos"];
 * const features = supportFeatureNames(labels);
 * // Only popularity counts: weight 2 on the log count, bias −1.
 * const weights = features.map((f) => f === "bias" ? -1 : f === "log_count" ? 2 : 0);
 * const m = SupportModel.fromData({
 *   format: 1, method: "logistic", labels, state_length: 2, features, weights, l2: 1, seed: 0,
 *   item_counts: [3, 0], threshold: -0.5, train: { rows: 4, iterations: 1 }, heldout: null,
 * }, { labels, stateLength: 2, vectors: new Float32Array(4), dim: 2 });
 * m.logit({ items: [], feedback: [], candidate: 0 }); // 1: the most frequent item
 * m.logit({ items: [], feedback: [], candidate: -1 }); // -1: an unknown one
 * ```
 */
export class SupportModel {
  /** The stored model (`support.json`). */
  readonly data: Readonly<SupportModelData>;
  readonly #context: SupportContext;
  readonly #x: Float64Array;

  private constructor(data: SupportModelData, shape: SupportShape) {
    this.data = data;
    this.#context = supportContext(
      shape.vectors,
      shape.dim,
      data.item_counts,
      shape.labels.length,
      shape.stateLength,
    );
    this.#x = new Float64Array(supportFeatureNames(shape.labels).length);
  }

  /**
   * A model from parsed `support.json` data, checked against the simulator (a
   * {@link CheckpointError} names the field that does not fit).
   */
  static fromData(data: unknown, shape: SupportShape, file = SUPPORT_FILE): SupportModel {
    const checked = checkSupportModel(data, file, {
      labels: shape.labels,
      stateLength: shape.stateLength,
      items: shape.vectors.length / shape.dim,
    });
    return new SupportModel(checked, shape);
  }

  /** `ood.off_support` is set below this logit. */
  get threshold(): number {
    return this.data.threshold;
  }

  /**
   * The support logit of a question: state item indices (−1: not in the vocabulary) and
   * feedback classes, oldest first (the last N count), and the candidate's index (−1: unknown).
   */
  logit(q: { items: ArrayLike<number>; feedback: ArrayLike<number>; candidate: number }): number {
    return supportLogit(this.data.weights, supportFeatures(this.#x, q, this.#context));
  }

  /** A short description for `GET /v1/model` and logs. */
  describe(): Record<string, unknown> {
    return {
      method: this.data.method,
      features: this.data.features,
      threshold: this.data.threshold,
      train: this.data.train,
      heldout: this.data.heldout,
    };
  }
}

/**
 * The support model of the checkpoint in `dir` (its `support.json`, sha256-checked), or
 * undefined for a checkpoint without one (trained before recsimu fitted support models, or
 * whose training did not finish).
 */
export async function loadSupportModel(
  dir: string,
  shape: SupportShape,
): Promise<SupportModel | undefined> {
  const { readOptionalCheckpointJson } = await import("../train/checkpoint.ts");
  const read = await readOptionalCheckpointJson(dir, SUPPORT_FILE);
  return read && SupportModel.fromData(read.data, shape, read.file);
}
