import { assert, assertEquals } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { registerFastWasmKernels } from "../../models/fast_grad.ts";
import { Params } from "../../models/params.ts";
import { type EncoderSizes, StateEncoder } from "../../models/gru.ts";
import type { StateBatch } from "../../lib/data/batches.ts";

const N = 4, B = 3, V = 7;
const SIZES: EncoderSizes = { embDim: 5, classes: 3, feedbackDim: 2, hidden: 6 };

/** A straightforward GRU (PyTorch equations) over a time-major state batch. */
function refEncode(enc: StateEncoder, s: StateBatch): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, b] = s.emb.shape;
    const { z: gz, r: gr, n: gn } = enc.gates;
    const lin = (x: tf.Tensor2D, w: tf.Variable, c: tf.Variable) =>
      tf.add(tf.matMul(x, w as tf.Tensor2D), c);
    let h: tf.Tensor2D = tf.zeros([b, enc.sizes.hidden]);
    for (let t = 0; t < n; t++) {
      const e = tf.reshape(tf.slice(s.emb, [t, 0, 0], [1, -1, -1]), [b, -1]) as tf.Tensor2D;
      const f = tf.reshape(tf.slice(s.feedback, [t, 0], [1, -1]), [b]) as tf.Tensor1D;
      const oh = tf.cast(tf.oneHot(f, enc.sizes.classes), "float32") as tf.Tensor2D;
      const x = tf.concat([e, tf.tanh(lin(oh, enc.fbW, enc.fbB))], 1) as tf.Tensor2D;
      const r = tf.sigmoid(tf.add(lin(x, gr.w, gr.bx), lin(h, gr.u, gr.bh)));
      const z = tf.sigmoid(tf.add(lin(x, gz.w, gz.bx), lin(h, gz.u, gz.bh)));
      const c = tf.tanh(tf.add(lin(x, gn.w, gn.bx), tf.mul(r, lin(h, gn.u, gn.bh))));
      let next = tf.add(tf.mul(tf.sub(1, z), c), tf.mul(z, h)) as tf.Tensor2D;
      if (s.mask) {
        const m = tf.reshape(tf.slice(s.mask, [t, 0], [1, -1]), [b, 1]);
        next = tf.add(tf.mul(m, next), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
      }
      h = next;
    }
    return h;
  });
}

/** A state batch of random items of `table` (emb = its rows), optionally left-padded. */
function batchOf(table: tf.Tensor2D, n: number, b: number, seed: number, padded: boolean) {
  let x = seed;
  const rnd = (m: number) => (x = (x * 1103515245 + 12345) % 2147483648) % m;
  const items = Int32Array.from({ length: n * b }, () => rnd(table.shape[0]));
  const feedback = Int32Array.from({ length: n * b }, () => rnd(SIZES.classes));
  // Row u's first u % n steps are padding (left padding, as the data pipeline makes).
  const mask = Float32Array.from(
    { length: n * b },
    (_, i) => (Math.floor(i / b) >= i % b % n ? 1 : 0),
  );
  return tf.tidy(() => ({
    emb: tf.reshape(tf.gather(table, items), [n, b, -1]) as tf.Tensor3D,
    feedback: tf.tensor2d(feedback, [n, b], "int32"),
    items: tf.tensor2d(items, [n, b], "int32"),
    mask: padded ? tf.tensor2d(mask, [n, b]) : undefined,
  }));
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** encodeInference's answer for `s`, freed after comparing with `ref`; the tensor count kept. */
function checkEncode(enc: StateEncoder, s: StateBatch, ref: tf.Tensor, what: string) {
  const before = tf.memory().numTensors;
  const h = enc.encodeInference(s);
  const d = maxDiff(h, ref);
  assert(d < 1e-5, `${what}: differs from the plain GRU by ${d}`);
  h.dispose();
  assertEquals(tf.memory().numTensors, before, `${what}: tensors leaked`);
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`freezeForInference() answers bit-identically to the unfrozen encoder, like a plain GRU to 1e-5, and leaks nothing (${backend})`, async () => {
    await initBackend(backend, { quiet: true });
    if (backend === "wasm") registerFastWasmKernels();
    const params = new Params("C", 5);
    const enc = new StateEncoder(params, "enc", SIZES);
    const table = tf.randomUniform([V, SIZES.embDim], -1, 1, "float32", 9) as tf.Tensor2D;
    const start = tf.memory().numTensors;
    for (const padded of [false, true]) {
      const s = batchOf(table, N, B, 11, padded);
      const ref = refEncode(enc, s);
      checkEncode(enc, s, ref, `unfrozen, padded ${padded}`);
      const plain = enc.encodeInference(s);
      enc.freezeForInference();
      checkEncode(enc, s, ref, `frozen, padded ${padded}`);
      checkEncode(enc, s, ref, `frozen, padded ${padded}, again`);
      // Served answers must equal train's and eval's figures exactly, not to 1e-5.
      const frozen = enc.encodeInference(s);
      assertEquals(frozen.dataSync(), plain.dataSync(), `frozen, padded ${padded}: not identical`);
      enc.unfreeze();
      tf.dispose([ref, plain, frozen, s.emb, s.feedback, s.items, ...(s.mask ? [s.mask] : [])]);
    }
    assertEquals(tf.memory().numTensors, start, "unfreeze() frees the cache");
    table.dispose();
    params.dispose();
  });
}

Deno.test("after a weight change, encodeInference uses the new weights, frozen or not", async () => {
  await initBackend("wasm", { quiet: true });
  registerFastWasmKernels();
  const params = new Params("W", 3);
  const frozen = new StateEncoder(params, "frozen", SIZES);
  const plain = new StateEncoder(params, "plain", SIZES);
  const table = tf.randomUniform([V, SIZES.embDim], -1, 1, "float32", 9) as tf.Tensor2D;
  const s = batchOf(table, N, B, 5, true);
  frozen.freezeForInference();
  for (const enc of [frozen, plain]) tf.dispose(enc.encodeInference(s)); // caches filled
  // As an optimiser step or a checkpoint load does: new values for every variable.
  params.list().forEach((v, i) =>
    tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.5, "float32", 100 + i)))
  );
  const before = tf.memory().numTensors;
  for (const [name, enc] of [["frozen", frozen], ["plain", plain]] as const) {
    const ref = refEncode(enc, s);
    checkEncode(enc, s, ref, `${name} after the change`);
    ref.dispose();
  }
  assertEquals(tf.memory().numTensors, before, "the rebuilt cache replaces the old one");
  frozen.unfreeze();
  tf.dispose([table, s.emb, s.feedback, s.items, s.mask!]);
  params.dispose();
});
