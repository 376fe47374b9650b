/**
 * The structured user model (`glm.json` in a checkpoint, `--user-model glm`): a logistic
 * regression on fixed features of how the candidate relates to the state, plus a shrunk
 * per-item bias, fitted on the log's training tuples (`fit_glm.ts`). It answers from a few
 * hundred weights where the discriminator has a network, so it cannot learn much that the
 * features do not say; on the truth worlds that is what keeps it calibrated on the items and
 * states a logging policy rarely showed (docs/fidelity.md).
 *
 * P(positive | s, a) = σ(w · x(s, a) + b_a); each group of labels (the positive ones, the
 * others) with more than one label is split by a chain of logistic regressions on the same
 * features: P(g_1 | group) = σ(v_1 · x), P(g_2 | group, not g_1) = σ(v_2 · x), … , the last
 * label taking what is left.
 *
 * Features, for candidate a and the state's last N (item, feedback) pairs (c: the cosine of two
 * items' item2vec vectors, 0 where one has none; "positive" means a positive label):
 *
 *   bias, log_count, log_count_sq  1; ln(1 + n_a) − its mean over the vocabulary; its square
 *   unknown_item                   1 for a rare or unseen candidate
 *   in_state, in_state_positive    a is in the state; a is in it with a positive label
 *   state_length, positive_share   pairs / N; positive pairs / (pairs + 1)
 *   cos_positive_mean, cos_negative_mean   Σ c over positive (other) pairs / (their count + 1)
 *   cos_positive_max               the largest c to a positive pair (0 without one)
 *   cos_last, cos_last_positive    c to the newest pair; the same when that pair is positive
 *   similar_run                    newest pairs in a row with c > 0.6, at most 6, / 6
 *   cos_positive_recent, cos_negative_recent  Σ 0.7^age · c over positive (other) pairs / 3
 *
 * and per categorical item-feature column (`--item-features`; "same" means the pair's item has
 * the candidate's value, never for an unknown value):
 *
 *   <col>:positive_share, <col>:negative_share   same positive (other) pairs / (their count + 1)
 *   <col>:any_positive                           1 when one positive pair is same
 *   <col>:run, <col>:run_sq, <col>:run_positive  newest pairs in a row that are same (at most
 *                                                10) / 6, its square, the positive ones among them / 6
 *   <col>:last_positive, <col>:last_negative     the newest pair is same and positive (other)
 *   <col>:negative_recent, <col>:positive_recent Σ 0.5^age over same other (positive) pairs
 *   <col>:negative_slow, <col>:positive_slow     Σ 0.9^age over them / 5
 *
 * and, with the taste block (`taste_dim` E in `glm.json`), per item2vec dimension e (u: an
 * item's unit vector; ū⁺, ū⁻: the sums of the positive (other) pairs' unit vectors / (their
 * count + 1)), a diagonal bilinear match and a linear item term:
 *
 *   taste:positive_e, taste:negative_e, taste:item_e   u_a,e · ū⁺_e; u_a,e · ū⁻_e; u_a,e
 *
 * Without a catalogue the fit clusters the item2vec vectors (`item_clusters.ts`; `clusters` in
 * glm.json) and reads the clusters as one more category column, `item2vec_cluster`.
 * @module
 */
import { CheckpointError } from "../errors.ts";
import { logistic } from "./leave_features.ts";
import { inverseNorms, itemCosine } from "./support_features.ts";

/** The checkpoint file that holds the structured user model. */
export const GLM_FILE = "glm.json";
/** Format of `glm.json`; a different one is refused. */
export const GLM_FORMAT = 1;
/** The column of item2vec clusters (`clusters` in glm.json), after the catalogue's columns. */
export const CLUSTER_COLUMN = "item2vec_cluster";

/**
 * The item codes [V + 2, F] the features read: the catalogue's columns, then the clusters'
 * (when given); rows V (padding) and V + 1 (rare) are 0. Undefined when there are neither.
 */
