/**
 * Named trainable parameters with seeded, PyTorch-like initialisation, and the tiny dense
 * layer built on them. Networks are plain functions over a {@link Params} store, which keeps the
 * forward pass explicit (fast kernels only) and makes saving and loading a flat name → tensor map.
 * @module
 */
import { tf } from "../lib/tf.ts";
import { deriveSeed } from "../lib/random.ts";

let instances = 0;

/** Logical name of a variable: tfjs names must be unique per process, so they carry `#n`. */
export function logicalName(v: tf.Variable): string {
  return v.name.replace(/#\d+$/, "");
}

/** A named set of variables belonging to one network. */
export class Params {
  readonly #instance = ++instances;
  readonly #vars = new Map<string, tf.Variable>();
  /** @param prefix name prefix, e.g. `"G"`; @param seed root seed for initialisation */
  constructor(readonly prefix: string, readonly seed: number) {}

  /** Creates a variable initialised uniformly in [-bound, bound] (seeded by its name). */
  uniform(name: string, shape: number[], bound: number): tf.Variable {
    const full = `${this.prefix}/${name}`;
    if (this.#vars.has(full)) throw new Error(`duplicate parameter ${full}`);
    const v = tf.tidy(() =>
      tf.variable(
        tf.randomUniform(shape, -bound, bound, "float32", deriveSeed(this.seed, full)),
        true,
        `${full}#${this.#instance}`,
      )
    );
    this.#vars.set(full, v);
    return v;
  }

  /**
   * Creates one variable per part of a packed [rows, parts × cols] uniform initialisation
   * seeded by `packedName` (e.g. a GRU's three gates split from one [I, 3H] draw, so that the
   * initial values equal those of a packed layout).
   */
  uniformSplit(
    packedName: string,
    names: string[],
    rows: number,
    cols: number,
    bound: number,
  ): tf.Variable[] {
    const seed = deriveSeed(this.seed, `${this.prefix}/${packedName}`);
    const shape = rows === 0 ? [names.length * cols] : [rows, names.length * cols];
    const parts = tf.tidy(() =>
      tf.split(
        tf.randomUniform(shape, -bound, bound, "float32", seed),
        names.length,
        rows === 0 ? 0 : 1,
      )
    );
    return names.map((name, i) => {
      const full = `${this.prefix}/${name}`;
      if (this.#vars.has(full)) throw new Error(`duplicate parameter ${full}`);
      const v = tf.variable(parts[i]!, true, `${full}#${this.#instance}`);
      parts[i]!.dispose();
      this.#vars.set(full, v);
      return v;
    });
  }

  /** The variable called `name` (without prefix). */
  get(name: string): tf.Variable {
    const v = this.#vars.get(`${this.prefix}/${name}`);
    if (!v) throw new Error(`no parameter ${this.prefix}/${name}`);
    return v;
  }

  /** All variables, in creation order. */
  list(): tf.Variable[] {
    return [...this.#vars.values()];
  }

  /** Full names → variables. */
  entries(): [string, tf.Variable][] {
    return [...this.#vars.entries()];
  }

  /** Number of scalar parameters. */
  size(): number {
    return this.list().reduce((n, v) => n + v.size, 0);
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of this.#vars.values()) v.dispose();
    this.#vars.clear();
  }
}

/**
 * Identity whose gradient is zero: gradients do not flow back through the result (tfjs has no
 * stop-gradient op).
 */
export function detach<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad(
    ((t: tf.Tensor) => ({
      value: tf.clone(t),
      gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(x) as T;
}

/** A fully connected layer `x W + b` (PyTorch `nn.Linear` initialisation). */
export class Dense {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  constructor(params: Params, name: string, inputs: number, units: number) {
    if (!(inputs > 0 && units > 0)) throw new RangeError(`Dense ${name}: sizes must be positive`);
    const bound = 1 / Math.sqrt(inputs);
    this.w = params.uniform(`${name}/w`, [inputs, units], bound);
    this.b = params.uniform(`${name}/b`, [units], bound);
  }
  /**
   * Applies the layer to a [B, inputs] tensor.
   * @param frozen no gradient for the layer's own weights (only through `x`). @default false
   */
  apply(x: tf.Tensor2D, frozen = false): tf.Tensor2D {
    if (frozen) return tf.add(tf.matMul(x, detach(this.w)), detach(this.b));
    return tf.add(tf.matMul(x, this.w), this.b);
  }
}

/**
 * Rows `idx` of `table` ([V, D] → [n, D]) with a gradient for `table` by scatter-add: tfjs's own
 * gather gradient needs UnsortedSegmentSum, which the WASM backend lacks; ScatterNd sums the
 * updates of repeated indices on every backend.
 */
export function gatherRows(table: tf.Tensor2D, idx: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad(
    ((t: tf.Tensor2D, i: tf.Tensor1D, save: (ts: tf.Tensor[]) => void) => {
      save([i]);
      return {
        value: tf.gather(t, i),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => [
          tf.scatterND(tf.expandDims(saved[0]!, 1), dy, t.shape),
          tf.zerosLike(saved[0]!),
        ],
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(table, idx) as tf.Tensor2D;
}

/** [V, E] vectors → [V + 2, E]: a zero padding row, then the mean vector for the rare item. */
export function withPadAndRare(vectors: Float32Array, items: number, dim: number): Float32Array {
  const out = new Float32Array((items + 2) * dim);
  out.set(vectors);
  for (let i = 0; i < items; i++) {
    for (let j = 0; j < dim; j++) out[(items + 1) * dim + j]! += vectors[i * dim + j]! / items;
  }
  return out;
}
