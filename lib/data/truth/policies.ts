/**
 * Reference policies of a known-truth world and the runner that scores them. A policy sees the
 * observable history (item numbers and labels), the catalogue's observable metadata (category,
 * price, popularity rank) and, only for the oracle, the true user; it returns an item. The
 * runner ({@link runPolicy}) plays it for H steps against any {@link Responder}: the true world
 * ({@link trueEnv}) or, later, a learned simulator. {@link monteCarlo} is that runner with the
 * true responder over start states × rollouts.
 * @module
 */
import { deriveSeed, Rng } from "../../random.ts";
import {
  type ObservableCatalogue,
  type Probs,
  sampleLabel,
  type Step,
  TrueUser,
  type TruthWorld,
} from "./world.ts";
import { upperBound } from "../synth.ts";

/** The default reward of each label: skip 0, click 1, purchase 5. */
export const TRUTH_REWARDS: readonly number[] = Object.freeze([0, 1, 5]);

/** What a policy may know beyond the observable history and catalogue. */
export type PolicyKnowledge = "history" | "item similarity" | "item quality" | "true user state";

/** What a policy sees at one step. */
export interface PolicyInput {
  /** The observable history, oldest first: the start history, then this episode's steps. */
  readonly history: readonly Step[];
  /** Steps already taken in this episode (the start history is history[0 .. length - step)). */
  readonly step: number;
  /** The catalogue's observable metadata. */
  readonly catalogue: ObservableCatalogue;
  /** The policy's own random stream, seeded per episode. */
  readonly rng: Rng;
  /** Reward of each label, in class order. */
  readonly rewards: readonly number[];
  /** The true user; given only to policies that know the true user state. */
  readonly truth?: TrueUser;
}

/** A policy: maps what it sees to an item number. */
export interface TruthPolicy {
  /** Short name, e.g. `category-greedy`. */
  readonly name: string;
  /** One sentence on what it does. */
  readonly description: string;
  /** What it knows beyond the observable history and catalogue. */
  readonly knows: PolicyKnowledge;
  /** The item to show next. */
  act(input: PolicyInput): number | Promise<number>;
}

/** A policy that answers at once (every reference policy is one). */
export interface SyncTruthPolicy extends TruthPolicy {
  /** The item to show next. */
  act(input: PolicyInput): number;
}

/**
 * Anything that answers P(skip, click, purchase) of `item` after the observable `history`: the
 * true world is one responder, a learned simulator another. `history` grows after the call;
 * copy it to keep it.
 */
export type Responder = (history: readonly Step[], item: number) => Probs | Promise<Probs>;

/** Where an episode runs: the catalogue, the start history and the responder. */
export interface PolicyEnv {
  /** The catalogue's observable metadata. */
  readonly catalogue: ObservableCatalogue;
  /** The observable history the episode starts from. */
  readonly start: readonly Step[];
  /** Answers the label probabilities of each shown item. */
  readonly responder: Responder;
  /** The true user, for policies that know it (the oracle). */
  readonly truth?: TrueUser;
}

/** Options of {@link runPolicy}. */
export interface RunOptions {
  /** Steps per episode (H). */
  horizon: number;
  /** Seed of the episode: labels use it directly, the policy a child seed. */
  seed: number;
  /** Reward of each label, in class order. @default TRUTH_REWARDS */
  rewards?: readonly number[];
  /** The user leaves after this many consecutive skips in the episode; 0 never. @default 0 */
  leaveAfterSkips?: number;
}

/** One episode's outcome. */
export interface Episode {
  /** Sum of the sampled labels' rewards. */
  return: number;
  /** Sum over steps of Σ_k rewards[k]·P(k): the return without the label-sampling noise. */
  expectedReturn: number;
  /** The episode's steps, oldest first. */
  steps: Step[];
  /** Whether the leave rule ended the episode (possibly on its last step). */
  left: boolean;
}

/** Checks a responder's answer; throws a RangeError naming the policy and the step. */
function checkProbs(probs: Probs, policy: string, step: number): void {
  let total = 0;
  for (let k = 0; k < 3; k++) {
    const p = probs[k];
    if (typeof p !== "number" || !(p >= 0) || !Number.isFinite(p)) {
      throw new RangeError(
        `Cannot run policy "${policy}": step ${step}: probability ${k} is ${p}`,
      );
    }
    total += p;
  }
  if (!(total > 0)) {
    throw new RangeError(`Cannot run policy "${policy}": step ${step}: probabilities sum to 0`);
  }
}

