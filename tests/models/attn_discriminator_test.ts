import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { registerFastMatMulGrad } from "../../models/fast_grad.ts";
import { gatherRows, withPadAndRare } from "../../models/params.ts";
import { AttnDiscriminator } from "../../models/attn_discriminator.ts";
import type { StateBatch } from "../../lib/data/batches.ts";
import { B, E, K, N, tinyAttnSizes, V } from "./_tiny_attn.ts";

registerFastMatMulGrad();

function sizes(heads = 2) {
  return tinyAttnSizes({ heads });
}

/** A time-major state of item indices `items` [N][B] (V pads) with random embeddings. */
function stateOf(items: number[][], fb: number[][]): StateBatch {
  const flat = items.flat();
  const table = tf.randomUniform([V + 2, E], -1, 1, "float32", 3);
  const idx = tf.tensor1d(flat, "int32");
  const mask = items.map((row) => row.map((i) => (i === V ? 0 : 1)));
  return {
    emb: tf.reshape(tf.gather(table, idx), [N, B, E]) as tf.Tensor3D,
    feedback: tf.tensor2d(fb.flat(), [N, B], "int32"),
    mask: tf.tensor2d(mask.flat(), [N, B]),
    items: tf.tensor2d(flat, [N, B], "int32"),
  };
}

const ITEMS = [[V, 1, 2], [0, 1, 3], [0, 4, 3], [5, 1, 6]];
const FB = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]];

Deno.test("gatherRows: values of tf.gather, gradients summed over repeated rows", async () => {
  await initBackend("wasm", { quiet: true });
  const t = tf.variable(tf.tensor2d([[1, 2], [3, 4], [5, 6]]));
  const idx = tf.tensor1d([0, 2, 0], "int32");
  const w = tf.tensor2d([[1, 1], [2, 2], [3, 3]]);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(gatherRows(t as unknown as tf.Tensor2D, idx), w)) as tf.Scalar,
    [t],
  );
  assertEquals(value.dataSync()[0], 1 + 2 + 10 + 12 + 3 + 6);
  assertEquals(grads[t.name]!.arraySync(), [[4, 4], [0, 0], [2, 2]]);
  tf.dispose([t, idx, w, value, ...Object.values(grads)]);
});

Deno.test("withPadAndRare: a zero padding row, then the mean vector", () => {
  const out = withPadAndRare(Float32Array.from([1, 2, 3, 6]), 2, 2);
  assertEquals(Array.from(out), [1, 2, 3, 6, 0, 0, 2, 4]);
});

Deno.test("AttnDiscriminator: M heads per pair, probabilities their mean, no tensor leak", async () => {
  await initBackend("cpu", { quiet: true });
  const d = new AttnDiscriminator(sizes(3), 1);
  const s = stateOf(ITEMS, FB);
  const cand = tf.randomUniform([B, E], -1, 1, "float32", 9) as tf.Tensor2D;
  const items = tf.tensor1d([1, 3, 8], "int32"); // 8 = V + 1: the shared rare item
  const p = d.stateInference(s);
  assertEquals(p.shape, [B, d.stateWidth]);
  const logits = tf.tidy(() => d.score(p, cand, false, items));
  assertEquals(logits.shape, [B * 3, 2 * K]);
  const heads = d.headProbs(p, cand, items);
  const mean = d.probs(p, cand, items);
  const h = heads.arraySync(), m = mean.arraySync();
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < 2 * K; c++) {
      assertAlmostEquals(m[b]![c]!, (h[b]![0]![c]! + h[b]![1]![c]! + h[b]![2]![c]!) / 3, 1e-6);
    }
  }
  // Heads start from different weights, so they disagree.
  assert(Math.abs(h[0]![0]![0]! - h[0]![1]![0]!) > 1e-6);
  tf.dispose([logits, heads, mean]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(d.probs(p, cand, items));
  assertEquals(tf.memory().numTensors, before);
  tf.dispose([p, cand, items, s.emb, s.feedback, s.mask!, s.items!]);
  d.params.dispose();
});

