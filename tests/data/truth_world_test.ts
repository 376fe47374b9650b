import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { tempDir } from "../_helpers.ts";
import {
  type Probs,
  type Step,
  TrueUser,
  TRUTH_LABELS,
  type TruthLabel,
  TruthWorld,
  type UserLatent,
} from "../../lib/data/truth/world.ts";
import {
  monteCarlo,
  type PolicyValue,
  referencePolicies,
  type Responder,
  runPolicy,
  type StartState,
  trueEnv,
  type TruthPolicy,
} from "../../lib/data/truth/policies.ts";
import {
  truthLogRows,
  truthStartStates,
  type TruthWriteOptions,
  writeTruthWorld,
} from "../../lib/data/truth/write.ts";

/** Sizes small enough for a test: a few hundred items, sessions and cases. */
const TINY: TruthWriteOptions = {
  preset: "base",
  seed: 0,
  params: { items: 300, categories: 12 },
  sessions: 150,
  cases: 400,
  startStates: 12,
  rollouts: 2,
  horizon: 6,
};

const fileTest = { permissions: { read: true, write: true } } as const;

/** Every file under `dir`, by relative path. */
async function readTree(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) { for (const [k, v] of await readTree(dir, rel)) out.set(k, v); }
    else out.set(rel, await Deno.readFile(join(dir, rel)));
  }
  return out;
}

/** Whether two byte arrays are equal. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

interface CaseLine {
  user: number;
  source: "logging" | "random";
  state: { item: string; feedback: string }[];
  action: string;
  probs: { skip: number; click: number; purchase: number };
  label: string;
}

async function readCases(dir: string): Promise<CaseLine[]> {
  const text = await Deno.readTextFile(join(dir, "truth", "cases.jsonl"));
  return text.trimEnd().split("\n").map((l) => JSON.parse(l));
}

const itemNumber = (id: string) => Number(id.slice(1));
const labelNumber = (name: string) => TRUTH_LABELS.indexOf(name as never) as TruthLabel;

Deno.test({
  name:
    "writeTruthWorld() writes byte-identical files for the same options and different ones for another seed",
  ...fileTest,
  fn: async () => {
    await using a = await tempDir();
    await using b = await tempDir();
    await using c = await tempDir();
    await writeTruthWorld(a.path, TINY);
    await writeTruthWorld(b.path, TINY);
    await writeTruthWorld(c.path, { ...TINY, seed: 1 });
    const [ta, tb, tc] = await Promise.all([a, b, c].map((d) => readTree(d.path)));
    assertEquals(
      [...ta!.keys()].sort(),
      [
        "log.csv",
        "truth/cases.jsonl",
        "truth/items.csv",
        "truth/policies.json",
        "truth/start_states.json",
        "truth/world.json",
      ],
    );
    assertEquals(ta, tb);
    for (const name of ["log.csv", "truth/cases.jsonl", "truth/policies.json"]) {
      assert(!sameBytes(ta!.get(name)!, tc!.get(name)!), `${name} is the same for seeds 0 and 1`);
    }
  },
});

Deno.test({
  name: "writeTruthWorld() writes the canonical log, the world description and ≥ 8 scored policies",
  ...fileTest,
  fn: async () => {
    await using d = await tempDir();
    const r = await writeTruthWorld(d.path, TINY);
    assertEquals(r.files, { "log.csv": null, truth: null });
    const lines = (await Deno.readTextFile(join(d.path, "log.csv"))).trimEnd().split("\n");
    assertEquals(lines[0], "session_id,item_id,feedback,timestamp");
    assertEquals(lines.length - 1, r.log.n);
    const last = new Map<string, number>();
    for (const line of lines.slice(1)) {
      const [s, item, feedback, t] = line.split(",");
      assert(itemNumber(item!) >= 0 && itemNumber(item!) < 300, line);
      assert(TRUTH_LABELS.includes(feedback as never), line);
      assert(Number(t) > (last.get(s!) ?? -Infinity), `timestamps not increasing: ${line}`);
      last.set(s!, Number(t));
    }
    assertEquals(last.size, 150);
    const world = JSON.parse(await Deno.readTextFile(join(d.path, "truth", "world.json")));
    assertEquals([world.preset, world.seed, world.parameters.items], ["base", 0, 300]);
    assertEquals(world.reward, { skip: 0, click: 1, purchase: 5 });
    assertEquals(world.leave, { rule: "none" });
    const items = (await Deno.readTextFile(join(d.path, "truth", "items.csv"))).trimEnd().split(
      "\n",
    );
    assertEquals(items[0], "item_id,category,price,popularity_rank");
    assertEquals(items.length, 301);
    const starts = JSON.parse(await Deno.readTextFile(join(d.path, "truth", "start_states.json")));
    assertEquals(starts.states.length, 12);
    assertEquals(starts.states[0].history.length, 5);
    const policies = JSON.parse(await Deno.readTextFile(join(d.path, "truth", "policies.json")));
    const names = policies.policies.map((p: PolicyValue) => p.name);
    for (
      const n of [
        "random",
        "most-popular",
        "logging",
        "category-greedy",
        "repeat-spam",
        "quality-greedy",
        "diversity",
        "oracle",
      ]
    ) assert(names.includes(n), `policies.json lacks ${n}`);
    for (const p of policies.policies as PolicyValue[]) {
      assertEquals(p.episodes, 24);
      assert(Number.isFinite(p.mean) && p.stderr >= 0, `${p.name}: ${p.mean} ± ${p.stderr}`);
    }
  },
});

Deno.test("truthLogRows() extends a log of fewer sessions with more sessions", () => {
  const world = new TruthWorld({ params: { items: 100, categories: 5 } });
  const few = [...truthLogRows(world, { sessions: 5, minLength: 3, maxLength: 8 })];
  const more = [...truthLogRows(world, { sessions: 9, minLength: 3, maxLength: 8 })];
  assertEquals(more.slice(0, few.length), few);
  assert(more.length > few.length);
});

/**
 * The response model written out again from docs/truth_worlds.md, independently of
 * TruthWorld.probs and TruthWorld.step: the latent replayed over the history, then the logits.
 */