export function glmCodes(
  V: number,
  itemCodes?: { codes: Int32Array; columns: number },
  clusters?: ArrayLike<number>,
): { codes: Int32Array; columns: number } | undefined {
  const F0 = itemCodes?.columns ?? 0, F = F0 + (clusters ? 1 : 0);
  if (F === 0) return undefined;
  if (!clusters) return itemCodes;
  const codes = new Int32Array((V + 2) * F);
  for (let i = 0; i < V; i++) {
    for (let j = 0; j < F0; j++) codes[i * F + j] = itemCodes!.codes[i * F0 + j]!;
    codes[i * F + F0] = clusters[i]!;
  }
  return { codes, columns: F };
}

/** Cosine above which a state item counts as similar for `similar_run`. */
const SIMILAR = 0.6;

const BASE_FEATURES = [
  "bias",
  "log_count",
  "log_count_sq",
  "unknown_item",
  "in_state",
  "in_state_positive",
  "state_length",
  "positive_share",
  "cos_positive_mean",
  "cos_negative_mean",
  "cos_positive_max",
  "cos_last",
  "cos_last_positive",
  "similar_run",
  "cos_positive_recent",
  "cos_negative_recent",
] as const;
const COLUMN_FEATURES = [
  "positive_share",
  "negative_share",
  "any_positive",
  "run",
  "run_sq",
  "run_positive",
  "last_positive",
  "last_negative",
  "negative_recent",
  "positive_recent",
  "negative_slow",
  "positive_slow",
] as const;

/**
 * The feature names, in weight order, for the item-feature columns `columns`.
 *
 * @example
 * ```ts
 * import { glmFeatureNames } from "./glm_features.ts";
 * glmFeatureNames([]).length; // 16
 * glmFeatureNames(["genre"])[16]; // "genre:positive_share"
 * ```
 */
export function glmFeatureNames(columns: readonly string[], tasteDim = 0): string[] {
  const taste = ["positive", "negative", "item"].flatMap((f) =>
    Array.from({ length: tasteDim }, (_, e) => `taste:${f}_${e}`)
  );
  return [
    ...BASE_FEATURES,
    ...columns.flatMap((c) => COLUMN_FEATURES.map((f) => `${c}:${f}`)),
    ...taste,
  ];
}

/** What the features are computed from. */
export interface GlmContext {
  /** The item2vec vectors, row-major [V, E] (the caller's array, not a copy). */
  vectors: Float32Array;
  /** 1 / |vector| per item (0 for a zero vector). */
  invNorm: Float32Array;
  /** Vector length E. */
  dim: number;
  /** ln(1 + n_i) − its vocabulary mean, per item. */
  logCount: Float64Array;
  /** Whether each label is positive. */
  positive: readonly boolean[];
  /** State length N. */
  stateLength: number;
  /** Item-feature codes [V + 2, F] row-major (0: unknown value), or none. */
  codes?: Int32Array;
  /** Item-feature columns F (0 without codes). */
  columns: number;
  /** Whether the taste block (3E features after the columns') is computed. */
  taste: boolean;
}

/**
 * One question: the state's item indices (−1: no vocabulary item) and feedback classes, oldest
 * first (only the last N are read), and the candidate's index (−1: rare or unknown).
 */
export interface GlmQuestion {
  items: ArrayLike<number>;
  feedback: ArrayLike<number>;
  candidate: number;
}

/**
 * A context from item2vec vectors [V, E], per-item training counts, the labels' positive flags
 * and optional item-feature codes [V + 2, F].
 *
 * @example
 * ```ts
 * import { glmContext } from "./glm_features.ts";
 * const c = glmContext(Float32Array.of(3, 4, 0, 0), 2, [0, 0], [false, true], 5);
 * [...c.invNorm]; // [0.2, 0]
 * ```
 */
export function glmContext(
  vectors: Float32Array,
  dim: number,
  counts: ArrayLike<number>,
  positive: readonly boolean[],
  stateLength: number,
  codes?: { codes: Int32Array; columns: number },
  taste = false,
): GlmContext {
  const invNorm = inverseNorms(vectors, dim), V = invNorm.length;
  const logCount = new Float64Array(V);
  let mean = 0;
  for (let i = 0; i < V; i++) mean += (logCount[i] = Math.log1p(counts[i] ?? 0)) / Math.max(V, 1);
  for (let i = 0; i < V; i++) logCount[i]! -= mean;
  return {
    vectors,
    invNorm,
    dim,
    logCount,
    positive,
    stateLength,
    ...(codes && codes.columns > 0 ? { codes: codes.codes } : {}),
    columns: codes?.columns ?? 0,
    taste,
  };
}

