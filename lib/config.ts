/**
 * Training configuration: one type, a documented default for every field, and validation.
 * @module
 */
import { UserError } from "./errors.ts";

/** Which training recipe (the paper's RecSimu and its ablations, Figure 7). */
export type Variant = "recsimu" | "recsimu-1" | "recsimu-3";

/**
 * The user model's networks: `attn` (the default: D adds target attention over the history with
 * the candidate as query, trainable item vectors initialised from item2vec, an item bias,
 * repetition features and an ensemble of heads) or `paper` (the paper's exact networks).
 */
export type Arch = "attn" | "paper";

/** How tuples are split: each session's last tuple tests (`last`), or whole sessions (`users`). */
export type Split = "last" | "users";

/** How the simulator's probabilities are calibrated after training. */
export type Calibrate = "auto" | "none" | "temperature" | "temperature-bias";

/** The item side features a run was trained with (`--item-features`). */
export interface ItemFeaturesSpec {
  /** The CSV as given. */
  file: string;
  /** sha256 of its bytes. */
  sha256: string;
  /** The columns used, in order. */
  columns: string[];
}

/**
 * Every hyperparameter of a training run.
 *
 * @example
 * ```ts
 * import { TRAIN_DEFAULTS, type TrainConfig, validateConfig } from "@recsimu/recsimu";
 *
 * // The defaults with a smaller network and the three-step variant.
 * const config: TrainConfig = { ...TRAIN_DEFAULTS, hidden: 64, fc: 32, variant: "recsimu-3" };
 * validateConfig(config);
 * ```
 */
export interface TrainConfig {
  /** The networks: `attn` (default) or `paper` (the paper's, for its experiments). */
  arch: Arch;
  /** Width of the `attn` discriminator's trainable item vectors (its attention space). */
  itemDim: number;
  /**
   * Output heads of the `attn` discriminator (an ensemble on one trunk, each trained on its own
   * bootstrap weights of the batch): answers are their mean, their spread the uncertainty.
   */
  heads: number;
  /**
   * Share of known items replaced by the shared rare item in D's training batches (`attn`), so
   * that the rare item's representation learns what an unknown item looks like.
   */
  rareMask: number;
  /**
   * `attn`: most items with a trainable residual vector of their own. With more items in the
   * vocabulary, it is ordered by count and the items after the first `residualItems` share one
   * residual (each keeps its item2vec vector and bias): the residual table and its Adam state
   * stay bounded at the paper's scale (1 M items). 0: every item has its own.
   */
  residualItems: number;
  /**
   * `attn`: categorical item side features added to the item vectors (`--item-features`, read
   * by `recsimu train`); null: none.
   */
  itemFeatures: ItemFeaturesSpec | null;
  /**
   * `attn`: match features on fixed similarities (models/attn_discriminator.ts): the candidate's
   * item2vec cosine to the history's items by feedback class, and with item features the share
   * of history items with the candidate's value, with the runs of both.
   */
  matchFeatures: boolean;
  /**
   * `attn` with match features: a linear ("wide") path from the match features straight to the
   * real-class logits of every head, beside the trunk, initialised at zero.
   */
  wide: boolean;
  /**
   * Inverse-propensity weighting of D's training tuples by the generator's estimate of the
   * logging policy, clipped at this weight (lib/train/propensity.ts); 0: off.
   */
  propensityClip: number;
  /** State length N (pairs of history). */
  stateLength: number;
  /**
   * Items seen fewer times in the log get no own embedding: `attn` answers them as the shared
   * rare item, `paper` drops their rows (the paper's protocol).
   */
  minCount: number;
  /** Labels that count as positive. */
  positive: string[];
  /**
   * Shortest state used for training tuples: 1 by default (every tuple with a history; shorter
   * states are left-padded and masked), N = full states only, as in the paper (`--arch paper`'s
   * default).
   */
  minStateLength: number;
  /**
   * Test tuples: `last`, each session's last one (the paper's protocol); `users`, every tuple of
   * a seeded share `holdout` of the sessions (whole users held out), 10% more validating.
   */
  split: Split;
  /** Split `users`: the share of sessions held out for testing. */
  holdout: number;
  /** Positive training tuples are repeated this many times in total (1 = no up-sampling). */
  upsample: number;
  /** Item embedding size |E| (item2vec). */
  embDim: number;
  /** Feedback embedding size |F|. */
  feedbackDim: number;
  /** GRU hidden size. */
  hidden: number;
  /** Width of the fully connected layers. */
  fc: number;
  /** Weight α of L_supD in L_D (Eq. 9). */
  alpha: number;
  /** Weight β of L_supG in L_G (Eq. 12); 0 is the RecSimu-2 ablation. */
  beta: number;
  /** Weight λ of the fake-class term in L_supD (Eq. 8). */
  lambda: number;
  /** Adam learning rate for G and D. */
  learningRate: number;
  /** Mini-batch size. */
  batch: number;
  /**
   * Rows per gradient pass (0 = the whole batch): a batch's gradients are summed over
   * micro-batches of this size — the same update with less activation memory.
   */
  microBatch: number;
  /** Epochs of generator pre-training on L_supG. */
  preGEpochs: number;
  /** Epochs of discriminator pre-training on L_supD. */
  preDEpochs: number;
  /** Adversarial epochs (alternating d-steps and g-steps). */
  epochs: number;
  /** D updates per adversarial round. */
  dSteps: number;
  /** G updates per adversarial round. */
  gSteps: number;
  /** Stop after this many epochs without a better validation AUC (0 = never stop early). */
  patience: number;
  /**
   * Adversarial round: `sequential` (Algorithm 1 as written: d-steps, then g-steps against the
   * updated D; G(s) computed once, D's state twice) or `fused` (one forward/backward of each
   * network; the g-step sees D before the d-step's update; needs dSteps = gSteps = 1).
   */
  update: "sequential" | "fused";
  /**
   * Beyond the paper: a trainable per-item bias on D's real-class logits (re-weighting the K
   * feedback classes of a real pair, not its real/fake mass), for data where item identity
   * carries the signal that frozen item2vec vectors miss.
   */
  itemBias: boolean;
  /** Recipe: RecSimu, RecSimu-1 (one fake class) or RecSimu-3 (no adversarial terms). */
  variant: Variant;
  /**
   * After training: `temperature-bias` fits T and a bias per class on the validation tuples,
   * p = softmax(z_real / T + b); `temperature` fits T alone, p = softmax(z_real / T); either is
   * kept in the checkpoint and applied to every answer; `none` answers with D as trained; `auto`
   * is `temperature-bias` with `split: "users"` and `temperature` with `"last"`
   * ({@link calibrationMethod}).
   */
  calibrate: Calibrate;
  /** item2vec epochs over the skip-gram pairs. */
  i2vEpochs: number;
  /** item2vec's (Adam's) learning rate. */
  i2vLearningRate: number;
  /** Root seed; all others derive from it. */
  seed: number;
}

