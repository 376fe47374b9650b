/**
 * Feedback-prediction metrics of a trained discriminator on a set of tuples, of a baseline's
 * prediction, and of the simple item baselines computed on the same tuples.
 * @module
 */
import { batchIndices, disposeBatch, toTensors } from "../data/batches.ts";
import type { Dataset } from "../data/dataset.ts";
import { discriminatorProbs, type RecSimuModel } from "../../models/recsimu.ts";
import type { FeedbackPrediction } from "../../models/baselines/common.ts";
import { auc, binaryStats, expectedCalibrationError, logLoss, perClassStats } from "./metrics.ts";
import {
  calibrateScale,
  type CalibrationComparison,
  type CalibrationMap,
  type CalibrationMetrics,
  fitTemperature,
  fitTemperatureBias,
  IDENTITY_CALIBRATION,
  logitsOfProbs,
  type ModelCalibration,
} from "./calibration.ts";

/**
 * Metrics of one scorer on one tuple set.
 *
 * @example
 * ```ts
 * import type { FeedbackMetrics } from "@recsimu/recsimu";
 *
 * function line(m: FeedbackMetrics): string {
 *   return `n=${m.n} f1=${m.f1.toFixed(3)} auc=${m.auc.toFixed(3)}`;
 * }
 * const m = { n: 100, positiveRate: 0.3, f1: 0.5, precision: 0.5, recall: 0.5, accuracy: 0.7 };
 * line({ ...m, auc: 0.75, logLoss: 0.6 }); // "n=100 f1=0.500 auc=0.750"
 * ```
 */
export interface FeedbackMetrics {
  /** Number of tuples. */
  n: number;
  /** Share of tuples with a positive label. */
  positiveRate: number;
  /** F1 of the positive class (argmax over the K real classes). */
  f1: number;
  precision: number;
  recall: number;
  accuracy: number;
  /** ROC AUC of P(positive label), softmax restricted to the real classes. */
  auc: number;
  /** ROC AUC of the unrestricted probability mass on positive real classes (the reference's score). */
  aucJoint?: number;
  /**
   * Mean negative log-likelihood of the true class (restricted softmax over the K labels; for a
   * scorer that predicts only P(positive), such as item_rate, over positive vs rest).
   */
  logLoss: number;
  /**
   * Binary log-loss of P(positive) against positive vs rest: the one log-loss every scorer has,
   * so rows compare like with like (with K > 2 labels `logLoss` of RecSimu is over K classes).
   */
  posLogLoss?: number;
  /** Mean probability that a real pair is real, D(s, a). */
  meanReal?: number;
  /** Per-label precision / recall / F1 / support. */
  perClass?: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

/** D's probabilities [n, K + F] for the tuples whose action rows are `rows`. */
export async function predictTuples(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  batch = 4096,
): Promise<Float32Array> {
  const width = m.shape.classes + m.shape.fakeClasses;
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i += batch) {
    const b = toTensors(batchIndices(ds, rows.subarray(i, i + batch)), m.table, ds.stateLength);
    const p = discriminatorProbs(m, b);
    out.set(await p.data() as Float32Array, i * width);
    p.dispose();
    disposeBatch(b);
  }
  return out;
}

/**
 * The `q`-quantile of D's real score (its real classes' mass, the heads' mean) over the tuples
 * `rows`: how real D finds logged pairs, the yardstick of `ood.low_real`. `probs`: D's
 * probabilities of those tuples when already computed ({@link predictTuples}).
 */
export async function realScoreQuantile(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  q: number,
  probs?: Float32Array,
): Promise<number> {
  const K = m.shape.classes, W = K + m.shape.fakeClasses;
  probs ??= await predictTuples(m, ds, rows);
  const real = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    for (let k = 0; k < K; k++) real[i]! += probs[i * W + k]!;
  }
  real.sort();
  return real[Math.min(real.length - 1, Math.floor(q * real.length))] ?? 0;
}

/**
 * The metrics every scorer with a threshold has — n, positive rate, F1, precision, recall,
 * accuracy and the AUC of `score` — for true (`isPos`) and predicted (`predPos`) positives,
 * followed by `rest` (in that key order, as the JSON outputs list them).
 */