/**
 * Writes the features of question `q` (see the module doc) into `out` and returns it.
 *
 * @example
 * ```ts
 * import { glmContext, glmFeatureNames, glmFeatures } from "./glm_features.ts";
 * // Items 0 and 1 point the same way; the user clicked item 1 last.
 * const c = glmContext(Float32Array.of(1, 0, 2, 0), 2, [4, 4], [false, true], 5);
 * const x = glmFeatures(new Float64Array(glmFeatureNames([]).length), {
 *   items: [1], feedback: [1], candidate: 0,
 * }, c);
 * [x[7], x[8], x[11], x[12], x[13]]; // [0.5, 0.5, 1, 1, 1/6]
 * ```
 */
export function glmFeatures(out: Float64Array, q: GlmQuestion, c: GlmContext): Float64Array {
  out.fill(0);
  const N = c.stateLength, E = c.dim, a = q.candidate;
  const from = Math.max(0, q.items.length - N), L = q.items.length - from;
  out[0] = 1;
  if (a >= 0) {
    out[1] = c.logCount[a]!;
    out[2] = out[1] * out[1];
  } else out[3] = 1;
  let pos = 0, neg = 0, cosPos = 0, cosNeg = 0, maxPos = -Infinity, recentPos = 0, recentNeg = 0;
  let run = 0, running = true;
  for (let t = q.items.length - 1, w = 1; t >= from; t--, w *= 0.7) {
    const it = q.items[t]!, positive = c.positive[q.feedback[t]!] === true;
    if (it === a && a >= 0) {
      out[4] = 1;
      if (positive) out[5] = 1;
    }
    const cos = a >= 0 && it >= 0 ? itemCosine(c.vectors, c.invNorm, E, a, it) : 0;
    if (positive) (pos++, cosPos += cos, maxPos = Math.max(maxPos, cos), recentPos += w * cos);
    else (neg++, cosNeg += cos, recentNeg += w * cos);
    if (t === q.items.length - 1) (out[11] = cos, out[12] = positive ? cos : 0);
    if (running && cos > SIMILAR && run < 6) run++;
    else running = false;
  }
  out[6] = L / N;
  out[7] = pos / (L + 1);
  out[8] = cosPos / (pos + 1);
  out[9] = cosNeg / (neg + 1);
  out[10] = pos > 0 ? maxPos : 0;
  out[13] = run / 6;
  out[14] = recentPos / 3;
  out[15] = recentNeg / 3;
  if (c.codes) columnFeatures(out, q, c, from);
  if (c.taste && a >= 0) tasteFeatures(out, q, c, from);
  return out;
}

/** The taste block of {@link glmFeatures} (a known candidate only; zeros otherwise). */
function tasteFeatures(out: Float64Array, q: GlmQuestion, c: GlmContext, from: number): void {
  const E = c.dim, a = q.candidate, v = c.vectors;
  const o = BASE_FEATURES.length + c.columns * COLUMN_FEATURES.length;
  const sumPos = new Float64Array(E), sumNeg = new Float64Array(E);
  let pos = 0, neg = 0;
  for (let t = from; t < q.items.length; t++) {
    const it = q.items[t]!;
    const positive = c.positive[q.feedback[t]!] === true;
    if (positive) pos++;
    else neg++;
    if (it < 0) continue;
    const s = c.invNorm[it]!, sum = positive ? sumPos : sumNeg;
    for (let e = 0; e < E; e++) sum[e]! += v[it * E + e]! * s;
  }
  // Scaled by E (the products) and √E (the item term) to about unit size, as the ridge
  // penalty assumes: a unit vector's coordinates are ~1/√E.
  const sa = c.invNorm[a]!, root = Math.sqrt(E);
  for (let e = 0; e < E; e++) {
    const u = v[a * E + e]! * sa * root;
    out[o + e] = u * root * sumPos[e]! / (pos + 1);
    out[o + E + e] = u * root * sumNeg[e]! / (neg + 1);
    out[o + 2 * E + e] = u;
  }
}

