/**
 * A trained simulator loaded from a checkpoint: the reward model r(s, a) as the server, the
 * batch predictor and TypeScript agents use it.
 *
 * States shorter than N are left-padded with a zero item and masked: the GRU skips padded
 * steps, so a short state encodes exactly like the short sequence it is (an empty state is
 * the GRU's zero initial state). Models trained with `--min-state-length` below N have seen
 * such states in training; others extrapolate from full states.
 * @module
 */
import { backendInfo, type BackendName, initBackend, tf } from "../tf.ts";
import { UserError } from "../errors.ts";
import { RecSimuModel } from "../../models/recsimu.ts";
import {
  assignVariables,
  checkpointCalibration,
  type CheckpointMeta,
  loadCheckpoint,
} from "../train/checkpoint.ts";
import { calibrateScale, type CalibrationMap } from "../eval/calibration.ts";
import { loadSupportModel, type SupportModel } from "./support.ts";
import { type GlmModel, loadGlmModel } from "./glm.ts";
import { GLM_FILE } from "../train/glm_features.ts";
import { chooseUserModel, type UserModelChoice, type UserModelRequest } from "./user_model.ts";
import type {
  ArrayPrediction,
  FeedbackPrediction,
  FeedbackRequest,
  OodFlags,
  RealScoreMode,
  SimulatorLike,
  StepRecord,
  UserModelName,
} from "./types.ts";

/**
 * Options of {@link Simulator.load}.
 *
 * @example
 * ```ts
 * import type { SimulatorLoadOptions } from "@recsimu/recsimu";
 *
 * // The CPU backend (when none is initialised yet) and passes of at most 1024 requests.
 * const options: SimulatorLoadOptions = { backend: "cpu", maxBatch: 1024 };
 * // const sim = await Simulator.load("model/", options);
 * ```
 */
export interface SimulatorLoadOptions {
  /** Backend to initialise when none is yet. @default "auto" */
  backend?: BackendName;
  /** Largest number of requests scored in one pass. @default 4096 */
  maxBatch?: number;
  /**
   * Who answers: the discriminator (`network`), the structured user model of the
   * checkpoint's `glm.json` (`glm`; `real` and `ood.low_real` still come from the
   * discriminator unless `realScore` is `off`), or `auto`: the one with the lower validation
   * log-loss (see `./user_model.ts`; the commands' default). @default "network"
   */
  userModel?: UserModelRequest;
  /**
   * `off` (only when the GLM answers: `glm`, or `auto` choosing it; refused otherwise): the
   * answers carry no `real` and no `ood.low_real`, and the discriminator never runs, so a batch
   * costs the structured and support models' features only. @default "on"
   */
  realScore?: RealScoreMode;
}

