/**
 * Algorithm 1 end to end: pre-train G on L_supG, pre-train D on L_supD, then alternate d-steps
 * and g-steps on L_D and L_G; validation AUC after every D epoch, optional early stopping with
 * the best weights restored, a checkpoint after every epoch, and at the end a temperature fitted
 * on the validation tuples (`--calibrate`) and the test metrics of the calibrated model.
 * The loop only coordinates, logs and checkpoints; the updates live in `steps.ts`.
 * @module
 */
import { backendInfo, tf } from "../tf.ts";
import { deriveSeed, Rng } from "../random.ts";
import { DivergenceError, UserError } from "../errors.ts";
import { calibrationMethod, type TrainConfig } from "../config.ts";
import type { Dataset } from "../data/dataset.ts";
import { batchIndices, disposeBatch, toTensors, type TupleBatch } from "../data/batches.ts";
import { trainingBatch, withPropensity } from "./batch_rows.ts";
import { fitPropensity, type PropensityFit } from "./propensity.ts";
import { startStates, trainingRows } from "../data/training_rows.ts";
import { trainItem2Vec } from "../embeddings/item2vec.ts";
import { type ItemFeatures, itemFeatureSizes } from "../data/item_features.ts";
import { collectGarbage } from "../memory.ts";
import { type ModelShape, RecSimuModel } from "../../models/recsimu.ts";
import {
  evaluateCalibrated,
  evaluateModel,
  type FeedbackMetrics,
  fitModelCalibration,
  type ItemBaselines,
  itemBaselines,
} from "../eval/evaluate.ts";
import type { CalibrationReport, ModelCalibration } from "../eval/calibration.ts";
import { predictTuples, realScoreQuantile } from "../eval/evaluate.ts";
import { log, Progress } from "../progress.ts";
import { adversarialRound, discriminatorPretrainStep, generatorPretrainStep } from "./steps.ts";
import { RecSimuTrainer } from "./trainer.ts";
import {
  assignVariables,
  CHECKPOINT_FORMAT,
  checkpointCalibration,
  type CheckpointData,
  type CheckpointMeta,
  loadCheckpoint,
  readTrainerOptimizers,
  readVariables,
  RECSIMU_VERSION,
  restoreTrainerOptimizers,
  saveCheckpoint,
  type TensorMap,
  type TrainingPosition,
} from "./checkpoint.ts";

/** One epoch's record in history.json. */
export interface EpochRecord {
  phase: "pre_g" | "pre_d" | "adv";
  epoch: number;
  seconds: number;
  samplesPerSecond: number;
  loss: Record<string, number>;
  validation?: FeedbackMetrics;
}

/**
 * Options of {@link trainRecSimu}.
 *
 * @example
 * ```ts
 * import type { TrainOptions } from "@recsimu/recsimu";
 *
 * // Checkpoints in "model/" after every epoch; training stops at the next step once asked to.
 * const stop = new AbortController();
 * const options: TrainOptions = { out: "model/", quiet: true, shouldStop: () => stop.signal.aborted };
 * // await trainRecSimu(ds, config, options);
 * ```
 */
export interface TrainOptions {
  /** Checkpoint directory (written after every epoch). */
  out?: string;
  /** Continue from the checkpoint in `out`. @default false */
  resume?: boolean;
  /** Pre-computed item embeddings [V, E] and where they came from; else item2vec. */
  embeddings?: { vectors: Float32Array; source: string };
  /**
   * Item side features aligned with the data set's vocabulary; required when
   * `config.itemFeatures` is set, refused otherwise. @default undefined
   */
  itemFeatures?: ItemFeatures;
  /** No progress output. @default false */
  quiet?: boolean;
  /** Checked between steps; when it returns true, training stops after the current step. */
  shouldStop?: () => boolean;
  /** Called after each epoch (tests use it to inspect tensor counts). */
  onEpoch?: (r: EpochRecord) => void;
}

/**
 * What {@link trainRecSimu} returns: test metrics once training finished (of the calibrated
 * model, with the calibration's figures before and after), none when stopped.
 *
 * @example
 * ```ts
 * import type { TrainResult } from "@recsimu/recsimu";
 *
 * function summary(r: TrainResult): string {
 *   return r.stopped
 *     ? `stopped after ${r.history.length} epochs, no test metrics`
 *     : `test AUC ${r.test.auc.toFixed(3)} (item rate ${r.baselines.item_rate.auc.toFixed(3)})`;
 * }
 * ```
 */
