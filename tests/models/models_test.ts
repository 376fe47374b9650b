import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { registerFastMatMulGrad, registerFastWasmKernels } from "../../models/fast_grad.ts";
import { Params } from "../../models/params.ts";
import { StateEncoder } from "../../models/gru.ts";
import { Generator } from "../../models/generator.ts";
import { Discriminator } from "../../models/discriminator.ts";

registerFastMatMulGrad();

const N = 4, B = 3, E = 5, K = 3, F = 2, H = 6;

/** Product without BatchMatMul (broadcast multiply + sum), so its gradient is independent. */
function refMatMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.sum(tf.mul(tf.expandDims(a, 2), tf.expandDims(b, 0)), 1);
}

/** A straightforward GRU (PyTorch equations, batch-major input, per-gate weights). */
function refEncode(
  enc: StateEncoder,
  emb: tf.Tensor3D,
  fb: tf.Tensor2D,
  mask?: tf.Tensor2D,
): tf.Tensor2D {
  const bm = tf.transpose(emb, [1, 0, 2]); // [B, N, E]
  const fbm = tf.transpose(fb, [1, 0]); // [B, N]
  let h: tf.Tensor2D = tf.zeros([B, H]);
  const { z: gz, r: gr, n: gn } = enc.gates;
  const lin = (x: tf.Tensor2D, w: tf.Variable, b: tf.Variable) =>
    tf.add(refMatMul(x, w as tf.Tensor2D), b);
  for (let t = 0; t < N; t++) {
    const e = tf.reshape(tf.slice(bm, [0, t, 0], [-1, 1, -1]), [B, E]) as tf.Tensor2D;
    const f = tf.reshape(tf.slice(fbm, [0, t], [-1, 1]), [B]) as tf.Tensor1D;
    const fe = tf.tanh(
      tf.add(
        refMatMul(tf.oneHot(tf.cast(f, "int32"), K) as tf.Tensor2D, enc.fbW as tf.Tensor2D),
        enc.fbB,
      ),
    );
    const x = tf.concat([e, fe], 1) as tf.Tensor2D;
    const r = tf.sigmoid(tf.add(lin(x, gr.w, gr.bx), lin(h, gr.u, gr.bh)));
    const z = tf.sigmoid(tf.add(lin(x, gz.w, gz.bx), lin(h, gz.u, gz.bh)));
    const n = tf.tanh(tf.add(lin(x, gn.w, gn.bx), tf.mul(r, lin(h, gn.u, gn.bh))));
    let next = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h)) as tf.Tensor2D;
    if (mask) {
      const m = tf.reshape(tf.slice(mask, [t, 0], [1, -1]), [B, 1]);
      next = tf.add(tf.mul(m, next), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
    }
    h = next;
  }
  return h;
}

function inputs(seed: number) {
  const emb = tf.randomUniform([N, B, E], -1, 1, "float32", seed) as tf.Tensor3D;
  const fb = tf.tensor2d([0, 1, 2, 2, 1, 0, 1, 1, 0, 0, 2, 1], [N, B], "int32");
  const mask = tf.tensor2d([0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1], [N, B]);
  // Not produced by the data pipeline (it pads on the left only), but a gap after real steps is
  // the one case where a masked step's gradient must carry through to h_{t−1}.
  const gaps = tf.tensor2d([1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0], [N, B]);
  return { emb, fb, mask, gaps };
}

async function compareWithReference(backend: "cpu" | "wasm") {
  await initBackend(backend, { quiet: true });
  if (backend === "wasm") registerFastWasmKernels();
  const params = new Params("T", 7);
  const enc = new StateEncoder(params, "enc", { embDim: E, classes: K, feedbackDim: F, hidden: H });
  const { emb, fb, mask, gaps } = inputs(3);
  for (const m of [undefined, mask, gaps]) {
    const fast = tf.tidy(() => enc.encode({ emb, feedback: fb, mask: m }));
    const ref = tf.tidy(() => refEncode(enc, emb, fb, m));
    const inf = tf.tidy(() => enc.encodeInference({ emb, feedback: fb, mask: m }));
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(fast, ref))).dataSync()[0]!);
    assert(d < 1e-5, `${backend} forward differs by ${d}`);
    const di = tf.tidy(() => tf.max(tf.abs(tf.sub(inf, ref))).dataSync()[0]!);
    assert(di < 1e-5, `${backend} inference path differs by ${di}`);
    inf.dispose();
    // Gradients of a weighted sum with respect to every parameter.
    const w = tf.randomNormal([B, H], 0, 1, "float32", 11);
    const gFast = tf.variableGrads(
      () => tf.sum(tf.mul(enc.encode({ emb, feedback: fb, mask: m }), w)),
      params.list(),
    );
    const gRef = tf.variableGrads(
      () => tf.sum(tf.mul(refEncode(enc, emb, fb, m), w)),
      params.list(),
    );
    for (const [name, g] of Object.entries(gFast.grads)) {
      const dg = tf.tidy(() => tf.max(tf.abs(tf.sub(g, gRef.grads[name]!))).dataSync()[0]!);
      assert(dg < 1e-5, `${backend} gradient of ${name} differs by ${dg}`);
    }
    tf.dispose([
      fast,
      ref,
      w,
      gFast.value,
      gRef.value,
      ...Object.values(gFast.grads),
      ...Object.values(gRef.grads),
    ]);
  }
  tf.dispose([emb, fb, mask, gaps]);
  params.dispose();
}

