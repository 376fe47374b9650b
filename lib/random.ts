/**
 * Seeded randomness. One root seed per run; every consumer derives its own child seed with
 * {@link deriveSeed} so that adding a consumer does not shift the others' streams.
 * @module
 */
import seedrandom from "npm:seedrandom@3.0.5";

/** A seeded pseudo-random number generator (Alea). */
export class Rng {
  readonly #next: () => number;
  /** @param seed any integer or string */
  constructor(seed: number | string) {
    this.#next = seedrandom.alea(String(seed));
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.#next();
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.#next();
    const v = this.#next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Index drawn from unnormalised non-negative weights. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    let r = this.#next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

/**
 * `n` values uniform in [min, max), bit-identical to
 * `tf.randomUniform([n], min, max, "float32", seed)` (tfjs draws them from the same Alea stream
 * in JavaScript), written straight into a JS array: a large table (1 M items × 20) then never
 * passes through the tfjs heap, which for WASM never shrinks.
 *
 * @example
 * ```ts
 * import { uniformFloat32 } from "./random.ts";
 * uniformFloat32(3, -1, 1, 7).length; // 3
 * ```
 */
export function uniformFloat32(n: number, min: number, max: number, seed: number): Float32Array {
  const next = seedrandom.alea(String(seed));
  const range = max - min;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = min + range * next();
  return out;
}

/**
 * A child seed for one purpose, stable for a given (seed, purpose).
 *
 * @example
 * ```ts
 * import { deriveSeed } from "./random.ts";
 * deriveSeed(0, "item2vec") === deriveSeed(0, "item2vec"); // true
 * ```
 */
export function deriveSeed(seed: number, purpose: string): number {
  // FNV-1a over "seed:purpose", 31 bits so it is a valid tfjs seed.
  let h = 0x811c9dc5;
  const s = `${seed}:${purpose}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}
