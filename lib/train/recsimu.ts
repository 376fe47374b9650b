/**
 * Algorithm 1's update steps. Each step is its own function that returns plain numbers, never
 * tensors; all intermediate tensors are freed (tf.tidy + disposed gradients).
 * @module
 */
import { tf } from "../tf.ts";
import { Generator } from "../../models/generator.ts";
import { Discriminator } from "../../models/discriminator.ts";
import { detach } from "../../models/params.ts";
import { registerFastMatMulGrad, registerFastWasmKernels } from "../../models/fast_grad.ts";
import type { TupleBatch } from "../data/batches.ts";
import type { TrainConfig } from "../config.ts";
import { deriveSeed } from "../random.ts";
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
    this.d = new Discriminator(
      { ...enc, fc: shape.fc, fakeClasses: shape.fakeClasses },
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

/** Applies the gradients of `f` with `opt`; returns the loss tensor (kept). Call inside tf.tidy. */
function update(opt: tf.Optimizer, vars: tf.Variable[], f: () => tf.Scalar): tf.Scalar {
  const { value, grads } = tf.variableGrads(f, vars);
  opt.applyGradients(grads);
  tf.dispose(grads);
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
  const loss = tf.tidy(() => update(m.optG, m.gVars(), () => L.supG(m.g.apply(b.state), b.action)));
  return (await read(loss))[0]!;
}

/** Pre-trains D on L_supD (Eq. 8) with G's fake actions; resolves to the loss. */
export async function discriminatorPretrainStep(m: RecSimuModel, b: TupleBatch): Promise<number> {
  const loss = tf.tidy(() => {
    const fake = m.g.apply(b.state);
    return update(m.optD, m.dVars(), () => {
      const p = m.d.state(b.state);
      return L.supD(m.d.score(p, b.action), m.d.score(p, fake), b.label, m.k, m.config.lambda);
    });
  });
  return (await read(loss))[0]!;
}

/** One D update on L_D (Eq. 9) against precomputed fake actions; returns the loss tensor. */
function discriminatorStep(m: RecSimuModel, b: TupleBatch, fake: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() =>
    update(m.optD, m.dVars(), () => {
      const p = m.d.state(b.state);
      return L.lossD(m.d.score(p, b.action), m.d.score(p, fake), b.label, m.k, m.config);
    })
  );
}

/** One G update on L_G (Eq. 12) against D's current state encoding; returns the loss tensor. */
function generatorStep(m: RecSimuModel, b: TupleBatch): tf.Scalar {
  return tf.tidy(() => {
    const p = m.d.state(b.state); // no gradient needed: p_D does not depend on G
    return update(m.optG, m.gVars(), () => {
      const g = m.g.apply(b.state);
      return L.lossG(m.d.score(p, g), g, b.action, m.k, m.config.beta);
    });
  });
}

/**
 * One adversarial round on a batch, Algorithm 1 as written: `dSteps` D updates against G(s),
 * computed once, then `gSteps` G updates against the updated D. Resolves to the last losses.
 */
export async function adversarialStep(
  m: RecSimuModel,
  b: TupleBatch,
): Promise<{ lossD: number; lossG: number }> {
  const fake = tf.tidy(() => m.g.apply(b.state));
  const lossesD: tf.Scalar[] = [], lossesG: tf.Scalar[] = [];
  try {
    for (let i = 0; i < m.config.dSteps; i++) lossesD.push(discriminatorStep(m, b, fake));
  } finally {
    fake.dispose();
  }
  for (let i = 0; i < m.config.gSteps; i++) lossesG.push(generatorStep(m, b));
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
    let lossD: tf.Scalar | undefined, lossG: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const p = m.d.state(b.state);
      const g = m.g.apply(b.state);
      // Kept: variableGrads frees intermediates; these are read (and freed) below.
      lossD = tf.keep(
        L.lossD(m.d.score(p, b.action), m.d.score(p, detach(g)), b.label, m.k, m.config),
      );
      lossG = tf.keep(L.lossG(m.d.score(detach(p), g, true), g, b.action, m.k, m.config.beta));
      return tf.add(lossD, lossG) as tf.Scalar;
    }, [...dVars, ...gVars]);
    const pick = (vs: tf.Variable[]) =>
      Object.fromEntries(vs.map((v) => [v.name, grads[v.name]!])) as tf.NamedTensorMap as Record<
        string,
        tf.Variable
      >;
    m.optD.applyGradients(pick(dVars));
    m.optG.applyGradients(pick(gVars));
    tf.dispose([value, ...Object.values(grads)]);
    return [lossD!, lossG!];
  });
  const [lossD, lossG] = await read(lD, lG);
  return { lossD: lossD!, lossG: lossG! };
}

/**
 * Softmax over all K + F logits of D for a batch, row-major [B, K + F]; no gradient state.
 */
export function discriminatorProbs(m: RecSimuModel, b: TupleBatch): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(m.d.score(m.d.stateInference(b.state), b.action)));
}
