/**
 * The GAN and GAN-s baselines of Figure 6. The generator maps a state-action pair (s, a) to a
 * feedback distribution p(r | s, a); the discriminator tells real (s, a, r) tuples (r from the
 * log) from generated ones (r drawn from the generator). Both use a GRU over the state (the
 * network of the GRU baseline: {@link GruFeedbackNet}); the discriminator also reads r as a
 * one-hot vector and outputs one "real" logit.
 *
 * Feedback is discrete, so the generator's draw is a straight-through Gumbel-max sample: the
 * discriminator sees an exact one-hot vector (as for real tuples), and the generator's gradient
 * flows through the softmax of the perturbed logits. Losses: D minimises
 * −log D(s, a, r) − log(1 − D(s, a, r̃)); G minimises the non-saturating −log D(s, a, r̃), and
 * GAN-s adds α times the cross-entropy of p(r | s, a) against the logged feedback (the supervised
 * component). Each round is `dSteps` D updates then `gSteps` G updates, as in RecSimu.
 * Predictions are the generator's p(r | s, a).
 * @module
 */
import { tf } from "../../lib/tf.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import type { TupleBatch } from "../../lib/data/batches.ts";
import { deriveSeed, Rng } from "../../lib/random.ts";
import { Params } from "../params.ts";
import { GruFeedbackNet, predictClasses } from "./gru.ts";
import {
  type BaselineTraining,
  crossEntropy,
  embeddingTable,
  type FeedbackPrediction,
  type FeedbackPredictor,
  type LayerSizes,
  minimize,
  type NetOptions,
  prepareKernels,
} from "./common.ts";

/** −log σ(x), written without tf.logSigmoid (its gradient fails on intermediate tensors). */
function negLogSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.softplus(tf.neg(x));
}

/** A trained GAN (or GAN-s) feedback model. */
export class GanBaseline implements FeedbackPredictor {
  readonly gParams: Params;
  readonly dParams: Params;
  readonly g: GruFeedbackNet;
  readonly d: GruFeedbackNet;
  readonly table: tf.Tensor2D;
  readonly rng: Rng;
  training: BaselineTraining = { history: [], stopped: false, seconds: 0 };

  /**
   * @param ds the data (for sizes)
   * @param opts embeddings, seed and layer sizes
   * @param supervised weight of the cross-entropy term on G (0 = GAN, α = GAN-s)
   */
  constructor(ds: Dataset, opts: NetOptions & LayerSizes, readonly supervised: number) {
    prepareKernels();
    const K = ds.labels.length;
    const base = {
      embDim: opts.embDim,
      classes: K,
      feedbackDim: opts.feedbackDim,
      hidden: opts.hidden,
      fc: opts.fc,
    };
    const tag = supervised > 0 ? "gan-s" : "gan";
    this.gParams = new Params("GAN-G", deriveSeed(opts.seed, `${tag}/generator`));
    this.dParams = new Params("GAN-D", deriveSeed(opts.seed, `${tag}/discriminator`));
    this.g = new GruFeedbackNet(this.gParams, "net", { ...base, extra: 0, outputs: K });
    this.d = new GruFeedbackNet(this.dParams, "net", { ...base, extra: K, outputs: 1 });
    this.table = embeddingTable(opts.embeddings, ds.items.length, opts.embDim);
    this.rng = new Rng(deriveSeed(opts.seed, `${tag}/gumbel`));
  }

  get name(): string {
    return this.supervised > 0 ? "gan-s" : "gan";
  }

  /** Gumbel(0, 1) noise [B, K] from the model's seeded stream. */
  gumbel(rows: number, k: number): tf.Tensor2D {
    const g = new Float32Array(rows * k);
    for (let i = 0; i < g.length; i++) g[i] = -Math.log(-Math.log(1 - this.rng.next() + 1e-12));
    return tf.tensor2d(g, [rows, k]);
  }

  /** One discriminator update against one generated feedback per tuple; returns the loss. */
  discriminatorStep(b: TupleBatch, opt: tf.Optimizer): number {
    return tf.tidy(() => {
      const K = this.g.sizes.outputs;
      const noise = this.gumbel(b.label.shape[0], K);
      const fake = tf.cast(
        tf.oneHot(tf.argMax(tf.add(this.g.apply(b.state, b.action), noise), 1), K),
        "float32",
      ) as tf.Tensor2D;
      const real = tf.cast(tf.oneHot(b.label, K), "float32") as tf.Tensor2D;
      return minimize(opt, this.dParams.list(), () => {
        const u = this.d.encoder.encode(b.state);
        const lr = this.d.head(u, b.action, real);
        const lf = this.d.head(u, b.action, fake);
        return tf.add(tf.mean(negLogSigmoid(lr)), tf.mean(negLogSigmoid(tf.neg(lf)))) as tf.Scalar;
      });
    });
  }

  /** One generator update (straight-through Gumbel sample); returns the loss. */
  generatorStep(b: TupleBatch, opt: tf.Optimizer): number {
    return tf.tidy(() => {
      const K = this.g.sizes.outputs;
      const noise = this.gumbel(b.label.shape[0], K);
      const u = this.d.encoder.encode(b.state); // D's state encoding does not depend on G
      return minimize(opt, this.gParams.list(), () => {
        const logits = this.g.apply(b.state, b.action);
        const perturbed = tf.add(logits, noise);
        const soft = tf.softmax(perturbed);
        const hard = tf.cast(tf.oneHot(tf.argMax(perturbed, 1), K), "float32");
        // hard − soft as a constant (a fresh tensor from its values is not on the tape): the
        // forward value is the one-hot sample, the gradient that of the softmax.
        const offset = tf.tensor2d(
          tf.sub(hard, soft).dataSync() as Float32Array,
          soft.shape as [number, number],
        );
        const r = tf.add(soft, offset) as tf.Tensor2D;
        const adv = tf.mean(negLogSigmoid(this.d.head(u, b.action, r))) as tf.Scalar;
        if (this.supervised === 0) return adv;
        return tf.add(adv, tf.mul(this.supervised, crossEntropy(logits, b.label))) as tf.Scalar;
      });
    });
  }

  /** The generator's p(r | s, a) for the tuples whose action rows are `rows`. */
  predict(ds: Dataset, rows: Int32Array): FeedbackPrediction {
    return predictClasses(this.g, this.table, ds, rows);
  }

  dispose(): void {
    this.gParams.dispose();
    this.dParams.dispose();
    this.table.dispose();
  }
}
