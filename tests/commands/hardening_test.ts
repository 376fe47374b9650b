/**
 * Bad data files at the command line (issue 6, part 1): every malformed log makes
 * `recsimu train` exit 2 with one line on stderr that names the file, and the line and column
 * where there is one: never a stack trace, never a hang. Quirks that are valid CSV (BOM, CRLF,
 * quoted fields, extra columns, unsorted timestamps, a rare label, short sessions) are read
 * exactly like the clean log. The reader-level fuzz test is in `read_log_test.ts`.
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { ROOT, runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { type Dataset, loadDataset } from "../../lib/data/dataset.ts";

const fixture = (name: string) => `${ROOT}fixtures/${name}`;
const enc = new TextEncoder();

interface BadCase {
  /** What is wrong with the file. */
  name: string;
  /** The file: a fixture path, or contents written to a temporary file. */
  fixture?: string;
  text?: string | Uint8Array;
  /** Write the text, then extend the file with zero bytes (sparse) to this size. */
  sparseSize?: number;
  /** More train flags. */
  flags?: string[];
  /** Patterns stderr must match (line and column where they apply). */
  expect: RegExp[];
}

const H = "session_id,item_id,feedback";
/** Three sessions of 8 rows with two labels: valid, so each case changes one thing. */
function rows(opts: { label?: (i: number) => string; length?: number } = {}): string {
  const out: string[] = [H];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < (opts.length ?? 8); i++) {
      out.push(`s${s},i${(s * 3 + i) % 7},${opts.label?.(i) ?? (i % 3 === 0 ? "click" : "skip")}`);
    }
  }
  return out.join("\n") + "\n";
}

const GIB = 1 << 30;

const BAD: BadCase[] = [
  { name: "an empty file", fixture: "bad_empty.csv", expect: [/line 1: the file is empty/] },
  {
    name: "a file of blank lines",
    text: "\n  \n\r\n",
    expect: [/line 1: the file has only blank lines; expected a header row/],
  },
  {
    name: "a header without rows",
    fixture: "bad_header_only.csv",
    expect: [/line 2: no data rows/],
  },
  {
    name: "a missing column",
    text: "session_id,item_id\ns1,i1\n",
    expect: [/line 1: missing column "feedback"; expected a header session_id,item_id,feedback/],
  },
  {
    name: "a misspelt column",
    fixture: "bad_misspelt_column.csv",
    expect: [/line 1, column 1: missing column "session_id" \(did you mean "sesion_id"\?\)/],
  },
  {
    name: "a duplicate column",
    fixture: "bad_duplicate_column.csv",
    expect: [/line 1, column 4: duplicate column "item_id"/],
  },
  {
    name: "semicolons for commas",
    fixture: "bad_semicolon.csv",
    expect: [/line 1: expected comma-separated values, found a semicolon-separated header/],
  },
  {
    name: "tabs for commas",
    fixture: "bad_tab.csv",
    expect: [/line 1: expected comma-separated values, found a tab-separated header/],
  },
  {
    name: "a row with too few fields",
    fixture: "bad_too_few_fields.csv",
    expect: [/line 4, column 3: expected 3 fields/],
  },
  {
    name: "a row with too many fields",
    fixture: "bad_too_many_fields.csv",
    expect: [/line 3, column 4: expected 3 fields/],
  },
  {
    name: "an empty value",
    fixture: "bad_empty_value.csv",
    expect: [/line 4, column feedback: empty value; expected a feedback label/],
  },
  {
    name: "a quote never closed",
    fixture: "bad_unclosed_quote.csv",
    expect: [/line 3(, column \w+)?: a quoted value is never closed/],
  },
  {
    name: "invalid UTF-8",
    fixture: "bad_utf8.csv",
    expect: [/line 2, column item_id: invalid UTF-8 \(byte 0x\w\w\); expected UTF-8 text/],
  },
  {
    name: "UTF-16 text",
    text: new Uint8Array([0xff, 0xfe, ...[...enc.encode(H)].flatMap((b) => [b, 0])]),
    expect: [/line 1(, column \w+)?: invalid UTF-8 \(byte 0xff\)/],
  },
  {
    name: "a non-numeric timestamp",
    fixture: "bad_timestamp.csv",
    expect: [/line 3, column timestamp: expected an integer timestamp .*found "2023-11-14"/],
  },
  {
    name: "a fractional timestamp",
    text: `${H},timestamp\ns1,i1,click,10\ns1,i2,skip,10.5\n`,
    expect: [/line 3, column timestamp: expected an integer timestamp .*found "10\.5"/],
  },
  {
    name: "the header repeated (two files concatenated)",
    text: `${H}\ns1,i1,click\n${H}\ns1,i2,skip\n`,
    expect: [/line 3: the header row appears again/],
  },
  {
    name: "1 GiB on one line after the header",
    text: `${H}\n`,
    sparseSize: GIB,
    expect: [/line 2: record longer than 1 MiB/],
  },
  {
    name: "1 GiB without a single line break",
    text: "session_id,item_id,feedback",
    sparseSize: GIB,
    expect: [/line 1: record longer than 1 MiB/],
  },
  {
    name: "no item surviving --min-count",
    text: rows(),
    flags: ["--min-count", "1000"],
    expect: [/no item is seen at least --min-count=1000 times .*; lower --min-count/],
  },
  {
    name: "a single feedback class",
    text: rows({ label: () => "click" }),
    expect: [/only one feedback label \("click"\)/],
  },
  {
    name: "no positive label",
    text: rows({ label: (i) => (i % 2 ? "meh" : "ok") }),
    expect: [/none of the labels \("meh", "ok"\) is positive; name them with --positive/],
  },
  {
    name: "every session shorter than N + 1",
    text: rows({ length: 3 }),
    expect: [/no training tuples/, /--state-length/],
  },
  {
    name: "sessions too short to leave a training tuple",
    text: rows({ length: 2 }),
    expect: [/no training tuples/],
  },
];

