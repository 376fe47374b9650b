/**
 * Algorithm 1 end to end: pre-train G on L_supG, pre-train D on L_supD, then alternate d-steps
 * and g-steps on L_D and L_G; validation AUC after every D epoch, optional early stopping with
 * the best weights restored, a checkpoint after every epoch, test metrics at the end.
 * The loop only coordinates, logs and checkpoints; the updates live in `recsimu.ts`.
 * @module
 */
import { backendInfo, tf } from "../tf.ts";
import { deriveSeed, Rng } from "../random.ts";
import { DivergenceError, UserError } from "../errors.ts";
import type { TrainConfig } from "../config.ts";
import type { Dataset } from "../data/dataset.ts";
import { batchIndices, disposeBatch, toTensors } from "../data/batches.ts";
import { trainItem2Vec } from "../embeddings/item2vec.ts";
import { collectGarbage } from "../memory.ts";
import {
  evaluateModel,
  type FeedbackMetrics,
  type ItemBaselines,
  itemBaselines,
} from "../eval/evaluate.ts";
import { log, Progress } from "../progress.ts";
import {
  adversarialStep,
  discriminatorPretrainStep,
  fusedAdversarialStep,
  generatorPretrainStep,
  type ModelShape,
  RecSimuModel,
} from "./recsimu.ts";
import {
  assignVariables,
  CHECKPOINT_FORMAT,
  type CheckpointData,
  type CheckpointMeta,
  loadCheckpoint,
  readOptimizer,
  readVariables,
  RECSIMU_VERSION,
  restoreOptimizer,
  saveCheckpoint,
  type TrainingPosition,
} from "./checkpoint.ts";
import type { StepRecord } from "../sim/types.ts";

/** One epoch's record in history.json. */
export interface EpochRecord {
  phase: "pre_g" | "pre_d" | "adv";
  epoch: number;
  seconds: number;
  samplesPerSecond: number;
  loss: Record<string, number>;
  validation?: FeedbackMetrics;
}

/** Options of {@link trainRecSimu}. */
export interface TrainOptions {
  /** Checkpoint directory (written after every epoch). */
  out?: string;
  /** Continue from the checkpoint in `out`. @default false */
  resume?: boolean;
  /** Pre-computed item embeddings [V, E] and where they came from; else item2vec. */
  embeddings?: { vectors: Float32Array; source: string };
  /** No progress output. @default false */
  quiet?: boolean;
  /** Checked between steps; when it returns true, training stops after the current step. */
  shouldStop?: () => boolean;
  /** Called after each epoch (tests use it to inspect tensor counts). */
  onEpoch?: (r: EpochRecord) => void;
}