function thresholdMetrics(
  isPos: Uint8Array,
  predPos: Uint8Array,
  score: Float64Array,
  rest: Pick<FeedbackMetrics, "logLoss" | "posLogLoss" | "aucJoint" | "meanReal" | "perClass">,
): FeedbackMetrics {
  const n = isPos.length;
  const bs = binaryStats(isPos, predPos);
  let pos = 0;
  for (const v of isPos) pos += v;
  return {
    n,
    positiveRate: n ? pos / n : NaN,
    f1: bs.f1,
    precision: bs.precision,
    recall: bs.recall,
    accuracy: bs.accuracy,
    auc: auc(isPos, score),
    ...rest,
  };
}

/**
 * Binary log-loss of a positive score s ∈ [0, 1]: {@link logLoss} over the two classes
 * (not positive: 1 − s, positive: s), computed in float64 as the scores are.
 */
function binaryLogLoss(isPos: Uint8Array, score: Float64Array): number {
  const probs = new Float64Array(2 * isPos.length);
  for (let i = 0; i < isPos.length; i++) {
    probs[2 * i] = 1 - score[i]!;
    probs[2 * i + 1] = score[i]!;
  }
  return logLoss(probs, 2, isPos);
}

/** Options of {@link metricsFromProbs} and {@link evaluateModel}. */
export interface EvaluateOptions {
  /** Temperature T of D's real-class logits, p = softmax(z_real / T + b); 1 is D as trained. @default 1 */
  temperature?: number;
  /** Per-class bias b of the same (a checkpoint's `temperature-bias` calibration). @default none */
  bias?: readonly number[];
}

/** Per-tuple figures of D's probability rows, from which every metric is computed. */
interface RowScores {
  /** Restricted softmax under the calibration, [n, K]. */
  q: Float64Array;
  /** The same in float32, as the log-loss reads it. */
  restricted: Float32Array;
  /** P(positive label) under the restricted softmax. */
  score: Float64Array;
  /** The unrestricted probability mass on positive real classes. */
  joint: Float64Array;
  yTrue: Int32Array;
  yPred: Int32Array;
  isPos: Uint8Array;
  predPos: Uint8Array;
  /** Sum over tuples of D's real mass. */
  realSum: number;
}

/** The per-tuple figures of D's full probability rows [n, K + F] under `map`. */
function rowScores(
  probs: Float32Array,
  width: number,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
  map: CalibrationMap,
): RowScores {
  const K = ds.labels.length;
  const n = rows.length;
  const restricted = new Float32Array(n * K);
  const score = new Float64Array(n), joint = new Float64Array(n);
  const yTrue = new Int32Array(n), yPred = new Int32Array(n);
  const isPos = new Uint8Array(n), predPos = new Uint8Array(n);
  let realSum = 0;
  const real = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    let z = 0;
    for (let k = 0; k < K; k++) z += probs[i * width + k]!;
    realSum += z;
    for (let k = 0; k < K; k++) real[i * K + k] = probs[i * width + k]! / Math.max(z, 1e-30);
  }
  const q = calibrateScale(real, K, map); // the same numbers at T = 1 without a bias
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 0; k < K; k++) {
      const p = q[i * K + k]!;
      restricted[i * K + k] = p;
      if (ds.positive[k]) {
        score[i]! += p;
        joint[i]! += probs[i * width + k]!;
      }
      if (p > restricted[i * K + best]!) best = k;
    }
    yPred[i] = best;
    yTrue[i] = ds.rowLabel[rows[i]!]!;
    isPos[i] = ds.positive[yTrue[i]!] ? 1 : 0;
    predPos[i] = ds.positive[best] ? 1 : 0;
  }
  return { q, restricted, score, joint, yTrue, yPred, isPos, predPos, realSum };
}

