/**
 * Item side features (`train --item-features FILE`): a CSV `item_id,<col>...` of item metadata
 * (category, brand, a price bucket ...). Every selected column is categorical: its distinct
 * string values, each one code (1..n, in sorted order); code 0 is "unknown" — an empty field,
 * an item of the vocabulary the file does not list, the padding row and the shared rare item.
 * Continuous values are the user's to bucket (e.g. price deciles) before they are given here.
 * @module
 */
import { parse } from "npm:csv-parse@5.6.0/sync";
import { createHash } from "node:crypto";
import { CheckpointError, DataFormatError, UserError } from "../errors.ts";

/** An item-feature file as read: its columns, their values and each listed item's codes. */
export interface ItemFeatureFile {
  /** The path as given. */
  file: string;
  /** sha256 of the file's bytes (the config records it; --resume compares it). */
  sha256: string;
  /** The selected columns, in the order used. */
  columns: string[];
  /** Per column its distinct values, sorted: value k has code k + 1 (0 = unknown). */
  values: string[][];
  /** Item id → its code in each column. */
  codes: Map<string, Int32Array>;
}

/** Item features aligned with a vocabulary of V items (what the model and checkpoint hold). */
export interface ItemFeatures {
  /** Column names. */
  columns: string[];
  /** Per column its values: value k has code k + 1. */
  values: string[][];
  /** Codes [V + 2, F] row-major: row i is item i's; rows V (padding) and V + 1 (rare) are 0. */
  codes: Int32Array;
}

/** Options of {@link readItemFeatures}. */
export interface ReadItemFeaturesOptions {
  /** The columns to use (`--item-feature-columns`). @default every column but item_id */
  columns?: readonly string[];
}

/** One parsed CSV record with the physical line it ends on. */
interface Record_ {
  record: string[];
  info: { lines: number };
}

/**
 * Reads an item-feature CSV (header `item_id,<col>...`).
 *
 * @example
 * ```ts
 * import { readItemFeatures } from "@recsimu/recsimu";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/items.csv`, "item_id,category\na,shoes\nb,hats\n");
 * const f = await readItemFeatures(`${dir}/items.csv`);
 * f.values; // [["hats", "shoes"]]
 * f.codes.get("a"); // Int32Array [2]
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @throws {DataFormatError} naming the file, line and column of a bad header, an unknown column,
 *   a row of the wrong width, an empty or duplicate item id.
 */
export async function readItemFeatures(
  file: string,
  opts: ReadItemFeaturesOptions = {},
): Promise<ItemFeatureFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new DataFormatError({ file }, (e as Error).message);
  }
  const at = (line: number | undefined, column: string | number | undefined, detail: string) =>
    new DataFormatError({ file, line, column }, detail);
  let records: Record_[];
  try {
    records = parse(new TextDecoder().decode(bytes), {
      bom: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
      info: true,
    }) as unknown as Record_[];
  } catch (e) {
    const line = (e as { lines?: number }).lines;
    throw at(line, undefined, (e as Error).message.split("\n")[0]!);
  }
  const head = records[0];
  if (!head) throw at(undefined, undefined, "the file is empty; expected a header item_id,...");
  const header = head.record, headLine = head.info.lines;
  const idCol = header.indexOf("item_id");
  if (idCol < 0) {
    throw at(headLine, "item_id", `no item_id column (header: ${header.join(",").slice(0, 80)})`);
  }
  for (const [k, name] of header.entries()) {
    if (header.indexOf(name) !== k) throw at(headLine, name, "duplicate column name");
  }
  const columns = opts.columns ? [...opts.columns] : header.filter((_, k) => k !== idCol);
  if (columns.length === 0) throw at(headLine, undefined, "no feature columns besides item_id");
  const index = columns.map((name) => {
    const k = header.indexOf(name);
    if (k < 0 || k === idCol) {
      throw at(
        headLine,
        name,
        `--item-feature-columns: unknown column; the file has ${
          header.filter((_, j) => j !== idCol).join(", ")
        }`,
      );
    }
    return k;
  });
  if (new Set(columns).size !== columns.length) {
    throw new UserError(`--item-feature-columns: a column is named twice (${columns.join(",")})`);
  }
  const raw = new Map<string, { line: number; fields: string[] }>();
  for (const { record, info } of records.slice(1)) {
    if (record.length !== header.length) {
      throw at(info.lines, undefined, `expected ${header.length} fields, found ${record.length}`);
    }
    const id = record[idCol]!;
    if (id === "") throw at(info.lines, "item_id", "empty item id");
    const first = raw.get(id);
    if (first) {
      throw at(info.lines, "item_id", `duplicate item id "${id}" (first on line ${first.line})`);
    }
    raw.set(id, { line: info.lines, fields: index.map((k) => record[k]!) });
  }
  const values = columns.map((_, j) => {
    const set = new Set<string>();
    for (const r of raw.values()) if (r.fields[j] !== "") set.add(r.fields[j]!);
    return [...set].sort();
  });
  const codeOf = values.map((vs) => new Map(vs.map((v, k) => [v, k + 1])));
  const codes = new Map<string, Int32Array>();
  for (const [id, r] of raw) {
    codes.set(id, Int32Array.from(r.fields, (v, j) => codeOf[j]!.get(v) ?? 0));
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { file, sha256, columns, values, codes };
}

