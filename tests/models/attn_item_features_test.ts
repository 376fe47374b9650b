import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import { registerFastMatMulGrad } from "../../models/fast_grad.ts";
import { AttnDiscriminator } from "../../models/attn_discriminator.ts";
import type { StateBatch } from "../../lib/data/batches.ts";
import { E, K, N, tinyAttnSizes, V } from "./_tiny_attn.ts";

registerFastMatMulGrad();

function sizes(itemFeatures?: number[]) {
  return tinyAttnSizes(itemFeatures ? { itemFeatures } : {});
}

/** Codes [V + 2, 1]: items 1 and 3 have value 1, item 2 value 2, the rest unknown (0). */
const CODES = [0, 1, 2, 1, 0, 0, 0, 0, 0];

/** B pairs with the same history (items 0, 4, 5, 6) and the same candidate embedding. */
function batch(B: number): { s: StateBatch; cand: tf.Tensor2D } {
  const hist = [0, 4, 5, 6].flatMap((i) => Array(B).fill(i));
  const table = tf.randomUniform([V + 2, E], -1, 1, "float32", 3);
  return {
    s: {
      emb: tf.reshape(tf.gather(table, tf.tensor1d(hist, "int32")), [N, B, E]) as tf.Tensor3D,
      feedback: tf.tensor2d([0, 1, 2, 1].flatMap((f) => Array(B).fill(f)), [N, B], "int32"),
      mask: tf.ones([N, B]) as tf.Tensor2D,
      items: tf.tensor2d(hist, [N, B], "int32"),
    },
    cand: tf.tile(tf.randomUniform([1, E], -1, 1, "float32", 9), [B, 1]) as tf.Tensor2D,
  };
}

Deno.test("AttnDiscriminator: item features separate items that differ only in them", async () => {
  await initBackend("cpu", { quiet: true });
  const codes = tf.tensor2d(CODES, [V + 2, 1], "int32");
  const d = new AttnDiscriminator(sizes([4]), 1, codes);
  assertEquals(d.featureTables.map((t) => t.shape), [[4, 4]]);
  const { s, cand } = batch(3);
  const items = tf.tensor1d([1, 2, 3], "int32"); // values 1, 2, 1
  const p = d.stateInference(s);
  // Zero-init: same item2vec vector, residual, bias and features give the same answers.
  const before = d.probs(p, cand, items).arraySync();
  for (let c = 0; c < 2 * K; c++) assertAlmostEquals(before[0]![c]!, before[1]![c]!, 1e-7);
  // Value 2's row made non-zero: item 2 answers differently, items 1 and 3 (value 1) alike.
  d.featureTables[0]!.assign(
    tf.tensor2d([0, 0, 0, 0, 0, 0, 0, 0, 2, -1, 1, 3, 0, 0, 0, 0], [4, 4]),
  );
  const after = d.probs(p, cand, items).arraySync();
  const gap = after[0]!.reduce((m, x, c) => Math.max(m, Math.abs(x - after[1]![c]!)), 0);
  assert(gap > 1e-3, `items 1 and 2 should differ, gap ${gap}`);
  for (let c = 0; c < 2 * K; c++) assertAlmostEquals(after[0]![c]!, after[2]![c]!, 1e-7);
  // Item 1 itself is unchanged (its value's row is still 0).
  for (let c = 0; c < 2 * K; c++) assertAlmostEquals(after[0]![c]!, before[0]![c]!, 1e-7);
  // Gradients reach the rows in use (1, 2) by gatherRows, none the unused row 3.
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.square(d.score(d.state(s), cand, false, items))) as tf.Scalar,
    [d.featureTables[0]!],
  );
  const g = grads[d.featureTables[0]!.name]!.arraySync() as number[][];
  assert(g[1]!.some((x) => x !== 0) && g[2]!.some((x) => x !== 0), "rows 1 and 2 get gradients");
  assertEquals(g[3], [0, 0, 0, 0]);
  // Repeated calls leave no tensors behind.
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    d.probs(p, cand, items).dispose();
    tf.tidy(() => d.score(p, cand, true, items)).dispose();
    tf.tidy(() => d.score(p, cand, false)).dispose(); // fake candidates: no features
  }
  assertEquals(tf.memory().numTensors, n0);
  tf.dispose([p, items, value, ...Object.values(grads), s.emb, s.feedback, s.mask!, s.items!]);
  tf.dispose([cand, codes]);
  d.params.dispose();
});

Deno.test("AttnDiscriminator without features: the parameters and their values of before", async () => {
  await initBackend("cpu", { quiet: true });
  const plain = new AttnDiscriminator(sizes(), 5);
  const codes = tf.tensor2d(CODES, [V + 2, 1], "int32");
  const feat = new AttnDiscriminator(sizes([4]), 5, codes);
  const names = (d: AttnDiscriminator) => d.params.entries().map(([n]) => n);
  assert(!names(plain).some((n) => n.includes("feature")), names(plain).join(","));
  assertEquals(plain.featureTables.length, 0);
  assertEquals(names(feat), [...names(plain), "D/item/feature/0"]);
  for (const [name, v] of plain.params.entries()) {
    const w = feat.params.entries().find(([n]) => n === name)![1];
    assertEquals(Array.from(v.dataSync()), Array.from(w.dataSync()), name);
  }
  assertThrows(() => new AttnDiscriminator(sizes([4]), 5), RangeError, "featureCodes");
  assertThrows(() => new AttnDiscriminator(sizes(), 5, codes), RangeError, "featureCodes");
  plain.params.dispose();
  feat.params.dispose();
  codes.dispose();
});
