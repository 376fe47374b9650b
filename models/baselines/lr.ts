/**
 * The LR baseline of Figure 6: logistic regression h(x) = σ(wᵀx + b) on the concatenation of
 * every state pair i_n = (e_n, onehot(f_n)) and the candidate's embedding, trained on the
 * paper's squared loss E ½ (h(x) − y)² with y = 1 for a positive label, else 0.
 *
 * Padded state positions contribute zeros (the pad embedding is zero and the one-hot is masked).
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { TupleBatch } from "../../lib/data/batches.ts";
import { Params } from "../params.ts";
import { deriveSeed } from "../../lib/random.ts";
import {
  type BaselineTraining,
  embeddingTable,
  type FeedbackPrediction,
  minimize,
  type NetOptions,
  predictBatches,
  prepareKernels,
  type SupervisedModel,
} from "./common.ts";

/** The LR feature vector [B, N(E + K) + E] of a batch. */
export function lrFeatures(b: TupleBatch, classes: number): tf.Tensor2D {
  const [n, batch, e] = b.state.emb.shape;
  const emb = tf.reshape(tf.transpose(b.state.emb, [1, 0, 2]), [batch, n * e]);
  let oh: tf.Tensor = tf.oneHot(b.state.feedback, classes); // [N, B, K]
  if (b.state.mask) oh = tf.mul(oh, tf.expandDims(b.state.mask, 2));
  const fb = tf.reshape(tf.transpose(oh, [1, 0, 2]), [batch, n * classes]);
  return tf.concat([emb, fb, b.action], 1) as tf.Tensor2D;
}

/** A trained logistic regression. */
export class LogisticRegression implements SupervisedModel {
  readonly name = "lr";
  readonly params: Params;
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  readonly table: tf.Tensor2D;
  training: BaselineTraining = { history: [], stopped: false, seconds: 0 };
  readonly #isPositive: tf.Tensor1D;

  /** @param ds the data (for sizes) @param opts embeddings and seed */
  constructor(ds: Dataset, opts: NetOptions) {
    prepareKernels();
    const K = ds.labels.length;
    const inputs = ds.stateLength * (opts.embDim + K) + opts.embDim;
    this.params = new Params("LR", deriveSeed(opts.seed, "lr"));
    const bound = 1 / Math.sqrt(inputs);
    this.w = this.params.uniform("w", [inputs, 1], bound);
    this.b = this.params.uniform("b", [1], bound);
    this.table = embeddingTable(opts.embeddings, ds.items.length, opts.embDim);
    this.#isPositive = tf.tensor1d(ds.positive.map((p) => (p ? 1 : 0)), "float32");
  }

  /** P(positive) [B] for a batch. */
  positiveProb(b: TupleBatch): tf.Tensor1D {
    const x = lrFeatures(b, this.#isPositive.shape[0]);
    return tf.reshape(tf.sigmoid(tf.add(tf.matMul(x, this.w), this.b)), [-1]) as tf.Tensor1D;
  }

  /** One update on the squared loss; returns it. */
  step(b: TupleBatch, opt: tf.Optimizer): number {
    return tf.tidy(() => {
      const y = tf.gather(this.#isPositive, b.label);
      return minimize(opt, this.params.list(), () => {
        const h = this.positiveProb(b);
        return tf.mean(tf.mul(0.5, tf.square(tf.sub(h, y))));
      });
    });
  }

  predict(ds: Dataset, rows: Int32Array): FeedbackPrediction {
    const p = predictBatches(
      ds,
      rows,
      this.table,
      1,
      (b) => tf.expandDims(this.positiveProb(b), 1),
    );
    return { positive: Float64Array.from(p) };
  }

  dispose(): void {
    this.params.dispose();
    this.table.dispose();
    this.#isPositive.dispose();
  }
}
