/**
 * The structured user model (`--user-model glm`): its features against hand-computed values,
 * its probabilities' chain of splits, the offset / warm start of the Newton fit it uses, a fit
 * that recovers known effects, and the checks of a stored `glm.json`.
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { alignItemFeatures, readItemFeatures } from "../../lib/data/item_features.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { Rng } from "../../lib/random.ts";
import { fitGlmModel } from "../../lib/train/fit_glm.ts";
import { itemClusters } from "../../lib/train/item_clusters.ts";
import {
  checkGlmModel,
  CLUSTER_COLUMN,
  glmCodes,
  glmContext,
  glmFeatureNames,
  glmFeatures,
  glmProbs,
} from "../../lib/train/glm_features.ts";
import { fitLogistic } from "../../lib/train/newton_logistic.ts";
import { GlmModel } from "../../lib/sim/glm.ts";

const POSITIVE = [false, true]; // labels neg, pos

Deno.test("glmFeatures: hand-computed counts, repetition, cosines and recency", () => {
  // Items 0 = (1, 0), 1 = (0, 2) → unit (0, 1), 2 = (3, 4) → (0.6, 0.8); counts 7, 1, 0.
  const c = glmContext(Float32Array.of(1, 0, 0, 2, 3, 4), 2, [7, 1, 0], POSITIVE, 4);
  const names = glmFeatureNames([]);
  const x = glmFeatures(new Float64Array(names.length), {
    items: [2, 0, 1, -1], // oldest first; the newest is not in the vocabulary: cosine 0
    feedback: [1, 1, 0, 0],
    candidate: 2,
  }, c);
  const f = Object.fromEntries(names.map((n, i) => [n, x[i]!]));
  const mean = (Math.log1p(7) + Math.log1p(1) + 0) / 3;
  assertEquals(f.bias, 1);
  assertAlmostEquals(f.log_count!, -mean, 1e-12);
  assertAlmostEquals(f.log_count_sq!, mean * mean, 1e-12);
  assertEquals(f.unknown_item, 0);
  assertEquals([f.in_state, f.in_state_positive], [1, 1]); // item 2 was clicked first
  assertEquals(f.state_length, 1);
  assertEquals(f.positive_share, 2 / 5);
  // Positive pairs: item 2 (cosine 1), item 0 (0.6); the others: item 1 (0.8), the unknown (0).
  assertAlmostEquals(f.cos_positive_mean!, 1.6 / 3, 1e-6);
  assertAlmostEquals(f.cos_negative_mean!, 0.8 / 3, 1e-6);
  assertAlmostEquals(f.cos_positive_max!, 1, 1e-6);
  assertEquals([f.cos_last, f.cos_last_positive, f.similar_run], [0, 0, 0]); // newest: unknown
  // Ages 3 (item 2) and 2 (item 0) for the positives, 1 (item 1) and 0 for the others.
  assertAlmostEquals(f.cos_positive_recent!, (0.7 ** 3 * 1 + 0.7 ** 2 * 0.6) / 3, 1e-6);
  assertAlmostEquals(f.cos_negative_recent!, (0.7 * 0.8) / 3, 1e-6);
  // Only the last N = 4 pairs count; an unknown candidate has no count, cosine or repeat.
  const u = glmFeatures(new Float64Array(names.length), {
    items: [1, 1, 2, 0, 1, 2],
    feedback: [1, 1, 1, 1, 0, 0],
    candidate: -1,
  }, c);
  assertEquals([u[1], u[2], u[3], u[4], u[6], u[7]], [0, 0, 1, 0, 1, 2 / 5]);
  assertEquals([...u.slice(8, 16)], [0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("glmFeatures: the taste block by hand (after the columns' features)", () => {
  // Unit vectors: item 0 = (1, 0), item 1 = (0, 1), item 2 = (0.6, 0.8); E = 2, √E scaling.
  const c = glmContext(
    Float32Array.of(2, 0, 0, 3, 3, 4),
    2,
    [1, 1, 1],
    POSITIVE,
    5,
    undefined,
    true,
  );
  const names = glmFeatureNames([], 2);
  assertEquals(names.slice(16), [
    "taste:positive_0",
    "taste:positive_1",
    "taste:negative_0",
    "taste:negative_1",
    "taste:item_0",
    "taste:item_1",
  ]);
  const x = glmFeatures(new Float64Array(names.length), {
    items: [0, 1, -1], // positive item 0; negative item 1 and an unknown item
    feedback: [1, 0, 0],
    candidate: 2,
  }, c);
  const r = Math.SQRT2;
  const want = [
    0.6 * r * r * 1 / 2, // u_a,0 · ū⁺_0 with ū⁺ = (1, 0) / (1 + 1)
    0,
    0,
    0.8 * r * r * 1 / 3, // ū⁻ = (0, 1) / (2 + 1): the unknown item counts, adds nothing
    0.6 * r,
    0.8 * r,
  ];
  want.forEach((v, i) => assertAlmostEquals(x[16 + i]!, v, 1e-6));
  // A rare candidate has no vector: the block is 0; without the flag it is not computed.
  const rare = glmFeatures(new Float64Array(names.length), {
    items: [0],
    feedback: [1],
    candidate: -1,
  }, c);
  assertEquals([...rare.slice(16)], [0, 0, 0, 0, 0, 0]);
});

Deno.test("glmFeatures: a category column's shares, run and recency by hand", () => {
  // 4 items, codes of one column: 0 → 1, 1 → 1, 2 → 2, 3 → 0 (unknown); rows V, V + 1 are 0.
  const codes = Int32Array.of(1, 1, 2, 0, 0, 0);
  const c = glmContext(new Float32Array(8), 2, [1, 1, 1, 1], POSITIVE, 10, { codes, columns: 1 });
  const names = glmFeatureNames(["genre"]);
  assertEquals(names.length, 28);
  const x = glmFeatures(new Float64Array(names.length), {
    items: [2, 1, 0, 1], // categories 2, 1, 1, 1 (newest last)
    feedback: [0, 0, 1, 1],
    candidate: 0, // category 1
  }, c);
  const f = Object.fromEntries(names.map((n, i) => [n, x[i]!]));
  assertEquals(f["genre:positive_share"], 2 / 3); // both positives same, / (2 + 1)
  assertEquals(f["genre:negative_share"], 1 / 3); // one of two others same
  assertEquals(f["genre:any_positive"], 1);
  assertEquals(f["genre:run"], 3 / 6); // the newest three are category 1
  assertEquals(f["genre:run_sq"], 0.25);
  assertEquals(f["genre:run_positive"], 2 / 6);
  assertEquals([f["genre:last_positive"], f["genre:last_negative"]], [1, 0]);
  assertEquals(f["genre:negative_recent"], 0.5 ** 2); // item 1 at age 2
  assertEquals(f["genre:positive_recent"], 1 + 0.5); // ages 0 and 1
  assertAlmostEquals(f["genre:negative_slow"]!, 0.9 ** 2 / 5, 1e-12);
  assertAlmostEquals(f["genre:positive_slow"]!, (1 + 0.9) / 5, 1e-12);
  // A candidate whose value is unknown (item 3) or who is rare matches nothing.
  for (const candidate of [3, -1]) {
    const y = glmFeatures(new Float64Array(names.length), {
      items: [0, 1],
      feedback: [1, 1],
      candidate,
    }, c);
    assertEquals([...y.slice(16)], new Array(12).fill(0));
  }
});

Deno.test("glmProbs: P(positive) times the chain of splits, summing to 1", () => {
  // Labels skip (0), click (1), purchase (2); feature x = [1, 2].
  const splits = {
    positive: { labels: [1, 2], weights: [[0, 0.5]] }, // P(click | positive) = σ(1)
    negative: { labels: [0], weights: [] },
  };
  const p = glmProbs([-1, 0], splits, [1, 2], 0.5, new Float64Array(3));
  const pos = 1 / (1 + Math.exp(0.5)), click = 1 / (1 + Math.exp(-1));
  assertAlmostEquals(p[0]!, 1 - pos, 1e-12);
  assertAlmostEquals(p[1]!, pos * click, 1e-12);
  assertAlmostEquals(p[2]!, pos * (1 - click), 1e-12);
  // Three negative labels: the first split, then the second of what is left, then the rest.
  const three = glmProbs(
    [0],
    {
      positive: { labels: [3], weights: [] },
      negative: { labels: [0, 1, 2], weights: [[0], [Math.log(3)]] },
    },
    [1],
    0,
    new Float64Array(4),
  );
  assertEquals([...three].map((v) => +v.toFixed(12)), [0.25, 0.1875, 0.0625, 0.5]);
});

Deno.test("fitLogistic: an offset shifts each row's logit; a warm start converges to the same fit", () => {
  const g = {
    x: [Float64Array.of(1, 0), Float64Array.of(1, 1)],
    rows: [4, 4],
    positives: [1, 3],
  };
  // With offsets +1 on the second group, its fitted log-odds without them are ln 3 − 1.
  const fit = fitLogistic(g, 2, 0, { offset: [0, 1] });
  assertAlmostEquals(fit.w[0]!, Math.log(1 / 3), 1e-7);
  assertAlmostEquals(fit.w[0]! + fit.w[1]!, Math.log(3) - 1, 1e-7);
  const warm = fitLogistic(g, 2, 0, { offset: [0, 1], start: Float64Array.of(0, 0) });
  assertAlmostEquals(warm.w[1]!, fit.w[1]!, 1e-7);
  const one = fitLogistic(g, 2, 0, { maxIterations: 1 });
  assert(one.iterations <= 2, `${one.iterations}`);
});

/** Pearson's correlation. */
function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((s, x) => s + x, 0) / a.length, mb = b.reduce((s, x) => s + x, 0) / b.length;
  let ab = 0, aa = 0, bb = 0;
  a.forEach((x, i) => {
    ab += (x - ma) * (b[i]! - mb);
    aa += (x - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  });
  return ab / Math.sqrt(aa * bb);
}

