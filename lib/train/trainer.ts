/**
 * The training state of a RecSimu model: its two Adam optimisers and the settings the update
 * steps read (loss weights, micro-batching, steps per round). The model itself holds only the
 * networks and the embedding table.
 * @module
 */
import { tf } from "../tf.ts";
import type { TrainConfig } from "../config.ts";
import type { RecSimuModel } from "../../models/recsimu.ts";

/** What the update steps read: loss weights, micro-batch size, steps per round, round kind. */
export type StepSettings = Pick<
  TrainConfig,
  "alpha" | "beta" | "lambda" | "microBatch" | "dSteps" | "gSteps" | "update"
>;

/** {@link StepSettings} plus the optimisers' learning rate. */
export type TrainerSettings = StepSettings & Pick<TrainConfig, "learningRate">;

/** Adam for G and for D, and the step settings: what the update steps need beside the model. */
export class RecSimuTrainer {
  readonly optG: tf.AdamOptimizer;
  readonly optD: tf.AdamOptimizer;
  /** A copy of the settings (only the step fields, whatever else `settings` carried). */
  readonly settings: StepSettings;

  /**
   * @param model the model to train (the trainer does not own it)
   * @param settings step settings and learning rate, e.g. a {@link TrainConfig}
   */
  constructor(readonly model: RecSimuModel, settings: TrainerSettings) {
    const { alpha, beta, lambda, microBatch, dSteps, gSteps, update } = settings;
    this.settings = { alpha, beta, lambda, microBatch, dSteps, gSteps, update };
    this.optG = tf.train.adam(settings.learningRate);
    this.optD = tf.train.adam(settings.learningRate);
  }

  /** Frees the optimisers' state (not the model). */
  dispose(): void {
    this.optG.dispose();
    this.optD.dispose();
  }
}