/** The per-column block of {@link glmFeatures}. */
function columnFeatures(out: Float64Array, q: GlmQuestion, c: GlmContext, from: number): void {
  const F = c.columns, codes = c.codes!, a = q.candidate, newest = q.items.length - 1;
  for (let j = 0; j < F; j++) {
    const o = BASE_FEATURES.length + j * COLUMN_FEATURES.length;
    const value = a >= 0 ? codes[a * F + j]! : 0;
    if (value === 0) continue; // an unknown value matches nothing
    let pos = 0, neg = 0, samePos = 0, sameNeg = 0, run = 0, runPos = 0, running = true;
    let recentNeg = 0, recentPos = 0, slowNeg = 0, slowPos = 0;
    for (let t = newest, w = 1, ws = 1; t >= from; t--, w *= 0.5, ws *= 0.9) {
      const it = q.items[t]!, positive = c.positive[q.feedback[t]!] === true;
      const same = it >= 0 && codes[it * F + j] === value;
      if (positive) pos++;
      else neg++;
      if (same) {
        if (positive) (samePos++, recentPos += w, slowPos += ws);
        else (sameNeg++, recentNeg += w, slowNeg += ws);
        if (t === newest) out[o + (positive ? 6 : 7)] = 1;
      }
      if (running && same && run < 10) (run++, runPos += positive ? 1 : 0);
      else running = false;
    }
    out[o] = samePos / (pos + 1);
    out[o + 1] = sameNeg / (neg + 1);
    out[o + 2] = samePos > 0 ? 1 : 0;
    out[o + 3] = run / 6;
    out[o + 4] = (run / 6) ** 2;
    out[o + 5] = runPos / 6;
    out[o + 8] = recentNeg;
    out[o + 9] = recentPos;
    out[o + 10] = slowNeg / 5;
    out[o + 11] = slowPos / 5;
  }
}

/** One label group's split: its labels, in label order, and the chain's weight vectors. */
export interface GlmSplit {
  /** The group's label indices; `weights[i]` gives P(labels[i] | group, none of labels[< i]). */
  labels: number[];
  weights: number[][];
}

/** How well the model answers the held-out (validation) tuples. */
export interface GlmEvaluation {
  tuples: number;
  /** AUC of P(positive); null when undefined (one class only). */
  auc: number | null;
  /** Multiclass log-loss, and that of the training tuples' label shares. */
  log_loss: number;
  base_log_loss: number;
}

/** `glm.json`: the fitted structured user model. */
export interface GlmModelData {
  format: number;
  method: "logistic-glm";
  labels: string[];
  positive: boolean[];
  state_length: number;
  /** The item-feature columns used (the checkpoint's `item_features.json` columns). */
  columns: string[];
  features: string[];
  /** Weights of P(positive). */
  weights: number[];
  /** Per vocabulary item its bias on the P(positive) logit; then the rare item's. */
  item_bias: number[];
  /**
   * The biases' approximate posterior standard deviations, in the same order (the Laplace
   * approximation of the ridge fit: 1 / √(Σ p(1 − p) + item_l2)); absent in older files.
   */
  item_bias_sd?: number[];
  /** The positive labels' split, then the others'; a group of one label has no weights. */
  splits: { positive: GlmSplit; negative: GlmSplit };
  l2: number;
  item_l2: number;
  seed: number;
  /** Training rows per vocabulary item, in vocabulary order (the log count's input). */
  item_counts: number[];
  /** E when the taste block is in the features; 0 (or absent, in older files) when not. */
  taste_dim?: number;
  /**
   * Per vocabulary item its item2vec cluster code (1..K, 0 for no vector), read as one more
   * category column ({@link CLUSTER_COLUMN}) after `columns`; absent when not used.
   */
  clusters?: number[];
  train: { rows: number; rounds: number };
  heldout: GlmEvaluation | null;
}

/**
 * The label probabilities of features `x` (candidate bias `bias`) into `out` (length K).
 *
 * @example
 * ```ts
 * import { glmProbs } from "./glm_features.ts";
 * const splits = {
 *   positive: { labels: [1, 2], weights: [[0]] }, // click vs purchase: even odds
 *   negative: { labels: [0], weights: [] },
 * };
 * glmProbs([0], splits, Float64Array.of(1), 0, new Float64Array(3)); // [0.5, 0.25, 0.25]
 * ```
 */
