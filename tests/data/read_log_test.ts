import assert from "node:assert/strict";
import {
  type LogRecord,
  readLog,
  readLogBytes,
  type ReadLogOptions,
  type ReadLogResult,
  readLogStream,
} from "../../lib/data/read_log.ts";
import { DataFormatError, quoteForMessage, UserError } from "../../lib/errors.ts";
import { Rng } from "../../lib/random.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;
const enc = new TextEncoder();

async function collect(
  read: (onRecord: (r: LogRecord) => void) => Promise<ReadLogResult>,
): Promise<{ result: ReadLogResult; records: LogRecord[] }> {
  const records: LogRecord[] = [];
  const result = await read((r) => records.push(r));
  return { result, records };
}

/** The DataFormatError a read rejects with; fails on success or on any other error. */
async function formatError(read: Promise<unknown>): Promise<DataFormatError> {
  try {
    await read;
  } catch (e) {
    if (e instanceof DataFormatError) return e;
    throw e;
  }
  assert.fail("expected a DataFormatError, but the read succeeded");
}

const bytesError = (data: string | Uint8Array, options?: ReadLogOptions) =>
  formatError(readLogBytes(data, "log.csv", () => {}, options));

const rec = (
  line: number,
  session: string,
  item: string,
  feedback: string,
  timestamp?: number,
): LogRecord => ({ session, item, feedback, timestamp, line });

