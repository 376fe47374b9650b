/**
 * RecSimu generator G(s): GRU encoder over the state, fully connected decoder
 * (H → fc, ReLU → |E|, tanh). It outputs the embedding of the item the logging recommender
 * would show next, i.e. it imitates the logging policy.
 * @module
 */
import { tf } from "../lib/tf.ts";
import { Dense, Params } from "./params.ts";
import type { StateBatch } from "../lib/data/batches.ts";
import { type EncoderSizes, type KeptEncoding, StateEncoder } from "./gru.ts";

/** Sizes of the generator. */
export interface GeneratorSizes extends EncoderSizes {
  /** Width of the hidden fully connected layer. */
  fc: number;
}

/** The generator network. */
export class Generator {
  readonly params: Params;
  readonly encoder: StateEncoder;
  readonly l1: Dense;
  readonly l2: Dense;
  constructor(readonly sizes: GeneratorSizes, seed: number) {
    this.params = new Params("G", seed);
    this.encoder = new StateEncoder(this.params, "encoder", sizes);
    this.l1 = new Dense(this.params, "head/1", sizes.hidden, sizes.fc);
    this.l2 = new Dense(this.params, "head/2", sizes.fc, sizes.embDim);
  }
  /** Generated action embeddings [B, E] in (-1, 1). */
  apply(s: StateBatch): tf.Tensor2D {
    return this.#head(this.encoder.encode(s));
  }
  /** Like {@link apply} without gradients, freeing each GRU step's intermediates early. */
  applyInference(s: StateBatch): tf.Tensor2D {
    return tf.tidy(() => this.#head(this.encoder.encodeInference(s)));
  }
  /**
   * G(s) computed once, without a tape, with what its gradients need kept: `g` serves as the
   * (constant) fake action of d-steps and `gradients` then differentiates a loss of G(s) — the
   * same values and gradients as {@link apply} under a tape, one forward pass instead of two.
   * Call `dispose` when done.
   */
  applyForLater(s: StateBatch): KeptGeneration {
    const enc: KeptEncoding = this.encoder.encodeForLater(s);
    const g = tf.tidy(() => this.#head(enc.h));
    const head = [this.l1.w, this.l1.b, this.l2.w, this.l2.b];
    return {
      g,
      gradients: (loss) =>
        tf.tidy(() => {
          // The head is small: re-run under a tape from the kept h, and differentiate the loss
          // with respect to h and the head's weights; h's gradient then runs through the GRU.
          const { value, grads } = tf.valueAndGrads((h: tf.Tensor) =>
            loss(this.#head(h as tf.Tensor2D))
          )([enc.h, ...head]);
          const [dh, ...dHead] = grads;
          const all: tf.NamedTensorMap = enc.grads(dh!);
          head.forEach((v, i) => (all[v.name] = dHead[i]!));
          // In the order of params.list(), as variableGrads gives them: tfjs's Adam keeps its
          // moments by position in the map, not by name.
          const named: tf.NamedTensorMap = {};
          for (const v of this.params.list()) named[v.name] = all[v.name]!;
          return { value: value as tf.Scalar, grads: named };
        }),
      dispose: () => {
        g.dispose();
        enc.dispose();
      },
    };
  }
  #head(h: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(this.l2.apply(tf.relu(this.l1.apply(h))));
  }
}

/** G(s) kept for a later backward pass ({@link Generator.applyForLater}). */
export interface KeptGeneration {
  /** Generated action embeddings [B, E]; no tape recorded them. */
  g: tf.Tensor2D;
  /** The value of `loss(G(s))` and the gradients of all of G's variables, by name. */
  gradients(
    loss: (g: tf.Tensor2D) => tf.Scalar,
  ): { value: tf.Scalar; grads: tf.NamedTensorMap };
  /** Frees g and the kept tensors. */
  dispose(): void;
}