/** Labels counted as positive unless `--positive` says otherwise. */
export const DEFAULT_POSITIVE = ["click", "purchase", "pos", "like", "buy", "1"] as const;

/**
 * Defaults: the paper's where it gives them, else the PyTorch reference's.
 *
 * @example
 * ```ts
 * import { TRAIN_DEFAULTS, validateConfig } from "@recsimu/recsimu";
 *
 * TRAIN_DEFAULTS.stateLength; // 20, as in the paper
 * const config = validateConfig({ ...TRAIN_DEFAULTS, epochs: 5, seed: 1 });
 * ```
 */
export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  arch: "attn",
  itemDim: 32,
  heads: 4,
  rareMask: 0.02,
  residualItems: 100_000,
  itemFeatures: null,
  matchFeatures: true,
  wide: false,
  propensityClip: 0,
  stateLength: 20,
  minCount: 5,
  positive: [...DEFAULT_POSITIVE],
  minStateLength: 1,
  split: "last",
  holdout: 0.2,
  upsample: 1,
  embDim: 20,
  feedbackDim: 10,
  hidden: 128,
  fc: 64,
  alpha: 1,
  beta: 1,
  lambda: 0.3,
  learningRate: 0.001,
  batch: 500,
  microBatch: 0,
  preGEpochs: 1,
  preDEpochs: 1,
  epochs: 3,
  dSteps: 1,
  gSteps: 1,
  patience: 0,
  update: "sequential",
  itemBias: false,
  variant: "recsimu",
  calibrate: "auto",
  i2vEpochs: 5,
  i2vLearningRate: 0.05,
  seed: 0,
});