/**
 * A trained RecSimu discriminator with its vocabulary and labels.
 *
 * @example
 * ```ts
 * import {
 *   initBackend,
 *   loadDataset,
 *   Simulator,
 *   SYNTH_DEFAULTS,
 *   TRAIN_DEFAULTS,
 *   trainRecSimu,
 *   writeSynthLog,
 * } from "@recsimu/recsimu";
 *
 * await initBackend("cpu", { quiet: true });
 * const dir = await Deno.makeTempDir();
 * // A tiny model on a small synthetic log (a second or two); real ones are larger.
 * await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 20, items: 20 });
 * const shape = { stateLength: 5, minStateLength: 5, minCount: 1 };
 * const ds = await loadDataset(`${dir}/log.csv`, shape);
 * const config = { ...TRAIN_DEFAULTS, ...shape, hidden: 8, fc: 8, embDim: 6, epochs: 1 };
 * await trainRecSimu(ds, config, { out: `${dir}/model`, quiet: true });
 *
 * const sim = await Simulator.load(`${dir}/model`);
 * const state = [{ item: sim.items[1]!, feedback: "click" }];
 * const [p] = await sim.predict([{ state, action: sim.items[0]! }]);
 * p!.probs; // { skip: …, click: …, purchase: … }: one probability per label, summing to 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Simulator implements SimulatorLike {
  readonly labels: readonly string[];
  readonly positive: readonly boolean[];
  readonly stateLength: number;
  readonly itemCount: number;
  readonly items: readonly string[];
  readonly startStates: readonly (readonly StepRecord[])[];
  /**
   * Temperature T of the answers, p = softmax(z_real / T + b): the one fitted on the validation
   * tuples after training (config.json's `calibration`), 1 for checkpoints without one.
   */
  readonly temperature: number;
  /** T and the per-class bias b (none for `--calibrate temperature`) of the answers. */
  readonly calibration: CalibrationMap;
  readonly #itemIndex: Map<string, number>;
  readonly #labelIndex: Map<string, number>;
  readonly #maxBatch: number;

  private constructor(
    readonly model: RecSimuModel,
    readonly meta: CheckpointMeta,
    items: string[],
    startStates: StepRecord[][],
    readonly dir: string,
    maxBatch: number,
    /**
     * The frozen item2vec vectors [V, E] (`embeddings.bin`; the model's table without its
     * padding and rare rows), for what needs them beside the model: agents, baselines.
     */
    readonly embeddings: Float32Array,
    support?: SupportModel,
    glm?: GlmModel,
    realScore: RealScoreMode = "on",
    choice?: UserModelChoice,
  ) {
    this.labels = meta.labels;
    this.positive = meta.positive;
    this.stateLength = meta.shape.stateLength;
    this.items = items;
    this.itemCount = items.length;
    this.startStates = startStates;
    this.calibration = checkpointCalibration(meta);
    this.temperature = this.calibration.temperature;
    this.#itemIndex = new Map(items.map((id, i) => [id, i]));
    this.#labelIndex = new Map(meta.labels.map((l, i) => [l, i]));
    this.#maxBatch = maxBatch;
    this.answersUnknownItems = (meta.shape.arch ?? "paper") === "attn";
    this.realThreshold = meta.ood?.realThreshold ?? 0;
    this.support = support;
    this.glm = glm;
    this.userModel = glm ? "glm" : "network";
    this.realScore = realScore;
    this.userModelChoice = choice ?? {
      requested: this.userModel,
      chosen: this.userModel,
      network_log_loss: null,
      glm_log_loss: null,
    };
  }

  /** Loads the checkpoint in `dir`. */
  static async load(dir: string, options: SimulatorLoadOptions = {}): Promise<Simulator> {
    if (!backendInfo()) await initBackend(options.backend ?? "auto", { quiet: true });
    const realScore = options.realScore ?? "on";
    const requested = options.userModel ?? "network";
    const choice = await chooseUserModel(dir, requested);
    if (realScore === "off" && choice.chosen !== "glm") {
      throw new UserError(
        requested === "auto"
          ? `--real-score off: --user-model auto chose the network for "${dir}" (validation ` +
            `log-loss ${choice.network_log_loss} vs the GLM's ${choice.glm_log_loss}): pass ` +
            `--user-model glm`
          : "--real-score off needs --user-model glm: the network's answers are the discriminator's",
      );
    }
    const ck = await loadCheckpoint(dir);
    const { seed, itemBias } = ck.meta.config;
    const model = new RecSimuModel(ck.meta.shape, ck.embeddings, {
      seed,
      itemBias,
      ...(ck.itemFeatures ? { itemFeatureCodes: ck.itemFeatures.codes } : {}),
    });
    assignVariables([...model.gVars(), ...model.dVars()], ck.weights, `"${dir}/weights.bin"`);
    model.freezeForInference(); // weights are fixed from here on: predictions reuse them
    const support = await loadSupportModel(dir, {
      labels: ck.meta.labels,
      stateLength: ck.meta.shape.stateLength,
      vectors: ck.embeddings,
      dim: ck.meta.shape.embDim,
    });
    let glm: GlmModel | undefined;
    if (choice.chosen === "glm") {
      glm = await loadGlmModel(dir, {
        labels: ck.meta.labels,
        positive: ck.meta.positive,
        stateLength: ck.meta.shape.stateLength,
        vectors: ck.embeddings,
        dim: ck.meta.shape.embDim,
        ...(ck.itemFeatures ? { itemFeatures: ck.itemFeatures } : {}),
      });
      if (!glm) {
        model.dispose();
        throw new UserError(
          `--user-model glm: "${dir}" has no ${GLM_FILE} (trained before recsimu train fitted ` +
            `one: train it again, or answer with --user-model network)`,
        );
      }
    }
    return new Simulator(
      model,
      ck.meta,
      ck.items,
      ck.startStates,
      dir,
      options.maxBatch ?? 4096,
      ck.embeddings,
      support,
      glm,
      realScore,
      choice,
    );
  }

  /**
   * Unknown item ids (rare in the training log, or never seen) are answered as the shared rare
   * item, with `ood.item` = "unknown" (the default model); false for the paper's networks, which
   * refuse them.
   */
  readonly answersUnknownItems: boolean;
  /**
   * `ood.low_real` is set below this real score: the 1st percentile of D's real score on the
   * validation tuples (0 for checkpoints without it).
   */
  readonly realThreshold: number;
  /**
   * The checkpoint's support model (`support.json`): every answer's `support` and
   * `ood.off_support`; undefined for checkpoints without one.
   */
  readonly support: SupportModel | undefined;
  /** The structured user model that answers under `--user-model glm`; undefined otherwise. */
  readonly glm: GlmModel | undefined;
  /** Who answers (see {@link SimulatorLoadOptions.userModel}). */
  readonly userModel: UserModelName;
  /** What was asked for, what answers, and `auto`'s evidence. */
  readonly userModelChoice: UserModelChoice;
  /** Whether answers carry D's real score (see {@link SimulatorLoadOptions.realScore}). */
  readonly realScore: RealScoreMode;

  /** True when `id` is in the vocabulary. */
  hasItem(id: string): boolean {
    return this.#itemIndex.has(id);
  }

  /** Index of item `id`, or undefined. */
  itemIndex(id: string): number | undefined {
    return this.#itemIndex.get(id);
  }

  /** Index of label `l`, or undefined. */
  labelIndex(l: string): number | undefined {
    return this.#labelIndex.get(l);
  }

  /**
   * Scores many requests in batched passes (identical states are encoded once). Each answer's
   * `probs` maps every label, in label order, to its probability (calibrated by
   * {@link temperature}); the values sum to 1. `real` is D's own real-vs-fake score, unscaled
   * (absent under `realScore: "off"`).
   *
   * @example
   * ```ts ignore
   * const [p] = await sim.predict([{ state: [], action: sim.items[0]! }]);
   * p!.probs; // { skip: 0.71, click: 0.22, purchase: 0.07 }
   * ```
   */
  async predict(requests: readonly FeedbackRequest[]): Promise<FeedbackPrediction[]> {
    const labels = this.labels;
    return (await this.predictArrays(requests)).map((p) => ({
      probs: Object.fromEntries(labels.map((l, k) => [l, p.probs[k]!])),
      ...(p.real !== undefined ? { real: p.real } : {}),
      ...(p.spread !== undefined ? { spread: p.spread } : {}),
      ...(p.support !== undefined ? { support: p.support } : {}),
      ...(p.ood ? { ood: p.ood } : {}),
    }));
  }

  /**
   * {@link predict} with `probs` as arrays in label order, for loops that index by class
   * (environments, agents, the server).
   */
  async predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    const out: ArrayPrediction[] = [];
    for (let i = 0; i < requests.length; i += this.#maxBatch) {
      out.push(...await this.#predictChunk(requests.slice(i, i + this.#maxBatch), i));
    }
    return out;
  }

  async #predictChunk(
    reqs: readonly FeedbackRequest[],
    base: number,
  ): Promise<ArrayPrediction[]> {
    const N = this.stateLength;
    const rare = this.itemCount + 1;
    // Unique states (last N pairs) → one encoding each.
    const stateKeys = new Map<string, number>();
    const stateOf = new Int32Array(reqs.length);
    const states: StepRecord[][] = [];
    const actions = new Int32Array(reqs.length);
    const actionKnown = new Uint8Array(reqs.length);
    reqs.forEach((r, i) => {
      const a = this.#itemIndex.get(r.action);
      if (a === undefined && !this.answersUnknownItems) {
        throw new UserError(`requests[${base + i}].action: unknown item "${r.action}"`);
      }
      actions[i] = a ?? rare;
      actionKnown[i] = a === undefined ? 0 : 1;
      const s = r.state.length > N ? r.state.slice(r.state.length - N) : r.state;
      const key = s.map((p) => `${p.item}\u0000${p.feedback}`).join("\u0001");
      let j = stateKeys.get(key);
      if (j === undefined) {
        j = states.length;
        stateKeys.set(key, j);
        states.push(s);
      }
      stateOf[i] = j;
    });
    const U = states.length;
    const { items, fb, mask, padded, unknownInState } = this.#stateArrays(states);
    if (this.realScore === "off") {
      // The structured model alone: no discriminator pass, no real score.
      const answers = reqs.map((_, i): ArrayPrediction => {
        const itemKnown = actionKnown[i] === 1, stateUnknown = unknownInState[stateOf[i]!]!;
        const ood: OodFlags = {
          item: itemKnown ? "known" : "unknown",
          state_unknown_items: stateUnknown,
          any: !itemKnown || stateUnknown > 0,
        };
        return { probs: [], spread: 0, ood };
      });
      const coded = this.#questions({ items, fb, mask, U });
      this.#glmAnswers(answers, coded, stateOf, actions);
      if (this.support) this.#addSupport(answers, coded, stateOf, actions);
      return answers;
    }
    const m = this.model;
    const probs = tf.tidy(() => {
      const itemT = tf.tensor1d(items, "int32");
      const emb = tf.reshape(tf.gather(m.table, itemT), [N, U, m.shape.embDim]) as tf.Tensor3D;
      const p = m.d.stateInference({
        emb,
        feedback: tf.tensor2d(fb, [N, U], "int32"),
        mask: padded ? tf.tensor2d(mask, [N, U]) : undefined,
        items: tf.reshape(itemT, [N, U]) as tf.Tensor2D,
      });
      const pr = tf.gather(p, tf.tensor1d(stateOf, "int32")) as tf.Tensor2D;
      const actionIndex = tf.tensor1d(actions, "int32");
      const cand = tf.gather(m.table, actionIndex) as tf.Tensor2D;
      return m.d.headProbs(pr, cand, actionIndex);
    });
    const data = await probs.data();
    probs.dispose();
    const answers = this.#answers(data as Float32Array, reqs.length, (i) => ({
      itemKnown: actionKnown[i] === 1,
      stateUnknown: unknownInState[stateOf[i]!]!,
    }));
    if (this.support || this.glm) {
      const coded = this.#questions({ items, fb, mask, U });
      if (this.glm) this.#glmAnswers(answers, coded, stateOf, actions);
      if (this.support) this.#addSupport(answers, coded, stateOf, actions);
    }
    return answers;
  }

  /**
   * The unique states as questions for the support and structured models: item indices (the
   * rare item as −1) and feedback classes, oldest first, from #stateArrays' time-major arrays.
   */
  #questions(s: { items: Int32Array; fb: Int32Array; mask: Float32Array; U: number }) {
    const V = this.itemCount, N = this.stateLength;
    return Array.from({ length: s.U }, (_, u) => {
      const items: number[] = [], feedback: number[] = [];
      for (let t = 0; t < N; t++) {
        const at = t * s.U + u;
        if (s.mask[at] === 0) continue; // left padding
        items.push(s.items[at]! < V ? s.items[at]! : -1);
        feedback.push(s.fb[at]!);
      }
      return { items, feedback };
    });
  }

  /** The structured model's probabilities and spread (its own, from its item bias's sd). */
  #glmAnswers(
    answers: ArrayPrediction[],
    coded: { items: number[]; feedback: number[] }[],
    stateOf: Int32Array,
    actions: Int32Array,
  ): void {
    const glm = this.glm!, V = this.itemCount;
    answers.forEach((a, i) => {
      const q = { ...coded[stateOf[i]!]!, candidate: actions[i]! < V ? actions[i]! : -1 };
      a.probs = Array.from(glm.probs(q));
      a.spread = glm.spread(q.candidate, a.probs);
    });
  }

  /**
   * Each answer's `support` and `ood.off_support` (which `ood.any` then includes), from the
   * unique states' time-major arrays that #stateArrays built (the rare item as −1).
   */
  #addSupport(
    answers: ArrayPrediction[],
    coded: { items: number[]; feedback: number[] }[],
    stateOf: Int32Array,
    actions: Int32Array,
  ): void {
    const support = this.support!, V = this.itemCount;
    answers.forEach((a, i) => {
      const z = support.logit({
        ...coded[stateOf[i]!]!,
        candidate: actions[i]! < V ? actions[i]! : -1,
      });
      a.support = z;
      if (a.ood) {
        a.ood.off_support = z < support.threshold;
        a.ood.any ||= a.ood.off_support;
      }
    });
  }

  /** Time-major index arrays of unique states (left-padded, unknown items as the rare item). */
  #stateArrays(states: readonly (readonly StepRecord[])[]) {
    const N = this.stateLength, pad = this.itemCount, rare = this.itemCount + 1;
    const U = states.length;
    const items = new Int32Array(N * U).fill(pad);
    const fb = new Int32Array(N * U);
    const mask = new Float32Array(N * U);
    const unknownInState = new Int32Array(U);
    let padded = false;
    states.forEach((s, u) => {
      const off = N - s.length;
      if (off > 0) padded = true;
      s.forEach((p, t) => {
        let it = this.#itemIndex.get(p.item);
        if (it === undefined) {
          if (!this.answersUnknownItems) {
            throw new UserError(`state item "${p.item}" is not in the model's vocabulary`);
          }
          it = rare;
          unknownInState[u]!++;
        }
        const l = this.#labelIndex.get(p.feedback);
        if (l === undefined) {
          throw new UserError(
            `state feedback "${p.feedback}" is not one of ${this.labels.join(", ")}`,
          );
        }
        items[(off + t) * U + u] = it;
        fb[(off + t) * U + u] = l;
        mask[(off + t) * U + u] = 1;
      });
    });
    return { items, fb, mask, padded, unknownInState };
  }

  /**
   * The answers from D's per-head softmax rows [n, M, K + F]. As in evaluation, the heads'
   * softmax rows are averaged first, then the real classes' share is taken (calibrated)
   * with the real mass `real`; `spread` is the standard deviation over the heads of each head's
   * own P(positive); `ood` says what the model did not know.
   */
  #answers(
    data: Float32Array,
    n: number,
    known: (i: number) => { itemKnown: boolean; stateUnknown: number },
  ): ArrayPrediction[] {
    const K = this.labels.length;
    const W = K + this.model.shape.fakeClasses;
    const M = this.model.d.heads;
    const out: ArrayPrediction[] = [];
    for (let i = 0; i < n; i++) {
      const mean = new Float64Array(K);
      const headPos: number[] = [];
      for (let h = 0; h < M; h++) {
        const row = data.subarray((i * M + h) * W, (i * M + h) * W + K);
        for (let k = 0; k < K; k++) mean[k]! += row[k]! / M;
        if (M > 1) headPos.push(this.#positiveShare(this.#realShare(row)));
      }
      let real = 0;
      for (let k = 0; k < K; k++) real += mean[k]!;
      const k = known(i);
      const low = real < this.realThreshold;
      const ood: OodFlags = {
        item: k.itemKnown ? "known" : "unknown",
        state_unknown_items: k.stateUnknown,
        low_real: low,
        any: !k.itemKnown || k.stateUnknown > 0 || low,
      };
      out.push({ probs: this.#realShare(mean), real, spread: standardDeviation(headPos), ood });
    }
    return out;
  }

  /** The real classes' share of a row of D's softmax, under the calibration. */
  #realShare(row: ArrayLike<number>): number[] {
    const K = this.labels.length, map = this.calibration;
    let z = 0;
    for (let k = 0; k < K; k++) z += row[k]!;
    const pk: number[] = [];
    for (let k = 0; k < K; k++) pk.push(row[k]! / Math.max(z, 1e-30));
    return map.temperature === 1 && !map.bias ? pk : Array.from(calibrateScale(pk, K, map));
  }

  /** Σ of the positive labels' probabilities. */
  #positiveShare(p: readonly number[]): number {
    let s = 0;
    for (let k = 0; k < p.length; k++) if (this.positive[k]) s += p[k]!;
    return s;
  }

  /** Model description for `GET /v1/model`. */
  describe(): Record<string, unknown> {
    return {
      labels: this.labels,
      positive: this.positive,
      state_length: this.stateLength,
      item_count: this.itemCount,
      backend: backendInfo()?.name ?? tf.getBackend(),
      config: this.meta.config,
      calibration: this.meta.calibration ?? null,
      support: this.support?.describe() ?? null,
      user_model: this.userModel,
      user_model_choice: this.userModelChoice,
      real_score: this.realScore,
      ...(this.glm ? { glm: this.glm.describe() } : {}),
      shape: this.meta.shape,
      data: { fingerprint: this.meta.data.fingerprint },
      versions: this.meta.versions,
      recsimu: this.meta.recsimu,
      created: this.meta.created,
    };
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.model.dispose();
  }
}

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
function standardDeviation(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}
