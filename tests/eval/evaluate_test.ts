import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import {
  itemBaselines,
  metricsFromProbs,
  MIN_TEST_TUPLES,
  testSetWarnings,
} from "../../lib/eval/evaluate.ts";
import { auc } from "../../lib/eval/metrics.ts";
import { metricsTable } from "../../lib/eval/table.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { NO_EPOCHS, runRecsimu, TINY_FLAGS } from "../_cli.ts";

/** One session of `rows` interactions over 6 items, every third one a click. */
function oneSessionLog(rows = 12): string {
  const lines = ["session_id,item_id,feedback,timestamp"];
  for (let t = 0; t < rows; t++) lines.push(`s1,i${t % 6},${t % 3 === 0 ? "click" : "skip"},${t}`);
  return lines.join("\n") + "\n";
}

Deno.test("itemBaselines() gives popularity its AUC only, never item_rate's other metrics", async () => {
  const ds = await datasetFromText(
    synthText({ seed: 4, sessions: 120, items: 30, categories: 4, minLength: 8, maxLength: 14 }),
    "synth.csv",
    { stateLength: 5, minCount: 1 },
  );
  const b = itemBaselines(ds);
  assertEquals(Object.keys(b.popularity).sort(), ["auc", "n", "positiveRate"]);
  assertEquals(b.popularity.n, ds.test.length);
  assertEquals(b.popularity.positiveRate, b.item_rate.positiveRate);
  // The AUC of ranking the test tuples by their item's number of positive training tuples.
  const positives = new Map<number, number>();
  for (const r of ds.train) {
    if (ds.positive[ds.rowLabel[r]!]) {
      positives.set(ds.rowItem[r]!, (positives.get(ds.rowItem[r]!) ?? 0) + 1);
    }
  }
  const isPos = Uint8Array.from(ds.test, (r) => ds.positive[ds.rowLabel[r]!] ? 1 : 0);
  const score = Float64Array.from(ds.test, (r) => positives.get(ds.rowItem[r]!) ?? 0);
  assertEquals(b.popularity.auc, auc(isPos, score));
  assert(b.popularity.auc !== b.item_rate.auc, "the two rankings differ on this log");
  // item_rate keeps every metric.
  for (const k of ["f1", "precision", "recall", "accuracy", "logLoss"] as const) {
    assert(Number.isFinite(b.item_rate[k]), `item_rate.${k} = ${b.item_rate[k]}`);
  }
  // The table shows "—" in popularity's row where it has no metric, and says why.
  const table = metricsTable({ ...b });
  const row = table.split("\n").find((l) => l.startsWith("popularity"))!;
  assertEquals(row.split(/\s+/), [
    "popularity",
    "—",
    b.popularity.auc.toFixed(4),
    "—",
    "—",
    "—",
    "—",
    "—",
    String(ds.test.length),
  ]);
  // item_rate predicts only P(positive): its binary log-loss is its log-loss.
  assertEquals(b.item_rate.posLogLoss, b.item_rate.logLoss);
  assert(table.includes("— not defined for popularity"), table);
  assert(!metricsTable({ item_rate: b.item_rate }).includes("not defined"));
});

Deno.test("testSetWarnings() warns about a one-session log's single test tuple", async () => {
  const ds = await datasetFromText(oneSessionLog(), "one.csv", { stateLength: 5, minCount: 1 });
  assertEquals(ds.test.length, 1);
  const w = testSetWarnings(ds);
  assertEquals(w.length, 1);
  assert(w[0]!.startsWith(`only 1 test tuple (fewer than ${MIN_TEST_TUPLES})`), w[0]);
  assert(!w[0]!.includes("\n"));
});

Deno.test("testSetWarnings() is silent on a large test set and counts each class", () => {
  const ds = (labels: number[]) => ({
    positive: [false, true],
    rowLabel: Int32Array.from(labels),
    test: Int32Array.from(labels, (_, i) => i),
  });
  const many = (pos: number, neg: number) => [...Array(pos).fill(1), ...Array(neg).fill(0)];
  assertEquals(testSetWarnings(ds(many(30, 30))), []);
  assertEquals(testSetWarnings(ds(many(300, 700))), []);
  // Enough tuples, too few on one side of the positive/non-positive split.
  let w = testSetWarnings(ds(many(3, 500)));
  assertEquals(w.length, 1);
  assert(w[0]!.startsWith("only 3 positive test tuples of 503 (fewer than 30)"), w[0]);
  w = testSetWarnings(ds(many(500, 1)));
  assert(w[0]!.startsWith("only 1 non-positive test tuple of 501"), w[0]);
  // Too few in all: one warning, not three.
  assertEquals(testSetWarnings(ds(many(10, 19))).length, 1);
  assert(testSetWarnings(ds([]))[0]!.startsWith("no test tuples"));
  // The rows given, not the whole test set.
  const big = ds(many(100, 100));
  assertEquals(testSetWarnings(big, big.test.subarray(0, 5)).length, 1);
});

Deno.test("recsimu train and eval on a one-session log print the small-test-set warning, --quiet too", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "one.csv");
  await Deno.writeTextFile(log, oneSessionLog());
  const model = join(tmp.path, "model");
  const env = { RECSIMU_THREADS: "1" };
  const t = await runRecsimu([
    "train",
    "--data",
    log,
    "--out",
    model,
    ...TINY_FLAGS,
    ...NO_EPOCHS,
  ], { env });
  assertEquals(t.code, 0, t.stderr);
  const warning = /^warning: only 1 test tuple \(fewer than 30\): .*$/m;
  assert(warning.test(t.stderr), t.stderr);
  const trained = JSON.parse(t.stdout);
  assertEquals(trained.warnings.length, 1);
  assert(trained.warnings[0].startsWith("only 1 test tuple"));
  assertEquals(Object.keys(trained.baselines.popularity).sort(), ["auc", "n", "positiveRate"]);
  const e = await runRecsimu(["eval", "--model", model, "--backend", "cpu"], { env });
  assertEquals(e.code, 0, e.stderr);
  assert(warning.test(e.stderr), e.stderr);
  assertEquals(JSON.parse(e.stdout).warnings, trained.warnings);
  assert(/^popularity +— +/m.test(e.stderr), e.stderr);
});

Deno.test("metricsFromProbs() reports the binary log-loss of P(positive) beside the K-class one", () => {
  // Three labels (skip negative; click, purchase positive), no fake classes, two tuples.
  const ds = {
    labels: ["skip", "click", "purchase"],
    positive: [false, true, true],
    rowLabel: Int32Array.from([0, 2]),
  };
  const probs = Float32Array.from([0.5, 0.3, 0.2, 0.1, 0.2, 0.7]);
  const m = metricsFromProbs(probs, 3, ds, Int32Array.from([0, 1]));
  // K-class: −(ln 0.5 + ln 0.7)/2; binary: P(pos) = 0.5 and 0.9, labels 0 and 1.
  assertAlmostEquals(m.logLoss, -(Math.log(0.5) + Math.log(0.7)) / 2, 1e-6);
  assertAlmostEquals(m.posLogLoss!, -(Math.log(0.5) + Math.log(0.9)) / 2, 1e-6);
});
