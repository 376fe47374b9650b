import { assert, assertEquals } from "../_assert.ts";
import { datasetFromText, padIndex, rareIndex } from "../../lib/data/dataset.ts";
import { synthText } from "../_helpers.ts";

/** Label counts of the raw CSV text (every data row). */
function rawLabelCounts(csv: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of csv.trim().split("\n").slice(1)) {
    const label = line.split(",")[2]!;
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}

Deno.test("rare items: every row kept as the shared rare item, the raw label distribution kept", async () => {
  const csv = synthText({ sessions: 60, items: 400, seed: 3 });
  const dropped = await datasetFromText(csv, "log.csv", { stateLength: 3, minCount: 4 });
  const kept = await datasetFromText(csv, "log.csv", {
    stateLength: 3,
    minCount: 4,
    rareItems: true,
  });
  // Same vocabulary either way; only what happens to the rare rows differs.
  assertEquals(kept.items, dropped.items);
  assert(dropped.stats.rowsKept < dropped.stats.rows, "the fixture must have rare items");
  assertEquals(kept.stats.rowsKept, kept.stats.rows);
  assertEquals(kept.stats.labelCounts, rawLabelCounts(csv));
  const V = kept.items.length;
  assertEquals(rareIndex(V), V + 1);
  assertEquals(padIndex(V), V);
  let rare = 0;
  for (const i of kept.rowItem) {
    assert(i < V || i === V + 1, `row item ${i} is neither known nor rare`);
    if (i === V + 1) rare++;
  }
  assertEquals(rare, kept.stats.rareRows);
  assertEquals(rare, dropped.stats.rows - dropped.stats.rowsKept);
  assert(kept.rare && !dropped.rare);
  // More tuples: the rare rows' tuples, which the paper's protocol drops.
  assert(kept.train.length > dropped.train.length);
});

Deno.test("rare items with a fixed vocabulary: unknown items become the rare item", async () => {
  const csv = "session_id,item_id,feedback\nu1,a,skip\nu1,zz,click\nu1,b,skip\nu1,a,click\n";
  const vocabulary = { items: ["a", "b"], labels: ["skip", "click"], positive: [false, true] };
  const ds = await datasetFromText(csv, "log.csv", {
    stateLength: 1,
    vocabulary,
    rareItems: true,
  });
  assertEquals([...ds.rowItem], [0, 3, 1, 0]);
  const strict = await datasetFromText(csv, "log.csv", { stateLength: 1, vocabulary });
  assertEquals([...strict.rowItem], [0, 1, 0]);
});

Deno.test("countOrderAbove: a vocabulary larger than it is ordered by count, ties by first appearance", async () => {
  const csv = "session_id,item_id,feedback\n" +
    ["a", "b", "c", "c", "b", "c", "d", "d"].map((it, i) => `u${i % 2},${it},skip\n`).join("") +
    "u0,a,click\n";
  const byAppearance = await datasetFromText(csv, "log.csv", { stateLength: 2, minCount: 1 });
  assertEquals(byAppearance.items, ["a", "b", "c", "d"]);
  const small = await datasetFromText(csv, "log.csv", {
    stateLength: 2,
    minCount: 1,
    countOrderAbove: 4,
  });
  assertEquals(small.items, ["a", "b", "c", "d"]); // not more than 4 items: unchanged
  const ordered = await datasetFromText(csv, "log.csv", {
    stateLength: 2,
    minCount: 1,
    countOrderAbove: 3,
  });
  // c ×3, then a, b, d ×2 each in first-appearance order.
  assertEquals(ordered.items, ["c", "a", "b", "d"]);
  // The rows follow their items: same labels per item id either way.
  const itemsOf = (ds: typeof ordered) => Array.from(ds.rowItem, (i) => ds.items[i]);
  assertEquals(itemsOf(ordered).sort(), itemsOf(byAppearance).sort());
});
