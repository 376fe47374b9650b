/**
 * The support model's features and its stored form (`support.json` in a checkpoint): how much
 * likelier the LOGGING policy was to show item a in state s than a uniform draw from the
 * vocabulary. A logistic regression is fitted (`fit_support.ts`) to tell the logged (state,
 * action) pairs from the same states with a uniformly drawn item, one of each, so its logit
 * estimates the log density ratio ln π_log(a | s) − ln(1 / V): 0 where the logging policy
 * was as likely as chance to show a, negative where it would rarely have. The simulator's
 * answers are learned from what the logging policy showed; off its support they are
 * extrapolation (on the truth worlds, that is where they are most wrong, docs/fidelity.md).
 *
 * For candidate a and the up to N (item, feedback) pairs of the state, with c the cosine of
 * the two items' item2vec vectors (0 where an item has none: rare or unknown):
 *
 *   bias            1
 *   log_count       ln(1 + n_a) / ln(1 + max n), n_a the item's training rows (0: rare, unknown)
 *   log_count_sq    its square
 *   in_state        1 when a is one of the state's items
 *   cos_mean        mean of c(a, state item) over the state (0 for an empty state)
 *   cos_max         the largest of them (0 for an empty state)
 *   cos_<label>     Σ c over the state's items with the label / (their count + 1), per label
 *   cos_last<j>     c to the j-th newest state item, j = 1 … 3 (0 where absent)
 *   state_length    the state's pairs / N
 * @module
 */
import { CheckpointError } from "../errors.ts";

/** The checkpoint file that holds the support model. */
export const SUPPORT_FILE = "support.json";
/** Format of `support.json`; a different one is refused. */
export const SUPPORT_FORMAT = 1;
/** Cosines to this many of the newest state items are features of their own. */
export const SUPPORT_RECENT = 3;
/** Share of logged validation pairs below the off-support threshold. */
export const SUPPORT_FLAG_QUANTILE = 0.05;

/**
 * The support model's feature names, in weight order.
 *
 * @example
 * ```ts
 * import { supportFeatureNames } from "./support_features.ts";
 * supportFeatureNames(["skip", "click"]).length; // 13
 * ```
 */
export function supportFeatureNames(labels: readonly string[]): string[] {
  return [
    "bias",
    "log_count",
    "log_count_sq",
    "in_state",
    "cos_mean",
    "cos_max",
    ...labels.map((l) => `cos_${l}`),
    ...Array.from({ length: SUPPORT_RECENT }, (_, j) => `cos_last${j + 1}`),
    "state_length",
  ];
}

/** What the features are computed from: the vocabulary's vectors and counts. */
export interface SupportContext {
  /** The item2vec vectors, row-major [V, E] (the caller's array, not a copy). */
  vectors: Float32Array;
  /** 1 / |vector| per item (0 for a zero vector: it has no cosine to anything). */
  invNorm: Float32Array;
  /** Vector length E. */
  dim: number;
  /** Training rows per vocabulary item. */
  counts: ArrayLike<number>;
  /** ln(1 + the largest count), the log count's scale. */
  logMax: number;
  /** Number of feedback labels K. */
  labels: number;
  /** State length N. */
  stateLength: number;
}

/**
 * One support question: the state's item indices (−1: no vocabulary item) and feedback classes,
 * oldest first, at most N of them, and the candidate's index (−1: rare or unknown).
 */
export interface SupportQuestion {
  items: ArrayLike<number>;
  feedback: ArrayLike<number>;
  candidate: number;
}

/**
 * A support context from a checkpoint's item2vec vectors [V, E] and per-item training counts.
 * It keeps `vectors` (no copy: at a million items that would be another 80 MB) and their norms.
 *
 * @example
 * ```ts
 * import { supportContext } from "./support_features.ts";
 * const c = supportContext(Float32Array.of(3, 4, 0, 0), 2, [9, 1], 2, 5);
 * [...c.invNorm]; // [0.2, 0]: 1 / 5, and a zero vector has no cosine
 * ```
 */
export function supportContext(
  vectors: Float32Array,
  dim: number,
  counts: ArrayLike<number>,
  labels: number,
  stateLength: number,
): SupportContext {
  const invNorm = inverseNorms(vectors, dim);
  let max = 0;
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]!);
  return { vectors, invNorm, dim, counts, logMax: Math.log1p(max) || 1, labels, stateLength };
}