Deno.test("AttnDiscriminator: the repetition features see the candidate in the history", async () => {
  await initBackend("cpu", { quiet: true });
  const d = new AttnDiscriminator(sizes(1), 2);
  const s = stateOf(ITEMS, FB);
  const p = d.stateInference(s);
  const cand = tf.zeros([B, E]) as tf.Tensor2D;
  // Item 1 is in every state; item 6 only in the last position of the third.
  const trunkInput = (items: number[]) => {
    const spy: tf.Tensor2D[] = [];
    const apply = d.trunk.apply.bind(d.trunk);
    d.trunk.apply = (x: tf.Tensor2D, frozen?: boolean) => {
      spy.push(tf.keep(tf.clone(x)));
      return apply(x, frozen);
    };
    const idx = tf.tensor1d(items, "int32");
    tf.tidy(() => d.score(p, cand, false, idx));
    d.trunk.apply = apply;
    idx.dispose();
    return spy[0]!.arraySync();
  };
  const x = trunkInput([1, 1, 6]);
  const W = x[0]!.length;
  const latest = (b: number) => x[b]![W - 1]!;
  const repeats = (b: number) => x[b]!.slice(W - 1 - K, W - 1);
  // State 0 (items V, 0, 0, 5) never holds item 1; state 1 (1, 1, 4, 1 with feedback 1, 1, 0,
  // 2) holds it twice under class 1 and once under class 2, last at the final position.
  assertEquals(repeats(0), [0, 0, 0]);
  assertEquals(latest(0), 0);
  assertEquals(repeats(1), [0, 2, 1]);
  assertAlmostEquals(latest(1), 1, 1e-6);
  assertAlmostEquals(latest(2), 1, 1e-6); // item 6 is the last of state 2
  assertEquals(repeats(2), [0, 1, 0]); // shown once, feedback class 1
  tf.dispose([p, s.emb, s.feedback, s.mask!, s.items!]);
  // The shared rare item (V + 1) stands for many items: a rare candidate beside rare history
  // items is no repeat; a known candidate in the same states still is (item 2, 4 times).
  const R = V + 1;
  const rs = stateOf([[R, 2, 2], [R, 2, 2], [0, R, 2], [R, R, 2]], FB);
  const rp = d.stateInference(rs);
  const spy: tf.Tensor2D[] = [];
  const apply = d.trunk.apply.bind(d.trunk);
  d.trunk.apply = (x: tf.Tensor2D, frozen?: boolean) => {
    spy.push(tf.keep(tf.clone(x)));
    return apply(x, frozen);
  };
  const idx = tf.tensor1d([R, R, 2], "int32");
  tf.tidy(() => d.score(rp, cand, false, idx));
  d.trunk.apply = apply;
  const xr = spy[0]!.arraySync();
  assertEquals(xr[0]!.slice(W - 1 - K, W), [0, 0, 0, 0]);
  assertEquals(xr[1]!.slice(W - 1 - K, W), [0, 0, 0, 0]);
  assertEquals(xr[2]!.slice(W - 1 - K, W - 1).reduce((a, b) => a + b, 0), 4);
  tf.dispose([rp, cand, idx, ...spy, rs.emb, rs.feedback, rs.mask!, rs.items!]);
  d.params.dispose();
});

Deno.test("AttnDiscriminator: under residualItems R only items < R have residual rows of their own", async () => {
  await initBackend("cpu", { quiet: true });
  const R = 3;
  const d = new AttnDiscriminator({ ...sizes(1), residualItems: R }, 4);
  // R own rows, the rare item's, one shared by the rest and padding.
  assertEquals(d.residual.shape, [R + 2, 4]);
  d.residual.assign(tf.randomUniform([R + 2, 4], -2, 2, "float32", 5));
  const s = stateOf(ITEMS, FB);
  const p = d.stateInference(s);
  // Every candidate gets the same item2vec vector: only the residual (and the zero item bias)
  // can tell them apart.
  const cand = tf.tidy(() => tf.tile(tf.randomUniform([1, E], -1, 1, "float32", 6), [B, 1]));
  const probsOf = (items: number[]) =>
    tf.tidy(() => d.probs(p, cand as tf.Tensor2D, tf.tensor1d(items, "int32")).arraySync());
  const same = (a: number[], b: number[]) => a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);
  // Items 4, 5 and 6 (>= R) share one row; 1 and 2 each have their own; V + 1 is the rare row.
  const a = probsOf([4, 1, V + 1]), b = probsOf([6, 2, 5]);
  assert(same(a[0]!, b[0]!), "items 4 and 6 share a residual");
  assert(!same(a[1]!, b[1]!), "items 1 and 2 have residuals of their own");
  assert(!same(a[2]!, b[2]!), "the rare item's residual is not the shared one");
  // Without the cap every item has a row (V + 2).
  const all = new AttnDiscriminator({ ...sizes(1), residualItems: 0 }, 4);
  assertEquals(all.residual.shape, [V + 2, 4]);
  tf.dispose([p, cand, s.emb, s.feedback, s.mask!, s.items!]);
  d.params.dispose();
  all.params.dispose();
});
