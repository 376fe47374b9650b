import { initBackend, tf } from "../../lib/tf.ts";
import { UserError } from "../../lib/errors.ts";
import { Rng } from "../../lib/random.ts";
import { agentConfig } from "../../lib/rl/config.ts";
import {
  createAgent,
  type IterationLog,
  reinforceBatch,
  runAgent,
  trainAgent,
} from "../../lib/rl/agent.ts";
import { popularRanking, randomPolicy, rankedPolicy } from "../../lib/rl/baselines.ts";
import { evaluatePolicies, meanSe } from "../../lib/rl/evaluate.ts";
import { Featurizer, randomEmbeddings } from "../../lib/rl/features.ts";
import { episodeSpecs, rollout, type Trajectory } from "../../lib/rl/rollout.ts";
import { run as runCommand } from "../../lib/commands/agent.ts";
import type {
  ArrayPrediction,
  FeedbackRequest,
  SimulatorLike,
  StepRecord,
} from "../../lib/sim/types.ts";
import { FakeSimulator } from "../_fake_sim.ts";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../_assert.ts";

await initBackend("wasm", { quiet: true });

/**
 * A tiny simulator where a known subset of items is liked: P(click) = 0.9 for the good items,
 * 0.05 for the others, whatever the state.
 */
class BanditSim implements SimulatorLike {
  readonly labels = ["skip", "click"] as const;
  readonly positive = [false, true] as const;
  readonly stateLength = 3;
  readonly itemCount = 30;
  readonly items = Array.from({ length: 30 }, (_, i) => `i${i}`);
  readonly good = new Set(["i3", "i7", "i11", "i19", "i23", "i29"]);
  readonly startStates: StepRecord[][];
  constructor() {
    const rng = new Rng(5);
    this.startStates = Array.from({ length: 20 }, () =>
      Array.from({ length: 3 }, () => ({
        item: `i${rng.int(30)}`,
        feedback: rng.next() < 0.3 ? "click" : "skip",
      })));
  }
  hasItem(id: string): boolean {
    return this.items.includes(id);
  }
  predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    return Promise.resolve(requests.map((r) => {
      const p = this.good.has(r.action) ? 0.9 : 0.05;
      return { probs: [1 - p, p], real: 0.5 };
    }));
  }
  describe(): Record<string, unknown> {
    return { kind: "bandit" };
  }
}

Deno.test("trainAgent() learns to beat random on the same episodes of a simulator with liked items", async () => {
  const sim = new BanditSim();
  const config = agentConfig({
    episodes: 640,
    envs: 64,
    maxSteps: 5,
    learningRate: 0.05,
    evalEpisodes: 200,
    staticProbeStates: 0,
    seed: 1,
  });
  const report = await runAgent(sim, config);
  const by = Object.fromEntries(report.eval.policies.map((p) => [p.policy, p]));
  const random = by["random"]!;
  const greedy = by["agent-greedy"]!;
  const sampled = by["agent-sampled"]!;
  // Random: 5 × (6/30 · 0.9 + 24/30 · 0.05) ≈ 1.1; the best policy gets 5 × 0.9 = 4.5.
  assert(random.mean < 1.6, `random ${random.mean}`);
  assert(greedy.mean > 3, `greedy ${greedy.mean}`);
  assert(sampled.mean > random.mean + 1, `sampled ${sampled.mean} vs random ${random.mean}`);
  assert(greedy.vsReference!.mean > 5 * greedy.vsReference!.stderr, "a clear paired difference");
  assertEquals(report.train.iterations, 10);
  assertEquals(report.train.env_steps, 640 * 5);
  const first = report.train.history[0]!["charts/episodic_return"];
  const last = report.train.history.at(-1)!["charts/episodic_return"];
  assert(last > first + 1, `training return ${first} → ${last}`);
  assert(JSON.parse(JSON.stringify(report)).metrics["eval/agent-greedy/return"] > 3.5);
});

Deno.test("evaluatePolicies() scores random and popular policies identically for a seed", async () => {
  const sim = new FakeSimulator({ itemCount: 40 });
  const env = { maxSteps: 6, rewards: [0, 1, 5] };
  const specs = episodeSpecs(sim, 30, 11);
  assertEquals(specs, episodeSpecs(sim, 30, 11), "episode lists are a function of the seed");
  const policies =
    () => [randomPolicy(sim.itemCount), rankedPolicy("popular", popularRanking(sim))];
  const a = await evaluatePolicies(sim, policies(), { episodes: specs, env, policySeed: 3 });
  const b = await evaluatePolicies(sim, policies(), { episodes: specs, env, policySeed: 3 });
  assertEquals(a, b);
  const c = await evaluatePolicies(sim, policies(), { episodes: specs, env, policySeed: 4 });
  assert(c[0]!.returns.join() !== a[0]!.returns.join(), "another seed, other random actions");
  assertEquals(c[1]!.returns, a[1]!.returns, "popular does not depend on the policy seed");
  assertEquals(a[1]!.vsReference!.reference, "random");
});