/**
 * A stored config with the fields that came with `--arch` filled in: a checkpoint written before
 * them used the paper's networks (one head, rare items dropped).
 *
 * @example
 * ```ts
 * import { TRAIN_DEFAULTS, withArchDefaults } from "@recsimu/recsimu";
 *
 * const { arch: _, heads: __, ...old } = TRAIN_DEFAULTS;
 * withArchDefaults(old as never).arch; // "paper"
 * ```
 */
export function withArchDefaults(c: TrainConfig): TrainConfig {
  const paper = ARCH_DEFAULTS.paper;
  // Configs written before `residualItems` gave every item its own residual (0).
  const residualItems = c.residualItems ?? 0;
  // Configs written before `itemFeatures` had none, before `propensityClip` no weighting.
  const itemFeatures = c.itemFeatures ?? null;
  const propensityClip = c.propensityClip ?? 0;
  // Configs written before `matchFeatures` had none.
  const matchFeatures = c.matchFeatures ?? false;
  const wide = c.wide ?? false; // configs written before `wide` had none
  if (c.arch !== undefined) {
    return {
      ...c,
      residualItems,
      itemFeatures,
      matchFeatures,
      wide,
      propensityClip,
      i2vLearningRate: c.i2vLearningRate ?? paper.i2vLearningRate,
    };
  }
  return {
    ...c,
    ...paper,
    residualItems,
    itemFeatures,
    matchFeatures: false, // the paper's networks have none
    wide: false,
    propensityClip,
    arch: "paper",
    itemDim: TRAIN_DEFAULTS.itemDim,
  };
}

/**
 * The defaults that differ between the architectures (the flags' defaults under `--arch`).
 * `paper` keeps the PyTorch reference's item2vec (1 epoch at 0.01), one head and no rare-item
 * masking; `attn` trains item2vec 5 epochs at 0.05: one epoch at 0.01 leaves the vectors nearly
 * unrelated to the items' categories on the truth worlds (docs/model.md).
 */
export const ARCH_DEFAULTS: Readonly<
  Record<
    Arch,
    Pick<TrainConfig, "heads" | "rareMask" | "i2vEpochs" | "i2vLearningRate" | "matchFeatures">
  >
> = Object.freeze({
  attn: { heads: 4, rareMask: 0.02, i2vEpochs: 5, i2vLearningRate: 0.05, matchFeatures: true },
  paper: { heads: 1, rareMask: 0, i2vEpochs: 1, i2vLearningRate: 0.01, matchFeatures: false },
});

/** Config fields that must be integers >= 1. */
const POSITIVE_INTEGERS = [
  "stateLength",
  "minCount",
  "embDim",
  "feedbackDim",
  "hidden",
  "fc",
  "batch",
  "dSteps",
  "gSteps",
  "i2vEpochs",
  "itemDim",
  "heads",
] as const;

/** Item features need the attn model and at least one column. */
function checkItemFeatures(c: TrainConfig): void {
  const features = c.itemFeatures ?? null; // hand-written configs may leave it out
  if (features !== null && c.arch !== "attn") {
    throw new UserError(`--item-features: only with --arch attn, got --arch ${c.arch}`);
  }
  if (features !== null && features.columns.length === 0) {
    throw new UserError("itemFeatures: name at least one column");
  }
}

/** Config fields that must be integers >= 0. */
const NON_NEGATIVE_INTEGERS = [
  "preGEpochs",
  "preDEpochs",
  "epochs",
  "patience",
  "seed",
  "microBatch",
  "residualItems",
] as const;

/**
 * Checks ranges; throws UserError naming the field.
 *
 * @example
 * ```ts
 * import { TRAIN_DEFAULTS, validateConfig } from "@recsimu/recsimu";
 *
 * validateConfig({ ...TRAIN_DEFAULTS, stateLength: 10, minStateLength: 10 }); // returns the config
 * try {
 *   validateConfig({ ...TRAIN_DEFAULTS, hidden: 0 });
 * } catch (e) {
 *   (e as Error).message; // "hidden must be a positive integer, got 0"
 * }
 * ```
 */