Deno.test("StateEncoder matches a straightforward GRU to 1e-5, forward and gradients (CPU)", async () => {
  await compareWithReference("cpu");
});

Deno.test("StateEncoder matches a straightforward GRU to 1e-5 with the fast WASM kernels", async () => {
  await compareWithReference("wasm");
});

Deno.test("a masked state encodes like the same state without its padding", async () => {
  await initBackend("cpu", { quiet: true });
  const params = new Params("M", 1);
  const enc = new StateEncoder(params, "enc", { embDim: E, classes: K, feedbackDim: F, hidden: H });
  const { emb } = inputs(5);
  const fb = tf.zeros([N, B], "int32") as tf.Tensor2D;
  const mask = tf.tensor2d([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [N, B]);
  const padded = enc.encode({ emb, feedback: fb, mask });
  const short = enc.encode({
    emb: tf.slice(emb, [2, 0, 0], [2, -1, -1]) as tf.Tensor3D,
    feedback: tf.slice(fb, [2, 0], [2, -1]) as tf.Tensor2D,
  });
  assertAlmostEquals(tf.max(tf.abs(tf.sub(padded, short))).dataSync()[0]!, 0, 1e-6);
  params.dispose();
});

Deno.test("the fast BatchMatMul gradient equals the textbook formulas for every transpose flag", async () => {
  await initBackend("wasm", { quiet: true });
  registerFastWasmKernels();
  const a = tf.randomNormal([4, 3], 0, 1, "float32", 1),
    b = tf.randomNormal([3, 5], 0, 1, "float32", 2);
  const w = tf.randomNormal([4, 5], 0, 1, "float32", 3);
  const cases: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
  for (const [ta, tb] of cases) {
    const A = ta ? tf.transpose(a) : a, Bm = tb ? tf.transpose(b) : b;
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x, y, ta, tb), w))
    )([A, Bm]);
    // d/da sum(w ⊙ a b) = w bᵀ, d/db = aᵀ w (then transposed back for flagged operands).
    const ea = refMatMul(w as tf.Tensor2D, tf.transpose(b) as tf.Tensor2D),
      eb = refMatMul(tf.transpose(a) as tf.Tensor2D, w as tf.Tensor2D);
    const da = tf.max(tf.abs(tf.sub(ga!, ta ? tf.transpose(ea) : ea))).dataSync()[0]!;
    const db = tf.max(tf.abs(tf.sub(gb!, tb ? tf.transpose(eb) : eb))).dataSync()[0]!;
    assert(da < 1e-5 && db < 1e-5, `flags ${ta},${tb}: ${da}, ${db}`);
  }
});

Deno.test("the fast WASM Slice, SplitV, Unpack and GatherV2 kernels agree with the CPU backend", async () => {
  const x = Array.from({ length: 4 * 6 * 5 }, (_, i) => Math.sin(i));
  const run = () => {
    const t = tf.tensor3d(x, [4, 6, 5]);
    const m = tf.reshape(t, [24, 5]);
    const rows = tf.tensor1d([3, 0, 3, 23, 7], "int32");
    const grid = tf.tensor2d([1, 2, 0, 3], [2, 2], "int32");
    const outs = [
      tf.gather(m, rows),
      tf.gather(t, grid),
      tf.gather(tf.tensor1d([5, 6, 7], "int32"), tf.tensor1d([2, 2, 0], "int32")),
      tf.gather(t, tf.tensor1d([4, 0], "int32"), 1), // another axis: the original kernel
      ...tf.unstack(t),
      tf.slice(t, [1, 0, 0], [2, -1, -1]),
      tf.slice(t, [1, 2, 1], [2, 3, 2]),
      ...tf.split(m, [1, 3, 1], 1),
      ...tf.split(t, 2, 1),
    ];
    return outs.map((o) => Array.from(o.dataSync()));
  };
  await initBackend("cpu", { quiet: true });
  const expected = run();
  await initBackend("wasm", { quiet: true });
  registerFastWasmKernels();
  assertEquals(run(), expected);
});

