import assert from "node:assert/strict";
import { UserError } from "../../lib/errors.ts";
import {
  ENV_DEFAULTS,
  envConfig,
  EpisodeOverError,
  InputError,
  sampleFeedback,
  SimEnv,
  statelessStep,
  stepMany,
  transition,
  VecSimEnv,
} from "../../lib/sim/env.ts";
import { defaultRewards, expectedReward, parseRewards } from "../../lib/sim/reward.ts";
import type { ArrayPrediction, FeedbackRequest } from "../../lib/sim/types.ts";
import { FakeSimulator } from "../_fake_sim.ts";

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = new (...args: any[]) => E;
const assertEquals = (a: unknown, b: unknown, msg?: string) =>
  msg === undefined ? assert.deepStrictEqual(a, b) : assert.deepStrictEqual(a, b, msg);
const assertAlmostEquals = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `expected ${a} to be within ${tol} of ${b}`);
function assertThrows<E extends Error>(fn: () => unknown, cls: ErrorClass<E>, includes = ""): E {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.ok(e.message.includes(includes), `"${e.message}" should include "${includes}"`);
    return e;
  }
  throw new assert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}
async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: ErrorClass<E>,
  includes = "",
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.ok(e.message.includes(includes), `"${e.message}" should include "${includes}"`);
    return e;
  }
  throw new assert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}

const LABELS = ["skip", "click", "purchase"];
const POSITIVE = [false, true, true];

Deno.test("parseRewards() reads LABEL=NUMBER pairs in label order", () => {
  assertEquals(parseRewards("skip=0,click=1,purchase=5", LABELS, POSITIVE), [0, 1, 5]);
  assertEquals(parseRewards(" purchase = 2.5 , skip=-1 ", LABELS, POSITIVE), [-1, 1, 2.5]);
});

Deno.test("parseRewards() defaults to 1 for positive labels and 0 otherwise", () => {
  assertEquals(parseRewards(undefined, LABELS, POSITIVE), [0, 1, 1]);
  assertEquals(parseRewards("", LABELS, POSITIVE), [0, 1, 1]);
  assertEquals(defaultRewards(POSITIVE), [0, 1, 1]);
});

Deno.test("parseRewards() names unknown labels, repeats and bad numbers", () => {
  const e = assertThrows(() => parseRewards("skip=0,buy=5", LABELS, POSITIVE), UserError);
  assert(e.message.includes('unknown label "buy"'), e.message);
  assertThrows(
    () => parseRewards("click=1,click=2", LABELS, POSITIVE),
    UserError,
    'label "click" is given twice',
  );
  assertThrows(() => parseRewards("click=lots", LABELS, POSITIVE), UserError, "finite number");
  assertThrows(() => parseRewards("click", LABELS, POSITIVE), UserError, "LABEL=NUMBER");
});

Deno.test("expectedReward() is the probability-weighted sum", () => {
  assertAlmostEquals(expectedReward([0.5, 0.25, 0.25], [0, 1, 5]), 1.5);
  assertThrows(() => expectedReward([1], [0, 1]), RangeError);
});

Deno.test("sampleFeedback() is a pure function of (probs, seed, step)", () => {
  const probs = [0.2, 0.5, 0.3];
  for (let t = 0; t < 50; t++) {
    assertEquals(sampleFeedback(probs, 42, t), sampleFeedback(probs, 42, t));
  }
  const a = Array.from({ length: 50 }, (_, t) => sampleFeedback(probs, 1, t));
  const b = Array.from({ length: 50 }, (_, t) => sampleFeedback(probs, 2, t));
  assert(a.join() !== b.join(), "different seeds give different streams");
});

Deno.test("sampleFeedback() follows the distribution and never picks a zero-probability class", () => {
  const probs = [0.2, 0.5, 0.3];
  const counts = [0, 0, 0];
  const n = 20000;
  for (let t = 0; t < n; t++) counts[sampleFeedback(probs, 7, t)]!++;
  for (let k = 0; k < 3; k++) assertAlmostEquals(counts[k]! / n, probs[k]!, 0.02);
  for (let t = 0; t < 1000; t++) assert(sampleFeedback([0, 1, 0], t, t) === 1);
  assertThrows(() => sampleFeedback([0, 0], 1, 0), RangeError);
  assertThrows(() => sampleFeedback([NaN, 1], 1, 0), RangeError);
});

Deno.test("transition() drops the oldest pair once N are held and appends (action, feedback)", () => {
  const s = [{ item: "a", feedback: "skip" }, { item: "b", feedback: "click" }];
  assertEquals(transition(s, "c", "purchase", 3), [...s, { item: "c", feedback: "purchase" }]);
  assertEquals(transition(s, "c", "skip", 2), [{ item: "b", feedback: "click" }, {
    item: "c",
    feedback: "skip",
  }]);
  assertEquals(transition([], "c", "skip", 2), [{ item: "c", feedback: "skip" }]);
  assertEquals(s.length, 2, "input is not modified");
});