/** 1 / |vector| of each row of `vectors` [V, dim] (0 for a zero vector: no cosine to anything). */
export function inverseNorms(vectors: Float32Array, dim: number): Float32Array {
  const invNorm = new Float32Array(Math.floor(vectors.length / dim));
  for (let i = 0; i < invNorm.length; i++) {
    let s = 0;
    for (let e = 0; e < dim; e++) s += vectors[i * dim + e]! ** 2;
    invNorm[i] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  return invNorm;
}

/**
 * The cosine of items a and b (vocabulary indices) from their vectors and
 * {@link inverseNorms}: what the support and structured models' features compare items by.
 *
 * @example
 * ```ts
 * import { inverseNorms, itemCosine } from "./support_features.ts";
 * const v = Float32Array.of(3, 4, 1, 0);
 * itemCosine(v, inverseNorms(v, 2), 2, 0, 1).toFixed(3); // "0.600"
 * ```
 */
export function itemCosine(
  vectors: Float32Array,
  invNorm: Float32Array,
  dim: number,
  a: number,
  b: number,
): number {
  let cos = 0;
  for (let e = 0; e < dim; e++) cos += vectors[a * dim + e]! * vectors[b * dim + e]!;
  return cos * (invNorm[a]! * invNorm[b]!);
}

/**
 * Writes the features of question `q` (see the module doc) into `out` and returns it.
 *
 * @example
 * ```ts
 * import { supportContext, supportFeatures, supportFeatureNames } from "./support_features.ts";
 * const c = supportContext(Float32Array.of(1, 0, 0, 1), 2, [3, 0], 2, 4);
 * const x = supportFeatures(new Float64Array(supportFeatureNames(["neg", "pos"]).length), {
 *   items: [1, 0], feedback: [0, 1], candidate: 0,
 * }, c);
 * [x[1], x[3], x[4], x[5]]; // [1, 1, 0.5, 1]: most frequent item, in the state, cosines 0 and 1
 * ```
 */
export function supportFeatures(
  out: Float64Array,
  q: SupportQuestion,
  c: SupportContext,
): Float64Array {
  const K = c.labels, E = c.dim, L = q.items.length;
  out.fill(0);
  const a = q.candidate;
  const lc = a >= 0 ? Math.log1p(c.counts[a] ?? 0) / c.logMax : 0;
  out[0] = 1;
  out[1] = lc;
  out[2] = lc * lc;
  const byLabel = new Float64Array(K), perLabel = new Float64Array(K);
  let sum = 0, max = L > 0 ? -Infinity : 0;
  for (let t = 0; t < L; t++) {
    const it = q.items[t]!;
    if (it === a && a >= 0) out[3] = 1;
    const cos = a >= 0 && it >= 0 ? itemCosine(c.vectors, c.invNorm, E, a, it) : 0;
    sum += cos;
    max = Math.max(max, cos);
    byLabel[q.feedback[t]!]! += cos;
    perLabel[q.feedback[t]!]!++;
    const back = L - 1 - t;
    if (back < SUPPORT_RECENT) out[6 + K + back] = cos;
  }
  out[4] = L > 0 ? sum / L : 0;
  out[5] = max;
  for (let k = 0; k < K; k++) out[6 + k] = byLabel[k]! / (perLabel[k]! + 1);
  out[6 + K + SUPPORT_RECENT] = L / c.stateLength;
  return out;
}

/** How well the support model tells logged pairs from uniformly drawn ones, held out. */
export interface SupportEvaluation {
  /** Held-out (validation) tuples, each scored with its logged and one uniform item. */
  tuples: number;
  /** AUC of the logit for logged (positive) vs uniformly drawn items; null when undefined. */
  auc: number | null;
  /** Share of the logged pairs below the threshold (about {@link SUPPORT_FLAG_QUANTILE}). */
  logged_flagged: number;
  /** Share of the uniformly drawn pairs below the threshold. */
  uniform_flagged: number;
  /** Mean logit of the logged pairs and of the uniform ones. */
  mean_logged: number;
  mean_uniform: number;
}

/** `support.json`: the fitted support model. */
export interface SupportModelData {
  format: number;
  method: "logistic";
  labels: string[];
  state_length: number;
  features: string[];
  weights: number[];
  l2: number;
  seed: number;
  /** Training rows per vocabulary item, in vocabulary order (the log count's input). */
  item_counts: number[];
  /**
   * `ood.off_support` is set below this logit: the {@link SUPPORT_FLAG_QUANTILE} quantile of
   * the logged held-out pairs' logits (of the fitting pairs' without held-out tuples).
   */
  threshold: number;
  train: { rows: number; iterations: number };
  heldout: SupportEvaluation | null;
}

/**
 * The support logit of features `x` under `weights`: the estimated ln π_log(a | s) − ln(1/V).
 *
 * @example
 * ```ts
 * import { supportLogit } from "./support_features.ts";
 * supportLogit([0.5, 2], Float64Array.of(1, 0.25)); // 1
 * ```
 */
export function supportLogit(weights: ArrayLike<number>, x: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < x.length; i++) z += weights[i]! * x[i]!;
  return z;
}

/**
 * Checks a parsed `support.json` against the model it belongs to (its labels, state length and
 * vocabulary size); throws {@link CheckpointError} naming the file and the field.
 */
export function checkSupportModel(
  data: unknown,
  file: string,
  expect: { labels: readonly string[]; stateLength: number; items: number },
): SupportModelData {
  const bad = (field: string, why: string): never => {
    throw new CheckpointError(`"${file}": ${field} ${why}`);
  };
  if (typeof data !== "object" || data === null) bad("(top level)", "must be an object");
  const d = data as Record<string, unknown>;
  if (d.format !== SUPPORT_FORMAT) bad("format", `must be ${SUPPORT_FORMAT}, got ${d.format}`);
  const names = supportFeatureNames(expect.labels);
  const numbers = (field: string, n: number) => {
    const v = d[field];
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => Number.isFinite(x))) {
      bad(field, `must be ${n} finite numbers`);
    }
  };
  if (JSON.stringify(d.labels) !== JSON.stringify(expect.labels)) {
    bad("labels", `must be the model's labels ${JSON.stringify(expect.labels)}`);
  }
  if (d.state_length !== expect.stateLength) {
    bad("state_length", `must be the model's state length ${expect.stateLength}`);
  }
  if (JSON.stringify(d.features) !== JSON.stringify(names)) {
    bad("features", `must be ${JSON.stringify(names)}`);
  }
  numbers("weights", names.length);
  numbers("item_counts", expect.items);
  if (!Number.isFinite(d.threshold)) bad("threshold", "must be a finite number");
  return d as unknown as SupportModelData;
}
