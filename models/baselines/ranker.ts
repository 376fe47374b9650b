/**
 * What the Table-1 recommenders share: frozen item features, state summaries, and top-k
 * ranking of every item (their next-item training is in `lib/train/fit_rankers.ts`).
 *
 * Items enter every recommender through the same frozen features — the run's item2vec vector
 * plus the standardised log-count of the item as a logged action — as they enter RecSimu's
 * generator (which sees only the frozen vectors). Trainable per-item tables would need gradients
 * of gathers, which the WASM backend lacks; sharing item features also means Table 1 compares
 * how each model maps a state to items, not how well it learns item vectors.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import { batchIndices, disposeBatch, toTensors, type TupleBatch } from "../../lib/data/batches.ts";
import { matMulExplicit } from "../fast_grad.ts";
import { embeddingTable, type NetOptions, prepareKernels } from "./common.ts";

/** A model that scores candidate items for states. */
export interface ItemRanker {
  /** Name as in the report (`fm`, `wd`, `gru4rec`, …). */
  readonly name: string;
  /** Floats held per (state, candidate) pair while scoring; sizes the scoring chunks. */
  readonly pairCost: number;
  /** Scores [B, C] of candidates with item features [C, F] for the batch's states. */
  scores(b: TupleBatch, candidates: tf.Tensor2D): tf.Tensor2D;
  /** Trainable variables (empty when nothing is trained). */
  variables(): tf.Variable[];
  /** Frees the ranker's tensors. */
  dispose(): void;
}

/** How often each item is a training action (the logged next item). */
export function actionCounts(ds: Dataset): Float64Array {
  const counts = new Float64Array(ds.items.length);
  for (const r of ds.train) counts[ds.rowItem[r]!]!++;
  return counts;
}

/**
 * Frozen item features [V, E + 1]: the embedding, then log(1 + action count) standardised to
 * mean 0 and standard deviation 1 over the items.
 */
export function itemFeatures(ds: Dataset, embeddings: Float32Array, dim: number): tf.Tensor2D {
  const V = ds.items.length;
  if (embeddings.length !== V * dim) {
    throw new RangeError(`embeddings: expected ${V}×${dim} values, got ${embeddings.length}`);
  }
  const lc = Array.from(actionCounts(ds), (c) => Math.log1p(c));
  const mean = lc.reduce((a, b) => a + b, 0) / V;
  const sd = Math.sqrt(lc.reduce((a, b) => a + (b - mean) ** 2, 0) / V) || 1;
  const f = new Float32Array(V * (dim + 1));
  for (let i = 0; i < V; i++) {
    f.set(embeddings.subarray(i * dim, (i + 1) * dim), i * (dim + 1));
    f[i * (dim + 1) + dim] = (lc[i]! - mean) / sd;
  }
  return tf.tensor2d(f, [V, dim + 1]);
}

/**
 * A fixed-size summary [B, 3E + 1] of each state for the feature-based recommenders: the mean
 * embedding of the history, the mean embedding of its positive items (zeros when none), the
 * embedding of the most recent item and the share of positive feedback. Padded steps count for
 * nothing.
 */
export function stateSummary(b: TupleBatch, isPositive: tf.Tensor1D): tf.Tensor2D {
  const [n, batch] = b.state.emb.shape;
  const valid = b.state.mask ?? tf.ones([n, batch]);
  const pos = tf.mul(tf.gather(isPositive, b.state.feedback), valid); // [N, B]
  const count = tf.maximum(tf.sum(valid, 0), 1); // [B]
  const posCount = tf.sum(pos, 0);
  const weighted = (w: tf.Tensor, d: tf.Tensor) =>
    tf.div(tf.sum(tf.mul(b.state.emb, tf.expandDims(w, 2)), 0), tf.expandDims(d, 1));
  const meanAll = weighted(valid, count);
  const meanPos = weighted(pos, tf.maximum(posCount, 1));
  const last = tf.reshape(tf.slice(b.state.emb, [n - 1, 0, 0], [1, -1, -1]), [batch, -1]);
  const share = tf.expandDims(tf.div(posCount, count), 1);
  return tf.concat([meanAll, meanPos, last, share], 1) as tf.Tensor2D;
}

