/**
 * The `sessions` section's pieces against hand-computed values: quantiles and length summaries,
 * the two-sample Kolmogorov–Smirnov distance and its 5% critical value, the leave scoring on a
 * tiny log, and which sessions the leave fit saw.
 * @module
 */
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import {
  ksCritical,
  ksDistance,
  leaveFitIds,
  lengthSummary,
  quantile,
} from "../../lib/fidelity/session_fidelity.ts";
import { evaluateLeave, fitLeaveModel, leaveSplit } from "../../lib/train/fit_leave.ts";
import { leaveFeatureNames } from "../../lib/train/leave_features.ts";

Deno.test("quantile() interpolates linearly between order statistics", () => {
  assertEquals(quantile([1, 3, 5, 7, 9], 0.5), 5);
  assertAlmostEquals(quantile([1, 3, 5, 7, 9], 0.1), 1.8, 1e-12); // h = 0.4: 1 + 0.4·2
  assertAlmostEquals(quantile([1, 3, 5, 7, 9], 0.9), 8.2, 1e-12); // h = 3.6: 7 + 0.6·2
  assertEquals(quantile([1, 2, 3, 4], 0.5), 2.5);
  assertEquals([quantile([4], 0.1), quantile([1, 9], 0), quantile([1, 9], 1)], [4, 1, 9]);
  assert(Number.isNaN(quantile([], 0.5)));
});

Deno.test("lengthSummary() gives count, mean, min, p10, median, p90 and max, null when empty", () => {
  const s = lengthSummary([5, 1, 9, 3, 7]);
  assertEquals([s.count, s.mean, s.min, s.median, s.max], [5, 5, 1, 5, 9]);
  assertAlmostEquals(s.p10!, 1.8, 1e-12);
  assertAlmostEquals(s.p90!, 8.2, 1e-12);
  const one = lengthSummary(Int32Array.of(7));
  assertEquals([one.count, one.mean, one.p10, one.median, one.p90, one.max], [1, 7, 7, 7, 7, 7]);
  assertEquals(lengthSummary([]), {
    count: 0,
    mean: null,
    min: null,
    p10: null,
    median: null,
    p90: null,
    max: null,
  });
});

Deno.test("ksDistance() is the largest gap between the empirical distribution functions", () => {
  assertEquals(ksDistance([3, 1, 2], [1, 2, 3]), 0);
  assertEquals(ksDistance([1, 2], [3, 4]), 1);
  // F_a: 1/4 at 1, 3/4 at 2, 1 at 3; F_b: 0, 3/5, 3/5, then 4/5 at 5. Largest gap at 3: 1 − 3/5.
  const a = [1, 2, 2, 3], b = [2, 2, 2, 5, 6];
  assertAlmostEquals(ksDistance(a, b), 0.4, 1e-12);
  assertAlmostEquals(ksDistance(b, a), 0.4, 1e-12);
  // Logged 4 3 3 against simulated 4 4 4: at 3, 2/3 against 0.
  assertAlmostEquals(ksDistance(Int32Array.of(4, 3, 3), Int32Array.of(4, 4, 4)), 2 / 3, 1e-12);
  assert(Number.isNaN(ksDistance([], [1])));
});

Deno.test("ksCritical() is c(α)·√((n+m)/(n·m)) with c(0.05) = 1.358", () => {
  assertAlmostEquals(Math.sqrt(-Math.log(0.025) / 2), 1.3581, 1e-4);
  assertAlmostEquals(ksCritical(100, 100), 1.35810 * Math.sqrt(0.02), 1e-5);
  assertAlmostEquals(ksCritical(10, 40, 0.01), 1.62762 * Math.sqrt(50 / 400), 1e-5);
  assert(Number.isNaN(ksCritical(0, 5)));
});

const CSV = "session_id,item_id,feedback\nu1,a,pos\nu1,b,neg\nu2,a,neg\n";

Deno.test("evaluateLeave() scores every row against 'this row ends its session'", async () => {
  const ds = await datasetFromText(CSV, "x.csv", {
    stateLength: 1,
    minCount: 1,
    positive: ["pos"],
  });
  const names = leaveFeatureNames(ds.labels); // labels neg, pos
  // P(leave) = 3/4 after a negative, 1/2 after a positive.
  const weights = names.map((f) => (f === "feedback=neg" ? Math.log(3) : 0));
  const e = evaluateLeave({ weights, train: { base_rate: 0.5 } }, ds)!;
  // Rows: u1 pos (stays, 1/2), u1 neg (leaves, 3/4), u2 neg (leaves, 3/4).
  assertEquals([e.sessions, e.rows], [2, 3]);
  assertAlmostEquals(e.base_rate, 2 / 3, 1e-12);
  assertEquals(e.auc, 1);
  assertAlmostEquals(e.log_loss!, (Math.LN2 + 2 * Math.log(4 / 3)) / 3, 1e-12);
  assertAlmostEquals(e.base_log_loss!, Math.LN2, 1e-12);
  // One session: its two rows only.
  const u1 = evaluateLeave({ weights, train: { base_rate: 0.5 } }, ds, { sessions: [0] })!;
  assertEquals([u1.sessions, u1.rows, u1.auc], [1, 2, 1]);
  assertAlmostEquals(u1.log_loss!, (Math.LN2 + Math.log(4 / 3)) / 2, 1e-12);
  assertEquals(evaluateLeave({ weights, train: { base_rate: 0.5 } }, ds, { sessions: [] }), null);
});

Deno.test("leaveFitIds() rebuilds the leave fit's sessions, or says it cannot", async () => {
  const csv = "session_id,item_id,feedback\n" +
    Array.from({ length: 10 }, (_, s) => `s${s},a,pos\ns${s},b,neg\n`).join("");
  const ds = await datasetFromText(csv, "x.csv", { stateLength: 1, minCount: 1 });
  const m = fitLeaveModel(ds, { seed: 4 });
  const ids = leaveFitIds(ds, m)!;
  const { fit, heldout } = leaveSplit(ds, 4);
  assertEquals(ids.size, 8);
  assertEquals([...ids].sort(), Array.from(fit, (j) => ds.sessionIds[j]!).sort());
  for (const j of heldout) assert(!ids.has(ds.sessionIds[j]!));
  // A model whose recorded split sizes the log does not give back.
  assertEquals(leaveFitIds(ds, { ...m, train: { ...m.train, sessions: 9 } }), null);
});
