/**
 * State features for policies: a fixed-size vector from an observation (the last N (item,
 * feedback) pairs) and a fixed item-embedding matrix.
 *
 * x(s) = [mean embedding of the state's items, embedding of the last item, mean embedding of
 * the items with positive feedback, fraction of each feedback label, |s| / N]. Empty parts are
 * zeros. The embeddings are standardised per dimension so that features have unit scale.
 * @module
 */
import { Rng } from "../random.ts";
import type { SimulatorLike, StepRecord } from "../sim/types.ts";

/** Turns observations into feature vectors; holds the standardised item embeddings. */
export class Featurizer {
  /** [V, E] standardised item embeddings, row-major. */
  readonly embeddings: Float32Array;
  /** Embedding size E. */
  readonly embDim: number;
  /** Feature size: 3E + K + 1. */
  readonly size: number;
  readonly #items: Map<string, number>;
  readonly #labels: Map<string, number>;
  readonly #positive: readonly boolean[];
  readonly #n: number;
  readonly #k: number;

  /**
   * @param sim the simulator whose items, labels and state length the features follow
   * @param embeddings [V, E] item embeddings, row-major, in `sim.items` order
   */
  constructor(sim: SimulatorLike, embeddings: Float32Array) {
    const v = sim.itemCount;
    if (v < 1 || embeddings.length === 0 || embeddings.length % v !== 0) {
      throw new TypeError(
        `Cannot build features: expected ${v}×E embedding values, got ${embeddings.length}`,
      );
    }
    this.embDim = embeddings.length / v;
    this.embeddings = standardise(embeddings, v, this.embDim);
    this.#items = new Map(sim.items.map((id, i) => [id, i]));
    this.#labels = new Map(sim.labels.map((l, i) => [l, i]));
    this.#positive = sim.positive;
    this.#n = Math.max(1, sim.stateLength);
    this.#k = sim.labels.length;
    this.size = 3 * this.embDim + this.#k + 1;
  }

  /** Index of item `id` in the vocabulary; throws `RangeError` for unknown items. */
  itemIndex(id: string): number {
    const i = this.#items.get(id);
    if (i === undefined) throw new RangeError(`Cannot featurise: unknown item "${id}"`);
    return i;
  }

  /** Writes the features of `obs` into `out` at `offset`. */
  write(obs: readonly StepRecord[], out: Float32Array, offset = 0): void {
    const e = this.embDim;
    const emb = this.embeddings;
    out.fill(0, offset, offset + this.size);
    let positives = 0;
    for (const r of obs) {
      const row = this.itemIndex(r.item) * e;
      const k = this.#labels.get(r.feedback);
      if (k === undefined) throw new RangeError(`Cannot featurise: unknown label "${r.feedback}"`);
      for (let j = 0; j < e; j++) out[offset + j]! += emb[row + j]!;
      if (this.#positive[k]) {
        positives++;
        for (let j = 0; j < e; j++) out[offset + 2 * e + j]! += emb[row + j]!;
      }
      out[offset + 3 * e + k]! += 1;
    }
    const last = obs.at(-1);
    if (last !== undefined) {
      const row = this.itemIndex(last.item) * e;
      for (let j = 0; j < e; j++) out[offset + e + j] = emb[row + j]!;
    }
    const len = obs.length;
    for (let j = 0; j < e; j++) {
      if (len > 0) out[offset + j]! /= len;
      if (positives > 0) out[offset + 2 * e + j]! /= positives;
    }
    for (let k = 0; k < this.#k; k++) if (len > 0) out[offset + 3 * e + k]! /= len;
    out[offset + this.size - 1] = len / this.#n;
  }

  /** Features of many observations: a [B, size] row-major matrix. */
  batch(observations: readonly (readonly StepRecord[])[]): Float32Array {
    const out = new Float32Array(observations.length * this.size);
    observations.forEach((o, b) => this.write(o, out, b * this.size));
    return out;
  }
}

/** Fixed Gaussian item embeddings [V, E] for simulators that expose none (seeded). */
export function randomEmbeddings(items: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(items * dim);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

function standardise(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += x[i * cols + j]!;
    mean /= rows;
    let v = 0;
    for (let i = 0; i < rows; i++) v += (x[i * cols + j]! - mean) ** 2;
    const sd = Math.sqrt(v / rows);
    const s = sd > 1e-12 ? 1 / sd : 0;
    for (let i = 0; i < rows; i++) out[i * cols + j] = (x[i * cols + j]! - mean) * s;
  }
  return out;
}
