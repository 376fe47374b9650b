/**
 * `recsimu train --data LOG.csv --out MODEL_DIR [flags]`: Algorithm 1 on a log, checkpoint in
 * MODEL_DIR, test metrics as JSON on stdout and as a table on stderr.
 * @module
 */
import { numFlag, parseFlags, requireFlag } from "./_flags.ts";
import {
  type Arch,
  ARCH_DEFAULTS,
  type Calibrate,
  type Split,
  TRAIN_DEFAULTS,
  type TrainConfig,
  validateConfig,
  type Variant,
} from "../config.ts";
import { BACKENDS, initBackend, parseBackend } from "../tf.ts";
import {
  type Dataset,
  datasetOptions,
  formatStats,
  loadDataset,
  sessionRole,
} from "../data/dataset.ts";
import { loadEmbeddingsCsv } from "../embeddings/load.ts";
import { type FinishedTraining, trainRecSimu } from "../train/loop.ts";
import { fitLeaveModel, saveLeaveModel } from "../train/fit_leave.ts";
import type { LeaveModelData } from "../train/leave_features.ts";
import { fitSupportModel, saveSupportModel } from "../train/fit_support.ts";
import type { SupportModelData } from "../train/support_features.ts";
import { fitGlmModel, saveGlmModel } from "../train/fit_glm.ts";
import type { GlmModelData } from "../train/glm_features.ts";
import { autoUserModel } from "../sim/user_model.ts";
import { assertCheckpointDir } from "../train/checkpoint.ts";
import { metricsTable } from "../eval/table.ts";
import { testSetWarnings } from "../eval/evaluate.ts";
import { UserError } from "../errors.ts";
import {
  alignItemFeatures,
  type ItemFeatureFile,
  type ItemFeatures,
  itemsWithFeatures,
  readItemFeatures,
} from "../data/item_features.ts";
import { claimOutputDir, outputPath } from "../output.ts";
import { listenForStop } from "./_signals.ts";

const D = TRAIN_DEFAULTS;

/** Flags shared by commands that train (train, experiment, demo). */
export const TRAIN_FLAGS = {
  arch: { type: "string" },
  "item-dim": { type: "string" },
  heads: { type: "string" },
  "rare-mask": { type: "string" },
  "propensity-clip": { type: "string" },
  "match-features": { type: "string" },
  wide: { type: "string" },
  "residual-items": { type: "string" },
  "state-length": { type: "string" },
  "min-count": { type: "string" },
  positive: { type: "string" },
  "min-state-length": { type: "string" },
  upsample: { type: "string" },
  "emb-dim": { type: "string" },
  "feedback-dim": { type: "string" },
  hidden: { type: "string" },
  fc: { type: "string" },
  alpha: { type: "string" },
  beta: { type: "string" },
  lambda: { type: "string" },
  lr: { type: "string" },
  batch: { type: "string" },
  "micro-batch": { type: "string" },
  "pre-g-epochs": { type: "string" },
  "pre-d-epochs": { type: "string" },
  epochs: { type: "string" },
  "d-steps": { type: "string" },
  "g-steps": { type: "string" },
  patience: { type: "string" },
  update: { type: "string" },
  "item-bias": { type: "boolean" },
  variant: { type: "string" },
  calibrate: { type: "string" },
  "i2v-epochs": { type: "string" },
  "i2v-lr": { type: "string" },
  seed: { type: "string" },
} as const;

