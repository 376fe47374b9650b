/**
 * The baselines of the judges, fitted on the model's own training tuples (rebuilt from its log
 * with its config: its vocabulary, its item embeddings, its sizes, learning rate, batch and
 * seed) and scored on the same questions as the simulator: the held-out tuples of a real log
 * (`log_judge.ts`), or the held-out cases of a truth world (`judge.ts`):
 * - `item_rate`: each item's smoothed label rates in the training tuples,
 *   (count_k + 2·prior_k) / (count + 2) (P(positive) is `recsimu eval`'s item rate);
 * - `lr`: the paper's logistic regression (P(positive) only);
 * - `gru`: the supervised GRU classifier.
 * LR and GRU train for as many epochs as RecSimu's discriminator saw labels.
 * @module
 */
import type { TrainConfig } from "../config.ts";
import { UserError } from "../errors.ts";
import { type Dataset, datasetOptions, loadDataset, padIndex, rareIndex } from "../data/dataset.ts";
import { trainGru, trainLR } from "../train/fit_classifiers.ts";
import type { FeedbackPredictor } from "../../models/baselines/common.ts";
import type { FeedbackRequest, SimulatorLike } from "../sim/types.ts";
import type { HeldOutTuples } from "./held_out.ts";

/** The baselines, in report order. */
export const LOG_BASELINES = ["item_rate", "lr", "gru"] as const;

/** A baseline's name. */
export type LogBaseline = (typeof LOG_BASELINES)[number];

/** A baseline's answers: probability rows [n, K], or P(positive) alone. */
export type BaselineScores = { probs: Float64Array } | { pPositive: Float64Array };

/** The index of `train` an item it does not know reads as: its rare item, or the padding item. */
function unknownItem(train: Dataset): number {
  const V = train.items.length;
  return train.rare ? rareIndex(V) : padIndex(V);
}

/**
 * The held-out log seen through the training vocabulary: the same rows, with item and label
 * indices of `train` (an item it does not know becomes its rare item, or the padding item, whose
 * vector is zeros), so that networks fitted on `train` can read it.
 */
