/**
 * The default discriminator (`--arch attn`), the reward model beyond the paper's networks. It
 * keeps the paper's interface and output — K real-class logits then the fake-class logits,
 * trained by Eq. 5–12 — and adds what the paper's D(s, a) cannot express:
 *
 * - how the candidate relates to the history: target attention over the state's items with the
 *   candidate as query, and the candidate's similarity to the items of each feedback class and to
 *   the last three items (runs of similar items, fatigue);
 * - per-item effects: item vectors `e W + r[i]` (item2vec projected, plus a trainable residual
 *   that starts at zero — trainable embeddings initialised from item2vec) and a per-item bias on
 *   the real-class logits;
 * - repetition: how often the candidate itself was shown in the state, under each feedback, and
 *   how recently (never for the shared rare item, which stands for many items);
 * - an ensemble of M heads on one trunk (each trained on its own bootstrap weights of the rows,
 *   see lib/train/batch_rows.ts): answers are the heads' mean, their spread the uncertainty.
 *
 * - opt-in item side features (`--item-features`): categorical codes per item, each column a
 *   trainable table `F_j` (zero-init like the residual) added to the item vectors,
 *   `e W + r[i] + Σ_j F_j[code_j(i)]`, so that rarely logged items share what their category
 *   learned.
 *
 * Fake candidates (G's continuous outputs) have no item index: their residual, features, bias
 * and repetition counts are zero.
 *
 * The encoded state is one [B, W] tensor (the GRU's p_D, then the history's item vectors,
 * feedback one-hots, mask and item indices, each flattened), so the training steps slice and
 * pass it exactly as the paper's [B, H] encoding.
 * @module
 */
import { tf } from "../lib/tf.ts";
import { Dense, detach, gatherRows, Params } from "./params.ts";
import type { StateBatch } from "../lib/data/batches.ts";
import { type EncoderSizes, StateEncoder } from "./gru.ts";
import { withRealBias } from "./discriminator.ts";

/** Sizes of the attention discriminator. */
export interface AttnDiscriminatorSizes extends EncoderSizes {
  /** Width of the trunk. */
  fc: number;
  /** Number of fake classes: K or 1. */
  fakeClasses: number;
  /** Vocabulary size V; tables hold V + 2 rows (V = padding, V + 1 = the shared rare item). */
  items: number;
  /**
   * Items 0..R−1 with a residual row of their own (the vocabulary is then ordered by count):
   * the rare item gets row R, the rest and padding share row R + 1. 0 or ≥ V: every item has
   * its own (V + 2 rows). @default 0
   */
  residualItems?: number;
  /** Width d of the item vectors. */
  itemDim: number;
  /** Ensemble heads M. */
  heads: number;
  /** State length N. */
  stateLength: number;
  /**
   * Item side features: per column, the rows of its table (distinct values + 1, row 0 the
   * unknown value). Absent or empty: none (no parameters are created). @default []
   */
  itemFeatures?: number[];
  /**
   * Match features on fixed similarities: the cosine of the candidate's item2vec vector to each
   * history item's (mean and max per feedback class, the last three, the run of similar items)
   * and, per item-feature column, the share of each class's history items with the candidate's
   * value and the run of them. Absent or false: none (checkpoints written before them). @default false
   */
  matchFeatures?: boolean;
  /**
   * With match features: a linear ("wide") path from them to every head's real-class logits,
   * [width, M·K], initialised at zero, so a regression on the similarities sits beside the trunk
   * (created last: the other parameters are those of a model without it). @default false
   */
  wide?: boolean;
}

/** Similarities with the last this many items are features of their own. */
const RECENT = 3;

/** Longest run of similar items counted by the match features. */
const RUN_CAP = 6;

/** Items whose item2vec cosine exceeds this count as similar in the soft run (sharpness 20). */
const RUN_COSINE = 0.6;

