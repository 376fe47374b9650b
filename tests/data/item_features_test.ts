import { assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import {
  alignItemFeatures,
  itemFeaturesJson,
  itemsWithFeatures,
  parseItemFeaturesJson,
  readItemFeatures,
} from "../../lib/data/item_features.ts";
import { CheckpointError, DataFormatError, UserError } from "../../lib/errors.ts";
import { tempDir } from "../_helpers.ts";

const GOOD = "item_id,category,price\n\na,shoes,cheap\nb,hats,dear\nc,shoes,\n";

Deno.test("readItemFeatures() codes each column's sorted values 1..n, empty fields 0", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/items.csv`;
  await Deno.writeTextFile(file, GOOD);
  const f = await readItemFeatures(file);
  assertEquals(f.columns, ["category", "price"]);
  assertEquals(f.values, [["hats", "shoes"], ["cheap", "dear"]]);
  assertEquals([...f.codes.get("a")!], [2, 1]);
  assertEquals([...f.codes.get("b")!], [1, 2]);
  assertEquals([...f.codes.get("c")!], [2, 0]);
  assertEquals(f.sha256.length, 64);
  const only = await readItemFeatures(file, { columns: ["price"] });
  assertEquals([only.columns, [...only.codes.get("b")!]], [["price"], [2]]);
});

Deno.test("alignItemFeatures() follows the vocabulary; unlisted, padding and rare items are 0", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/items.csv`;
  await Deno.writeTextFile(file, GOOD);
  const f = alignItemFeatures(await readItemFeatures(file), ["b", "z", "a"]);
  // Rows: b, z (unlisted), a, padding, rare.
  assertEquals([...f.codes], [1, 2, 0, 0, 2, 1, 0, 0, 0, 0]);
  assertEquals(itemsWithFeatures(f, 3), 2);
  const back = parseItemFeaturesJson(itemFeaturesJson(f), "item_features.json", 3);
  assertEquals([back.columns, back.values, [...back.codes]], [f.columns, f.values, [...f.codes]]);
  assertThrows(
    () => parseItemFeaturesJson(itemFeaturesJson(f), "x.json", 4),
    CheckpointError,
    "codes: expected 6×2",
  );
  const bad = JSON.stringify({ columns: ["c"], values: [["v"]], codes: [0, 2, 0] });
  assertThrows(() => parseItemFeaturesJson(bad, "x.json", 1), CheckpointError, "codes[1]");
});

Deno.test("readItemFeatures() refuses bad files in one line naming the line and field", async () => {
  await using dir = await tempDir();
  const cases: [string, string[] | undefined, string][] = [
    ["id,category\na,x\n", undefined, 'items.csv": line 1, column item_id: no item_id column'],
    [
      "item_id,category\na,x\n",
      ["brand"],
      "line 1, column brand: --item-feature-columns: unknown column; the file has category",
    ],
    [
      "item_id,category\na,x\n\nb,y\na,z\n",
      undefined,
      'line 5, column item_id: duplicate item id "a" (first on line 2)',
    ],
    ["item_id,category\na,x,y\n", undefined, "line 2: expected 2 fields, found 3"],
    ["item_id,category\n,x\n", undefined, "line 2, column item_id: empty item id"],
    ["item_id\na\n", undefined, "no feature columns"],
    ["", undefined, "the file is empty"],
  ];
  for (const [text, columns, msg] of cases) {
    const file = `${dir.path}/items.csv`;
    await Deno.writeTextFile(file, text);
    const e = await assertRejects(() => readItemFeatures(file, { columns }), DataFormatError, msg);
    assertEquals(e.message.includes("\n"), false);
  }
  await Deno.writeTextFile(`${dir.path}/items.csv`, GOOD);
  await assertRejects(
    () => readItemFeatures(`${dir.path}/items.csv`, { columns: ["price", "price"] }),
    UserError,
    "named twice",
  );
});
