/**
 * Streaming reader for interaction logs: CSV with the header
 * `session_id,item_id,feedback[,timestamp]` (the format is described in README.md, "Bring your
 * own log").
 *
 * The file is read chunk by chunk and parsed by `csv-parse`, so a multi-gigabyte log is never
 * held in memory; a record longer than {@link ReadLogOptions.maxRecordBytes} (a file without
 * line breaks, a runaway quote) fails fast. Every problem with the file is reported as a
 * {@link DataFormatError} that names the physical line (and the column, where there is one).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Parser } from "npm:csv-parse@5.6.0";
import { DataFormatError, quoteForMessage, UserError } from "../errors.ts";

/** One interaction: a row of the log. */
export interface LogRecord {
  /** Value of `session_id`, trimmed, never empty. */
  session: string;
  /** Value of `item_id`, trimmed, never empty. */
  item: string;
  /** Value of `feedback`, trimmed, never empty. */
  feedback: string;
  /** Value of `timestamp` (integer seconds or milliseconds); `undefined` without that column. */
  timestamp: number | undefined;
  /** 1-based physical line where the record starts. */
  line: number;
}

/** The header row of a log. */
export interface LogHeader {
  /** Column names in file order, trimmed (extra columns included). */
  columns: string[];
  /** Whether the file has a `timestamp` column. */
  hasTimestamp: boolean;
}

/** Options for {@link readLog}, {@link readLogBytes} and {@link readLogStream}. */
export interface ReadLogOptions {
  /** Called with every chunk of raw input bytes, in order (e.g. to hash the file in the same pass). */
  onChunk?: (bytes: Uint8Array) => void;
  /**
   * Longest record (one CSV row, quoted line breaks included) accepted, in bytes. Longer ones
   * are an error: usually a file without line breaks or a quote that is never closed.
   * @default {1048576} (1 MiB)
   */
  maxRecordBytes?: number;
}

/** What a read returns once every record has been passed to `onRecord`. */
export interface ReadLogResult {
  /** The header row. */
  header: LogHeader;
  /** Number of data rows passed to `onRecord`. */
  rows: number;
}

const REQUIRED = ["session_id", "item_id", "feedback"] as const;
const TIMESTAMP = "timestamp";
const EXPECTED_HEADER = "session_id,item_id,feedback[,timestamp]";
const DEFAULT_MAX_RECORD_BYTES = 1 << 20;
const CHUNK_BYTES = 1 << 16;

/**
 * Reads the log at `path`, calling `onRecord` for every data row in file order.
 *
 * @example
 * ```ts
 * import { readLog } from "./read_log.ts";
 * const rows: string[] = [];
 * const { header } = await readLog("fixtures/good_small.csv", (r) => rows.push(r.item));
 * header.hasTimestamp; // true
 * ```
 *
 * @param path file to read.
 * @param onRecord called once per data row, in file order.
 * @param options limits.
 * @returns the header and the number of rows read.
 * @throws {UserError} when the file cannot be opened (missing, a directory, no permission).
 * @throws {DataFormatError} when the file does not follow the log format.
 */
export async function readLog(
  path: string,
  onRecord: (r: LogRecord) => void,
  options?: ReadLogOptions,
): Promise<ReadLogResult> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw openError(path, e);
  }
  let stream: ReadableStream<Uint8Array>;
  try {
    if ((await file.stat()).isDirectory) {
      throw new UserError(`Cannot read "${path}": it is a directory; expected a CSV file`);
    }
    stream = file.readable;
  } catch (e) {
    file.close();
    throw e;
  }
  // Cancelling (on error) or finishing the stream closes the file.
  return await readLogStream(stream, path, onRecord, options);
}

/**
 * Reads a log held in memory (tests, small inputs). Same parser and errors as {@link readLog}.
 *
 * @example
 * ```ts
 * import { readLogBytes } from "./read_log.ts";
 * const { rows } = await readLogBytes("session_id,item_id,feedback\ns1,i1,click\n", "x.csv", () => {});
 * rows; // 1
 * ```
 *
 * @param data the CSV text, or its UTF-8 bytes.
 * @param file name used in error messages.
 * @param onRecord called once per data row, in file order.
 * @param options limits.
 * @returns the header and the number of rows read.
 * @throws {DataFormatError} when the data does not follow the log format.
 */
