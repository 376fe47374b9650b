/**
 * Algorithm 1's update steps. Each step is its own function that returns plain numbers, never
 * tensors; all intermediate tensors are freed (tf.tidy + disposed gradients).
 * @module
 */
import { tf } from "../tf.ts";
import { Generator, type KeptGeneration } from "../../models/generator.ts";
import { Discriminator } from "../../models/discriminator.ts";
import { detach } from "../../models/params.ts";
import { registerFastMatMulGrad, registerFastWasmKernels } from "../../models/fast_grad.ts";
import type { TupleBatch } from "../data/batches.ts";
import type { TrainConfig } from "../config.ts";
import { deriveSeed } from "../random.ts";
import { UserError } from "../errors.ts";
import * as L from "./losses.ts";

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
}

/** Generator, discriminator, frozen embedding table and their optimisers. */
export class RecSimuModel {
  readonly g: Generator;
  readonly d: Discriminator;
  /** [V + 1, E] item embeddings; the last row (padding) is zeros. Not trained. */
  readonly table: tf.Tensor2D;
  readonly optG: tf.AdamOptimizer;
  readonly optD: tf.AdamOptimizer;

  constructor(readonly shape: ModelShape, embeddings: Float32Array, readonly config: TrainConfig) {
    registerFastMatMulGrad();
    registerFastWasmKernels();
    if (embeddings.length !== shape.items * shape.embDim) {
      throw new RangeError(
        `embeddings: expected ${shape.items}×${shape.embDim} values, got ${embeddings.length}`,
      );
    }
    const padded = new Float32Array((shape.items + 1) * shape.embDim);
    padded.set(embeddings);
    this.table = tf.tensor2d(padded, [shape.items + 1, shape.embDim]);
    const enc = {
      embDim: shape.embDim,
      classes: shape.classes,
      feedbackDim: shape.feedbackDim,
      hidden: shape.hidden,
    };
    this.g = new Generator({ ...enc, fc: shape.fc }, deriveSeed(config.seed, "generator"));
    if (config.itemBias && shape.items > 200_000) {
      throw new UserError(
        `--item-bias: supported up to 200,000 items, the model has ${shape.items}`,
      );
    }
    this.d = new Discriminator(
      {
        ...enc,
        fc: shape.fc,
        fakeClasses: shape.fakeClasses,
        itemBias: config.itemBias ? shape.items : 0,
      },
      deriveSeed(config.seed, "discriminator"),
    );
    this.optG = tf.train.adam(config.learningRate);
    this.optD = tf.train.adam(config.learningRate);
  }

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

  /** Frees every tensor the model owns. */
  dispose(): void {
    this.g.params.dispose();
    this.d.params.dispose();
    this.table.dispose();
    this.optG.dispose();
    this.optD.dispose();
  }
}

/** Takes rows [start, start + n) of a batch-major [B, ·] tensor. */
type Rows = (t: tf.Tensor2D) => tf.Tensor2D;

/** Rows [start, start + n) of a batch: its state (time-major), actions and labels. */
function sliceBatch(b: TupleBatch, start: number, n: number): TupleBatch {
  const t3 = (x: tf.Tensor3D) => tf.slice(x, [0, start, 0], [-1, n, -1]) as tf.Tensor3D;
  const t2 = (x: tf.Tensor2D) => tf.slice(x, [0, start], [-1, n]) as tf.Tensor2D;
  return {
    state: {
      emb: t3(b.state.emb),
      feedback: t2(b.state.feedback),
      mask: b.state.mask && t2(b.state.mask),
    },
    action: tf.slice(b.action, [start, 0], [n, -1]) as tf.Tensor2D,
    actionIndex: tf.slice(b.actionIndex, [start], [n]) as tf.Tensor1D,
    label: tf.slice(b.label, [start], [n]) as tf.Tensor1D,
  };
}

/** Rows per micro-batch for a batch of `B` rows (`B`: no micro-batching). */
function microBatchRows(m: RecSimuModel, B: number): number {
  return m.config.microBatch > 0 ? Math.min(m.config.microBatch, B) : B;
}

/**
 * Gradients of the batch-mean loss `f` with respect to `vars`, computed over micro-batches of
 * `config.microBatch` rows and summed with weights n_i / B — the same value and gradients as
 * one pass (every loss is a batch mean), with the activations of one micro-batch in memory.
 * `f` gets the part and a function that takes the part's rows of other batch-major tensors.
 */