export function validateConfig(c: TrainConfig): TrainConfig {
  for (const k of POSITIVE_INTEGERS) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new UserError(`${k} must be a positive integer, got ${c[k]}`);
    }
  }
  for (const k of NON_NEGATIVE_INTEGERS) {
    if (!Number.isInteger(c[k]) || c[k] < 0) {
      throw new UserError(`${k} must be a non-negative integer, got ${c[k]}`);
    }
  }
  for (const k of ["alpha", "beta", "lambda"] as const) {
    if (!Number.isFinite(c[k]) || c[k] < 0) {
      throw new UserError(`${k} must be a non-negative number, got ${c[k]}`);
    }
  }
  if (!(c.learningRate > 0 && Number.isFinite(c.learningRate))) {
    throw new UserError(`learningRate must be positive, got ${c.learningRate}`);
  }
  if (!(c.upsample >= 1 && Number.isFinite(c.upsample))) {
    throw new UserError(`upsample must be ≥ 1, got ${c.upsample}`);
  }
  if (
    !Number.isInteger(c.minStateLength) || c.minStateLength < 0 || c.minStateLength > c.stateLength
  ) {
    throw new UserError(
      `minStateLength must be an integer in [0, ${c.stateLength}], got ${c.minStateLength}`,
    );
  }
  if (c.arch !== "attn" && c.arch !== "paper") {
    throw new UserError(`arch must be attn or paper, got ${c.arch}`);
  }
  if (!(c.i2vLearningRate > 0 && Number.isFinite(c.i2vLearningRate))) {
    throw new UserError(`i2vLearningRate must be positive, got ${c.i2vLearningRate}`);
  }
  if (!(c.rareMask >= 0 && c.rareMask < 1)) {
    throw new UserError(`rareMask must be in [0, 1), got ${c.rareMask}`);
  }
  checkItemFeatures(c);
  if (c.matchFeatures && c.arch !== "attn") {
    throw new UserError(`--match-features: only with --arch attn, got --arch ${c.arch}`);
  }
  if (c.wide && !c.matchFeatures) {
    throw new UserError("--wide 1: needs the match features (--match-features 1, --arch attn)");
  }
  const clip = c.propensityClip ?? 0; // hand-written configs may leave it out
  if (!(clip === 0 || clip > 1) || !Number.isFinite(clip)) {
    throw new UserError(`propensityClip must be 0 (off) or > 1, got ${c.propensityClip}`);
  }
  if (c.arch === "paper" && c.heads !== 1) {
    throw new UserError(`heads: the paper's networks have one head, got ${c.heads}`);
  }
  if (!["recsimu", "recsimu-1", "recsimu-3"].includes(c.variant)) {
    throw new UserError(`variant must be recsimu, recsimu-1 or recsimu-3, got ${c.variant}`);
  }
  if (!["auto", "none", "temperature", "temperature-bias"].includes(c.calibrate)) {
    throw new UserError(
      `calibrate must be auto, none, temperature or temperature-bias, got ${c.calibrate}`,
    );
  }
  if (c.split !== "last" && c.split !== "users") {
    throw new UserError(`split must be last or users, got ${c.split}`);
  }
  if (!(c.holdout > 0 && c.holdout < 0.9)) {
    throw new UserError(`holdout must be in (0, 0.9), got ${c.holdout}`);
  }
  if (c.update !== "sequential" && c.update !== "fused") {
    throw new UserError(`update must be sequential or fused, got ${c.update}`);
  }
  if (c.update === "fused" && (c.dSteps !== 1 || c.gSteps !== 1)) {
    throw new UserError("update fused needs --d-steps 1 --g-steps 1");
  }
  if (c.positive.length === 0) throw new UserError("positive: name at least one positive label");
  return c;
}

/**
 * What `calibrate` fits: `auto` is `temperature-bias` when the validation tuples are whole
 * sessions of their own users (`split: "users"`), distributed like the answers the simulator
 * gives, and `temperature` when they are each session's second-last tuple (`"last"`): those
 * come late in sessions, with a positive rate of their own, and a bias fitted on them moves
 * every answer by it (measured in docs/training.md#calibration). `none` fits nothing.
 *
 * @example
 * ```ts
 * import { calibrationMethod } from "./config.ts";
 * calibrationMethod({ calibrate: "auto", split: "users" }); // "temperature-bias"
 * calibrationMethod({ calibrate: "auto", split: "last" }); // "temperature"
 * ```
 */
export function calibrationMethod(
  c: Pick<TrainConfig, "calibrate" | "split">,
): "temperature" | "temperature-bias" | undefined {
  if (c.calibrate === "none") return undefined;
  if (c.calibrate !== "auto") return c.calibrate;
  return c.split === "users" ? "temperature-bias" : "temperature";
}