/** Metrics from D's full probability rows [n, K + F], at `options.temperature` and `bias`. */
export function metricsFromProbs(
  probs: Float32Array,
  width: number,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
  options: EvaluateOptions = {},
): FeedbackMetrics {
  const K = ds.labels.length;
  const n = rows.length;
  const map = { temperature: options.temperature ?? 1, bias: options.bias };
  const r = rowScores(probs, width, ds, rows, map);
  const pc = perClassStats(r.yTrue, r.yPred, K);
  return thresholdMetrics(r.isPos, r.predPos, r.score, {
    aucJoint: auc(r.isPos, r.joint),
    logLoss: logLoss(r.restricted, K, r.yTrue),
    posLogLoss: binaryLogLoss(r.isPos, r.score.map((x) => Math.min(x, 1))),
    meanReal: n ? r.realSum / n : NaN,
    perClass: Object.fromEntries(ds.labels.map((l, k) => [l, pc[k]!])),
  });
}

/** Log-loss, ECE and AUC of P(positive) from D's probability rows [n, K + F] under `map`. */
export function calibrationMetrics(
  probs: Float32Array,
  width: number,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
  map: CalibrationMap = IDENTITY_CALIBRATION,
): CalibrationMetrics {
  const r = rowScores(probs, width, ds, rows, map);
  // A sum of probabilities can pass 1 by a rounding error; ECE wants [0, 1].
  const p = r.score.map((s) => Math.min(s, 1));
  return {
    logLoss: logLoss(r.restricted, ds.labels.length, r.yTrue),
    ece: expectedCalibrationError(r.isPos, p),
    auc: auc(r.isPos, r.score),
  };
}

/**
 * Fits the calibration of D's real-class logits on the tuples `rows` (the validation tuples:
 * never the test ones) by minimising their log-loss, with the log-loss, ECE and AUC before and
 * after: `temperature` fits T of softmax(z / T), `temperature-bias` T and b of
 * softmax(z / T + b). The fit reads the restricted softmax's logarithms, which are D's
 * real-class logits up to a constant per tuple. Should the fit not lower the log-loss as it is
 * reported (probabilities clipped at 1e-7, float32), D as trained is kept (T = 1, no bias):
 * calibration never makes it worse. `probs`: D's probabilities of those tuples when already
 * computed ({@link predictTuples}).
 */
export async function fitModelCalibration(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  method: ModelCalibration["method"] = "temperature",
  probs?: Float32Array,
): Promise<ModelCalibration> {
  const width = m.shape.classes + m.shape.fakeClasses;
  probs ??= await predictTuples(m, ds, rows);
  const r = rowScores(probs, width, ds, rows, IDENTITY_CALIBRATION);
  const logits = logitsOfProbs(r.q), K = ds.labels.length;
  const fitted: CalibrationMap = method === "temperature"
    ? { temperature: fitTemperature(logits, K, r.yTrue) }
    : fitTemperatureBias(logits, K, r.yTrue);
  const before = calibrationMetrics(probs, width, ds, rows);
  const after = calibrationMetrics(probs, width, ds, rows, fitted);
  const better = after.logLoss <= before.logLoss;
  return {
    method,
    temperature: better ? fitted.temperature : 1,
    ...(method === "temperature-bias"
      ? { bias: better ? [...fitted.bias!] : new Array<number>(K).fill(0) }
      : {}),
    validation: { before, after: better ? after : before },
  };
}

/** {@link fitModelCalibration} with `temperature`: T alone. */
export async function fitModelTemperature(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  probs?: Float32Array,
): Promise<ModelCalibration> {
  return await fitModelCalibration(m, ds, rows, "temperature", probs);
}

/**
 * Evaluates D on the tuples `rows` (test by default), at `options.temperature` and `bias` (D
 * as trained by default; a checkpoint's calibrated ones are `Simulator.calibration`).
 *
 * @example
 * ```ts
 * import {
 *   evaluateModel,
 *   initBackend,
 *   loadDataset,
 *   SYNTH_DEFAULTS,
 *   TRAIN_DEFAULTS,
 *   trainRecSimu,
 *   writeSynthLog,
 * } from "@recsimu/recsimu";
 *
 * await initBackend("cpu", { quiet: true });
 * const dir = await Deno.makeTempDir();
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 20, items: 20 });
 * const shape = { stateLength: 5, minStateLength: 5, minCount: 1 };
 * const ds = await loadDataset(`${dir}/log.csv`, shape);
 * const config = { ...TRAIN_DEFAULTS, ...shape, hidden: 8, fc: 8, embDim: 6, epochs: 1 };
 * const { model } = await trainRecSimu(ds, config, { quiet: true });
 * const validation = await evaluateModel(model, ds, ds.validation); // default: ds.test
 * validation.f1; // F1 of the positive labels
 * validation.auc; // ROC AUC of P(positive label)
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function evaluateModel(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array = ds.test,
  options: EvaluateOptions = {},
): Promise<FeedbackMetrics> {
  const probs = await predictTuples(m, ds, rows);
  return metricsFromProbs(probs, m.shape.classes + m.shape.fakeClasses, ds, rows, options);
}

/**
 * {@link evaluateModel} under the calibration `map`, with the log-loss, ECE and AUC before (D
 * as trained) and after it on the same tuples, from one pass of D.
 */