export function readLogBytes(
  data: string | Uint8Array,
  file: string,
  onRecord: (r: LogRecord) => void,
  options?: ReadLogOptions,
): Promise<ReadLogResult> {
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const parser = new LogParser(file, onRecord, options ?? {});
    for (let i = 0; i < bytes.length; i += CHUNK_BYTES) {
      const chunk = bytes.subarray(i, i + CHUNK_BYTES);
      options?.onChunk?.(chunk);
      parser.push(chunk);
    }
    return Promise.resolve(parser.end());
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Reads a log from a byte stream (for example `Deno.stdin.readable`). Same parser and errors as
 * {@link readLog}; on error the stream is cancelled.
 *
 * @example
 * ```ts
 * import { readLogStream } from "./read_log.ts";
 * const body = new Blob(["session_id,item_id,feedback\ns1,i1,click\n"]).stream();
 * const { rows } = await readLogStream(body, "<stdin>", () => {});
 * rows; // 1
 * ```
 *
 * @param stream the CSV bytes.
 * @param file name used in error messages.
 * @param onRecord called once per data row, in file order.
 * @param options limits.
 * @returns the header and the number of rows read.
 * @throws {DataFormatError} when the data does not follow the log format.
 */
export async function readLogStream(
  stream: ReadableStream<Uint8Array>,
  file: string,
  onRecord: (r: LogRecord) => void,
  options?: ReadLogOptions,
): Promise<ReadLogResult> {
  const parser = new LogParser(file, onRecord, options ?? {});
  const reader = stream.getReader();
  let finished = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      options?.onChunk?.(value);
      parser.push(value);
    }
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return parser.end();
}

function openError(path: string, e: unknown): unknown {
  if (e instanceof Deno.errors.NotFound) {
    return new UserError(`Cannot read "${path}": no such file`);
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new UserError(`Cannot read "${path}": permission denied`);
  }
  return e;
}

/** The low-level, synchronous half of csv-parse's `Parser` (its `api` property, v5). */
interface CsvApi {
  parse(
    buf: Buffer | undefined,
    end: boolean,
    push: (record: string[]) => void,
    close: () => void,
  ): Error | undefined;
  /** `bytes`: stream offset just past the record being pushed (its line break included). */
  readonly info: { bytes: number };
  /** `bufBytesStart`: after a call, the offset up to which input has been consumed. */
  readonly state: { bufBytesStart: number };
}

/** The header resolved to column indices. */
interface Columns {
  names: string[];
  session: number;
  item: number;
  feedback: number;
  timestamp: number | undefined;
}

/**
 * The parser proper: push chunks, then `end()`. Synchronous, so records found in a chunk are
 * delivered before any error further on is thrown.
 *
 * Next to csv-parse it runs a byte scanner over the same input that counts physical lines
 * (`\n`, `\r\n` or a lone `\r`), finds the line where each record starts (its first non-blank
 * byte; blank lines before it are skipped), and validates UTF-8 (csv-parse would silently
 * replace bad bytes with U+FFFD).
 */
class LogParser {
  readonly #file: string;
  readonly #onRecord: (r: LogRecord) => void;
  readonly #maxRecordBytes: number;
  readonly #api: CsvApi;
  /** Records pushed by csv-parse during the current call, with their end offsets. */
  readonly #pending: { fields: string[]; end: number }[] = [];
  /** Input chunks not yet fully scanned, with their stream offsets. */
  #chunks: { data: Uint8Array; start: number }[] = [];
  /** Bytes given to csv-parse so far (after the BOM). */
  #fed = 0;
  /** Start of the input, held until it is known whether it begins with a BOM. */
  #head: Uint8Array | undefined = new Uint8Array(0);
  #final = false;

  // Scanner state: everything before #scanned has been scanned.
  #scanned = 0;
  #breaks = 0;
  #prevCR = false;
  /** No non-blank byte since the end of the last record. */
  #inPrefix = true;
  #startLine = 1;
  #startOffset = 0;
  #u8need = 0;
  #u8lower = 0x80;
  #u8upper = 0xbf;
  #u8lead = 0;
  #u8leadOffset = 0;
  #u8leadLine = 1;
  /** First invalid UTF-8 sequence; reported with the record that contains it. */
  #bad: { offset: number; line: number; byte: number } | undefined;

  #columns: Columns | undefined;
  #headerLine = 0;
  #rows = 0;

