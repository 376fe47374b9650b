/**
 * Feedback-prediction metrics of a trained discriminator on a set of tuples, plus the simple
 * item baselines computed on the same tuples.
 * @module
 */
import { batchIndices, disposeBatch, toTensors } from "../data/batches.ts";
import type { Dataset } from "../data/dataset.ts";
import { discriminatorProbs, type RecSimuModel } from "../train/recsimu.ts";
import { auc, binaryStats, logLoss, perClassStats } from "./metrics.ts";

/** Metrics of one scorer on one tuple set. */
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
  /** Mean negative log-likelihood of the true class (restricted softmax). */
  logLoss: number;
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

/** Metrics from D's full probability rows [n, K + F]. */
export function metricsFromProbs(
  probs: Float32Array,
  width: number,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
): FeedbackMetrics {
  const K = ds.labels.length;
  const n = rows.length;
  const restricted = new Float32Array(n * K);
  const score = new Float64Array(n), joint = new Float64Array(n);
  const yTrue = new Int32Array(n), yPred = new Int32Array(n);
  const isPos = new Uint8Array(n), predPos = new Uint8Array(n);
  let realSum = 0;
  for (let i = 0; i < n; i++) {
    let z = 0;
    for (let k = 0; k < K; k++) z += probs[i * width + k]!;
    realSum += z;
    let best = 0;
    for (let k = 0; k < K; k++) {
      const p = probs[i * width + k]! / Math.max(z, 1e-30);
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
  const bs = binaryStats(isPos, predPos);
  const pc = perClassStats(yTrue, yPred, K);
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
    aucJoint: auc(isPos, joint),
    logLoss: logLoss(restricted, K, yTrue),
    meanReal: n ? realSum / n : NaN,
    perClass: Object.fromEntries(ds.labels.map((l, k) => [l, pc[k]!])),
  };
}

/** Evaluates D on the tuples `rows` (test by default). */
export async function evaluateModel(
  m: RecSimuModel,
  ds: Dataset,
  rows: Int32Array = ds.test,
): Promise<FeedbackMetrics> {
  const probs = await predictTuples(m, ds, rows);
  return metricsFromProbs(probs, m.shape.classes + m.shape.fakeClasses, ds, rows);
}

/**
 * Item baselines scored on `rows`, fitted on the training tuples: `item_rate` (smoothed positive
 * rate of the action item) and `popularity` (number of positive training tuples of the item).
 * Predicted positive when the item's rate exceeds 0.5.
 */
export function itemBaselines(
  ds: Dataset,
  rows: Int32Array = ds.test,
): Record<string, FeedbackMetrics> {
  const V = ds.items.length;
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
  const isPos = new Uint8Array(n);
  const sRate = new Float64Array(n), sPop = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    isPos[i] = ds.positive[ds.rowLabel[r]!] ? 1 : 0;
    sRate[i] = rate(ds.rowItem[r]!);
    sPop[i] = pos[ds.rowItem[r]!]!;
  }
  const make = (
    score: Float64Array,
    predicted: Uint8Array,
    prob: Float64Array,
  ): FeedbackMetrics => {
    const bs = binaryStats(isPos, predicted);
    let ll = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.min(Math.max(isPos[i] ? prob[i]! : 1 - prob[i]!, 1e-7), 1);
      ll -= Math.log(p);
    }
    let np = 0;
    for (const v of isPos) np += v;
    return {
      n,
      positiveRate: n ? np / n : NaN,
      f1: bs.f1,
      precision: bs.precision,
      recall: bs.recall,
      accuracy: bs.accuracy,
      auc: auc(isPos, score),
      logLoss: n ? ll / n : NaN,
    };
  };
  const predRate = sRate.map((v) => (v > 0.5 ? 1 : 0)) as unknown as Float64Array;
  return {
    item_rate: make(sRate, Uint8Array.from(predRate), sRate),
    popularity: make(sPop, Uint8Array.from(predRate), sRate),
  };
}