Deno.test("popularRanking() orders items by frequency in the start states", () => {
  const sim = new FakeSimulator({
    itemCount: 6,
    startStates: [
      [{ item: "i4", feedback: "skip" }, { item: "i2", feedback: "click" }],
      [{ item: "i4", feedback: "skip" }, { item: "i5", feedback: "skip" }],
      [{ item: "i2", feedback: "skip" }],
    ],
  });
  // i2 and i4 twice (i2 has a positive, so first), i5 once, then vocabulary order.
  assertEquals(popularRanking(sim), [2, 4, 5, 0, 1, 3]);
});

Deno.test("rollout() never repeats an item within an episode until all are used", async () => {
  const sim = new FakeSimulator({
    itemCount: 4,
    startStates: [[{ item: "i0", feedback: "skip" }], [{ item: "i3", feedback: "click" }]],
  });
  const specs = episodeSpecs(sim, 5, 2);
  const trajs = await rollout(sim, randomPolicy(4), {
    episodes: specs,
    env: { maxSteps: 10 },
    policySeed: 1,
  });
  for (const t of trajs) {
    assertEquals(t.actions.length, 10);
    assertEquals(new Set(t.actions.slice(0, 4)).size, 4);
    assertEquals(new Set(t.actions.slice(4, 8)).size, 4);
  }
  assertEquals(sim.predictCalls, 10, "one batched predict per step for all five episodes");
  assertEquals(sim.batchSizes, Array(10).fill(5));
});

Deno.test("training keeps tf.memory().numTensors flat across iterations", async () => {
  const sim = new BanditSim();
  const logs: IterationLog[] = [];
  const before = tf.memory().numTensors;
  const { agent } = await trainAgent(sim, agentConfig({ episodes: 96, envs: 16, maxSteps: 4 }), {
    onIteration: (l) => logs.push(l),
  });
  assertEquals(logs.length, 6);
  // Adam allocates its moments on the first update; afterwards nothing may accumulate.
  const counts = logs.map((l) => l["perf/num_tensors"]);
  assert(counts.slice(1).every((n) => n === counts[1]), `tensor counts ${counts}`);
  agent.dispose();
  assertEquals(tf.memory().numTensors, before, "dispose() frees every tensor");
});

Deno.test("trainAgent() is reproducible for a seed", async () => {
  const sim = new BanditSim();
  const config = agentConfig({ episodes: 48, envs: 16, maxSteps: 4, seed: 9 });
  const a = await trainAgent(sim, config);
  const b = await trainAgent(sim, config);
  const strip = (h: IterationLog[]) =>
    h.map(({ "perf/sps": _, "perf/num_tensors": __, ...rest }) => rest);
  assertEquals(strip(a.history), strip(b.history));
  a.agent.dispose();
  b.agent.dispose();
});

