/**
 * GRU4Rec (Hidasi et al. 2015) for Table 1: a GRU over the session history (items and their
 * feedback, the {@link StateEncoder} RecSimu uses) whose last hidden state h scores every item,
 * score(c) = (h W) · (x_c U) + x_c · u, trained with softmax cross-entropy to predict the
 * logged next item.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { TupleBatch } from "../../lib/data/batches.ts";
import { deriveSeed } from "../../lib/random.ts";
import { Dense, Params } from "../params.ts";
import { StateEncoder } from "../gru.ts";
import type { BaselineTraining, LayerSizes, NetOptions } from "./common.ts";
import {
  disposeInputs,
  dotAll,
  type ItemRanker,
  type RankerInputs,
  rankerInputs,
} from "./ranker.ts";

/** A GRU4Rec recommender. */
export class Gru4Rec implements ItemRanker {
  readonly name = "gru4rec";
  readonly pairCost = 1;
  readonly params: Params;
  readonly inputs: RankerInputs;
  readonly encoder: StateEncoder;
  training: BaselineTraining = { history: [], stopped: false, seconds: 0 };
  readonly #out: Dense;
  readonly #item: Dense;
  readonly #bias: Dense;

  /** @param ds the data (for sizes and item features) @param opts embeddings, seed, sizes */
  constructor(ds: Dataset, opts: NetOptions & LayerSizes) {
    this.inputs = rankerInputs(ds, opts.embeddings, opts.embDim);
    this.params = new Params("GRU4Rec", deriveSeed(opts.seed, "gru4rec"));
    this.encoder = new StateEncoder(this.params, "encoder", {
      embDim: opts.embDim,
      classes: ds.labels.length,
      feedbackDim: opts.feedbackDim,
      hidden: opts.hidden,
    });
    this.#out = new Dense(this.params, "out", opts.hidden, opts.fc);
    this.#item = new Dense(this.params, "item", opts.embDim + 1, opts.fc);
    this.#bias = new Dense(this.params, "item_bias", opts.embDim + 1, 1);
  }

  scores(b: TupleBatch, candidates: tf.Tensor2D): tf.Tensor2D {
    const q = this.#out.apply(this.encoder.encode(b.state));
    const C = candidates.shape[0];
    return tf.add(
      dotAll(q, this.#item.apply(candidates)),
      tf.reshape(this.#bias.apply(candidates), [1, C]),
    );
  }

  variables(): tf.Variable[] {
    return this.params.list();
  }

  dispose(): void {
    this.params.dispose();
    disposeInputs(this.inputs);
  }
}
