import assert from "node:assert/strict";
import {
  InputError,
  sampleFeedback,
  SimEnv,
  type SlateStepResult,
  statelessStep,
  stepMany,
  transition,
  VecSimEnv,
} from "../../lib/sim/env.ts";
import { expectedReward } from "../../lib/sim/reward.ts";
import type { ArrayPrediction, FeedbackRequest, StepRecord } from "../../lib/sim/types.ts";
import { FakeSimulator } from "../_fake_sim.ts";

const LABELS = ["skip", "click", "purchase"];
const REWARDS = [0, 1, 5];
const START: StepRecord[] = [{ item: "i1", feedback: "click" }, { item: "i2", feedback: "skip" }];

/** A fake simulator that records every request it scores. */
class RecordingSim extends FakeSimulator {
  requests: FeedbackRequest[][] = [];
  override predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    this.requests.push(requests.map((r) => ({ state: [...r.state], action: r.action })));
    return super.predictArrays(requests);
  }
}

function rejects(fn: () => unknown, code: string, path: string): InputError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    assert.equal(e.code, code);
    assert.equal(e.path, path);
    return e;
  }
  assert.fail("expected an InputError");
}

async function rejectsAsync(fn: () => Promise<unknown>, code: string, path: string) {
  let caught: unknown;
  await fn().catch((e) => (caught = e));
  return rejects(
    () => {
      if (caught !== undefined) throw caught;
    },
    code,
    path,
  );
}

Deno.test("a page is read as a cascade: item j is scored on the state extended by the items above", async () => {
  const sim = new RecordingSim();
  const env = new SimEnv(sim, { rewards: REWARDS, maxSteps: 10 });
  env.reset({ seed: 9, state: START });
  const page = ["i3", "i4", "i5"];
  const r = await env.step(page);
  // One batched prediction per page position, each on the state the items above produced.
  assert.equal(sim.predictCalls, 3);
  let state = [...START];
  let reward = 0, expected = 0;
  page.forEach((item, j) => {
    assert.deepEqual(sim.requests[j], [{ state, action: item }]);
    const p = sim.predictOne({ state, action: item });
    const k = sampleFeedback(p.probs, 9, 0, j);
    const s = r.info.slate[j]!;
    assert.equal(s.item, item);
    assert.equal(s.feedback, LABELS[k]);
    assert.equal(r.feedback[j], LABELS[k]);
    assert.equal(s.reward, REWARDS[k]);
    assert.deepEqual(s.probs, Object.fromEntries(LABELS.map((l, i) => [l, p.probs[i]])));
    assert.equal(s.real, p.real);
    assert.equal(s.expected_reward, expectedReward(p.probs, REWARDS));
    reward += REWARDS[k]!;
    expected += s.expected_reward;
    state = transition(state, item, LABELS[k]!, sim.stateLength);
  });
  assert.deepEqual(r.observation, state);
  assert.deepEqual(env.observation, state);
  assert.equal(r.reward, reward);
  assert.ok(Math.abs(r.info.expected_reward - expected) < 1e-12);
  assert.deepEqual(
    Object.keys(r.info).sort(),
    ["expected_reward", "negative_streak", "seed", "slate", "step"],
  );
  assert.equal(r.info.step, 1);
});

Deno.test("a page of one item draws what the plain item draws; only the shape differs", async () => {
  const sim = new FakeSimulator();
  const a = new SimEnv(sim), b = new SimEnv(sim);
  a.reset({ seed: 4, state: START });
  b.reset({ seed: 4, state: START });
  for (const item of ["i7", "i8", "i9"]) {
    const single = await a.step(item);
    const page = await b.step([item]);
    assert.deepEqual(page.feedback, [single.feedback]);
    assert.deepEqual(page.observation, single.observation);
    assert.equal(page.reward, single.reward);
    assert.deepEqual(page.info.slate[0]!.probs, single.info.probs);
    // The single-item step keeps its shape exactly.
    assert.deepEqual(Object.keys(single.info), [
      "probs",
      "real",
      "expected_reward",
      "seed",
      "step",
      "negative_streak",
    ]);
    assert.equal(typeof single.feedback, "string");
  }
});

