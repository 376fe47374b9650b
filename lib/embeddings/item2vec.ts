/**
 * item2vec: skip-gram with negative sampling over the training sessions (items as words,
 * sessions as sentences), trained in tfjs, then squashed into (-1, 1) by tanh(v / (2 std v))
 * and frozen — the PyTorch reference's recipe (window 3, 5 negatives, sparse Adam 0.01, batch 8192).
 * @module
 */
import { tf } from "../tf.ts";
import { deriveSeed, Rng, uniformFloat32 } from "../random.ts";
import { collectGarbage } from "../memory.ts";
import type { Dataset } from "../data/dataset.ts";

/** item2vec settings. */
export interface Item2VecOptions {
  /** Embedding size |E|. @default 20 */
  dim?: number;
  /** Context window on each side. @default 3 */
  window?: number;
  /** Negative samples per positive pair. @default 5 */
  negatives?: number;
  /** Passes over the pairs. @default 1 */
  epochs?: number;
  /** Pairs per step. @default 8192 */
  batch?: number;
  /**
   * `adam`: lazy sparse Adam (the reference's SparseAdam); `rowwise-adagrad`: AdaGrad with one
   * accumulator per row (as large-scale embedding trainers use; V floats per table where Adam's
   * moments take 2 × V × E; see docs/performance.md); `auto`: Adam up to 8 M table entries
   * (V × E), else row-wise AdaGrad.
   * @default "auto"
   */
  optimizer?: "auto" | "adam" | "rowwise-adagrad";
  /** Learning rate. @default 0.01 for Adam, 0.2 for row-wise AdaGrad */
  learningRate?: number;
  /**
   * Skip-gram pairs are enumerated and shuffled up to this many; larger corpora draw pairs
   * uniformly at random (with replacement) instead of holding them all. @default 8_000_000
   */
  materializeLimit?: number;
  /** Subsample to at most this many pairs per epoch. @default 20_000_000 */
  maxPairs?: number;
  /** Root seed. @default 0 */
  seed?: number;
  /** Called after each step with (step, steps, loss or NaN). */
  onStep?: (step: number, steps: number, loss: number) => void;
}

/** Row-wise AdaGrad's default learning rate (see docs/performance.md). */
const ROWWISE_ADAGRAD_LR = 0.2;

/**
 * log σ(x) = −softplus(−x). (tf.logSigmoid's custom gradient fails on intermediate tensors in
 * tfjs 4.22: "Cannot read properties of undefined (reading 'backend')".)
 */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** Result of {@link trainItem2Vec}. */
export interface Item2VecResult {
  /** [V, E] squashed embeddings, row-major. */
  vectors: Float32Array;
  dim: number;
  pairs: number;
  finalLoss: number;
  seconds: number;
}

/**
 * Skip-gram pairs (both directions, distances 1..window) within each session, excluding each
 * session's test action (the last row of sessions that have a test tuple) and the shared rare
 * item (it has no vector of its own: the model's tables give it the mean).
 */
export function skipGramPairs(
  ds: Dataset,
  window: number,
): { centers: Int32Array; contexts: Int32Array } {
  const testRows = new Set(ds.test);
  let n = 0;
  const segs: [number, number][] = [];
  for (let j = 0; j + 1 < ds.sessionOffsets.length; j++) {
    const a = ds.sessionOffsets[j]!;
    let b = ds.sessionOffsets[j + 1]!;
    if (testRows.has(b - 1)) b--;
    segs.push([a, b]);
    for (let d = 1; d <= window; d++) n += 2 * Math.max(0, b - a - d);
  }
  const centers = new Int32Array(n), contexts = new Int32Array(n);
  const V = ds.items.length;
  let k = 0;
  for (let d = 1; d <= window; d++) {
    for (const [a, b] of segs) {
      for (let i = a; i + d < b; i++) {
        const x = ds.rowItem[i]!, y = ds.rowItem[i + d]!;
        if (x >= V || y >= V) continue;
        centers[k] = x;
        contexts[k++] = y;
        centers[k] = y;
        contexts[k++] = x;
      }
    }
  }
  return { centers: centers.subarray(0, k), contexts: contexts.subarray(0, k) };
}

/** Where a training step's (center, context) pairs come from. */
interface PairSource {
  /** Number of distinct pairs in the corpus. */
  count: number;
  /** Prepares an epoch of `n` pairs. */
  startEpoch(n: number): void;
  /** Writes pairs [offset, offset + centers.length) of the epoch. */
  fill(offset: number, centers: Int32Array, contexts: Int32Array): void;
}

/**
 * All pairs, shuffled per epoch (the reference's way), while they number at most `limit`;
 * beyond that, pairs drawn uniformly with replacement by rejection sampling of
 * (row, distance, direction), so memory stays O(rows).
 */