/** The attention discriminator. */
export class AttnDiscriminator {
  readonly params: Params;
  readonly encoder: StateEncoder;
  readonly proj: Dense;
  readonly query: Dense;
  readonly residual: tf.Variable;
  readonly itemBias: tf.Variable;
  readonly feedbackKey: tf.Variable;
  readonly trunk: Dense;
  readonly out: Dense;
  /** Number of heads M (rows per pair in {@link score}). */
  readonly heads: number;
  /** R when only the first R items have residual rows of their own (see the sizes). */
  readonly residualCap: number | undefined;
  /** The item-feature tables `F_j` [n_j + 1, d] (empty without features). */
  readonly featureTables: tf.Variable[];
  /**
   * @param sizes the network's sizes
   * @param seed initialisation seed
   * @param featureCodes int32 codes [V + 2, F] of the items' features when `sizes.itemFeatures`
   *   has F columns; the caller owns (and disposes) it
   */
  constructor(
    readonly sizes: AttnDiscriminatorSizes,
    seed: number,
    readonly featureCodes?: tf.Tensor2D,
  ) {
    const { classes: K, fakeClasses, itemDim: d, heads, items, stateLength: N } = sizes;
    if (!(fakeClasses === K || fakeClasses === 1)) {
      throw new RangeError(`AttnDiscriminator: fakeClasses must be K (${K}) or 1`);
    }
    if (!(Number.isInteger(heads) && heads >= 1)) {
      throw new RangeError(`AttnDiscriminator: heads must be a positive integer, got ${heads}`);
    }
    this.heads = heads;
    this.params = new Params("D", seed);
    this.encoder = new StateEncoder(this.params, "encoder", sizes);
    this.proj = new Dense(this.params, "item/proj", sizes.embDim, d);
    this.query = new Dense(this.params, "attn/query", d, d);
    const R = sizes.residualItems ?? 0;
    this.residualCap = R > 0 && R < items ? R : undefined;
    this.residual = this.params.uniform("item/residual", [(this.residualCap ?? items) + 2, d], 0);
    this.itemBias = this.params.uniform("item/bias", [items + 2, K], 0);
    this.feedbackKey = this.params.uniform("attn/feedback", [K, d], 1 / Math.sqrt(K));
    const match = sizes.matchFeatures
      ? 2 * K + Math.min(RECENT, N) + 1 + (sizes.itemFeatures ?? []).length * (K + 1)
      : 0;
    const width = sizes.hidden + 3 * d + 3 * K + Math.min(RECENT, N) + 1 + match;
    this.trunk = new Dense(this.params, "trunk", width, sizes.fc);
    this.out = new Dense(this.params, "heads", sizes.fc, heads * (K + fakeClasses));
    // Created last: without features the parameter list is the one of before.
    const fs = sizes.itemFeatures ?? [];
    if (fs.length > 0) {
      const shape = featureCodes?.shape;
      if (featureCodes?.dtype !== "int32" || shape?.[0] !== items + 2 || shape[1] !== fs.length) {
        throw new RangeError(
          `AttnDiscriminator: featureCodes must be int32 [${items + 2}, ${fs.length}], got ${
            featureCodes ? `${featureCodes.dtype} [${shape}]` : "none"
          }`,
        );
      }
      if (!fs.every((n) => Number.isInteger(n) && n >= 1)) {
        throw new RangeError(`AttnDiscriminator: itemFeatures must be positive integers`);
      }
    } else if (featureCodes) {
      throw new RangeError("AttnDiscriminator: featureCodes without sizes.itemFeatures");
    }
    this.featureTables = fs.map((n, j) => this.params.uniform(`item/feature/${j}`, [n, d], 0));
    if (sizes.wide && match === 0) {
      throw new RangeError("AttnDiscriminator: wide needs matchFeatures");
    }
    this.wide = sizes.wide ? this.params.uniform("wide/w", [match, heads * K], 0) : undefined;
  }

  /** The wide path's weights [match width, M·K] (undefined without it). */
  readonly wide: tf.Variable | undefined;

  /** Width of the packed state encoding. */
  get stateWidth(): number {
    const { hidden, stateLength: N, itemDim: d, classes: K, embDim: E } = this.sizes;
    return hidden + N * (d + K + 2 + (this.sizes.matchFeatures ? E + this.#codeColumns : 0));
  }

  /** Feature columns whose history codes the packed state carries (match features only). */
  get #codeColumns(): number {
    return this.sizes.matchFeatures && this.featureCodes ? this.featureTables.length : 0;
  }

  /** Residual rows of item indices: themselves, or R (rare) / R + 1 (the rest) under a cap. */
  #residualRows(idx: tf.Tensor1D): tf.Tensor1D {
    const R = this.residualCap;
    if (R === undefined) return idx;
    const int = (n: number) => tf.scalar(n, "int32");
    const own = tf.cast(tf.less(idx, int(R)), "int32");
    const rare = tf.cast(tf.equal(idx, int(this.sizes.items + 1)), "int32");
    // own·i + (1 − own)·(R + 1 − rare), all int32 (gather's indices).
    return tf.add(
      tf.mul(own, idx),
      tf.mul(tf.sub(int(1), own), tf.sub(int(R + 1), rare)),
    ) as tf.Tensor1D;
  }

