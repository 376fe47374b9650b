/**
 * What the baseline networks share: their options, the frozen embedding table, batched
 * prediction, one optimiser step on a loss, and the prediction and training-record types.
 * Fitting them (the epoch loop) is in `lib/train`, scoring their predictions in `lib/eval`.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import { batchIndices, disposeBatch, toTensors, type TupleBatch } from "../../lib/data/batches.ts";
import { registerFastMatMulGrad, registerFastWasmKernels } from "../fast_grad.ts";
import { withPadAndRare } from "../params.ts";

/** What every baseline network is built from besides the data set's sizes. */
export interface NetOptions {
  /** Item embeddings [V, E] row-major, the same vectors RecSimu uses (item2vec). */
  embeddings: Float32Array;
  /** Item embedding size E. */
  embDim: number;
  /** Root seed of the initial weights (and of any sampling the model does). */
  seed: number;
}

/** Layer sizes of the networks with a GRU state encoder and a fully connected head. */
export interface LayerSizes {
  /** Feedback embedding size |F|. */
  feedbackDim: number;
  /** GRU hidden size. */
  hidden: number;
  /** Width of the fully connected layers (the factor size of FM). */
  fc: number;
}

/** One epoch of a baseline's training. */
export interface BaselineEpoch {
  epoch: number;
  seconds: number;
  /** Mean losses over the epoch's steps, namespaced (`loss/ce`, `loss/d`, …). */
  loss: Record<string, number>;
  /** Validation AUC, when early stopping is on (`patience` > 0). */
  validationAuc?: number;
}

/** How a baseline's training went. */
export interface BaselineTraining {
  history: BaselineEpoch[];
  /** True when `shouldStop` ended training early. */
  stopped: boolean;
  seconds: number;
}

/**
 * A prediction for a set of tuples: full class probabilities [n, width] (the first K columns are
 * the real feedback classes), or only a score for "positive" in [0, 1].
 */
export type FeedbackPrediction =
  | { probs: Float32Array; width: number }
  | { positive: Float64Array };

/** A trained feedback predictor. */
export interface FeedbackPredictor {
  /** Model name as in the report (`lr`, `gru`, …). */
  readonly name: string;
  /** Training record (empty history for models that do not train). */
  readonly training: BaselineTraining;
  /** Predicts the feedback of the tuples whose action rows are `rows`. */
  predict(ds: Dataset, rows: Int32Array): FeedbackPrediction;
  /** Frees the model's tensors. */
  dispose(): void;
}

/** A baseline trained by one optimiser on one per-batch loss (LR, GRU). */
export interface SupervisedModel extends FeedbackPredictor {
  training: BaselineTraining;
  readonly table: tf.Tensor2D;
  params: { list(): tf.Variable[] };
  /** One update on a batch; returns the loss. */
  step(b: TupleBatch, opt: tf.Optimizer): number;
}

/** Registers the fast WASM kernels and gradients the models rely on (idempotent). */
export function prepareKernels(): void {
  registerFastMatMulGrad();
  registerFastWasmKernels();
}

/** The frozen embedding table [V + 1, E]; the last row (padding) is zeros. */
export function embeddingTable(vectors: Float32Array, items: number, dim: number): tf.Tensor2D {
  if (vectors.length !== items * dim) {
    throw new RangeError(`embeddings: expected ${items}×${dim} values, got ${vectors.length}`);
  }
  // Row V pads states, row V + 1 (the shared rare item) is the mean vector.
  return tf.tensor2d(withPadAndRare(vectors, items, dim), [items + 2, dim]);
}

/**
 * Runs `f` over `rows` in batches and gathers its [B, width] outputs into one array.
 * `f` runs inside `tf.tidy`.
 */
export function predictBatches(
  ds: Dataset,
  rows: Int32Array,
  table: tf.Tensor2D,
  width: number,
  f: (b: TupleBatch) => tf.Tensor2D,
  batch = 1024,
): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i += batch) {
    const b = toTensors(batchIndices(ds, rows.subarray(i, i + batch)), table, ds.stateLength);
    try {
      const p = tf.tidy(() => f(b));
      out.set(p.dataSync() as Float32Array, i * width);
      p.dispose();
    } finally {
      disposeBatch(b);
    }
  }
  return out;
}

/** One step of `opt` on `loss` over `vars`; returns the loss value. Call inside `tf.tidy`. */
export function minimize(opt: tf.Optimizer, vars: tf.Variable[], loss: () => tf.Scalar): number {
  const { value, grads } = tf.variableGrads(loss, vars);
  opt.applyGradients(grads);
  const v = value.dataSync()[0]!;
  tf.dispose(grads);
  value.dispose();
  return v;
}

/** Mean softmax cross-entropy of integer labels under logits [B, C]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const lp = tf.logSoftmax(logits, 1);
  return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(labels, logits.shape[1])), 1)));
}
