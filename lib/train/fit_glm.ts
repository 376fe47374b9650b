/**
 * Fitting the structured user model (`glm_features.ts`) on a log's training tuples: P(positive)
 * by a ridge logistic regression and per-item biases (ridge-shrunk towards 0, so that an item
 * seen a few times keeps a bias near 0), fitted in turn (backfitting: the biases given the
 * weights by one Newton step each, then the weights given the biases as offsets); then each
 * label group's chain of splits. The validation tuples give its held-out AUC and log-loss.
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import type { Dataset } from "../data/dataset.ts";
import type { ItemFeatures } from "../data/item_features.ts";
import { auc, logLoss } from "../eval/metrics.ts";
import { updateCheckpointFile } from "./checkpoint.ts";
import { actionCounts, tupleQuestion } from "./fit_support.ts";
import { logistic } from "./leave_features.ts";
import { fitLogistic, type WeightedRows } from "./newton_logistic.ts";
import { itemClusters } from "./item_clusters.ts";
import {
  CLUSTER_COLUMN,
  GLM_FILE,
  GLM_FORMAT,
  glmCodes,
  type GlmContext,
  glmContext,
  type GlmEvaluation,
  glmFeatureNames,
  glmFeatures,
  type GlmModelData,
  glmProbs,
  type GlmSplit,
} from "./glm_features.ts";

/** Options of {@link fitGlmModel}. */
export interface FitGlmOptions {
  /** Root seed of the tuple sample. @default 0 */
  seed?: number;
  /** L2 penalty on every weight but the bias. @default 1 */
  l2?: number;
  /** L2 penalty on the per-item biases (a prior of variance 1 / itemL2). @default 3 */
  itemL2?: number;
  /** At most this many training tuples are fitted on (a seeded sample). @default 200000 */
  maxTuples?: number;
  /** Backfitting rounds of item biases and weights. @default 5 */
  rounds?: number;
  /**
   * Adds the taste block (3E features of the item2vec vectors: a diagonal bilinear match of the
   * candidate with the positive and the other pairs, and a linear item term). @default true
   */
  taste?: boolean;
  /**
   * K item2vec clusters read as one more category column (`lib/train/item_clusters.ts`).
   * @default 32 without item-feature columns, 0 with them
   */
  clusters?: number;
}

/** The item2vec vectors [V, E] the features use (a checkpoint's `embeddings.bin`). */
export interface GlmEmbeddings {
  vectors: Float32Array;
  dim: number;
}

/** The tuples' features, bias slots (V: the rare item) and labels. */
function tupleRows(ds: Dataset, tuples: ArrayLike<number>, c: GlmContext, width: number) {
  const V = ds.items.length;
  const x: Float64Array[] = [],
    slot = new Int32Array(tuples.length),
    label = new Int32Array(tuples.length);
  for (let i = 0; i < tuples.length; i++) {
    const r = tuples[i]!, a = ds.rowItem[r]!;
    x.push(glmFeatures(new Float64Array(width), tupleQuestion(ds, r, a), c));
    slot[i] = a < V ? a : V;
    label[i] = ds.rowLabel[r]!;
  }
  return { x, slot, label };
}

/** One label group's chain of splits, fitted on the group's tuples. */
function fitSplit(
  labels: number[],
  rows: { x: Float64Array[]; label: Int32Array },
  width: number,
  l2: number,
): GlmSplit {
  const weights: number[][] = [];
  for (let i = 0; i + 1 < labels.length; i++) {
    const g: WeightedRows = { x: [], rows: [], positives: [] };
    const rest = new Set(labels.slice(i));
    rows.x.forEach((x, n) => {
      const l = rows.label[n]!;
      if (!rest.has(l)) return;
      g.x.push(x), g.rows.push(1), g.positives.push(l === labels[i] ? 1 : 0);
    });
    weights.push(g.x.length > 0 ? [...fitLogistic(g, width, l2).w] : new Array(width).fill(0));
  }
  return { labels, weights };
}

/**
 * Fits the structured user model on the training tuples of `ds` (see the module doc) and scores
 * it on the validation tuples. Pure and seeded: the same data, vectors and options give the same
 * model.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { fitGlmModel } from "./fit_glm.ts";
 * // Users like "a" and dislike the b items, whatever else they saw.
 * const csv = "session_id,item_id,feedback\n" + Array.from({ length: 40 }, (_, s) =>
 *   `s${s},a,pos\ns${s},b${s % 2},neg\ns${s},a,pos\ns${s},b${s % 2},neg\n`).join("");
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 2, minCount: 1, minStateLength: 1 });
 * const m = fitGlmModel(ds, { vectors: new Float32Array(ds.items.length * 2).fill(1), dim: 2 });
 * m.item_bias[ds.itemIndex.get("a")!]! > m.item_bias[ds.itemIndex.get("b0")!]!; // true
 * ```
 */