Deno.test("reinforceBatch() computes returns-to-go, used masks and a per-step baseline", () => {
  const sim = new BanditSim();
  const agent = createAgent(sim, agentConfig({ maxSteps: 3, randomEmbDim: 4 }));
  const obs: StepRecord[] = [{ item: "i0", feedback: "skip" }];
  const traj = (actions: number[], rewards: number[]): Trajectory => ({
    spec: { seed: 0, state: obs },
    observations: actions.map(() => obs),
    actions,
    rewards,
    expectedRewards: rewards,
    positive: rewards.map((r) => r > 0),
    return: rewards.reduce((s, r) => s + r, 0),
    terminated: false,
  });
  const baseline = new Float64Array(3).fill(NaN);
  const cfg = {
    gamma: 1,
    baselineRate: 0.5,
    normalizeAdvantages: false,
    rewardSignal: "sampled" as const,
  };
  const b = reinforceBatch(
    agent.net,
    [traj([1, 2, 3], [1, 0, 1]), traj([4, 5, 6], [0, 0, 0])],
    { ...cfg, baseline },
  );
  // Returns-to-go [2, 1, 1] and [0, 0, 0]; the first batch's baseline is its per-step mean.
  assertEquals(Array.from(b.advantages), [1, 0.5, 0.5, -1, -0.5, -0.5]);
  assertEquals(Array.from(baseline), [1, 0.5, 0.5]);
  assertEquals(Array.from(b.actions), [1, 2, 3, 4, 5, 6]);
  const v = sim.itemCount;
  const usedAt = (row: number) =>
    [...b.used.subarray(row * v, (row + 1) * v)].flatMap((u, i) => u ? [i] : []);
  assertEquals(usedAt(0), []);
  assertEquals(usedAt(2), [1, 2]);
  assertEquals(usedAt(5), [4, 5]);
  // A later batch uses the running means, then moves them halfway to its own means.
  const c = reinforceBatch(agent.net, [traj([7, 8, 9], [1, 1, 1])], { ...cfg, baseline });
  assertEquals(Array.from(c.advantages), [2, 1.5, 0.5]);
  assertEquals(Array.from(baseline), [2, 1.25, 0.75]);
  // With the expected-reward signal, returns-to-go sum the steps' expected rewards.
  const e = reinforceBatch(agent.net, [{ ...traj([1, 2], [0, 1]), expectedRewards: [0.25, 0.5] }], {
    ...cfg,
    rewardSignal: "expected",
    baseline: new Float64Array(3).fill(0),
  });
  assertEquals(Array.from(e.advantages), [0.75, 0.5]);
  agent.dispose();
});

Deno.test("Featurizer writes mean, last and positive-mean embeddings and label fractions", () => {
  const sim = new BanditSim();
  const f = new Featurizer(sim, randomEmbeddings(sim.itemCount, 2, 1));
  assertEquals(f.size, 3 * 2 + 2 + 1);
  const e = f.embeddings;
  const x = f.batch([[{ item: "i1", feedback: "click" }, { item: "i2", feedback: "skip" }], []])!;
  assertAlmostEquals(x[0]!, (e[2]! + e[4]!) / 2);
  assertAlmostEquals(x[2]!, e[4]!);
  assertAlmostEquals(x[4]!, e[2]!);
  [0.5, 0.5, 2 / 3].forEach((want, j) => assertAlmostEquals(x[6 + j]!, want));
  assertEquals(Array.from(x.subarray(9)), Array(9).fill(0), "an empty state is all zeros");
  assertThrows(() => f.batch([[{ item: "nope", feedback: "skip" }]]), RangeError, "unknown item");
});

Deno.test("agentConfig() rejects out-of-range settings by name", () => {
  assertThrows(() => agentConfig({ envs: 0 }), RangeError, "envs");
  assertThrows(() => agentConfig({ gamma: 1.5 }), RangeError, "gamma");
  assertThrows(() => agentConfig({ learningRate: 0 }), RangeError, "learningRate");
  assertEquals(meanSe([2, 2]), { mean: 2, stderr: 0 });
});

Deno.test("recsimu agent rejects bad flags as user errors before loading a model", async () => {
  await assertRejects(
    () => runCommand(["--model", "/nonexistent", "--algo", "dqn"]),
    UserError,
    "--algo",
  );
  await assertRejects(
    () => runCommand(["--model", "/nonexistent", "--envs", "0"]),
    UserError,
    "--envs",
  );
  await assertRejects(() => runCommand(["--episodes", "5"]), UserError, "--model");
});

/** The bandit with a spread of 0.1 on every answer. */
class UnsureBanditSim extends BanditSim {
  override async predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    return (await super.predictArrays(requests)).map((a) => ({ ...a, spread: 0.1 }));
  }
}

Deno.test("--uncertainty-penalty lowers every training reward by λ × spread", async () => {
  const sim = new UnsureBanditSim();
  const base = { episodes: 16, envs: 16, maxSteps: 5, seed: 2 };
  const plain = await trainAgent(sim, agentConfig(base));
  const guarded = await trainAgent(sim, agentConfig({ ...base, uncertaintyPenalty: 2 }));
  // The first iteration acts before any update: the same actions and feedback, each of the 5
  // steps 2 × 0.1 lower.
  assertAlmostEquals(
    guarded.history[0]!["charts/episodic_return"],
    plain.history[0]!["charts/episodic_return"] - 5 * 2 * 0.1,
    1e-9,
  );
  plain.agent.dispose();
  guarded.agent.dispose();
  assertThrows(() => agentConfig({ uncertaintyPenalty: -1 }), RangeError, "uncertaintyPenalty");
  await assertRejects(
    () => runCommand(["--model", "/nonexistent", "--uncertainty-penalty", "-1"]),
    UserError,
    "--uncertainty-penalty",
  );
});