Deno.test("a page with a repeated, unknown or missing item is refused with its path; nothing moves", async () => {
  const sim = new FakeSimulator();
  const env = new SimEnv(sim);
  env.reset({ seed: 1 });
  const before = env.observation;
  const e = await rejectsAsync(() => env.step(["i1", "i2", "i1"]), "duplicate_item", "action[2]");
  assert.match(e.message, /^action\[2\]: item "i1" is already at action\[0\]/);
  await rejectsAsync(() => env.step(["i1", "nope"]), "unknown_item", "action[1]");
  await rejectsAsync(() => env.step([]), "invalid_action", "action");
  assert.equal(sim.predictCalls, 0);
  assert.deepEqual(env.observation, before);
  assert.equal(env.info.step, 0);
  await rejectsAsync(
    () => stepMany([{ env, action: ["i3", "i3"] }]),
    "duplicate_item",
    "steps[0].action[1]",
  );
});

Deno.test("statelessStep() with a page gives the environment's page step", async () => {
  const sim = new FakeSimulator();
  const env = new SimEnv(sim, { rewards: REWARDS, leaveAfterSkips: 4 });
  env.reset({ seed: 12, state: START });
  await env.step(["i3", "i4"]);
  const { observation, info } = { observation: env.observation, info: env.info };
  const viaEnv = await env.step(["i5", "i6"]);
  const stateless = await statelessStep(sim, {
    state: observation,
    action: ["i5", "i6"],
    seed: 12,
    step: info.step,
    negativeStreak: info.negative_streak,
  }, { rewards: REWARDS, leaveAfterSkips: 4 });
  assert.deepEqual(stateless, viaEnv);
});

Deno.test("stepMany() mixes items and pages with one prediction per page position", async () => {
  const sim = new FakeSimulator();
  const envs = [0, 1, 2].map(() => new SimEnv(sim));
  envs.forEach((e, i) => e.reset({ seed: i, state: START }));
  const alone = new SimEnv(sim);
  alone.reset({ seed: 0, state: START });
  const [single, two, three] = await stepMany<string | string[]>([
    { env: envs[0]!, action: "i3" },
    { env: envs[1]!, action: ["i3", "i4"] },
    { env: envs[2]!, action: ["i3", "i4", "i5"] },
  ]);
  assert.deepEqual(sim.batchSizes, [3, 2, 1]);
  assert.deepEqual(single, await alone.step("i3"));
  assert.equal((two as SlateStepResult).feedback.length, 2);
  assert.equal((three as SlateStepResult).info.slate.length, 3);
  const vec = new VecSimEnv(sim, 2);
  vec.reset({ seed: 5 });
  const results = await vec.step([["i1", "i2"], ["i2", "i1"]]);
  assert.deepEqual(results.map((r) => r.feedback.length), [2, 2]);
});

Deno.test("the leave rule ends a page when M negatives in a row occur at any of its items", async () => {
  // Items i0 and i1 are always skipped, i2 always clicked.
  const sim = new FakeSimulator();
  sim.predictArrays = (requests) =>
    Promise.resolve(
      requests.map((r) => ({ probs: r.action === "i2" ? [0, 1, 0] : [1, 0, 0], real: 0.5 })),
    );
  const env = new SimEnv(sim, { leaveAfterSkips: 2 });
  env.reset({ seed: 3, state: [] });
  const r = await env.step(["i0", "i1", "i2"]);
  assert.deepEqual(r.feedback, ["skip", "skip", "click"]);
  assert.equal(r.info.negative_streak, 0);
  assert.equal(r.terminated, true);
  const other = new SimEnv(sim, { leaveAfterSkips: 2 });
  other.reset({ seed: 3, state: [] });
  const kept = await other.step(["i0", "i2", "i1"]);
  assert.equal(kept.terminated, false);
  assert.equal(kept.info.negative_streak, 1);
});
