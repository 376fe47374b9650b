/**
 * Inverse-propensity weights of the training tuples from the generator, RecSimu's estimate of
 * the logging policy (`--propensity-clip C`).
 *
 * G(s) is trained to output the embedding of the item the logging recommender showed
 * (L_supG = ‖a − G(s)‖², Eq. 11), so a Gaussian around G(s) over the catalogue is its policy:
 * π(a | s) = softmax_j(−‖G(s) − e_j‖² / τ)_a = softmax_j((2 G(s)·e_j − ‖e_j‖²) / τ)_a, with the
 * temperature τ fitted by maximum likelihood on the logged actions, and mixed with the
 * popularity policy, π = (1 − ε) π_G + ε pop(a) (ε fitted the same way): logging policies show
 * popular items whatever the state, which one Gaussian around G(s) cannot express. A tuple that
 * the logging policy was unlikely to show in its state then weighs 1 / π(a | s) (normalised to
 * mean 1, clipped at C): D's losses become those of a log whose actions did not depend on the state — the
 * standard correction for a confounded (missing-not-at-random) log, Schnabel et al. 2016.
 *
 * Tuples whose action is the shared rare item (no vector of its own) weigh 1. Above
 * {@link MAX_CANDIDATES} items the normaliser Σ_j is estimated from a fixed uniform sample of the
 * catalogue, scaled by V / S.
 * @module
 */
import { tf } from "../tf.ts";
import type { Dataset } from "../data/dataset.ts";
import { batchIndices, disposeBatch, toTensors } from "../data/batches.ts";
import type { RecSimuModel } from "../../models/recsimu.ts";
import { deriveSeed, Rng } from "../random.ts";

/** Items scored exactly in the normaliser; larger catalogues use a sample of this size. */
export const MAX_CANDIDATES = 4096;
/** Tuples the temperature is fitted on (a seeded sample of the training tuples). */
const FIT_ROWS = 4000;
/** The temperatures tried (log-spaced; the embeddings' squared distances are O(1)–O(10)). */
const TAUS = Array.from({ length: 25 }, (_, i) => 0.01 * Math.pow(10, i / 8));
/** Tuples per forward pass. */
const CHUNK = 1000;

/** What a propensity fit says about the logging policy (config.json's `propensity`). */
export interface PropensitySummary {
  /** The fitted temperature τ. */
  tau: number;
  /** The fitted share ε of the popularity policy in the mixture. */
  eps: number;
  /** Mean log π(a | s) of the logged actions under G at τ (the fit rows). */
  logLik: number;
  /** The same for a uniform policy, −log V: how much better than uniform G predicts the log. */
  uniformLogLik: number;
  /** The clip C. */
  clip: number;
  /** Share of weighted tuples whose weight was clipped at C. */
  clippedShare: number;
  /** Effective sample size (Σw)² / Σw² over the tuples, as a share of their number. */
  effectiveShare: number;
}

/** The fitted weights and their summary. */
export interface PropensityFit extends PropensitySummary {
  /** Weights by action row of the dataset (rows not trained on: 1), mean 1 over `rows`. */
  weights: Float32Array;
}

/** Logits (2 G(s)·e_j − ‖e_j‖²) of the candidates and of each tuple's own action, for `rows`. */
function scores(
  model: RecSimuModel,
  ds: Dataset,
  rows: ArrayLike<number>,
  cand: tf.Tensor2D,
): { all: tf.Tensor2D; own: tf.Tensor1D } {
  const b = toTensors(batchIndices(ds, rows), model.table, ds.stateLength);
  try {
    return tf.tidy(() => {
      const g = model.g.applyInference(b.state); // [B, E]
      const sq = tf.sum(tf.square(cand), 1); // [C]
      const all = tf.sub(tf.mul(tf.matMul(g, cand, false, true), 2), sq) as tf.Tensor2D;
      const own = tf.sub(
        tf.mul(tf.sum(tf.mul(g, b.action), 1), 2),
        tf.sum(tf.square(b.action), 1),
      ) as tf.Tensor1D;
      return { all, own };
    });
  } finally {
    disposeBatch(b);
  }
}

/** log π(a | s) of each row in `rows` at every τ in `taus`: [taus.length][rows.length]. */
async function logPropensities(
  model: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  cand: tf.Tensor2D,
  logScale: number,
  taus: readonly number[],
): Promise<Float32Array[]> {
  const out = taus.map(() => new Float32Array(rows.length));
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.subarray(i, i + CHUNK);
    const { all, own } = scores(model, ds, chunk, cand);
    const lp = tf.tidy(() =>
      tf.stack(
        taus.map((tau) =>
          tf.sub(tf.div(own, tau), tf.add(tf.logSumExp(tf.div(all, tau), 1), logScale))
        ),
      )
    );
    const v = await lp.data() as Float32Array;
    tf.dispose([all, own, lp]);
    taus.forEach((_, k) => out[k]!.set(v.subarray(k * chunk.length, (k + 1) * chunk.length), i));
  }
  return out;
}