/** Help text of {@link TRAIN_FLAGS}. */
export const TRAIN_FLAGS_HELP = `Data:
  --state-length N       history pairs per state (default ${D.stateLength})
  --min-count C          items seen fewer times get no own embedding: answered as the shared
                         rare item (attn), their rows dropped (paper) (default ${D.minCount})
  --positive L1,L2       positive labels (default ${D.positive.join(",")})
  --min-state-length M   shortest (left-padded) state trained on (default ${D.minStateLength};
                         paper: N, full states only)
  --upsample R           repeat positive training tuples R times in all (default 1)
Model:
  --arch A               attn: D with target attention over the history, trainable item
                         vectors, item bias, repetition features and ${D.heads} heads (default) |
                         paper: the paper's exact networks (its experiments use them)
  --item-dim D           attn: width of the trainable item vectors (default ${D.itemDim})
  --heads M              attn: ensemble heads, their spread is the uncertainty (default ${D.heads})
  --rare-mask P          attn: share of known items trained as the rare item (default ${D.rareMask})
  --residual-items R     attn: most items with a residual vector of their own; the rest (by
                         count) share one (default ${D.residualItems}; 0: all)
  --match-features 0|1   attn: D also sees the candidate's item2vec cosine to the history's
                         items (mean and max per feedback class, the last 3, the run of
                         similar ones) and, with item side features, the share of history
                         items with the candidate's value
                         (default ${D.matchFeatures ? 1 : 0}; paper: 0)
  --wide 0|1             attn: a linear path from the match features straight to D's
                         real-class logits, beside the trunk (default ${D.wide ? 1 : 0}; paper: 0)
  --propensity-clip C    weight D's training tuples by 1 / π(a | s), the generator's estimate
                         of the logging policy, clipped at C (default 0: off)
  --emb-dim E            item2vec size (default ${D.embDim})
  --feedback-dim F       feedback embedding size (default ${D.feedbackDim})
  --hidden H             GRU size (default ${D.hidden})
  --fc W                 FC width (default ${D.fc})
  --i2v-epochs K         item2vec epochs (default ${D.i2vEpochs}; paper: ${ARCH_DEFAULTS.paper.i2vEpochs})
  --i2v-lr R             item2vec learning rate (default ${D.i2vLearningRate}; paper: ${ARCH_DEFAULTS.paper.i2vLearningRate})
Training (Algorithm 1):
  --alpha A              weight of L_supD in D's loss, Eq. 9 (default ${D.alpha})
  --beta B               weight of L_supG in G's loss, Eq. 12 (default ${D.beta})
  --lambda L             weight of the fake-class term in L_supD, Eq. 8 (default ${D.lambda})
  --lr R                 Adam learning rate (default ${D.learningRate})
  --batch B              batch size (default ${D.batch})
  --seed S               root seed (default ${D.seed})
  --micro-batch M        gradients over micro-batches of M rows: same update, less memory (0: off)
  --pre-g-epochs P       generator pre-training epochs (default ${D.preGEpochs})
  --pre-d-epochs P       discriminator pre-training epochs (default ${D.preDEpochs})
  --epochs E             adversarial epochs (default ${D.epochs})
  --d-steps K            discriminator updates per adversarial round (default ${D.dSteps})
  --g-steps K            generator updates per adversarial round (default ${D.gSteps})
  --update U             sequential (Algorithm 1 as written) | fused (one pass per network,
                         simultaneous update; ~15% faster) (default ${D.update})
  --patience P           early stop after P epochs without better validation AUC (default ${D.patience}: off)
  --item-bias            beyond the paper: trainable per-item bias on D's real-class logits
  --variant V            recsimu | recsimu-1 (K+1 outputs) | recsimu-3 (no adversarial terms);
                         RecSimu-2 is --beta 0
  --calibrate C          after training, fit on the validation tuples: temperature-bias: T and
                         a bias per label, answer softmax(z / T + b) | temperature: T alone,
                         softmax(z / T) | auto: temperature-bias with --split users,
                         temperature with --split last | none: D as trained
                         (default ${D.calibrate})`;

/** `--split users`: the sessions the test holds out, for the leave fit to leave out. */
function testUsers(
  ds: Dataset,
  c: TrainConfig,
): { sessions: ReadonlySet<number>; reason: string } | undefined {
  if (c.split !== "users") return undefined;
  const sessions = new Set<number>();
  ds.sessionIds.forEach((id, j) => {
    if (sessionRole(id, c.seed, c.holdout, 0) === "test") sessions.add(j);
  });
  return { sessions, reason: "--split users: the test users" };
}