  /** The per-item terms of item vectors [n, d]: r[i] + Σ_j F_j[code_j(i)] for indices `idx`. */
  #itemTerms(idx: tf.Tensor1D, frozen: boolean): tf.Tensor2D {
    const w = (v: tf.Variable) => {
      const t = v as unknown as tf.Tensor2D;
      return frozen ? detach(t) : t;
    };
    let sum = gatherRows(w(this.residual), this.#residualRows(idx));
    if (this.featureCodes && this.featureTables.length > 0) {
      const codes = tf.gather(this.featureCodes, idx); // [n, F], no gradient (integers)
      this.featureTables.forEach((table, j) => {
        const col = tf.reshape(tf.slice(codes, [0, j], [-1, 1]), [-1]) as tf.Tensor1D;
        sum = tf.add(sum, gatherRows(w(table), col));
      });
    }
    return sum;
  }

  /** History item vectors e W + r[i] (+ features) [N·B, d] for time-major items [N, B]. */
  #historyVectors(s: StateBatch, frozen: boolean): tf.Tensor2D {
    if (!s.items) throw new Error("AttnDiscriminator: the state batch has no item indices");
    const [N, B, E] = s.emb.shape;
    const idx = tf.reshape(s.items, [N * B]) as tf.Tensor1D;
    const r = this.#itemTerms(idx, frozen);
    return tf.add(this.proj.apply(tf.reshape(s.emb, [N * B, E]) as tf.Tensor2D, frozen), r);
  }

  /** Packs p_D and the history into [B, W] (batch-major). */
  #pack(p: tf.Tensor2D, s: StateBatch): tf.Tensor2D {
    const [N, B] = s.feedback.shape;
    const { itemDim: d, classes: K } = this.sizes;
    const toBatch = (x: tf.Tensor, w: number) =>
      tf.reshape(tf.transpose(tf.reshape(x, [N, B, w]), [1, 0, 2]), [B, N * w]);
    const keys = toBatch(this.#historyVectors(s, false), d);
    const fb = toBatch(
      tf.cast(tf.oneHot(tf.reshape(s.feedback, [N * B]) as tf.Tensor1D, K), "float32"),
      K,
    );
    const mask = s.mask ? tf.transpose(s.mask) : tf.ones([B, N]);
    const items = tf.transpose(tf.cast(s.items!, "float32"));
    if (!this.sizes.matchFeatures) return tf.concat([p, keys, fb, mask, items], 1) as tf.Tensor2D;
    const E = this.sizes.embDim;
    const raw = toBatch(unitRows(tf.reshape(s.emb, [N * B, E]) as tf.Tensor2D), E);
    const F = this.#codeColumns;
    if (F === 0) return tf.concat([p, keys, fb, mask, items, raw], 1) as tf.Tensor2D;
    // The history's feature codes, gathered here from the batch's indices: a gather whose indices
    // came through the packed state would be on the gradient tape, which int indices break.
    const idx = tf.reshape(s.items!, [N * B]) as tf.Tensor1D;
    const codes = toBatch(tf.cast(tf.gather(this.featureCodes!, idx), "float32"), F);
    return tf.concat([p, keys, fb, mask, items, raw, codes], 1) as tf.Tensor2D;
  }

  /** Packed state encoding [B, W] (p_D and the history), with gradients. */
  state(s: StateBatch): tf.Tensor2D {
    return this.#pack(this.encoder.encode(s), s);
  }

  /** {@link state} without gradients, the GRU's intermediates freed early. */
  stateInference(s: StateBatch): tf.Tensor2D {
    return tf.tidy(() => this.#pack(this.encoder.encodeInference(s), s));
  }

  /**
   * Training logits [B·M, K + F] (row b·M + m: head m of pair b) for packed states [B, W] and
   * candidate embeddings [B, E]; `items` are the candidates' indices when they are real items.
   * With `frozen`, gradients flow to the inputs but not to D's weights.
   */
  score(p: tf.Tensor2D, candidate: tf.Tensor2D, frozen = false, items?: tf.Tensor1D): tf.Tensor2D {
    const { classes: K, fakeClasses: F } = this.sizes;
    const w = <T extends tf.Tensor>(v: T) => (frozen ? detach(v) : v);
    const { x, match } = this.#features(p, candidate, frozen, items);
    const h = tf.relu(this.trunk.apply(x, frozen));
    let logits = tf.reshape(this.out.apply(h, frozen), [-1, K + F]) as tf.Tensor2D;
    if (this.wide && match) {
      // Row b·M + m gets head m's share of the wide path on its real classes.
      const real = tf.reshape(tf.matMul(match, w(this.wide as unknown as tf.Tensor2D)), [-1, K]);
      logits = tf.add(logits, tf.pad(real, [[0, 0], [0, F]])) as tf.Tensor2D;
    }
    if (!items) return logits;
    const bias = gatherRows(w(this.itemBias as unknown as tf.Tensor2D), items);
    const rep = tf.reshape(tf.tile(tf.expandDims(bias, 1), [1, this.heads, 1]), [-1, K]);
    return withRealBias(logits, rep as tf.Tensor2D, K);
  }

  /** Softmax over the K + F classes, mean of the heads: [B, K + F]. */
  probs(p: tf.Tensor2D, candidate: tf.Tensor2D, items?: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => tf.mean(this.headProbs(p, candidate, items), 1) as tf.Tensor2D);
  }

  /** Each head's softmax [B, M, K + F]. */
  headProbs(p: tf.Tensor2D, candidate: tf.Tensor2D, items?: tf.Tensor1D): tf.Tensor3D {
    const { classes: K, fakeClasses: F } = this.sizes;
    return tf.tidy(() =>
      tf.reshape(tf.softmax(this.score(p, candidate, false, items)), [-1, this.heads, K + F])
    );
  }

  /** The trunk's input features [B, width] (see the module comment), and the match features. */
  #features(
    packed: tf.Tensor2D,
    candidate: tf.Tensor2D,
    frozen: boolean,
    items?: tf.Tensor1D,
  ): { x: tf.Tensor2D; match: tf.Tensor2D | undefined } {
    const { hidden: H, stateLength: N, itemDim: d, classes: K } = this.sizes;
    const B = packed.shape[0];
    const w = <T extends tf.Tensor>(v: T) => (frozen ? detach(v) : v);
    let at = 0;
    const take = (n: number) => tf.slice(packed, [0, (at += n) - n], [-1, n]);
    const p = take(H);
    const keys = tf.reshape(take(N * d), [B, N, d]) as tf.Tensor3D;
    const fb = tf.reshape(take(N * K), [B, N, K]) as tf.Tensor3D;
    const mask = take(N);
    const hist = take(N);
    const match = this.sizes.matchFeatures
      ? [this.#matchFeatures(take(N * this.sizes.embDim), candidate, {
        fb,
        mask,
        codes: take(N * this.#codeColumns),
        items,
      })]
      : [];
    let c = this.proj.apply(candidate, frozen);
    if (items) c = tf.add(c, this.#itemTerms(items, frozen));
    // Target attention: keys carry their feedback; padded positions get no weight.
    const kf = tf.add(
      keys,
      tf.reshape(tf.matMul(tf.reshape(fb, [B * N, K]), w(this.feedbackKey)), [B, N, d]),
    );
    const q = this.query.apply(c, frozen);
    const scale = 1 / Math.sqrt(d);
    const att = tf.add(
      tf.mul(tf.sum(tf.mul(tf.expandDims(q, 1), kf), 2), scale),
      tf.mul(tf.sub(mask, 1), 1e4),
    );
    const alpha = tf.mul(tf.softmax(att), mask);
    const u = tf.sum(tf.mul(tf.expandDims(alpha, 2), kf), 1) as tf.Tensor2D;
    // Similarity of the candidate to each history item, by feedback class and for the last few.
    const sim = tf.mul(tf.sum(tf.mul(tf.expandDims(c, 1), keys), 2), tf.mul(mask, scale));
    const fbm = tf.mul(fb, tf.expandDims(mask, 2));
    const count = tf.sum(fbm, 1);
    const simByClass = tf.div(tf.sum(tf.mul(tf.expandDims(sim, 2), fbm), 1), tf.add(count, 1));
    const r = Math.min(RECENT, N);
    const recent = tf.slice(sim, [0, N - r], [-1, r]);
    // Repetition: the candidate itself in the state, by feedback, and its latest position.
    let repeats: tf.Tensor, latest: tf.Tensor;
    if (items) {
      // 1 where the index equals the candidate's (indices are integers): relu(1 − |h − a|), not
      // tf.equal, whose missing gradient would break the tape that runs through the packed state.
      // The shared rare item stands for many items: a rare candidate repeats nothing.
      const a = tf.expandDims(tf.cast(items, "float32"), 1);
      const known = tf.cast(tf.notEqual(a, this.sizes.items + 1), "float32");
      const same = tf.mul(tf.relu(tf.sub(1, tf.abs(tf.sub(hist, a)))), tf.mul(mask, known));
      repeats = tf.sum(tf.mul(tf.expandDims(same, 2), fb), 1);
      latest = tf.max(tf.mul(same, tf.linspace(1 / N, 1, N)), 1, true);
    } else {
      repeats = tf.zeros([B, K]);
      latest = tf.zeros([B, 1]);
    }
    const x = tf.concat([
      p,
      c,
      u,
      tf.mul(c, tf.slice(u, [0, 0], [-1, d])),
      simByClass,
      tf.div(count, N),
      recent,
      repeats,
      latest,
      ...match,
    ], 1) as tf.Tensor2D;
    return { x, match: match[0] };
  }

  /**
   * The match features (see the sizes and {@link matchFeatureValues}). `raw` holds the history's
   * unit item2vec vectors [B, N·E], `h.codes` its feature codes [B, N·F] (F = 0 without item
   * features). Fake candidates (no `items`) get zeros for the value features.
   */
  #matchFeatures(
    raw: tf.Tensor2D,
    candidate: tf.Tensor2D,
    h: { fb: tf.Tensor3D; mask: tf.Tensor2D; codes: tf.Tensor2D; items?: tf.Tensor1D },
  ): tf.Tensor2D {
    const { stateLength: N, embDim: E, classes: K } = this.sizes;
    const B = raw.shape[0];
    const F = this.#codeColumns;
    const x: MatchInputs = {
      raw: tf.reshape(raw, [B, N, E]) as tf.Tensor3D,
      candidate,
      fb: h.fb,
      mask: h.mask,
    };
    if (F === 0 || !h.items) {
      const base = matchFeatureValues(x);
      const cols = this.featureTables.length * (K + 1);
      return cols === 0 ? base : tf.concat([base, tf.zeros([B, cols])], 1) as tf.Tensor2D;
    }
    return matchFeatureValues({
      ...x,
      codes: tf.reshape(h.codes, [B, N, F]) as tf.Tensor3D,
      candidateCodes: tf.cast(tf.gather(this.featureCodes!, h.items), "float32") as tf.Tensor2D,
    });
  }
}