function pairSource(ds: Dataset, window: number, limit: number, rng: Rng): PairSource {
  const V = ds.items.length;
  const testRows = new Set(ds.test);
  let count = 0;
  for (let j = 0; j + 1 < ds.sessionOffsets.length; j++) {
    const a = ds.sessionOffsets[j]!;
    let b = ds.sessionOffsets[j + 1]!;
    if (testRows.has(b - 1)) b--;
    for (let d = 1; d <= window; d++) count += 2 * Math.max(0, b - a - d);
  }
  if (count <= limit) {
    const { centers, contexts } = skipGramPairs(ds, window);
    count = centers.length; // without the rare item's pairs
    let perm = new Int32Array(0);
    return {
      count,
      startEpoch(n) {
        perm = rng.shuffle(Int32Array.from({ length: count }, (_, i) => i)).subarray(0, n);
      },
      fill(offset, c, o) {
        for (let j = 0; j < c.length; j++) {
          c[j] = centers[perm[offset + j]!]!;
          o[j] = contexts[perm[offset + j]!]!;
        }
      },
    };
  }
  // End (exclusive) of each row's usable segment: the session end, minus a test action.
  const rows = ds.rowItem.length;
  const segEnd = new Int32Array(rows);
  for (let j = 0; j + 1 < ds.sessionOffsets.length; j++) {
    const a = ds.sessionOffsets[j]!;
    let b = ds.sessionOffsets[j + 1]!;
    if (testRows.has(b - 1)) b--;
    segEnd.fill(b, a, ds.sessionOffsets[j + 1]!);
  }
  return {
    count,
    startEpoch() {},
    fill(_offset, c, o) {
      for (let j = 0; j < c.length; j++) {
        for (;;) {
          const r = rng.int(rows);
          const d = 1 + rng.int(window);
          const other = rng.next() < 0.5 ? r + d : r - d;
          if (r >= segEnd[r]! || other < ds.rowSessionStart[r]! || other >= segEnd[r]!) continue;
          if (ds.rowItem[r]! >= V || ds.rowItem[other]! >= V) continue; // the rare item
          c[j] = ds.rowItem[r]!;
          o[j] = ds.rowItem[other]!;
          break;
        }
      }
    },
  };
}

/** A run's settings, defaults applied. */
interface Item2VecSettings {
  dim: number;
  window: number;
  negatives: number;
  epochs: number;
  batch: number;
  materializeLimit: number;
  maxPairs: number;
  seed: number;
  optimizer: "adam" | "rowwise-adagrad";
  learningRate: number;
  /** More than 8 M table entries: AdaGrad by default, and garbage collected on a schedule. */
  large: boolean;
}

/** The options with their defaults, for a vocabulary of `V` items. */
function item2VecSettings(options: Item2VecOptions, V: number): Item2VecSettings {
  const dim = options.dim ?? 20;
  const large = V * dim > 8_000_000;
  const optimizer = options.optimizer === undefined || options.optimizer === "auto"
    ? (large ? "rowwise-adagrad" : "adam")
    : options.optimizer;
  return {
    dim,
    window: options.window ?? 3,
    negatives: options.negatives ?? 5,
    epochs: options.epochs ?? 1,
    batch: options.batch ?? 8192,
    materializeLimit: options.materializeLimit ?? 8_000_000,
    maxPairs: options.maxPairs ?? 20_000_000,
    seed: options.seed ?? 0,
    optimizer,
    learningRate: options.learningRate ?? (optimizer === "adam" ? 0.01 : ROWWISE_ADAGRAD_LR),
    large,
  };
}

