/**
 * Algorithm 1's update steps on a {@link RecSimuTrainer} (its model, optimisers and step
 * settings). Each step is its own function that returns plain numbers, never tensors; all
 * intermediate tensors are freed (tf.tidy + disposed gradients).
 * @module
 */
import { tf } from "../tf.ts";
import type { KeptGeneration } from "../../models/generator.ts";
import { detach } from "../../models/params.ts";
import type { TupleBatch } from "../data/batches.ts";
import type { RecSimuTrainer } from "./trainer.ts";
import * as L from "./losses.ts";

/** Takes rows [start, start + n) of a batch-major [B, ·] tensor. */
type Rows = (t: tf.Tensor2D) => tf.Tensor2D;

/** Rows [start, start + n) of a batch: its state (time-major), actions and labels. */
function sliceBatch(b: TupleBatch, start: number, n: number): TupleBatch {
  const t3 = (x: tf.Tensor3D) => tf.slice(x, [0, start, 0], [-1, n, -1]) as tf.Tensor3D;
  const t2 = (x: tf.Tensor2D) => tf.slice(x, [0, start], [-1, n]) as tf.Tensor2D;
  const heads = b.weights ? b.weights.shape[0] / b.label.shape[0] : 1;
  return {
    state: {
      emb: t3(b.state.emb),
      feedback: t2(b.state.feedback),
      mask: b.state.mask && t2(b.state.mask),
      items: b.state.items && t2(b.state.items),
    },
    action: tf.slice(b.action, [start, 0], [n, -1]) as tf.Tensor2D,
    actionIndex: tf.slice(b.actionIndex, [start], [n]) as tf.Tensor1D,
    label: tf.slice(b.label, [start], [n]) as tf.Tensor1D,
    weights: b.weights &&
      (tf.slice(b.weights, [start * heads], [n * heads]) as tf.Tensor1D),
  };
}

/** Labels [B] repeated for D's M heads: [B · M], row b · M + m (the order of D's logits). */
function headLabels(y: tf.Tensor1D, heads: number): tf.Tensor1D {
  if (heads === 1) return y;
  return tf.reshape(tf.tile(tf.expandDims(y, 1), [1, heads]), [-1]) as tf.Tensor1D;
}

/** Rows per micro-batch for a batch of `B` rows (`B`: no micro-batching). */
function microBatchRows(t: RecSimuTrainer, B: number): number {
  const micro = t.settings.microBatch;
  return micro > 0 ? Math.min(micro, B) : B;
}

/**
 * Gradients of the batch-mean loss `f` with respect to `vars`, computed over micro-batches of
 * `settings.microBatch` rows and summed with weights n_i / B — the same value and gradients as
 * one pass (every loss is a batch mean), with the activations of one micro-batch in memory.
 * `f` gets the part and a function that takes the part's rows of other batch-major tensors.
 */
function gradients(
  t: RecSimuTrainer,
  vars: tf.Variable[],
  b: TupleBatch,
  f: (part: TupleBatch, rows: Rows) => tf.Scalar,
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const B = b.label.shape[0];
  const micro = microBatchRows(t, B);
  if (micro >= B) return tf.variableGrads(() => f(b, (x) => x), vars);
  let value: tf.Scalar = tf.scalar(0);
  let grads: tf.NamedTensorMap = {};
  for (let start = 0; start < B; start += micro) {
    const n = Math.min(micro, B - start);
    const part = sliceBatch(b, start, n);
    const rows: Rows = (x) => tf.slice(x, [start, 0], [n, -1]) as tf.Tensor2D;
    const r = tf.variableGrads(() => tf.mul(f(part, rows), n / B) as tf.Scalar, vars);
    const sum = (a: tf.Tensor | undefined, x: tf.Tensor) => (a ? tf.add(a, x) : tf.clone(x));
    const next = Object.fromEntries(Object.entries(r.grads).map(([k, g]) => [k, sum(grads[k], g)]));
    const nextValue = tf.add(value, r.value) as tf.Scalar;
    tf.dispose([value, r.value, ...Object.values(grads), ...Object.values(r.grads)]);
    tf.dispose([part.state.emb, part.state.feedback, part.action, part.actionIndex, part.label]);
    if (part.state.mask) part.state.mask.dispose();
    if (part.state.items) part.state.items.dispose();
    if (part.weights) part.weights.dispose();
    grads = next;
    value = nextValue;
  }
  return { value, grads };
}

