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

/** GRU state encoder with its own feedback embedding. */
export class StateEncoder {
  readonly fbW: tf.Variable;
  readonly fbB: tf.Variable;
  readonly w: tf.Variable;
  readonly u: tf.Variable;
  readonly bx: tf.Variable;
  readonly bh: tf.Variable;
  constructor(params: Params, name: string, readonly sizes: EncoderSizes) {
    const { embDim, classes, feedbackDim, hidden } = sizes;
    for (const [k, v] of Object.entries(sizes)) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`StateEncoder: ${k} must be a positive integer, got ${v}`);
      }
    }
    const fbBound = 1 / Math.sqrt(classes);
    this.fbW = params.uniform(`${name}/feedback/w`, [classes, feedbackDim], fbBound);
    this.fbB = params.uniform(`${name}/feedback/b`, [feedbackDim], fbBound);
    const g = 1 / Math.sqrt(hidden);
    const inputs = embDim + feedbackDim;
    // Gate order in the packed matrices: z, r, n.
    this.w = params.uniform(`${name}/gru/w`, [inputs, 3 * hidden], g);
    this.u = params.uniform(`${name}/gru/u`, [hidden, 3 * hidden], g);
    this.bx = params.uniform(`${name}/gru/bx`, [3 * hidden], g);
    this.bh = params.uniform(`${name}/gru/bh`, [3 * hidden], g);
  }

  /** Encodes a state batch into the last hidden state [B, H]. */
  encode(s: StateBatch): tf.Tensor2D {
    const [n, b, e] = s.emb.shape;
    const H = this.sizes.hidden;
    // Feedback embedding tanh(onehot(f) W_F + b_F). (A gather of W_F rows is the same maths,
    // but its gradient needs UnsortedSegmentSum, which the WASM backend lacks.)
    const oh = tf.oneHot(tf.reshape(s.feedback, [n * b]), this.sizes.classes);
    const fb = tf.tanh(tf.add(tf.matMul(oh, this.fbW), this.fbB));
    const x = tf.concat([tf.reshape(s.emb, [n * b, e]), fb], 1);
    const xw = tf.reshape(tf.add(tf.matMul(x, this.w), this.bx), [n, b, 3 * H]);
    const xs = tf.unstack(xw) as tf.Tensor2D[];
    const masks = s.mask ? (tf.unstack(tf.expandDims(s.mask, 2)) as tf.Tensor2D[]) : undefined;
    let h: tf.Tensor2D = tf.zeros([b, H]);
    for (let t = 0; t < n; t++) {
      const hu = tf.add(tf.matMul(h, this.u), this.bh);
      const [xz, xr, xn] = tf.split(xs[t]!, 3, 1) as tf.Tensor2D[];
      const [hz, hr, hn] = tf.split(hu, 3, 1) as tf.Tensor2D[];
      const z = tf.sigmoid(tf.add(xz!, hz!));
      const r = tf.sigmoid(tf.add(xr!, hr!));
      const cand = tf.tanh(tf.add(xn!, tf.mul(r, hn!)));
      // h' = n + z ⊙ (h − n)
      let next: tf.Tensor2D = tf.add(cand, tf.mul(z, tf.sub(h, cand)));
      if (masks) {
        const m = masks[t]!;
        next = tf.add(h, tf.mul(m, tf.sub(next, h)));
      }
      h = next;
    }
    return h;
  }
}
