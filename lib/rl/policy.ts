/**
 * The agent's policy network and its REINFORCE update.
 *
 * π(a | s) = softmax over unused items of  logit(s, a) = h(s) · W₂ · e_a + b_a,  with
 * h(s) = tanh(x(s) W₁ + b₁), x(s) the {@link Featurizer} features and e_a the fixed
 * (standardised) item embeddings. The learned parts are W₁, b₁, W₂ (a linear state projection
 * into embedding space) and a per-item bias b. Logits are a matMul against the [E, V] item
 * matrix, never a `gather` of a trainable variable, so gradients work on every backend.
 * @module
 */
import { tf } from "../tf.ts";
import type { Featurizer } from "./features.ts";
import type { Policy, PolicyInput } from "./rollout.ts";

/** Options of {@link PolicyNet}. */
export interface PolicyNetOptions {
  /** Width of the hidden layer. */
  hidden: number;
  /** Seed of the weight initialisation. */
  seed: number;
}

/** A large negative logit that removes an item from the softmax. */
const MASKED = -1e9;

/** The policy network: trainable variables and a fixed item matrix. */
export class PolicyNet {
  /** [F, H] input layer. */
  readonly w1: tf.Variable;
  /** [H] input bias. */
  readonly b1: tf.Variable;
  /** [H, E] projection of the hidden state into item-embedding space. */
  readonly w2: tf.Variable;
  /** [V] per-item bias. */
  readonly itemBias: tf.Variable;
  /** [E, V] fixed item embeddings (not trained). */
  readonly itemMatrix: tf.Tensor2D;
  /** Number of items V. */
  readonly items: number;
  /** Feature size F. */
  readonly inputSize: number;

  constructor(readonly featurizer: Featurizer, options: PolicyNetOptions) {
    const { hidden, seed } = options;
    if (!Number.isSafeInteger(hidden) || hidden < 1) {
      throw new RangeError(`Cannot build policy: hidden must be an integer >= 1, got ${hidden}`);
    }
    const f = featurizer.size;
    const e = featurizer.embDim;
    const v = featurizer.embeddings.length / e;
    this.items = v;
    this.inputSize = f;
    // tidy frees the initial values; variables survive it.
    this.w1 = tf.tidy(() =>
      tf.variable(tf.randomNormal([f, hidden], 0, 1 / Math.sqrt(f), "float32", seed))
    );
    this.b1 = tf.tidy(() => tf.variable(tf.zeros([hidden])));
    // Small output weights: the untrained policy is close to uniform.
    this.w2 = tf.tidy(() =>
      tf.variable(tf.randomNormal([hidden, e], 0, 0.01, "float32", seed + 1))
    );
    this.itemBias = tf.tidy(() => tf.variable(tf.zeros([v])));
    this.itemMatrix = tf.tidy(() =>
      tf.transpose(tf.tensor2d(featurizer.embeddings, [v, e])) as tf.Tensor2D
    );
  }

  /** The trainable variables. */
  variables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.itemBias];
  }

  /** Logits [B, V] of features `x` [B, F]; items with `used` [B, V] = 1 get a huge negative. */
  logits(x: tf.Tensor2D, used: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.tanh(tf.add(tf.matMul(x, this.w1), this.b1));
      const q = tf.matMul(tf.matMul(h, this.w2), this.itemMatrix);
      return tf.add(tf.add(q, this.itemBias), tf.mul(used, MASKED)) as tf.Tensor2D;
    });
  }

  /** A {@link Policy} that samples from π (`sample`) or takes its most likely item (`greedy`). */
  policy(mode: "sample" | "greedy", name = `agent-${mode}`): Policy {
    return { name, act: (inputs) => this.#act(inputs, mode) };
  }

  async #act(inputs: readonly PolicyInput[], mode: "sample" | "greedy"): Promise<number[]> {
    const b = inputs.length;
    const v = this.items;
    if (b === 0) return [];
    const x = this.featurizer.batch(inputs.map((i) => i.observation));
    const used = usedMatrix(inputs.map((i) => i.used), v);
    const out = tf.tidy(() => {
      const logits = this.logits(tf.tensor2d(x, [b, this.inputSize]), tf.tensor2d(used, [b, v]));
      return mode === "greedy" ? tf.argMax(logits, 1) : tf.softmax(logits);
    });
    const data = await out.data();
    out.dispose();
    if (mode === "greedy") return Array.from(data as Int32Array);
    return inputs.map(({ rng, used }, i) => {
      const row = data.subarray(i * v, (i + 1) * v);
      const a = rng.categorical(row);
      return used[a] ? argMaxUnused(row, used) : a;
    });
  }

  /** Frees the network's tensors. */
  dispose(): void {
    tf.dispose([...this.variables(), this.itemMatrix]);
  }
}