/**
 * Runs `policy` for up to `horizon` steps from `env.start` against `env.responder`, sampling
 * each label from the responder's probabilities with one uniform per step of an Rng seeded
 * `seed` (so every policy of the same seed sees the same uniforms: common random numbers).
 *
 * @example
 * ```ts
 * import { TruthWorld } from "./world.ts";
 * import { referencePolicies, runPolicy, trueEnv } from "./policies.ts";
 * const w = new TruthWorld({ params: { items: 30, categories: 3 } });
 * const env = trueEnv(w, { user: 0, seed: w.userSeed("start", 0), history: [] });
 * const e = await runPolicy(referencePolicies(w)[1]!, env, { horizon: 5, seed: 1 });
 * e.steps.length; // 5
 * ```
 */
export async function runPolicy(
  policy: TruthPolicy,
  env: PolicyEnv,
  options: RunOptions,
): Promise<Episode> {
  const { horizon, seed } = options;
  const rewards = options.rewards ?? TRUTH_REWARDS;
  const leaveAfter = options.leaveAfterSkips ?? 0;
  const labels = new Rng(seed);
  const rng = new Rng(deriveSeed(seed, "policy"));
  const truth = policy.knows === "true user state" ? env.truth : undefined;
  const V = env.catalogue.items;
  const history: Step[] = [...env.start];
  let ret = 0;
  let expected = 0;
  let skipRun = 0;
  let left = false;
  for (let step = 0; step < horizon && !left; step++) {
    const input: PolicyInput = { history, step, catalogue: env.catalogue, rng, rewards, truth };
    const item = await policy.act(input);
    if (!Number.isInteger(item) || item < 0 || item >= V) {
      throw new RangeError(
        `Cannot run policy "${policy.name}": step ${step}: item ${item} is not in [0, ${V})`,
      );
    }
    const probs = await env.responder(history, item);
    checkProbs(probs, policy.name, step);
    const label = sampleLabel(probs, labels.next());
    ret += rewards[label] ?? 0;
    const total = probs[0] + probs[1] + probs[2];
    for (let k = 0; k < 3; k++) expected += (rewards[k] ?? 0) * probs[k]! / total;
    history.push({ item, label });
    skipRun = label === 0 ? skipRun + 1 : 0;
    left = leaveAfter > 0 && skipRun >= leaveAfter;
  }
  return { return: ret, expectedReturn: expected, steps: history.slice(env.start.length), left };
}

/** A policy-evaluation start state: a fresh user and the observable history it starts from. */
export interface StartState {
  /** Index of the user in the "start" group. */
  readonly user: number;
  /** The user's seed ({@link TruthWorld.userSeed}); the latent is `world.userLatent(seed)`. */
  readonly seed: number;
  /** The observable start history, oldest first. */
  readonly history: readonly Step[];
}

/** The true world as an episode's environment: the true user of `start` answers. */
export function trueEnv(world: TruthWorld, start: StartState): PolicyEnv {
  const truth = new TrueUser(world, world.userLatent(start.seed));
  return {
    catalogue: world.observable,
    start: start.history,
    responder: (history, item) => truth.probs(history, item),
    truth,
  };
}

/** Mean and standard error. */
export interface MeanSe {
  /** The mean. */
  mean: number;
  /** Its standard error. */
  stderr: number;
}

/** One policy's value over start states × rollouts. */
export interface PolicyValue extends MeanSe {
  /** The policy's name. */
  name: string;
  /** What it does. */
  description: string;
  /** What it knows. */
  knows: PolicyKnowledge;
  /** Episodes run (start states × rollouts). */
  episodes: number;
  /** Mean and standard error of the expected return (Σ over steps of the expected reward). */
  expected: MeanSe;
  /** Fraction of steps with a click or purchase. */
  positiveRate: number;
  /** Fraction of steps with a purchase. */
  purchaseRate: number;
  /** Mean steps per episode (below the horizon only with a leave rule). */
  meanSteps: number;
}

