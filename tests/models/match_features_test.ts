import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { registerFastMatMulGrad } from "../../models/fast_grad.ts";
import { AttnDiscriminator, matchFeatureValues } from "../../models/attn_discriminator.ts";
import type { StateBatch } from "../../lib/data/batches.ts";
import { B, E, K, N, tinyAttnSizes, V } from "./_tiny_attn.ts";

registerFastMatMulGrad();

const sig = (x: number) => 1 / (1 + Math.exp(-x));
/** The run as documented: Σ_k Π_{j≤k} (x_j + 1e-6) over the last min(6, N), newest first, / that. */
const run = (newestFirst: number[]) => {
  let p = 1, s = 0;
  for (const x of newestFirst) s += p *= x + 1e-6;
  return s / newestFirst.length;
};

Deno.test("matchFeatureValues() gives the cosines by class, their maxima, the recent ones and the runs", async () => {
  await initBackend("cpu", { quiet: true });
  // One state of N = 4 (the first position padded), K = 2 classes (0 skip, 1 positive), E = 2.
  const raw = tf.tensor3d([[[1, 0], [0, 1], [0.6, 0.8], [1, 0]]]);
  const fb = tf.tensor3d([[[0, 1], [1, 0], [0, 1], [1, 0]]]);
  const mask = tf.tensor2d([[0, 1, 1, 1]]);
  const candidate = tf.tensor2d([[3, 0]]); // unit vector [1, 0]
  const codes = tf.tensor3d([[[2], [2], [3], [2]]]);
  const f = tf.tidy(() =>
    matchFeatureValues({ raw, candidate, fb, mask, codes, candidateCodes: tf.tensor2d([[2]]) })
      .arraySync()[0]!
  );
  // cos = [masked, 0, 0.6, 1]; skip items: positions 1 and 3, positive: position 2.
  const want = [
    (0 + 1) / 3, // mean cosine over skips: sum / (count + 1)
    0.6 / 2, // over positives
    1, // max over skips
    0.6, // max over positives
    0, // the last three cosines
    0.6,
    1,
    run([sig(20 * 0.4), sig(0), sig(-12), 0]), // similar (cosine > 0.6), newest first
    (1 + 1) / 3, // skips sharing the candidate's value 2 (positions 1 and 3)
    0 / 2, // positives sharing it
    run([1, 0, 1, 0]), // the run of that value, newest first
  ];
  assertEquals(f.length, want.length);
  want.forEach((w, i) => assertAlmostEquals(f[i]!, w, 1e-5, `feature ${i}: ${f}`));
  // An unknown value (code 0) matches nothing; a class absent from the state has max 0.
  const g = tf.tidy(() =>
    matchFeatureValues({
      raw,
      candidate,
      fb: tf.tensor3d([[[0, 1], [1, 0], [1, 0], [1, 0]]]),
      mask,
      codes,
      candidateCodes: tf.tensor2d([[0]]),
    }).arraySync()[0]!
  );
  assertAlmostEquals(g[3]!, 0, 1e-6); // no positive in the state
  assertAlmostEquals(g[8]!, 0, 1e-6);
  assertAlmostEquals(g[9]!, 0, 1e-6);
  assert(g[10]! < 1e-5);
  tf.dispose([raw, fb, mask, candidate, codes]);
});

const ITEMS = [[V, 1, 2], [0, 1, 3], [0, 4, 3], [5, 1, 6]];
const FB = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]];

/** The discriminators' sizes in these tests. */
const SIZES = tinyAttnSizes();

function stateOf(): StateBatch {
  const flat = ITEMS.flat();
  const table = tf.randomUniform([V + 2, E], -1, 1, "float32", 3);
  return {
    emb: tf.reshape(tf.gather(table, tf.tensor1d(flat, "int32")), [N, B, E]) as tf.Tensor3D,
    feedback: tf.tensor2d(FB.flat(), [N, B], "int32"),
    mask: tf.tensor2d(ITEMS.flat().map((i) => (i === V ? 0 : 1)), [N, B]),
    items: tf.tensor2d(flat, [N, B], "int32"),
  };
}