export async function evaluateCalibrated(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  map: CalibrationMap,
): Promise<{ metrics: FeedbackMetrics; calibration: CalibrationComparison }> {
  const width = m.shape.classes + m.shape.fakeClasses;
  const probs = await predictTuples(m, ds, rows);
  return {
    metrics: metricsFromProbs(probs, width, ds, rows, map),
    calibration: {
      before: calibrationMetrics(probs, width, ds, rows),
      after: calibrationMetrics(probs, width, ds, rows, map),
    },
  };
}

/**
 * Metrics of a scorer that only ranks tuples and predicts no label (no probability, no
 * threshold): AUC is the one metric it has; F1, precision, recall, accuracy and log-loss are
 * not defined for it and are absent (not copied from another scorer).
 */
export interface RankingMetrics {
  /** Number of tuples. */
  n: number;
  /** Share of tuples with a positive label. */
  positiveRate: number;
  /** ROC AUC of the scorer's ranking. */
  auc: number;
}

/** What {@link itemBaselines} returns. */
export interface ItemBaselines {
  /** The action item's smoothed positive rate in the training tuples: a probability. */
  item_rate: FeedbackMetrics;
  /** The action item's number of positive training tuples: a ranking, so AUC only. */
  popularity: RankingMetrics;
}

/**
 * Item baselines scored on `rows`, fitted on the training tuples:
 * - `item_rate`: the smoothed positive rate of the action item, (pos + 2·prior) / (count + 2),
 *   is P(positive); predicted positive when it exceeds 0.5. Every metric.
 * - `popularity`: tuples ranked by the action item's number of positive training tuples. A
 *   count is no probability and has no threshold, so only its AUC is reported; any F1 or
 *   log-loss would come from a calibration that is another model (`item_rate` is the
 *   calibrated per-item one).
 *
 * @example
 * ```ts
 * import { itemBaselines, loadDataset, SYNTH_DEFAULTS, writeSynthLog } from "@recsimu/recsimu";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 100, items: 30 });
 * const ds = await loadDataset(`${dir}/log.csv`, { stateLength: 5, minCount: 1 });
 * const { item_rate, popularity } = itemBaselines(ds); // scored on the test tuples
 * item_rate.auc; // every metric: the item's positive rate is a probability
 * popularity.auc; // AUC only: a count ranks but predicts no label
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function itemBaselines(
  ds: Dataset,
  rows: Int32Array = ds.test,
): ItemBaselines {
  const V = ds.items.length + 2; // the kept items, padding, the shared rare item
  const pos = new Float64Array(V), cnt = new Float64Array(V);
  let totalPos = 0;
  for (const r of ds.train) {
    const it = ds.rowItem[r]!;
    cnt[it]!++;
    if (ds.positive[ds.rowLabel[r]!]) {
      pos[it]!++;
      totalPos++;
    }
  }
  const prior = ds.train.length ? totalPos / ds.train.length : 0.5;
  const rate = (it: number) => (pos[it]! + 2 * prior) / (cnt[it]! + 2);
  const n = rows.length;
  const isPos = new Uint8Array(n), predRate = new Uint8Array(n);
  const sRate = new Float64Array(n), sPop = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    isPos[i] = ds.positive[ds.rowLabel[r]!] ? 1 : 0;
    sRate[i] = rate(ds.rowItem[r]!);
    predRate[i] = sRate[i]! > 0.5 ? 1 : 0;
    sPop[i] = pos[ds.rowItem[r]!]!;
  }
  const rateLoss = binaryLogLoss(isPos, sRate);
  const itemRate = thresholdMetrics(isPos, predRate, sRate, {
    logLoss: rateLoss,
    posLogLoss: rateLoss,
  });
  return {
    item_rate: itemRate,
    popularity: { n, positiveRate: itemRate.positiveRate, auc: auc(isPos, sPop) },
  };
}

/** Metrics of a baseline's prediction: class probabilities or a binary positive score. */
export function predictionMetrics(
  p: FeedbackPrediction,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
): FeedbackMetrics {
  if ("probs" in p) return metricsFromProbs(p.probs, p.width, ds, rows);
  return scoreMetrics(p.positive, ds, rows);
}