/** Options of {@link policyValues} and {@link monteCarlo}. */
export interface MonteCarloOptions {
  /** Rollouts per start state (R). */
  rollouts: number;
  /** Steps per episode (H). */
  horizon: number;
  /** Root seed of the episodes; episode (s, r) uses deriveSeed(seed, "s/r") for every policy. */
  seed: number;
  /** Reward of each label, in class order. @default TRUTH_REWARDS */
  rewards?: readonly number[];
  /** The user leaves after this many consecutive skips; 0 never. @default 0 */
  leaveAfterSkips?: number;
}

/**
 * Mean over start states of each start's mean, and its standard error stratified by start
 * state, √(Σ_s var_s / R) / S (the start states are a fixed set); with R = 1 the plain sd/√n.
 */
export function stratifiedMean(values: readonly (readonly number[])[]): MeanSe {
  const S = values.length;
  const all = values.flat();
  const n = all.length;
  if (n === 0) return { mean: NaN, stderr: NaN };
  let mean = 0;
  for (const row of values) {
    let m = 0;
    for (const x of row) m += x;
    mean += m / row.length / S;
  }
  if (values.every((row) => row.length >= 2)) {
    let varSum = 0;
    for (const row of values) {
      const m = row.reduce((a, b) => a + b, 0) / row.length;
      let ss = 0;
      for (const x of row) ss += (x - m) ** 2;
      varSum += ss / (row.length - 1) / row.length;
    }
    return { mean, stderr: Math.sqrt(varSum) / S };
  }
  let ss = 0;
  for (const x of all) ss += (x - mean) ** 2;
  return { mean, stderr: n < 2 ? 0 : Math.sqrt(ss / (n - 1) / n) };
}

/**
 * Each policy's value over `envs` (one per start state) × `rollouts` episodes of `horizon`
 * steps: in the true world ({@link trueEnv}) or a learned simulator's environments. Episode
 * (s, r) has the same seed for every policy, so their differences are not label-sampling noise.
 */
export async function policyValues(
  policies: readonly TruthPolicy[],
  envs: readonly PolicyEnv[],
  options: MonteCarloOptions,
): Promise<PolicyValue[]> {
  const out: PolicyValue[] = [];
  for (const policy of policies) {
    const returns: number[][] = [];
    const expected: number[][] = [];
    let steps = 0;
    let positives = 0;
    let purchases = 0;
    for (let s = 0; s < envs.length; s++) {
      const row: number[] = [];
      const rowExpected: number[] = [];
      for (let r = 0; r < options.rollouts; r++) {
        const e = await runPolicy(policy, envs[s]!, {
          ...options,
          seed: deriveSeed(options.seed, `${s}/${r}`),
        });
        row.push(e.return);
        rowExpected.push(e.expectedReturn);
        steps += e.steps.length;
        for (const st of e.steps) {
          if (st.label > 0) positives++;
          if (st.label === 2) purchases++;
        }
      }
      returns.push(row);
      expected.push(rowExpected);
    }
    const episodes = envs.length * options.rollouts;
    out.push({
      name: policy.name,
      description: policy.description,
      knows: policy.knows,
      episodes,
      ...stratifiedMean(returns),
      expected: stratifiedMean(expected),
      positiveRate: steps === 0 ? NaN : positives / steps,
      purchaseRate: steps === 0 ? NaN : purchases / steps,
      meanSteps: episodes === 0 ? NaN : steps / episodes,
    });
  }
  return out;
}

/**
 * {@link policyValues} in the true world from `starts`: the Monte Carlo estimate of each
 * policy's true value (by default the {@link referencePolicies}).
 *
 * @example
 * ```ts
 * import { TruthWorld } from "./world.ts";
 * import { monteCarlo } from "./policies.ts";
 * const w = new TruthWorld({ params: { items: 30, categories: 3 } });
 * const starts = [{ user: 0, seed: w.userSeed("start", 0), history: [] }];
 * const values = await monteCarlo(w, starts, { rollouts: 2, horizon: 3, seed: 0 });
 * values.map((v) => v.name).includes("oracle"); // true
 * ```
 */
export function monteCarlo(
  world: TruthWorld,
  starts: readonly StartState[],
  options: MonteCarloOptions & { policies?: readonly TruthPolicy[] },
): Promise<PolicyValue[]> {
  const policies = options.policies ?? referencePolicies(world);
  return policyValues(policies, starts.map((s) => trueEnv(world, s)), options);
}

