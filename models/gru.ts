/**
 * The state encoder shared by generator and discriminator: each history item
 * I_n = concat(e_n, tanh(W_F onehot(f_n) + b_F)) (W_F shared over positions), then a GRU.
 *
 * The GRU is the "reset after" form (PyTorch `nn.GRU`, Keras `reset_after=True`):
 *   z = σ(x Wz + bz + h Uz + cz),  r = σ(x Wr + br + h Ur + cr),
 *   n = tanh(x Wn + bn + r ⊙ (h Un + cn)),  h' = (1 − z) ⊙ n + z ⊙ h.
 * Written with explicit ops for speed: inputs are time-major, per-step tensors come from one
 * `unstack`, and training uses {@link gruLayer}, whose backward pass is written out.
 * @module
 */
import { tf } from "../lib/tf.ts";
import type { StateBatch } from "../lib/data/batches.ts";
import type { Params } from "./params.ts";

/** Sizes of a state encoder. */
export interface EncoderSizes {
  /** Item embedding size |E|. */
  embDim: number;
  /** Number of feedback classes K. */
  classes: number;
  /** Feedback embedding size |F|. */
  feedbackDim: number;
  /** GRU hidden size. */
  hidden: number;
}

/**
 * tanh(x) = 2σ(2x) − 1. The WASM backend's Tanh kernel is scalar (~8× slower than its
 * Sigmoid); this form is exact up to float rounding (tests compare with a plain GRU to 1e-5).
 */
export function fastTanh<T extends tf.Tensor>(x: T): T {
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1) as T;
}

/** One GRU gate's parameters: input weights [I, H], recurrent weights [H, H], two biases. */
export interface Gate {
  w: tf.Variable;
  u: tf.Variable;
  bx: tf.Variable;
  bh: tf.Variable;
}