export type TrainResult =
  & {
    model: RecSimuModel;
    history: EpochRecord[];
    embeddings: Float32Array;
    seconds: number;
  }
  & (
    | {
      stopped: false;
      test: FeedbackMetrics;
      baselines: ItemBaselines;
      calibration: CalibrationReport;
    }
    | { stopped: true; test?: undefined; baselines?: undefined; calibration?: undefined }
  );

/** A finished run's result (for callers that never stop training early). */
export type FinishedTraining = Extract<TrainResult, { stopped: false }>;

/**
 * `r` as a finished run.
 * @throws {Error} when training was stopped early (then there are no test metrics).
 */
export function finished(r: TrainResult): FinishedTraining {
  if (r.stopped) throw new Error("training was stopped before the test evaluation");
  return r;
}

const PHASES = ["pre_g", "pre_d", "adv"] as const;

/** Epochs of each phase under the chosen variant. */
export function phaseEpochs(c: TrainConfig): Record<(typeof PHASES)[number], number> {
  if (c.variant === "recsimu-3") {
    return { pre_g: c.preGEpochs, pre_d: c.preDEpochs + c.epochs, adv: 0 };
  }
  return { pre_g: c.preGEpochs, pre_d: c.preDEpochs, adv: c.epochs };
}

function modelShape(ds: Dataset, c: TrainConfig, features?: ItemFeatures): ModelShape {
  return {
    items: ds.items.length,
    classes: ds.labels.length,
    embDim: c.embDim,
    feedbackDim: c.feedbackDim,
    hidden: c.hidden,
    fc: c.fc,
    fakeClasses: c.variant === "recsimu-1" ? 1 : ds.labels.length,
    stateLength: c.stateLength,
    arch: c.arch,
    ...(c.arch === "attn"
      ? { itemDim: c.itemDim, heads: c.heads, residualItems: c.residualItems }
      : {}),
    ...(c.arch === "attn" && c.matchFeatures ? { matchFeatures: true } : {}),
    ...(c.arch === "attn" && c.matchFeatures && c.wide ? { wide: true } : {}),
    ...(features ? { itemFeatures: itemFeatureSizes(features) } : {}),
  };
}

type Phase = (typeof PHASES)[number];

/** Item embeddings of a run and where they came from (config.json's `embeddings`). */
interface RunEmbeddings {
  vectors: Float32Array;
  source: CheckpointMeta["embeddings"];
}

/** Name of the first tensor holding NaN or Inf, if any. */
function firstNonFinite(tensors: TensorMap): string | undefined {
  for (const [name, t] of tensors) {
    for (const x of t.data) if (!Number.isFinite(x)) return name;
  }
  return undefined;
}

/** Refuses a data set without training tuples, saying why and what to change. */
function checkTrainable(ds: Dataset): void {
  if (ds.train.length > 0) return;
  // A session yields a training tuple from max(M, 1) + 3 rows on: M history rows, then a
  // training, a validation and a test action.
  throw new UserError(
    `"${ds.file}": no training tuples (the longest session has ${ds.stats.sessionLength.max} rows after filtering, a training tuple needs ${
      Math.max(ds.minStateLength, 1) + 3
    }; lower --state-length or --min-count)`,
  );
}

/**
 * The checkpoint `--resume` continues, with its optimiser state; refused when it was trained on
 * other data or with other flags. Only --epochs, --patience and --calibrate may change (the
 * calibration is fitted after training; a checkpoint written before it has no `calibrate`).
 */
async function loadForResume(
  ds: Dataset,
  c: TrainConfig,
  out: string | undefined,
): Promise<CheckpointData> {
  if (!out) throw new UserError("--resume needs --out (the checkpoint to continue)");
  const resumed = await loadCheckpoint(out, { optimizer: true });
  if (resumed.meta.data.fingerprint !== ds.fingerprint) {
    throw new UserError(
      `--resume: "${out}" was trained on other data (fingerprint ${
        resumed.meta.data.fingerprint.slice(0, 12)
      }…, this log ${ds.fingerprint.slice(0, 12)}…)`,
    );
  }
  // JSON.stringify leaves out undefined fields: calibrate is compared in neither.
  const free = { epochs: 0, patience: 0, calibrate: undefined };
  // Keys sorted: fields an older config lacked are filled in at its end (withArchDefaults).
  const canon = (o: object) =>
    JSON.stringify(Object.fromEntries(Object.entries(o).sort(([x], [y]) => x < y ? -1 : 1)));
  // Item features are the same when their content and columns are (not the path given).
  const content = (x: TrainConfig) =>
    x.itemFeatures && { sha256: x.itemFeatures.sha256, columns: x.itemFeatures.columns };
  const a = canon({ ...resumed.meta.config, ...free, itemFeatures: content(resumed.meta.config) });
  const b = canon({ ...c, ...free, itemFeatures: content(c) });
  if (a !== b) {
    throw new UserError(
      `--resume: flags differ from the checkpoint's config (only --epochs, --patience and --calibrate may change)`,
    );
  }
  return resumed;
}

