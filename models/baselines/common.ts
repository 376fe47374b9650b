/**
 * What the baselines share: the frozen embedding table, the epoch loop (shuffle, batches,
 * progress, optional early stopping on validation AUC), batched prediction, and the conversion
 * of a prediction to {@link FeedbackMetrics}.
 *
 * Every baseline trains on exactly the tuples RecSimu trains on (`trainingRows`, so `--upsample`
 * applies too), with the same item embeddings, batch size, learning rate and seed, and is scored
 * on the same test tuples.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { TrainConfig } from "../../lib/config.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import { batchIndices, disposeBatch, toTensors, type TupleBatch } from "../../lib/data/batches.ts";
import { deriveSeed, Rng } from "../../lib/random.ts";
import { Progress } from "../../lib/progress.ts";
import { DivergenceError } from "../../lib/errors.ts";
import { type FeedbackMetrics, metricsFromProbs } from "../../lib/eval/evaluate.ts";
import { auc, binaryStats } from "../../lib/eval/metrics.ts";
import { registerFastMatMulGrad, registerFastWasmKernels } from "../fast_grad.ts";
import { trainingRows } from "../../lib/train/loop.ts";

/** Options every trained baseline takes. */
export interface BaselineOptions {
  /**
   * The run's training configuration: sizes (`hidden`, `fc`, `feedbackDim`, `embDim`),
   * `learningRate`, `batch`, `seed`, `upsample`, `patience` and the epoch counts.
   */
  config: TrainConfig;
  /** Item embeddings [V, E] row-major, the same vectors RecSimu uses (item2vec). */
  embeddings: Float32Array;
  /** Print no progress. @default false */
  quiet?: boolean;
  /** Checked between steps; when it returns true, training ends after the current step. */
  shouldStop?: () => boolean;
}

/** One epoch of a baseline's training. */
export interface BaselineEpoch {
  epoch: number;
  seconds: number;
  /** Mean losses over the epoch's steps, namespaced (`loss/ce`, `loss/d`, …). */
  loss: Record<string, number>;
  /** Validation AUC, when early stopping is on (`patience` > 0). */
  validationAuc?: number;
}

/** How a baseline's training went. */
export interface BaselineTraining {
  history: BaselineEpoch[];
  /** True when `shouldStop` ended training early. */
  stopped: boolean;
  seconds: number;
}

/**
 * A prediction for a set of tuples: full class probabilities [n, width] (the first K columns are
 * the real feedback classes), or only a score for "positive" in [0, 1].
 */
export type FeedbackPrediction =
  | { probs: Float32Array; width: number }
  | { positive: Float64Array };

/** A trained feedback predictor. */
export interface FeedbackPredictor {
  /** Model name as in the report (`lr`, `gru`, …). */
  readonly name: string;
  /** Training record (empty history for models that do not train). */
  readonly training: BaselineTraining;
  /** Predicts the feedback of the tuples whose action rows are `rows`. */
  predict(ds: Dataset, rows: Int32Array): FeedbackPrediction;
  /** Frees the model's tensors. */
  dispose(): void;
}

/** A baseline trained by one optimiser on one per-batch loss (LR, GRU). */
export interface SupervisedModel extends FeedbackPredictor {
  training: BaselineTraining;
  readonly table: tf.Tensor2D;
  params: { list(): tf.Variable[] };
  /** One update on a batch; returns the loss. */
  step(b: TupleBatch, opt: tf.Optimizer): number;
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
  const c = opts.config;
  const opt = tf.train.adam(c.learningRate);
  try {
    m.training = await fitEpochs({
      label: m.name,
      ds,
      rows: trainingRows(ds, c),
      table: m.table,
      epochs: baselineEpochs(c),
      batch: c.batch,
      seed: c.seed,
      step: (b) => ({ [opts.lossName]: m.step(b, opt) }),
      validate: () => predictionMetrics(m.predict(ds, ds.validation), ds, ds.validation).auc,
      patience: c.patience,
      vars: () => m.params.list(),
      quiet: opts.quiet,
      shouldStop: opts.shouldStop,
    });
  } catch (e) {
    m.dispose();
    throw e;
  } finally {
    opt.dispose();
  }
  return m;
}