function recomputeProbs(
  world: TruthWorld,
  latent: UserLatent,
  history: readonly Step[],
  item: number,
): Probs {
  const p = world.params;
  const { vectors, category, quality, logPrice } = world.catalogue;
  const d = p.dim;
  const vec = (i: number) => Array.from(vectors.subarray(i * d, (i + 1) * d));
  const dot = (a: number[], b: number[]) => a.reduce((s, x, k) => s + x * b[k]!, 0);
  let drift = new Array(d).fill(0);
  const aversion = new Array(p.categories).fill(0);
  for (const h of history) {
    const eta = [0, p.driftClick, p.driftPurchase][h.label]!;
    drift = drift.map((x, k) => p.driftDecay * x + eta * vec(h.item)[k]!);
    for (let c = 0; c < p.categories; c++) aversion[c] *= p.aversionDecay;
    if (h.label === 0) aversion[category[h.item]!] += p.skipAversion;
  }
  const taste = Array.from(latent.taste, (x, k) => x + drift[k]!);
  const match = dot(taste, vec(item));
  let run = 0;
  for (let k = history.length - 1; k >= 0 && run < p.fatigueCap; k--) {
    const j = history[k]!.item;
    if (category[j] !== category[item] && !(dot(vec(j), vec(item)) > p.similarity)) break;
    run++;
  }
  const repeated = history.some((h) => h.item === item);
  const q = quality[item]!;
  const logit = p.bias + latent.engagement + match + p.qualityWeight * q - p.fatigue * run -
    (repeated ? p.repetition : 0) - aversion[category[item]!];
  const positive = 1 / (1 + Math.exp(-logit));
  const buy = 1 / (1 + Math.exp(
    -(p.purchaseBias + p.purchaseQuality * q + p.purchaseMatch * match -
      latent.priceSensitivity * (logPrice[item]! - p.priceLogMean)),
  ));
  return [1 - positive, positive * (1 - buy), positive * buy];
}