/** Inputs of {@link matchFeatureValues}. */
export interface MatchInputs {
  /** The history's unit item2vec vectors [B, N, E]. */
  raw: tf.Tensor3D;
  /** The candidate's item2vec vector [B, E] (any length: it is normalised). */
  candidate: tf.Tensor2D;
  /** The history's feedback one-hots [B, N, K]. */
  fb: tf.Tensor3D;
  /** 1 for a real history position, 0 for padding [B, N]. */
  mask: tf.Tensor2D;
  /** The history's item-feature codes as floats [B, N, F] (0: unknown value). @default none */
  codes?: tf.Tensor3D;
  /** The candidate's codes [B, F]. @default none */
  candidateCodes?: tf.Tensor2D;
}

/**
 * The match features, fixed similarities without parameters, [B, 2K + min(3, N) + 1 + F (K + 1)]:
 * the candidate's cosine to the history's items, mean per feedback class (sum / (count + 1)),
 * max per class (0 for a class absent from the state), to the last three items, and the run of
 * similar items (cosine above 0.6, soft) counted back from the newest, over 6; then per feature
 * column, the share of each class's items with the candidate's value (sum / (count + 1)) and the
 * run of them (over 6). A candidate with an unknown value (code 0) matches nothing.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from "../lib/tf.ts";
 * import { matchFeatureValues } from "./attn_discriminator.ts";
 * await initBackend("cpu", { quiet: true });
 * const f = matchFeatureValues({
 *   raw: tf.tensor3d([[[1, 0], [0, 1]]]),
 *   candidate: tf.tensor2d([[2, 0]]),
 *   fb: tf.tensor3d([[[0, 1], [1, 0]]]),
 *   mask: tf.tensor2d([[1, 1]]),
 * });
 * f.shape; // [1, 7]: 2 means, 2 maxima, 2 recent cosines, 1 run
 * ```
 */
