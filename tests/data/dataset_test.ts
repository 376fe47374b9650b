import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { type Dataset, datasetFromText, loadDataset } from "../../lib/data/dataset.ts";
import { Column } from "../../lib/data/column.ts";
import { batchIndices } from "../../lib/data/batches.ts";
import { UserError } from "../../lib/errors.ts";
import { trainingRows } from "../../lib/data/training_rows.ts";
import { Rng } from "../../lib/random.ts";
import { synthText, tinyConfig } from "../_helpers.ts";

const LOG = `session_id,item_id,feedback,timestamp
s1,a,skip,30
s2,a,click,5
s1,b,click,10
s1,c,skip,20
s2,b,skip,6
s1,a,purchase,40
s2,c,skip,7
s1,b,skip,50
s2,d,click,8
`;

Deno.test("datasetFromText() orders each session by timestamp, ties in file order", async () => {
  const ds = await datasetFromText(LOG, "log.csv", { stateLength: 2, minCount: 1 });
  assertEquals(ds.sessionIds, ["s1", "s2"]);
  const s1 = [...ds.rowItem.subarray(0, 5)].map((i) => ds.items[i]);
  assertEquals(s1, ["b", "c", "a", "a", "b"]); // timestamps 10, 20, 30, 40, 50
  const ties = await datasetFromText(
    "session_id,item_id,feedback,timestamp\nx,a,skip,5\nx,b,click,5\nx,c,skip,1\n",
    "t.csv",
    {
      stateLength: 1,
      minCount: 1,
    },
  );
  assertEquals([...ties.rowItem].map((i) => ties.items[i]), ["c", "a", "b"]);
});

Deno.test("datasetFromText() keeps file order without a timestamp column", async () => {
  const ds = await datasetFromText("session_id,item_id,feedback\nx,b,skip\nx,a,click\n", "t.csv", {
    stateLength: 1,
    minCount: 1,
  });
  assertEquals([...ds.rowItem].map((i) => ds.items[i]), ["b", "a"]);
});

Deno.test("datasetFromText() drops items seen fewer than minCount times", async () => {
  const ds = await datasetFromText(LOG, "log.csv", { stateLength: 2, minCount: 3 });
  // a: 3, b: 3, c: 2, d: 1 → c and d dropped.
  assertEquals([...ds.items].sort(), ["a", "b"]);
  assertEquals(ds.stats.rowsKept, 6);
  assertEquals(ds.stats.itemsRaw, 4);
});

Deno.test("datasetFromText() maps labels to classes: negatives first, then positives", async () => {
  const ds = await datasetFromText(LOG, "log.csv", { stateLength: 2, minCount: 1 });
  assertEquals(ds.labels, ["skip", "click", "purchase"]);
  assertEquals(ds.positive, [false, true, true]);
  const custom = await datasetFromText(LOG, "log.csv", {
    stateLength: 2,
    minCount: 1,
    positive: ["purchase"],
  });
  assertEquals(custom.labels, ["click", "skip", "purchase"]);
  assertEquals(custom.positive, [false, false, true]);
});

Deno.test("datasetFromText() builds windows of N pairs: last tuple tests, the one before validates", async () => {
  const ds = await datasetFromText(LOG, "log.csv", { stateLength: 2, minCount: 1 });
  // s1 has 5 rows → actions at rows 2, 3, 4; s2 has 4 rows → actions at 7, 8.
  assertEquals([...ds.test], [4, 8]);
  assertEquals([...ds.validation], [3, 7]);
  assertEquals([...ds.train], [2]);
  const idx = batchIndices(ds, ds.test);
  // Test tuple of s1: state = rows 2, 3 (a/skip, a/purchase), action row 4 (b/skip). Time-major [N, B].
  const B = 2;
  assertEquals(ds.items[idx.items[0 * B + 0]!], "a");
  assertEquals(ds.labels[idx.feedback[0 * B + 0]!], "skip");
  assertEquals(ds.items[idx.items[1 * B + 0]!], "a");
  assertEquals(ds.labels[idx.feedback[1 * B + 0]!], "purchase");
  assertEquals(ds.items[idx.actions[0]!], "b");
  assertEquals(ds.labels[idx.labels[0]!], "skip");
  assertEquals(idx.mask, undefined);
  const noVal = await datasetFromText(LOG, "log.csv", {
    stateLength: 2,
    minCount: 1,
    validation: false,
  });
  assertEquals([...noVal.train], [2, 3, 7]);
});

