/**
 * RecSimu generator G(s): GRU encoder over the state, fully connected decoder
 * (H → fc, ReLU → |E|, tanh). It outputs the embedding of the item the logging recommender
 * would show next, i.e. it imitates the logging policy.
 * @module
 */
import { tf } from "../lib/tf.ts";
import { Dense, Params } from "./params.ts";
import { type EncoderSizes, type StateBatch, StateEncoder } from "./gru.ts";

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
  #head(h: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(this.l2.apply(tf.relu(this.l1.apply(h))));
  }
}