/** The run's item embeddings: the resumed checkpoint's, the caller's, or trained by item2vec. */
async function itemEmbeddings(
  ds: Dataset,
  c: TrainConfig,
  opts: TrainOptions,
  resumed: CheckpointData | undefined,
): Promise<RunEmbeddings> {
  if (resumed) return { vectors: resumed.embeddings, source: resumed.meta.embeddings };
  if (opts.embeddings) {
    return { vectors: opts.embeddings.vectors, source: { source: opts.embeddings.source } };
  }
  let prog: Progress | undefined;
  const r = await trainItem2Vec(ds, {
    dim: c.embDim,
    epochs: c.i2vEpochs,
    learningRate: c.i2vLearningRate,
    seed: c.seed,
    onStep: (s, n, l) => {
      prog ??= new Progress("item2vec", n, { quiet: opts.quiet, unitsPerStep: 8192 });
      prog.update(s, { loss: l });
    },
  });
  if (!opts.quiet) {
    log(`item2vec: ${r.pairs} pairs, loss ${r.finalLoss.toFixed(4)}, ${r.seconds.toFixed(1)}s`);
  }
  return {
    vectors: r.vectors,
    source: { source: "item2vec", pairs: r.pairs, finalLoss: r.finalLoss, seconds: r.seconds },
  };
}

/** One update of `phase` on a batch; resolves to its named losses. */
async function phaseStep(
  t: RecSimuTrainer,
  phase: Phase,
  b: TupleBatch,
): Promise<Record<string, number>> {
  if (phase === "pre_g") return { "loss/g_sup": await generatorPretrainStep(t, b) };
  if (phase === "pre_d") return { "loss/d_sup": await discriminatorPretrainStep(t, b) };
  const r = await adversarialRound(t, b);
  return { "loss/d": r.lossD, "loss/g": r.lossG };
}

/** Mean of each summed loss over `n` steps. */
function means(sums: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / n]));
}

/** Where optimizer.bin keeps the propensity weights, so that --resume trains on the same ones. */
const PROPENSITY_KEY = "propensity:weights";

/** The training state to save: the optimisers' and, when fitted, the propensity weights. */
function withPropensityState(state: TensorMap, p: PropensityFit | undefined): TensorMap {
  if (p) state.set(PROPENSITY_KEY, { shape: [p.weights.length], data: p.weights });
  return state;
}

/** A propensity fit without its weights (config.json's `propensity`). */
function propensitySummary({ weights: _, ...rest }: PropensityFit): CheckpointMeta["propensity"] {
  return rest;
}

/** One run while it trains: the model and its trainer, where training stands, what it keeps. */
class TrainingRun {
  readonly shape: ModelShape;
  readonly model: RecSimuModel;
  readonly trainer: RecSimuTrainer;
  readonly rows: Int32Array;
  readonly epochs: Record<Phase, number>;
  position: TrainingPosition = {
    phase: "pre_g",
    epoch: 0,
    step: 0,
    bestValAuc: -Infinity,
    sinceBest: 0,
  };
  history: EpochRecord[] = [];
  /** The weights of the best validation AUC so far (kept with --patience). */
  best: TensorMap | undefined;
  /** The last checkpoint on disk (its position), for the message of a divergence. */
  saved: TrainingPosition | undefined;
  /** True once `shouldStop` ended training mid-epoch. */
  stopped = false;
  /** The temperature fitted once training finished (config.json's `calibration`). */
  calibration: ModelCalibration | undefined;
  /** The out-of-distribution thresholds fitted once training finished (config.json's `ood`). */
  ood: { realThreshold: number } | undefined;
  /** `--propensity-clip`: the inverse-propensity weights, fitted when D's training starts. */
  propensity: PropensityFit | undefined;
  #lastYield = performance.now();

