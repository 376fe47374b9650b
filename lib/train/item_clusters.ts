/**
 * Clusters of the item2vec vectors (spherical k-means, k-means++ seeding), the structured user
 * model's stand-in for a catalogue's categories when none is given: runs of one cluster, taste
 * for a cluster and its recency become features as a category column's do (glm_features.ts).
 * @module
 */
import { Rng } from "../random.ts";
import { inverseNorms } from "./support_features.ts";

/**
 * Codes 1..K of the items' clusters (0 for an item without a vector), by cosine similarity
 * to K centres refined for `iterations` rounds. Pure and seeded.
 *
 * @example
 * ```ts
 * import { itemClusters } from "./item_clusters.ts";
 * // Two directions, two items each.
 * const v = Float32Array.of(1, 0, 2, 0.1, 0, 1, 0.1, 3, 0, 0);
 * const c = itemClusters(v, 2, 2, 0);
 * [c[0] === c[1], c[2] === c[3], c[0] !== c[2], c[4]]; // [true, true, true, 0]
 * ```
 */
export function itemClusters(
  vectors: Float32Array,
  dim: number,
  k: number,
  seed: number,
  iterations = 20,
): Int32Array {
  const inv = inverseNorms(vectors, dim), V = inv.length;
  const live = Array.from({ length: V }, (_, i) => i).filter((i) => inv[i]! > 0);
  const codes = new Int32Array(V);
  const K = Math.min(k, live.length);
  if (K === 0) return codes;
  const unit = (i: number, e: number) => vectors[i * dim + e]! * inv[i]!;
  const centres = new Float64Array(K * dim);
  const rng = new Rng(`item-clusters:${seed}`);
  // k-means++: each new centre drawn with weight 1 − (best cosine so far), floored at 0.
  const far = new Float64Array(live.length).fill(1);
  for (let c = 0; c < K; c++) {
    const pick = live[c === 0 ? rng.int(live.length) : rng.categorical(far)]!;
    for (let e = 0; e < dim; e++) centres[c * dim + e] = unit(pick, e);
    live.forEach((i, j) => {
      let cos = 0;
      for (let e = 0; e < dim; e++) cos += unit(i, e) * centres[c * dim + e]!;
      far[j] = Math.min(far[j]!, Math.max(0, 1 - cos));
    });
  }
  const assign = new Int32Array(live.length);
  for (let round = 0; round <= iterations; round++) {
    live.forEach((i, j) => {
      let best = -Infinity, arg = 0;
      for (let c = 0; c < K; c++) {
        let cos = 0;
        for (let e = 0; e < dim; e++) cos += unit(i, e) * centres[c * dim + e]!;
        if (cos > best) (best = cos, arg = c);
      }
      assign[j] = arg;
    });
    if (round === iterations) break;
    const sums = new Float64Array(K * dim);
    live.forEach((i, j) => {
      for (let e = 0; e < dim; e++) sums[assign[j]! * dim + e]! += unit(i, e);
    });
    for (let c = 0; c < K; c++) {
      let n = 0;
      for (let e = 0; e < dim; e++) n += sums[c * dim + e]! ** 2;
      if (n === 0) continue; // an empty cluster keeps its centre
      for (let e = 0; e < dim; e++) centres[c * dim + e] = sums[c * dim + e]! / Math.sqrt(n);
    }
  }
  live.forEach((i, j) => (codes[i] = assign[j]! + 1));
  return codes;
}