// ---- Helpers of the policies -----------------------------------------------------------------

/** The items of a history. */
function shownItems(history: readonly Step[]): Set<number> {
  const s = new Set<number>();
  for (const h of history) s.add(h.item);
  return s;
}

/** The first item of list[lo .. hi) not in `shown`, or -1. */
function firstUnshown(list: Uint32Array, lo: number, hi: number, shown: Set<number>): number {
  for (let j = lo; j < hi; j++) if (!shown.has(list[j]!)) return list[j]!;
  return -1;
}

/** The most popular item not shown (the most popular of all when every item was). */
function mostPopular(cat: ObservableCatalogue, shown: Set<number>): number {
  const i = firstUnshown(cat.byPopularity, 0, cat.items, shown);
  return i >= 0 ? i : cat.byPopularity[0]!;
}

/** The most popular unshown item of category c (-1 when all were shown). */
function mostPopularIn(cat: ObservableCatalogue, c: number, shown: Set<number>): number {
  return firstUnshown(cat.byCategory, cat.categoryStart[c]!, cat.categoryStart[c + 1]!, shown);
}

/** The newest positive step's item, or -1. */
function lastPositive(history: readonly Step[]): number {
  for (let k = history.length - 1; k >= 0; k--) if (history[k]!.label > 0) return history[k]!.item;
  return -1;
}

// ---- The logging policy ----------------------------------------------------------------------

/** Popularity-draw tables: cumulative weights in popularity and in category order. */
interface DrawTables {
  all: Float64Array;
  byCategory: Float64Array;
}

function drawTables(cat: ObservableCatalogue, zipf: number): DrawTables {
  const all = new Float64Array(cat.items);
  const byCategory = new Float64Array(cat.items);
  let acc = 0;
  for (let r = 0; r < cat.items; r++) all[r] = acc += (r + 1) ** -zipf;
  acc = 0;
  for (let j = 0; j < cat.items; j++) {
    byCategory[j] = acc += (cat.popularityRank[cat.byCategory[j]!]! + 1) ** -zipf;
  }
  return { all, byCategory };
}

/** An item drawn by popularity from the whole catalogue (c < 0) or from category c. */
function drawPopular(cat: ObservableCatalogue, t: DrawTables, c: number, rng: Rng): number {
  if (c < 0) {
    return cat.byPopularity[upperBound(t.all, 0, cat.items, rng.next() * t.all[cat.items - 1]!)]!;
  }
  const lo = cat.categoryStart[c]!;
  const hi = cat.categoryStart[c + 1]!;
  const below = lo === 0 ? 0 : t.byCategory[lo - 1]!;
  const x = below + rng.next() * (t.byCategory[hi - 1]! - below);
  return cat.byCategory[upperBound(t.byCategory, lo, hi, x)]!;
}

/** The K nearest items of `item` by latent cosine (ties: lower number), computed once per item. */
function neighbourTable(world: TruthWorld): (item: number) => Uint32Array {
  const cache = new Map<number, Uint32Array>();
  const K = Math.min(world.params.neighbours, world.params.items - 1);
  return (item) => {
    let nb = cache.get(item);
    if (nb) return nb;
    const best: { i: number; cos: number }[] = [];
    for (let i = 0; i < world.params.items; i++) {
      if (i === item) continue;
      const cos = world.cosine(item, i);
      if (best.length === K && cos <= best[K - 1]!.cos) continue;
      let j = best.length;
      while (j > 0 && best[j - 1]!.cos < cos) j--;
      best.splice(j, 0, { i, cos });
      if (best.length > K) best.pop();
    }
    nb = Uint32Array.from(best, (b) => b.i);
    cache.set(item, nb);
    return nb;
  };
}

/** Redraws when the drawn item was already shown in the session. */
const REDRAWS = 4;

/**
 * The confounded logging policy that wrote the log: it mostly exploits recent positives (their
 * latent neighbours or their category), sometimes re-shows an earlier positive, draws by
 * popularity or explores uniformly. It never sees the user state; its item-item neighbour table
 * stands in for the production recommender's item embeddings.
 */