Deno.test({
  name:
    "cases.jsonl holds true probabilities that sum to 1 and match the response model recomputed",
  ...fileTest,
  fn: async () => {
    await using d = await tempDir();
    await writeTruthWorld(d.path, TINY);
    const cases = await readCases(d.path);
    assertEquals(cases.length, 400);
    assertEquals(cases.filter((c) => c.source === "random").length, 200);
    const world = new TruthWorld(TINY);
    let checked = 0;
    for (const c of cases) {
      const { skip, click, purchase } = c.probs;
      assertAlmostEquals(skip + click + purchase, 1, 1e-12);
      assert(Math.min(skip, click, purchase) >= 0, JSON.stringify(c.probs));
      assert(TRUTH_LABELS.includes(c.label as never), c.label);
      if (c.user % 20 !== 0 || c.state.length < 3) continue;
      const history = c.state.map((s) => ({
        item: itemNumber(s.item),
        label: labelNumber(s.feedback),
      }));
      const want = recomputeProbs(world, world.user("case", c.user), history, itemNumber(c.action));
      assertAlmostEquals(skip, want[0], 1e-12, `case of user ${c.user}: skip`);
      assertAlmostEquals(click, want[1], 1e-12, `case of user ${c.user}: click`);
      assertAlmostEquals(purchase, want[2], 1e-12, `case of user ${c.user}: purchase`);
      checked++;
    }
    assert(checked >= 10, `only ${checked} cases recomputed`);
  },
});

