/**
 * How the baselines are fitted: their options, the epoch loop (shuffle, batches, progress,
 * optional early stopping on validation AUC), and the guard that frees a model whose training
 * failed.
 *
 * Every baseline trains on exactly the tuples RecSimu trains on (`trainingRows`, so `--upsample`
 * applies too), with the same item embeddings, batch size, learning rate and seed, and is scored
 * on the same test tuples.
 * @module
 */
import { tf } from "../tf.ts";
import type { TrainConfig } from "../config.ts";
import type { Dataset } from "../data/dataset.ts";
import { batchIndices, disposeBatch, toTensors, type TupleBatch } from "../data/batches.ts";
import { deriveSeed, Rng } from "../random.ts";
import { Progress } from "../progress.ts";
import { DivergenceError } from "../errors.ts";
import type {
  BaselineEpoch,
  BaselineTraining,
  LayerSizes,
  NetOptions,
} from "../../models/baselines/common.ts";

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

/** The networks' options (embeddings, seed, layer sizes) from the run's configuration. */
export function netOptions(opts: BaselineOptions): NetOptions & LayerSizes {
  const c = opts.config;
  return {
    embeddings: opts.embeddings,
    embDim: c.embDim,
    seed: c.seed,
    feedbackDim: c.feedbackDim,
    hidden: c.hidden,
    fc: c.fc,
  };
}

/**
 * Sets `m.training` to what `fit` resolves to and returns `m`; frees `m` when `fit` fails (the
 * caller never gets it).
 */
export async function trainedOrDisposed<
  M extends { training: BaselineTraining; dispose(): void },
>(m: M, fit: () => Promise<BaselineTraining>): Promise<M> {
  try {
    m.training = await fit();
  } catch (e) {
    m.dispose();
    throw e;
  }
  return m;
}

/** What {@link fitEpochs} needs. */
export interface FitSpec {
  /** Progress label. */
  label: string;
  ds: Dataset;
  /** Training tuples (action rows). */
  rows: Int32Array;
  /** Embedding table from `embeddingTable`. */
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

/** Early stopping's state: the best validation AUC, epochs since, and the best weights. */
interface BestSoFar {
  auc: number;
  since: number;
  weights?: Float32Array[];
}

/**
 * The epoch loop: a seeded shuffle per epoch, batches built from the frozen table, one `step`
 * per batch; losses averaged per epoch; optional early stopping with the best weights restored.
 */
export async function fitEpochs(spec: FitSpec): Promise<BaselineTraining> {
  const t0 = performance.now();
  const history: BaselineEpoch[] = [];
  const patience = spec.patience ?? 0;
  const best: BestSoFar = { auc: -Infinity, since: 0 };
  const clock = { lastTick: performance.now() };
  let stopped = false;
  for (let ep = 0; ep < spec.epochs && !stopped; ep++) {
    const te = performance.now();
    const r = await fitEpoch(spec, ep, clock);
    stopped = r.stopped;
    const rec: BaselineEpoch = {
      epoch: ep + 1,
      seconds: (performance.now() - te) / 1000,
      loss: r.loss,
    };
    if (patience > 0 && spec.validate && !stopped) {
      const a = spec.validate();
      rec.validationAuc = a;
      if (Number.isFinite(a) && a > best.auc) {
        best.auc = a;
        best.since = 0;
        best.weights = spec.vars?.().map((v) => (v.dataSync() as Float32Array).slice());
      } else if (++best.since >= patience) {
        history.push(rec);
        break;
      }
    }
    history.push(rec);
  }
  if (best.weights && spec.vars) {
    const weights = best.weights;
    spec.vars().forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(weights[i]!, v.shape))));
  }
  return { history, stopped, seconds: (performance.now() - t0) / 1000 };
}

/** One epoch of {@link fitEpochs}: its mean losses, and whether `shouldStop` ended it. */
async function fitEpoch(
  spec: FitSpec,
  ep: number,
  clock: { lastTick: number },
): Promise<{ loss: Record<string, number>; stopped: boolean }> {
  const order = new Rng(deriveSeed(spec.seed, `shuffle:${spec.label}:${ep}`)).shuffle(
    spec.rows.slice(),
  );
  const steps = Math.ceil(order.length / spec.batch);
  const prog = new Progress(`${spec.label} ${ep + 1}/${spec.epochs}`, steps, {
    quiet: spec.quiet,
    unitsPerStep: spec.batch,
  });
  const sums: Record<string, number> = {};
  let done = 0, stopped = false;
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
    if (performance.now() - clock.lastTick > 1000) {
      await tick();
      clock.lastTick = performance.now();
    }
    if (spec.shouldStop?.()) {
      stopped = true;
      break;
    }
  }
  const loss = Object.fromEntries(
    Object.entries(sums).map(([k, v]) => [k, v / Math.max(done, 1)]),
  );
  return { loss, stopped };
}