  constructor(
    readonly ds: Dataset,
    readonly c: TrainConfig,
    readonly opts: TrainOptions,
    readonly embeddings: RunEmbeddings,
  ) {
    const features = opts.itemFeatures;
    if ((c.itemFeatures === null) !== (features === undefined)) {
      throw new Error("trainRecSimu: config.itemFeatures and opts.itemFeatures go together");
    }
    this.shape = modelShape(ds, c, features);
    collectGarbage(); // item2vec's output table and optimizer state, before the model's upload
    this.model = new RecSimuModel(this.shape, embeddings.vectors, {
      seed: c.seed,
      itemBias: c.itemBias,
      ...(features ? { itemFeatureCodes: features.codes } : {}),
    });
    this.trainer = new RecSimuTrainer(this.model, c);
    collectGarbage(); // the padded copy made for the upload
    this.rows = trainingRows(ds, c);
    this.epochs = phaseEpochs(c);
  }

  say(s: string): void {
    if (!this.opts.quiet) log(s);
  }

  /** The model's weights, optimiser state, position, history and best weights from `ck`. */
  async restore(ck: CheckpointData): Promise<void> {
    const m = this.model;
    assignVariables([...m.gVars(), ...m.dVars()], ck.weights, `"${this.opts.out}/weights.bin"`);
    if (ck.optimizer) await restoreTrainerOptimizers(this.trainer, ck.optimizer);
    // The weights fitted before, not a refit from the resumed G (G trains on in adv rounds).
    const pw = ck.optimizer?.get(PROPENSITY_KEY);
    if (pw && ck.meta.propensity) this.propensity = { ...ck.meta.propensity, weights: pw.data };
    this.position = ck.meta.position;
    if (this.position.bestValAuc === null) this.position.bestValAuc = -Infinity;
    this.history = ck.history as EpochRecord[];
    this.saved = ck.meta.position;
    if (this.c.patience > 0 && ck.best?.size) this.best = ck.best;
    this.say(
      `resumed from "${this.opts.out}" at phase ${this.position.phase}, ${this.position.epoch} epochs done`,
    );
  }

  /** config.json of a checkpoint at `pos`. */
  meta(pos: TrainingPosition): CheckpointMeta {
    const { ds, c } = this;
    return {
      format: CHECKPOINT_FORMAT,
      recsimu: RECSIMU_VERSION,
      config: c,
      shape: this.shape,
      labels: ds.labels,
      positive: ds.positive,
      data: { file: ds.file, fingerprint: ds.fingerprint, stats: ds.stats },
      embeddings: this.embeddings.source,
      versions: {
        tfjs: tf.version.tfjs,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        typescript: Deno.version.typescript,
      },
      backend: backendInfo()?.name ?? tf.getBackend(),
      position: pos,
      created: new Date().toISOString(),
      ...(this.calibration ? { calibration: this.calibration } : {}),
      ...(this.ood ? { ood: this.ood } : {}),
      ...(this.propensity ? { propensity: propensitySummary(this.propensity) } : {}),
    };
  }

  /** Writes the checkpoint at `pos` (when the run has an `out`); the best weights until done. */
  async checkpoint(pos: TrainingPosition, metrics?: unknown): Promise<void> {
    if (!this.opts.out) return;
    const m = this.model;
    await saveCheckpoint(this.opts.out, {
      meta: this.meta(pos),
      items: this.ds.items,
      embeddings: this.embeddings.vectors,
      itemFeatures: this.opts.itemFeatures,
      weights: await readVariables([...m.gVars(), ...m.dVars()]),
      optimizer: withPropensityState(await readTrainerOptimizers(this.trainer), this.propensity),
      best: pos.phase !== "done" ? this.best : undefined,
      history: this.history,
      startStates: startStates(this.ds),
      metrics,
    });
    this.saved = pos;
  }

  /** Frees the model (the caller never gets it) and says which checkpoint is left. */
  diverged(what: string): DivergenceError {
    this.model.dispose();
    const saved = this.saved, out = this.opts.out;
    const at = saved &&
      (saved.step > 0
        ? `${saved.phase} epoch ${saved.epoch + 1} step ${saved.step}`
        : `${saved.phase} epoch ${saved.epoch}`);
    const kept = !out
      ? ""
      : at
      ? `; the last good checkpoint (${at}) is kept in "${out}"`
      : `; no checkpoint was written yet`;
    return new DivergenceError(`${what}${kept} — lower --lr and train again`);
  }