Deno.test("SimEnv.reset() with the same seed gives the same start state and trajectory", async () => {
  const sim = new FakeSimulator();
  const run = async (seed: number) => {
    const env = new SimEnv(sim, { maxSteps: 20 });
    const { observation } = env.reset({ seed });
    const fb: string[] = [];
    for (let t = 0; t < 20; t++) fb.push((await env.step(`i${(t * 7) % 50}`)).feedback);
    return JSON.stringify({ observation, fb });
  };
  assertEquals(await run(3), await run(3));
  const starts = new Set<string>();
  for (let seed = 0; seed < 30; seed++) {
    starts.add(JSON.stringify(new SimEnv(sim).reset({ seed }).observation));
  }
  assertEquals(starts.size, sim.startStates.length, "start states are drawn from sim.startStates");
});

Deno.test("SimEnv.reset() keeps the last N pairs of a given state and rejects unknown items and labels", () => {
  const sim = new FakeSimulator({ stateLength: 2 });
  const env = new SimEnv(sim);
  const state = [
    { item: "i1", feedback: "skip" },
    { item: "i2", feedback: "click" },
    { item: "i3", feedback: "purchase" },
  ];
  assertEquals(env.reset({ seed: 1, state }).observation, state.slice(1));
  const e1 = assertThrows(
    () => env.reset({ state: [{ item: "nope", feedback: "skip" }] }),
    InputError,
  );
  assertEquals([e1.code, e1.path], ["unknown_item", "state[0].item"]);
  const e2 = assertThrows(
    () =>
      env.reset({ state: [{ item: "i1", feedback: "skip" }, { item: "i1", feedback: "like" }] }),
    InputError,
  );
  assertEquals([e2.code, e2.path], ["unknown_label", "state[1].feedback"]);
});

Deno.test("SimEnv.reset() without start states gives an empty state", () => {
  const env = new SimEnv(new FakeSimulator({ startStates: [] }));
  assertEquals(env.reset({ seed: 5 }).observation, []);
});

Deno.test("SimEnv.step() samples feedback, moves the state and reports probs, real and rewards", async () => {
  const sim = new FakeSimulator({ stateLength: 3 });
  const rewards = [0, 1, 5];
  const env = new SimEnv(sim, { rewards });
  let { observation } = env.reset({ seed: 9, state: [{ item: "i1", feedback: "click" }] });
  for (let t = 0; t < 6; t++) {
    const action = `i${t + 10}`;
    const before = observation;
    const r = await env.step(action);
    const p = sim.predictOne({ state: before, action });
    assertEquals(r.info.probs, { skip: p.probs[0], click: p.probs[1], purchase: p.probs[2] });
    assertEquals(r.info.real, p.real);
    assertAlmostEquals(r.info.expected_reward, expectedReward(p.probs, rewards));
    assertEquals(r.feedback, LABELS[sampleFeedback(p.probs, 9, t)]);
    assertEquals(r.reward, rewards[LABELS.indexOf(r.feedback)]);
    assertEquals(r.info.step, t + 1);
    assertEquals(r.observation, [...before, { item: action, feedback: r.feedback }].slice(-3));
    observation = r.observation;
  }
});

Deno.test("SimEnv.step() truncates at maxSteps and refuses to step past the end", async () => {
  const env = new SimEnv(new FakeSimulator(), { maxSteps: 3 });
  env.reset({ seed: 1 });
  assertEquals((await env.step("i1")).truncated, false);
  assertEquals((await env.step("i2")).truncated, false);
  const last = await env.step("i3");
  assertEquals([last.truncated, last.terminated, env.done], [true, false, true]);
  await assertRejects(() => env.step("i4"), EpisodeOverError);
  await assertRejects(() => new SimEnv(new FakeSimulator()).step("i1"), EpisodeOverError, "reset");
});

class AlwaysSkip extends FakeSimulator {
  override predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    return Promise.resolve(requests.map(() => ({ probs: [1, 0, 0], real: 0.5 })));
  }
}

Deno.test("SimEnv.step() terminates after leaveAfterSkips negative feedbacks in a row", async () => {
  const env = new SimEnv(new AlwaysSkip(), { leaveAfterSkips: 3, maxSteps: 10 });
  env.reset({ seed: 1 });
  const r = [await env.step("i1"), await env.step("i2"), await env.step("i3")];
  assertEquals(r.map((x) => x.terminated), [false, false, true]);
  assertEquals(r.map((x) => x.info.negative_streak), [1, 2, 3]);
  assertEquals(r[2]!.truncated, false);
  const never = new SimEnv(new AlwaysSkip(), { leaveAfterSkips: 0, maxSteps: 10 });
  never.reset({ seed: 1 });
  for (let t = 0; t < 9; t++) assertEquals((await never.step("i1")).terminated, false);
});