Deno.test("AttnDiscriminator with match features: wider trunk and state, gradients through real and fake candidates, no leak", async () => {
  await initBackend("cpu", { quiet: true });
  const base = SIZES;
  const codes = tf.tensor2d(Array.from({ length: V + 2 }, (_, i) => i % 3), [V + 2, 1], "int32");
  const plain = new AttnDiscriminator(base, 1);
  for (const features of [false, true]) {
    const d = features
      ? new AttnDiscriminator({ ...base, matchFeatures: true, itemFeatures: [3] }, 1, codes)
      : new AttnDiscriminator({ ...base, matchFeatures: true }, 1);
    const extra = 2 * K + 3 + 1 + (features ? K + 1 : 0);
    assertEquals(d.trunk.w.shape[0], plain.trunk.w.shape[0] + extra);
    assertEquals(d.stateWidth, plain.stateWidth + N * (E + (features ? 1 : 0)));
    const s = stateOf();
    const cand = tf.randomUniform([B, E], -1, 1, "float32", 9) as tf.Tensor2D;
    const items = tf.tensor1d([1, 3, 8], "int32");
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      const vars = d.params.list();
      const { value, grads } = tf.variableGrads(() => {
        const p = d.state(s);
        const real = tf.sum(d.score(p, cand, false, items));
        return tf.add(real, tf.sum(d.score(p, cand, false))) as tf.Scalar; // and a fake candidate
      }, vars);
      assert(Number.isFinite(value.dataSync()[0]!));
      assert(grads[d.trunk.w.name] !== undefined);
      tf.dispose([value, ...Object.values(grads)]);
    }
    assertEquals(tf.memory().numTensors, before, `features ${features}`);
    tf.dispose([cand, items, s.emb, s.feedback, s.mask!, s.items!]);
    d.params.dispose?.();
  }
  codes.dispose();
});

Deno.test("the wide path: zero at first (logits as without it), then the match features' own regression on the real classes", async () => {
  await initBackend("cpu", { quiet: true });
  const base = { ...SIZES, matchFeatures: true };
  const plain = new AttnDiscriminator(base, 1);
  const wide = new AttnDiscriminator({ ...base, wide: true }, 1);
  const width = 2 * K + 3 + 1;
  assertEquals(wide.wide!.shape, [width, 2 * K]);
  assertEquals(plain.wide, undefined);
  // Created last: every other parameter is the plain model's.
  assertEquals(wide.params.list().length, plain.params.list().length + 1);
  const s = stateOf();
  const cand = tf.randomUniform([B, E], -1, 1, "float32", 9) as tf.Tensor2D;
  const items = tf.tensor1d([1, 3, 8], "int32");
  const p = wide.state(s);
  const same = tf.tidy(() =>
    tf.sub(wide.score(p, cand, false, items), plain.score(p, cand, false, items))
  );
  assertEquals(Math.max(...Array.from(same.dataSync()).map(Math.abs)), 0);
  // With weights: row b·M + m gains match[b] · W[:, m·K + k] on real class k, nothing on fakes.
  const w = Array.from({ length: width * 2 * K }, (_, i) => ((i % 7) - 3) / 10);
  wide.wide!.assign(tf.tensor2d(w, [width, 2 * K]));
  const diff = tf.tidy(() =>
    tf.sub(wide.score(p, cand, false, items), plain.score(p, cand, false, items))
  );
  const d = diff.arraySync() as number[][];
  for (let row = 0; row < B * 2; row++) {
    for (let k = K; k < 2 * K; k++) assertEquals(d[row]![k], 0, `fake class ${k} untouched`);
  }
  assert(d.some((r) => r.slice(0, K).some((v) => Math.abs(v) > 1e-4)), "real classes moved");
  // The gradient reaches the wide weights.
  const { grads, value } = tf.variableGrads(
    () => tf.sum(wide.score(wide.state(s), cand, false, items)) as tf.Scalar,
    wide.params.list(),
  );
  const g = grads[wide.wide!.name]!;
  assert(Math.max(...Array.from(g.dataSync()).map(Math.abs)) > 0);
  assertThrows(
    () => new AttnDiscriminator({ ...base, matchFeatures: false, wide: true }, 1),
    RangeError,
  );
  tf.dispose([value, ...Object.values(grads), same, diff, p, cand, items, s.emb, s.feedback]);
  tf.dispose([s.mask!, s.items!]);
});