  /** Every phase's remaining epochs, until done, stopped or stopped early. */
  async runPhases(): Promise<void> {
    for (
      let pi = PHASES.indexOf(this.position.phase as Phase);
      pi >= 0 && pi < PHASES.length;
      pi++
    ) {
      const phase = PHASES[pi]!;
      const first = phase === this.position.phase ? this.position.epoch : 0;
      for (let ep = first; ep < this.epochs[phase]; ep++) {
        if (!await this.runEpoch(phase, ep)) break;
      }
      if (this.stopped) break;
    }
  }

  /** Epoch `ep` of `phase` (from its resumed step); false when training ends with it. */
  async runEpoch(phase: Phase, ep: number): Promise<boolean> {
    const c = this.c, pos = this.position;
    const order = new Rng(deriveSeed(c.seed, `shuffle:${phase}:${ep}`)).shuffle(this.rows.slice());
    const resumeStep = phase === pos.phase && ep === pos.epoch ? pos.step : 0;
    const sums: Record<string, number> = resumeStep ? { ...pos.partial } : {};
    const te = performance.now();
    const done = await this.runSteps(phase, ep, order, resumeStep, sums);
    // An update can make weights NaN or Inf while the loss it returned (computed before the
    // update) was finite: check them before they are validated or checkpointed.
    const m = this.model;
    const bad = firstNonFinite(await readVariables([...m.gVars(), ...m.dVars()]));
    if (bad !== undefined) {
      throw this.diverged(
        `weights ${bad} are NaN or Inf after ${phase} epoch ${ep + 1} step ${done}`,
      );
    }
    if (this.stopped) return false;
    return await this.endEpoch(phase, ep, means(sums, done), done, te);
  }

  /**
   * The steps of one epoch from `first` on, adding each step's losses to `sums`; resolves to the
   * number of steps done in the epoch. Stops early (and records the position) on `shouldStop`.
   */
  async runSteps(
    phase: Phase,
    ep: number,
    order: Int32Array,
    first: number,
    sums: Record<string, number>,
  ): Promise<number> {
    const { c, ds, opts } = this;
    const steps = Math.ceil(order.length / c.batch);
    const prog = new Progress(`${phase} ${ep + 1}/${this.epochs[phase]}`, steps, {
      quiet: opts.quiet,
      unitsPerStep: c.batch,
    });
    let done = first;
    const pw = phase === "pre_g" ? undefined : await this.propensityWeights();
    for (let s = first; s < steps; s++) {
      const rows = order.subarray(s * c.batch, (s + 1) * c.batch);
      let idx = trainingBatch(
        batchIndices(ds, rows),
        rows,
        c,
        ds.items.length,
        `${phase}/${ep}/${s}`,
      );
      if (pw) idx = withPropensity(idx, rows, pw, this.model.d.heads);
      const b = toTensors(idx, this.model.table, ds.stateLength);
      let losses: Record<string, number>;
      try {
        losses = await phaseStep(this.trainer, phase, b);
      } finally {
        disposeBatch(b);
      }
      for (const [k, v] of Object.entries(losses)) {
        if (!Number.isFinite(v)) {
          throw this.diverged(`${k} is ${v} at ${phase} epoch ${ep + 1} step ${s + 1}`);
        }
        sums[k] = (sums[k] ?? 0) + v;
      }
      done++;
      prog.update(s + 1, means(sums, done));
      if (await this.stopRequested() && s + 1 < steps) {
        this.stopped = true;
        this.position = { ...this.position, phase, epoch: ep, step: s + 1, partial: { ...sums } };
        this.say(
          `stopping at ${phase} epoch ${ep + 1} step ${
            s + 1
          }/${steps}; checkpoint keeps the position for --resume`,
        );
        break;
      }
    }
    return done;
  }