Deno.test("SimEnv.step() rejects an unknown item with its path and leaves the episode unchanged", async () => {
  const env = new SimEnv(new FakeSimulator());
  env.reset({ seed: 1 });
  const e = await assertRejects(() => env.step("zzz"), InputError);
  assertEquals([e.code, e.path], ["unknown_item", "action"]);
  assertEquals(env.info.step, 0);
});

Deno.test("SimEnv options are checked", () => {
  const sim = new FakeSimulator();
  assertThrows(() => new SimEnv(sim, { maxSteps: 0 }), RangeError, "maxSteps");
  assertThrows(() => new SimEnv(sim, { leaveAfterSkips: -1 }), RangeError, "leaveAfterSkips");
  assertThrows(() => new SimEnv(sim, { rewards: [1, 2] }), RangeError, "one per label");
});

Deno.test("SimEnv options left out get ENV_DEFAULTS (50 steps, the user never leaves)", async () => {
  const sim = new FakeSimulator();
  assertEquals(ENV_DEFAULTS, {
    maxSteps: 50,
    leaveAfterSkips: 0,
    uncertaintyPenalty: 0,
    supportPenalty: 0,
  });
  assertEquals(envConfig(sim), { ...ENV_DEFAULTS, rewards: defaultRewards(sim.positive) });
  const env = new SimEnv(sim);
  assertEquals([env.config.maxSteps, env.config.leaveAfterSkips], [50, 0]);
  const r = await statelessStep(sim, { state: [], action: sim.items[0]!, seed: 1, step: 49 });
  assertEquals(r.truncated, true);
  assertEquals(r.terminated, false);
});

Deno.test("statelessStep() gives the same answer as the environment's step", async () => {
  const sim = new FakeSimulator();
  const env = new SimEnv(sim, { maxSteps: 15, leaveAfterSkips: 4 });
  let { observation, info } = env.reset({ seed: 77 });
  for (let t = 0; t < 15 && !env.done; t++) {
    const action = `i${(t * 13) % 50}`;
    const stateless = await statelessStep(sim, {
      state: observation,
      action,
      seed: 77,
      step: info.step,
      negativeStreak: info.negative_streak,
    }, { maxSteps: 15, leaveAfterSkips: 4 });
    const r = await env.step(action);
    assertEquals(stateless, r);
    observation = r.observation;
    info = r.info;
  }
});

Deno.test("stepMany() steps many environments with one predict call and matches single steps", async () => {
  const sim = new FakeSimulator();
  const a = Array.from({ length: 8 }, () => new SimEnv(sim));
  const b = Array.from({ length: 8 }, () => new SimEnv(sim));
  a.forEach((e, i) => e.reset({ seed: i }));
  b.forEach((e, i) => e.reset({ seed: i }));
  for (let t = 0; t < 4; t++) {
    const actions = a.map((_, i) => `i${(i * 5 + t) % 50}`);
    const calls = sim.predictCalls;
    const many = await stepMany(a.map((env, i) => ({ env, action: actions[i]! })));
    assertEquals(sim.predictCalls, calls + 1);
    const single = [];
    for (let i = 0; i < b.length; i++) single.push(await b[i]!.step(actions[i]!));
    assertEquals(many, single);
  }
});

Deno.test("stepMany() names the faulty entry and changes no environment", async () => {
  const sim = new FakeSimulator();
  const envs = [new SimEnv(sim), new SimEnv(sim)];
  envs.forEach((e) => e.reset({ seed: 1 }));
  const e = await assertRejects(
    () => stepMany([{ env: envs[0]!, action: "i1" }, { env: envs[1]!, action: "bad" }]),
    InputError,
  );
  assertEquals(e.path, "steps[1].action");
  assertEquals(envs.map((x) => x.info.step), [0, 0]);
  await assertRejects(
    () => stepMany([{ env: envs[0]!, action: "i1" }, { env: envs[0]!, action: "i2" }]),
    UserError,
  );
});

Deno.test("VecSimEnv resets with derived seeds and steps all environments in one predict", async () => {
  const sim = new FakeSimulator();
  const vec = new VecSimEnv(sim, 4, { maxSteps: 5 });
  const r1 = vec.reset({ seed: 10 });
  const r2 = new VecSimEnv(sim, 4).reset({ seed: 10 });
  assertEquals(r1, r2);
  assertEquals(new Set(r1.map((r) => r.info.seed)).size, 4);
  const calls = sim.predictCalls;
  const out = await vec.step(["i1", "i2", "i3", "i4"]);
  assertEquals(out.length, 4);
  assertEquals(sim.predictCalls, calls + 1);
  assertThrows(() => vec.step(["i1"]), RangeError);
});