/** A log whose users click item i with the true log-odds `quality[i]` + 1.5 × (clicked a
 * same-category item before), categories i % 2; sessions of 6 random items. */
function knownLog(seed: number) {
  const rng = new Rng(seed);
  const quality = [1, 0.5, 0, -0.5, -1, -1.5, 0.8, -0.8];
  let csv = "session_id,item_id,feedback\n", cats = "item_id,category\n";
  quality.forEach((_, i) => (cats += `i${i},c${i % 2}\n`));
  for (let s = 0; s < 1500; s++) {
    const liked = new Set<number>();
    for (let t = 0; t < 6; t++) {
      const i = Math.floor(rng.next() * quality.length);
      const z = quality[i]! - 1 + (liked.has(i % 2) ? 1.5 : 0);
      const click = rng.next() < 1 / (1 + Math.exp(-z));
      if (click) liked.add(i % 2);
      csv += `s${s},i${i},${click ? "click" : "skip"}\n`;
    }
  }
  return { csv, cats, quality };
}

Deno.test("fitGlmModel: recovers the items' order and a category effect; pure for a seed", async () => {
  const { csv, cats, quality } = knownLog(1);
  const ds = await datasetFromText(csv, "known.csv", {
    stateLength: 5,
    minStateLength: 0,
    minCount: 1,
    positive: ["click"],
  });
  const file = await Deno.makeTempFile({ suffix: ".csv" });
  await Deno.writeTextFile(file, cats);
  const features = alignItemFeatures(await readItemFeatures(file), ds.items);
  await Deno.remove(file);
  const vectors = { vectors: new Float32Array(ds.items.length * 2), dim: 2 };
  const m = fitGlmModel(ds, vectors, features, { seed: 3 });
  assertEquals(m.taste_dim, 2); // the taste block is on by default
  // The biases' sds, 1 / √(Σ p (1 − p) + 3): between 1 / √(rows / 4 + 3) (p (1 − p) ≤ 1/4 on
  // each of the item's rows) and the prior's 1 / √3, and below the prior for a shown item.
  const rowsOf = new Map<number, number>();
  for (const r of ds.train) rowsOf.set(ds.rowItem[r]!, (rowsOf.get(ds.rowItem[r]!) ?? 0) + 1);
  const sd = m.item_bias_sd!;
  assertEquals(sd.length, ds.items.length + 1);
  for (const [i, n] of rowsOf) {
    if (i >= ds.items.length) continue;
    assert(
      sd[i]! >= 1 / Math.sqrt(n / 4 + 3) - 1e-12 && sd[i]! < 1 / Math.sqrt(3),
      `${i}: ${sd[i]}`,
    );
  }
  const plain = fitGlmModel(ds, vectors, features, { seed: 3, taste: false });
  assertEquals(["taste_dim" in plain, plain.features.length], [false, 28]);
  // The fitted biases follow the items' true qualities: Pearson r > 0.98 over the 8 items,
  // and the spread of qualities (2.5 nats) comes back within 20%.
  const bias = quality.map((_, i) => m.item_bias[ds.itemIndex.get(`i${i}`)!]!);
  const r = pearson(bias, quality);
  assert(r > 0.98, `r ${r}: ${bias.map((b) => b.toFixed(2))}`);
  const range = Math.max(...bias) - Math.min(...bias);
  assert(Math.abs(range - 2.5) < 0.5, `range ${range}`);
  const w = Object.fromEntries(m.features.map((n, i) => [n, m.weights[i]!]));
  assert(w["category:any_positive"]! > 0.8, JSON.stringify(w));
  assert(m.heldout === null || m.heldout.log_loss < m.heldout.base_log_loss);
  assertEquals(fitGlmModel(ds, vectors, features, { seed: 3 }), m);
  // Stored and read back, it answers as fitted; a wrong field is named.
  const shape = {
    labels: ds.labels,
    positive: ds.positive,
    stateLength: 5,
    vectors: vectors.vectors,
    dim: 2,
    itemFeatures: features,
  };
  const g = GlmModel.fromData(JSON.parse(JSON.stringify(m)), shape);
  const p = g.probs({ items: [], feedback: [], candidate: ds.itemIndex.get("i0")! });
  assertAlmostEquals(p[0]! + p[1]!, 1, 1e-12);
  assert(p[ds.labels.indexOf("click")]! > 0.3, `${[...p]}`);
  // With the taste block: 3E more weights, stored with taste_dim, answered as fitted.
  const rng = new Rng(5);
  const tasteVectors = {
    ...vectors,
    vectors: Float32Array.from(vectors.vectors, () => rng.normal()),
  };
  const t = fitGlmModel(ds, tasteVectors, features, { seed: 3, taste: true });
  assertEquals([t.taste_dim, t.features.length, t.weights.length], [2, 34, 34]);
  assertEquals(t.features.slice(-1), ["taste:item_1"]);
  const tg = GlmModel.fromData(JSON.parse(JSON.stringify(t)), { ...shape, ...tasteVectors });
  const q = { items: [0, 1], feedback: [1, 0], candidate: 2 };
  const x = glmFeatures(
    new Float64Array(34),
    q,
    glmContext(tasteVectors.vectors, 2, t.item_counts, ds.positive, 5, {
      codes: features.codes,
      columns: 1,
    }, true),
  );
  const direct = glmProbs(t.weights, t.splits, x, t.item_bias[2]!, new Float64Array(2));
  assertEquals([...tg.probs(q)], [...direct]);
  assert(x.slice(28).some((v) => v !== 0), "the taste block is computed");
  const expect = {
    labels: ds.labels,
    positive: ds.positive,
    stateLength: 5,
    items: ds.items.length,
    columns: ["category"],
    dim: 2,
  };
  assertThrows(
    () => checkGlmModel({ ...m, item_bias_sd: m.item_bias_sd!.map(() => -1) }, "glm.json", expect),
    CheckpointError,
    `"glm.json": item_bias_sd must be >= 0`,
  );
  // The spread by hand: p (1 − p) · sd of the candidate's bias; 0 for a file without sds.
  const i0 = ds.itemIndex.get("i0")!;
  const p0 = g.probs({ items: [], feedback: [], candidate: i0 });
  const pos0 = p0[ds.labels.indexOf("click")]!;
  assertAlmostEquals(g.spread(i0, p0), pos0 * (1 - pos0) * m.item_bias_sd![i0]!, 1e-15);
  const { item_bias_sd: _, ...older } = m;
  assertEquals(GlmModel.fromData(older, shape).spread(i0, p0), 0);
  assertThrows(
    () => checkGlmModel({ ...m, taste_dim: 3 }, "glm.json", expect),
    CheckpointError,
    `"glm.json": taste_dim must be 0 or the item vectors' length 2, got 3`,
  );
  assertThrows(
    () => checkGlmModel({ ...m, taste_dim: 0 }, "glm.json", expect),
    CheckpointError,
    `"glm.json": features must be `,
  );
  assertThrows(
    () => checkGlmModel({ ...m, item_bias: [1] }, "glm.json", expect),
    CheckpointError,
    `"glm.json": item_bias must be ${ds.items.length + 1} finite numbers`,
  );
  assertThrows(
    () => checkGlmModel({ ...m, columns: [] }, "glm.json", expect),
    CheckpointError,
    `"glm.json": columns must be the checkpoint's item-feature columns ["category"]`,
  );
  assertThrows(
    () => checkGlmModel({ ...m, format: 9 }, "glm.json", expect),
    CheckpointError,
    `"glm.json": format must be 1, got 9`,
  );
});

