/**
 * The popularity recommender, Table 1's trivial reference: every state gets the items most
 * often logged as actions in the training tuples.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { TupleBatch } from "../../lib/data/batches.ts";
import { disposeInputs, type ItemRanker, type RankerInputs, rankerInputs } from "./ranker.ts";

/** Ranks items by their (standardised log) action count, the last item feature. */
export class PopularityRanker implements ItemRanker {
  readonly name = "popularity";
  readonly pairCost = 1;
  readonly inputs: RankerInputs;
  constructor(ds: Dataset, embeddings: Float32Array, dim: number) {
    this.inputs = rankerInputs(ds, embeddings, dim);
  }
  scores(b: TupleBatch, candidates: tf.Tensor2D): tf.Tensor2D {
    const [C, F] = candidates.shape;
    const pop = tf.reshape(tf.slice(candidates, [0, F - 1], [C, 1]), [1, C]);
    return tf.tile(pop, [b.actionIndex.shape[0], 1]) as tf.Tensor2D;
  }
  variables(): tf.Variable[] {
    return [];
  }
  dispose(): void {
    disposeInputs(this.inputs);
  }
}