/**
 * Metrics of a binary positive score s ∈ [0, 1]: predicted positive exactly when s > 0.5, s is
 * the AUC's score, the log-loss is the binary one (as the item baselines'), and there are no
 * per-class figures: a binary model does not choose among positive labels.
 * @throws {RangeError} without a positive and a negative label
 * @throws {TypeError} when there is not one score per tuple
 */
export function scoreMetrics(
  score: Float64Array,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
): FeedbackMetrics {
  if (!ds.positive.includes(true) || !ds.positive.includes(false)) {
    throw new RangeError("scoreMetrics: needs a positive and a negative label");
  }
  const n = rows.length;
  if (score.length !== n) {
    throw new TypeError(`scoreMetrics: ${score.length} scores for ${n} tuples`);
  }
  const isPos = new Uint8Array(n), pred = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    isPos[i] = ds.positive[ds.rowLabel[rows[i]!]!] ? 1 : 0;
    pred[i] = score[i]! > 0.5 ? 1 : 0;
  }
  return thresholdMetrics(isPos, pred, score, { logLoss: binaryLogLoss(isPos, score) });
}

/** Below this many test tuples, in all or of either class (positive / not), metrics are noise. */
export const MIN_TEST_TUPLES = 30;

/**
 * Warnings about a test set too small for its metrics to mean anything (empty when it is
 * large enough). One line each, without a `warning:` prefix; the commands print and store them.
 *
 * The rule: fewer than {@link MIN_TEST_TUPLES} tuples in all; otherwise fewer than that many
 * positive, or non-positive, tuples. F1, precision, recall and AUC are all statistics of the
 * positive-vs-rest split, so the smaller side bounds how much they can say (F1 on one tuple is
 * 0 or 1; AUC with 3 positives moves in steps of 1/(6·negatives)). Per-label counts are not
 * checked: a rare label only blurs its own row of the per-label table.
 *
 * @example
 * ```ts
 * import { testSetWarnings } from "./evaluate.ts";
 * const ds = { positive: [false, true], rowLabel: Int32Array.of(0, 1), test: Int32Array.of(1) };
 * testSetWarnings(ds)[0]; // "only 1 test tuple (fewer than 30): ..."
 * ```
 *
 * @param ds the data set (its labels' positivity and each row's label).
 * @param rows the tuples evaluated, by action row. @default ds.test
 * @returns the warnings, one line each.
 */
export function testSetWarnings(
  ds: Pick<Dataset, "positive" | "rowLabel" | "test">,
  rows: Int32Array = ds.test,
): string[] {
  const n = rows.length;
  const min = MIN_TEST_TUPLES;
  const tuples = (k: number, what = "") => `${k}${what} test tuple${k === 1 ? "" : "s"}`;
  const hint = "(one test tuple per session: use a log with more sessions)";
  if (n === 0) return [`no test tuples: nothing was measured ${hint}`];
  if (n < min) {
    return [
      `only ${tuples(n)} (fewer than ${min}): the metrics are noise, not a measurement ${hint}`,
    ];
  }
  let pos = 0;
  for (const r of rows) if (ds.positive[ds.rowLabel[r]!]) pos++;
  const out: string[] = [];
  for (const [k, what] of [[pos, " positive"], [n - pos, " non-positive"]] as const) {
    if (k < min) {
      out.push(
        `only ${tuples(k, what)} of ${n} (fewer than ${min}): F1, precision, recall and AUC ` +
          `rest on them and are noise ${hint}`,
      );
    }
  }
  return out;
}
