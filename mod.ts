/**
 * recsimu — a user simulator for reinforcement-learning recommenders, learned from session
 * logs with a GAN (RecSimu). The in-process API for TypeScript agents and tools.
 *
 * @example
 * ```ts
 * import {
 *   initBackend,
 *   loadDataset,
 *   SimEnv,
 *   Simulator,
 *   SYNTH_DEFAULTS,
 *   TRAIN_DEFAULTS,
 *   trainRecSimu,
 *   writeSynthLog,
 * } from "@recsimu/recsimu";
 *
 * await initBackend("cpu", { quiet: true });
 * const dir = await Deno.makeTempDir();
 * // A log (here a small synthetic one) and a model trained on it (here a tiny one, in seconds).
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 20, items: 20 });
 * const shape = { stateLength: 5, minStateLength: 5, minCount: 1 };
 * const ds = await loadDataset(`${dir}/log.csv`, shape);
 * const config = { ...TRAIN_DEFAULTS, ...shape, hidden: 8, fc: 8, embDim: 6, epochs: 1 };
 * await trainRecSimu(ds, config, { out: `${dir}/model`, quiet: true });
 *
 * // The simulator: feedback probabilities for a (state, action) pair, and an environment.
 * const sim = await Simulator.load(`${dir}/model`);
 * const [p] = await sim.predict([{ state: [], action: sim.items[0]! }]);
 * p!.probs; // label -> probability, in label order: { skip: …, click: …, purchase: … }
 * const env = new SimEnv(sim, { maxSteps: 20 });
 * const { observation } = env.reset({ seed: 1 });
 * const { feedback, reward, terminated, truncated } = await env.step(sim.items[0]!);
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
export { Simulator, type SimulatorLoadOptions } from "./lib/sim/simulator.ts";
export { MIN_PER_LANE, PooledSimulator } from "./lib/sim/pool.ts";
export type {
  ArrayPrediction,
  FeedbackPrediction,
  FeedbackRequest,
  OodFlags,
  RealScoreMode,
  SimulatorLike,
  StepRecord,
  UserModelName,
} from "./lib/sim/types.ts";
export { REAL_SCORES, USER_MODELS } from "./lib/sim/types.ts";
export {
  chooseUserModel,
  USER_MODEL_REQUESTS,
  type UserModelChoice,
  type UserModelRequest,
} from "./lib/sim/user_model.ts";
export {
  type Action,
  type EnvAction,
  type ResetOptions,
  type ResetResult,
  SimEnv,
  type SimEnvOptions,
  type SlateStepResult,
  type StepResult,
  VecSimEnv,
} from "./lib/sim/env.ts";
export { LeaveModel, loadLeaveModel } from "./lib/sim/leave.ts";
export { GlmModel, loadGlmModel } from "./lib/sim/glm.ts";
export { fitGlmModel } from "./lib/train/fit_glm.ts";
export { glmFeatureNames, type GlmModelData } from "./lib/train/glm_features.ts";
export { loggedItems, simulateSessionLengths } from "./lib/sim/session_lengths.ts";
export {
  ksDistance,
  lengthSummary,
  type SessionFidelity,
  sessionFidelity,
} from "./lib/fidelity/session_fidelity.ts";
export { defaultRewards, expectedReward, parseRewards } from "./lib/sim/reward.ts";
export { type BackendName, initBackend } from "./lib/tf.ts";
export {
  type Dataset,
  datasetFromText,
  type DatasetOptions,
  loadDataset,
} from "./lib/data/dataset.ts";
export {
  alignItemFeatures,
  type ItemFeatureFile,
  type ItemFeatures,
  readItemFeatures,
} from "./lib/data/item_features.ts";
export {
  type Arch,
  type ItemFeaturesSpec,
  TRAIN_DEFAULTS,
  type TrainConfig,
  validateConfig,
  withArchDefaults,
} from "./lib/config.ts";
export { type TrainOptions, trainRecSimu, type TrainResult } from "./lib/train/loop.ts";
export { evaluateModel, type FeedbackMetrics, itemBaselines } from "./lib/eval/evaluate.ts";
export { SYNTH_DEFAULTS, type SynthOptions, synthRows, writeSynthLog } from "./lib/data/synth.ts";
