import assert from "node:assert/strict";
import { CheckpointError } from "../../lib/errors.ts";
import { envConfig, sampleFeedback, SimEnv, statelessStep } from "../../lib/sim/env.ts";
import { LeaveModel, leaves } from "../../lib/sim/leave.ts";
import { loggedItems, simulateSessionLengths } from "../../lib/sim/session_lengths.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { leaveFeatureNames, type LeaveModelData } from "../../lib/train/leave_features.ts";
import type { ArrayPrediction, FeedbackRequest } from "../../lib/sim/types.ts";
import { FakeSimulator } from "../_fake_sim.ts";

const LABELS = ["skip", "click", "purchase"];

/** Leave-model data with the given weights by feature name (the rest 0). */
function leaveData(weights: Record<string, number>, edges = [3]): LeaveModelData {
  const features = leaveFeatureNames(LABELS, edges);
  for (const name of Object.keys(weights)) assert.ok(features.includes(name), name);
  return {
    format: 1,
    method: "logistic",
    labels: LABELS,
    state_length: 5,
    streak_cap: 10,
    position_edges: edges,
    features,
    weights: features.map((f) => weights[f] ?? 0),
    l2: 1,
    train: { sessions: 1, rows: 1, base_rate: 1, iterations: 1 },
    heldout: null,
    seed: 0,
  };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

Deno.test("LeaveModel.hazard() is the logistic of the documented features", () => {
  const m = LeaveModel.fromData(
    leaveData({
      bias: -2,
      "feedback=skip": 1,
      negative_streak: 2,
      state_click: -1.5,
      "position>=3": 0.5,
    }),
    LABELS,
    5,
  );
  const state = [
    { item: "a", feedback: "click" },
    { item: "b", feedback: "click" },
    { item: "c", feedback: "skip" },
  ];
  // feedback skip, streak 4 (0.4 of the cap), 2 of 5 state pairs clicked, position 7 (bin >= 3)
  const h = m.hazard({ state, feedback: 0, streak: 4, position: 7 });
  assert.ok(Math.abs(h - sigmoid(-2 + 1 + 2 * 0.4 - 1.5 * 0.4 + 0.5)) < 1e-12);
  const early = m.hazard({ state: [], feedback: 1, streak: 0, position: 2 });
  assert.ok(Math.abs(early - sigmoid(-2)) < 1e-12);
});

Deno.test("LeaveModel.fromData() refuses data that does not fit the model, naming the field", () => {
  const bad: [Partial<LeaveModelData>, RegExp][] = [
    [{ labels: ["skip", "click"] }, /labels .* differ from the model's/],
    [{ state_length: 7 }, /state_length 7 differs/],
    [{ weights: [1, 2] }, /weights must be 10 finite numbers/],
    [{ format: 2 }, /format 2, this recsimu reads 1/],
    [{ position_edges: [3, 3] }, /position_edges must be increasing/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => LeaveModel.fromData({ ...leaveData({}), ...change }, LABELS, 5, "m/leave.json"),
      (e: Error) =>
        e instanceof CheckpointError && /^"m\/leave\.json": /.test(e.message) &&
        message.test(e.message),
    );
  }
});

Deno.test("with a learned leave model the user leaves by a seeded draw against info.leave_prob", async () => {
  const sim = new FakeSimulator();
  const leave = LeaveModel.fromData(leaveData({ bias: -1, "feedback=skip": 1 }), LABELS, 5);
  let left = 0;
  for (let seed = 0; seed < 40; seed++) {
    const env = new SimEnv(sim, { leave, maxSteps: 100 });
    env.reset({ seed });
    let r;
    do {
      const t = env.info.step;
      r = await env.step(sim.items[(seed + t) % sim.itemCount]!);
      const k = LABELS.indexOf(r.feedback);
      const h = leave.hazard({ state: [], feedback: k, streak: 0, position: t });
      assert.ok(Math.abs(r.info.leave_prob! - h) < 1e-12); // no state or streak weights
      assert.equal(r.terminated, leaves(r.info.leave_prob!, seed, t));
    } while (!r.terminated && !r.truncated);
    if (r.terminated) left++;
  }
  assert.ok(left === 40, "with P(leave) >= sigmoid(-1) per step, every user leaves within 100");
  // The rule's single steps keep today's info shape: no leave_prob.
  const ruled = new SimEnv(sim);
  ruled.reset({ seed: 1 });
  assert.ok(!("leave_prob" in (await ruled.step("i1")).info));
});

Deno.test("a page's leave probability combines its items' hazards along the cascade", async () => {
  const sim = new FakeSimulator();
  const leave = LeaveModel.fromData(
    leaveData({ bias: -2, "feedback=skip": 1.5, state_skip: 2, "position>=3": 1 }),
    LABELS,
    5,
  );
  const env = new SimEnv(sim, { leave });
  env.reset({ seed: 21, state: [{ item: "i1", feedback: "skip" }] });
  await env.step(["i2", "i3"]); // step 0: positions 0, 1
  const before = env.observation, streak0 = env.info.negative_streak;
  const r = await env.step(["i4", "i5"]); // step 1: positions 2, 3
  let state = before, streak = streak0, stay = 1;
  r.info.slate.forEach((s, j) => {
    const k = LABELS.indexOf(s.feedback);
    const p = sim.predictOne({ state, action: s.item });
    assert.equal(k, sampleFeedback(p.probs, 21, 1, j));
    streak = k === 0 ? streak + 1 : 0;
    stay *= 1 - leave.hazard({ state, feedback: k, streak, position: 2 + j });
    state = [...state, { item: s.item, feedback: s.feedback }].slice(-5);
  });
  assert.ok(Math.abs(r.info.leave_prob! - (1 - stay)) < 1e-12);
  assert.equal(r.terminated, leaves(1 - stay, 21, 1));
  const again = await statelessStep(sim, {
    state: before,
    action: ["i4", "i5"],
    seed: 21,
    step: 1,
    negativeStreak: streak0,
  }, { leave });
  assert.deepEqual(again, r);
});

Deno.test("envConfig() refuses a leave model with the rule or with other labels", () => {
  const sim = new FakeSimulator();
  const leave = LeaveModel.fromData(leaveData({}), LABELS, 5);
  assert.throws(() => envConfig(sim, { leave, leaveAfterSkips: 2 }), /exclude each other/);
  const other = new FakeSimulator();
  Object.defineProperty(other, "labels", { value: ["skip", "buy", "purchase"] });
  assert.throws(() => envConfig(other, { leave }), /leave model's labels/);
  assert.ok(!("leave" in envConfig(sim, {})));
});

Deno.test("simulateSessionLengths() ends sessions by the leave model, reproducibly", async () => {
  const sim = new FakeSimulator();
  // Certain to stay before position 3 and to leave at it: every session is 4 items long.
  const leave = LeaveModel.fromData(leaveData({ bias: -40, "position>=3": 80 }), LABELS, 5);
  const seen: [number, number][] = [];
  const r = await simulateSessionLengths(sim, leave, {
    sessions: 10,
    batch: 4,
    onProgress: (ended, total) => seen.push([ended, total]),
  });
  assert.deepEqual([...r.lengths], Array(10).fill(4));
  // 3 batches (4, 4, 2) of 4 steps; each batch's sessions all end at its 4th step.
  assert.deepEqual(seen.map(([e]) => e), [0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 10]);
  assert.ok(seen.every(([, t]) => t === 10));
  assert.equal(r.truncated, 0);
  assert.equal(r.policy, "random");
  const cut = await simulateSessionLengths(sim, leave, { sessions: 3, maxSteps: 2 });
  assert.deepEqual([...cut.lengths], [2, 2, 2]);
  assert.equal(cut.truncated, 3);
  // A leave model that depends on feedback: lengths vary but replay exactly.
  const noisy = LeaveModel.fromData(leaveData({ bias: -1.5, "feedback=skip": 1 }), LABELS, 5);
  const a = await simulateSessionLengths(sim, noisy, { sessions: 30, seed: 3 });
  const b = await simulateSessionLengths(sim, noisy, { sessions: 30, seed: 3 });
  assert.deepEqual(a.lengths, b.lengths);
  assert.ok(new Set(a.lengths).size > 1);
});

Deno.test("simulateSessionLengths() with replay recommends the logged items in order", async () => {
  const csv = "session_id,item_id,feedback\n" +
    "u1,i3,pos\nu1,i4,neg\nu1,i5,pos\nu2,i9,neg\nu2,i8,pos\n";
  const ds = await datasetFromText(csv, "x.csv", { stateLength: 1, minCount: 1 });
  const replay = loggedItems(ds, [0, 1]);
  assert.deepEqual(replay, [["i3", "i4", "i5"], ["i9", "i8"]]);
  const sim = new FakeSimulator();
  const asked: string[][] = [];
  const predict = sim.predictArrays.bind(sim);
  sim.predictArrays = (rs: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> => {
    asked.push(rs.map((r) => r.action));
    return predict(rs);
  };
  const leave = LeaveModel.fromData(leaveData({ bias: -40, "position>=3": 80 }), LABELS, 5);
  const r = await simulateSessionLengths(sim, leave, { replay });
  assert.equal(r.policy, "replay");
  assert.deepEqual([...r.lengths], [4, 4]);
  assert.deepEqual(asked.slice(0, 3), [["i3", "i9"], ["i4", "i8"], ["i5", asked[2]![1]!]]);
  assert.ok(sim.hasItem(asked[2]![1]!)); // after the log runs out: a random item
});