/**
 * Builds a TrainConfig from parsed flags. `--item-features` needs the file read first
 * ({@link itemFeaturesFromFlags}): only `recsimu train` takes it, here it is refused.
 */
export function configFromFlags(v: Record<string, string | boolean | undefined>): TrainConfig {
  for (const flag of ["item-features", "item-feature-columns"]) {
    if (v[flag] !== undefined) throw new UserError(`--${flag}: only recsimu train reads it`);
  }
  const int = { integer: true, min: 0 };
  const n = (name: string, fallback: number, o = {}) => numFlag(name, v[name], fallback, o);
  const stateLength = n("state-length", D.stateLength, { integer: true, min: 1 });
  const arch = (typeof v.arch === "string" ? v.arch : D.arch) as Arch;
  const A = ARCH_DEFAULTS[arch] ?? ARCH_DEFAULTS.attn; // an unknown --arch fails validation
  const matchFeatures =
    n("match-features", A.matchFeatures ? 1 : 0, { integer: true, min: 0, max: 1 }) === 1;
  return validateConfig({
    arch,
    itemDim: n("item-dim", D.itemDim, { integer: true, min: 1 }),
    heads: n("heads", A.heads, { integer: true, min: 1 }),
    rareMask: n("rare-mask", A.rareMask, { min: 0 }),
    residualItems: n("residual-items", D.residualItems, int),
    itemFeatures: null,
    matchFeatures,
    // On by default only where match features are: `--match-features 0` alone stays valid.
    wide: n("wide", matchFeatures && D.wide ? 1 : 0, { integer: true, min: 0, max: 1 }) === 1,
    propensityClip: n("propensity-clip", D.propensityClip, { min: 0 }),
    stateLength,
    minCount: n("min-count", D.minCount, { integer: true, min: 1 }),
    positive: typeof v.positive === "string"
      ? v.positive.split(",").map((s) => s.trim()).filter(Boolean)
      : [...D.positive],
    minStateLength: n("min-state-length", arch === "paper" ? stateLength : D.minStateLength, int),
    ...splitFromFlags(v),
    upsample: n("upsample", D.upsample, { min: 1 }),
    embDim: n("emb-dim", D.embDim, { integer: true, min: 1 }),
    feedbackDim: n("feedback-dim", D.feedbackDim, { integer: true, min: 1 }),
    hidden: n("hidden", D.hidden, { integer: true, min: 1 }),
    fc: n("fc", D.fc, { integer: true, min: 1 }),
    alpha: n("alpha", D.alpha, { min: 0 }),
    beta: n("beta", D.beta, { min: 0 }),
    lambda: n("lambda", D.lambda, { min: 0 }),
    learningRate: n("lr", D.learningRate, { min: 1e-12 }),
    batch: n("batch", D.batch, { integer: true, min: 1 }),
    microBatch: n("micro-batch", D.microBatch, int),
    preGEpochs: n("pre-g-epochs", D.preGEpochs, int),
    preDEpochs: n("pre-d-epochs", D.preDEpochs, int),
    epochs: n("epochs", D.epochs, int),
    dSteps: n("d-steps", D.dSteps, { integer: true, min: 1 }),
    gSteps: n("g-steps", D.gSteps, { integer: true, min: 1 }),
    patience: n("patience", D.patience, int),
    update: (typeof v.update === "string" ? v.update : D.update) as TrainConfig["update"],
    itemBias: v["item-bias"] === true,
    variant: (typeof v.variant === "string" ? v.variant : D.variant) as Variant,
    calibrate: (typeof v.calibrate === "string" ? v.calibrate : D.calibrate) as Calibrate,
    i2vEpochs: n("i2v-epochs", A.i2vEpochs, { integer: true, min: 1 }),
    i2vLearningRate: n("i2v-lr", A.i2vLearningRate, { min: 1e-9 }),
    seed: n("seed", D.seed, int),
  });
}

/**
 * `--item-features FILE [--item-feature-columns a,b]` of train: the file read (undefined without
 * the flag) and `config` with it recorded; refused unless `--arch attn`.
 */