function gradients(
  m: RecSimuModel,
  vars: tf.Variable[],
  b: TupleBatch,
  f: (part: TupleBatch, rows: Rows) => tf.Scalar,
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const B = b.label.shape[0];
  const micro = microBatchRows(m, B);
  if (micro >= B) return tf.variableGrads(() => f(b, (t) => t), vars);
  let value: tf.Scalar = tf.scalar(0);
  let grads: tf.NamedTensorMap = {};
  for (let start = 0; start < B; start += micro) {
    const n = Math.min(micro, B - start);
    const part = sliceBatch(b, start, n);
    const rows: Rows = (t) => tf.slice(t, [start, 0], [n, -1]) as tf.Tensor2D;
    const r = tf.variableGrads(() => tf.mul(f(part, rows), n / B) as tf.Scalar, vars);
    const sum = (a: tf.Tensor | undefined, x: tf.Tensor) => (a ? tf.add(a, x) : tf.clone(x));
    const next = Object.fromEntries(Object.entries(r.grads).map(([k, g]) => [k, sum(grads[k], g)]));
    const nextValue = tf.add(value, r.value) as tf.Scalar;
    tf.dispose([value, r.value, ...Object.values(grads), ...Object.values(r.grads)]);
    tf.dispose([part.state.emb, part.state.feedback, part.action, part.actionIndex, part.label]);
    if (part.state.mask) part.state.mask.dispose();
    grads = next;
    value = nextValue;
  }
  return { value, grads };
}

/** Applies the gradients of `f` with `opt`; returns the loss tensor (kept). Call inside tf.tidy. */
function update(
  m: RecSimuModel,
  opt: tf.Optimizer,
  vars: tf.Variable[],
  b: TupleBatch,
  f: (part: TupleBatch, rows: Rows) => tf.Scalar,
): tf.Scalar {
  const { value, grads } = gradients(m, vars, b, f);
  opt.applyGradients(grads as unknown as Record<string, tf.Variable>);
  tf.dispose(Object.values(grads));
  return value;
}

/** Reads scalars asynchronously (WebGPU has no synchronous read) and frees them. */
async function read(...ts: tf.Tensor[]): Promise<number[]> {
  try {
    return await Promise.all(ts.map(async (t) => (await t.data())[0]!));
  } finally {
    tf.dispose(ts);
  }
}

/** Pre-trains G on L_supG (Eq. 11); resolves to the loss. */
export async function generatorPretrainStep(m: RecSimuModel, b: TupleBatch): Promise<number> {
  const loss = tf.tidy(() =>
    update(m, m.optG, m.gVars(), b, (part) => L.supG(m.g.apply(part.state), part.action))
  );
  return (await read(loss))[0]!;
}

/** Pre-trains D on L_supD (Eq. 8) with G's fake actions; resolves to the loss. */
export async function discriminatorPretrainStep(m: RecSimuModel, b: TupleBatch): Promise<number> {
  const loss = tf.tidy(() => {
    const fake = m.g.applyInference(b.state);
    return update(m, m.optD, m.dVars(), b, (part, rows) => {
      const p = m.d.state(part.state);
      return L.supD(
        m.d.score(p, part.action, false, part.actionIndex),
        m.d.score(p, rows(fake)),
        part.label,
        m.k,
        m.config.lambda,
      );
    });
  });
  return (await read(loss))[0]!;
}

/** One D update on L_D (Eq. 9) against precomputed fake actions; returns the loss tensor. */
function discriminatorStep(m: RecSimuModel, b: TupleBatch, fake: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() =>
    update(m, m.optD, m.dVars(), b, (part, rows) => {
      const p = m.d.state(part.state);
      return L.lossD(
        m.d.score(p, part.action, false, part.actionIndex),
        m.d.score(p, rows(fake)),
        part.label,
        m.k,
        m.config,
      );
    })
  );
}

/** One G update on L_G (Eq. 12) against D's current state encoding; returns the loss tensor. */
function generatorStep(m: RecSimuModel, b: TupleBatch): tf.Scalar {
  return tf.tidy(() => {
    const p = m.d.stateInference(b.state); // no gradient needed: p_D does not depend on G
    return update(m, m.optG, m.gVars(), b, (part, rows) => {
      const g = m.g.apply(part.state);
      return L.lossG(m.d.score(rows(p), g), g, part.action, m.k, m.config.beta);
    });
  });
}

/** The first G update on L_G (Eq. 12) from a kept G(s) ({@link Generator.applyForLater}). */
function generatorStepKept(m: RecSimuModel, b: TupleBatch, kept: KeptGeneration): tf.Scalar {
  return tf.tidy(() => {
    const p = m.d.stateInference(b.state); // with D's updated weights, as in generatorStep
    const { value, grads } = kept.gradients((g) =>
      L.lossG(m.d.score(p, g), g, b.action, m.k, m.config.beta)
    );
    m.optG.applyGradients(grads as unknown as Record<string, tf.Variable>);
    tf.dispose(Object.values(grads));
    return value;
  });
}

