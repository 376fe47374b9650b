/**
 * What the default model's training adds to a batch's indices: rare-item masking (a share of the
 * known items become the shared rare item, so that its representation learns what an item the
 * model does not know looks like) and the ensemble heads' bootstrap weights.
 * @module
 */
import type { BatchIndices } from "../data/batches.ts";
import { rareIndex } from "../data/dataset.ts";
import { deriveSeed, Rng } from "../random.ts";
import type { TrainConfig } from "../config.ts";

/** P(Poisson(1) ≤ k) for k = 0..6; larger draws count as 7. */
const POISSON1_CDF = [0.36788, 0.73576, 0.91970, 0.98101, 0.99634, 0.99941, 0.99992];

/** A uniform in [0, 1) from (seed, a, b): a 32-bit integer hash (splitmix-style mixing). */
export function hashUniform(seed: number, a: number, b: number): number {
  let h = (seed ^ Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) |
    0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Bootstrap weights [B · M] (row b · M + m) for the tuples whose action rows are `rows`: a
 * Poisson(1) draw per tuple and head, fixed by (seed, row, head) — each head sees its own
 * resample of the training tuples, the same one every epoch.
 */
export function bootstrapWeights(
  rows: ArrayLike<number>,
  heads: number,
  seed: number,
): Float32Array {
  const w = new Float32Array(rows.length * heads);
  const s = deriveSeed(seed, "bootstrap");
  for (let b = 0; b < rows.length; b++) {
    for (let m = 0; m < heads; m++) {
      const u = hashUniform(s, rows[b]!, m);
      let k = 0;
      while (k < POISSON1_CDF.length && u >= POISSON1_CDF[k]!) k++;
      w[b * heads + m] = k;
    }
  }
  return w;
}

/**
 * Replaces each known item of the states and actions by the rare item with probability `rate`
 * (padding and already-rare items stay), in place; returns how many were replaced.
 */
export function maskRareItems(idx: BatchIndices, items: number, rate: number, rng: Rng): number {
  if (rate <= 0) return 0;
  const rare = rareIndex(items);
  let n = 0;
  for (const arr of [idx.items, idx.actions]) {
    for (let i = 0; i < arr.length; i++) {
      if (arr[i]! < items && rng.next() < rate) {
        arr[i] = rare;
        n++;
      }
    }
  }
  return n;
}

/**
 * A training batch's indices as the configured model trains on them: for `--arch attn`, rare
 * masking (seeded by `key`, e.g. phase/epoch/step) and, with more than one head, bootstrap
 * weights; the paper's networks get the indices unchanged.
 */
export function trainingBatch(
  idx: BatchIndices,
  rows: ArrayLike<number>,
  c: Pick<TrainConfig, "arch" | "rareMask" | "heads" | "seed">,
  items: number,
  key: string,
): BatchIndices {
  if (c.arch === "paper") return idx;
  maskRareItems(idx, items, c.rareMask, new Rng(deriveSeed(c.seed, `rare-mask/${key}`)));
  if (c.heads > 1) idx.weights = bootstrapWeights(rows, c.heads, c.seed);
  return idx;
}

/**
 * Multiplies a batch's loss weights by the tuples' inverse-propensity weights (by action row,
 * lib/train/propensity.ts), creating per-head weights of 1 where there were none.
 */
export function withPropensity(
  idx: BatchIndices,
  rows: ArrayLike<number>,
  propensity: Float32Array,
  heads: number,
): BatchIndices {
  const w = idx.weights ?? new Float32Array(rows.length * heads).fill(1);
  for (let b = 0; b < rows.length; b++) {
    const p = propensity[rows[b]!]!;
    for (let m = 0; m < heads; m++) w[b * heads + m]! *= p;
  }
  idx.weights = w;
  return idx;
}