  /**
   * `--propensity-clip`: the tuples' inverse-propensity weights from G, fitted once (when D's
   * first phase starts, G pre-trained) and reported; undefined when off.
   */
  async propensityWeights(): Promise<Float32Array | undefined> {
    if (!(this.c.propensityClip > 0)) return undefined;
    if (!this.propensity) {
      const p = await fitPropensity(
        this.model,
        this.ds,
        this.rows,
        this.c.propensityClip,
        this.c.seed,
      );
      this.propensity = p;
      this.say(
        `propensity: tau ${
          p.tau.toPrecision(3)
        }, popularity share ${p.eps}, log-likelihood of the logged actions ${
          p.logLik.toFixed(3)
        } (uniform ${p.uniformLogLik.toFixed(3)}), clipped ${
          (100 * p.clippedShare).toFixed(1)
        }%, ` +
          `effective sample ${(100 * p.effectiveShare).toFixed(1)}%`,
      );
    }
    return this.propensity.weights;
  }

  /** Whether `shouldStop` asks to stop, giving signal handlers a turn now and then. */
  async stopRequested(): Promise<boolean> {
    const shouldStop = this.opts.shouldStop;
    if (!shouldStop) return false;
    // A signal handler only runs when the event loop gets a turn, and the steps never give it
    // one on the CPU and WASM backends (their promises resolve at once): yield now and then.
    if (performance.now() - this.#lastYield > 100) {
      await new Promise((r) => setTimeout(r, 0));
      this.#lastYield = performance.now();
    }
    return shouldStop();
  }

  /**
   * Records a finished epoch: validation (D phases), history, the checkpoint; false when
   * early stopping ends training.
   */
  async endEpoch(
    phase: Phase,
    ep: number,
    loss: Record<string, number>,
    done: number,
    te: number,
  ): Promise<boolean> {
    const c = this.c;
    const seconds = (performance.now() - te) / 1000;
    const samplesPerSecond = (done * c.batch) / seconds;
    const rec: EpochRecord = { phase, epoch: ep + 1, seconds, samplesPerSecond, loss };
    const next: TrainingPosition = {
      ...this.position,
      phase,
      epoch: ep + 1,
      step: 0,
      partial: undefined,
    };
    collectGarbage(); // the epoch's JS garbage, before validation and the checkpoint
    if (phase !== "pre_g" && this.ds.validation.length > 0) await this.validate(rec, next);
    this.history.push(rec);
    this.position = next;
    this.opts.onEpoch?.(rec);
    await this.checkpoint(next);
    if (phase === "adv" && c.patience > 0 && next.sinceBest >= c.patience) {
      this.say(`early stop: no better validation AUC for ${c.patience} epochs`);
      return false;
    }
    return true;
  }

  /** Validation metrics into `rec`; the best AUC (and, with --patience, weights) into `next`. */
  async validate(rec: EpochRecord, next: TrainingPosition): Promise<void> {
    const m = this.model;
    const v = rec.validation = await evaluateModel(m, this.ds, this.ds.validation);
    this.say(
      `${rec.phase} epoch ${rec.epoch}: validation AUC ${v.auc.toFixed(4)} F1 ${v.f1.toFixed(4)} (${
        rec.seconds.toFixed(1)
      }s, ${rec.samplesPerSecond.toFixed(0)} samples/s)`,
    );
    if (Number.isFinite(v.auc) && v.auc > next.bestValAuc) {
      next.bestValAuc = v.auc;
      next.sinceBest = 0;
      if (this.c.patience > 0) this.best = await readVariables([...m.gVars(), ...m.dVars()]);
    } else {
      next.sinceBest++;
    }
  }

