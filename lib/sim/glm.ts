/**
 * The structured user model in the simulator (`--user-model glm`): P(label | s, a) from the
 * checkpoint's `glm.json`, fitted by `recsimu train` (`lib/train/fit_glm.ts`; the features and
 * the model's form in `lib/train/glm_features.ts`).
 * @module
 */
import {
  checkGlmModel,
  GLM_FILE,
  glmCodes,
  type GlmContext,
  glmContext,
  glmFeatures,
  type GlmModelData,
  glmProbs,
  type GlmQuestion,
} from "../train/glm_features.ts";
import type { ItemFeatures } from "../data/item_features.ts";

/** What a structured user model must fit: the simulator's labels, state length and vocabulary. */
export interface GlmShape {
  labels: readonly string[];
  positive: readonly boolean[];
  stateLength: number;
  /** Item2vec vectors [V, E] of the vocabulary (a checkpoint's `embeddings.bin`). */
  vectors: Float32Array;
  dim: number;
  /** The checkpoint's item features, when it has some. */
  itemFeatures?: ItemFeatures;
}

/**
 * A fitted structured user model, ready to answer.
 *
 * @example
 * ```ts
 * import { GlmModel } from "./glm.ts";
 * import { glmFeatureNames } from "../train/glm_features.ts";
 * const features = glmFeatureNames([]);
 * // Only the bias: P(positive) = σ(0 + item bias).
 * const m = GlmModel.fromData({
 *   format: 1, method: "logistic-glm", labels: ["neg", "pos"], positive: [false, true],
 *   state_length: 2, columns: [], features, weights: features.map(() => 0),
 *   item_bias: [Math.log(3), 0, 0], splits: {
 *     positive: { labels: [1], weights: [] }, negative: { labels: [0], weights: [] },
 *   }, l2: 1, item_l2: 3, seed: 0, item_counts: [1, 1], train: { rows: 2, rounds: 1 },
 *   heldout: null,
 * }, { labels: ["neg", "pos"], positive: [false, true], stateLength: 2,
 *   vectors: new Float32Array(4), dim: 2 });
 * [...m.probs({ items: [], feedback: [], candidate: 0 })]; // [0.25, 0.75]
 * [...m.probs({ items: [], feedback: [], candidate: -1 })]; // [0.5, 0.5]: the rare item's bias
 * ```
 */
export class GlmModel {
  /** The stored model (`glm.json`). */
  readonly data: Readonly<GlmModelData>;
  readonly #context: GlmContext;
  readonly #x: Float64Array;
  readonly #rare: number;

  private constructor(data: GlmModelData, shape: GlmShape) {
    this.data = data;
    const f = shape.itemFeatures;
    this.#context = glmContext(
      shape.vectors,
      shape.dim,
      data.item_counts,
      shape.positive,
      shape.stateLength,
      glmCodes(
        data.item_counts.length,
        f && { codes: f.codes, columns: f.columns.length },
        data.clusters,
      ),
      (data.taste_dim ?? 0) > 0,
    );
    this.#x = new Float64Array(data.features.length);
    this.#rare = data.item_counts.length;
  }

  /**
   * A model from parsed `glm.json` data, checked against the simulator (a
   * {@link CheckpointError} names the field that does not fit).
   */
  static fromData(data: unknown, shape: GlmShape, file = GLM_FILE): GlmModel {
    const checked = checkGlmModel(data, file, {
      labels: shape.labels,
      positive: shape.positive,
      stateLength: shape.stateLength,
      items: shape.vectors.length / shape.dim,
      columns: shape.itemFeatures?.columns ?? [],
      dim: shape.dim,
    });
    return new GlmModel(checked, shape);
  }

  /**
   * P(label) of a question (state item indices, −1 for none in the vocabulary; feedback
   * classes, oldest first; the candidate's index, −1 for a rare or unknown item), in label
   * order, into `out` (a new array by default).
   */
  probs(
    q: GlmQuestion,
    out: Float64Array = new Float64Array(this.data.labels.length),
  ): Float64Array {
    const a = q.candidate;
    const bias = this.data.item_bias[a >= 0 ? a : this.#rare]!;
    return glmProbs(
      this.data.weights,
      this.data.splits,
      glmFeatures(this.#x, q, this.#context),
      bias,
      out,
    );
  }

  /**
   * The answer's spread: the standard deviation of P(positive) from the candidate's bias
   * uncertainty, p (1 − p) · sd(b_a) (the delta method on the Laplace approximation), for the
   * probabilities `probs` of {@link probs}; 0 for a file without `item_bias_sd`. The weights,
   * fitted on every tuple, are far surer than an item's bias and are left out.
   */
  spread(candidate: number, probs: ArrayLike<number>): number {
    const sd = this.data.item_bias_sd;
    if (sd === undefined) return 0;
    let p = 0;
    for (let k = 0; k < probs.length; k++) if (this.data.positive[k]) p += probs[k]!;
    return p * (1 - p) * sd[candidate >= 0 ? candidate : this.#rare]!;
  }

  /** A short description for `GET /v1/model` and logs. */
  describe(): Record<string, unknown> {
    return {
      method: this.data.method,
      columns: this.data.columns,
      features: this.data.features,
      l2: this.data.l2,
      item_l2: this.data.item_l2,
      train: this.data.train,
      heldout: this.data.heldout,
    };
  }
}

/**
 * The structured user model of the checkpoint in `dir` (its `glm.json`, sha256-checked), or
 * undefined for a checkpoint without one (trained before recsimu fitted one, or whose training
 * did not finish).
 */
export async function loadGlmModel(dir: string, shape: GlmShape): Promise<GlmModel | undefined> {
  const { readOptionalCheckpointJson } = await import("../train/checkpoint.ts");
  const read = await readOptionalCheckpointJson(dir, GLM_FILE);
  return read && GlmModel.fromData(read.data, shape, read.file);
}