/** Applies the gradients of `f` with `opt`; returns the loss tensor (kept). Call inside tf.tidy. */
function update(
  t: RecSimuTrainer,
  opt: tf.Optimizer,
  vars: tf.Variable[],
  b: TupleBatch,
  f: (part: TupleBatch, rows: Rows) => tf.Scalar,
): tf.Scalar {
  const { value, grads } = gradients(t, vars, b, f);
  opt.applyGradients(grads as unknown as Record<string, tf.Variable>);
  tf.dispose(Object.values(grads));
  return value;
}

/** Reads scalars asynchronously (WebGPU has no synchronous read) and frees them. */
async function read(...ts: tf.Tensor[]): Promise<number[]> {
  try {
    return await Promise.all(ts.map(async (x) => (await x.data())[0]!));
  } finally {
    tf.dispose(ts);
  }
}

/** Pre-trains G on L_supG (Eq. 11); resolves to the loss. */
export async function generatorPretrainStep(t: RecSimuTrainer, b: TupleBatch): Promise<number> {
  const m = t.model;
  const loss = tf.tidy(() =>
    update(t, t.optG, m.gVars(), b, (part) => L.supG(m.g.apply(part.state), part.action))
  );
  return (await read(loss))[0]!;
}

/**
 * One D update against the fake actions `fake` [B, E]: on L_supD (Eq. 8) when pre-training,
 * on L_D (Eq. 9) in an adversarial round. Returns the loss tensor.
 */
function discriminatorUpdate(
  t: RecSimuTrainer,
  b: TupleBatch,
  fake: tf.Tensor2D,
  loss: "pretrain" | "adversarial",
): tf.Scalar {
  const m = t.model, s = t.settings;
  return tf.tidy(() =>
    update(t, t.optD, m.dVars(), b, (part, rows) => {
      const p = m.d.state(part.state);
      const real = m.d.score(p, part.action, false, part.actionIndex);
      const generated = m.d.score(p, rows(fake));
      const y = headLabels(part.label, m.d.heads);
      return loss === "pretrain"
        ? L.supD(real, generated, y, m.k, s.lambda, part.weights)
        : L.lossD(real, generated, y, m.k, s, part.weights);
    })
  );
}

/** Pre-trains D on L_supD (Eq. 8) with G's fake actions; resolves to the loss. */
export async function discriminatorPretrainStep(
  t: RecSimuTrainer,
  b: TupleBatch,
): Promise<number> {
  const loss = tf.tidy(() =>
    discriminatorUpdate(t, b, t.model.g.applyInference(b.state), "pretrain")
  );
  return (await read(loss))[0]!;
}

/** One G update on L_G (Eq. 12) against D's current state encoding; returns the loss tensor. */
function generatorStep(t: RecSimuTrainer, b: TupleBatch): tf.Scalar {
  const m = t.model;
  return tf.tidy(() => {
    const p = m.d.stateInference(b.state); // no gradient needed: p_D does not depend on G
    return update(t, t.optG, m.gVars(), b, (part, rows) => {
      const g = m.g.apply(part.state);
      return L.lossG(m.d.score(rows(p), g), g, part.action, m.k, t.settings.beta);
    });
  });
}

/** The first G update on L_G (Eq. 12) from a kept G(s) (`Generator.applyForLater`). */
function generatorStepKept(t: RecSimuTrainer, b: TupleBatch, kept: KeptGeneration): tf.Scalar {
  const m = t.model;
  return tf.tidy(() => {
    const p = m.d.stateInference(b.state); // with D's updated weights, as in generatorStep
    const { value, grads } = kept.gradients((g) =>
      L.lossG(m.d.score(p, g), g, b.action, m.k, t.settings.beta)
    );
    t.optG.applyGradients(grads as unknown as Record<string, tf.Variable>);
    tf.dispose(Object.values(grads));
    return value;
  });
}