Deno.test("datasetFromText() left-pads and masks states shorter than N when minStateLength < N", async () => {
  const ds = await datasetFromText(LOG, "log.csv", {
    stateLength: 3,
    minStateLength: 1,
    minCount: 1,
    validation: false,
  });
  // s1 actions at rows 1..4 (≥ 1 earlier pair), s2 at 6..8.
  assertEquals([...ds.train, ...ds.test].sort((a, b) => a - b), [1, 2, 3, 4, 6, 7, 8]);
  const idx = batchIndices(ds, Int32Array.of(1));
  assertEquals([...idx.mask!], [0, 0, 1]);
  assertEquals([...idx.items].slice(0, 2), [ds.items.length, ds.items.length]);
  assertEquals(ds.items[idx.items[2]!], "b");
});

Deno.test("datasetFromText() refuses a single label, no positive label and no surviving item", async () => {
  await assertRejects(
    () =>
      datasetFromText("session_id,item_id,feedback\nx,a,skip\nx,b,skip\n", "one.csv", {
        minCount: 1,
      }),
    UserError,
    "only one feedback label",
  );
  await assertRejects(
    () =>
      datasetFromText("session_id,item_id,feedback\nx,a,skip\nx,b,meh\n", "nopos.csv", {
        minCount: 1,
      }),
    UserError,
    "none of the labels",
  );
  await assertRejects(
    () =>
      datasetFromText("session_id,item_id,feedback\nx,a,skip\nx,b,click\n", "rare.csv", {
        minCount: 5,
      }),
    UserError,
    "--min-count",
  );
});

Deno.test("trainingRows() repeats positive tuples for --upsample", async () => {
  const ds = await datasetFromText(LOG, "log.csv", {
    stateLength: 1,
    minCount: 1,
    validation: false,
  });
  const pos = [...ds.train].filter((r) => ds.positive[ds.rowLabel[r]!]).length;
  const rows = trainingRows(ds, tinyConfig({ upsample: 3 }));
  assertEquals(rows.length, ds.train.length + 2 * pos);
  assert(pos > 0);
});

Deno.test("Column keeps values across chunk boundaries and copies them out exactly", () => {
  const n = Column.CHUNK * 2 + 5;
  const c = new Column(Int32Array);
  for (let i = 0; i < n; i++) c.push(i * 3 - 7);
  assertEquals(c.length, n);
  for (const i of [0, Column.CHUNK - 1, Column.CHUNK, 2 * Column.CHUNK, n - 1]) {
    assertEquals(c.at(i), i * 3 - 7);
  }
  const a = c.toArray();
  assert(a instanceof Int32Array);
  assertEquals(a.length, n);
  assert(a.every((v, i) => v === i * 3 - 7));
  const f = new Column(Float64Array);
  f.push(1.7e12 + 0.5);
  assertEquals(Array.from(f.toArray()), [1.7e12 + 0.5]);
  assertEquals(new Column(Int32Array).toArray().length, 0);
});

Deno.test("a log's fingerprint is the SHA-256 of its bytes (BOM included), hashed while reading", async () => {
  const sha256 = async (bytes: Uint8Array<ArrayBuffer>) =>
    Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
  for (const f of ["fixtures/good_bom_crlf.csv", "fixtures/good_small.csv"]) {
    const ds = await loadDataset(f, { stateLength: 2, minCount: 1 });
    const bytes = await Deno.readFile(f);
    assertEquals(ds.fingerprint, await sha256(bytes), f);
    const text = new TextDecoder().decode(bytes); // without the BOM
    const fromText = await datasetFromText(text, f, { stateLength: 2, minCount: 1 });
    assertEquals(fromText.rowItem, ds.rowItem);
    assertEquals(fromText.fingerprint, await sha256(new TextEncoder().encode(text)), f);
  }
});