/** A stream that hands out `bytes` in chunks of the given sizes (cycled). */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let pos = 0;
  let k = 0;
  return new ReadableStream({
    pull(controller) {
      if (pos >= bytes.length) return controller.close();
      const n = sizes[k++ % sizes.length]!;
      controller.enqueue(bytes.slice(pos, pos + n));
      pos += n;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Good files

Deno.test("readLog() reads a small log in file order, with timestamps and physical lines", async () => {
  const { result, records } = await collect((on) => readLog(fixture("good_small.csv"), on));
  assert.deepEqual(result, {
    header: { columns: ["session_id", "item_id", "feedback", "timestamp"], hasTimestamp: true },
    rows: 8,
  });
  assert.deepEqual(records.slice(0, 3), [
    rec(2, "s1", "i1", "click", 1700000000),
    rec(3, "s2", "i7", "skip", 1700000005),
    rec(4, "s1", "i2", "skip", 1700000010),
  ]);
  assert.deepEqual(records.at(-1), rec(9, "s2", "i4", "purchase", 1700000300));
});

Deno.test("readLog() strips a UTF-8 BOM and reads CRLF lines with reordered and extra columns", async () => {
  const { result, records } = await collect((on) => readLog(fixture("good_bom_crlf.csv"), on));
  assert.deepEqual(result.header, {
    columns: ["item_id", "note", "feedback", "session_id"],
    hasTimestamp: false,
  });
  assert.deepEqual(records, [
    rec(2, "u1", "i1", "pos"),
    rec(3, "u2", "i2", "neg"),
    rec(4, "u1", "i3", "pos"),
  ]);
});

Deno.test("readLog() reads quoted values with commas, quotes and line breaks, keeping start lines", async () => {
  const { result, records } = await collect((on) => readLog(fixture("good_quoted.csv"), on));
  assert.equal(result.rows, 4);
  assert.deepEqual(records, [
    rec(2, "s1", "Widget, large", "click"),
    rec(4, "s1", 'The "best" one', "skip"),
    rec(5, "s2", "multi\nline\nname", "purchase"),
    rec(10, "s2", "plain", "click"),
  ]);
});

Deno.test("readLogBytes() trims whitespace around values and skips blank lines", async () => {
  const text = "\n  session_id , item_id,\tfeedback \n\n   \n s1 ,\ti1\t, click \n\t\n s2,i2,skip";
  const { result, records } = await collect((on) => readLogBytes(text, "log.csv", on));
  assert.deepEqual(result.header.columns, ["session_id", "item_id", "feedback"]);
  assert.deepEqual(records, [rec(5, "s1", "i1", "click"), rec(7, "s2", "i2", "skip")]);
});

Deno.test("readLogBytes() counts CRLF, LF and lone CR line ends, also inside quotes", async () => {
  const text = 'session_id,item_id,feedback\r\ns1,"a\r\nb",click\ns2,"c\rd",skip\rs3,e,buy\r\n';
  const { records } = await collect((on) => readLogBytes(text, "log.csv", on));
  assert.deepEqual(records, [
    rec(2, "s1", "a\r\nb", "click"),
    rec(4, "s2", "c\rd", "skip"),
    rec(6, "s3", "e", "buy"),
  ]);
});

Deno.test("readLogBytes() accepts bytes and integer timestamps in seconds or milliseconds", async () => {
  const text =
    "timestamp,session_id,item_id,feedback\n1700000000,a,é,+\n1700000000123,a,日本,-\n-5,b,x,+";
  const { records } = await collect((on) => readLogBytes(enc.encode(text), "log.csv", on));
  assert.deepEqual(records, [
    rec(2, "a", "é", "+", 1700000000),
    rec(3, "a", "日本", "-", 1700000000123),
    rec(4, "b", "x", "+", -5),
  ]);
});

Deno.test("readLogStream() gives the same records whatever the chunk boundaries", async () => {
  for (const name of ["good_small.csv", "good_bom_crlf.csv", "good_quoted.csv"]) {
    const bytes = await Deno.readFile(fixture(name));
    const whole = await collect((on) => readLogBytes(bytes, name, on));
    for (const sizes of [[1], [2], [3, 1, 5], [7, 2]]) {
      const parts = await collect((on) => readLogStream(chunked(bytes, sizes), name, on));
      assert.deepEqual(parts, whole, `${name} in chunks of ${sizes}`);
    }
  }
});

Deno.test("readLog() passes an error thrown by onRecord through and stops reading", async () => {
  let calls = 0;
  await assert.rejects(
    readLog(fixture("good_small.csv"), () => {
      if (++calls === 2) throw new Error("stop here");
    }),
    { message: "stop here" },
  );
  assert.equal(calls, 2);
});

// ---------------------------------------------------------------------------------------------
// Files that cannot be read

Deno.test("readLog() names a missing file in a UserError", async () => {
  await assert.rejects(readLog(fixture("no_such_log.csv"), () => {}), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /^Cannot read ".*no_such_log\.csv": no such file$/);
    return true;
  });
});

Deno.test("readLog() rejects a directory with a UserError", async () => {
  await assert.rejects(readLog(new URL(".", FIXTURES).pathname, () => {}), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /: it is a directory; expected a CSV file$/);
    return true;
  });
});

Deno.test("readLog() rejects an empty file on line 1", async () => {
  const e = await formatError(readLog(fixture("bad_empty.csv"), () => {}));
  assert.match(
    e.message,
    /^Cannot read ".*bad_empty\.csv": line 1: the file is empty; expected a header row session_id,item_id,feedback\[,timestamp\]$/,
  );
  assert.deepEqual({ ...e.position, file: "" }, { file: "", line: 1, column: undefined });
});

Deno.test("readLogBytes() rejects a file of blank lines (or only a BOM) as having no header", async () => {
  let e = await bytesError("\n  \r\n\n");
  assert.equal(
    e.message,
    'Cannot read "log.csv": line 1: the file has only blank lines; expected a header row session_id,item_id,feedback[,timestamp]',
  );
  e = await bytesError(new Uint8Array([0xef, 0xbb, 0xbf]));
  assert.match(e.message, /^Cannot read "log.csv": line 1: the file is empty;/);
});