export function loggingPolicy(world: TruthWorld): SyncTruthPolicy {
  const p = world.params;
  const cat = world.observable;
  const tables = drawTables(cat, p.popularityZipf);
  const neighbours = neighbourTable(world);
  return {
    name: "logging",
    description:
      "The confounded logging policy: neighbours or category of a recent positive, re-shows, popularity, exploration.",
    knows: "item similarity",
    act({ history, rng }) {
      const positives: number[] = [];
      for (let k = history.length - 1; k >= 0 && positives.length < p.logRecent; k--) {
        if (history[k]!.label > 0) positives.unshift(history[k]!.item);
      }
      const n = positives.length;
      const u = rng.next();
      let draw: () => number;
      if (n > 0 && u < p.logExploit) {
        let k = n - 1;
        while (k > 0 && rng.next() < p.logBack) k--;
        const anchor = positives[k]!;
        const nb = neighbours(anchor);
        draw = rng.next() < p.logNeighbour && nb.length > 0
          ? () => nb[rng.int(nb.length)]!
          : () => drawPopular(cat, tables, cat.category[anchor]!, rng);
      } else if (n > 0 && u < p.logExploit + p.logReshow) {
        return positives[rng.int(n)]!;
      } else if (u < p.logExploit + p.logReshow + p.logPopular) {
        draw = () => drawPopular(cat, tables, -1, rng);
      } else {
        draw = () => rng.int(cat.items);
      }
      const shown = shownItems(history);
      let item = draw();
      for (let r = 0; r < REDRAWS && shown.has(item); r++) item = draw();
      return item;
    },
  };
}

// ---- The other reference policies ------------------------------------------------------------

/** Uniform over the items not shown yet. */
function randomPolicy(): SyncTruthPolicy {
  return {
    name: "random",
    description: "Uniform over the items not shown yet in the session.",
    knows: "history",
    act({ history, catalogue, rng }) {
      const shown = shownItems(history);
      if (shown.size >= catalogue.items) return rng.int(catalogue.items);
      for (;;) {
        const i = rng.int(catalogue.items);
        if (!shown.has(i)) return i;
      }
    },
  };
}

/** The most popular item not shown yet. */
function mostPopularPolicy(): SyncTruthPolicy {
  return {
    name: "most-popular",
    description: "The most popular item not shown yet (the same list for every user).",
    knows: "history",
    act: ({ history, catalogue }) => mostPopular(catalogue, shownItems(history)),
  };
}

/** The most popular unshown item of the newest positive's category. */
function categoryGreedyPolicy(): SyncTruthPolicy {
  return {
    name: "category-greedy",
    description:
      "The most popular unshown item of the category of the newest positive (most popular overall before any).",
    knows: "history",
    act({ history, catalogue }) {
      const shown = shownItems(history);
      const last = lastPositive(history);
      const i = last < 0 ? -1 : mostPopularIn(catalogue, catalogue.category[last]!, shown);
      return i >= 0 ? i : mostPopular(catalogue, shown);
    },
  };
}

/** Cycles through the 3 most popular items of one category, whatever the feedback. */
function repeatSpamPolicy(): SyncTruthPolicy {
  return {
    name: "repeat-spam",
    description:
      "Cycles through the 3 most popular items of the start history's last category, ignoring feedback.",
    knows: "history",
    act({ history, step, catalogue }) {
      const startLength = history.length - step;
      const c = startLength > 0
        ? catalogue.category[history[startLength - 1]!.item]!
        : catalogue.category[catalogue.byPopularity[0]!]!;
      const lo = catalogue.categoryStart[c]!;
      const size = Math.min(3, catalogue.categoryStart[c + 1]! - lo);
      return catalogue.byCategory[lo + (step % size)]!;
    },
  };
}

/** Re-shows the newest positive item. */
function repeatItemPolicy(): SyncTruthPolicy {
  return {
    name: "repeat-item",
    description: "Re-shows the newest positive item (the most popular item before any positive).",
    knows: "history",
    act({ history, catalogue }) {
      const last = lastPositive(history);
      return last >= 0 ? last : catalogue.byPopularity[0]!;
    },
  };
}

