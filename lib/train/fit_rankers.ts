/**
 * Fitting the Table-1 recommenders (FM, Wide & Deep, GRU4Rec): next-item prediction by softmax
 * cross-entropy over candidate items — all items, or a sampled set when there are many — for
 * as many epochs as RecSimu's generator sees logged actions.
 * @module
 */
import { tf } from "../tf.ts";
import type { TrainConfig } from "../config.ts";
import type { Dataset } from "../data/dataset.ts";
import { trainingRows } from "../data/training_rows.ts";
import { deriveSeed, Rng } from "../random.ts";
import { type BaselineTraining, crossEntropy, minimize } from "../../models/baselines/common.ts";
import type { ItemRanker, RankerInputs } from "../../models/baselines/ranker.ts";
import { FactorizationMachine } from "../../models/baselines/fm.ts";
import { WideDeep } from "../../models/baselines/wide_deep.ts";
import { Gru4Rec } from "../../models/baselines/gru4rec.ts";
import { type BaselineOptions, fitEpochs, netOptions, trainedOrDisposed } from "./fit.ts";

/** Epochs a recommender gets: as many as RecSimu's generator sees logged actions. */
export function recommenderEpochs(c: TrainConfig): number {
  return c.preGEpochs + c.epochs;
}

/** Options of {@link trainRanker}. */
export interface RankerTrainOptions extends BaselineOptions {
  /**
   * Most candidate items per training batch. With at most this many items the softmax runs over
   * all of them (exact); with more, over the batch's actions plus uniformly drawn others
   * (sampled softmax, no correction). @default 512
   */
  maxCandidates?: number;
}

/**
 * Trains `ranker` to predict the logged next item of every training tuple (softmax
 * cross-entropy) for `preGEpochs + epochs` epochs.
 */
export async function trainRanker(
  ranker: ItemRanker,
  inputs: RankerInputs,
  ds: Dataset,
  opts: RankerTrainOptions,
): Promise<BaselineTraining> {
  const c = opts.config;
  const V = ds.items.length;
  const maxC = opts.maxCandidates ?? 512;
  const opt = tf.train.adam(c.learningRate);
  const rng = new Rng(deriveSeed(c.seed, `${ranker.name}/candidates`));
  const all = V <= maxC ? tf.range(0, V, 1, "int32") as tf.Tensor1D : undefined;
  try {
    return await fitEpochs({
      label: ranker.name,
      ds,
      rows: trainingRows(ds, c),
      table: inputs.table,
      epochs: recommenderEpochs(c),
      batch: c.batch,
      seed: c.seed,
      step: (b) =>
        tf.tidy(() => {
          let cand: tf.Tensor1D, target: tf.Tensor1D;
          if (all) {
            cand = all;
            target = b.actionIndex;
          } else {
            const actions = b.actionIndex.dataSync() as Int32Array;
            const { items, targets } = sampleCandidates(actions, V, maxC, rng);
            cand = tf.tensor1d(items, "int32");
            target = tf.tensor1d(targets, "int32");
          }
          const feats = tf.gather(inputs.features, cand) as tf.Tensor2D;
          const loss = minimize(
            opt,
            ranker.variables(),
            () => crossEntropy(ranker.scores(b, feats), target),
          );
          return { "loss/ce": loss };
        }),
      quiet: opts.quiet,
      shouldStop: opts.shouldStop,
    });
  } finally {
    opt.dispose();
    all?.dispose();
  }
}

/**
 * Candidate items of a sampled-softmax batch: the distinct actions, then distinct uniform draws
 * up to `max` items; `targets[i]` is the position of `actions[i]` among them.
 */
export function sampleCandidates(
  actions: Int32Array,
  items: number,
  max: number,
  rng: Rng,
): { items: Int32Array; targets: Int32Array } {
  const pos = new Map<number, number>();
  const out: number[] = [];
  const targets = new Int32Array(actions.length);
  actions.forEach((a, i) => {
    let p = pos.get(a);
    if (p === undefined) {
      p = out.length;
      pos.set(a, p);
      out.push(a);
    }
    targets[i] = p;
  });
  const want = Math.min(Math.max(max, out.length), items);
  while (out.length < want) {
    const it = rng.int(items);
    if (!pos.has(it)) {
      pos.set(it, out.length);
      out.push(it);
    }
  }
  return { items: Int32Array.from(out), targets };
}

/** A ranker that trains: its inputs and the record its training leaves. */
type TrainableRanker = ItemRanker & { inputs: RankerInputs; training: BaselineTraining };

/** Trains `m` by {@link trainRanker}; frees it if training fails. */
function fitRanker<R extends TrainableRanker>(
  m: R,
  ds: Dataset,
  opts: RankerTrainOptions,
): Promise<R> {
  return trainedOrDisposed(m, () => trainRanker(m, m.inputs, ds, opts));
}

/**
 * Trains an FM recommender on the training tuples of `ds`.
 *
 * @example
 * ```ts ignore
 * const fm = await trainFM(ds, { config, embeddings });
 * topK(fm, fm.inputs, ds, rows, 40);
 * ```
 */
export async function trainFM(
  ds: Dataset,
  opts: RankerTrainOptions,
): Promise<FactorizationMachine> {
  return await fitRanker(new FactorizationMachine(ds, netOptions(opts)), ds, opts);
}

/**
 * Trains a Wide & Deep recommender on the training tuples of `ds`.
 *
 * @example
 * ```ts ignore
 * const wd = await trainWideDeep(ds, { config, embeddings });
 * ```
 */
export async function trainWideDeep(ds: Dataset, opts: RankerTrainOptions): Promise<WideDeep> {
  return await fitRanker(new WideDeep(ds, netOptions(opts)), ds, opts);
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
  return await fitRanker(new Gru4Rec(ds, netOptions(opts)), ds, opts);
}
