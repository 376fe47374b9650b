/**
 * The RecSimu model: generator G, discriminator D and the frozen item-embedding table they
 * read. Training state (optimisers, step settings) lives with the trainer in `lib/train`.
 * @module
 */
import { tf } from "../lib/tf.ts";
import type { TupleBatch } from "../lib/data/batches.ts";
import { deriveSeed } from "../lib/random.ts";
import { UserError } from "../lib/errors.ts";
import { Generator } from "./generator.ts";
import { Discriminator } from "./discriminator.ts";
import { AttnDiscriminator } from "./attn_discriminator.ts";
import { type Arch, TRAIN_DEFAULTS } from "../lib/config.ts";
import { registerFastMatMulGrad, registerFastWasmKernels } from "./fast_grad.ts";
import { withPadAndRare } from "./params.ts";

/** Sizes that fix the networks' shapes. */
export interface ModelShape {
  items: number;
  classes: number;
  embDim: number;
  feedbackDim: number;
  hidden: number;
  fc: number;
  fakeClasses: number;
  stateLength: number;
  /** The networks (absent in checkpoints written before `attn` existed: `paper`). */
  arch?: Arch;
  /** `attn`: item vector width. */
  itemDim?: number;
  /** `attn`: ensemble heads. */
  heads?: number;
  /** `attn`: items with a residual row of their own (0 or absent: all). */
  residualItems?: number;
  /**
   * `attn` with `--item-features`: per feature column, its distinct values + 1 (absent: no
   * features).
   */
  itemFeatures?: number[];
  /** `attn`: match features on fixed similarities (absent: none). */
  matchFeatures?: boolean;
  /** `attn` with match features: their linear path to the logits (absent: none). */
  wide?: boolean;
}

/** Either discriminator: both score (state, candidate) pairs into K + F logits per head. */
export type UserDiscriminator = Discriminator | AttnDiscriminator;

/** What the networks need besides their shape. */
export interface RecSimuNetOptions {
  /** Root seed: G and D initialise from deriveSeed(seed, "generator" / "discriminator"). */
  seed: number;
  /** The paper's D gets a learned per-item bias on its real logits (`--item-bias`). */
  itemBias: boolean;
  /**
   * Item feature codes [V + 2, F] row-major (`attn` with `shape.itemFeatures`: F columns).
   * @default undefined (no features)
   */
  itemFeatureCodes?: Int32Array;
}

/** Most items `--item-bias` supports (one bias row per item and class). */
const MAX_ITEM_BIAS_ITEMS = 200_000;

/** Generator, discriminator and the frozen embedding table. */
export class RecSimuModel {
  readonly g: Generator;
  readonly d: UserDiscriminator;
  /**
   * [V + 2, E] item embeddings, not trained: row V (padding) is zeros, row V + 1 (the shared
   * rare item) the mean of the items' vectors.
   */
  readonly table: tf.Tensor2D;
  /** [V + 2, F] int32 item feature codes (`shape.itemFeatures`), not trained. */
  readonly featureCodes: tf.Tensor2D | undefined;