Deno.test("readLog() rejects a header without data rows, naming the line after it", async () => {
  const e = await formatError(readLog(fixture("bad_header_only.csv"), () => {}));
  assert.match(
    e.message,
    /bad_header_only\.csv": line 2: no data rows; expected at least one row after the header$/,
  );
});

Deno.test("readLog() rejects a misspelt column with a did-you-mean hint", async () => {
  const e = await formatError(readLog(fixture("bad_misspelt_column.csv"), () => {}));
  assert.match(
    e.message,
    /bad_misspelt_column\.csv": line 1, column 1: missing column "session_id" \(did you mean "sesion_id"\?\); expected a header session_id,item_id,feedback\[,timestamp\], found "sesion_id", "item_id", "feedback"$/,
  );
});

Deno.test("readLogBytes() lists missing columns, with a hint only where one is close", async () => {
  let e = await bytesError("user,item,feedback\nu,i,f\n");
  assert.equal(
    e.message,
    'Cannot read "log.csv": line 1, column 2: missing columns "session_id", "item_id" (did you mean "item"?); expected a header session_id,item_id,feedback[,timestamp], found "user", "item", "feedback"',
  );
  e = await bytesError("a,b\n1,2\n");
  assert.equal(
    e.message,
    'Cannot read "log.csv": line 1: missing columns "session_id", "item_id", "feedback"; expected a header session_id,item_id,feedback[,timestamp], found "a", "b"',
  );
  e = await bytesError("Session ID,item_id,feedback\n1,2,3\n");
  assert.match(
    e.message,
    /line 1, column 1: missing column "session_id" \(did you mean "Session ID"\?\)/,
  );
});

Deno.test("readLog() rejects a duplicate column name", async () => {
  const e = await formatError(readLog(fixture("bad_duplicate_column.csv"), () => {}));
  assert.match(
    e.message,
    /": line 1, column 4: duplicate column "item_id" \(also column 2\); expected each column name once$/,
  );
});

Deno.test("readLogBytes() rejects an empty column name", async () => {
  const e = await bytesError("session_id,item_id,feedback,\ns,i,f,\n");
  assert.equal(
    e.message,
    'Cannot read "log.csv": line 1, column 4: empty column name; expected a name for every column (is there a trailing comma?)',
  );
});

Deno.test("readLog() rejects semicolon- and tab-separated files as not comma-separated", async () => {
  for (const [name, sep] of [["bad_semicolon.csv", "semicolon"], ["bad_tab.csv", "tab"]]) {
    const e = await formatError(readLog(fixture(name!), () => {}));
    assert.match(
      e.message,
      new RegExp(`": line 1: expected comma-separated values, found a ${sep}-separated header`),
    );
  }
});

Deno.test("readLog() rejects a row with too few fields, naming its line and the expected count", async () => {
  const e = await formatError(readLog(fixture("bad_too_few_fields.csv"), () => {}));
  assert.match(
    e.message,
    /": line 4, column 3: expected 3 fields \("session_id", "item_id", "feedback"\), found 2$/,
  );
  assert.equal(e.position.line, 4);
  assert.equal(e.position.column, 3);
});

Deno.test("readLog() rejects a row with too many fields", async () => {
  const e = await formatError(readLog(fixture("bad_too_many_fields.csv"), () => {}));
  assert.match(
    e.message,
    /": line 3, column 4: expected 3 fields \("session_id", "item_id", "feedback"\), found 4$/,
  );
});