Deno.test("item2vec clusters: one more category column without a catalogue", async () => {
  // Two groups of items with opposite vectors; users like the "a" group.
  const csv = "session_id,item_id,feedback\n" +
    Array.from({ length: 60 }, (_, s) =>
      Array.from({ length: 6 }, (_, t) => {
        const item = (s + t) % 2 === 0 ? `a${(s + t) % 3}` : `b${(s * t) % 3}`;
        return `s${s},${item},${item.startsWith("a") ? "pos" : "neg"}\n`;
      }).join("")).join("");
  const ds = await datasetFromText(csv, "c.csv", {
    stateLength: 4,
    minCount: 1,
    minStateLength: 1,
  });
  const V = ds.items.length;
  const vectors = new Float32Array(V * 2);
  ds.items.forEach((id, i) =>
    vectors.set(id.startsWith("a") ? [1, 0.1 * i] : [-1, 0.1 * i], i * 2)
  );
  const m = fitGlmModel(ds, { vectors, dim: 2 }, undefined, { seed: 1, clusters: 2 });
  assertEquals(m.columns, []); // the checkpoint's columns: none
  assertEquals(m.clusters!.length, V);
  const group = (id: string) => m.clusters![ds.itemIndex.get(id)!];
  assertEquals(new Set(["a0", "a1", "a2"].map(group)).size, 1);
  assertEquals(new Set(["b0", "b1", "b2"].map(group)).size, 1);
  assert(group("a0") !== group("b0"));
  assert(m.features.includes(`${CLUSTER_COLUMN}:positive_share`), m.features.join());
  assertEquals(m.features.length, glmFeatureNames([CLUSTER_COLUMN], 2).length);
  // glmCodes: the catalogue's codes, then the clusters'; padding and rare rows 0.
  const merged = glmCodes(2, { codes: Int32Array.of(5, 6, 0, 0), columns: 1 }, [3, 4])!;
  assertEquals([...merged.codes], [5, 3, 6, 4, 0, 0, 0, 0]);
  assertEquals(merged.columns, 2);
  assertEquals(glmCodes(2), undefined);
  // Stored and read back it answers as computed by hand; a bad cluster list is named.
  const shape = { labels: ds.labels, positive: ds.positive, stateLength: 4, vectors, dim: 2 };
  const g = GlmModel.fromData(JSON.parse(JSON.stringify(m)), shape);
  const q = {
    items: [ds.itemIndex.get("a0")!],
    feedback: [ds.labels.indexOf("pos")],
    candidate: 1,
  };
  const c = glmContext(
    vectors,
    2,
    m.item_counts,
    ds.positive,
    4,
    glmCodes(V, undefined, m.clusters),
    true,
  );
  const x = glmFeatures(new Float64Array(m.features.length), q, c);
  const direct = glmProbs(m.weights, m.splits, x, m.item_bias[1]!, new Float64Array(2));
  assertEquals([...g.probs(q)], [...direct]);
  const expect = {
    labels: ds.labels,
    positive: ds.positive,
    stateLength: 4,
    items: V,
    columns: [],
    dim: 2,
  };
  assertThrows(
    () => checkGlmModel({ ...m, clusters: [1] }, "glm.json", expect),
    CheckpointError,
    `"glm.json": clusters must be ${V} integers >= 0`,
  );
  // clusters: 0 leaves them out; the default is 32 without item features.
  assertEquals(
    "clusters" in fitGlmModel(ds, { vectors, dim: 2 }, undefined, { clusters: 0 }),
    false,
  );
  assertEquals(fitGlmModel(ds, { vectors, dim: 2 }).clusters!.length, V);
});

Deno.test("itemClusters: seeded, codes 1..K, 0 for an item without a vector, K capped", () => {
  const rng = new Rng(2);
  const v = Float32Array.from({ length: 50 * 3 }, () => rng.normal());
  v.fill(0, 9, 12); // item 3 has no vector
  const a = itemClusters(v, 3, 5, 7);
  assertEquals([...a], [...itemClusters(v, 3, 5, 7)]);
  assertEquals(a[3], 0);
  assert([...a].every((c, i) => i === 3 || (c >= 1 && c <= 5)), `${a}`);
  assertEquals(new Set(itemClusters(v.slice(0, 6), 3, 5, 7)).size, 2); // 2 items: 2 clusters
});