  /**
   * After the epochs: a stopped run checkpoints its mid-epoch position (no test evaluation: the
   * run is not finished, and at scale it takes minutes); a finished one takes its best weights
   * (with --patience), is evaluated on the test tuples and writes its final checkpoint.
   */
  async finish(t0: number): Promise<TrainResult> {
    const { model, history, c, ds } = this;
    const embeddings = this.embeddings.vectors;
    if (this.stopped) {
      // Current weights and optimizer state with the mid-epoch position: --resume continues exactly.
      await this.checkpoint(this.position);
      const seconds = (performance.now() - t0) / 1000;
      return { model, history, embeddings, stopped: true, seconds };
    }
    this.position = { ...this.position, phase: "done", epoch: 0, step: 0 };
    if (this.best && c.patience > 0) {
      assignVariables([...model.gVars(), ...model.dVars()], this.best, "best weights");
    }
    // One pass over the validation tuples feeds both the temperature and the OOD threshold.
    const validation = ds.validation.length > 0
      ? await predictTuples(model, ds, ds.validation)
      : undefined;
    const fit = this.calibration = await this.calibrate(validation);
    if (validation) {
      this.ood = {
        realThreshold: await realScoreQuantile(model, ds, ds.validation, 0.01, validation),
      };
    }
    const map = checkpointCalibration({ calibration: fit });
    const evaluated = await evaluateCalibrated(model, ds, ds.test, map);
    const test = evaluated.metrics;
    const calibration: CalibrationReport = {
      method: fit?.method ?? "none",
      temperature: map.temperature,
      ...(fit?.bias ? { bias: fit.bias } : {}),
      ...(fit ? { validation: fit.validation } : {}),
      test: evaluated.calibration,
    };
    const baselines = itemBaselines(ds, ds.test);
    const seconds = (performance.now() - t0) / 1000;
    await this.checkpoint(this.position, {
      split: "test",
      recsimu: test,
      baselines,
      calibration,
      config: c,
      seed: c.seed,
      backend: backendInfo()?.name,
      trainSeconds: seconds,
    });
    return { model, history, test, baselines, calibration, embeddings, stopped: false, seconds };
  }

  /**
   * The temperature (and, with `temperature-bias`, per-class biases) of D's real-class logits
   * that {@link calibrationMethod} names, fitted on the validation tuples (the final weights'; never
   * the test tuples); else, or without validation tuples, none (T = 1). `probs`: D's
   * probabilities of the validation tuples, when computed.
   */
  async calibrate(probs?: Float32Array): Promise<ModelCalibration | undefined> {
    const { ds, c } = this;
    const method = calibrationMethod(c);
    if (method === undefined) return undefined;
    if (ds.validation.length === 0) {
      this.say("calibration: no validation tuples to fit a temperature on; T = 1");
      return undefined;
    }
    const fit = await fitModelCalibration(this.model, ds, ds.validation, method, probs);
    const { before, after } = fit.validation;
    const b = fit.bias ? `, bias [${fit.bias.map((x) => x.toFixed(3)).join(", ")}]` : "";
    this.say(
      `calibration: temperature ${fit.temperature.toFixed(4)}${b}; validation log-loss ${
        before.logLoss.toFixed(4)
      } -> ${after.logLoss.toFixed(4)}, ECE ${before.ece.toFixed(4)} -> ${
        after.ece.toFixed(4)
      }, AUC ${before.auc.toFixed(4)} -> ${after.auc.toFixed(4)}`,
    );
    return fit;
  }
}

/**
 * Trains RecSimu on `ds` following Algorithm 1.
 *
 * @example
 * ```ts
 * import {
 *   initBackend,
 *   loadDataset,
 *   SYNTH_DEFAULTS,
 *   TRAIN_DEFAULTS,
 *   trainRecSimu,
 *   validateConfig,
 *   writeSynthLog,
 * } from "@recsimu/recsimu";
 *
 * await initBackend("cpu", { quiet: true });
 * const dir = await Deno.makeTempDir();
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 20, items: 20 });
 * const shape = { stateLength: 5, minStateLength: 5, minCount: 1 };
 * const ds = await loadDataset(`${dir}/log.csv`, shape);
 * // A tiny model (a second or two); the defaults are the paper's.
 * const config = validateConfig({ ...TRAIN_DEFAULTS, ...shape, hidden: 8, fc: 8, embDim: 6 });
 * const result = await trainRecSimu(ds, config, { out: `${dir}/model`, quiet: true });
 * if (!result.stopped) {
 *   result.test.auc; // RecSimu's test AUC
 *   result.baselines.item_rate.auc; // the item-rate baseline's, on the same tuples
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function trainRecSimu(
  ds: Dataset,
  c: TrainConfig,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const t0 = performance.now();
  checkTrainable(ds);
  const resumed = opts.resume ? await loadForResume(ds, c, opts.out) : undefined;
  // The log's loading garbage (hundreds of MB at paper scale) and whatever the caller allocated
  // since goes before the next phases; the loader's own last collection does not make this one
  // redundant (docs/performance.md has the measurement).
  collectGarbage();
  const run = new TrainingRun(ds, c, opts, await itemEmbeddings(ds, c, opts, resumed));
  try {
    if (resumed) await run.restore(resumed);
    await run.runPhases();
    return await run.finish(t0);
  } finally {
    run.trainer.dispose(); // the optimisers; the model goes to the caller
  }
}
