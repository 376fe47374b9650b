/**
 * Fitting the support model (`support_features.ts`) on a log's training tuples: every logged
 * (state, action) pair is a positive, the same state with an item drawn uniformly from the
 * vocabulary a negative, so the fitted logit estimates ln π_log(a | s) − ln(1/V). The validation
 * tuples, scored the same way, give its held-out AUC and the off-support threshold.
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import type { Dataset } from "../data/dataset.ts";
import { auc } from "../eval/metrics.ts";
import { updateCheckpointFile } from "./checkpoint.ts";
import { fitLogistic, type WeightedRows } from "./newton_logistic.ts";
import {
  SUPPORT_FILE,
  SUPPORT_FLAG_QUANTILE,
  SUPPORT_FORMAT,
  type SupportContext,
  supportContext,
  type SupportEvaluation,
  supportFeatureNames,
  supportFeatures,
  supportLogit,
  type SupportModelData,
} from "./support_features.ts";

/** Options of {@link fitSupportModel}. */
export interface FitSupportOptions {
  /** Root seed of the tuple sample and the uniform draws. @default 0 */
  seed?: number;
  /** L2 penalty on every weight but the bias. @default 1 */
  l2?: number;
  /** At most this many training tuples are fitted on (a seeded sample). @default 100000 */
  maxTuples?: number;
}

/** The item2vec vectors [V, E] the features use (a checkpoint's `embeddings.bin`). */
export interface SupportEmbeddings {
  vectors: Float32Array;
  dim: number;
}

/** Training tuples per vocabulary item (the rows the model learns from). */
export function actionCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.items.length).fill(0);
  for (const r of ds.train) {
    const it = ds.rowItem[r]!;
    if (it < ds.items.length) counts[it]!++;
  }
  return counts;
}

/**
 * The question of tuple `row` with candidate `candidate`: its state's last N items (−1: the
 * rare item) and feedback classes, oldest first, and the candidate (−1: the rare item).
 */
export function tupleQuestion(ds: Dataset, row: number, candidate: number) {
  const V = ds.items.length;
  const from = Math.max(ds.rowSessionStart[row]!, row - ds.stateLength);
  const items: number[] = [], feedback: number[] = [];
  for (let r = from; r < row; r++) {
    const it = ds.rowItem[r]!;
    items.push(it < V ? it : -1);
    feedback.push(ds.rowLabel[r]!);
  }
  return { items, feedback, candidate: candidate < V ? candidate : -1 };
}

/** Each tuple's logged pair and one uniformly drawn pair: features, labels 1 / 0. */
function pairs(ds: Dataset, tuples: ArrayLike<number>, c: SupportContext, rng: Rng): WeightedRows {
  const width = supportFeatureNames(ds.labels).length, V = ds.items.length;
  const g: WeightedRows = { x: [], rows: [], positives: [] };
  for (let i = 0; i < tuples.length; i++) {
    const r = tuples[i]!;
    for (const logged of [true, false]) {
      const a = logged ? ds.rowItem[r]! : Math.floor(rng.next() * V);
      g.x.push(supportFeatures(new Float64Array(width), tupleQuestion(ds, r, a), c));
      g.rows.push(1);
      g.positives.push(logged ? 1 : 0);
    }
  }
  return g;
}

/** The q-quantile of `xs` (sorted copy; linear between order statistics). */
function quantileOf(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return -Infinity;
  const at = q * (s.length - 1), lo = Math.floor(at), hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (at - lo) * (s[hi]! - s[lo]!);
}

/** Logits of the pairs, split by label. */
function scored(g: WeightedRows, w: ArrayLike<number>) {
  const logged: number[] = [], uniform: number[] = [];
  g.x.forEach((x, i) => (g.positives[i] ? logged : uniform).push(supportLogit(w, x)));
  return { logged, uniform };
}

/** Held-out figures of the pairs under weights `w` and the off-support threshold. */
function evaluate(g: WeightedRows, w: ArrayLike<number>, threshold: number): SupportEvaluation {
  const { logged, uniform } = scored(g, w);
  const a = auc([...logged.map(() => 1), ...uniform.map(() => 0)], [...logged, ...uniform]);
  const share = (xs: number[]) => xs.filter((z) => z < threshold).length / Math.max(xs.length, 1);
  const mean = (xs: number[]) => xs.reduce((s, z) => s + z, 0) / Math.max(xs.length, 1);
  return {
    tuples: logged.length,
    auc: Number.isFinite(a) ? a : null,
    logged_flagged: share(logged),
    uniform_flagged: share(uniform),
    mean_logged: mean(logged),
    mean_uniform: mean(uniform),
  };
}

/**
 * Fits the support model on the training tuples of `ds` (see the module doc) and scores it on
 * the validation tuples. Pure and seeded: the same data, vectors and options give the same model.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { fitSupportModel } from "./fit_support.ts";
 * // A logging policy that always shows "a" after "a": the model learns that "a" is on support.
 * const csv = "session_id,item_id,feedback\n" + Array.from({ length: 40 }, (_, s) =>
 *   `s${s},a,pos\ns${s},a,neg\ns${s},a,pos\ns${s},b${s % 2},neg\n`).join("");
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 2, minCount: 1, minStateLength: 1 });
 * const m = fitSupportModel(ds, { vectors: new Float32Array(ds.items.length * 2).fill(1), dim: 2 });
 * m.features.length === m.weights.length; // true
 * ```
 */
export function fitSupportModel(
  ds: Dataset,
  embeddings: SupportEmbeddings,
  options: FitSupportOptions = {},
): SupportModelData {
  const seed = options.seed ?? 0, l2 = options.l2 ?? 1;
  if (!(l2 >= 0 && Number.isFinite(l2))) {
    throw new RangeError(`Cannot fit the support model: l2 must be >= 0, got ${l2}`);
  }
  const counts = actionCounts(ds);
  const c = supportContext(
    embeddings.vectors,
    embeddings.dim,
    counts,
    ds.labels.length,
    ds.stateLength,
  );
  const sample = new Rng(deriveSeed(seed, "support:sample")).shuffle(Array.from(ds.train))
    .slice(0, options.maxTuples ?? 100_000);
  const fit = pairs(ds, sample, c, new Rng(deriveSeed(seed, "support:fit")));
  const features = supportFeatureNames(ds.labels);
  const { w, iterations } = fitLogistic(fit, features.length, l2);
  const held = ds.validation.length > 0
    ? pairs(ds, ds.validation, c, new Rng(deriveSeed(seed, "support:heldout")))
    : undefined;
  const threshold = quantileOf(scored(held ?? fit, w).logged, SUPPORT_FLAG_QUANTILE);
  return {
    format: SUPPORT_FORMAT,
    method: "logistic",
    labels: [...ds.labels],
    state_length: ds.stateLength,
    features,
    weights: [...w],
    l2,
    seed,
    item_counts: counts,
    threshold,
    train: { rows: fit.x.length, iterations },
    heldout: held ? evaluate(held, w, threshold) : null,
  };
}

/** Writes `support.json` into the checkpoint in `dir`, its sha256 in the checkpoint's marker. */
export async function saveSupportModel(dir: string, model: SupportModelData): Promise<void> {
  await updateCheckpointFile(dir, SUPPORT_FILE, JSON.stringify(model));
}
