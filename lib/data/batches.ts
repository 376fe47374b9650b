/**
 * (state, action, reward) tuples → tensors. A state is the N pairs before the action, time-major
 * and left-padded (pad item = the embedding table's extra zero row, pad feedback = class 0,
 * mask 0) when the session has fewer than N earlier pairs.
 * @module
 */
import { tf } from "../tf.ts";
import type { Dataset } from "./dataset.ts";

/** A batch of states, time-major. */
export interface StateBatch {
  /** Item embeddings [N, B, E] (frozen, not trained). */
  emb: tf.Tensor3D;
  /** Feedback class indices [N, B], int32. */
  feedback: tf.Tensor2D;
  /**
   * Optional validity mask [N, B] (1 = real pair, 0 = left padding). Padded steps leave the
   * hidden state unchanged, so a padded short state encodes exactly like the short sequence.
   */
  mask?: tf.Tensor2D;
  /** Item indices [N, B], int32 (pad = item count), for models that look items up themselves. */
  items?: tf.Tensor2D;
}

/** Tensors of one batch. The caller disposes them (or builds them inside `tf.tidy`). */
export interface TupleBatch {
  state: StateBatch;
  /** Action (candidate) embeddings [B, E]. */
  action: tf.Tensor2D;
  /** Action item indices [B]. */
  actionIndex: tf.Tensor1D;
  /** True feedback classes [B], int32. */
  label: tf.Tensor1D;
  /**
   * Per-row, per-head loss weights [B · M] (row b · M + m), the heads' bootstrap of the batch;
   * absent: every row weighs 1.
   */
  weights?: tf.Tensor1D;
}

/** Index arrays of a batch, before they become tensors. */
export interface BatchIndices {
  /** [N × B] time-major item indices (pad = item count). */
  items: Int32Array;
  /** [N × B] time-major feedback classes. */
  feedback: Int32Array;
  /** [N × B] mask, or undefined when no state is padded. */
  mask?: Float32Array;
  /** [B] action item indices. */
  actions: Int32Array;
  /** [B] labels. */
  labels: Int32Array;
  /** [B · M] bootstrap weights of M heads (see {@link TupleBatch.weights}). */
  weights?: Float32Array;
}

/** Gathers the index arrays for the tuples whose action rows are `rows`. */
export function batchIndices(ds: Dataset, rows: ArrayLike<number>): BatchIndices {
  const N = ds.stateLength;
  const B = rows.length;
  const pad = ds.items.length;
  const items = new Int32Array(N * B);
  const feedback = new Int32Array(N * B);
  const actions = new Int32Array(B);
  const labels = new Int32Array(B);
  let mask: Float32Array | undefined;
  for (let b = 0; b < B; b++) {
    const a = rows[b]!;
    const start = ds.rowSessionStart[a]!;
    actions[b] = ds.rowItem[a]!;
    labels[b] = ds.rowLabel[a]!;
    for (let t = 0; t < N; t++) {
      const r = a - N + t;
      const o = t * B + b;
      if (r >= start) {
        items[o] = ds.rowItem[r]!;
        feedback[o] = ds.rowLabel[r]!;
      } else {
        items[o] = pad;
        if (!mask) mask = new Float32Array(N * B).fill(1);
        mask[o] = 0;
      }
    }
  }
  return { items, feedback, mask, actions, labels };
}

/** Turns index arrays into tensors using the embedding table [V + 1, E] (last row zeros). */
export function toTensors(idx: BatchIndices, table: tf.Tensor2D, stateLength: number): TupleBatch {
  const B = idx.actions.length;
  const N = stateLength;
  const E = table.shape[1];
  return tf.tidy(() => {
    const itemT = tf.tensor1d(idx.items, "int32");
    const emb = tf.reshape(tf.gather(table, itemT), [N, B, E]) as tf.Tensor3D;
    const actionIndex = tf.tensor1d(idx.actions, "int32");
    return {
      state: {
        emb,
        feedback: tf.tensor2d(idx.feedback, [N, B], "int32"),
        mask: idx.mask ? tf.tensor2d(idx.mask, [N, B]) : undefined,
        items: tf.reshape(itemT, [N, B]) as tf.Tensor2D,
      },
      action: tf.gather(table, actionIndex) as tf.Tensor2D,
      actionIndex,
      label: tf.tensor1d(idx.labels, "int32"),
      weights: idx.weights ? tf.tensor1d(idx.weights) : undefined,
    };
  });
}

/** Frees a batch's tensors. */
export function disposeBatch(b: TupleBatch): void {
  tf.dispose([b.state.emb, b.state.feedback, b.action, b.actionIndex, b.label]);
  if (b.state.mask) b.state.mask.dispose();
  if (b.state.items) b.state.items.dispose();
  if (b.weights) b.weights.dispose();
}
