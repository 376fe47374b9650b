/**
 * Fitting the feedback baselines of Figure 6 (Random, LR, GRU, GAN, GAN-s): each trains on
 * RecSimu's training tuples for as many epochs as RecSimu's discriminator sees labels, with
 * validation AUC for `--patience`.
 * @module
 */
import { tf } from "../tf.ts";
import type { TrainConfig } from "../config.ts";
import type { Dataset } from "../data/dataset.ts";
import type { TupleBatch } from "../data/batches.ts";
import { trainingRows } from "../data/training_rows.ts";
import { predictionMetrics } from "../eval/evaluate.ts";
import type {
  BaselineTraining,
  FeedbackPredictor,
  SupervisedModel,
} from "../../models/baselines/common.ts";
import { RandomBaseline } from "../../models/baselines/random.ts";
import { LogisticRegression } from "../../models/baselines/lr.ts";
import { GruBaseline } from "../../models/baselines/gru.ts";
import { GanBaseline } from "../../models/baselines/gan.ts";
import { type BaselineOptions, fitEpochs, netOptions, trainedOrDisposed } from "./fit.ts";

/** Epochs a supervised baseline gets: as many as RecSimu's discriminator sees labels. */
export function baselineEpochs(c: TrainConfig): number {
  return c.preDEpochs + c.epochs;
}

/**
 * {@link fitEpochs} for a feedback classifier `m`: RecSimu's training tuples, `baselineEpochs`
 * epochs, validation AUC for early stopping; `vars` are restored to their best values.
 */
function fitClassifier(
  m: FeedbackPredictor & { readonly table: tf.Tensor2D },
  ds: Dataset,
  opts: BaselineOptions,
  step: (b: TupleBatch) => Record<string, number>,
  vars: () => tf.Variable[],
): Promise<BaselineTraining> {
  const c = opts.config;
  return fitEpochs({
    label: m.name,
    ds,
    rows: trainingRows(ds, c),
    table: m.table,
    epochs: baselineEpochs(c),
    batch: c.batch,
    seed: c.seed,
    step,
    validate: () => predictionMetrics(m.predict(ds, ds.validation), ds, ds.validation).auc,
    patience: c.patience,
    vars,
    quiet: opts.quiet,
    shouldStop: opts.shouldStop,
  });
}

/**
 * Trains `m` with Adam on the training tuples of `ds` for `baselineEpochs` epochs, with
 * validation AUC, `--patience` early stopping and progress; frees `m` if training fails.
 */
export async function fitSupervised<M extends SupervisedModel>(
  m: M,
  ds: Dataset,
  opts: BaselineOptions & { lossName: string },
): Promise<M> {
  const opt = tf.train.adam(opts.config.learningRate);
  try {
    return await trainedOrDisposed(m, () =>
      fitClassifier(
        m,
        ds,
        opts,
        (b) => ({ [opts.lossName]: m.step(b, opt) }),
        () => m.params.list(),
      ));
  } finally {
    opt.dispose();
  }
}

/** "Trains" the Random baseline (nothing to learn). */
export function trainRandom(_ds: Dataset, opts: { seed: number }): Promise<RandomBaseline> {
  return Promise.resolve(new RandomBaseline(opts.seed));
}

/**
 * Trains the LR baseline on the training tuples of `ds` for `preDEpochs + epochs` epochs.
 *
 * @example
 * ```ts ignore
 * const lr = await trainLR(ds, { config, embeddings });
 * predictionMetrics(lr.predict(ds, ds.test), ds, ds.test).auc;
 * ```
 */
export async function trainLR(ds: Dataset, opts: BaselineOptions): Promise<LogisticRegression> {
  return await fitSupervised(new LogisticRegression(ds, netOptions(opts)), ds, {
    ...opts,
    lossName: "loss/mse",
  });
}

/**
 * Trains the GRU baseline for `preDEpochs + epochs` epochs on the training tuples of `ds`.
 *
 * @example
 * ```ts ignore
 * const gru = await trainGru(ds, { config, embeddings });
 * predictionMetrics(gru.predict(ds, ds.test), ds, ds.test).f1;
 * ```
 */
export async function trainGru(ds: Dataset, opts: BaselineOptions): Promise<GruBaseline> {
  return await fitSupervised(new GruBaseline(ds, netOptions(opts)), ds, {
    ...opts,
    lossName: "loss/ce",
  });
}

/** Trains a GAN baseline: rounds of `dSteps` D updates, then `gSteps` G updates, per batch. */
async function trainGanLike(
  ds: Dataset,
  opts: BaselineOptions,
  supervised: number,
): Promise<GanBaseline> {
  const m = new GanBaseline(ds, netOptions(opts), supervised);
  const c = opts.config;
  const optG = tf.train.adam(c.learningRate), optD = tf.train.adam(c.learningRate);
  const round = (b: TupleBatch) => {
    let d = NaN, g = NaN;
    for (let i = 0; i < c.dSteps; i++) d = m.discriminatorStep(b, optD);
    for (let i = 0; i < c.gSteps; i++) g = m.generatorStep(b, optG);
    return { "loss/d": d, "loss/g": g };
  };
  try {
    return await trainedOrDisposed(
      m,
      () => fitClassifier(m, ds, opts, round, () => [...m.gParams.list(), ...m.dParams.list()]),
    );
  } finally {
    optG.dispose();
    optD.dispose();
  }
}

/**
 * Trains the unsupervised GAN baseline (`preDEpochs + epochs` epochs of adversarial rounds).
 *
 * @example
 * ```ts ignore
 * const gan = await trainGan(ds, { config, embeddings });
 * ```
 */
export function trainGan(ds: Dataset, opts: BaselineOptions): Promise<GanBaseline> {
  return trainGanLike(ds, opts, 0);
}

/**
 * Trains GAN-s: the GAN plus α (`config.alpha`, RecSimu's weight of its supervised term) times
 * the generator's cross-entropy against the logged feedback.
 *
 * @example
 * ```ts ignore
 * const ganS = await trainGanS(ds, { config, embeddings });
 * ```
 */
export function trainGanS(ds: Dataset, opts: BaselineOptions): Promise<GanBaseline> {
  if (!(opts.config.alpha > 0)) {
    throw new RangeError(
      `GAN-s needs a positive supervised weight (alpha), got ${opts.config.alpha}`,
    );
  }
  return trainGanLike(ds, opts, opts.config.alpha);
}