export function matchFeatureValues(x: MatchInputs): tf.Tensor2D {
  const [B, N, E] = x.raw.shape;
  const fbm = tf.mul(x.fb, tf.expandDims(x.mask, 2)) as tf.Tensor3D;
  const c = tf.reshape(unitRows(x.candidate), [B, 1, E]);
  const cos = tf.mul(tf.sum(tf.mul(c, x.raw), 2), x.mask) as tf.Tensor2D;
  const out: tf.Tensor[] = [byClass(cos, fbm)];
  // The most similar item of each class (0 for a class absent from the state).
  const present = tf.cast(tf.greaterEqual(tf.sum(fbm, 1), 0.5), "float32");
  const lifted = tf.add(tf.expandDims(cos, 2), tf.mul(tf.sub(fbm, 1), 4));
  out.push(tf.mul(tf.max(lifted, 1), present));
  const r = Math.min(RECENT, N);
  out.push(tf.slice(cos, [0, N - r], [-1, r]));
  const similar = tf.mul(tf.sigmoid(tf.mul(tf.sub(cos, RUN_COSINE), 20)), x.mask);
  out.push(runLength(similar as tf.Tensor2D));
  if (x.codes && x.candidateCodes) out.push(...sameValue(x.codes, x.candidateCodes, fbm, x.mask));
  return tf.concat(out, 1) as tf.Tensor2D;
}

