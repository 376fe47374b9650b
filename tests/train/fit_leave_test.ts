import assert from "node:assert/strict";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { Rng } from "../../lib/random.ts";
import { fitLeaveModel, leaveSplit, sessionLengths } from "../../lib/train/fit_leave.ts";
import { checkLeaveModel, leaveFeatureNames } from "../../lib/train/leave_features.ts";

/**
 * A log whose users leave after two negatives in a row (or, rarely, at any row): the hazard
 * the leave model has to find from the session ends alone.
 */
function leavingLog(sessions: number, seed: number): string {
  const rng = new Rng(seed);
  const lines = ["session_id,item_id,feedback"];
  for (let s = 0; s < sessions; s++) {
    let streak = 0;
    for (let p = 0; p < 200; p++) {
      const pos = rng.next() < 0.6;
      lines.push(`u${s},i${rng.int(20)},${pos ? "pos" : "neg"}`);
      streak = pos ? 0 : streak + 1;
      if (streak >= 2 || rng.next() < 0.02) break;
    }
  }
  return lines.join("\n") + "\n";
}

const OPTIONS = { stateLength: 3, minCount: 1, positive: ["pos"] };

Deno.test("fitLeaveModel() finds the negative-streak hazard and ranks held-out session ends", async () => {
  const ds = await datasetFromText(leavingLog(400, 1), "leave.csv", OPTIONS);
  const m = fitLeaveModel(ds, { seed: 3 });
  const w = Object.fromEntries(m.features.map((f, i) => [f, m.weights[i]!]));
  assert.ok(w.negative_streak! > 5, `negative_streak weight ${w.negative_streak}`);
  const h = m.heldout!;
  assert.ok(h.auc! > 0.9, `held-out AUC ${h.auc}`);
  assert.ok(h.log_loss! < h.base_log_loss!, `${h.log_loss} vs ${h.base_log_loss}`);
  // 80 of 400 sessions held out; the base rate is one end per session.
  assert.equal(h.sessions, 80);
  assert.equal(m.train.sessions, 320);
  assert.equal(h.rows + m.train.rows, ds.rowLabel.length);
  assert.ok(Math.abs(h.base_rate - h.sessions / h.rows) < 1e-12);
  // What is stored passes the loader's checks, and the fit is reproducible.
  checkLeaveModel(JSON.parse(JSON.stringify(m)), "leave.json", ds.labels, ds.stateLength);
  assert.deepEqual(fitLeaveModel(ds, { seed: 3 }), m);
  assert.deepEqual(m.features, leaveFeatureNames(ds.labels));
});

Deno.test("fitLeaveModel() on a log whose ends carry no signal is near chance", async () => {
  // Every session ends after a uniform length in [5, 40], whatever the feedback.
  const rng = new Rng(5);
  const lines = ["session_id,item_id,feedback"];
  for (let s = 0; s < 300; s++) {
    const n = 5 + rng.int(36);
    for (let p = 0; p < n; p++) {
      lines.push(`u${s},i${rng.int(9)},${rng.next() < 0.5 ? "pos" : "neg"}`);
    }
  }
  const ds = await datasetFromText(lines.join("\n") + "\n", "flat.csv", OPTIONS);
  const h = fitLeaveModel(ds, { seed: 0 }).heldout!;
  // Only the position tells (no end before position 4): well below the streak model's 0.9.
  assert.ok(h.auc! > 0.5 && h.auc! < 0.8, `held-out AUC ${h.auc}`);
});

Deno.test("leaveSplit() holds out a seeded share of whole sessions, disjoint and sorted", async () => {
  const ds = await datasetFromText(leavingLog(50, 2), "leave.csv", OPTIONS);
  const a = leaveSplit(ds, 0, 0.2);
  assert.equal(a.heldout.length, 10);
  assert.equal(a.fit.length, 40);
  const all = [...a.fit, ...a.heldout].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 50 }, (_, j) => j));
  assert.deepEqual([...a.heldout], [...a.heldout].sort((x, y) => x - y));
  assert.deepEqual(leaveSplit(ds, 0, 0.2), a);
  assert.notDeepEqual([...leaveSplit(ds, 1, 0.2).heldout], [...a.heldout]);
  assert.equal(
    sessionLengths(ds, a.heldout).reduce((x, y) => x + y, 0) +
      sessionLengths(ds, a.fit).reduce((x, y) => x + y, 0),
    ds.rowLabel.length,
  );
  assert.throws(() => leaveSplit(ds, 0, 1), RangeError);
  // Excluded sessions take no part; the rest split as before among themselves.
  const out = new Set([0, 1, 2, 3, 4]);
  const b = leaveSplit(ds, 0, 0.2, out);
  assert.equal(b.fit.length + b.heldout.length, 45);
  assert.ok([...b.fit, ...b.heldout].every((j) => !out.has(j)));
  const m = fitLeaveModel(ds, { seed: 0, exclude: { sessions: out, reason: "test" } });
  assert.deepEqual(m.excluded, { sessions: 5, reason: "test" });
  assert.equal(m.train.sessions + m.heldout!.sessions, 45);
});

Deno.test("fitLeaveModel() on one session fits without a held-out evaluation", async () => {
  const ds = await datasetFromText(
    "session_id,item_id,feedback\nu1,a,pos\nu1,b,neg\nu1,c,pos\nu1,a,neg\n",
    "one.csv",
    { stateLength: 1, minCount: 1 },
  );
  const m = fitLeaveModel(ds);
  assert.equal(m.heldout, null);
  assert.equal(m.train.rows, 4);
  assert.ok(m.weights.every(Number.isFinite));
});