/** GRU state encoder with its own feedback embedding. */
export class StateEncoder {
  readonly fbW: tf.Variable;
  readonly fbB: tf.Variable;
  /** Update (z), reset (r) and candidate (n) gates, kept apart so that no step splits tensors. */
  readonly gates: { z: Gate; r: Gate; n: Gate };
  /** {@link freezeForInference}'s cache, when frozen. */
  #frozen: FrozenInference | undefined;
  constructor(params: Params, name: string, readonly sizes: EncoderSizes) {
    const { embDim, classes, feedbackDim, hidden } = sizes;
    for (const [k, v] of Object.entries({ embDim, classes, feedbackDim, hidden })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`StateEncoder: ${k} must be a positive integer, got ${v}`);
      }
    }
    const fbBound = 1 / Math.sqrt(classes);
    this.fbW = params.uniform(`${name}/feedback/w`, [classes, feedbackDim], fbBound);
    this.fbB = params.uniform(`${name}/feedback/b`, [feedbackDim], fbBound);
    const g = 1 / Math.sqrt(hidden);
    const inputs = embDim + feedbackDim;
    // Drawn as packed [·, 3H] matrices (gate order z, r, n), then kept as one variable per gate.
    const split = (what: string, rows: number) =>
      params.uniformSplit(
        `${name}/gru/${what}`,
        ["z", "r", "n"].map((k) => `${name}/gru/${k}/${what}`),
        rows,
        hidden,
        g,
      );
    const [wz, wr, wn] = split("w", inputs);
    const [uz, ur, un] = split("u", hidden);
    const [bxz, bxr, bxn] = split("bx", 0);
    const [bhz, bhr, bhn] = split("bh", 0);
    this.gates = {
      z: { w: wz!, u: uz!, bx: bxz!, bh: bhz! },
      r: { w: wr!, u: ur!, bx: bxr!, bh: bhr! },
      n: { w: wn!, u: un!, bx: bxn!, bh: bhn! },
    };
  }

  /**
   * The input weights with the feedback embedding and the input-side biases folded in. A
   * one-hot row sums to 1, so with W = [W_E; W_F'] split at the embedding's rows,
   * I_n W + b = e_n W_E + tanh(onehot(f_n) W_F + b_F) W_F' + b = [e_n onehot(f_n)] W* with
   * W* = [W_E; tanh(W_F + b_F) W_F' + b] ([E + K, H] per gate). The GRU then runs on
   * [e_n onehot(f_n)], which needs no gradient; autodiff handles these small products.
   */
  #folded(): GruWeights {
    const e = this.sizes.embDim;
    const table = fastTanh(tf.add(this.fbW, this.fbB)); // [K, F]: each class's feedback embedding
    const { z: gz, r: gr, n: gn } = this.gates;
    // z and r add both biases up front; n keeps b_hn inside r ⊙ (h U_n + b_hn).
    const fold = (g: Gate, bias: tf.Tensor) =>
      tf.concat([
        tf.slice(g.w, [0, 0], [e, -1]),
        tf.add(tf.matMul(table, tf.slice(g.w, [e, 0], [-1, -1])), bias),
      ], 0);
    return {
      w: [fold(gz, tf.add(gz.bx, gz.bh)), fold(gr, tf.add(gr.bx, gr.bh)), fold(gn, gn.bx)],
      u: [gz.u, gr.u, gn.u],
      bhn: gn.bh,
    };
  }

  /** [e_n onehot(f_n)] for embeddings [..., E] and feedback classes [...]. */
  #inputs<T extends tf.Tensor>(emb: T, feedback: tf.Tensor): T {
    // int32 one-hot, then a cast: tfjs-wasm 4.22's OneHot writes integer bits into a float32
    // output (1 reads as 1.4e-45).
    const oh = tf.cast(tf.oneHot(feedback as tf.Tensor1D, this.sizes.classes), "float32");
    return tf.concat([emb, oh], emb.rank - 1) as T;
  }

  /**
   * Encodes a state batch into the last hidden state [B, H], by {@link gruLayer} (hand-written
   * backward pass) on the folded weights.
   */
  encode(s: StateBatch): tf.Tensor2D {
    return gruLayer(
      this.#inputs(s.emb, s.feedback),
      this.#folded(),
      s.mask ? tf.expandDims(s.mask, 2) as tf.Tensor3D : undefined,
    );
  }

  /** The encoder's trainable variables: the feedback embedding and the GRU's gates. */
  variables(): tf.Variable[] {
    const { z, r, n } = this.gates;
    return [this.fbW, this.fbB, ...[z, r, n].flatMap((g) => [g.w, g.u, g.bx, g.bh])];
  }

  /**
   * Encodes a state batch without a tape and keeps what the backward pass needs, so that the
   * gradients can be asked for later ({@link KeptEncoding.grads}) without a second forward
   * pass — the generator's output serves both the d-step and the g-step of Algorithm 1.
   */
  encodeForLater(s: StateBatch): KeptEncoding {
    const { h, tensors, masks } = tf.tidy(() => {
      const r = gruForward(
        this.#inputs(s.emb, s.feedback),
        this.#folded(),
        s.mask ? tf.expandDims(s.mask, 2) as tf.Tensor3D : undefined,
      );
      return { h: r.h, tensors: r.saved.tensors, masks: r.saved.masks ?? [] };
    });
    const saved: GruSaved = { tensors, masks: s.mask ? masks : undefined };
    return {
      h,
      // dh → gradients of the folded weights (written-out BPTT) → gradients of the variables
      // (autodiff of the folding: Σ ⟨W*, dW*⟩ differentiated, small tensors only).
      grads: (dh) =>
        tf.tidy(() => {
          const d = gruBackward(saved, dh);
          return tf.variableGrads(() => {
            const f = this.#folded();
            const terms = [...f.w, ...f.u, f.bhn].map((t, i) => tf.sum(tf.mul(t, d[i]!)));
            return tf.addN(terms) as tf.Scalar;
          }, this.variables()).grads;
        }),
      dispose: () => tf.dispose([h, ...tensors, ...masks]),
    };
  }

  /**
   * Like {@link encode} without gradients and with bounded memory: each step's intermediates
   * are freed as soon as the step is done (inference of large batches).
   *
   * Runs the same GRU on g = (h + 1) / 2, which takes fewer element-wise ops per step: with
   * tanh(a) = 2σ(2a) − 1, the candidate is n = 2s − 1 for s = σ(2a), and
   * h' = n + z ⊙ (h − n) becomes g' = s + z ⊙ (g − s). Products with h = 2g − 1 become products
   * with g, the weights doubled, and a per-column constant, which the one-hot rows of the folded
   * input weights absorb (z, r) or b_hn does (n). Exact up to float rounding: tests compare with
   * a plain GRU to 1e-5.
   *
   * After {@link freezeForInference} the weights come from its cache (the same values: results
   * are bit-identical).
   */
  encodeInference(s: StateBatch): tf.Tensor2D {
    const [n, b] = s.emb.shape;
    if (n === 0) return tf.zeros([b, this.sizes.hidden]);
    const frozen = this.#frozenCache();
    const w = frozen?.w ?? tf.tidy(() => this.#inferenceWeights());
    const m = s.mask;
    const masks = m ? tf.tidy(() => tf.unstack(tf.expandDims(m, 2)) as tf.Tensor2D[]) : undefined;
    let g: tf.Tensor2D | undefined;
    let t = 0;
    for (const p of this.#projections(s, w)) {
      const next = tf.tidy(() => inferenceStep(p, g, w, masks?.[t]));
      tf.dispose([...p, ...(g ? [g] : [])]);
      g = next;
      t++;
    }
    tf.dispose(masks ?? []);
    if (!frozen) tf.dispose(Object.values(w));
    const h = tf.tidy(() => tf.sub(tf.mul(g!, 2), 1) as tf.Tensor2D);
    g!.dispose();
    return h;
  }

  /**
   * Each step's input projections (x W_z, x W_r, x W_n) [B, H] of {@link encodeInference}, in
   * step order; the caller disposes them. (One product over all N steps and an unstack was no
   * faster; row lookups in per-(item, class) tables were ~3% faster but round differently from
   * the products, so a served model would answer unlike `train`'s and `eval`'s figures.)
   */
  *#projections(s: StateBatch, w: InferenceWeights): Generator<Tensors3> {
    const xs = tf.tidy(() => tf.unstack(this.#inputs(s.emb, s.feedback))) as tf.Tensor2D[];
    for (const x of xs) {
      yield tf.tidy(() => [tf.matMul(x, w.wz), tf.matMul(x, w.wr), tf.matMul(x, w.wn)]);
      x.dispose();
    }
  }

  /**
   * Caches {@link encodeInference}'s weights, for a model whose weights no longer change
   * (serving): computing them takes ~30 small ops per call, and tfjs-wasm re-packs the second
   * operand of every product it has not seen (~0.2 ms per [128, 128] matrix).
   *
   * Training must not rely on the cache: a change of the variables (`assign`, as optimisers
   * and checkpoint loading do) is detected on the next call and the cache rebuilt from the new
   * values. {@link unfreeze} frees it.
   */
  freezeForInference(): void {
    this.unfreeze();
    const ids = this.variables().map((v) => v.dataId);
    this.#frozen = { w: tf.tidy(() => this.#inferenceWeights()), ids };
  }

  /** Frees {@link freezeForInference}'s cache: weights are computed on every call again. */
  unfreeze(): void {
    if (!this.#frozen) return;
    tf.dispose(Object.values(this.#frozen.w));
    this.#frozen = undefined;
  }

  /** The frozen cache, rebuilt first when a variable changed since it was made; or none. */
  #frozenCache(): FrozenInference | undefined {
    const f = this.#frozen;
    if (f && this.variables().some((v, i) => v.dataId !== f.ids[i])) {
      this.freezeForInference();
    }
    return this.#frozen;
  }

  /** The weights of {@link encodeInference}'s g-form GRU (see there), from the folded ones. */
  #inferenceWeights(): InferenceWeights {
    const e = this.sizes.embDim;
    const f = this.#folded();
    const [uz, ur, un] = f.u;
    const colSum = (u: tf.Tensor) => tf.sum(u, 0);
    // Subtract a per-column constant c from the one-hot rows (every input row has one 1 there).
    const shift = (w: tf.Tensor, c: tf.Tensor) =>
      tf.concat([tf.slice(w, [0, 0], [e, -1]), tf.sub(tf.slice(w, [e, 0], [-1, -1]), c)], 0);
    return {
      wz: shift(f.w[0], colSum(uz)),
      wr: shift(f.w[1], colSum(ur)),
      wn: tf.mul(f.w[2], 2),
      uz: tf.mul(uz, 2),
      ur: tf.mul(ur, 2),
      un: tf.mul(un, 4),
      bn: tf.mul(tf.sub(f.bhn, colSum(un)), 2),
      // Step 0 (h = 0): the shifted z and r weights plus the column sums give the plain ones.
      cz: colSum(uz),
      cr: colSum(ur),
      bn0: tf.mul(f.bhn, 2),
    };
  }
}

/** The weights of {@link StateEncoder.encodeInference}'s g-form GRU. */
type InferenceWeights = Record<
  "wz" | "wr" | "wn" | "uz" | "ur" | "un" | "bn" | "cz" | "cr" | "bn0",
  tf.Tensor
>;

/** {@link StateEncoder.freezeForInference}'s cache. */
interface FrozenInference {
  w: InferenceWeights;
  /** The variables' data ids when the cache was made (a change means new weights). */
  ids: unknown[];
}

/**
 * One g-form GRU step of {@link StateEncoder.encodeInference} from the step's input projections
 * `p` and the previous state g (absent at step 0, h_0 = 0: g = 1/2 and no products with it).
 */
function inferenceStep(
  p: Tensors3,
  g: tf.Tensor2D | undefined,
  w: InferenceWeights,
  m?: tf.Tensor,
): tf.Tensor2D {
  const [xz, xr, xn] = p;
  let z: tf.Tensor, r: tf.Tensor, s2: tf.Tensor, gOld: tf.Tensor;
  if (!g) {
    z = tf.sigmoid(tf.add(xz, w.cz));
    r = tf.sigmoid(tf.add(xr, w.cr));
    s2 = tf.sigmoid(tf.add(xn, tf.mul(r, w.bn0)));
    gOld = tf.scalar(0.5);
  } else {
    z = tf.sigmoid(tf.add(xz, tf.matMul(g, w.uz)));
    r = tf.sigmoid(tf.add(xr, tf.matMul(g, w.ur)));
    const hn = tf.add(tf.matMul(g, w.un), w.bn);
    s2 = tf.sigmoid(tf.add(xn, tf.mul(r, hn)));
    gOld = g;
  }
  const gNext = tf.add(s2, tf.mul(z, tf.sub(gOld, s2)));
  return (m ? tf.add(gOld, tf.mul(m, tf.sub(gNext, gOld))) : gNext) as tf.Tensor2D;
}

/** An encoder forward pass kept for its backward pass ({@link StateEncoder.encodeForLater}). */
export interface KeptEncoding {
  /** The last hidden state [B, H]; no tape recorded it. */
  h: tf.Tensor2D;
  /** Gradients of the encoder's variables, by name, for the gradient `dh` [B, H] of h. */
  grads(dh: tf.Tensor): tf.NamedTensorMap;
  /** Frees h and the saved tensors. */
  dispose(): void;
}

/** What one GRU step computes (and its backward pass needs). */
interface CellState {
  z: tf.Tensor;
  r: tf.Tensor;
  /** The candidate n. */
  cand: tf.Tensor;
  /** h U_n + b_hn. */
  hn: tf.Tensor;
  /** h − n. */
  diff: tf.Tensor;
  /** The new hidden state. */
  h: tf.Tensor2D;
}

/**
 * One GRU step from the input projections xp = (x W_z + b_z, x W_r + b_r, x W_n + b_xn), each
 * [B, H], and the previous state h; `u` = (U_z, U_r, U_n), absent when h is h_0 = 0 (no product).
 * Products per gate rather than one [H, 3H] product: splitting its result costs more (SplitV
 * copies row by row).
 */
function cell(
  xp: Tensors3,
  h: tf.Tensor2D,
  u: Tensors3 | undefined,
  bhn: tf.Tensor,
  m?: tf.Tensor,
): CellState {
  const [xz, xr, xn] = xp;
  let z: tf.Tensor, r: tf.Tensor, hn: tf.Tensor;
  if (u) {
    z = tf.sigmoid(tf.add(xz, tf.matMul(h, u[0])));
    r = tf.sigmoid(tf.add(xr, tf.matMul(h, u[1])));
    hn = tf.fused.matMul({ a: h, b: u[2], bias: bhn }); // the bias inside the product
  } else {
    z = tf.sigmoid(xz);
    r = tf.sigmoid(xr);
    hn = tf.add(tf.zerosLike(h), bhn);
  }
  const cand = fastTanh(tf.add(xn, tf.mul(r, hn)));
  // h' = n + z ⊙ (h − n); padded steps (mask 0) keep h.
  const diff = tf.sub(h, cand);
  const next = tf.add(cand, tf.mul(z, diff)) as tf.Tensor2D;
  return {
    z,
    r,
    cand,
    hn,
    diff,
    h: m ? tf.add(h, tf.mul(m, tf.sub(next, h))) as tf.Tensor2D : next,
  };
}

type Tensors3 = [tf.Tensor, tf.Tensor, tf.Tensor];

/** Weights of {@link gruLayer}, each triple in gate order (z, r, n). */
export interface GruWeights {
  /** Input weights [I, H], the input-side biases folded in (as `StateEncoder` does). */
  w: Tensors3;
  /** Recurrent weights [H, H]. */
  u: Tensors3;
  /** b_hn [H], inside r ⊙ (h U_n + b_hn). */
  bhn: tf.Tensor;
}

/** Values saved by {@link gruForward} for {@link gruBackward}. */
export interface GruSaved {
  /** [U_z U_r U_n] [H, 3H], then per step x_t, h_{t−1}, z, r, n, h U_n + b_hn, h − n. */
  tensors: tf.Tensor[];
  /** Per-step masks [B, 1], when masked. */
  masks?: tf.Tensor[];
}

/** Tensors saved per step, in this order: x_t, h_{t−1}, z, r, n, h U_n + b_hn, h − n. */
const PER_STEP = 7;

/**
 * The forward pass of {@link gruLayer} without a tape: the last hidden state and what
 * {@link gruBackward} needs. Call inside `tf.tidy` and keep the result (the other tensors are
 * intermediates).
 */
export function gruForward(
  x: tf.Tensor3D,
  weights: GruWeights,
  mask?: tf.Tensor3D,
): { h: tf.Tensor2D; saved: GruSaved } {
  const { w, u, bhn } = weights;
  const [n, batch] = x.shape;
  const hidden = u[0].shape[0]!;
  // Forward only (no tape here): tfjs's unstack gradient, which fails for N = 1, is not used.
  const xs = tf.unstack(x);
  const ms = mask ? tf.unstack(mask) : undefined;
  const kept: tf.Tensor[] = [tf.concat(u, 1)];
  let h: tf.Tensor2D = tf.zeros([batch, hidden]);
  for (let t = 0; t < n; t++) {
    const xp = w.map((g) => tf.matMul(xs[t]!, g)) as Tensors3;
    const c = cell(xp, h, t > 0 ? u : undefined, bhn, ms?.[t]);
    kept.push(xs[t]!, h, c.z, c.r, c.cand, c.hn, c.diff);
    h = c.h;
  }
  return { h, saved: { tensors: kept, masks: ms } };
}

/**
 * The backward pass of {@link gruLayer}: gradients of (W_z, W_r, W_n, U_z, U_r, U_n, b_hn)
 * for the gradient `dy` [B, H] of the last hidden state. Call inside `tf.tidy`.
 */
export function gruBackward(saved: GruSaved, dy: tf.Tensor): tf.Tensor[] {
  const { tensors, masks } = saved;
  const n = (tensors.length - 1) / PER_STEP;
  const us = tensors[0]!;
  const hidden = us.shape[0]!;
  const uT = tf.transpose(us); // [3H, H]
  let dUT: tf.Tensor | undefined, dWT: tf.Tensor | undefined, dBhn: tf.Tensor | undefined;
  const acc = (a: tf.Tensor | undefined, v: tf.Tensor) => (a ? tf.add(a, v) : v);
  let dh: tf.Tensor = dy;
  for (let t = n - 1; t >= 0; t--) {
    const at = 1 + t * PER_STEP;
    const [xt, h, z, r, cand, hn, diff] = tensors.slice(at, at + PER_STEP) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
    const mt = masks?.[t];
    const dNext = mt ? tf.mul(dh, mt) : dh;
    // h' = cand + z ⊙ (h − cand)
    const dCand = tf.sub(dNext, tf.mul(dNext, z));
    const dz = tf.mul(dNext, diff);
    const daN = tf.mul(dCand, tf.sub(1, tf.square(cand))); // through tanh
    const dHn = tf.mul(daN, r);
    const daR = tf.mul(tf.mul(daN, hn), tf.mul(r, tf.sub(1, r)));
    const daZ = tf.mul(dz, tf.mul(z, tf.sub(1, z)));
    const dP = tf.concat([daZ, daR, daN], 1); // input projections [B, 3H]
    dWT = acc(dWT, tf.matMul(tf.transpose(dP), xt)); // [3H, I]
    dBhn = acc(dBhn, dHn);
    if (t === 0) break; // h_0 is a constant
    const dG = tf.concat([daZ, daR, dHn], 1); // h U products [B, 3H]
    dUT = acc(dUT, tf.matMul(tf.transpose(dG), h)); // [3H, H]
    let dPrev = tf.mul(dNext, z);
    if (mt) dPrev = tf.add(dPrev, tf.sub(dh, dNext));
    dh = tf.add(dPrev, tf.matMul(dG, uT));
  }
  const dW = tf.split(tf.transpose(dWT!), 3, 1);
  const dU = dUT
    ? tf.split(tf.transpose(dUT), 3, 1)
    : [0, 1, 2].map(() => tf.zeros([hidden, hidden]));
  return [...dW, ...dU, tf.sum(dBhn!, 0)];
}

/**
 * A GRU over time-major inputs x [N, B, I], which get no gradient, for N steps; returns the last
 * hidden state [B, H] (h_0 = 0; a step with mask [N, B, 1] 0 keeps h).
 *
 * The backward pass ({@link gruBackward}) is written out (BPTT) instead of left to tfjs's
 * autodiff, and both passes work step by step on [B, ·] tensors that stay in cache. Per step,
 * backward: the gradient of h_{t−1} from one product with the stacked [U_z U_r U_n]ᵀ, those of
 * U and W accumulated from one product each, always with the small operand second (tfjs-wasm
 * re-packs the second operand of every product it has not seen: for a large fresh one that costs
 * 28 ms on top of the product's 38 ms, `deno task bench:profile --what pack`), and ~20
 * element-wise ops where autodiff needed several times as many, six products and their
 * transposes. `tests/models/models_test.ts` compares forward and gradients with a straightforward GRU
 * to 1e-5.
 */
export function gruLayer(
  x: tf.Tensor3D,
  weights: GruWeights,
  mask?: tf.Tensor3D,
): tf.Tensor2D {
  const { w, u, bhn } = weights;
  const n = x.shape[0];
  const inputs = [...w, ...u, bhn, ...(mask ? [mask] : [])];
  const f = tf.customGrad(
    ((...args: unknown[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const [wz, wr, wn, uz, ur, un, bh, m] = args as tf.Tensor[];
      const { h, saved } = gruForward(
        x,
        { w: [wz!, wr!, wn!], u: [uz!, ur!, un!], bhn: bh! },
        m as tf.Tensor3D | undefined,
      );
      save([...saved.tensors, ...(saved.masks ?? [])]);
      const gradFunc = (dy: tf.Tensor, all: tf.Tensor[]) => {
        const end = 1 + n * PER_STEP;
        const grads = gruBackward(
          { tensors: all.slice(0, end), masks: m ? all.slice(end) : undefined },
          dy,
        );
        return m ? [...grads, tf.zerosLike(m)] : grads;
      };
      return { value: h, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return f(...inputs) as tf.Tensor2D;
}
