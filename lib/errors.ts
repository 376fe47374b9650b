/**
 * Error types that callers catch. Everything a user can cause (bad flags, bad files, bad
 * checkpoints) is a {@link UserError}; `main.ts` maps it to exit code 2 with a one-line
 * message. Anything else is a bug and exits 1.
 * @module
 */

/** A problem caused by the user's input (flags, files, requests), not by a bug. */
export class UserError extends Error {
  override name = "UserError";
}

/** Where in a text file a problem was found. Lines and columns are 1-based. */
export interface FilePosition {
  /** Path of the file as given by the user. */
  file: string;
  /** 1-based line number (physical line of the record's start). */
  line?: number;
  /** Column name or 1-based index. */
  column?: string | number;
}

/**
 * A data file that does not follow its documented format.
 *
 * @example
 * ```ts
 * const e = new DataFormatError({ file: "log.csv", line: 17, column: "feedback" }, "empty value");
 * e.message; // 'Cannot read "log.csv": line 17, column feedback: empty value'
 * ```
 */
export class DataFormatError extends UserError {
  override name = "DataFormatError";
  /** Where the problem is. */
  readonly position: FilePosition;
  constructor(position: FilePosition, detail: string) {
    const where = [
      position.line !== undefined ? `line ${position.line}` : undefined,
      position.column !== undefined ? `column ${position.column}` : undefined,
    ].filter((x) => x !== undefined).join(", ");
    super(`Cannot read "${position.file}": ${where ? where + ": " : ""}${detail}`);
    this.position = position;
  }
}

/** A checkpoint directory that is missing, corrupted or from an incompatible version. */
export class CheckpointError extends UserError {
  override name = "CheckpointError";
}

/** Training diverged (NaN or Inf in a loss). */
export class DivergenceError extends UserError {
  override name = "DivergenceError";
}

/**
 * Quotes user text (a field, a header, a label) for an error or warning message, so that one
 * bad input cannot make a message huge or unreadable: the text is quoted JSON-style, control
 * characters, line separators and bidi controls are escaped (`\u0000`, `\n`, `\u202e`), and
 * what is longer than `max` characters is clipped with `…` and a count of what was left out.
 *
 * A list (a header's column names, a set of labels) is quoted item by item, joined with `", "`
 * and clipped between items (the first item is always shown, itself clipped to `max`).
 *
 * @example
 * ```ts
 * import { quoteForMessage } from "./errors.ts";
 * quoteForMessage("session\u0000id"); // '"session\\u0000id"'
 * quoteForMessage("x".repeat(100), 10); // '"xxxxxxx…" (+93 more characters)'
 * quoteForMessage(["a", "b", "c"], 8, "columns"); // '"a", "b", … (+1 more column)'
 * ```
 *
 * @param text the user's text, or a list of names.
 * @param max longest quoted text shown, quotes and separators included (the count comes after).
 *   @default {80}
 * @param unit what is counted when clipped, in the plural (the singular drops a final "s").
 *   @default {"characters" for a string, "items" for a list}
 * @returns the quoted, escaped and clipped text.
 * @throws {RangeError} when `max` is not an integer >= 4.
 */
export function quoteForMessage(
  text: string | readonly string[],
  max = 80,
  unit?: string,
): string {
  if (!Number.isInteger(max) || max < 4) {
    throw new RangeError(`max must be an integer >= 4, got ${max}`);
  }
  // Escaped: control characters, line/paragraph separators, bidi controls, BOM, lone surrogates.
  const unsafe = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
  const short: Record<string, string> = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
  };
  const escape = (ch: string) =>
    short[ch] ??
      (unsafe.test(ch) ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}` : ch);
  // One string quoted, at most `max` characters with its quotes; `left`: code points not shown.
  const quoteOne = (s: string): { quoted: string; left: number } => {
    const shown: string[] = [];
    let length = 2;
    for (const ch of s) { // by code point; a lone surrogate comes alone
      const e = escape(ch);
      if (length + e.length <= max) {
        shown.push(e);
        length += e.length;
        continue;
      }
      while (length + 1 > max) length -= shown.pop()!.length; // room for the "…"
      let total = 0;
      for (const _ of s) total++;
      return { quoted: `"${shown.join("")}…"`, left: total - shown.length };
    }
    return { quoted: `"${shown.join("")}"`, left: 0 };
  };
  const more = (n: number, plural: string) =>
    ` (+${n.toLocaleString("en-US")} more ${n === 1 ? plural.replace(/s$/, "") : plural})`;
  if (typeof text === "string") {
    const { quoted, left } = quoteOne(text);
    return left > 0 ? quoted + more(left, unit ?? "characters") : quoted;
  }
  let out = "";
  let count = 0;
  for (const item of text) {
    const { quoted } = quoteOne(item);
    if (count > 0 && out.length + 2 + quoted.length > max) break;
    out += (count > 0 ? ", " : "") + quoted;
    count++;
  }
  const left = text.length - count;
  return left > 0 ? `${out}, …${more(left, unit ?? "items")}` : out;
}