Deno.test("readLog() rejects an empty value, naming its column", async () => {
  const e = await formatError(readLog(fixture("bad_empty_value.csv"), () => {}));
  assert.match(e.message, /": line 4, column feedback: empty value; expected a feedback label$/);
  for (
    const [row, column, what] of [
      [",i,f", "session_id", "a session id"],
      ['s,"  ",f', "item_id", "an item id"],
    ]
  ) {
    const e2 = await bytesError(`session_id,item_id,feedback\ns,i,f\n${row}\n`);
    assert.equal(
      e2.message,
      `Cannot read "log.csv": line 3, column ${column}: empty value; expected ${what}`,
    );
  }
});

Deno.test("readLog() rejects invalid UTF-8, naming the line and column", async () => {
  const e = await formatError(readLog(fixture("bad_utf8.csv"), () => {}));
  assert.match(
    e.message,
    /bad_utf8\.csv": line 2, column item_id: invalid UTF-8 \(byte 0xe9\); expected UTF-8 text \(is the file in another encoding, such as Latin-1 or UTF-16\?\)$/,
  );
});

Deno.test("readLogBytes() rejects invalid UTF-8 in the header, in a quoted value and at the end", async () => {
  const b = (...parts: (string | number[])[]) =>
    Uint8Array.from(parts.flatMap((p) => typeof p === "string" ? [...enc.encode(p)] : p));
  let e = await bytesError(b([0xff, 0xfe], "session_id,item_id,feedback\n"));
  assert.match(e.message, /^Cannot read "log.csv": line 1, column 1: invalid UTF-8 \(byte 0xff\)/);
  e = await bytesError(b('session_id,item_id,feedback\ns,"a\nb', [0xed, 0xa0, 0x80], '",f\n'));
  assert.match(e.message, /: line 3, column item_id: invalid UTF-8 \(byte 0xed\)/);
  e = await bytesError(b("session_id,item_id,feedback\ns,i,f\n\ns,i,", [0xe2, 0x82]));
  assert.match(e.message, /: line 4, column feedback: invalid UTF-8 \(byte 0xe2\)/);
});

Deno.test("readLog() rejects a non-numeric timestamp, naming the line, column and value", async () => {
  const e = await formatError(readLog(fixture("bad_timestamp.csv"), () => {}));
  assert.match(
    e.message,
    /": line 3, column timestamp: expected an integer timestamp \(seconds or milliseconds\), found "2023-11-14"$/,
  );
  for (const value of ["1.5", "1e9", "0x10", "99999999999999999999"]) {
    const e2 = await bytesError(`session_id,item_id,feedback,timestamp\ns,i,f,${value}\n`);
    assert.equal(
      e2.message,
      `Cannot read "log.csv": line 2, column timestamp: expected an integer timestamp (seconds or milliseconds), found "${value}"`,
    );
  }
  const e3 = await bytesError("session_id,item_id,feedback,timestamp\ns,i,f,\n");
  assert.match(e3.message, /line 2, column timestamp: empty value; expected an integer timestamp/);
});

Deno.test("readLogBytes() keeps the error about a 100,000-column header to one short line", async () => {
  const extra = Array.from({ length: 99_997 }, (_, i) => `c${i}`); // ~690 KB, under 1 MiB
  // With the required columns: the first 3-field data row is the error.
  const header = ["session_id", "item_id", "feedback", ...extra].join(",");
  let e = await bytesError(`${header}\ns,i,f\n`);
  assert.ok(e.message.length < 300, `${e.message.length} characters: ${e.message.slice(0, 400)}`);
  assert.match(
    e.message,
    /^Cannot read "log.csv": line 2, column 4: expected 100000 fields \("session_id", "item_id", "feedback", "c0", .*, … \(\+99,9\d\d more columns\)\), found 3$/,
  );
  // Without them: the missing-column error quotes the header, clipped the same way.
  e = await bytesError(`${extra.join(",")}\ns,i,f\n`);
  assert.ok(e.message.length < 400, `${e.message.length} characters: ${e.message.slice(0, 500)}`);
  assert.match(e.message, /, found "c0", "c1", .*, … \(\+99,9\d\d more columns\)$/);
  assert.ok(!e.message.includes("\n"));
  // One huge column name is clipped inside its quotes.
  e = await bytesError(
    `session_id,item_id,feedback,feedback${"x".repeat(50_000)},feedback\ns,i,f,g,h\n`,
  );
  assert.ok(e.message.length < 300, `${e.message.length} characters`);
  assert.match(e.message, /duplicate column "feedback" \(also column 3\)/);
});

Deno.test("readLogBytes() escapes a NUL and other control characters of the header in its messages", async () => {
  let e = await bytesError("session\0id,item_id,feedback\ns,i,f\n");
  assert.ok(!/\p{Cc}/u.test(e.message), JSON.stringify(e.message));
  assert.equal(
    e.message,
    'Cannot read "log.csv": line 1, column 1: missing column "session_id" (did you mean "session\\u0000id"?); expected a header session_id,item_id,feedback[,timestamp], found "session\\u0000id", "item_id", "feedback"',
  );
  // A bidi override or an escape sequence cannot restyle the terminal either.
  e = await bytesError("user\x1b[31m,item_id,feedback\u202e\ns,i,f\n");
  assert.match(e.message, /found "user\\u001b\[31m", "item_id", "feedback\\u202e"$/);
  // A column name that would need escaping is named by its number in the position.
  e = await bytesError(`session_id,item_id,feedback,x\0y\ns,i,f,"a"b\n`);
  assert.equal(e.position.column, 4);
  assert.ok(!e.message.includes("\0"));
});

Deno.test("quoteForMessage() quotes, escapes and clips user text", () => {
  assert.equal(quoteForMessage("click"), '"click"');
  assert.equal(
    quoteForMessage('a"b\\c\nd\0e\x7f\u0085\u2028\u202e'),
    String.raw`"a\"b\\c\nd\u0000e\u007f\u0085\u2028\u202e"`,
  );
  assert.equal(quoteForMessage("a\ud800b"), String.raw`"a\ud800b"`); // a lone surrogate
  const long = quoteForMessage("y".repeat(1000));
  assert.equal(long, `"${"y".repeat(77)}…" (+923 more characters)`);
  assert.equal(long.indexOf(" ("), 80);
  // Escapes count as what they print, and are never cut in half.
  assert.equal(
    quoteForMessage("\0".repeat(10), 16),
    String.raw`"\u0000\u0000…" (+8 more characters)`,
  );
  // Surrogate pairs stay whole.
  assert.equal(quoteForMessage("😀".repeat(10), 9), '"😀😀😀…" (+7 more characters)');
  assert.equal(quoteForMessage(["a", "b"]), '"a", "b"');
  assert.equal(quoteForMessage(["a", "b", "c"], 8, "columns"), '"a", "b", … (+1 more column)');
  assert.equal(quoteForMessage(["a", "b", "c"], 3 + 5), quoteForMessage(["a", "b", "c"], 8));
  assert.match(
    quoteForMessage(["z".repeat(500), "b"], 20, "labels"),
    /^"z{17}…", … \(\+1 more label\)$/,
  );
  assert.throws(() => quoteForMessage("x", 2), RangeError);
});

Deno.test("readLog() rejects a quote that is never closed, naming the line where its record starts", async () => {
  const e = await formatError(readLog(fixture("bad_unclosed_quote.csv"), () => {}));
  assert.match(
    e.message,
    /": line 3, column item_id: a quoted value is never closed; expected a closing quote before the end of the file$/,
  );
});

Deno.test("readLogBytes() rejects stray quotes inside and after values", async () => {
  let e = await bytesError('session_id,item_id,feedback\ns,i,f\ns,ab"c,f\n');
  assert.match(
    e.message,
    /^Cannot read "log.csv": line 3, column item_id: unexpected quote inside an unquoted value;/,
  );
  e = await bytesError('session_id,item_id,feedback\ns,"a"b,f\n');
  assert.match(
    e.message,
    /^Cannot read "log.csv": line 2, column item_id: unexpected character after a closing quote;/,
  );
  // Whitespace after a closing quote is fine (it is trimmed).
  const { records } = await collect((on) =>
    readLogBytes('session_id,item_id,feedback\ns, "a b" ,f\n', "x", on)
  );
  assert.deepEqual(records, [rec(2, "s", "a b", "f")]);
});

Deno.test("readLogBytes() rejects the header row repeated in the data", async () => {
  const e = await bytesError(
    "session_id,item_id,feedback\ns,i,f\nsession_id,item_id,feedback\ns,i,f\n",
  );
  assert.equal(
    e.message,
    'Cannot read "log.csv": line 3: the header row appears again; expected data rows (were two files concatenated?)',
  );
});

Deno.test("readLogBytes() rejects a record longer than maxRecordBytes", async () => {
  const ok = "session_id,item_id,feedback\ns,i,f\n";
  const long = `s,${"x".repeat(100)},f\n`;
  await readLogBytes(ok + long, "log.csv", () => {}, { maxRecordBytes: 105 });
  const e = await bytesError(ok + long, { maxRecordBytes: 104 });
  assert.match(
    e.message,
    /^Cannot read "log.csv": line 3: record longer than 104 bytes; expected one record per line/,
  );
  await assert.rejects(readLogBytes(ok, "log.csv", () => {}, { maxRecordBytes: 0 }), RangeError);
});

Deno.test("readLogBytes() fails fast on a 50 MB line without line breaks", async () => {
  const header = enc.encode("session_id,item_id,feedback\n");
  for (const fill of ["x", ",", '"']) {
    const data = new Uint8Array(header.length + 50_000_000).fill(fill.charCodeAt(0));
    data.set(header);
    let read = 0;
    const e = await bytesError(data, { onChunk: (b) => void (read += b.length) });
    assert.match(e.message, /^Cannot read "log.csv": line 2: record longer than 1 MiB;/);
    // It gives up within a few chunks of the 1 MiB limit instead of scanning all 50 MB.
    assert.ok(read <= 4 * 2 ** 20, `read ${read} of ${data.length} bytes`);
  }
});

Deno.test("readLog() fails fast on a 50 MB file without line breaks, reading only its start", async () => {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    const f = await Deno.open(path, { write: true });
    const block = new Uint8Array(1 << 20).fill(0x61);
    for (let i = 0; i < 50; i++) await f.write(block);
    f.close();
    let read = 0;
    const e = await formatError(
      readLog(path, () => {}, { onChunk: (b) => void (read += b.length) }),
    );
    assert.match(e.message, /": line 1: record longer than 1 MiB; expected one record per line/);
    assert.ok(read <= 4 * 2 ** 20, `read ${read} of ${50 * 2 ** 20} bytes`);
  } finally {
    await Deno.remove(path);
  }
});

// ---------------------------------------------------------------------------------------------
// Property test: random mutations of a valid log

interface Built {
  bytes: Uint8Array;
  /** Per record (0 = header): byte range [start, end) incl. blank lines before and its line end. */
  ranges: { start: number; text: number; end: number }[];
  /** Per record: expected values (undefined for the header). */
  values: (Omit<LogRecord, "line"> | undefined)[];
  hasTimestamp: boolean;
}

const ITEMS = ["i1", "i2", "café", "日本語", "Widget, large", 'The "best"', "two\nlines", "x y"];
const FEEDBACK = ["click", "skip", "purchase"];

function csvField(rng: Rng, value: string): string {
  if (/[",\r\n]/.test(value) || (value !== "" && rng.int(10) === 0)) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return rng.int(8) === 0 ? ` ${value}\t` : value;
}

function buildLog(rng: Rng): Built {
  const eol = rng.int(2) === 0 ? "\n" : "\r\n";
  const hasTimestamp = rng.int(2) === 0;
  const columns = ["session_id", "item_id", "feedback"];
  if (hasTimestamp) columns.push("timestamp");
  if (rng.int(2) === 0) columns.push("note");
  rng.shuffle(columns);
  const texts = [columns.join(",")];
  const values: Built["values"] = [undefined];
  const rows = 15 + rng.int(20);
  for (let k = 0; k < rows; k++) {
    const v = {
      session: `s${rng.int(6)}`,
      item: ITEMS[rng.int(ITEMS.length)]!,
      feedback: FEEDBACK[rng.int(FEEDBACK.length)]!,
      timestamp: hasTimestamp ? 1700000000 + 7 * k : undefined,
    };
    const fields: Record<string, string> = {
      session_id: v.session,
      item_id: v.item,
      feedback: v.feedback,
      timestamp: String(v.timestamp),
      note: ["", "n", "a, b"][rng.int(3)]!,
    };
    texts.push(columns.map((c) => csvField(rng, fields[c]!)).join(","));
    values.push(v);
  }
  const parts: Uint8Array[] = [];
  const ranges: Built["ranges"] = [];
  let pos = 0;
  if (rng.int(4) === 0) {
    parts.push(Uint8Array.of(0xef, 0xbb, 0xbf));
    pos = 3;
  }
  for (const [k, text] of texts.entries()) {
    const start = pos;
    const blank = k > 0 && rng.int(8) === 0 ? (rng.int(2) ? eol : ` ${eol}`) : "";
    const b = enc.encode(blank);
    const t = enc.encode(text + eol);
    parts.push(b, t);
    pos += b.length + t.length;
    ranges.push({ start, text: start + b.length, end: pos });
  }
  const bytes = new Uint8Array(pos);
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.length;
  }
  return { bytes, ranges, values, hasTimestamp };
}

/** Line of the byte at `offset`: 1 + line breaks before it (CRLF, LF or lone CR). */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 13 || (bytes[i] === 10 && bytes[i - 1] !== 13)) line++;
  }
  return line;
}