/**
 * The file's codes aligned with the vocabulary `items` (V ids): [V + 2, F], items the file does
 * not list, the padding and the shared rare item all 0.
 */
export function alignItemFeatures(f: ItemFeatureFile, items: readonly string[]): ItemFeatures {
  const F = f.columns.length;
  const codes = new Int32Array((items.length + 2) * F);
  items.forEach((id, i) => {
    const c = f.codes.get(id);
    if (c) codes.set(c, i * F);
  });
  return { columns: [...f.columns], values: f.values.map((v) => [...v]), codes };
}

/** Rows of each column's feature table: its values + 1 (`ModelShape.itemFeatures`). */
export function itemFeatureSizes(f: ItemFeatures): number[] {
  return f.values.map((v) => v.length + 1);
}

/** How many of the first `items` rows have at least one known code. */
export function itemsWithFeatures(f: ItemFeatures, items: number): number {
  const F = f.columns.length;
  let n = 0;
  for (let i = 0; i < items; i++) {
    if (f.codes.subarray(i * F, (i + 1) * F).some((c) => c > 0)) n++;
  }
  return n;
}

/** item_features.json of a checkpoint. */
export function itemFeaturesJson(f: ItemFeatures): string {
  return JSON.stringify({ columns: f.columns, values: f.values, codes: [...f.codes] });
}

/**
 * Parses item_features.json of a checkpoint (`where`, for messages) for V = `items`.
 * @throws {CheckpointError} when it does not hold [V + 2, F] codes within each column's values.
 */
export function parseItemFeaturesJson(text: string, where: string, items: number): ItemFeatures {
  const bad = (what: string) => new CheckpointError(`"${where}": ${what}`);
  let j: { columns?: unknown; values?: unknown; codes?: unknown };
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === "string");
  if (!strings(j.columns) || (j.columns as string[]).length === 0) {
    throw bad("columns: expected a non-empty list of names");
  }
  const columns = j.columns as string[], F = columns.length;
  if (!Array.isArray(j.values) || j.values.length !== F || !j.values.every(strings)) {
    throw bad(`values: expected ${F} lists of strings`);
  }
  const values = j.values as string[][];
  if (!Array.isArray(j.codes) || j.codes.length !== (items + 2) * F) {
    throw bad(`codes: expected ${items + 2}×${F} integers`);
  }
  const list = j.codes as unknown[];
  list.forEach((x, k) => {
    const n = values[k % F]!.length;
    if (!(typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= n)) {
      throw bad(`codes[${k}]: expected an integer in [0, ${n}]`);
    }
  });
  const codes = Int32Array.from(list as number[]);
  return { columns, values, codes };
}