export function fitGlmModel(
  ds: Dataset,
  embeddings: GlmEmbeddings,
  itemFeatures?: ItemFeatures,
  options: FitGlmOptions = {},
): GlmModelData {
  const seed = options.seed ?? 0, l2 = options.l2 ?? 1, itemL2 = options.itemL2 ?? 3;
  const rounds = options.rounds ?? 5;
  for (const [k, v] of Object.entries({ l2, itemL2 })) {
    if (!(v >= 0 && Number.isFinite(v))) {
      throw new RangeError(`Cannot fit the structured user model: ${k} must be >= 0, got ${v}`);
    }
  }
  const V = ds.items.length, columns = itemFeatures?.columns ?? [];
  const counts = actionCounts(ds);
  const K = options.clusters ?? (columns.length === 0 ? 32 : 0);
  const clusters = K > 0 ? itemClusters(embeddings.vectors, embeddings.dim, K, seed) : undefined;
  const c = glmContext(
    embeddings.vectors,
    embeddings.dim,
    counts,
    ds.positive,
    ds.stateLength,
    glmCodes(V, itemFeatures && { codes: itemFeatures.codes, columns: columns.length }, clusters),
    options.taste ?? true,
  );
  const tasteDim = (options.taste ?? true) ? embeddings.dim : 0;
  const read = [...columns, ...(clusters ? [CLUSTER_COLUMN] : [])];
  const features = glmFeatureNames(read, tasteDim), width = features.length;
  const sample = new Rng(deriveSeed(seed, "glm:sample")).shuffle(Array.from(ds.train))
    .slice(0, options.maxTuples ?? 200_000);
  const rows = tupleRows(ds, sample, c, width);
  const y = Array.from(rows.label, (l) => (ds.positive[l] ? 1 : 0));
  const g: WeightedRows = { x: rows.x, rows: y.map(() => 1), positives: y };
  let w = fitLogistic(g, width, l2).w;
  const bias = new Float64Array(V + 1);
  const offset = new Float64Array(rows.x.length);
  let hess = new Float64Array(V + 1);
  for (let round = 0; round < rounds; round++) {
    const grad = new Float64Array(V + 1);
    hess = new Float64Array(V + 1);
    rows.x.forEach((x, i) => {
      const j = rows.slot[i]!, p = logistic(w, x, bias[j]!);
      grad[j]! += y[i]! - p;
      hess[j]! += p * (1 - p);
    });
    for (let j = 0; j <= V; j++) bias[j]! += (grad[j]! - itemL2 * bias[j]!) / (hess[j]! + itemL2);
    rows.slot.forEach((j, i) => (offset[i] = bias[j]!));
    w = fitLogistic(g, width, l2, { offset, start: w, maxIterations: 3 }).w;
  }
  const group = (flag: boolean) => ds.positive.flatMap((p, k) => (p === flag ? [k] : []));
  const model: GlmModelData = {
    format: GLM_FORMAT,
    method: "logistic-glm",
    labels: [...ds.labels],
    positive: [...ds.positive],
    state_length: ds.stateLength,
    columns: [...columns],
    features,
    weights: [...w],
    item_bias: [...bias],
    // The biases' posterior sd (Laplace: 1 / √(Σ p(1 − p) + item_l2) at the last round).
    item_bias_sd: Array.from(hess, (h) => 1 / Math.sqrt(h + itemL2)),
    splits: {
      positive: fitSplit(group(true), rows, width, l2),
      negative: fitSplit(group(false), rows, width, l2),
    },
    l2,
    item_l2: itemL2,
    seed,
    item_counts: counts,
    ...(tasteDim > 0 ? { taste_dim: tasteDim } : {}),
    ...(clusters ? { clusters: [...clusters] } : {}),
    train: { rows: rows.x.length, rounds },
    heldout: null,
  };
  model.heldout = ds.validation.length > 0 ? evaluate(ds, model, c) : null;
  return model;
}

/** The held-out figures of `model` on the validation tuples. */
function evaluate(ds: Dataset, m: GlmModelData, c: GlmContext): GlmEvaluation {
  const K = ds.labels.length;
  const rows = tupleRows(ds, ds.validation, c, m.features.length);
  const probs = new Float64Array(rows.x.length * K), pos: number[] = [], isPos: number[] = [];
  const out = new Float64Array(K);
  rows.x.forEach((x, i) => {
    glmProbs(m.weights, m.splits, x, m.item_bias[rows.slot[i]!]!, out);
    probs.set(out, i * K);
    pos.push(out.reduce((s, p, k) => s + (ds.positive[k] ? p : 0), 0));
    isPos.push(ds.positive[rows.label[i]!] ? 1 : 0);
  });
  // The base rates: the training tuples' label shares.
  const share = new Float64Array(K);
  for (const r of ds.train) share[ds.rowLabel[r]!]! += 1 / ds.train.length;
  const base = new Float64Array(rows.x.length * K);
  for (let i = 0; i < rows.x.length; i++) base.set(share, i * K);
  const a = auc(isPos, pos);
  return {
    tuples: rows.x.length,
    auc: Number.isFinite(a) ? a : null,
    log_loss: logLoss(probs, K, rows.label),
    base_log_loss: logLoss(base, K, rows.label),
  };
}

/** Writes `glm.json` into the checkpoint in `dir`, its sha256 in the checkpoint's marker. */
export async function saveGlmModel(dir: string, model: GlmModelData): Promise<void> {
  await updateCheckpointFile(dir, GLM_FILE, JSON.stringify(model));
}