/**
 * One adversarial round on a batch, Algorithm 1 as written: `dSteps` D updates against G(s),
 * then `gSteps` G updates against the updated D. G(s) is computed once, with what its backward
 * pass needs kept, and serves the d-steps and the first g-step (G's weights do not change in
 * between, so this is exact; later g-steps recompute it, as the PyTorch reference does). With
 * micro-batches (`config.microBatch`), or `reuse: false`, G(s) is recomputed for the g-step
 * instead: less memory, one more forward pass. Resolves to the last losses.
 */
export async function adversarialStep(
  m: RecSimuModel,
  b: TupleBatch,
  opts: {
    reuse?: boolean;
    /** When given, each phase's wall time (ms) is added here; syncs after each phase. */
    phases?: Record<string, number>;
  } = {},
): Promise<{ lossD: number; lossG: number }> {
  const B = b.label.shape[0];
  const reuse = (opts.reuse ?? true) && microBatchRows(m, B) === B;
  let t0 = performance.now();
  const lap = async (phase: string, t: tf.Tensor) => {
    if (!opts.phases) return;
    await t.data();
    opts.phases[phase] = (opts.phases[phase] ?? 0) + performance.now() - t0;
    t0 = performance.now();
  };
  const kept = reuse ? m.g.applyForLater(b.state) : undefined;
  const fake = kept ? kept.g : tf.tidy(() => m.g.applyInference(b.state));
  const lossesD: tf.Scalar[] = [], lossesG: tf.Scalar[] = [];
  try {
    await lap("g_forward", fake);
    for (let i = 0; i < m.config.dSteps; i++) lossesD.push(discriminatorStep(m, b, fake));
    await lap("d_steps", lossesD[lossesD.length - 1]!);
    if (kept && m.config.gSteps > 0) lossesG.push(generatorStepKept(m, b, kept));
  } finally {
    if (kept) kept.dispose();
    else fake.dispose();
  }
  for (let i = lossesG.length; i < m.config.gSteps; i++) lossesG.push(generatorStep(m, b));
  await lap("g_steps", lossesG[lossesG.length - 1]!);
  const d = await read(...lossesD), g = await read(...lossesG);
  return { lossD: d[d.length - 1]!, lossG: g[g.length - 1]! };
}

/**
 * One adversarial round with the d-step and g-step computed from one forward pass of each
 * network ("fused"): L_D (Eq. 9) with G(s) detached, plus L_G (Eq. 12) with D's state encoding
 * and weights detached, differentiated together; each optimiser then takes its own gradients.
 * G(s) and p_D are computed once. Unlike the sequential round, the g-step scores G(s) with D
 * before (not after) the d-step's update — a simultaneous update.
 */
export async function fusedAdversarialStep(
  m: RecSimuModel,
  b: TupleBatch,
): Promise<{ lossD: number; lossG: number }> {
  const [lD, lG] = tf.tidy(() => {
    const dVars = m.dVars(), gVars = m.gVars();
    const B = b.label.shape[0];
    const partsD: tf.Scalar[] = [], partsG: tf.Scalar[] = [];
    const { value, grads } = gradients(m, [...dVars, ...gVars], b, (part) => {
      const w = part.label.shape[0] / B;
      const p = m.d.state(part.state);
      const g = m.g.apply(part.state);
      const lossD = L.lossD(
        m.d.score(p, part.action, false, part.actionIndex),
        m.d.score(p, detach(g)),
        part.label,
        m.k,
        m.config,
      );
      const lossG = L.lossG(m.d.score(detach(p), g, true), g, part.action, m.k, m.config.beta);
      // Kept: variableGrads frees intermediates; these are summed, read and freed below.
      partsD.push(tf.keep(tf.mul(lossD, w)));
      partsG.push(tf.keep(tf.mul(lossG, w)));
      return tf.add(lossD, lossG) as tf.Scalar;
    });
    const pick = (vs: tf.Variable[]) =>
      Object.fromEntries(vs.map((v) => [v.name, grads[v.name]!])) as unknown as Record<
        string,
        tf.Variable
      >;
    m.optD.applyGradients(pick(dVars));
    m.optG.applyGradients(pick(gVars));
    const out = [tf.addN(partsD), tf.addN(partsG)] as tf.Scalar[];
    tf.dispose([value, ...Object.values(grads), ...partsD, ...partsG]);
    return out;
  });
  const [lossD, lossG] = await read(lD!, lG!);
  return { lossD: lossD!, lossG: lossG! };
}

/**
 * Softmax over all K + F logits of D for a batch, row-major [B, K + F]; no gradient state.
 */
export function discriminatorProbs(m: RecSimuModel, b: TupleBatch): tf.Tensor2D {
  return tf.tidy(() =>
    tf.softmax(m.d.score(m.d.stateInference(b.state), b.action, false, b.actionIndex))
  );
}