/** Runs `recsimu train` on the case's file; returns stderr (the test fails unless exit 2). */
async function trainOn(dir: string, c: BadCase, i: number): Promise<string> {
  const path = c.fixture === undefined ? join(dir, `case ${i}.csv`) : fixture(c.fixture);
  if (c.fixture === undefined) {
    await Deno.writeFile(path, typeof c.text === "string" ? enc.encode(c.text) : c.text!);
    if (c.sparseSize !== undefined) await Deno.truncate(path, c.sparseSize);
  }
  const r = await runRecsimu(
    [
      "train",
      "--data",
      path,
      "--out",
      join(dir, `model${i}`),
      "--quiet",
      ...TINY_FLAGS,
      ...(c.flags ?? []),
    ],
    { timeoutMs: 60_000 },
  );
  const where = `${c.name}: exit ${r.code}\n${r.stderr}`;
  assertEquals(r.code, 2, where);
  assertEquals(r.stderr.trimEnd().split("\n").length, 1, `one line on stderr; ${where}`);
  assert(r.stderr.startsWith(`recsimu train: `), where);
  assert(r.stderr.includes(`"${path}"`), `the message names the file; ${where}`);
  assert(!/internal error|\n\s+at |Error:/.test(r.stderr), `no stack trace; ${where}`);
  assertEquals(r.stdout, "", where);
  for (const re of c.expect) assert(re.test(r.stderr), `${re} in ${where}`);
  return r.stderr;
}

Deno.test("recsimu train exits 2 with one line naming file, line and column for each bad log", async () => {
  await using tmp = await tempDir();
  // Two runs at a time: each is a short-lived process, the deadline catches a hang.
  const queue = BAD.map((c, i) => ({ c, i }));
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      await trainOn(tmp.path, job.c, job.i);
    }
  };
  await Promise.all([worker(), worker()]);
});

Deno.test("recsimu train names a file that does not exist or is a directory, exit 2", async () => {
  await using tmp = await tempDir();
  for (
    const [path, re] of [[join(tmp.path, "nope.csv"), /no such file/], [tmp.path, /directory/]]
  ) {
    const r = await runRecsimu(
      ["train", "--data", path as string, "--out", join(tmp.path, "m"), "--backend", "cpu"],
      { timeoutMs: 60_000 },
    );
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assert((re as RegExp).test(r.stderr) && r.stderr.includes(path as string), r.stderr);
  }
});

// --- valid quirks: read exactly like the clean log ------------------------------------------

const CLEAN = synthText({
  seed: 5,
  sessions: 40,
  items: 30,
  categories: 4,
  minLength: 8,
  maxLength: 14,
});
/** The clean log as [session, item, feedback, timestamp] rows. */
const ROWS = CLEAN.trim().split("\n").slice(1).map((l) => l.split(","));
const OPTS = { stateLength: 5, minCount: 2 };

/**
 * Everything in a data set but where it came from; rows hold item ids, since the vocabulary is
 * numbered in order of first appearance in the file.
 */
function structure(ds: Dataset) {
  const { file: _f, fingerprint: _p, itemIndex: _i, items, rowItem, ...rest } = ds;
  return { items: items.toSorted(), rowItem: Array.from(rowItem, (i) => items[i]!), ...rest };
}

async function load(dir: string, name: string, data: string | Uint8Array): Promise<Dataset> {
  const path = join(dir, name);
  await Deno.writeFile(path, typeof data === "string" ? enc.encode(data) : data);
  return await loadDataset(path, OPTS);
}