/** Per feature column: the share of each class's history items with the candidate's value, and the run. */
function sameValue(
  codes: tf.Tensor3D,
  candCodes: tf.Tensor2D,
  fbm: tf.Tensor3D,
  mask: tf.Tensor2D,
): tf.Tensor[] {
  const [B, N, F] = codes.shape;
  const known = tf.cast(tf.greaterEqual(candCodes, 0.5), "float32"); // code 0: unknown value
  // same = relu(1 − |h − a|) on integer codes, as for repetition: no tf.equal on the tape.
  const same = tf.mul(
    tf.relu(tf.sub(1, tf.abs(tf.sub(codes, tf.expandDims(candCodes, 1))))),
    tf.mul(tf.expandDims(mask, 2), tf.expandDims(known, 1)),
  ); // [B, N, F]
  const out: tf.Tensor[] = [];
  for (let j = 0; j < F; j++) {
    const col = tf.reshape(tf.slice(same, [0, 0, j], [-1, -1, 1]), [B, N]) as tf.Tensor2D;
    out.push(byClass(col, fbm), runLength(col));
  }
  return out;
}

/** Rows scaled to unit length (zero rows stay zero). */
function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.add(tf.norm(x, 2, 1, true), 1e-8)) as tf.Tensor2D;
}

/** Σ_n x[b, n]·fbm[b, n, k] / (count_k + 1): x's mean over each class's history items [B, K]. */
function byClass(x: tf.Tensor2D, fbm: tf.Tensor3D): tf.Tensor2D {
  const sum = tf.sum(tf.mul(tf.expandDims(x, 2), fbm), 1);
  return tf.div(sum, tf.add(tf.sum(fbm, 1), 1)) as tf.Tensor2D;
}

/**
 * The run of the last items with x near 1, counted back from the newest (x in [0, 1]):
 * Σ_k Π_{j<k} x[N−1−j] over k ≤ RUN_CAP, divided by RUN_CAP; [B, 1].
 */
function runLength(x: tf.Tensor2D): tf.Tensor2D {
  const N = x.shape[1];
  const c = Math.min(RUN_CAP, N);
  const last = tf.reverse(tf.slice(x, [0, N - c], [-1, c]), 1);
  const prods = tf.exp(tf.cumsum(tf.log(tf.add(last, 1e-6)), 1));
  return tf.div(tf.sum(prods, 1, true), c) as tf.Tensor2D;
}