/** `a bᵀ` with an explicit transpose (the fast WASM kernel). */
export function dotAll(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulExplicit(a, b, false, true) as tf.Tensor2D;
}

/** What FM and Wide & Deep are built from: embeddings, seed and the factor / layer width. */
export type RankerNetOptions = NetOptions & { fc: number };

/** Tensors a trained ranker keeps: the embedding table, item features and the positive mask. */
export interface RankerInputs {
  /** [V + 1, E] embedding table for state batches. */
  table: tf.Tensor2D;
  /** [V, E + 1] frozen item features. */
  features: tf.Tensor2D;
  /** [K] 1 for positive labels. */
  isPositive: tf.Tensor1D;
}

/** Builds the {@link RankerInputs} of a data set and embeddings. */
export function rankerInputs(ds: Dataset, embeddings: Float32Array, dim: number): RankerInputs {
  prepareKernels();
  return {
    table: embeddingTable(embeddings, ds.items.length, dim),
    features: itemFeatures(ds, embeddings, dim),
    isPositive: tf.tensor1d(ds.positive.map((p) => (p ? 1 : 0)), "float32"),
  };
}

/** Frees {@link RankerInputs}. */
export function disposeInputs(x: RankerInputs): void {
  tf.dispose([x.table, x.features, x.isPositive]);
}

/**
 * The `k` best items [n × k] (highest score first; ties by lower item index) for the states of
 * the tuples whose action rows are `rows`, ranking every item of the vocabulary.
 */
export function topK(
  ranker: ItemRanker,
  inputs: RankerInputs,
  ds: Dataset,
  rows: Int32Array,
  k: number,
): Int32Array {
  const V = ds.items.length;
  const kk = Math.min(k, V);
  const candChunk = Math.min(V, 4096);
  const rowChunk = Math.max(1, Math.min(512, Math.floor(8e6 / (candChunk * ranker.pairCost))));
  const out = new Int32Array(rows.length * k).fill(-1);
  for (let r0 = 0; r0 < rows.length; r0 += rowChunk) {
    const sub = rows.subarray(r0, r0 + rowChunk);
    const n = sub.length;
    const bestS = new Float64Array(n * kk).fill(-Infinity);
    const bestI = new Int32Array(n * kk).fill(-1);
    const b = toTensors(batchIndices(ds, sub), inputs.table, ds.stateLength);
    try {
      for (let c0 = 0; c0 < V; c0 += candChunk) {
        const c1 = Math.min(V, c0 + candChunk);
        const s = tf.tidy(() =>
          ranker.scores(b, tf.slice(inputs.features, [c0, 0], [c1 - c0, -1]) as tf.Tensor2D)
        );
        const data = s.dataSync() as Float32Array;
        s.dispose();
        const w = c1 - c0;
        for (let i = 0; i < n; i++) {
          const bs = bestS.subarray(i * kk, (i + 1) * kk),
            bi = bestI.subarray(i * kk, (i + 1) * kk);
          for (let j = 0; j < w; j++) {
            const v = data[i * w + j]!;
            if (!(v > bs[kk - 1]!)) continue;
            let p = kk - 1;
            while (p > 0 && v > bs[p - 1]!) {
              bs[p] = bs[p - 1]!;
              bi[p] = bi[p - 1]!;
              p--;
            }
            bs[p] = v;
            bi[p] = c0 + j;
          }
        }
      }
    } finally {
      disposeBatch(b);
    }
    for (let i = 0; i < n; i++) {
      out.set(bestI.subarray(i * kk, (i + 1) * kk), (r0 + i) * k);
    }
  }
  return out;
}