/** Epochs a supervised baseline gets: as many as RecSimu's discriminator sees labels. */
export function baselineEpochs(c: TrainConfig): number {
  return c.preDEpochs + c.epochs;
}

/** Registers the fast WASM kernels and gradients the models rely on (idempotent). */
export function prepareKernels(): void {
  registerFastMatMulGrad();
  registerFastWasmKernels();
}

/** The frozen embedding table [V + 1, E]; the last row (padding) is zeros. */
export function embeddingTable(vectors: Float32Array, items: number, dim: number): tf.Tensor2D {
  if (vectors.length !== items * dim) {
    throw new RangeError(`embeddings: expected ${items}×${dim} values, got ${vectors.length}`);
  }
  const padded = new Float32Array((items + 1) * dim);
  padded.set(vectors);
  return tf.tensor2d(padded, [items + 1, dim]);
}

/** What {@link fitEpochs} needs. */
export interface FitSpec {
  /** Progress label. */
  label: string;
  ds: Dataset;
  /** Training tuples (action rows). */
  rows: Int32Array;
  /** Embedding table from {@link embeddingTable}. */
  table: tf.Tensor2D;
  epochs: number;
  batch: number;
  seed: number;
  /** One update on a batch; returns named losses (plain numbers). */
  step: (b: TupleBatch, step: number) => Record<string, number>;
  /** Validation AUC of the current weights (used for early stopping). */
  validate?: () => number;
  /** Stop after this many epochs without a better validation AUC; 0 = never. @default 0 */
  patience?: number;
  /** Variables restored to their best-validation values when early stopping is on. */
  vars?: () => tf.Variable[];
  quiet?: boolean;
  shouldStop?: () => boolean;
}

/** Lets signal handlers and timers run during long synchronous training. */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * The epoch loop: a seeded shuffle per epoch, batches built from the frozen table, one `step`
 * per batch; losses averaged per epoch; optional early stopping with the best weights restored.
 */
export async function fitEpochs(spec: FitSpec): Promise<BaselineTraining> {
  const t0 = performance.now();
  const history: BaselineEpoch[] = [];
  const patience = spec.patience ?? 0;
  let best = -Infinity, since = 0;
  let bestWeights: Float32Array[] | undefined;
  let stopped = false;
  let lastTick = performance.now();
  for (let ep = 0; ep < spec.epochs && !stopped; ep++) {
    const te = performance.now();
    const order = new Rng(deriveSeed(spec.seed, `shuffle:${spec.label}:${ep}`)).shuffle(
      spec.rows.slice(),
    );
    const steps = Math.ceil(order.length / spec.batch);
    const prog = new Progress(`${spec.label} ${ep + 1}/${spec.epochs}`, steps, {
      quiet: spec.quiet,
      unitsPerStep: spec.batch,
    });
    const sums: Record<string, number> = {};
    let done = 0;
    for (let s = 0; s < steps; s++) {
      const b = toTensors(
        batchIndices(spec.ds, order.subarray(s * spec.batch, (s + 1) * spec.batch)),
        spec.table,
        spec.ds.stateLength,
      );
      let losses: Record<string, number>;
      try {
        losses = spec.step(b, ep * steps + s);
      } finally {
        disposeBatch(b);
      }
      for (const [k, v] of Object.entries(losses)) {
        if (!Number.isFinite(v)) {
          throw new DivergenceError(
            `${spec.label}: ${k} is ${v} at epoch ${ep + 1} step ${s + 1}; lower --lr`,
          );
        }
        sums[k] = (sums[k] ?? 0) + v;
      }
      done++;
      prog.update(s + 1, Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])));
      if (performance.now() - lastTick > 1000) {
        await tick();
        lastTick = performance.now();
      }
      if (spec.shouldStop?.()) {
        stopped = true;
        break;
      }
    }
    const rec: BaselineEpoch = {
      epoch: ep + 1,
      seconds: (performance.now() - te) / 1000,
      loss: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(done, 1)])),
    };
    if (patience > 0 && spec.validate && !stopped) {
      const a = spec.validate();
      rec.validationAuc = a;
      if (Number.isFinite(a) && a > best) {
        best = a;
        since = 0;
        bestWeights = spec.vars?.().map((v) => (v.dataSync() as Float32Array).slice());
      } else if (++since >= patience) {
        history.push(rec);
        break;
      }
    }
    history.push(rec);
  }
  if (bestWeights && spec.vars) {
    const vars = spec.vars();
    vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(bestWeights![i]!, v.shape))));
  }
  return { history, stopped, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Runs `f` over `rows` in batches and gathers its [B, width] outputs into one array.
 * `f` runs inside `tf.tidy`.
 */
export function predictBatches(
  ds: Dataset,
  rows: Int32Array,
  table: tf.Tensor2D,
  width: number,
  f: (b: TupleBatch) => tf.Tensor2D,
  batch = 1024,
): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i += batch) {
    const b = toTensors(batchIndices(ds, rows.subarray(i, i + batch)), table, ds.stateLength);
    try {
      const p = tf.tidy(() => f(b));
      out.set(p.dataSync() as Float32Array, i * width);
      p.dispose();
    } finally {
      disposeBatch(b);
    }
  }
  return out;
}