Deno.test("the WASM Identity kernel shares data by reference: clones outlive their source, no copy", async () => {
  await initBackend("wasm", { quiet: true });
  registerFastWasmKernels();
  const before = tf.memory();
  const t = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
  const c = tf.clone(t);
  assertEquals(tf.memory().numDataBuffers - before.numDataBuffers, 1); // one buffer for both
  assertEquals(tf.memory().numTensors - before.numTensors, 2);
  t.dispose();
  assertEquals(Array.from(await c.data()), [1, 2, 3, 4, 5, 6]);
  c.dispose();
  assertEquals(tf.memory().numBytes, before.numBytes);
  assertEquals(tf.memory().numTensors, before.numTensors);
  assertEquals(tf.memory().numDataBuffers, before.numDataBuffers);
  // Gradients (whose saved tensors are clones) are unchanged: d/dx sum(x²) = 2x.
  const x = tf.tensor1d([1, -2, 3]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(v)))(x);
  assertEquals(Array.from(await g.data()), [2, -4, 6]);
  tf.dispose([x, g]);
});

Deno.test("Generator and Discriminator produce the documented shapes", async () => {
  await initBackend("cpu", { quiet: true });
  const sizes = { embDim: E, classes: K, feedbackDim: F, hidden: H, fc: 7 };
  const g = new Generator(sizes, 1);
  const d = new Discriminator({ ...sizes, fakeClasses: K }, 2);
  const d1 = new Discriminator({ ...sizes, fakeClasses: 1 }, 2);
  const { emb, fb } = inputs(1);
  const out = g.apply({ emb, feedback: fb });
  assertEquals(out.shape, [B, E]);
  const vals = out.dataSync();
  assert(vals.every((v) => v > -1 && v < 1), "G(s) must lie in (-1, 1)");
  assertEquals(d.apply({ emb, feedback: fb }, out).shape, [B, 2 * K]);
  assertEquals(d1.apply({ emb, feedback: fb }, out).shape, [B, K + 1]);
  assertEquals(d.state({ emb, feedback: fb }).shape, [B, H]);
  // Parameter count: encoder (K·F + F + 3 gates × ((E+F)·H + H·H + 2H)) + heads.
  const enc = K * F + F + (E + F) * 3 * H + H * 3 * H + 6 * H;
  assertEquals(g.params.size(), enc + H * 7 + 7 + 7 * E + E);
  assertEquals(d.params.size(), enc + E * 7 + 7 + (H + 7) * 7 + 7 + 7 * 2 * K + 2 * K);
});

Deno.test("a state of one pair (N = 1): the encoder's output and a gradient equal a GRU step by hand", async () => {
  await initBackend("cpu", { quiet: true });
  const params = new Params("One", 1);
  const enc = new StateEncoder(params, "enc", { embDim: E, classes: K, feedbackDim: F, hidden: H });
  const emb = tf.randomUniform([1, B, E], -1, 1, "float32", 2) as tf.Tensor3D;
  const labels = [0, 1, 2];
  const fb = tf.tensor2d(labels, [1, B], "int32");
  const { value, grads } = tf.variableGrads(
    () => tf.sum(enc.encode({ emb, feedback: fb })),
    params.list(),
  );
  const h1 = enc.encode({ emb, feedback: fb }).arraySync() as number[][];
  // By hand, in float64, from h0 = 0 (PyTorch's GRU): x = [e, tanh(W_F[f] + b_F)],
  // z = σ(x W_z + b_xz + b_hz), r = σ(x W_r + b_xr + b_hr), n = tanh(x W_n + b_xn + r ⊙ b_hn),
  // h1 = (1 − z) ⊙ n.
  const m = (v: tf.Tensor) => v.arraySync() as number[][];
  const vec = (v: tf.Tensor) => v.arraySync() as number[];
  const fbW = m(enc.fbW), fbB = vec(enc.fbB);
  const { z: gz, r: gr, n: gn } = enc.gates;
  const sig = (a: number) => 1 / (1 + Math.exp(-a));
  const e = emb.arraySync() as number[][][];
  const dBhn = new Array<number>(H).fill(0);
  for (let b = 0; b < B; b++) {
    const x = [...e[0]![b]!, ...fbW[labels[b]!]!.map((w, j) => Math.tanh(w + fbB[j]!))];
    const lin = (g: typeof gz, j: number) =>
      x.reduce((a, xi, i) => a + xi * m(g.w)[i]![j]!, 0) + vec(g.bx)[j]!;
    for (let j = 0; j < H; j++) {
      const z = sig(lin(gz, j) + vec(gz.bh)[j]!);
      const r = sig(lin(gr, j) + vec(gr.bh)[j]!);
      const n = Math.tanh(lin(gn, j) + r * vec(gn.bh)[j]!);
      assertAlmostEquals(h1[b]![j]!, (1 - z) * n, 1e-5, `h1[${b}][${j}]`);
      dBhn[j]! += (1 - z) * (1 - n * n) * r; // ∂ Σ h1 / ∂ b_hn
    }
  }
  const g = grads[gn.bh.name];
  assert(g !== undefined, "a gradient for b_hn");
  vec(g).forEach((v, j) => assertAlmostEquals(v, dBhn[j]!, 1e-5, `d b_hn[${j}]`));
  assert(Number.isFinite(value.dataSync()[0]!));
  assertEquals(Object.keys(grads).length, params.list().length);
  tf.dispose([emb, fb, value, ...Object.values(grads)]);
  params.dispose();
});