/** One REINFORCE batch: M (state, used mask, action, advantage) rows. */
export interface ReinforceBatch {
  /** [M, F] state features, row-major. */
  features: Float32Array;
  /** [M, V] 1 where the item was already used in the episode, row-major. */
  used: Float32Array;
  /** [M] chosen item indices. */
  actions: Int32Array;
  /** [M] advantages (return-to-go minus baseline, possibly normalised). */
  advantages: Float32Array;
}

/** Scalars of one update (plain numbers, never tensors). */
export interface ReinforceStats {
  /** Total loss: policy loss − entropyCoef · entropy. */
  loss: number;
  /** −mean(A · log π(a|s)). */
  policyLoss: number;
  /** Mean entropy of π(·|s) over the batch, in nats. */
  entropy: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
}

/**
/** Options of {@link reinforceStep}. */
export interface ReinforceStepOptions {
  /** The optimiser that applies the gradients (it keeps its state between steps). */
  optimizer: tf.Optimizer;
  /** Weight c of the entropy bonus. */
  entropyCoef: number;
  /** Clip the global gradient norm to this value; 0 = no clipping. */
  maxGradNorm: number;
}

/**
 * One policy-gradient update: minimises −mean(A · log π(a|s)) − c · mean(H(π(·|s))) with
 * `options.optimizer`; gradients are clipped to global norm `maxGradNorm` (0 = no clipping).
 */
export function reinforceStep(
  net: PolicyNet,
  batch: ReinforceBatch,
  options: ReinforceStepOptions,
): ReinforceStats {
  const m = batch.actions.length;
  const v = net.items;
  if (
    m === 0 || batch.features.length !== m * net.inputSize || batch.used.length !== m * v ||
    batch.advantages.length !== m
  ) {
    throw new TypeError(`Cannot update policy: inconsistent batch of ${m} rows`);
  }
  let entropy: tf.Scalar | undefined;
  let policyLoss: tf.Scalar | undefined;
  const { value, grads } = tf.tidy(() => {
    const x = tf.tensor2d(batch.features, [m, net.inputSize]);
    const used = tf.tensor2d(batch.used, [m, v]);
    const onehot = tf.oneHot(tf.tensor1d(batch.actions, "int32"), v).toFloat();
    const adv = tf.tensor1d(batch.advantages);
    return tf.variableGrads(() => {
      const logits = net.logits(x, used);
      const logp = tf.sub(logits, tf.logSumExp(logits, 1, true));
      const chosen = tf.sum(tf.mul(onehot, logp), 1);
      const pl = tf.neg(tf.mean(tf.mul(adv, chosen))) as tf.Scalar;
      const h = tf.mean(tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1))) as tf.Scalar;
      policyLoss = tf.keep(pl);
      entropy = tf.keep(h);
      return tf.sub(pl, tf.mul(h, options.entropyCoef)) as tf.Scalar;
    }, net.variables());
  });
  const norm = tf.tidy(() =>
    tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))))
  );
  const gradNorm = norm.dataSync()[0]!;
  norm.dispose();
  let applied = grads;
  if (options.maxGradNorm > 0 && gradNorm > options.maxGradNorm) {
    const scale = options.maxGradNorm / gradNorm;
    applied = Object.fromEntries(
      Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]),
    );
  }
  options.optimizer.applyGradients(applied);
  const stats: ReinforceStats = {
    loss: value.dataSync()[0]!,
    policyLoss: policyLoss!.dataSync()[0]!,
    entropy: entropy!.dataSync()[0]!,
    gradNorm,
  };
  tf.dispose([value, policyLoss!, entropy!]);
  tf.dispose(Object.values(grads));
  if (applied !== grads) tf.dispose(Object.values(applied));
  return stats;
}

/** [B, V] float mask from per-input `used` arrays. */
export function usedMatrix(used: readonly Uint8Array[], v: number): Float32Array {
  const out = new Float32Array(used.length * v);
  used.forEach((u, b) => {
    for (let i = 0; i < v; i++) if (u[i]) out[b * v + i] = 1;
  });
  return out;
}

function argMaxUnused(row: ArrayLike<number>, used: Uint8Array): number {
  let best = -1;
  for (let i = 0; i < row.length; i++) {
    if (!used[i] && (best < 0 || row[i]! > row[best]!)) best = i;
  }
  return best;
}