export function trainingView(h: Dataset, train: Dataset): Dataset {
  const unknown = unknownItem(train);
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
 * Questions that are not rows of a log (a truth world's cases) as tuples in `train`'s indices,
 * for networks fitted on `train` to answer: question q is one session, its state's rows then its
 * action's row `rows[q]` (items and labels mapped as {@link trainingView} maps them; the action
 * row's label, which no baseline reads, is 0). Only for prediction: its splits are empty.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { questionsView } from "./log_baselines.ts";
 * const csv = "session_id,item_id,feedback\nu1,a,skip\nu1,b,click\nu1,a,click\n";
 * const train = await datasetFromText(csv, "inline.csv", { stateLength: 2, minCount: 1 });
 * const q = questionsView(train, [{ state: [{ item: "b", feedback: "click" }], action: "a" }]);
 * [...q.view.rowItem]; // [1, 0]: b, then the action a
 * [...q.rows]; // [1]
 * ```
 */
export function questionsView(
  train: Dataset,
  questions: readonly FeedbackRequest[],
): { view: Dataset; rows: Int32Array } {
  const unknown = unknownItem(train);
  const itemOf = (id: string) => train.itemIndex.get(id) ?? unknown;
  const rowCount = questions.reduce((a, q) => a + q.state.length + 1, 0);
  const rowItem = new Int32Array(rowCount), rowLabel = new Int32Array(rowCount);
  const rowSessionStart = new Int32Array(rowCount);
  const sessionOffsets = new Int32Array(questions.length + 1);
  const rows = new Int32Array(questions.length);
  let r = 0;
  questions.forEach((q, j) => {
    sessionOffsets[j] = r;
    for (const s of [...q.state, { item: q.action, feedback: train.labels[0]! }]) {
      rowItem[r] = itemOf(s.item);
      rowLabel[r] = Math.max(0, train.labels.indexOf(s.feedback));
      rowSessionStart[r++] = sessionOffsets[j]!;
    }
    rows[j] = r - 1;
  });
  sessionOffsets[questions.length] = r;
  const none = new Int32Array(0);
  const view: Dataset = {
    ...train,
    rowItem,
    rowLabel,
    rowSessionStart,
    sessionOffsets,
    sessionIds: questions.map((_, j) => `q${j}`),
    train: none,
    validation: none,
    test: rows,
  };
  return { view, rows };
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

/** What {@link loadBaselineFit} needs of the model: its sizes, labels and training config. */
export type BaselineModel = Pick<SimulatorLike, "itemCount" | "labels"> & {
  readonly meta: { readonly config: TrainConfig };
};

/** Options of {@link loadBaselineFit}. */
export interface BaselineFitOptions {
  /** The baselines to fit. */
  baselines: readonly LogBaseline[];
  /** The model's item embeddings [V, E], which `lr` and `gru` need. @default none */
  embeddings?: Float32Array;
  /** No progress on stderr. @default true */
  quiet?: boolean;
  /** How the model is named in messages. @default "the model" */
  model?: string;
}

/**
 * Rebuilds the training tuples of `sim` from `log` exactly as its training read them
 * (`datasetOptions` of its config) for the baselines `o.baselines` to be fitted on.
 * @throws {UserError} when `log` does not give the model's vocabulary and labels
 * @throws {TypeError} when `lr` or `gru` is asked without the model's item embeddings
 *
 * @example
 * ```ts ignore
 * const fit = await loadBaselineFit(sim, "log.csv", { baselines: ["item_rate"] });
 * const answers = await baselineScores(["item_rate"], heldOut, fit);
 * ```
 */
export async function loadBaselineFit(
  sim: BaselineModel,
  log: string,
  o: BaselineFitOptions,
): Promise<BaselineFit> {
  const nets = o.baselines.filter((b) => b !== "item_rate");
  if (nets.length && !o.embeddings) {
    throw new TypeError(`baselines ${nets} need the model's item embeddings`);
  }
  const config = sim.meta.config;
  const train = await loadDataset(log, datasetOptions(config));
  if (train.items.length !== sim.itemCount || train.labels.join() !== sim.labels.join()) {
    throw new UserError(
      `Cannot rebuild the training tuples of ${
        o.model ?? "the model"
      } from "${log}" (${train.items.length} items, labels ${train.labels}; the model has ${sim.itemCount}, ${sim.labels}); use --baselines none`,
    );
  }
  return {
    train,
    embeddings: o.embeddings ?? new Float32Array(0),
    config,
    quiet: o.quiet ?? true,
  };
}

/** The answers of a trained network, as {@link BaselineScores}. */
function predicted(m: FeedbackPredictor, view: Dataset, rows: Int32Array): BaselineScores {
  const p = m.predict(view, rows);
  return "probs" in p ? { probs: Float64Array.from(p.probs) } : { pPositive: p.positive };
}

/**
 * Fits each baseline of `names` on `fit` and answers the tuples `rows` of `view` (a data set in
 * the training indices: {@link trainingView}, {@link questionsView}); returns the answers by
 * name, in `names`' order, label columns in `fit.train`'s order. Each network is freed once it
 * has answered.
 */
export async function predictBaselines(
  names: readonly LogBaseline[],
  view: Dataset,
  rows: Int32Array,
  fit: BaselineFit,
): Promise<Map<LogBaseline, BaselineScores>> {
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

/**
 * Fits each baseline of `names` and answers the answered tuples of `h`; returns the answers by
 * name, in `names`' order.
 */
export async function baselineScores(
  names: readonly LogBaseline[],
  h: HeldOutTuples,
  fit: BaselineFit,
): Promise<Map<LogBaseline, BaselineScores>> {
  const rows = Int32Array.from(h.answered, (i) => h.rows[i]!);
  return await predictBaselines(names, trainingView(h.ds, fit.train), rows, fit);
}