/** One step of `opt` on `loss` over `vars`; returns the loss value. Call inside `tf.tidy`. */
export function minimize(opt: tf.Optimizer, vars: tf.Variable[], loss: () => tf.Scalar): number {
  const { value, grads } = tf.variableGrads(loss, vars);
  opt.applyGradients(grads);
  const v = value.dataSync()[0]!;
  tf.dispose(grads);
  value.dispose();
  return v;
}

/** Mean softmax cross-entropy of integer labels under logits [B, C]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const lp = tf.logSoftmax(logits, 1);
  return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(labels, logits.shape[1])), 1)));
}

/** Metrics of a prediction, through {@link metricsFromProbs} (binary scores: see below). */
export function predictionMetrics(
  p: FeedbackPrediction,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
): FeedbackMetrics {
  if ("probs" in p) return metricsFromProbs(p.probs, p.width, ds, rows);
  return scoreMetrics(p.positive, ds, rows);
}

/**
 * Metrics of a binary positive score s ∈ [0, 1]: the score goes to the first positive class and
 * 1 − s to the first negative one, so that {@link metricsFromProbs} predicts "positive" exactly
 * when s > 0.5 and uses s for the AUC. The log-loss is the binary one (as the item baselines'),
 * and there are no per-class figures: a binary model does not choose among positive labels.
 */
export function scoreMetrics(
  score: Float64Array,
  ds: Pick<Dataset, "labels" | "positive" | "rowLabel">,
  rows: Int32Array,
): FeedbackMetrics {
  const K = ds.labels.length;
  const pos = ds.positive.indexOf(true), neg = ds.positive.indexOf(false);
  if (pos < 0 || neg < 0) {
    throw new RangeError("scoreMetrics: needs a positive and a negative label");
  }
  const n = rows.length;
  if (score.length !== n) {
    throw new TypeError(`scoreMetrics: ${score.length} scores for ${n} tuples`);
  }
  const probs = new Float32Array(n * K);
  let ll = 0;
  const isPos = new Uint8Array(n), pred = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const s = score[i]!;
    probs[i * K + pos] = s;
    probs[i * K + neg] = 1 - s;
    isPos[i] = ds.positive[ds.rowLabel[rows[i]!]!] ? 1 : 0;
    pred[i] = s > 0.5 ? 1 : 0;
    ll -= Math.log(Math.min(Math.max(isPos[i] ? s : 1 - s, 1e-7), 1));
  }
  const m = metricsFromProbs(probs, K, ds, rows);
  const bs = binaryStats(isPos, pred);
  return {
    ...m,
    f1: bs.f1,
    precision: bs.precision,
    recall: bs.recall,
    accuracy: bs.accuracy,
    auc: auc(isPos, score),
    aucJoint: undefined,
    logLoss: n ? ll / n : NaN,
    meanReal: undefined,
    perClass: undefined,
  };
}
