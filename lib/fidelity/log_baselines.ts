/**
 * The baselines of the real-log judge, fitted on the model's own training users (its training
 * tuples, its item embeddings, its sizes, learning rate, batch and seed) and scored on the same
 * held-out tuples as the simulator:
 * - `item_rate`: each item's smoothed label rates in the training tuples,
 *   (count_k + 2·prior_k) / (count + 2) (P(positive) is `recsimu eval`'s item rate);
 * - `lr`: the paper's logistic regression (P(positive) only);
 * - `gru`: the supervised GRU classifier.
 * LR and GRU train for as many epochs as RecSimu's discriminator saw labels.
 * @module
 */
import type { TrainConfig } from "../config.ts";
import { type Dataset, padIndex, rareIndex } from "../data/dataset.ts";
import { trainGru, trainLR } from "../train/fit_classifiers.ts";
import type { FeedbackPredictor } from "../../models/baselines/common.ts";
import type { HeldOutTuples } from "./held_out.ts";

/** The baselines, in report order. */
export const LOG_BASELINES = ["item_rate", "lr", "gru"] as const;

/** A baseline's name. */
export type LogBaseline = (typeof LOG_BASELINES)[number];

/** A baseline's answers: probability rows [n, K], or P(positive) alone. */
export type BaselineScores = { probs: Float64Array } | { pPositive: Float64Array };

/**
 * The held-out log seen through the training vocabulary: the same rows, with item and label
 * indices of `train` (an item it does not know becomes its rare item, or the padding item, whose
 * vector is zeros), so that networks fitted on `train` can read it.
 */
export function trainingView(h: Dataset, train: Dataset): Dataset {
  const V = train.items.length;
  const unknown = train.rare ? rareIndex(V) : padIndex(V);
  const item = Int32Array.from(h.items, (id) => train.itemIndex.get(id) ?? unknown);
  const label = Int32Array.from(h.labels, (l) => Math.max(0, train.labels.indexOf(l)));
  return {
    ...h,
    items: train.items,
    itemIndex: train.itemIndex,
    rare: train.rare,
    labels: train.labels,
    positive: train.positive,
    rowItem: h.rowItem.map((i) => item[i]!),
    rowLabel: h.rowLabel.map((l) => label[l]!),
  };
}

/**
 * Item rates fitted on the training tuples of `train`, for the tuples `rows` of `view` (both in
 * `train`'s indices): (count_k + 2·prior_k) / (count + 2), prior_k the label shares of the
 * training tuples.
 */
export function itemRateProbs(train: Dataset, view: Dataset, rows: Int32Array): Float64Array {
  const K = train.labels.length;
  const slots = train.items.length + 2; // the items, the padding item and the rare item
  const counts = new Float64Array(slots * K), totals = new Float64Array(slots);
  const prior = new Float64Array(K);
  for (const r of train.train) {
    const it = train.rowItem[r]!, k = train.rowLabel[r]!;
    counts[it * K + k]!++;
    totals[it]!++;
    prior[k]!++;
  }
  const n = train.train.length;
  for (let k = 0; k < K; k++) prior[k] = n ? prior[k]! / n : 1 / K;
  const out = new Float64Array(rows.length * K);
  rows.forEach((r, i) => {
    const it = view.rowItem[r]!;
    for (let k = 0; k < K; k++) {
      out[i * K + k] = (counts[it * K + k]! + 2 * prior[k]!) / (totals[it]! + 2);
    }
  });
  return out;
}

/** What the baselines are fitted with. */
export interface BaselineFit {
  /** The model's training tuples (its dataset, rebuilt from the log with its config). */
  train: Dataset;
  /** The model's item embeddings [V, E]. */
  embeddings: Float32Array;
  /** The model's training config. */
  config: TrainConfig;
  /** No progress on stderr. */
  quiet: boolean;
}

/** The answers of a trained network, as {@link BaselineScores}. */
function predicted(m: FeedbackPredictor, view: Dataset, rows: Int32Array): BaselineScores {
  const p = m.predict(view, rows);
  return "probs" in p ? { probs: Float64Array.from(p.probs) } : { pPositive: p.positive };
}

/**
 * Fits each baseline of `names` and answers the answered tuples of `h`; returns the answers by
 * name, in `names`' order. Each network is freed once it has answered.
 */
export async function baselineScores(
  names: readonly LogBaseline[],
  h: HeldOutTuples,
  fit: BaselineFit,
): Promise<Map<LogBaseline, BaselineScores>> {
  const view = trainingView(h.ds, fit.train);
  const rows = Int32Array.from(h.answered, (i) => h.rows[i]!);
  const out = new Map<LogBaseline, BaselineScores>();
  const opts = { config: fit.config, embeddings: fit.embeddings, quiet: fit.quiet };
  for (const name of names) {
    if (name === "item_rate") {
      out.set(name, { probs: itemRateProbs(fit.train, view, rows) });
      continue;
    }
    const m = name === "lr" ? await trainLR(fit.train, opts) : await trainGru(fit.train, opts);
    try {
      out.set(name, predicted(m, view, rows));
    } finally {
      m.dispose();
    }
  }
  return out;
}
