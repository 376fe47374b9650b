import assert from "node:assert/strict";
import { join } from "node:path";
import {
  SYNTH_DEFAULTS,
  synthCatalogue,
  type SynthOptions,
  type SynthRow,
  synthRows,
  writeSynthLog,
} from "../../lib/data/synth.ts";
import { run } from "../../lib/commands/synth.ts";
import { UserError } from "../../lib/errors.ts";

const SMALL: SynthOptions = { ...SYNTH_DEFAULTS, sessions: 200 };
/** The default-size log, generated once and shared by the statistical tests. */
const DEFAULT_ROWS: SynthRow[] = [...synthRows(SYNTH_DEFAULTS)];

const isPositive = (r: SynthRow) => r.feedback !== "skip";
const itemNumber = (r: SynthRow) => Number(r.item.slice(1));

function rate(rows: Iterable<SynthRow>): { n: number; rate: number } {
  let n = 0;
  let p = 0;
  for (const r of rows) {
    n++;
    if (isPositive(r)) p++;
  }
  return { n, rate: n === 0 ? NaN : p / n };
}

const fileTest = { permissions: { read: true, write: true } } as const;

Deno.test({
  name: "writeSynthLog() writes byte-identical files for a seed and different ones for another",
  ...fileTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const a = join(dir, "a.csv");
      const b = join(dir, "b.csv");
      const c = join(dir, "c.csv");
      await writeSynthLog(a, SMALL);
      await writeSynthLog(b, SMALL);
      await writeSynthLog(c, { ...SMALL, seed: 1 });
      const [ba, bb, bc] = await Promise.all([a, b, c].map((p) => Deno.readFile(p)));
      assert.deepEqual(ba, bb);
      assert.notDeepEqual(ba, bc);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "writeSynthLog() writes the canonical header and one line per row, and counts them",
  ...fileTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "nested", "log.csv");
      const result = await writeSynthLog(path, SMALL);
      const lines = (await Deno.readTextFile(path)).split("\n");
      assert.equal(lines[0], "session_id,item_id,feedback,timestamp");
      assert.equal(lines.at(-1), "");
      assert.equal(lines.length - 2, result.rows);
      assert.equal(result.sessions, SMALL.sessions);
      const rows = [...synthRows(SMALL)];
      assert.equal(result.rows, rows.length);
      assert.equal(result.positiveRate, rate(rows).rate);
      const r = rows[7]!;
      assert.equal(lines[8], `${r.session},${r.item},${r.feedback},${r.timestamp}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("synthRows() gives 25–40% positive feedback, purchases a minority of positives", () => {
  const all = rate(DEFAULT_ROWS).rate;
  assert.ok(all >= 0.25 && all <= 0.4, `positive rate ${all}`);
  const purchases = DEFAULT_ROWS.filter((r) => r.feedback === "purchase").length;
  const clicks = DEFAULT_ROWS.filter((r) => r.feedback === "click").length;
  assert.ok(purchases > 0.05 * (purchases + clicks), `purchases ${purchases}`);
  assert.ok(purchases < 0.5 * (purchases + clicks), `purchases ${purchases}`);
});

Deno.test("synthRows() orders each session by strictly increasing timestamp, contiguously", () => {
  const seen = new Set<string>();
  let current = "";
  let last = -Infinity;
  let length = 0;
  const checkLength = () => {
    if (current === "") return;
    assert.ok(length >= SYNTH_DEFAULTS.minLength && length <= SYNTH_DEFAULTS.maxLength, current);
  };
  for (const r of DEFAULT_ROWS) {
    assert.ok(Number.isInteger(r.timestamp));
    if (r.session !== current) {
      checkLength();
      assert.ok(!seen.has(r.session), `session ${r.session} is split`);
      seen.add(r.session);
      current = r.session;
      length = 0;
    } else {
      assert.ok(r.timestamp > last, `${r.session}: ${r.timestamp} after ${last}`);
    }
    last = r.timestamp;
    length++;
  }
  checkLength();
  assert.equal(seen.size, SYNTH_DEFAULTS.sessions);
});

Deno.test("synthRows() uses item ids i0 … i{V-1} and shows most of a small catalogue", () => {
  const shown = new Set<number>();
  for (const r of DEFAULT_ROWS) {
    assert.match(r.item, /^i(0|[1-9][0-9]*)$/);
    const v = itemNumber(r);
    assert.ok(v < SYNTH_DEFAULTS.items, r.item);
    shown.add(v);
  }
  assert.ok(shown.size > 0.8 * SYNTH_DEFAULTS.items, `${shown.size} items shown`);
});

Deno.test("synthRows() makes a longer run extend a shorter one", () => {
  const short = [...synthRows({ ...SMALL, sessions: 30 })];
  assert.deepEqual(DEFAULT_ROWS.slice(0, short.length), short);
});

Deno.test("synthRows() rejects options out of range with a RangeError", () => {
  const bad: Partial<SynthOptions>[] = [
    { items: 0 },
    { items: 10, categories: 11 },
    { minLength: 0 },
    { minLength: 10, maxLength: 9 },
    { sessions: 1.5 },
    { seed: NaN },
  ];
  for (const b of bad) {
    assert.throws(() => [...synthRows({ ...SMALL, ...b })], RangeError, JSON.stringify(b));
  }
});

Deno.test("synthRows() feedback depends on the session state (last click's category, fatigue)", () => {
  const { category } = synthCatalogue(SYNTH_DEFAULTS);
  const sameAsClick: SynthRow[] = [];
  const otherThanClick: SynthRow[] = [];
  // Within the last positive's category (so interest is comparable): short vs long runs.
  const shortRun: SynthRow[] = [];
  const longRun: SynthRow[] = [];
  let session = "";
  let clickCategory = -1;
  let previous = -1;
  let run = 0;
  for (const r of DEFAULT_ROWS) {
    if (r.session !== session) [session, clickCategory, previous, run] = [r.session, -1, -1, 0];
    const c = category[itemNumber(r)]!;
    if (clickCategory >= 0) (c === clickCategory ? sameAsClick : otherThanClick).push(r);
    if (c === clickCategory) {
      const before = c === previous ? run : 0;
      if (before <= 1) shortRun.push(r);
      else if (before >= 3) longRun.push(r);
    }
    run = c === previous ? run + 1 : 1;
    previous = c;
    if (isPositive(r)) clickCategory = c;
  }
  const all = rate(DEFAULT_ROWS).rate;
  const same = rate(sameAsClick);
  const other = rate(otherThanClick);
  assert.ok(same.n > 5000 && other.n > 5000);
  assert.ok(same.rate > all + 0.05, `same category ${same.rate} vs all ${all}`);
  assert.ok(same.rate > other.rate + 0.05, `same ${same.rate} vs other ${other.rate}`);
  const s = rate(shortRun);
  const l = rate(longRun);
  assert.ok(l.n > 2000, `${l.n} rows after long runs`);
  assert.ok(l.rate < s.rate - 0.08, `after a long run ${l.rate} vs a short one ${s.rate}`);
});

Deno.test("synthRows() per-item positive rates vary beyond sampling noise", () => {
  const shows = new Map<number, [number, number]>();
  for (const r of DEFAULT_ROWS) {
    const s = shows.get(itemNumber(r)) ?? [0, 0];
    s[0]++;
    if (isPositive(r)) s[1]++;
    shows.set(itemNumber(r), s);
  }
  // Between-item variance of the rate vs the variance binomial noise alone would give.
  const frequent = [...shows.values()].filter(([n]) => n >= 100);
  assert.ok(frequent.length >= 50, `${frequent.length} frequent items`);
  const rates = frequent.map(([n, p]) => p / n);
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const variance = rates.reduce((a, b) => a + (b - mean) ** 2, 0) / (rates.length - 1);
  const noise = frequent.reduce((a, [n]) => a + mean * (1 - mean) / n, 0) / frequent.length;
  assert.ok(variance > 3 * noise, `variance ${variance} vs noise ${noise}`);
});

Deno.test({
  name: "recsimu synth writes log.csv and synth.json and rejects bad flags",
  ...fileTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await run(["--out", dir, "--sessions", "20", "--seed", "3", "--items", "50"]);
      const meta = JSON.parse(await Deno.readTextFile(join(dir, "synth.json")));
      assert.equal(meta.seed, 3);
      assert.equal(meta.options.items, 50);
      assert.equal(meta.sessions, 20);
      assert.equal(typeof meta.version, "number");
      const csv = await Deno.readTextFile(join(dir, "log.csv"));
      assert.equal(csv.split("\n").length - 2, meta.rows);
      assert.ok(meta.positiveRate > 0 && meta.positiveRate < 1);
      for (
        const argv of [
          [],
          ["--out", dir, "--sessions", "0"],
          ["--out", dir, "--items", "abc"],
          ["--out", dir, "--items", "5", "--categories", "6"],
          ["--out", dir, "--min-length", "9", "--max-length", "8"],
          ["--out", dir, "--unknown"],
        ]
      ) {
        await assert.rejects(run(argv), UserError, argv.join(" "));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