/** The best unshown item by true quality (item-level truth, no user state). */
function qualityGreedyPolicy(world: TruthWorld): SyncTruthPolicy {
  const q = world.catalogue.quality;
  const byQuality = Uint32Array.from(
    Array.from({ length: q.length }, (_, i) => i).sort((a, b) => q[b]! - q[a]! || a - b),
  );
  return {
    name: "quality-greedy",
    description: "The unshown item of highest true quality (knows item quality, not the user).",
    knows: "item quality",
    act({ history }) {
      const i = firstUnshown(byQuality, 0, byQuality.length, shownItems(history));
      return i >= 0 ? i : byQuality[0]!;
    },
  };
}

/** Categories the diversity policy keeps away from: those of the last DIVERSITY_WINDOW items. */
const DIVERSITY_WINDOW = 3;

/** The most popular unshown item whose category differs from the last few items' categories. */
function diversityPolicy(): SyncTruthPolicy {
  return {
    name: "diversity",
    description:
      `The most popular unshown item of a category not among the last ${DIVERSITY_WINDOW} items' categories.`,
    knows: "history",
    act({ history, catalogue }) {
      const shown = shownItems(history);
      const recent = new Set<number>();
      for (let k = Math.max(0, history.length - DIVERSITY_WINDOW); k < history.length; k++) {
        recent.add(catalogue.category[history[k]!.item]!);
      }
      for (const i of catalogue.byPopularity) {
        if (!shown.has(i) && !recent.has(catalogue.category[i]!)) return i;
      }
      return mostPopular(catalogue, shown);
    },
  };
}

/** UCB over categories: prior positive rate, pseudo-count and exploration bonus. */
const UCB = { prior: 0.2, strength: 2.5, bonus: 0.1 } as const;

/** A session-level UCB bandit over categories; shows the chosen category's most popular item. */
function categoryUcbPolicy(): SyncTruthPolicy {
  return {
    name: "category-ucb",
    description:
      "UCB over categories from the session's labels; the chosen category's most popular unshown item.",
    knows: "history",
    act({ history, catalogue }) {
      const C = catalogue.categories;
      const n = new Float64Array(C);
      const x = new Float64Array(C);
      for (const h of history) {
        const c = catalogue.category[h.item]!;
        n[c]!++;
        if (h.label > 0) x[c]!++;
      }
      const shown = shownItems(history);
      const log = Math.log(history.length + 2);
      let best = -1;
      let bestScore = -Infinity;
      let bestRank = Infinity;
      for (let c = 0; c < C; c++) {
        const i = mostPopularIn(catalogue, c, shown);
        if (i < 0) continue;
        const score = (x[c]! + UCB.prior * UCB.strength) / (n[c]! + UCB.strength) +
          UCB.bonus * Math.sqrt(log / (n[c]! + 1));
        const rank = catalogue.popularityRank[i]!;
        if (score > bestScore || (score === bestScore && rank < bestRank)) {
          [best, bestScore, bestRank] = [i, score, rank];
        }
      }
      return best >= 0 ? best : mostPopular(catalogue, shown);
    },
  };
}

/** Greedy on the true expected reward of every item in the true user state. */
function oraclePolicy(): SyncTruthPolicy {
  let scores = new Float64Array(0);
  return {
    name: "oracle",
    description: "Greedy on the true expected reward of every item, given the true user state.",
    knows: "true user state",
    act({ history, rewards, truth }) {
      if (!truth) throw new TypeError('Cannot act: policy "oracle" needs the true user');
      const world = truth.world;
      if (scores.length !== world.params.items) scores = new Float64Array(world.params.items);
      world.expectedRewards(truth.stateAfter(history), rewards, scores);
      let best = 0;
      for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
      return best;
    },
  };
}

/**
 * The reference policies of a world, in a fixed order: random, most-popular, logging,
 * category-greedy, repeat-spam, repeat-item, quality-greedy, diversity, category-ucb, oracle.
 *
 * @example
 * ```ts
 * import { TruthWorld } from "./world.ts";
 * import { referencePolicies } from "./policies.ts";
 * referencePolicies(new TruthWorld({ params: { items: 30, categories: 3 } })).length; // 10
 * ```
 */
export function referencePolicies(world: TruthWorld): SyncTruthPolicy[] {
  return [
    randomPolicy(),
    mostPopularPolicy(),
    loggingPolicy(world),
    categoryGreedyPolicy(),
    repeatSpamPolicy(),
    repeatItemPolicy(),
    qualityGreedyPolicy(world),
    diversityPolicy(),
    categoryUcbPolicy(),
    oraclePolicy(),
  ];
}
