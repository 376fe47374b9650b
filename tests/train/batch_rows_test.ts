import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import {
  bootstrapWeights,
  hashUniform,
  maskRareItems,
  trainingBatch,
} from "../../lib/train/batch_rows.ts";
import type { BatchIndices } from "../../lib/data/batches.ts";
import { Rng } from "../../lib/random.ts";
import { TRAIN_DEFAULTS } from "../../lib/config.ts";

function indices(n: number, V: number): BatchIndices {
  const items = Int32Array.from({ length: n * 4 }, (_, i) => (i % 5 === 0 ? V : i % V));
  return {
    items,
    feedback: new Int32Array(n * 4),
    actions: Int32Array.from({ length: n }, (_, i) => i % V),
    labels: new Int32Array(n),
  };
}

Deno.test("hashUniform: deterministic, in [0, 1), near uniform", () => {
  assertEquals(hashUniform(1, 2, 3), hashUniform(1, 2, 3));
  let sum = 0;
  for (let i = 0; i < 20_000; i++) {
    const u = hashUniform(7, i, 1);
    assert(u >= 0 && u < 1);
    sum += u;
  }
  assertAlmostEquals(sum / 20_000, 0.5, 0.01);
});

Deno.test("bootstrapWeights: Poisson(1) per tuple and head, fixed by the tuple's row", () => {
  const rows = Int32Array.from({ length: 5000 }, (_, i) => i);
  const w = bootstrapWeights(rows, 4, 0);
  assertEquals(w.length, 20_000);
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  assertAlmostEquals(mean, 1, 0.03);
  const zeros = w.filter((x) => x === 0).length / w.length;
  assertAlmostEquals(zeros, Math.exp(-1), 0.02);
  // The same tuple gets the same weights in another batch (another position).
  const again = bootstrapWeights(Int32Array.from([42, 7]), 4, 0);
  assertEquals(Array.from(again.subarray(0, 4)), Array.from(w.subarray(42 * 4, 42 * 4 + 4)));
  // Heads differ.
  assert(Array.from({ length: 100 }, (_, b) => w[b * 4] !== w[b * 4 + 1]).some(Boolean));
});

Deno.test("maskRareItems: replaces about `rate` of the known items, never padding", () => {
  const V = 50;
  const idx = indices(4000, V);
  const known = [...idx.items, ...idx.actions].filter((i) => i < V).length;
  const n = maskRareItems(idx, V, 0.1, new Rng(1));
  assertAlmostEquals(n / known, 0.1, 0.01);
  assertEquals([...idx.items, ...idx.actions].filter((i) => i === V + 1).length, n);
  assertEquals(idx.items.filter((i) => i === V).length, 3200); // the padding stays
});

Deno.test("trainingBatch: the paper's networks get the indices unchanged", () => {
  const V = 10;
  const a = indices(100, V), b = indices(100, V);
  const rows = Int32Array.from({ length: 100 }, (_, i) => i);
  trainingBatch(a, rows, { ...TRAIN_DEFAULTS, arch: "paper", rareMask: 0.5 }, V, "k");
  assertEquals(a, b);
  trainingBatch(b, rows, { ...TRAIN_DEFAULTS, rareMask: 0.5, heads: 3 }, V, "k");
  assertEquals(b.weights!.length, 300);
  assert(b.actions.some((i) => i === V + 1));
});