/** The candidate vectors [C, E] (all items, or a seeded sample) and log(V / C). */
function candidates(model: RecSimuModel, items: number, seed: number) {
  if (items <= MAX_CANDIDATES) {
    return { cand: tf.slice(model.table, [0, 0], [items, -1]) as tf.Tensor2D, logScale: 0 };
  }
  const idx = new Rng(deriveSeed(seed, "propensity/candidates")).shuffle(
    Int32Array.from({ length: items }, (_, i) => i),
  ).subarray(0, MAX_CANDIDATES);
  const cand = tf.tidy(() => tf.gather(model.table, tf.tensor1d(idx, "int32")) as tf.Tensor2D);
  return { cand, logScale: Math.log(items / MAX_CANDIDATES) };
}

/** Mixture weights ε of popularity tried (0: G alone). */
const EPSILONS = [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];

/** Each item's share of the tuples' actions, add-one smoothed: the popularity policy. */
function popularity(ds: Dataset, rows: Int32Array): Float64Array {
  const V = ds.items.length;
  const p = new Float64Array(V).fill(1);
  for (const r of rows) if (ds.rowItem[r]! < V) p[ds.rowItem[r]!]!++;
  const z = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / z);
}

/** log((1 − ε) π_G + ε pop(a)) of each row, from log π_G. */
function mixed(lg: Float32Array, pop: Float64Array, actions: Int32Array, eps: number) {
  return Float64Array.from(
    lg,
    (l, i) => Math.log((1 - eps) * Math.exp(l) + eps * pop[actions[i]!]!),
  );
}

/**
 * Fits τ and the popularity share ε on a sample of `rows` and returns the clipped, mean-1
 * inverse-propensity weights of all of them (see the module comment).
 */
export async function fitPropensity(
  model: RecSimuModel,
  ds: Dataset,
  rows: Int32Array,
  clip: number,
  seed: number,
): Promise<PropensityFit> {
  if (!(clip > 1)) throw new RangeError(`fitPropensity: clip must be > 1, got ${clip}`);
  const V = ds.items.length;
  const own = rows.filter((r) => ds.rowItem[r]! < V); // tuples whose action has a vector
  const fitRows = new Rng(deriveSeed(seed, "propensity/fit")).shuffle(own.slice())
    .subarray(0, FIT_ROWS);
  const pop = popularity(ds, rows);
  const actionsOf = (rs: Int32Array) => Int32Array.from(rs, (r) => ds.rowItem[r]!);
  const { cand, logScale } = candidates(model, V, seed);
  try {
    const lg = await logPropensities(model, ds, fitRows, cand, logScale, TAUS);
    const fa = actionsOf(fitRows);
    let best = { tau: TAUS[0]!, eps: 0, logLik: -Infinity };
    lg.forEach((l, k) => {
      for (const eps of EPSILONS) {
        const ll = mixed(l, pop, fa, eps).reduce((a, b) => a + b, 0) / Math.max(l.length, 1);
        if (ll > best.logLik) best = { tau: TAUS[k]!, eps, logLik: ll };
      }
    });
    const [lp] = await logPropensities(model, ds, own, cand, logScale, [best.tau]);
    const logProp = Float32Array.from(mixed(lp!, pop, actionsOf(own), best.eps));
    return {
      ...clippedWeights(ds, rows, own, logProp, clip),
      ...best,
      clip,
      uniformLogLik: -Math.log(V),
    };
  } finally {
    cand.dispose();
  }
}

/** 1 / π normalised to mean 1 over the weighted tuples, clipped at `clip`, then mean 1 again. */
function clippedWeights(
  ds: Dataset,
  rows: Int32Array,
  own: Int32Array,
  logProp: Float32Array,
  clip: number,
): Pick<PropensityFit, "weights" | "clippedShare" | "effectiveShare"> {
  const inv = Float64Array.from(logProp, (lp) => Math.exp(-lp));
  const mean = inv.reduce((s, x) => s + x, 0) / Math.max(inv.length, 1);
  let clipped = 0;
  for (let i = 0; i < inv.length; i++) {
    inv[i] = inv[i]! / mean;
    if (inv[i]! > clip) {
      inv[i] = clip;
      clipped++;
    }
  }
  const weights = new Float32Array(ds.rowItem.length).fill(1);
  own.forEach((r, i) => (weights[r] = inv[i]!));
  // Mean 1 over all training tuples (the rare-action ones keep 1 before the rescale).
  let sum = 0, sq = 0;
  for (const r of rows) sum += weights[r]!;
  const scale = rows.length / Math.max(sum, 1e-12);
  for (const r of rows) {
    weights[r] = weights[r]! * scale;
    sq += weights[r]! ** 2;
  }
  return {
    weights,
    clippedShare: clipped / Math.max(inv.length, 1),
    effectiveShare: rows.length / Math.max(sq, 1e-12),
  };
}
