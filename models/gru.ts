/**
 * The state encoder shared by generator and discriminator: each history item
 * I_n = concat(e_n, tanh(W_F onehot(f_n) + b_F)) (W_F shared over positions), then a GRU.
 *
 * The GRU is the "reset after" form (PyTorch `nn.GRU`, Keras `reset_after=True`):
 *   z = σ(x Wz + bz + h Uz + cz),  r = σ(x Wr + br + h Ur + cr),
 *   n = tanh(x Wn + bn + r ⊙ (h Un + cn)),  h' = (1 − z) ⊙ n + z ⊙ h.
 * Written with explicit ops for speed: inputs are time-major, the input projection of all N
 * steps is one matrix product, and per-step tensors come from one `unstack`.
 * @module
 */
import { tf } from "../lib/tf.ts";
import type { Params } from "./params.ts";

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
}

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

/**
 * The N time steps of a time-major [N, B, ·] tensor. (tfjs's unstack gradient fails for N = 1,
 * so a single step is a reshape.)
 */
function steps(x: tf.Tensor3D): tf.Tensor2D[] {
  const [n, b, d] = x.shape;
  return n === 1 ? [tf.reshape(x, [b, d])] : tf.unstack(x) as tf.Tensor2D[];
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

  /** The GRU input I_n = concat(e_n, tanh(onehot(f_n) W_F + b_F)) for rows [rows, E], [rows]. */
  #inputs(emb: tf.Tensor2D, feedback: tf.Tensor1D): tf.Tensor2D {
    // onehot × W_F rather than a gather of W_F rows: the gather's gradient needs
    // UnsortedSegmentSum, which the WASM backend lacks.
    const oh = tf.oneHot(feedback, this.sizes.classes);
    const fb = fastTanh(tf.add(tf.matMul(oh, this.fbW), this.fbB));
    return tf.concat([emb, fb], 1) as tf.Tensor2D;
  }

  /** One GRU step from the input projections of step t. */
  #step(
    h: tf.Tensor2D,
    xz: tf.Tensor2D,
    xr: tf.Tensor2D,
    xn: tf.Tensor2D,
    m?: tf.Tensor2D,
  ): tf.Tensor2D {
    const { z: gz, r: gr, n: gn } = this.gates;
    const z = tf.sigmoid(tf.add(xz, tf.matMul(h, gz.u)));
    const r = tf.sigmoid(tf.add(xr, tf.matMul(h, gr.u)));
    const cand = fastTanh(tf.add(xn, tf.mul(r, tf.add(tf.matMul(h, gn.u), gn.bh))));
    // h' = n + z ⊙ (h − n); padded steps (mask 0) keep h.
    const next = tf.add(cand, tf.mul(z, tf.sub(h, cand))) as tf.Tensor2D;
    return m ? tf.add(h, tf.mul(m, tf.sub(next, h))) : next;
  }

  /**
   * Encodes a state batch into the last hidden state [B, H]. The input projections of all N
   * steps are three matrix products; each step reads its rows from a time-major unstack.
   */
  encode(s: StateBatch): tf.Tensor2D {
    const [n, b, e] = s.emb.shape;
    const H = this.sizes.hidden;
    const x = this.#inputs(tf.reshape(s.emb, [n * b, e]), tf.reshape(s.feedback, [n * b]));
    const { z: gz, r: gr, n: gn } = this.gates;
    // z and r add both biases up front; n keeps b_hn inside r ⊙ (h U_n + b_hn).
    const proj = (g: Gate, both: boolean) =>
      steps(tf.reshape(tf.add(tf.matMul(x, g.w), both ? tf.add(g.bx, g.bh) : g.bx), [n, b, H]));
    const xz = proj(gz, true), xr = proj(gr, true), xn = proj(gn, false);
    const masks = s.mask ? steps(tf.expandDims(s.mask, 2) as tf.Tensor3D) : undefined;
    let h: tf.Tensor2D = tf.zeros([b, H]);
    for (let t = 0; t < n; t++) h = this.#step(h, xz[t]!, xr[t]!, xn[t]!, masks?.[t]);
    return h;
  }

  /**
   * Like {@link encode} without gradients and with bounded memory: each step's intermediates
   * are freed as soon as the step is done (inference of large batches).
   */
  encodeInference(s: StateBatch): tf.Tensor2D {
    const [n, b] = s.emb.shape;
    const embs = tf.unstack(s.emb) as tf.Tensor2D[];
    const fbs = tf.unstack(s.feedback) as tf.Tensor1D[];
    const masks = s.mask ? (tf.unstack(tf.expandDims(s.mask, 2)) as tf.Tensor2D[]) : undefined;
    const { z: gz, r: gr, n: gn } = this.gates;
    let h: tf.Tensor2D = tf.zeros([b, this.sizes.hidden]);
    for (let t = 0; t < n; t++) {
      const next = tf.tidy(() => {
        const x = this.#inputs(embs[t]!, fbs[t]!);
        const xz = tf.add(tf.matMul(x, gz.w), tf.add(gz.bx, gz.bh)) as tf.Tensor2D;
        const xr = tf.add(tf.matMul(x, gr.w), tf.add(gr.bx, gr.bh)) as tf.Tensor2D;
        const xn = tf.add(tf.matMul(x, gn.w), gn.bx) as tf.Tensor2D;
        return this.#step(h, xz, xr, xn, masks?.[t]);
      });
      h.dispose();
      h = next;
    }
    tf.dispose([...embs, ...fbs, ...(masks ?? [])]);
    return h;
  }
}