Deno.test({
  name: "the logging policy is confounded: logged actions are liked more often than random ones",
  ...fileTest,
  fn: async () => {
    await using d = await tempDir();
    const r = await writeTruthWorld(d.path, { ...TINY, cases: 1000 });
    const cases = await readCases(d.path);
    const rate = (source: string, f: (c: CaseLine) => number) => {
      const xs = cases.filter((c) => c.source === source).map(f);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const trueRate = (c: CaseLine) => c.probs.click + c.probs.purchase;
    const labelRate = (c: CaseLine) => (c.label === "skip" ? 0 : 1);
    assert(
      rate("logging", trueRate) > 1.3 * rate("random", trueRate),
      `true P(positive): logging ${rate("logging", trueRate)}, random ${rate("random", trueRate)}`,
    );
    assert(rate("logging", labelRate) > rate("random", labelRate));
    assertAlmostEquals(r.cases.logging.meanPositiveProb!, rate("logging", trueRate), 1e-9);
    assert(r.log.positiveRate > r.cases.random.meanPositiveProb!);
  },
});

Deno.test("start states reproduce their users' latent and true state from the seed", () => {
  const world = new TruthWorld({ preset: "hard", seed: 4, params: { items: 200, categories: 8 } });
  const starts = truthStartStates(world, { startStates: 3, startHistory: 4 });
  for (const s of starts) {
    assertEquals(s.seed, world.userSeed("start", s.user));
    const latent = world.userLatent(s.seed);
    assertEquals(latent, world.user("start", s.user));
    const norm = Math.hypot(...latent.taste);
    assertAlmostEquals(norm, world.params.tasteStrength, 1e-9);
    const u = new TrueUser(world, latent);
    assertEquals(u.probs(s.history, 7), world.probs(world.stateAfter(latent, s.history), 7));
  }
});

Deno.test("TrueUser answers a history that does not extend the last one by replaying it", () => {
  const world = new TruthWorld({ params: { items: 60, categories: 4 } });
  const latent = world.user("start", 1);
  const u = new TrueUser(world, latent);
  const h1: Step[] = [{ item: 3, label: 1 }, { item: 4, label: 0 }];
  const h2: Step[] = [{ item: 3, label: 2 }];
  u.probs(h1, 5);
  assertEquals(u.probs(h2, 5), recomputeProbs(world, latent, h2, 5));
  assertEquals(u.probs(h1, 5), world.probs(world.stateAfter(latent, h1), 5));
});

Deno.test("expectedRewards() equals Σ rewards·probs of every item (the oracle's scores)", () => {
  const world = new TruthWorld({ preset: "hard", params: { items: 120, categories: 6 } });
  const latent = world.user("case", 2);
  const history: Step[] = [0, 5, 9, 5, 17].map((item, k) => ({
    item,
    label: (k % 3) as TruthLabel,
  }));
  const s = world.stateAfter(latent, history);
  const out = world.expectedRewards(s, [0, 1, 5], new Float64Array(120));
  for (let i = 0; i < 120; i++) {
    const [, click, purchase] = world.probs(s, i);
    assertAlmostEquals(out[i]!, click + 5 * purchase, 1e-12, `item ${i}`);
  }
});

/** The exact expected return of a deterministic policy: every label sequence enumerated. */
function exactReturn(
  world: TruthWorld,
  policy: TruthPolicy,
  start: StartState,
  horizon: number,
  rewards: readonly number[],
): number {
  const latent = world.userLatent(start.seed);
  const truth = new TrueUser(world, latent);
  const go = (history: Step[], step: number): number => {
    if (step === horizon) return 0;
    const item = policy.act({
      history,
      step,
      catalogue: world.observable,
      rng: undefined as never, // deterministic policies draw nothing
      rewards,
      truth,
    }) as number;
    const probs = recomputeProbs(world, latent, history, item);
    let v = 0;
    for (const label of [0, 1, 2] as const) {
      v += probs[label] * (rewards[label]! + go([...history, { item, label }], step + 1));
    }
    return v;
  };
  return go([...start.history], 0);
}

Deno.test("monteCarlo() estimates match the exact expected returns of a tiny world within 4 standard errors", async () => {
  // A raised intercept and a weak taste keep every label's probability away from 0 and 1.
  const world = new TruthWorld({
    params: { items: 3, categories: 2, dim: 4, bias: 0, tasteStrength: 1 },
  });
  const byName = new Map(referencePolicies(world).map((p) => [p.name, p]));
  const start: StartState = {
    user: 0,
    seed: world.userSeed("start", 0),
    history: [{ item: 1, label: 1 }],
  };
  const rewards = [0, 1, 5];
  for (const name of ["category-greedy", "most-popular", "repeat-item", "oracle"]) {
    const policy = byName.get(name)!;
    for (const horizon of [1, 2, 3]) {
      const exact = exactReturn(world, policy, start, horizon, rewards);
      const [few] = await monteCarlo(world, [start], {
        policies: [policy],
        rollouts: 250,
        horizon,
        seed: 9,
      });
      const [many] = await monteCarlo(world, [start], {
        policies: [policy],
        rollouts: 4000,
        horizon,
        seed: 9,
      });
      const where = `${name}, H=${horizon}: exact ${exact}, MC ${many!.mean} ± ${many!.stderr}`;
      assert(Math.abs(many!.mean - exact) < 4 * many!.stderr, where);
      assert(Math.abs(many!.expected.mean - exact) < 4 * many!.expected.stderr + 1e-12, where);
      assert(Math.abs(few!.mean - exact) < 4 * few!.stderr, `${where} (250 rollouts)`);
      const ratio = few!.stderr / many!.stderr;
      assert(ratio > 2.5 && ratio < 6, `${where}: stderr ratio ${ratio}, expected about 4`);
    }
  }
});

Deno.test("runPolicy() gives the same episode against an asynchronous responder (a simulator's shape)", async () => {
  const world = new TruthWorld({ params: { items: 80, categories: 5 } });
  const [start] = truthStartStates(world, { startStates: 1, startHistory: 3 });
  const env = trueEnv(world, start!);
  const asyncResponder: Responder = (h, i) => Promise.resolve(env.responder(h, i));
  for (const policy of referencePolicies(world)) {
    const a = await runPolicy(policy, env, { horizon: 8, seed: 3 });
    const b = await runPolicy(policy, { ...env, responder: asyncResponder }, {
      horizon: 8,
      seed: 3,
    });
    assertEquals(b, a, policy.name);
    assertEquals(a.steps.length, 8);
  }
});

Deno.test("runPolicy() applies the leave rule and rejects bad responder answers", async () => {
  const world = new TruthWorld({ params: { items: 40, categories: 4 } });
  const [policy] = referencePolicies(world);
  const base = { catalogue: world.observable, start: [] as Step[] };
  const skips: Responder = () => [1, 0, 0];
  const clicks: Responder = () => [0, 1, 0];
  const left = await runPolicy(policy!, { ...base, responder: skips }, {
    horizon: 10,
    seed: 1,
    leaveAfterSkips: 3,
  });
  assertEquals([left.steps.length, left.left, left.return], [3, true, 0]);
  const stayed = await runPolicy(policy!, { ...base, responder: clicks }, {
    horizon: 10,
    seed: 1,
    leaveAfterSkips: 3,
  });
  assertEquals([stayed.steps.length, stayed.left, stayed.return], [10, false, 10]);
  const bad: Responder = () => [0.5, NaN, 0.5];
  let message = "";
  await runPolicy(policy!, { ...base, responder: bad }, { horizon: 2, seed: 1 }).catch((e) =>
    message = e.message
  );
  assert(message.includes("step 0: probability 1 is NaN"), message);
});

for (const preset of ["base", "hard"] as const) {
  Deno.test(`the reference policies' true returns are spread in the ${preset} preset`, async () => {
    const world = new TruthWorld({ preset, seed: 0, params: { items: 600 } });
    const starts = truthStartStates(world, { startStates: 40, startHistory: 5 });
    const values = await monteCarlo(world, starts, {
      rollouts: 2,
      horizon: 15,
      seed: 5,
    });
    const v = new Map(values.map((p) => [p.name, p]));
    const table = values.map((p) => `${p.name} ${p.mean.toFixed(2)}±${p.stderr.toFixed(2)}`).join(
      ", ",
    );
    const oracle = v.get("oracle")!;
    for (const p of values) {
      if (p.name === "oracle") continue;
      assert(oracle.mean > p.mean + 4 * (oracle.stderr + p.stderr), `oracle not best: ${table}`);
    }
    const sorted = values.map((p) => p.mean).sort((a, b) => a - b);
    const median = (sorted[4]! + sorted[5]!) / 2;
    for (const low of ["random", "repeat-spam"]) {
      assert(v.get(low)!.mean < median, `${low} not low: ${table}`);
    }
    assert(v.get("category-ucb")!.mean > v.get("random")!.mean, table);
  });
}

Deno.test("the world and size options are checked and bad ones name the field", async () => {
  assertThrows(() => new TruthWorld({ preset: "easy" as never }), RangeError, "preset");
  assertThrows(
    () => new TruthWorld({ params: { items: 3, categories: 5 } }),
    RangeError,
    "categories",
  );
  assertThrows(
    () => new TruthWorld({ params: { nope: 1 } as never }),
    RangeError,
    'unknown parameter "nope"',
  );
  assertThrows(
    () => new TruthWorld({ params: { logExploit: 0.9, logPopular: 0.5 } }),
    RangeError,
    "at most 1",
  );
  assertThrows(() => new TruthWorld({ seed: -1 }), RangeError, "seed");
  await using d = await tempDir();
  let message = "";
  await writeTruthWorld(d.path, { ...TINY, minLength: 9, maxLength: 4 }).catch((e) =>
    message = e.message
  );
  assert(message.includes("maxLength must be an integer in [9,"), message);
});