/** Draws noise items ∝ count^0.75 through a cumulative table and binary search. */
function noiseSampler(ds: Dataset, rng: Rng): () => number {
  const V = ds.items.length;
  const counts = new Float64Array(V);
  for (const c of ds.rowItem) if (c < V) counts[c]!++;
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let i = 0; i < V; i++) {
    acc += Math.pow(counts[i]!, 0.75);
    cdf[i] = acc;
  }
  return () => {
    const u = rng.next() * acc;
    let lo = 0, hi = V - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! <= u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * Negative-sampling loss of a batch: centre rows `u` [B, E], context rows `vo` [B, E] and
 * `negatives` noise rows per pair `vn` [B · negatives, E].
 */
function skipGramLoss(
  u: tf.Tensor,
  vo: tf.Tensor,
  vn: tf.Tensor,
  negatives: number,
  dim: number,
): tf.Tensor {
  const B = u.shape[0]!;
  const pos = tf.sum(tf.mul(u, vo), 1);
  const negs = tf.squeeze(tf.matMul(tf.reshape(vn, [B, negatives, dim]), tf.expandDims(u, 2)), [2]); // B, neg
  return tf.neg(tf.add(tf.mean(logSigmoid(pos)), tf.mean(tf.sum(logSigmoid(tf.neg(negs)), 1))));
}

/** Rows `ids` of a row-major [V, dim] table, as one [ids.length, dim] array. */
function gatherRows(table: Float32Array, ids: Int32Array, dim: number): Float32Array {
  const outRows = new Float32Array(ids.length * dim);
  for (let j = 0; j < ids.length; j++) {
    outRows.set(table.subarray(ids[j]! * dim, ids[j]! * dim + dim), j * dim);
  }
  return outRows;
}

/**
 * The input (0) and output (1) tables, in JS memory, with a lazy sparse optimiser: each step
 * updates only the rows it touched — the reference's SparseAdam, without dense [V, E]
 * gradients (row-wise AdaGrad instead for large vocabularies).
 */
class SparseTables {
  readonly tables: [Float32Array, Float32Array];
  readonly #dim: number;
  readonly #lr: number;
  readonly #adam?: { m: Float32Array; v: Float32Array; t: Int32Array }[];
  /** Row-wise AdaGrad: one accumulator per row (the mean of its squared gradient entries). */
  readonly #adagrad?: Float32Array[];
  // Per-step scratch, allocated once: the slot of each touched row (−1: untouched), the touched
  // rows in first-touch order and their summed gradients. No per-row objects, so a step leaves
  // no garbage however large the vocabulary.
  readonly #slot: Int32Array;
  readonly #touched: Int32Array;
  readonly #sums: Float32Array;

  constructor(V: number, s: Item2VecSettings) {
    const dim = s.dim;
    this.#dim = dim;
    this.#lr = s.learningRate;
    this.tables = [
      uniformFloat32(V * dim, -0.5 / dim, 0.5 / dim, deriveSeed(s.seed, "item2vec/in")),
      new Float32Array(V * dim),
    ];
    if (s.optimizer === "adam") {
      this.#adam = this.tables.map(() => ({
        m: new Float32Array(V * dim),
        v: new Float32Array(V * dim),
        t: new Int32Array(V),
      }));
    } else this.#adagrad = this.tables.map(() => new Float32Array(V));
    this.#slot = new Int32Array(V).fill(-1);
    const maxIds = s.batch * (1 + s.negatives);
    this.#touched = new Int32Array(maxIds);
    this.#sums = new Float32Array(maxIds * dim);
  }

  /** Sums per-row gradients by id, then one Adam (or row-wise AdaGrad) update per touched row. */
  update(which: 0 | 1, ids: Int32Array, grad: Float32Array): void {
    const n = this.#sumByRow(ids, grad);
    if (this.#adagrad) this.#adagradUpdate(which, n);
    else this.#adamUpdate(which, n);
  }

  /** Fills the scratch with the touched rows and their summed gradients; returns their count. */
  #sumByRow(ids: Int32Array, grad: Float32Array): number {
    const slot = this.#slot, touched = this.#touched, sums = this.#sums, dim = this.#dim;
    let nTouched = 0;
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      let s = slot[id]!;
      if (s < 0) {
        s = slot[id] = nTouched++;
        touched[s] = id;
        sums.fill(0, s * dim, s * dim + dim);
      }
      for (let d = 0; d < dim; d++) sums[s * dim + d]! += grad[j * dim + d]!;
    }
    for (let s = 0; s < nTouched; s++) slot[touched[s]!] = -1;
    return nTouched;
  }

  #adagradUpdate(which: 0 | 1, nTouched: number): void {
    const touched = this.#touched, sums = this.#sums, dim = this.#dim, lr = this.#lr;
    const w = this.tables[which], acc = this.#adagrad![which]!;
    for (let s = 0; s < nTouched; s++) {
      const id = touched[s]!;
      let sq = 0;
      for (let d = 0; d < dim; d++) sq += sums[s * dim + d]! * sums[s * dim + d]!;
      acc[id]! += sq / dim;
      const r = lr / (Math.sqrt(acc[id]!) + 1e-12);
      for (let d = 0; d < dim; d++) w[id * dim + d]! -= r * sums[s * dim + d]!;
    }
  }

  #adamUpdate(which: 0 | 1, nTouched: number): void {
    const touched = this.#touched, sums = this.#sums, dim = this.#dim, lr = this.#lr;
    const beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    const w = this.tables[which], { m, v, t } = this.#adam![which]!;
    for (let s = 0; s < nTouched; s++) {
      const id = touched[s]!;
      const step = ++t[id]!;
      const c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
      for (let d = 0; d < dim; d++) {
        const k = id * dim + d, g = sums[s * dim + d]!;
        m[k] = beta1 * m[k]! + (1 - beta1) * g;
        v[k] = beta2 * v[k]! + (1 - beta2) * g * g;
        w[k]! -= (lr * (m[k]! / c1)) / (Math.sqrt(v[k]! / c2) + eps);
      }
    }
  }
}

