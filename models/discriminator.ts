/**
 * RecSimu discriminator D(s, a), the reward model: its own GRU encoder over the state (p_D),
 * a fully connected path over the candidate item (e_D = ReLU(a W + b)), and a head over
 * concat(p_D, e_D) giving K real-class logits followed by the fake-class logits (K of them, or
 * 1 for the RecSimu-1 ablation).
 * @module
 */
import { tf } from "../lib/tf.ts";
import { Dense, Params } from "./params.ts";
import type { StateBatch } from "../lib/data/batches.ts";
import { type EncoderSizes, StateEncoder } from "./gru.ts";

/** Sizes of the discriminator. */
export interface DiscriminatorSizes extends EncoderSizes {
  /** Width of the hidden fully connected layers. */
  fc: number;
  /** Number of fake classes: K (RecSimu) or 1 (RecSimu-1 ablation). */
  fakeClasses: number;
  /**
   * Vocabulary size for a trainable per-item bias on the real-class logits (0 = none). The bias
   * re-weights the K real classes of a real pair without changing their total mass, so it
   * sharpens feedback prediction without telling real from fake.
   */
  itemBias?: number;
}

/** The discriminator network. */
export class Discriminator {
  readonly params: Params;
  readonly encoder: StateEncoder;
  readonly item: Dense;
  readonly h1: Dense;
  readonly h2: Dense;
  /** [V, K] per-item real-class bias (zeros at first), when `sizes.itemBias` > 0. */
  readonly itemBias?: tf.Variable;
  constructor(readonly sizes: DiscriminatorSizes, seed: number) {
    if (!(sizes.fakeClasses === sizes.classes || sizes.fakeClasses === 1)) {
      throw new RangeError(
        `Discriminator: fakeClasses must be K (${sizes.classes}) or 1, got ${sizes.fakeClasses}`,
      );
    }
    this.params = new Params("D", seed);
    this.encoder = new StateEncoder(this.params, "encoder", sizes);
    this.item = new Dense(this.params, "item", sizes.embDim, sizes.fc);
    this.h1 = new Dense(this.params, "head/1", sizes.hidden + sizes.fc, sizes.fc);
    this.h2 = new Dense(this.params, "head/2", sizes.fc, sizes.classes + sizes.fakeClasses);
    if (sizes.itemBias) {
      this.itemBias = this.params.uniform("item_bias", [sizes.itemBias, sizes.classes], 0);
    }
  }
  /** State encoding p_D [B, H]. */
  state(s: StateBatch): tf.Tensor2D {
    return this.encoder.encode(s);
  }
  /** State encoding without gradients, freeing each step's intermediates early. */
  stateInference(s: StateBatch): tf.Tensor2D {
    return this.encoder.encodeInference(s);
  }
  /**
   * Logits [B, K + fake] for encoded states p [B, H] and candidate embeddings [B, E].
   * With `frozen`, gradients flow to p and the candidates but not to D's weights.
   */
  score(p: tf.Tensor2D, candidate: tf.Tensor2D, frozen = false, items?: tf.Tensor1D): tf.Tensor2D {
    const e = tf.relu(this.item.apply(candidate, frozen));
    const logits = this.h2.apply(tf.relu(this.h1.apply(tf.concat([p, e], 1), frozen)), frozen);
    return items && this.itemBias ? this.#withItemBias(logits, items) : logits;
  }
  /** Real-class logits r + b[a] ({@link withRealBias}). */
  #withItemBias(logits: tf.Tensor2D, items: tf.Tensor1D): tf.Tensor2D {
    // onehot × bias rather than a gather: the gather's gradient is missing on WASM.
    const b = tf.matMul(tf.oneHot(items, this.sizes.itemBias!), this.itemBias!);
    return withRealBias(logits, b as tf.Tensor2D, this.sizes.classes);
  }
  /** One head: {@link score} gives one row per pair. */
  readonly heads = 1;
  /** Softmax over the K + F classes [B, K + F]. */
  probs(p: tf.Tensor2D, candidate: tf.Tensor2D, items?: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.softmax(this.score(p, candidate, false, items)));
  }
  /** {@link probs} as [B, 1, K + F] (the one head). */
  headProbs(p: tf.Tensor2D, candidate: tf.Tensor2D, items?: tf.Tensor1D): tf.Tensor3D {
    return tf.tidy(() => tf.expandDims(this.probs(p, candidate, items), 1) as tf.Tensor3D);
  }
  /** Logits for a state batch and candidates (`items`: the candidates' item indices, if real). */
  apply(s: StateBatch, candidate: tf.Tensor2D, items?: tf.Tensor1D): tf.Tensor2D {
    return this.score(this.state(s), candidate, false, items);
  }
}

/**
 * Real-class logits r + b, shifted so that logsumexp over the real classes is unchanged: the
 * bias re-weights the K feedback classes of a real pair without changing its real/fake mass.
 */
export function withRealBias(logits: tf.Tensor2D, bias: tf.Tensor2D, K: number): tf.Tensor2D {
  const real = tf.slice(logits, [0, 0], [-1, K]);
  const rest = tf.slice(logits, [0, K], [-1, -1]);
  const shifted = tf.add(real, bias);
  const kept = tf.add(tf.sub(shifted, tf.logSumExp(shifted, 1, true)), tf.logSumExp(real, 1, true));
  return tf.concat([kept, rest], 1) as tf.Tensor2D;
}
