/**
 * FM (Rendle 2010) for Table 1: a factorization machine over the real-valued feature vector
 * x = [x_s, x_c] of a (state, candidate) pair — x_s the state summary ({@link stateSummary}),
 * x_c the candidate's item features — scoring
 *   ŷ(x) = w₀ + Σᵢ wᵢ xᵢ + Σ_{i<j} ⟨vᵢ, vⱼ⟩ xᵢ xⱼ,
 * computed for all candidates at once through the usual identity
 * Σ_{i<j} ⟨vᵢ, vⱼ⟩ xᵢ xⱼ = ½ Σ_f [(Σᵢ v_{if} xᵢ)² − Σᵢ v_{if}² xᵢ²], split into state, candidate
 * and state × candidate parts. Factor size = `fc`. Trained to predict the logged next item.
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { TupleBatch } from "../../lib/data/batches.ts";
import { deriveSeed } from "../../lib/random.ts";
import { Params } from "../params.ts";
import type { BaselineTraining } from "./common.ts";
import {
  disposeInputs,
  dotAll,
  type ItemRanker,
  type RankerInputs,
  rankerInputs,
  type RankerNetOptions,
  stateSummary,
} from "./ranker.ts";

/** Linear and pairwise terms of one side of the split: x w + ½ (‖x V‖² − x² · rowsum(V²)). */
function ownTerms(x: tf.Tensor2D, p: tf.Tensor2D, w: tf.Variable, v: tf.Variable): tf.Tensor1D {
  const lin = tf.reshape(tf.matMul(x, w), [-1]);
  const sq = tf.sum(tf.square(p), 1);
  const diag = tf.reshape(tf.matMul(tf.square(x), tf.sum(tf.square(v), 1, true)), [-1]);
  return tf.add(lin, tf.mul(0.5, tf.sub(sq, diag))) as tf.Tensor1D;
}

/** A factorization machine recommender. */
export class FactorizationMachine implements ItemRanker {
  readonly name = "fm";
  readonly pairCost = 1;
  readonly params: Params;
  readonly inputs: RankerInputs;
  training: BaselineTraining = { history: [], stopped: false, seconds: 0 };
  readonly #w0: tf.Variable;
  readonly #ws: tf.Variable;
  readonly #wc: tf.Variable;
  readonly #vs: tf.Variable;
  readonly #vc: tf.Variable;

  /** @param ds the data (for item features) @param opts embeddings, seed, factor size `fc` */
  constructor(ds: Dataset, opts: RankerNetOptions) {
    this.inputs = rankerInputs(ds, opts.embeddings, opts.embDim);
    const ds_ = 3 * opts.embDim + 1, dc = opts.embDim + 1, k = opts.fc;
    this.params = new Params("FM", deriveSeed(opts.seed, "fm"));
    this.#w0 = this.params.uniform("w0", [1], 0.01);
    this.#ws = this.params.uniform("w_state", [ds_, 1], 1 / Math.sqrt(ds_));
    this.#wc = this.params.uniform("w_item", [dc, 1], 1 / Math.sqrt(dc));
    this.#vs = this.params.uniform("v_state", [ds_, k], 1 / Math.sqrt(k));
    this.#vc = this.params.uniform("v_item", [dc, k], 1 / Math.sqrt(k));
  }

  scores(b: TupleBatch, candidates: tf.Tensor2D): tf.Tensor2D {
    const xs = stateSummary(b, this.inputs.isPositive);
    const ps: tf.Tensor2D = tf.matMul(xs, this.#vs);
    const pc: tf.Tensor2D = tf.matMul(candidates, this.#vc);
    const own = tf.add(ownTerms(xs, ps, this.#ws, this.#vs), this.#w0);
    const item = ownTerms(candidates, pc, this.#wc, this.#vc);
    return tf.add(tf.add(dotAll(ps, pc), tf.expandDims(own, 1)), tf.expandDims(item, 0));
  }

  variables(): tf.Variable[] {
    return this.params.list();
  }

  dispose(): void {
    this.params.dispose();
    disposeInputs(this.inputs);
  }
}