/**
 * One adversarial round on a batch, Algorithm 1 as written: `dSteps` D updates against G(s),
 * then `gSteps` G updates against the updated D. G(s) is computed once, with what its backward
 * pass needs kept, and serves the d-steps and the first g-step (G's weights do not change in
 * between, so this is exact; later g-steps recompute it, as the PyTorch reference does). With
 * micro-batches (`settings.microBatch`), or `reuse: false`, G(s) is recomputed for the g-step
 * instead: less memory, one more forward pass. Resolves to the last losses.
 */
export async function adversarialStep(
  t: RecSimuTrainer,
  b: TupleBatch,
  opts: {
    reuse?: boolean;
    /** When given, each phase's wall time (ms) is added here; syncs after each phase. */
    phases?: Record<string, number>;
  } = {},
): Promise<{ lossD: number; lossG: number }> {
  const m = t.model, { dSteps, gSteps } = t.settings;
  const B = b.label.shape[0];
  const reuse = (opts.reuse ?? true) && microBatchRows(t, B) === B;
  let t0 = performance.now();
  const lap = async (phase: string, x: tf.Tensor) => {
    if (!opts.phases) return;
    await x.data();
    opts.phases[phase] = (opts.phases[phase] ?? 0) + performance.now() - t0;
    t0 = performance.now();
  };
  const kept = reuse ? m.g.applyForLater(b.state) : undefined;
  const fake = kept ? kept.g : tf.tidy(() => m.g.applyInference(b.state));
  const lossesD: tf.Scalar[] = [], lossesG: tf.Scalar[] = [];
  try {
    await lap("g_forward", fake);
    for (let i = 0; i < dSteps; i++) lossesD.push(discriminatorUpdate(t, b, fake, "adversarial"));
    await lap("d_steps", lossesD[lossesD.length - 1]!);
    if (kept && gSteps > 0) lossesG.push(generatorStepKept(t, b, kept));
  } finally {
    if (kept) kept.dispose();
    else fake.dispose();
  }
  for (let i = lossesG.length; i < gSteps; i++) lossesG.push(generatorStep(t, b));
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
  t: RecSimuTrainer,
  b: TupleBatch,
): Promise<{ lossD: number; lossG: number }> {
  const m = t.model, s = t.settings;
  const [lD, lG] = tf.tidy(() => {
    const dVars = m.dVars(), gVars = m.gVars();
    const B = b.label.shape[0];
    const partsD: tf.Scalar[] = [], partsG: tf.Scalar[] = [];
    const { value, grads } = gradients(t, [...dVars, ...gVars], b, (part) => {
      const w = part.label.shape[0] / B;
      const p = m.d.state(part.state);
      const g = m.g.apply(part.state);
      const lossD = L.lossD(
        m.d.score(p, part.action, false, part.actionIndex),
        m.d.score(p, detach(g)),
        headLabels(part.label, m.d.heads),
        m.k,
        s,
        part.weights,
      );
      const lossG = L.lossG(m.d.score(detach(p), g, true), g, part.action, m.k, s.beta);
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
    t.optD.applyGradients(pick(dVars));
    t.optG.applyGradients(pick(gVars));
    const out = [tf.addN(partsD), tf.addN(partsG)] as tf.Scalar[];
    tf.dispose([value, ...Object.values(grads), ...partsD, ...partsG]);
    return out;
  });
  const [lossD, lossG] = await read(lD!, lG!);
  return { lossD: lossD!, lossG: lossG! };
}

/** One round of the configured kind (`settings.update`): sequential or fused. */
export function adversarialRound(
  t: RecSimuTrainer,
  b: TupleBatch,
): Promise<{ lossD: number; lossG: number }> {
  return t.settings.update === "fused" ? fusedAdversarialStep(t, b) : adversarialStep(t, b);
}