interface Mutation {
  bytes: Uint8Array;
  /** Records that may be broken. */
  touched: Set<number>;
  /** New offset of the text of every untouched record. */
  textAt: Map<number, number>;
}

const INSERTS = [...'az09 ,"\n\r;\té'].map((c) => [...enc.encode(c)]);
const INVALID = [[0xff], [0x80], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf5, 0x80]];

function mutate(rng: Rng, log: Built): Mutation {
  const { bytes, ranges } = log;
  const n = bytes.length;
  const recordAt = (p: number) => {
    const r = ranges.findIndex((x) => p < x.end);
    return r < 0 ? ranges.length - 1 : r;
  };
  const splice = (p: number, del: number, ins: number[]): Mutation => {
    const out = new Uint8Array(n - del + ins.length);
    out.set(bytes.subarray(0, p));
    out.set(ins, p);
    out.set(bytes.subarray(p + del), p + ins.length);
    const r = recordAt(p);
    const touched = new Set([r, r + 1]);
    const textAt = new Map<number, number>();
    for (const [k, x] of ranges.entries()) {
      if (touched.has(k)) continue;
      textAt.set(k, k < r ? x.text : x.text - del + ins.length);
    }
    return { bytes: out, touched, textAt };
  };
  const p = rng.int(n);
  switch (rng.int(8)) {
    case 0:
      return splice(p, 1, []);
    case 1:
      return splice(rng.int(n + 1), 0, INSERTS[rng.int(INSERTS.length)]!);
    case 2:
      return splice(p, 0, [bytes[p]!]);
    case 3:
      return splice(rng.int(n + 1), 0, [0x22]);
    case 4:
      return splice(rng.int(n + 1), 0, [0x2c]);
    case 5:
      return splice(rng.int(n + 1), 0, INVALID[rng.int(INVALID.length)]!);
    case 6: {
      // Truncate: the record cut and every one after it are touched.
      const r = recordAt(p);
      const touched = new Set(ranges.keys().filter((k) => k >= r));
      const textAt = new Map(ranges.entries().filter(([k]) => k < r).map(([k, x]) => [k, x.text]));
      return { bytes: bytes.slice(0, p), touched, textAt };
    }
    default: {
      // Swap two data records (their text, not the blank lines before them).
      const i = 1 + rng.int(ranges.length - 1);
      const j = 1 + rng.int(ranges.length - 1);
      const slices = ranges.map((
        x,
      ) => [bytes.subarray(x.start, x.text), bytes.subarray(x.text, x.end)]);
      const order = ranges.map((_, k) => (k === i ? j : k === j ? i : k));
      const out = new Uint8Array(n);
      const textAt = new Map<number, number>();
      let off = 0;
      for (const [k, from] of order.entries()) {
        out.set(slices[k]![0]!, off);
        off += slices[k]![0]!.length;
        if (from !== i && from !== j) textAt.set(from, off);
        out.set(slices[from]![1]!, off);
        off += slices[from]![1]!.length;
      }
      return { bytes: out, touched: new Set([i, j]), textAt };
    }
  }
}