  constructor(file: string, onRecord: (r: LogRecord) => void, options: ReadLogOptions) {
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxRecordBytes must be a positive integer, got ${max}`);
    }
    this.#file = file;
    this.#onRecord = onRecord;
    this.#maxRecordBytes = max;
    const parser = new Parser({
      bom: false, // stripped here, so that offsets and encoding stay ours
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true, // field counts are checked here, with better messages
      max_record_size: max,
      record_delimiter: ["\r\n", "\n", "\r"], // mixed line ends are fine
    });
    // csv-parse 5 exposes its synchronous core as `api`; the stream wrappers around it would
    // buffer records and drop those already parsed when a later one fails.
    this.#api = (parser as unknown as { api: CsvApi }).api;
  }

  /** Parses the next chunk of input. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#head !== undefined) {
      const head = concat(this.#head, chunk);
      if (head.length < 3) {
        this.#head = head;
        return;
      }
      this.#head = undefined;
      chunk = isBom(head) ? head.subarray(3) : head;
    }
    this.#feed(chunk);
  }

  /** Parses what is left and checks that the log had a header and data rows. */
  end(): ReadLogResult {
    if (this.#head !== undefined) {
      const head = this.#head;
      this.#head = undefined;
      if (head.length > 0) this.#feed(head);
    }
    this.#final = true;
    this.#feed(undefined);
    if (this.#bad !== undefined) throw this.#utf8Error(this.#bad, undefined);
    if (this.#columns === undefined) {
      const what = this.#fed === 0 ? "the file is empty" : "the file has only blank lines";
      throw this.#error(1, undefined, `${what}; expected a header row ${EXPECTED_HEADER}`);
    }
    if (this.#rows === 0) {
      throw this.#error(
        this.#headerLine + 1,
        undefined,
        "no data rows; expected at least one row after the header",
      );
    }
    return {
      header: {
        columns: [...this.#columns.names],
        hasTimestamp: this.#columns.timestamp !== undefined,
      },
      rows: this.#rows,
    };
  }

  #feed(chunk: Uint8Array | undefined): void {
    let buf: Buffer | undefined;
    if (chunk !== undefined) {
      this.#chunks.push({ data: chunk, start: this.#fed });
      this.#fed += chunk.length;
      buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    const pending = this.#pending;
    const err = this.#api.parse(
      buf,
      chunk === undefined,
      (fields) => pending.push({ fields, end: this.#api.info.bytes }),
      () => {},
    );
    try {
      for (const { fields, end } of pending) this.#record(fields, end);
    } finally {
      pending.length = 0;
    }
    if (err !== undefined) throw this.#parseError(err);
    this.#scanTo(chunk === undefined ? this.#fed : this.#api.state.bufBytesStart);
    if (!this.#inPrefix && this.#scanned - this.#startOffset > this.#maxRecordBytes) {
      throw this.#tooLong();
    }
    const chunks = this.#chunks;
    let drop = 0;
    while (
      drop < chunks.length && chunks[drop]!.start + chunks[drop]!.data.length <= this.#scanned
    ) {
      drop++;
    }
    if (drop > 0) this.#chunks = chunks.slice(drop);
  }

  /** Handles one record whose bytes (line break included) end at stream offset `end`. */
  #record(fields: string[], end: number): void {
    this.#scanTo(end);
    const line = this.#inPrefix ? this.#breaks + 1 : this.#startLine;
    if (this.#bad !== undefined) throw this.#utf8Error(this.#bad, fields);
    if (!this.#inPrefix && end - this.#startOffset > this.#maxRecordBytes) {
      throw this.#tooLong();
    }
    this.#inPrefix = true;
    const cols = this.#columns;
    if (cols === undefined) {
      this.#columns = this.#header(fields, line);
      this.#headerLine = line;
      return;
    }
    if (fields.length !== cols.names.length) {
      const n = cols.names.length;
      throw this.#error(
        line,
        Math.min(fields.length, n) + 1,
        `expected ${n} fields (${
          quoteForMessage(cols.names, 80, "columns")
        }), found ${fields.length}`,
      );
    }
    if (fields.every((f, i) => f === cols.names[i])) {
      throw this.#error(
        line,
        undefined,
        "the header row appears again; expected data rows (were two files concatenated?)",
      );
    }
    const session = this.#value(fields, cols.session, line, "a session id");
    const item = this.#value(fields, cols.item, line, "an item id");
    const feedback = this.#value(fields, cols.feedback, line, "a feedback label");
    let timestamp: number | undefined;
    if (cols.timestamp !== undefined) {
      const text = this.#value(
        fields,
        cols.timestamp,
        line,
        "an integer timestamp (seconds or milliseconds)",
      );
      timestamp = /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(timestamp)) {
        throw this.#error(
          line,
          TIMESTAMP,
          `expected an integer timestamp (seconds or milliseconds), found ${quoteForMessage(text)}`,
        );
      }
    }
    this.#rows++;
    this.#onRecord({ session, item, feedback, timestamp, line });
  }

  #value(fields: string[], index: number, line: number, expected: string): string {
    const value = fields[index]!.trim();
    if (value === "") {
      throw this.#error(line, this.#columns!.names[index], `empty value; expected ${expected}`);
    }
    return value;
  }

  /** Checks the header row and finds the columns. */
  #header(fields: string[], line: number): Columns {
    const names = fields.map((f) => f.trim());
    const seen = new Map<string, number>();
    for (const [i, name] of names.entries()) {
      if (name === "") {
        if (names.length === 1) break; // reported as missing columns below
        throw this.#error(
          line,
          i + 1,
          "empty column name; expected a name for every column (is there a trailing comma?)",
        );
      }
      const first = seen.get(name);
      if (first !== undefined) {
        throw this.#error(
          line,
          i + 1,
          `duplicate column ${quoteForMessage(name)} (also column ${first + 1}); ` +
            "expected each column name once",
        );
      }
      seen.set(name, i);
    }
    const missing = REQUIRED.filter((r) => !seen.has(r));
    if (missing.length > 0) {
      const other = names.find((n) => /[;\t|]/.test(n));
      if (other !== undefined) {
        const sep = other.includes(";") ? "semicolon" : other.includes("\t") ? "tab" : "pipe";
        throw this.#error(
          line,
          undefined,
          `expected comma-separated values, found a ${sep}-separated header ` +
            `(${quoteForMessage(names, 80, "columns")}); expected ${EXPECTED_HEADER}`,
        );
      }
      const spare = names.filter((n) => n !== "" && !REQUIRED.some((r) => r === n));
      let hint = "";
      let column: number | undefined;
      for (const m of missing) {
        const guess = closest(m, spare);
        if (guess !== undefined) {
          hint = ` (did you mean ${quoteForMessage(guess)}?)`;
          column = names.indexOf(guess) + 1;
          break;
        }
      }
      const list = missing.map((m) => quoteForMessage(m)).join(", ");
      throw this.#error(
        line,
        column,
        `missing column${missing.length > 1 ? "s" : ""} ${list}${hint}; ` +
          `expected a header ${EXPECTED_HEADER}, found ${quoteForMessage(names, 80, "columns")}`,
      );
    }
    const timestamp = seen.get(TIMESTAMP);
    return {
      names,
      session: seen.get("session_id")!,
      item: seen.get("item_id")!,
      feedback: seen.get("feedback")!,
      timestamp,
    };
  }

  /** Turns a csv-parse error into a DataFormatError on the line where the bad record starts. */
  #parseError(err: Error): Error {
    // Scan the rest of the input to find the start of the record csv-parse choked on.
    this.#scanTo(this.#fed);
    const line = this.#inPrefix ? this.#breaks + 1 : this.#startLine;
    const { code, column, bytes } = err as Error & {
      code?: unknown;
      column?: unknown;
      bytes?: unknown;
    };
    // Bad bytes before the point csv-parse reached (the end of its last complete field) come
    // first; further ones are ignored, whatever the chunking.
    if (this.#bad !== undefined && typeof bytes === "number" && this.#bad.offset < bytes) {
      return this.#utf8Error(this.#bad, undefined);
    }
    const col = typeof column === "number" ? this.#columnName(column) : undefined;
    switch (code) {
      case "CSV_MAX_RECORD_SIZE":
        return this.#tooLong();
      case "INVALID_OPENING_QUOTE":
        return this.#error(
          line,
          col,
          "unexpected quote inside an unquoted value; expected the whole value in quotes, " +
            'with quotes inside doubled ("a ""b"" c")',
        );
      case "CSV_INVALID_CLOSING_QUOTE":
      case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
        return this.#error(
          line,
          col,
          "unexpected character after a closing quote; expected a comma or a line break " +
            '(write a quote inside a quoted value as "")',
        );
      case "CSV_QUOTE_NOT_CLOSED":
        return this.#error(
          line,
          col,
          "a quoted value is never closed; expected a closing quote before the end of the file",
        );
      default:
        return this.#error(line, col, `not valid CSV (${err.message})`);
    }
  }

  #tooLong(): DataFormatError {
    const line = this.#inPrefix ? this.#breaks + 1 : this.#startLine;
    const max = this.#maxRecordBytes;
    const size = max % (1 << 20) === 0 ? `${max / (1 << 20)} MiB` : `${max} bytes`;
    return this.#error(
      line,
      undefined,
      `record longer than ${size}; expected one record per line ` +
        "(is the file missing line breaks, or a quote never closed? see maxRecordBytes)",
    );
  }

  #utf8Error(bad: { line: number; byte: number }, fields: string[] | undefined): Error {
    const index = fields?.findIndex((f) => f.includes("\uFFFD")) ?? -1;
    const column = index >= 0 ? this.#columnName(index) : undefined;
    return this.#error(
      bad.line,
      column,
      `invalid UTF-8 (byte 0x${bad.byte.toString(16).padStart(2, "0")}); ` +
        "expected UTF-8 text (is the file in another encoding, such as Latin-1 or UTF-16?)",
    );
  }

  /**
   * Column name for a 0-based field index, or its 1-based number before/beyond the header and
   * for a name that would need escaping or clipping in a message (the position prints it raw).
   */
  #columnName(index: number): string | number {
    const name = this.#columns?.names[index];
    return name !== undefined && quoteForMessage(name) === `"${name}"` ? name : index + 1;
  }

  #error(line: number, column: string | number | undefined, detail: string): DataFormatError {
    return new DataFormatError({ file: this.#file, line, column }, detail);
  }

  /**
   * Scans input up to stream offset `target`: counts line breaks, notes where the next record
   * starts, and validates UTF-8.
   */
  #scanTo(target: number): void {
    let breaks = this.#breaks;
    let prevCR = this.#prevCR;
    let inPrefix = this.#inPrefix;
    let need = this.#u8need;
    let lower = this.#u8lower;
    let upper = this.#u8upper;
    for (const { data, start } of this.#chunks) {
      const end = start + data.length;
      if (end <= this.#scanned) continue;
      if (start >= target) break;
      const from = this.#scanned - start;
      const to = Math.min(data.length, target - start);
      for (let i = from; i < to; i++) {
        const b = data[i]!;
        if (b < 0x80) {
          if (need !== 0) {
            this.#invalid(this.#u8lead, this.#u8leadOffset, this.#u8leadLine);
            need = 0;
          }
          if (b === 10) {
            if (!prevCR) breaks++;
            prevCR = false;
          } else if (b === 13) {
            breaks++;
            prevCR = true;
          } else {
            prevCR = false;
            if (inPrefix && b !== 32 && b !== 9 && b !== 12) {
              inPrefix = false;
              this.#startLine = breaks + 1;
              this.#startOffset = start + i;
            }
          }
          continue;
        }
        prevCR = false;
        if (inPrefix) {
          inPrefix = false;
          this.#startLine = breaks + 1;
          this.#startOffset = start + i;
        }
        if (need === 0) {
          this.#u8lead = b;
          this.#u8leadOffset = start + i;
          this.#u8leadLine = breaks + 1;
          lower = 0x80;
          upper = 0xbf;
          if (b >= 0xc2 && b <= 0xdf) need = 1;
          else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b === 0xe0) lower = 0xa0;
            else if (b === 0xed) upper = 0x9f;
          } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b === 0xf0) lower = 0x90;
            else if (b === 0xf4) upper = 0x8f;
          } else this.#invalid(b, start + i, breaks + 1);
        } else if (b < lower || b > upper) {
          this.#invalid(this.#u8lead, this.#u8leadOffset, this.#u8leadLine);
          need = 0;
        } else {
          need--;
          lower = 0x80;
          upper = 0xbf;
        }
      }
      this.#scanned = start + to;
    }
    if (this.#final && need !== 0 && this.#scanned === this.#fed) {
      this.#invalid(this.#u8lead, this.#u8leadOffset, this.#u8leadLine); // truncated at the end of the file
      need = 0;
    }
    this.#breaks = breaks;
    this.#prevCR = prevCR;
    this.#inPrefix = inPrefix;
    this.#u8need = need;
    this.#u8lower = lower;
    this.#u8upper = upper;
  }

  #invalid(byte: number, offset: number, line: number): void {
    this.#bad ??= { offset, line, byte };
  }
}

function isBom(b: Uint8Array): boolean {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The name in `candidates` that looks like a misspelling of `wanted`, if any. */
function closest(wanted: string, candidates: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  const w = norm(wanted);
  let best: string | undefined;
  let bestDistance = 3; // accept at most 2 edits
  for (const c of candidates) {
    const d = levenshtein(w, norm(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}
