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
import type { BaselineTraining } from "./common.ts";
import {
  disposeInputs,
  dotAll,
  type ItemRanker,
  type RankerInputs,
  rankerInputs,
  type RankerTrainOptions,
  trainRanker,
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

  constructor(ds: Dataset, opts: RankerTrainOptions) {
    const c = opts.config;
    this.inputs = rankerInputs(ds, opts.embeddings, c.embDim);
    this.params = new Params("GRU4Rec", deriveSeed(c.seed, "gru4rec"));
    this.encoder = new StateEncoder(this.params, "encoder", {
      embDim: c.embDim,
      classes: ds.labels.length,
      feedbackDim: c.feedbackDim,
      hidden: c.hidden,
    });
    this.#out = new Dense(this.params, "out", c.hidden, c.fc);
    this.#item = new Dense(this.params, "item", c.embDim + 1, c.fc);
    this.#bias = new Dense(this.params, "item_bias", c.embDim + 1, 1);
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

/**
 * Trains a GRU4Rec recommender on the training tuples of `ds`.
 *
 * @example
 * ```ts ignore
 * const g = await trainGru4Rec(ds, { config, embeddings });
 * ```
 */
export async function trainGru4Rec(ds: Dataset, opts: RankerTrainOptions): Promise<Gru4Rec> {
  const m = new Gru4Rec(ds, opts);
  try {
    m.training = await trainRanker(m, m.inputs, ds, opts);
  } catch (e) {
    m.dispose();
    throw e;
  }
  return m;
}