export function glmProbs(
  weights: ArrayLike<number>,
  splits: { positive: GlmSplit; negative: GlmSplit },
  x: ArrayLike<number>,
  bias: number,
  out: Float64Array,
): Float64Array {
  const p = logistic(weights, x, bias);
  for (const [split, mass] of [[splits.positive, p], [splits.negative, 1 - p]] as const) {
    let left = mass;
    const n = split.labels.length;
    for (let i = 0; i < n; i++) {
      const share = i < n - 1 ? left * logistic(split.weights[i]!, x) : left;
      out[split.labels[i]!] = share;
      left -= share;
    }
  }
  return out;
}

/**
 * Checks a parsed `glm.json` against the model it belongs to (labels, positive flags, state
 * length, vocabulary size, item-feature columns); throws {@link CheckpointError} naming the
 * file and the field.
 */
export function checkGlmModel(
  data: unknown,
  file: string,
  expect: {
    labels: readonly string[];
    positive: readonly boolean[];
    stateLength: number;
    items: number;
    columns: readonly string[];
    /** The item2vec vectors' length E (the taste block's size). */
    dim: number;
  },
): GlmModelData {
  const bad = (field: string, why: string): never => {
    throw new CheckpointError(`"${file}": ${field} ${why}`);
  };
  if (typeof data !== "object" || data === null) bad("(top level)", "must be an object");
  const d = data as Record<string, unknown>;
  if (d.format !== GLM_FORMAT) bad("format", `must be ${GLM_FORMAT}, got ${d.format}`);
  const same = (field: string, want: unknown, what: string) => {
    if (JSON.stringify(d[field]) !== JSON.stringify(want)) {
      bad(field, `must be ${what} ${JSON.stringify(want)}`);
    }
  };
  same("labels", expect.labels, "the model's labels");
  same("positive", expect.positive, "the model's positive flags");
  same("state_length", expect.stateLength, "the model's state length");
  same("columns", expect.columns, "the checkpoint's item-feature columns");
  const taste = d.taste_dim ?? 0;
  if (taste !== 0 && taste !== expect.dim) {
    bad("taste_dim", `must be 0 or the item vectors' length ${expect.dim}, got ${taste}`);
  }
  if (d.clusters !== undefined) {
    const c = d.clusters;
    if (
      !Array.isArray(c) || c.length !== expect.items ||
      !c.every((x) => Number.isInteger(x) && x >= 0)
    ) {
      bad("clusters", `must be ${expect.items} integers >= 0`);
    }
  }
  const columns = [...expect.columns, ...(d.clusters !== undefined ? [CLUSTER_COLUMN] : [])];
  const names = glmFeatureNames(columns, taste as number);
  same("features", names, "");
  const numbers = (v: unknown, n: number, field: string) => {
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => Number.isFinite(x))) {
      bad(field, `must be ${n} finite numbers`);
    }
  };
  numbers(d.weights, names.length, "weights");
  numbers(d.item_bias, expect.items + 1, "item_bias");
  if (d.item_bias_sd !== undefined) {
    numbers(d.item_bias_sd, expect.items + 1, "item_bias_sd");
    if ((d.item_bias_sd as number[]).some((x) => x < 0)) bad("item_bias_sd", "must be >= 0");
  }
  numbers(d.item_counts, expect.items, "item_counts");
  const splits = d.splits as Record<string, GlmSplit> | undefined;
  const groups = { positive: true, negative: false };
  for (const [g, flag] of Object.entries(groups)) {
    const s = splits?.[g];
    const want = expect.positive.flatMap((p, k) => (p === flag ? [k] : []));
    if (!s || JSON.stringify(s.labels) !== JSON.stringify(want)) {
      bad(`splits.${g}.labels`, `must be ${JSON.stringify(want)}`);
    }
    if (!Array.isArray(s!.weights) || s!.weights.length !== Math.max(want.length - 1, 0)) {
      bad(`splits.${g}.weights`, `must hold ${Math.max(want.length - 1, 0)} weight vectors`);
    }
    s!.weights.forEach((w, i) => numbers(w, names.length, `splits.${g}.weights[${i}]`));
  }
  return d as unknown as GlmModelData;
}