const csvQuote = (s: string) => /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;

Deno.test("a BOM, CRLF line ends, extra and reordered columns and quoted fields read like the clean log", async () => {
  await using tmp = await tempDir();
  const clean = structure(await load(tmp.path, "clean.csv", CLEAN));
  const bomCrlf = "\uFEFF" + CLEAN.replaceAll("\n", "\r\n");
  assertEquals(structure(await load(tmp.path, "bom.csv", bomCrlf)), clean);
  // Extra columns, in another order, one of them quoted with commas, quotes and line breaks.
  const note = (i: number) => csvQuote(`note ${i}, with "quotes",\nand a second line`);
  const extra = [
    "note,feedback,timestamp,item_id,extra,session_id",
    ...ROWS.map(([s, it, f, t], i) => `${note(i)},${f},${t},${it},${i},${s}`),
  ].join("\n") + "\n";
  assertEquals(structure(await load(tmp.path, "extra.csv", extra)), clean);
  // Item ids holding commas, quotes and line breaks survive quoting unchanged.
  const odd = (id: string) => `${id}, "the ${id}"\r\nsecond line`;
  const quoted = [
    "session_id,item_id,feedback,timestamp",
    ...ROWS.map(([s, it, f, t]) => `${s},${csvQuote(odd(it!))},${f},${t}`),
  ].join("\n") + "\n";
  const q = structure(await load(tmp.path, "quoted.csv", quoted));
  assertEquals(q.rowItem, clean.rowItem.map(odd));
  assertEquals({ ...q, items: clean.items, rowItem: clean.rowItem }, clean);
});

Deno.test("timestamps out of order are sorted within sessions; a label seen once and short sessions are kept apart", async () => {
  await using tmp = await tempDir();
  const clean = structure(await load(tmp.path, "clean.csv", CLEAN));
  // Each session's rows reversed: non-monotonic timestamps, same sessions in the same order.
  const bySession = Map.groupBy(ROWS, (r) => r[0]!);
  const reversed = [
    "session_id,item_id,feedback,timestamp",
    ...[...bySession.values()].flatMap((rs) => rs.toReversed().map((r) => r.join(","))),
  ].join("\n") + "\n";
  assertEquals(structure(await load(tmp.path, "reversed.csv", reversed)), clean);
  // A session shorter than N + 1 adds a session but no tuple.
  const short = CLEAN + ROWS.slice(0, 3).map(([_, it, f, t]) => `short,${it},${f},${t}`).join("\n");
  const s = await load(tmp.path, "short.csv", short + "\n");
  assertEquals(s.stats.sessions, clean.stats.sessions + 1);
  assertEquals(s.stats.sessionsWithTuples, clean.stats.sessionsWithTuples);
  assertEquals([s.train, s.validation, s.test], [clean.train, clean.validation, clean.test]);
  // A label seen once becomes its own (negative) class; the stats show its count of 1.
  const [s0, it0, , t0] = ROWS[3]!;
  const once = CLEAN.replace(ROWS[3]!.join(","), `${s0},${it0},clikc,${t0}`);
  const o = await load(tmp.path, "once.csv", once);
  assertEquals(o.labels, ["clikc", "skip", "click", "purchase"]);
  assertEquals(o.stats.labelCounts.clikc, 1);
  assertEquals(o.positive, [false, false, true, true]);
});

Deno.test("recsimu train trains on a log with every valid quirk at once, exit 0", async () => {
  await using tmp = await tempDir();
  const bySession = Map.groupBy(ROWS, (r) => r[0]!);
  const lines = [
    "note,feedback,timestamp,item_id,session_id",
    ...[...bySession.values()].flatMap((rs) =>
      rs.toReversed().map(([s, it, f, t], i) =>
        `${csvQuote(`n${i}, "x"\ny`)},${i === 0 && s === "s0" ? "clikc" : f},${t},${
          csvQuote(`${it}, q`)
        },${s}`
      )
    ),
    "n,click,1,i1,short",
    "n,skip,2,i2,short",
  ];
  const path = join(tmp.path, "quirks.csv");
  await Deno.writeTextFile(path, "\uFEFF" + lines.join("\r\n") + "\r\n");
  const r = await runRecsimu([
    "train",
    "--data",
    path,
    "--out",
    join(tmp.path, "model"),
    ...TINY_FLAGS,
    "--pre-g-epochs",
    "1",
    "--pre-d-epochs",
    "1",
    "--epochs",
    "1",
  ], { timeoutMs: 120_000 });
  assertEquals(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert(out.recsimu.n > 0 && Number.isFinite(out.recsimu.auc), r.stdout);
  assert(/labels clikc=1 /.test(r.stderr), r.stderr);
});
