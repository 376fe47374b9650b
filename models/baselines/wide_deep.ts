/**
 * Wide & Deep (Cheng et al. 2016) for Table 1. For a state summary x_s ({@link stateSummary})
 * and candidate item features x_c:
 * - wide: a linear model over x_s, x_c and their cross-product transformation x_sᵀ W x_c;
 * - deep: a feed-forward network over [x_s, x_c] (one ReLU layer of width `fc`, then a linear
 *   output);
 * jointly trained (the two logits add) to predict the logged next item.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { TupleBatch } from "../../lib/data/batches.ts";
import { deriveSeed } from "../../lib/random.ts";
import { Dense, Params } from "../params.ts";
import type { BaselineTraining } from "./common.ts";
import {
  disposeInputs,
  dotAll,
  type ItemRanker,
  type RankerInputs,
  rankerInputs,
  type RankerNetOptions,
  stateSummary,
} from "./ranker.ts";

/** A Wide & Deep recommender. */
export class WideDeep implements ItemRanker {
  readonly name = "wd";
  readonly pairCost: number;
  readonly params: Params;
  readonly inputs: RankerInputs;
  training: BaselineTraining = { history: [], stopped: false, seconds: 0 };
  readonly #wideState: Dense;
  readonly #wideItem: Dense;
  readonly #cross: tf.Variable;
  readonly #deepState: Dense;
  readonly #deepItem: Dense;
  readonly #deepOut: tf.Variable;

  /** @param ds the data (for item features) @param opts embeddings, seed, deep width `fc` */
  constructor(ds: Dataset, opts: RankerNetOptions) {
    this.inputs = rankerInputs(ds, opts.embeddings, opts.embDim);
    const ds_ = 3 * opts.embDim + 1, dc = opts.embDim + 1, h = opts.fc;
    this.pairCost = h + 2;
    this.params = new Params("WD", deriveSeed(opts.seed, "wide-deep"));
    this.#wideState = new Dense(this.params, "wide/state", ds_, 1);
    this.#wideItem = new Dense(this.params, "wide/item", dc, 1);
    this.#cross = this.params.uniform("wide/cross", [ds_, dc], 1 / Math.sqrt(ds_ * dc));
    // The first deep layer over [x_s, x_c] is split into its state and item blocks.
    this.#deepState = new Dense(this.params, "deep/1/state", ds_, h);
    this.#deepItem = new Dense(this.params, "deep/1/item", dc, h);
    this.#deepOut = this.params.uniform("deep/2/w", [h, 1], 1 / Math.sqrt(h));
  }

  scores(b: TupleBatch, candidates: tf.Tensor2D): tf.Tensor2D {
    const xs = stateSummary(b, this.inputs.isPositive);
    const B = xs.shape[0], C = candidates.shape[0];
    const wide = tf.add(
      tf.add(dotAll(tf.matMul(xs, this.#cross), candidates), this.#wideState.apply(xs)),
      tf.reshape(this.#wideItem.apply(candidates), [1, C]),
    );
    const hs = this.#deepState.apply(xs); // [B, h]
    const hc = tf.matMul(candidates, this.#deepItem.w); // [C, h] (bias already in hs)
    const hidden = tf.relu(tf.add(tf.expandDims(hs, 1), tf.expandDims(hc, 0))); // [B, C, h]
    const h = this.#deepOut.shape[0]!;
    const deep = tf.reshape(tf.matMul(tf.reshape(hidden, [B * C, h]), this.#deepOut), [B, C]);
    return tf.add(wide, deep);
  }

  variables(): tf.Variable[] {
    // The item block's bias duplicates the state block's; it stays out of training.
    return this.params.list().filter((v) => v !== this.#deepItem.b);
  }

  dispose(): void {
    this.params.dispose();
    disposeInputs(this.inputs);
  }
}