Deno.test("datasetFromText() quotes labels in its errors escaped and clipped to one short line", async () => {
  // 20,000 distinct labels, none positive: the list of labels is clipped with a count.
  const rows = Array.from({ length: 20_000 }, (_, i) => `s,i,label_${i}`).join("\n");
  const e = await assertRejects(
    () => datasetFromText(`session_id,item_id,feedback\n${rows}\n`, "many.csv", { minCount: 1 }),
    UserError,
  );
  assert(e.message.length < 200, `${e.message.length} characters`);
  assert(/\("label_0", "label_1", .*, … \(\+19,9\d\d more labels\)\)/.test(e.message), e.message);
  // A control character in the only label is escaped.
  const one = await assertRejects(
    () =>
      datasetFromText("session_id,item_id,feedback\nx,a,sk\x01ip\n", "one.csv", { minCount: 1 }),
    UserError,
  );
  assert(one.message.includes('("sk\\u0001ip")'), one.message);
});

/** sha256 (hex) of everything a data set holds: arrays, vocabulary, labels, split and stats. */
async function datasetDigest(ds: Dataset): Promise<string> {
  const json = JSON.stringify({
    file: ds.file,
    fingerprint: ds.fingerprint,
    shape: [ds.stateLength, ds.minStateLength],
    items: ds.items,
    itemIndex: [...ds.itemIndex],
    labels: ds.labels,
    positive: ds.positive,
    sessionIds: ds.sessionIds,
    arrays: [
      ds.rowItem,
      ds.rowLabel,
      ds.rowSessionStart,
      ds.sessionOffsets,
      ds.train,
      ds.validation,
      ds.test,
    ].map((a) => Array.from(a)),
    // rareRows came later (0 here: rare rows are dropped by default); the digests predate it,
    // and the split's figures (split "last": test sessions = sessions with tuples).
    stats: {
      ...ds.stats,
      rareRows: undefined,
      split: undefined,
      testSessions: undefined,
      shortStateTestTuples: undefined,
    },
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(json));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A synthetic log with its rows shuffled (timestamps kept), so loading must reorder them. */
function shuffledLog(): string {
  const [header, ...rows] = synthText({
    seed: 3,
    sessions: 60,
    items: 80,
    categories: 8,
    minLength: 3,
    maxLength: 20,
  }).trimEnd().split("\n");
  const order = new Rng(5).shuffle(Int32Array.from(rows, (_, i) => i));
  return [header, ...Array.from(order, (i) => rows[i])].join("\n") + "\n";
}

async function goldenDigests(): Promise<Record<string, string>> {
  const text = shuffledLog();
  const filtered = await datasetFromText(text, "shuffled.csv", {
    stateLength: 4,
    minStateLength: 2,
    minCount: 3,
  });
  const whole = await datasetFromText(text, "shuffled.csv", {
    stateLength: 6,
    minCount: 1,
    validation: false,
    positive: ["purchase"],
  });
  const fixed = await datasetFromText(text, "shuffled.csv", {
    stateLength: 4,
    vocabulary: {
      items: filtered.items.slice(0, 30).reverse(),
      labels: [...filtered.labels].reverse(),
      positive: [...filtered.positive].reverse(),
    },
  });
  return {
    filtered: await datasetDigest(filtered),
    whole: await datasetDigest(whole),
    fixed: await datasetDigest(fixed),
  };
}

Deno.test("datasetFromText() builds the same data sets as before its phases were split", async () => {
  // Digests computed with the single-function buildDataset: same rows, order, split and stats.
  assertEquals(await goldenDigests(), {
    filtered: "e16cf71e6dc193de5dac368394832584a02dddff10bf5a78197dc0d1ca02205f",
    whole: "7f35a30eaa6a4f746293ad16721c7f9e3c30cc63bc1da5efbff3ca947d52d2aa",
    fixed: "68ee1a32f8ecb28e5d6d77afc3005ebee7800ed3f731b05f3c2d94d007b3d4f1",
  });
});