export async function itemFeaturesFromFlags(
  v: Record<string, string | boolean | undefined>,
  config: TrainConfig,
): Promise<{ file: ItemFeatureFile; config: TrainConfig } | undefined> {
  const path = v["item-features"], cols = v["item-feature-columns"];
  if (cols !== undefined && typeof path !== "string") {
    throw new UserError("--item-feature-columns: only with --item-features FILE");
  }
  if (typeof path !== "string") return undefined;
  if (path === "") throw new UserError("--item-features: expected a file");
  if (config.arch !== "attn") {
    throw new UserError(`--item-features: only with --arch attn, got --arch ${config.arch}`);
  }
  const columns = typeof cols === "string"
    ? cols.split(",").map((s) => s.trim()).filter(Boolean)
    : undefined;
  if (columns?.length === 0) throw new UserError("--item-feature-columns: expected names a,b");
  const file = await readItemFeatures(path, { columns });
  const spec = { file: path, sha256: file.sha256, columns: file.columns };
  return { file, config: validateConfig({ ...config, itemFeatures: spec }) };
}

/**
 * `--split` and `--holdout` (train's own flags; other commands that train keep the default
 * split). A `--holdout` without `--split users` would be ignored, so it is refused.
 */
function splitFromFlags(v: Record<string, string | boolean | undefined>): Pick<
  TrainConfig,
  "split" | "holdout"
> {
  const split = (typeof v.split === "string" ? v.split : D.split) as Split;
  if (v.holdout !== undefined && split !== "users") {
    throw new UserError("--holdout: only with --split users (the share of sessions held out)");
  }
  return { split, holdout: numFlag("holdout", v.holdout, D.holdout, { min: 0, max: 1 }) };
}

const USAGE = `Usage: recsimu train --data LOG.csv --out MODEL_DIR [flags]

Trains a RecSimu simulator (generator + discriminator) on a session log
(CSV: session_id,item_id,feedback[,timestamp]) and writes a checkpoint directory.
Test metrics go to stdout (JSON) and stderr (table). SIGINT/SIGTERM stop at the next step
and write a checkpoint that --resume continues.

Flags:
  --data FILE            the log (required)
  --out DIR              checkpoint folder (required): a new or empty folder, or with
                         --resume / --overwrite one that holds a recsimu checkpoint
  --resume               continue the checkpoint in --out (same data and flags)
  --overwrite            replace the checkpoint in --out (only a recsimu checkpoint)
  --embeddings FILE      item embeddings CSV (item_id,v1,...,vE) instead of item2vec
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no progress output
  --time-budget S        stop like SIGINT once the training steps (after loading and item2vec)
                         have run S seconds (resumable checkpoint)
  --split S              last: each session's last tuple tests (the paper's protocol) | users:
                         every tuple of a seeded share of the sessions tests (default ${D.split})
  --holdout H            --split users: share of sessions held out to test, 10% more validate
                         (default ${D.holdout})
Item side features:
  --item-features FILE   attn: categorical item side features, a CSV
                         item_id,<col>...; a trainable vector per value of each column is added
                         to the item vectors (bucket continuous values yourself; unlisted items:
                         unknown) (default: none)
  --item-feature-columns C1,C2
                         the columns of --item-features to use (default: all but item_id)
${TRAIN_FLAGS_HELP}`;