type Outcome = { records: LogRecord[]; result?: ReadLogResult; error?: DataFormatError };

async function outcome(
  read: (on: (r: LogRecord) => void) => Promise<ReadLogResult>,
): Promise<Outcome> {
  const records: LogRecord[] = [];
  try {
    const result = await read((r) => records.push(r));
    return { records, result };
  } catch (e) {
    if (e instanceof DataFormatError) return { records, error: e };
    throw e;
  }
}

Deno.test("readLogBytes() survives random mutations: only DataFormatErrors, untouched rows intact", async () => {
  const rng = new Rng("read_log fuzz");
  let failures = 0;
  for (let iter = 0; iter < 400; iter++) {
    const log = buildLog(rng);
    const m = mutate(rng, log);
    const got = await outcome((on) => readLogBytes(m.bytes, "fuzz.csv", on));
    const context = () =>
      `iteration ${iter}: ${JSON.stringify(new TextDecoder().decode(m.bytes))}\n` +
      `error: ${got.error?.message}`;

    // The same outcome whatever the chunking.
    const sizes = Array.from({ length: 5 }, () => 1 + rng.int(9));
    const streamed = await outcome((on) => readLogStream(chunked(m.bytes, sizes), "fuzz.csv", on));
    assert.deepEqual(streamed.records, got.records, context());
    assert.equal(streamed.error?.message, got.error?.message, context());

    if (got.error) {
      failures++;
      assert.match(
        got.error.message,
        /^Cannot read "fuzz\.csv": (line \d+(, column [^:]+)?: )?\w/,
        context(),
      );
      assert.ok(!/undefined|NaN|\[object/.test(got.error.message), context());
      const line = got.error.position.line ?? 1;
      assert.ok(line >= 1 && line <= lineAt(m.bytes, m.bytes.length) + 1, context());
    }
    // Bad bytes never slip through as U+FFFD (the valid logs have none).
    if (got.result) {
      assert.ok(
        !got.records.some((r) => (r.session + r.item + r.feedback).includes("\uFFFD")),
        context(),
      );
    }
    // Untouched rows come through unchanged, on their (possibly shifted) lines: all of them on
    // success; on error, those before the first touched record.
    const firstTouched = Math.min(...m.touched);
    const byLine = new Map(got.records.map((r) => [r.line, r]));
    for (const [k, at] of m.textAt) {
      const value = log.values[k];
      if (value === undefined || (got.error && k > firstTouched)) continue;
      const expected = { ...value, line: lineAt(m.bytes, at) };
      if (m.touched.has(0) && got.result && !got.result.header.hasTimestamp) {
        expected.timestamp = undefined; // the mutation renamed the timestamp column
      }
      assert.deepEqual(byLine.get(expected.line), expected, context());
    }
  }
  // Sanity: the mutations hit both outcomes.
  assert.ok(failures > 100 && failures < 380, `${failures} of 400 mutated logs failed`);
});