  /**
   * @param shape the networks' sizes
   * @param embeddings item embeddings [V, E], row-major
   * @param opts seed and item bias
   * @throws {RangeError} when `embeddings` does not hold V × E values
   * @throws {UserError} when `itemBias` is on with more than 200,000 items
   * @throws {RangeError} when the feature codes do not match `shape.itemFeatures`
   */
  constructor(readonly shape: ModelShape, embeddings: Float32Array, opts: RecSimuNetOptions) {
    registerFastMatMulGrad();
    registerFastWasmKernels();
    if (embeddings.length !== shape.items * shape.embDim) {
      throw new RangeError(
        `embeddings: expected ${shape.items}×${shape.embDim} values, got ${embeddings.length}`,
      );
    }
    this.table = tf.tensor2d(withPadAndRare(embeddings, shape.items, shape.embDim), [
      shape.items + 2,
      shape.embDim,
    ]);
    const enc = {
      embDim: shape.embDim,
      classes: shape.classes,
      feedbackDim: shape.feedbackDim,
      hidden: shape.hidden,
    };
    this.g = new Generator({ ...enc, fc: shape.fc }, deriveSeed(opts.seed, "generator"));
    if (opts.itemBias && shape.items > MAX_ITEM_BIAS_ITEMS) {
      throw new UserError(
        `--item-bias: supported up to ${
          MAX_ITEM_BIAS_ITEMS.toLocaleString("en-US")
        } items, the model has ${shape.items}`,
      );
    }
    const dSeed = deriveSeed(opts.seed, "discriminator");
    const attn = (shape.arch ?? "paper") === "attn";
    const F = shape.itemFeatures?.length ?? 0;
    if (F > 0 !== (opts.itemFeatureCodes !== undefined) || (F > 0 && !attn)) {
      throw new RangeError(
        "item features: shape.itemFeatures and itemFeatureCodes go together, with arch attn",
      );
    }
    if (opts.itemFeatureCodes && opts.itemFeatureCodes.length !== (shape.items + 2) * F) {
      throw new RangeError(
        `itemFeatureCodes: expected ${
          shape.items + 2
        }×${F} codes, got ${opts.itemFeatureCodes.length}`,
      );
    }
    opts.itemFeatureCodes?.forEach((c, k) => {
      const n = shape.itemFeatures![k % F]!;
      if (!(c >= 0 && c < n)) throw new RangeError(`itemFeatureCodes[${k}]: ${c} not in [0, ${n})`);
    });
    this.featureCodes = opts.itemFeatureCodes
      ? tf.tensor2d(opts.itemFeatureCodes, [shape.items + 2, F], "int32")
      : undefined;
    this.d = attn
      ? new AttnDiscriminator(
        {
          ...enc,
          fc: shape.fc,
          fakeClasses: shape.fakeClasses,
          items: shape.items,
          itemDim: shape.itemDim ?? TRAIN_DEFAULTS.itemDim,
          heads: shape.heads ?? 1,
          residualItems: shape.residualItems ?? 0,
          stateLength: shape.stateLength,
          ...(F > 0 ? { itemFeatures: shape.itemFeatures } : {}),
          ...(shape.matchFeatures ? { matchFeatures: true } : {}),
          ...(shape.wide ? { wide: true } : {}),
        },
        dSeed,
        this.featureCodes,
      )
      : new Discriminator({
        ...enc,
        fc: shape.fc,
        fakeClasses: shape.fakeClasses,
        itemBias: opts.itemBias ? shape.items : 0,
      }, dSeed);
  }

  /** Number of real feedback classes K. */
  get k(): number {
    return this.shape.classes;
  }

  /** G's trainable variables. */
  gVars(): tf.Variable[] {
    return this.g.params.list();
  }

  /** D's trainable variables. */
  dVars(): tf.Variable[] {
    return this.d.params.list();
  }

  /**
   * Fixes D's weights for serving: its state encoder caches its inference weights
   * (`StateEncoder.freezeForInference`), so that predictions no longer recompute them. Weights that change afterwards are still used
   * (the cache is rebuilt); training does not call this.
   */
  freezeForInference(): void {
    this.d.encoder.freezeForInference();
  }

  /** Frees every tensor the model owns. */
  dispose(): void {
    this.d.encoder.unfreeze();
    this.g.params.dispose();
    this.d.params.dispose();
    this.table.dispose();
    this.featureCodes?.dispose();
  }
}

/**
 * Softmax over all K + F logits of D for a batch (the heads' mean), row-major [B, K + F]; no
 * gradient state.
 */
export function discriminatorProbs(m: RecSimuModel, b: TupleBatch): tf.Tensor2D {
  return tf.tidy(() => m.d.probs(m.d.stateInference(b.state), b.action, b.actionIndex));
}