/** Flags of the commands that read a log and write a folder (train, experiment). */
export const DATA_RUN_FLAGS = {
  data: { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  overwrite: { type: "boolean" },
  embeddings: { type: "string" },
  backend: { type: "string" },
  quiet: { type: "boolean" },
} as const;

const FLAGS = {
  ...DATA_RUN_FLAGS,
  "time-budget": { type: "string" },
  split: { type: "string" },
  holdout: { type: "string" },
  "item-features": { type: "string" },
  "item-feature-columns": { type: "string" },
  ...TRAIN_FLAGS,
} as const;

type Flags = Record<keyof typeof FLAGS, string | boolean | undefined>;

/** Entry point of `recsimu train`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("train", argv, FLAGS, USAGE);
  if (!v) return;
  const data = requireFlag("train", "data", v.data);
  const outGiven = requireFlag("train", "out", v.out);
  let config = configFromFlags({
    ...v,
    "item-features": undefined,
    "item-feature-columns": undefined,
  });
  const backend = parseBackend(v.backend);
  if (v.resume && v.overwrite) throw new UserError("--resume and --overwrite exclude each other");
  const features = await itemFeaturesFromFlags(v, config);
  if (features) config = features.config;
  const out = await claimCheckpointDir(v, outGiven, data);
  const ds = await loadDataset(data, datasetOptions(config));
  if (!v.quiet) console.error(formatStats(ds));
  const itemFeatures = features && alignItemFeatures(features.file, ds.items);
  if (itemFeatures && !v.quiet) {
    console.error(
      `item features: ${
        itemFeatures.columns.map((c, j) => `${c} (${itemFeatures.values[j]!.length} values)`)
          .join(", ")
      }; ${itemsWithFeatures(itemFeatures, ds.items.length)} of ${ds.items.length} items listed`,
    );
  }
  await initBackend(backend, { quiet: !!v.quiet });
  const embeddings = typeof v.embeddings === "string"
    ? {
      vectors: await loadEmbeddingsCsv(v.embeddings, ds.items, config.embDim),
      source: v.embeddings,
    }
    : undefined;
  const budget = numFlag("time-budget", v["time-budget"], 0, { min: 0 });
  let started: number | undefined; // set by the first training step
  const stop = listenForStop("train");
  try {
    const r = await trainRecSimu(ds, config, {
      out,
      resume: !!v.resume,
      embeddings,
      itemFeatures,
      quiet: !!v.quiet,
      shouldStop: () => {
        started ??= performance.now();
        return stop.requested || (budget > 0 && performance.now() - started > budget * 1000);
      },
    });
    if (r.stopped) {
      console.error(
        `recsimu train: stopped; checkpoint in "${outGiven}" (continue with --resume)`,
      );
      return;
    }
    const fitted = await fitBesideModel(out, ds, config, r, itemFeatures);
    report(r, ds, config, outGiven, !!v.quiet, fitted);
  } finally {
    stop.dispose();
  }
}

/** What {@link fitBesideModel} fits into a finished checkpoint. */
export interface BesideModels {
  leave: LeaveModelData;
  support: SupportModelData;
  glm: GlmModelData;
}

/**
 * Fits the models that live beside the networks into the finished checkpoint in `out` (`train`
 * and `demo`): the learned leave model, from the log's session ends (with --split users the test
 * users stay unseen by it too); the support model (where the logging policy went) and the
 * structured user model (`--user-model glm`), from the training tuples and the model's vectors.
 */
export async function fitBesideModel(
  out: string,
  ds: Dataset,
  config: TrainConfig,
  r: FinishedTraining,
  itemFeatures?: ItemFeatures,
): Promise<BesideModels> {
  const leave = fitLeaveModel(ds, { seed: config.seed, exclude: testUsers(ds, config) });
  await saveLeaveModel(out, leave);
  const vectors = { vectors: r.embeddings, dim: r.model.shape.embDim };
  const support = fitSupportModel(ds, vectors, { seed: config.seed });
  await saveSupportModel(out, support);
  const glm = fitGlmModel(ds, vectors, itemFeatures, { seed: config.seed });
  await saveGlmModel(out, glm);
  return { leave, support, glm };
}

/**
 * The checkpoint folder `--out`, claimed before any work so that nothing a user wrote is ever
 * replaced: new or empty, or with --resume / --overwrite a recsimu checkpoint.
 */
async function claimCheckpointDir(v: Flags, outGiven: string, data: string): Promise<string> {
  const out = outputPath("--out", outGiven);
  // --resume also accepts the backup an interrupted checkpoint write left (loadCheckpoint).
  const recovering = v.resume && await assertCheckpointDir(out).then(
    () => Deno.lstat(out).then(() => false, () => true),
  );
  if (!recovering) {
    await claimOutputDir(out, {
      flag: "--out",
      kind: "checkpoint",
      resume: !!v.resume,
      overwrite: !!v.overwrite,
      inputs: [
        data,
        ...[v.embeddings, v["item-features"]].filter((x): x is string => typeof x === "string"),
      ],
    });
  }
  return out;
}

/** The test metrics: a table on stderr (unless quiet), warnings, and JSON on stdout. */
function report(
  r: FinishedTraining,
  ds: Dataset,
  config: TrainConfig,
  outGiven: string,
  quiet: boolean,
  fitted: BesideModels,
): void {
  const { leave, support, glm } = fitted;
  const gh = glm.heldout;
  // What --user-model auto will answer with (lib/sim/user_model.ts reads the same two figures).
  const networkLoss = r.calibration.validation?.after.logLoss ?? null;
  const auto = autoUserModel(networkLoss, gh?.log_loss ?? null);
  if (!quiet && gh !== null) {
    console.error(
      `structured user model (--user-model glm): held-out AUC ${gh.auc?.toFixed(4) ?? "n/a"}, ` +
        `log-loss ${gh.log_loss.toFixed(4)} (base rates ${gh.base_log_loss.toFixed(4)}) on ` +
        `${gh.tuples} validation tuples; --user-model auto answers with the ${auto}` +
        (networkLoss !== null
          ? ` (the network's validation log-loss ${networkLoss.toFixed(4)})`
          : ""),
    );
  }
  const h = leave.heldout, sh = support.heldout;
  if (!quiet && sh !== null) {
    console.error(
      `support model: held-out AUC ${sh.auc?.toFixed(4) ?? "n/a"} for logged vs uniform items ` +
        `on ${sh.tuples} tuples; off support below ${support.threshold.toFixed(3)}: ` +
        `${(100 * sh.logged_flagged).toFixed(1)}% of logged, ${
          (100 * sh.uniform_flagged).toFixed(1)
        }% of uniform`,
    );
  }
  if (!quiet && h !== null) {
    console.error(
      `leave model: held-out AUC ${h.auc?.toFixed(4) ?? "n/a"} on ${h.sessions} sessions ` +
        `(${h.rows} rows, base rate ${h.base_rate.toFixed(4)}); log-loss ${
          h.log_loss?.toFixed(4)
        } vs ${h.base_log_loss?.toFixed(4)} for the base rate`,
    );
  }
  if (!quiet) {
    console.error(metricsTable({ recsimu: r.test, ...r.baselines }));
    const { method, temperature, bias, test: { before, after } } = r.calibration;
    if (method !== "none") {
      const b = bias ? `, bias [${bias.map((x) => x.toFixed(3)).join(", ")}]` : "";
      console.error(
        `calibration: temperature ${temperature.toFixed(4)}${b}; test log-loss ${
          before.logLoss.toFixed(4)
        } -> ${after.logLoss.toFixed(4)}, ECE ${before.ece.toFixed(4)} -> ${after.ece.toFixed(4)}`,
      );
    }
    console.error(`checkpoint: ${outGiven} (${r.seconds.toFixed(1)}s)`);
  }
  // A too-small test set: printed under --quiet too (a warning is not progress).
  const warnings = testSetWarnings(ds, ds.test);
  for (const w of warnings) console.error(`warning: ${w}`);
  console.log(
    JSON.stringify({
      model: outGiven,
      split: "test",
      seed: config.seed,
      seconds: r.seconds,
      recsimu: r.test,
      baselines: r.baselines,
      calibration: r.calibration,
      warnings,
      leave: { train: leave.train, heldout: leave.heldout },
      support: { train: support.train, threshold: support.threshold, heldout: support.heldout },
      glm: { train: glm.train, heldout: glm.heldout },
      user_model_auto: auto,
    }),
  );
  r.model.dispose();
}
