/**
 * Item embeddings from a user's CSV: `item_id,v1,…,vE` (a header row is optional and detected
 * by a non-numeric second field). Vectors outside (-1, 1) are squashed like item2vec's
 * (tanh(v / (2 std))); NaN / Inf are refused.
 * @module
 */
import { parse } from "npm:csv-parse@5.6.0/sync";
import { DataFormatError } from "../errors.ts";

/** Reads embeddings for `items` (in that order) from `path`; every item must be present. */
export async function loadEmbeddingsCsv(
  path: string,
  items: readonly string[],
  dim: number,
): Promise<Float32Array> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new DataFormatError({ file: path }, (e as Error).message);
  }
  let rows: string[][];
  try {
    rows = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true });
  } catch (e) {
    throw new DataFormatError({ file: path }, (e as Error).message);
  }
  const index = new Map(items.map((id, i) => [id, i]));
  const out = new Float32Array(items.length * dim);
  const seen = new Uint8Array(items.length);
  let start = 0;
  if (rows[0] && rows[0].length > 1 && !Number.isFinite(Number(rows[0][1]))) start = 1;
  let maxAbs = 0;
  for (let r = start; r < rows.length; r++) {
    const row = rows[r]!;
    const line = r + 1;
    if (row.length !== dim + 1) {
      throw new DataFormatError(
        { file: path, line },
        `expected ${dim + 1} fields (item_id and ${dim} values), found ${row.length}`,
      );
    }
    const i = index.get(row[0]!);
    if (i === undefined) continue;
    for (let j = 0; j < dim; j++) {
      const x = Number(row[j + 1]);
      // Math.fround: a value beyond float32 (|x| > 3.4e38) would become Inf in the Float32Array.
      if (row[j + 1] === "" || !Number.isFinite(Math.fround(x))) {
        throw new DataFormatError(
          { file: path, line, column: j + 2 },
          `expected a finite number (float32), found "${row[j + 1]}"`,
        );
      }
      out[i * dim + j] = x;
      maxAbs = Math.max(maxAbs, Math.abs(x));
    }
    seen[i] = 1;
  }
  const missing = items.filter((_, i) => !seen[i]);
  if (missing.length) {
    throw new DataFormatError(
      { file: path },
      `${missing.length} of the log's ${items.length} items have no embedding (e.g. ${
        missing.slice(0, 3).join(", ")
      })`,
    );
  }
  if (maxAbs >= 1) {
    let s = 0, s2 = 0;
    for (const x of out) {
      s += x;
      s2 += x * x;
    }
    const mean = s / out.length;
    const std = Math.sqrt(Math.max(s2 / out.length - mean * mean, 0));
    for (let k = 0; k < out.length; k++) out[k] = Math.tanh(out[k]! / (2 * std + 1e-12));
  }
  return out;
}
