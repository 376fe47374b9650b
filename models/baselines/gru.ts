/**
 * The GRU baseline of Figure 6: a GRU over the state pairs i_n = (e_n, f_n) gives the user
 * representation u; u is concatenated with the candidate item and a softmax layer predicts the
 * feedback class, trained on cross-entropy.
 *
 * The network is RecSimu's discriminator with K outputs instead of K + F: the same
 * {@link StateEncoder}, the same item path ReLU(e W + b) and the same fully connected layer
 * before the softmax. (The paper's text names only "a softmax layer"; sharing D's layers means the
 * comparison measures the training method, not the capacity — the paper tunes its baselines.)
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { StateBatch, TupleBatch } from "../../lib/data/batches.ts";
import { deriveSeed } from "../../lib/random.ts";
import { Dense, Params } from "../params.ts";
import { StateEncoder } from "../gru.ts";
import {
  type BaselineTraining,
  crossEntropy,
  embeddingTable,
  type FeedbackPrediction,
  type LayerSizes,
  minimize,
  type NetOptions,
  predictBatches,
  prepareKernels,
  type SupervisedModel,
} from "./common.ts";

/** Sizes of a {@link GruFeedbackNet}. */
export interface GruNetSizes {
  embDim: number;
  classes: number;
  feedbackDim: number;
  hidden: number;
  fc: number;
  /** Width of an extra input concatenated after the item path (0 = none). */
  extra: number;
  /** Number of outputs. */
  outputs: number;
}

/** GRU state encoder + item path + one hidden layer → `outputs` logits. */
export class GruFeedbackNet {
  readonly encoder: StateEncoder;
  readonly item: Dense;
  readonly h1: Dense;
  readonly out: Dense;
  constructor(params: Params, name: string, readonly sizes: GruNetSizes) {
    const { embDim, classes, feedbackDim, hidden } = sizes;
    this.encoder = new StateEncoder(params, `${name}/encoder`, {
      embDim,
      classes,
      feedbackDim,
      hidden,
    });
    this.item = new Dense(params, `${name}/item`, sizes.embDim, sizes.fc);
    this.h1 = new Dense(params, `${name}/head/1`, sizes.hidden + sizes.fc + sizes.extra, sizes.fc);
    this.out = new Dense(params, `${name}/head/2`, sizes.fc, sizes.outputs);
  }
  /** Logits [B, outputs] for a state batch, candidates [B, E] and the optional extra input. */
  apply(s: StateBatch, candidate: tf.Tensor2D, extra?: tf.Tensor2D): tf.Tensor2D {
    return this.head(this.encoder.encode(s), candidate, extra);
  }
  /** Logits for encoded states u [B, H] (from `encoder.encode`), candidates and extra input. */
  head(u: tf.Tensor2D, candidate: tf.Tensor2D, extra?: tf.Tensor2D): tf.Tensor2D {
    const parts = [u, tf.relu(this.item.apply(candidate))];
    if (extra) parts.push(extra);
    return this.out.apply(tf.relu(this.h1.apply(tf.concat(parts, 1))));
  }
}

/**
 * The class probabilities [n, K] of `net`'s softmax for the tuples whose action rows are `rows`
 * (`net` has K = `ds.labels.length` outputs).
 */
export function predictClasses(
  net: GruFeedbackNet,
  table: tf.Tensor2D,
  ds: Dataset,
  rows: Int32Array,
): FeedbackPrediction {
  const K = ds.labels.length;
  const probs = predictBatches(
    ds,
    rows,
    table,
    K,
    (b) => tf.softmax(net.apply(b.state, b.action)),
  );
  return { probs, width: K };
}

/** A trained GRU feedback classifier. */
export class GruBaseline implements SupervisedModel {
  readonly name = "gru";
  readonly params: Params;
  readonly net: GruFeedbackNet;
  readonly table: tf.Tensor2D;
  training: BaselineTraining = { history: [], stopped: false, seconds: 0 };

  /** @param ds the data (for sizes) @param opts embeddings, seed and layer sizes */
  constructor(ds: Dataset, opts: NetOptions & LayerSizes) {
    prepareKernels();
    this.params = new Params("GRU", deriveSeed(opts.seed, "gru-baseline"));
    this.net = new GruFeedbackNet(this.params, "net", {
      embDim: opts.embDim,
      classes: ds.labels.length,
      feedbackDim: opts.feedbackDim,
      hidden: opts.hidden,
      fc: opts.fc,
      extra: 0,
      outputs: ds.labels.length,
    });
    this.table = embeddingTable(opts.embeddings, ds.items.length, opts.embDim);
  }

  /** One cross-entropy update; returns the loss. */
  step(b: TupleBatch, opt: tf.Optimizer): number {
    return tf.tidy(() =>
      minimize(
        opt,
        this.params.list(),
        () => crossEntropy(this.net.apply(b.state, b.action), b.label),
      )
    );
  }

  predict(ds: Dataset, rows: Int32Array): FeedbackPrediction {
    return predictClasses(this.net, this.table, ds, rows);
  }

  dispose(): void {
    this.params.dispose();
    this.table.dispose();
  }
}