/** Gradients of {@link skipGramLoss} with respect to its three row batches. */
type SkipGramGrads = (rows: tf.Tensor[]) => tf.Tensor[];

/**
 * One step on the pairs (`centers[j]`, `contexts[j]`) with noise items `noise`: tfjs computes
 * the loss's gradients with respect to the gathered rows, then the tables update sparsely.
 * Returns the batch's loss when `withLoss`, else `undefined`.
 */
async function trainStep(
  t: SparseTables,
  grads: SkipGramGrads,
  batch: { centers: Int32Array; contexts: Int32Array; noise: Int32Array },
  s: Item2VecSettings,
  withLoss: boolean,
): Promise<number | undefined> {
  const { centers: c, contexts: o, noise: ng } = batch;
  const B = c.length, dim = s.dim, neg = s.negatives;
  const u = tf.tensor2d(gatherRows(t.tables[0], c, dim), [B, dim]);
  const vo = tf.tensor2d(gatherRows(t.tables[1], o, dim), [B, dim]);
  const vn = tf.tensor2d(gatherRows(t.tables[1], ng, dim), [B * neg, dim]);
  const [gu, gvo, gvn] = grads([u, vo, vn]);
  let loss: number | undefined;
  if (withLoss) {
    const l = tf.tidy(() => skipGramLoss(u, vo, vn, neg, dim));
    loss = (await l.data())[0]!;
    l.dispose();
  }
  const [gU, gO, gN] = await Promise.all([gu!.data(), gvo!.data(), gvn!.data()]) as [
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  tf.dispose([u, vo, vn, gu!, gvo!, gvn!]);
  t.update(0, c, gU);
  const outIds = new Int32Array(B + B * neg);
  outIds.set(o);
  outIds.set(ng, B);
  const outGrad = new Float32Array((B + B * neg) * dim);
  outGrad.set(gO);
  outGrad.set(gN, B * dim);
  t.update(1, outIds, outGrad);
  return loss;
}

/** Trains item2vec on `ds` and returns squashed, frozen vectors. */
export async function trainItem2Vec(
  ds: Dataset,
  options: Item2VecOptions = {},
): Promise<Item2VecResult> {
  const t0 = performance.now();
  const s = item2VecSettings(options, ds.items.length);
  const rng = new Rng(deriveSeed(s.seed, "item2vec"));
  const pairs = pairSource(ds, s.window, s.materializeLimit, rng);
  const sampleNoise = noiseSampler(ds, rng);
  const tables = new SparseTables(ds.items.length, s);
  const grads = tf.grads((u: tf.Tensor, vo: tf.Tensor, vn: tf.Tensor) =>
    skipGramLoss(u, vo, vn, s.negatives, s.dim)
  );
  let finalLoss = NaN;
  const perEpoch = Math.min(pairs.count, s.maxPairs);
  const steps = s.epochs * Math.ceil(perEpoch / s.batch);
  let step = 0;
  for (let ep = 0; ep < s.epochs; ep++) {
    pairs.startEpoch(perEpoch);
    for (let i = 0; i < perEpoch; i += s.batch) {
      const B = Math.min(s.batch, perEpoch - i);
      const batch = {
        centers: new Int32Array(B),
        contexts: new Int32Array(B),
        noise: new Int32Array(B * s.negatives),
      };
      pairs.fill(i, batch.centers, batch.contexts);
      for (let j = 0; j < batch.noise.length; j++) batch.noise[j] = sampleNoise();
      // The loss is read back every 50 steps and at the last one (a read waits for the backend).
      const last = i + s.batch >= perEpoch && ep === s.epochs - 1;
      finalLoss = await trainStep(tables, grads, batch, s, last || step % 50 === 0) ?? finalLoss;
      options.onStep?.(++step, steps, finalLoss);
      // A step leaves ~13 MB of short-lived arrays; with a large vocabulary's tables resident,
      // collecting them on a schedule keeps the peak independent of the background collector.
      if (s.large && step % 100 === 0) collectGarbage();
    }
  }
  return {
    vectors: squash(tables.tables[0]),
    dim: s.dim,
    pairs: pairs.count,
    finalLoss,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Squashes `table` into (-1, 1) in place: tanh(v / (2 std(v))), sample std over all entries. */
function squash(table: Float32Array): Float32Array {
  let s1 = 0, s2 = 0;
  for (const x of table) s1 += x;
  const mean = s1 / table.length;
  for (const x of table) s2 += (x - mean) * (x - mean);
  const std = Math.sqrt(s2 / Math.max(table.length - 1, 1));
  for (let k = 0; k < table.length; k++) table[k] = Math.tanh(table[k]! / (2 * std + 1e-12));
  return table;
}