/** What {@link trainRecSimu} returns: test metrics once training finished, none when stopped. */
export type TrainResult =
  & {
    model: RecSimuModel;
    history: EpochRecord[];
    embeddings: Float32Array;
    seconds: number;
  }
  & (
    | { stopped: false; test: FeedbackMetrics; baselines: ItemBaselines }
    | { stopped: true; test?: undefined; baselines?: undefined }
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

/** Training rows, with positive tuples repeated `upsample` times (fraction drawn with the seed). */
export function trainingRows(ds: Dataset, c: TrainConfig): Int32Array {
  if (c.upsample === 1) return ds.train;
  const rng = new Rng(deriveSeed(c.seed, "upsample"));
  const out: number[] = [];
  for (const r of ds.train) {
    out.push(r);
    if (ds.positive[ds.rowLabel[r]!]) {
      const extra = c.upsample - 1;
      const copies = Math.floor(extra) + (rng.next() < extra - Math.floor(extra) ? 1 : 0);
      for (let i = 0; i < copies; i++) out.push(r);
    }
  }
  return Int32Array.from(out);
}

/** Real start states: the histories before the test actions (up to `limit`). */
export function startStates(ds: Dataset, limit = 1000): StepRecord[][] {
  const out: StepRecord[][] = [];
  for (const a of ds.test.subarray(0, limit)) {
    const s: StepRecord[] = [];
    for (let r = Math.max(ds.rowSessionStart[a]!, a - ds.stateLength); r < a; r++) {
      s.push({ item: ds.items[ds.rowItem[r]!]!, feedback: ds.labels[ds.rowLabel[r]!]! });
    }
    out.push(s);
  }
  return out;
}

function modelShape(ds: Dataset, c: TrainConfig): ModelShape {
  return {
    items: ds.items.length,
    classes: ds.labels.length,
    embDim: c.embDim,
    feedbackDim: c.feedbackDim,
    hidden: c.hidden,
    fc: c.fc,
    fakeClasses: c.variant === "recsimu-1" ? 1 : ds.labels.length,
    stateLength: c.stateLength,
  };
}

/** Name of the first tensor holding NaN or Inf, if any. */
function firstNonFinite(
  tensors: Map<string, { data: Float32Array }>,
): string | undefined {
  for (const [name, t] of tensors) {
    for (const x of t.data) if (!Number.isFinite(x)) return name;
  }
  return undefined;
}

/** Trains RecSimu on `ds` following Algorithm 1. */
export async function trainRecSimu(
  ds: Dataset,
  c: TrainConfig,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const t0 = performance.now();
  const say = (s: string) => opts.quiet || log(s);
  if (ds.train.length === 0) {
    // A session yields a training tuple from max(M, 1) + 3 rows on: M history rows, then a
    // training, a validation and a test action.
    throw new UserError(
      `"${ds.file}": no training tuples (the longest session has ${ds.stats.sessionLength.max} rows after filtering, a training tuple needs ${
        Math.max(ds.minStateLength, 1) + 3
      }; lower --state-length or --min-count)`,
    );
  }
  let resumed: CheckpointData | undefined;
  if (opts.resume) {
    if (!opts.out) throw new UserError("--resume needs --out (the checkpoint to continue)");
    resumed = await loadCheckpoint(opts.out, { optimizer: true });
    if (resumed.meta.data.fingerprint !== ds.fingerprint) {
      throw new UserError(
        `--resume: "${opts.out}" was trained on other data (fingerprint ${
          resumed.meta.data.fingerprint.slice(0, 12)
        }…, this log ${ds.fingerprint.slice(0, 12)}…)`,
      );
    }
    const a = JSON.stringify({ ...resumed.meta.config, epochs: 0, patience: 0 });
    const b = JSON.stringify({ ...c, epochs: 0, patience: 0 });
    if (a !== b) {
      throw new UserError(
        `--resume: flags differ from the checkpoint's config (only --epochs and --patience may change)`,
      );
    }
  }
  // The log's loading garbage (hundreds of MB at paper scale) and whatever the caller allocated
  // since goes before the next phases; the loader's own last collection does not make this one
  // redundant (without it bench:memory's idle peak rose from 981 to 1,068 MB).
  collectGarbage();
  // Embeddings: resumed, given, or item2vec.
  let embeddings: Float32Array;
  let embSource: CheckpointMeta["embeddings"];
  if (resumed) {
    embeddings = resumed.embeddings;
    embSource = resumed.meta.embeddings;
  } else if (opts.embeddings) {
    embeddings = opts.embeddings.vectors;
    embSource = { source: opts.embeddings.source };
  } else {
    let prog: Progress | undefined;
    const r = await trainItem2Vec(ds, {
      dim: c.embDim,
      epochs: c.i2vEpochs,
      seed: c.seed,
      onStep: (s, n, l) => {
        prog ??= new Progress("item2vec", n, { quiet: opts.quiet, unitsPerStep: 8192 });
        prog.update(s, { loss: l });
      },
    });
    embeddings = r.vectors;
    embSource = { source: "item2vec", pairs: r.pairs, finalLoss: r.finalLoss, seconds: r.seconds };
    say(`item2vec: ${r.pairs} pairs, loss ${r.finalLoss.toFixed(4)}, ${r.seconds.toFixed(1)}s`);
  }
  const shape = modelShape(ds, c);
  collectGarbage(); // item2vec's output table and optimizer state, before the model's upload
  const model = new RecSimuModel(shape, embeddings, c);
  collectGarbage(); // the padded copy made for the upload
  let position: TrainingPosition = {
    phase: "pre_g",
    epoch: 0,
    step: 0,
    bestValAuc: -Infinity,
    sinceBest: 0,
  };
  let history: EpochRecord[] = [];
  if (resumed) {
    assignVariables(
      [...model.gVars(), ...model.dVars()],
      resumed.weights,
      `"${opts.out}/weights.bin"`,
    );
    if (resumed.optimizer) {
      await restoreOptimizer("G", model.optG, resumed.optimizer, model.gVars());
      await restoreOptimizer("D", model.optD, resumed.optimizer, model.dVars());
    }
    position = resumed.meta.position;
    if (position.bestValAuc === null) position.bestValAuc = -Infinity;
    history = resumed.history as EpochRecord[];
    say(`resumed from "${opts.out}" at phase ${position.phase}, ${position.epoch} epochs done`);
  }
  const rows = trainingRows(ds, c);
  const epochs = phaseEpochs(c);
  let best: Map<string, { shape: number[]; data: Float32Array }> | undefined;
  if (resumed?.optimizer && c.patience > 0) {
    // Early stopping keeps the best weights beside the optimizer state, under "best:".
    const kept = [...resumed.optimizer].filter(([k]) => k.startsWith("best:"));
    if (kept.length) best = new Map(kept.map(([k, v]) => [k.slice(5), v]));
  }
  let stopped = false;
  const meta = (pos: TrainingPosition): CheckpointMeta => ({
    format: CHECKPOINT_FORMAT,
    recsimu: RECSIMU_VERSION,
    config: c,
    shape,
    labels: ds.labels,
    positive: ds.positive,
    data: { file: ds.file, fingerprint: ds.fingerprint, stats: ds.stats },
    embeddings: embSource,
    versions: {
      tfjs: tf.version.tfjs,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
    backend: backendInfo()?.name ?? tf.getBackend(),
    position: pos,
    created: new Date().toISOString(),
  });
  const checkpoint = async (pos: TrainingPosition, metrics?: unknown) => {
    if (!opts.out) return;
    const weights = await readVariables([...model.gVars(), ...model.dVars()]);
    const optimizer = new Map([
      ...(await readOptimizer("G", model.optG)),
      ...(await readOptimizer("D", model.optD)),
      ...(best && pos.phase !== "done" ? [...best].map(([k, v]) => [`best:${k}`, v] as const) : []),
    ]);
    await saveCheckpoint(opts.out, {
      meta: meta(pos),
      items: ds.items,
      embeddings,
      weights,
      optimizer,
      history,
      startStates: startStates(ds),
      metrics,
    });
    saved = pos;
  };
  /** The last checkpoint on disk (its position), for the message of a divergence. */
  let saved: TrainingPosition | undefined = resumed?.meta.position;
  /** Frees the model (the caller never gets it) and says which checkpoint is left. */
  const diverged = (what: string): DivergenceError => {
    model.dispose();
    const at = saved &&
      (saved.step > 0
        ? `${saved.phase} epoch ${saved.epoch + 1} step ${saved.step}`
        : `${saved.phase} epoch ${saved.epoch}`);
    const kept = !opts.out
      ? ""
      : at
      ? `; the last good checkpoint (${at}) is kept in "${opts.out}"`
      : `; no checkpoint was written yet`;
    return new DivergenceError(`${what}${kept} — lower --lr and train again`);
  };

  let lastYield = performance.now();
  for (
    let pi = PHASES.indexOf(position.phase as (typeof PHASES)[number]);
    pi >= 0 && pi < PHASES.length;
    pi++
  ) {
    const phase = PHASES[pi]!;
    for (let ep = phase === position.phase ? position.epoch : 0; ep < epochs[phase]; ep++) {
      if (stopped) break;
      const order = new Rng(deriveSeed(c.seed, `shuffle:${phase}:${ep}`)).shuffle(rows.slice());
      const steps = Math.ceil(order.length / c.batch);
      const prog = new Progress(`${phase} ${ep + 1}/${epochs[phase]}`, steps, {
        quiet: opts.quiet,
        unitsPerStep: c.batch,
      });
      const resumeStep = phase === position.phase && ep === position.epoch ? position.step : 0;
      const sums: Record<string, number> = resumeStep ? { ...position.partial } : {};
      const te = performance.now();
      let done = resumeStep;
      for (let s = resumeStep; s < steps; s++) {
        const b = toTensors(
          batchIndices(ds, order.subarray(s * c.batch, (s + 1) * c.batch)),
          model.table,
          ds.stateLength,
        );
        let losses: Record<string, number>;
        try {
          if (phase === "pre_g") losses = { "loss/g_sup": await generatorPretrainStep(model, b) };
          else if (phase === "pre_d") {
            losses = { "loss/d_sup": await discriminatorPretrainStep(model, b) };
          } else {
            const r = await (c.update === "fused"
              ? fusedAdversarialStep(model, b)
              : adversarialStep(model, b));
            losses = { "loss/d": r.lossD, "loss/g": r.lossG };
          }
        } finally {
          disposeBatch(b);
        }
        for (const [k, v] of Object.entries(losses)) {
          if (!Number.isFinite(v)) {
            throw diverged(`${k} is ${v} at ${phase} epoch ${ep + 1} step ${s + 1}`);
          }
          sums[k] = (sums[k] ?? 0) + v;
        }
        done++;
        prog.update(s + 1, Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])));
        // A signal handler only runs when the event loop gets a turn, and the steps never give it
        // one on the CPU and WASM backends (their promises resolve at once): yield now and then.
        if (opts.shouldStop && performance.now() - lastYield > 100) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = performance.now();
        }
        if (opts.shouldStop?.() && s + 1 < steps) {
          stopped = true;
          position = { ...position, phase, epoch: ep, step: s + 1, partial: { ...sums } };
          say(
            `stopping at ${phase} epoch ${ep + 1} step ${
              s + 1
            }/${steps}; checkpoint keeps the position for --resume`,
          );
          break;
        }
      }
      // An update can make weights NaN or Inf while the loss it returned (computed before the
      // update) was finite: check them before they are validated or checkpointed.
      const bad = firstNonFinite(await readVariables([...model.gVars(), ...model.dVars()]));
      if (bad !== undefined) {
        throw diverged(`weights ${bad} are NaN or Inf after ${phase} epoch ${ep + 1} step ${done}`);
      }
      if (stopped) break;
      const seconds = (performance.now() - te) / 1000;
      const rec: EpochRecord = {
        phase,
        epoch: ep + 1,
        seconds,
        samplesPerSecond: (done * c.batch) / seconds,
        loss: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / done])),
      };
      const next: TrainingPosition = {
        ...position,
        phase,
        epoch: ep + 1,
        step: 0,
        partial: undefined,
      };
      collectGarbage(); // the epoch's JS garbage, before validation and the checkpoint
      if (phase !== "pre_g" && ds.validation.length > 0) {
        rec.validation = await evaluateModel(model, ds, ds.validation);
        const auc = rec.validation.auc;
        say(
          `${phase} epoch ${ep + 1}: validation AUC ${auc.toFixed(4)} F1 ${
            rec.validation.f1.toFixed(4)
          } (${seconds.toFixed(1)}s, ${rec.samplesPerSecond.toFixed(0)} samples/s)`,
        );
        if (Number.isFinite(auc) && auc > next.bestValAuc) {
          next.bestValAuc = auc;
          next.sinceBest = 0;
          if (c.patience > 0) best = await readVariables([...model.gVars(), ...model.dVars()]);
        } else {
          next.sinceBest++;
        }
      }
      history.push(rec);
      position = next;
      opts.onEpoch?.(rec);
      await checkpoint(position);
      if (phase === "adv" && c.patience > 0 && position.sinceBest >= c.patience) {
        say(`early stop: no better validation AUC for ${c.patience} epochs`);
        break;
      }
    }
    if (stopped) break;
  }
  if (stopped) {
    // Current weights and optimizer state with the mid-epoch position: --resume continues exactly.
    // No test evaluation: the run is not finished (and at scale it takes minutes).
    await checkpoint(position);
    const seconds = (performance.now() - t0) / 1000;
    return { model, history, embeddings, stopped: true, seconds };
  }
  position = { ...position, phase: "done", epoch: 0, step: 0 };
  if (best && c.patience > 0) {
    assignVariables([...model.gVars(), ...model.dVars()], best, "best weights");
  }
  const test = await evaluateModel(model, ds, ds.test);
  const baselines = itemBaselines(ds, ds.test);
  const seconds = (performance.now() - t0) / 1000;
  await checkpoint(position, {
    split: "test",
    recsimu: test,
    baselines,
    config: c,
    seed: c.seed,
    backend: backendInfo()?.name,
    trainSeconds: seconds,
  });
  return { model, history, test, baselines, embeddings, stopped: false, seconds };
}
