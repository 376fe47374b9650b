/**
 * recsimu — a user simulator for reinforcement-learning recommenders, learned from session
 * logs with a GAN (RecSimu). The in-process API for TypeScript agents and tools.
 *
 * @example
 * ```ts ignore
 * import { SimEnv, Simulator } from "./mod.ts";
 * const sim = await Simulator.load("runs/demo/model");
 * const [p] = await sim.predict([{ state: [], action: sim.items[0]! }]);
 * p!.probs; // label -> probability, in label order: { skip: 0.71, click: 0.22, purchase: 0.07 }
 * const env = new SimEnv(sim, { maxSteps: 20 });
 * const { observation } = env.reset({ seed: 1 });
 * const { feedback, reward, terminated, truncated } = await env.step(sim.items[0]!);
 * ```
 * @module
 */
export { Simulator, type SimulatorLoadOptions } from "./lib/sim/simulator.ts";
export type {
  ArrayPrediction,
  FeedbackPrediction,
  FeedbackRequest,
  SimulatorLike,
  StepRecord,
} from "./lib/sim/types.ts";
export {
  type EnvAction,
  type ResetOptions,
  type ResetResult,
  SimEnv,
  type SimEnvOptions,
  type StepResult,
  VecSimEnv,
} from "./lib/sim/env.ts";
export { defaultRewards, expectedReward, parseRewards } from "./lib/sim/reward.ts";
export { type BackendName, initBackend } from "./lib/tf.ts";
export {
  type Dataset,
  datasetFromText,
  type DatasetOptions,
  loadDataset,
} from "./lib/data/dataset.ts";
export { TRAIN_DEFAULTS, type TrainConfig, validateConfig } from "./lib/config.ts";
export { type TrainOptions, trainRecSimu, type TrainResult } from "./lib/train/loop.ts";
export { evaluateModel, type FeedbackMetrics, itemBaselines } from "./lib/eval/evaluate.ts";
export { SYNTH_DEFAULTS, type SynthOptions, synthRows, writeSynthLog } from "./lib/data/synth.ts";
