/**
 * Writes a known-truth world directory: `log.csv` (sessions logged by the confounded logging
 * policy, the canonical CSV log) and `truth/` (world.json, items.csv, cases.jsonl,
 * start_states.json, policies.json). The generators behind each file are exported too. Formats
 * are documented in `docs/truth_worlds.md`. The same options give byte-identical files.
 * @module
 */
import { join } from "node:path";
import { streamFileAtomic, writeFileSynced } from "../../atomic.ts";
import { entryOf, type MarkedEntry } from "../../output.ts";
import { Rng } from "../../random.ts";
import { RECSIMU_VERSION } from "../../version.ts";
import {
  loggingPolicy,
  monteCarlo,
  type PolicyValue,
  type StartState,
  type SyncTruthPolicy,
  TRUTH_REWARDS,
} from "./policies.ts";
import {
  type Probs,
  sampleLabel,
  type Step,
  TRUTH_LABELS,
  TRUTH_VERSION,
  type TruthLabel,
  TruthWorld,
  type TruthWorldOptions,
  type UserLatent,
  type UserState,
} from "./world.ts";

/** Sizes and evaluation settings of a written world (the world itself: {@link TruthWorldOptions}). */
export interface TruthSizes {
  /** Logged sessions in log.csv, one fresh user each. @default 8000 */
  sessions: number;
  /** Shortest logged session, in rows. @default 10 */
  minLength: number;
  /** Longest logged session, in rows (lengths uniform in [minLength, maxLength]). @default 50 */
  maxLength: number;
  /** Held-out test cases in cases.jsonl, one fresh user each. @default 5000 */
  cases: number;
  /** Longest case history (lengths uniform in [0, caseMaxHistory]). @default 20 */
  caseMaxHistory: number;
  /** Share of cases whose action is uniform over the catalogue (spread evenly). @default 0.5 */
  randomActionShare: number;
  /** Policy-evaluation start states (fresh users). @default 200 */
  startStates: number;
  /** Length of each start history, logged by the logging policy. @default 5 */
  startHistory: number;
  /** Monte Carlo rollouts per start state. @default 4 */
  rollouts: number;
  /** Steps per rollout (H). @default 20 */
  horizon: number;
  /** Reward of skip, click and purchase. @default [0, 1, 5] */
  rewards: readonly number[];
  /** Leave rule: the user leaves after this many consecutive skips; 0 never. @default 0 */
  leaveAfterSkips: number;
}

/** Options of {@link writeTruthWorld}: the world (preset, seed, parameters) and the sizes. */
export type TruthWriteOptions = TruthWorldOptions & Partial<TruthSizes>;

/** Default {@link TruthSizes}. */
export const TRUTH_SIZE_DEFAULTS: Readonly<TruthSizes> = Object.freeze({
  sessions: 8000,
  minLength: 10,
  maxLength: 50,
  cases: 5000,
  caseMaxHistory: 20,
  randomActionShare: 0.5,
  startStates: 200,
  startHistory: 5,
  rollouts: 4,
  horizon: 20,
  rewards: TRUTH_REWARDS,
  leaveAfterSkips: 0,
});

/** Upper bounds of the sizes. */
export const TRUTH_SIZE_LIMITS = {
  sessions: 10_000_000,
  length: 100_000,
  cases: 10_000_000,
  startStates: 1_000_000,
  rollouts: 100_000,
} as const;

/** The merged, checked sizes of `options`; throws a RangeError naming the first bad one. */
export function truthSizes(options: Partial<TruthSizes> = {}): TruthSizes {
  const o: TruthSizes = { ...TRUTH_SIZE_DEFAULTS };
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && k in TRUTH_SIZE_DEFAULTS) {
      (o as unknown as Record<string, unknown>)[k] = v;
    }
  }
  const int = (name: keyof TruthSizes, min: number, max: number) => {
    const v = o[name];
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
      throw new RangeError(
        `Cannot write a truth world: ${name} must be an integer in [${min}, ${max}], got ${v}`,
      );
    }
  };
  const L = TRUTH_SIZE_LIMITS;
  int("sessions", 0, L.sessions);
  int("minLength", 1, L.length);
  int("maxLength", o.minLength, L.length);
  int("cases", 0, L.cases);
  int("caseMaxHistory", 0, L.length);
  int("startStates", 1, L.startStates);
  int("startHistory", 0, L.length);
  int("rollouts", 1, L.rollouts);
  int("horizon", 1, L.length);
  int("leaveAfterSkips", 0, L.length);
  if (!(o.randomActionShare >= 0 && o.randomActionShare <= 1)) {
    throw new RangeError(
      `Cannot write a truth world: randomActionShare must be in [0, 1], got ${o.randomActionShare}`,
    );
  }
  if (o.rewards.length !== 3 || !o.rewards.every(Number.isFinite)) {
    throw new RangeError(
      `Cannot write a truth world: rewards must be 3 finite numbers (skip, click, purchase), got ${
        JSON.stringify(o.rewards)
      }`,
    );
  }
  return o;
}

/** A logged history and the true state behind it. */
interface LoggedHistory {
  /** The observable steps, oldest first. */
  steps: Step[];
  /** The true user state after them. */
  state: UserState;
}

/**
 * `length` steps of user `latent` under `policy`, labels drawn from the true response model
 * with `rng` (which the policy shares).
 */
function loggedHistory(
  world: TruthWorld,
  policy: SyncTruthPolicy,
  latent: UserLatent,
  length: number,
  rng: Rng,
): LoggedHistory {
  const state = world.initialState(latent);
  const steps: Step[] = [];
  for (let step = 0; step < length; step++) {
    const item = policy.act({
      history: steps,
      step,
      catalogue: world.observable,
      rng,
      rewards: TRUTH_REWARDS,
    });
    const label = sampleLabel(world.probs(state, item), rng.next());
    steps.push({ item, label });
    world.step(state, item, label);
  }
  return { steps, state };
}

/** One row of log.csv. */
export interface TruthLogRow {
  /** Session id, `s{k}`. */
  session: string;
  /** Item id, `i{v}`. */
  item: string;
  /** The label's name. */
  feedback: typeof TRUTH_LABELS[number];
  /** Unix time in seconds; strictly increasing within a session. */
  timestamp: number;
}

/** First session starts at T0; session k starts at T0 + k·SESSION_SPACING + U{0 … 599}. */
const T0 = 1_700_000_000;
const SESSION_SPACING = 20;
/** Mean seconds spent on an item, by label (exponential, plus 1 s minimum). */
const DWELL = [8, 45, 120] as const;

/**
 * The rows of log.csv: session k is user k of the "log" group under the logging policy, its
 * length uniform in [minLength, maxLength]. Session k depends only on the world and the
 * lengths, so more sessions extend a log of fewer.
 */
export function* truthLogRows(
  world: TruthWorld,
  sizes: Pick<TruthSizes, "sessions" | "minLength" | "maxLength">,
): Generator<TruthLogRow> {
  const logging = loggingPolicy(world);
  const span = sizes.maxLength - sizes.minLength + 1;
  for (let k = 0; k < sizes.sessions; k++) {
    const rng = new Rng(world.childSeed(`log/${k}`));
    const time = new Rng(world.childSeed(`log/${k}/time`));
    const length = sizes.minLength + rng.int(span);
    const { steps } = loggedHistory(world, logging, world.user("log", k), length, rng);
    let t = T0 + k * SESSION_SPACING + time.int(600);
    for (const s of steps) {
      yield { session: `s${k}`, item: `i${s.item}`, feedback: TRUTH_LABELS[s.label], timestamp: t };
      t += 1 + Math.floor(-DWELL[s.label] * Math.log(1 - time.next()));
    }
  }
}

/** One held-out test case of cases.jsonl. */
export interface TruthCase {
  /** Index of the user in the "case" group (its latent: `world.user("case", user)`). */
  user: number;
  /** Who chose the action: the logging policy or a uniform draw over the catalogue. */
  source: "logging" | "random";
  /** The observable history, oldest first. */
  state: Step[];
  /** The item shown. */
  action: number;
  /** The TRUE label probabilities of the action given the true state behind `state`. */
  probs: Probs;
  /** A label drawn from `probs`. */
  label: TruthLabel;
}

/** Whether case k's action is uniform: spreads a share f evenly (f = 0.5 alternates). */
function isRandomCase(k: number, share: number): boolean {
  return Math.floor((k + 1) * share) > Math.floor(k * share);
}

/**
 * The held-out cases: case k is a fresh user k of the "case" group, a logged history of length
 * uniform in [0, caseMaxHistory], then an action from the logging policy or uniform.
 */
export function* truthCases(
  world: TruthWorld,
  sizes: Pick<TruthSizes, "cases" | "caseMaxHistory" | "randomActionShare">,
): Generator<TruthCase> {
  const logging = loggingPolicy(world);
  for (let k = 0; k < sizes.cases; k++) {
    const rng = new Rng(world.childSeed(`case/${k}`));
    const length = rng.int(sizes.caseMaxHistory + 1);
    const { steps, state } = loggedHistory(world, logging, world.user("case", k), length, rng);
    const random = isRandomCase(k, sizes.randomActionShare);
    const action = random ? rng.int(world.params.items) : logging.act({
      history: steps,
      step: steps.length,
      catalogue: world.observable,
      rng,
      rewards: TRUTH_REWARDS,
    });
    const probs = world.probs(state, action);
    const label = sampleLabel(probs, rng.next());
    yield { user: k, source: random ? "random" : "logging", state: steps, action, probs, label };
  }
}

/** The start states: fresh user k of the "start" group after `startHistory` logged steps. */
export function truthStartStates(
  world: TruthWorld,
  sizes: Pick<TruthSizes, "startStates" | "startHistory">,
): StartState[] {
  const logging = loggingPolicy(world);
  const out: StartState[] = [];
  for (let k = 0; k < sizes.startStates; k++) {
    const seed = world.userSeed("start", k);
    const rng = new Rng(world.childSeed(`start/${k}`));
    const { steps } = loggedHistory(
      world,
      logging,
      world.userLatent(seed),
      sizes.startHistory,
      rng,
    );
    out.push({ user: k, seed, history: steps });
  }
  return out;
}

/** A history as the simulator's state format: `{ item: "i3", feedback: "click" }` pairs. */
function stepRecords(steps: readonly Step[]): { item: string; feedback: string }[] {
  return steps.map((s) => ({ item: `i${s.item}`, feedback: TRUTH_LABELS[s.label] }));
}

/** Bytes of text gathered before each write. */
const CHUNK = 64 * 1024;

/** Streams the lines of `lines` into `path` (atomically, fsynced), in ~64 KB chunks. */
async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  await streamFileAtomic(path, async (write) => {
    let buf = "";
    for (const line of lines) {
      buf += line + "\n";
      if (buf.length >= CHUNK) {
        await write(buf);
        buf = "";
      }
    }
    if (buf.length > 0) await write(buf);
  });
}

/** Label statistics of the log or of one source of cases. */
export interface RateStats {
  /** Rows or cases. */
  n: number;
  /** Fraction with a click or purchase label. */
  positiveRate: number;
  /** Fraction with a purchase label. */
  purchaseRate: number;
  /** Mean true P(click or purchase) (cases only). */
  meanPositiveProb?: number;
}

/** Counts labels as they stream past. */
class RateCounter {
  n = 0;
  positives = 0;
  purchases = 0;
  probSum = 0;
  add(label: TruthLabel, probs?: Probs): void {
    this.n++;
    if (label > 0) this.positives++;
    if (label === 2) this.purchases++;
    if (probs) this.probSum += probs[1] + probs[2];
  }
  stats(withProbs: boolean): RateStats {
    const r = (x: number) => (this.n === 0 ? 0 : x / this.n);
    const s: RateStats = {
      n: this.n,
      positiveRate: r(this.positives),
      purchaseRate: r(this.purchases),
    };
    if (withProbs) s.meanPositiveProb = r(this.probSum);
    return s;
  }
}

/** What {@link writeTruthWorld} wrote. */
export interface TruthWriteResult {
  /** The top-level entries written, for the output marker (`writeDirAtomic`). */
  files: Record<string, MarkedEntry>;
  /** The world's merged parameters and sizes. */
  world: TruthWorld;
  /** The sizes used. */
  sizes: TruthSizes;
  /** Label statistics of log.csv. */
  log: RateStats;
  /** Label statistics of the cases, by source of the action. */
  cases: { logging: RateStats; random: RateStats };
  /** The reference policies' true values, as in policies.json. */
  policies: PolicyValue[];
}

/** Writes log.csv; returns its label statistics. */
async function writeLog(dir: string, world: TruthWorld, sizes: TruthSizes): Promise<RateStats> {
  const count = new RateCounter();
  const labelIndex = new Map(TRUTH_LABELS.map((l, k) => [l, k as TruthLabel]));
  function* lines() {
    yield "session_id,item_id,feedback,timestamp";
    for (const r of truthLogRows(world, sizes)) {
      count.add(labelIndex.get(r.feedback)!);
      yield `${r.session},${r.item},${r.feedback},${r.timestamp}`;
    }
  }
  await writeLines(join(dir, "log.csv"), lines());
  return count.stats(false);
}

/** Writes truth/cases.jsonl; returns the label statistics by source. */
async function writeCases(
  dir: string,
  world: TruthWorld,
  sizes: TruthSizes,
): Promise<{ logging: RateStats; random: RateStats }> {
  const counts = { logging: new RateCounter(), random: new RateCounter() };
  function* lines() {
    for (const c of truthCases(world, sizes)) {
      counts[c.source].add(c.label, c.probs);
      const [skip, click, purchase] = c.probs;
      yield JSON.stringify({
        user: c.user,
        source: c.source,
        state: stepRecords(c.state),
        action: `i${c.action}`,
        probs: { skip, click, purchase },
        label: TRUTH_LABELS[c.label],
      });
    }
  }
  await writeLines(join(dir, "truth", "cases.jsonl"), lines());
  return { logging: counts.logging.stats(true), random: counts.random.stats(true) };
}

/** The leave rule as written in world.json and policies.json. */
function leaveRule(sizes: TruthSizes): Record<string, unknown> {
  return sizes.leaveAfterSkips > 0
    ? { rule: "consecutive-skips", skips: sizes.leaveAfterSkips }
    : { rule: "none" };
}

/** The reward as a label map. */
function rewardMap(sizes: TruthSizes): Record<string, number> {
  return Object.fromEntries(TRUTH_LABELS.map((l, k) => [l, sizes.rewards[k]!]));
}

/** Writes a small JSON file (fsynced); returns its marker entry. */
async function writeJson(path: string, value: unknown): Promise<MarkedEntry> {
  const bytes = new TextEncoder().encode(JSON.stringify(value, null, 1) + "\n");
  await writeFileSynced(path, bytes);
  return entryOf(bytes);
}

/** Writes truth/start_states.json. */
async function writeStartStates(dir: string, world: TruthWorld, starts: StartState[]) {
  await writeJson(join(dir, "truth", "start_states.json"), {
    group: "start",
    note: "latent = world.userLatent(seed); the true state is the latent replayed over history",
    states: starts.map((s) => {
      const latent = world.userLatent(s.seed);
      return {
        user: s.user,
        seed: s.seed,
        latent: {
          taste: [...latent.taste],
          engagement: latent.engagement,
          priceSensitivity: latent.priceSensitivity,
        },
        history: stepRecords(s.history),
      };
    }),
  });
}

/** Writes truth/policies.json; returns the policies' values. */
async function writePolicies(
  dir: string,
  world: TruthWorld,
  sizes: TruthSizes,
  starts: StartState[],
): Promise<PolicyValue[]> {
  const seed = world.childSeed("mc");
  const values = await monteCarlo(world, starts, { ...sizes, seed });
  await writeJson(join(dir, "truth", "policies.json"), {
    reward: rewardMap(sizes),
    leave: leaveRule(sizes),
    horizon: sizes.horizon,
    startStates: starts.length,
    rollouts: sizes.rollouts,
    seed,
    stderr: "stratified by start state: sqrt(sum_s var_s / R) / S",
    policies: values,
  });
  return values;
}

/** Writes truth/items.csv: the observable catalogue. */
async function writeItems(dir: string, world: TruthWorld): Promise<void> {
  const c = world.observable;
  function* lines() {
    yield "item_id,category,price,popularity_rank";
    for (let i = 0; i < c.items; i++) {
      yield `i${i},${c.category[i]},${c.price[i]!.toFixed(2)},${c.popularityRank[i]}`;
    }
  }
  await writeLines(join(dir, "truth", "items.csv"), lines());
}

/** The files of a world directory and what each holds (listed in world.json). */
const TRUTH_FILES = {
  "log.csv": "sessions logged by the logging policy (session_id,item_id,feedback,timestamp)",
  "truth/world.json": "preset, seed, parameters, sizes, reward, leave rule, versions, statistics",
  "truth/items.csv": "observable catalogue (item_id,category,price,popularity_rank)",
  "truth/cases.jsonl": "held-out cases of fresh users with the action's true label probabilities",
  "truth/start_states.json": "start histories of fresh users, with each user's seed and latent",
  "truth/policies.json": "reference policies' true mean returns and standard errors",
} as const;

/**
 * Writes a known-truth world into `dir` (a temporary directory the caller owns; created if
 * missing): log.csv and truth/{world.json, items.csv, cases.jsonl, start_states.json,
 * policies.json}. Returns the top-level entries for the output marker and the statistics.
 *
 * @example
 * ```ts ignore
 * import { writeTruthWorld } from "./write.ts";
 * const r = await writeTruthWorld("/tmp/w", { preset: "hard", seed: 3, sessions: 100 });
 * r.policies.map((p) => [p.name, p.mean]);
 * ```
 */
export async function writeTruthWorld(
  dir: string,
  options: TruthWriteOptions = {},
): Promise<TruthWriteResult> {
  const sizes = truthSizes(options);
  const world = new TruthWorld(options);
  await Deno.mkdir(join(dir, "truth"), { recursive: true });
  const log = await writeLog(dir, world, sizes);
  await writeItems(dir, world);
  const cases = await writeCases(dir, world, sizes);
  const starts = truthStartStates(world, sizes);
  await writeStartStates(dir, world, starts);
  const policies = await writePolicies(dir, world, sizes, starts);
  await writeJson(join(dir, "truth", "world.json"), {
    format: "recsimu-truth-world",
    version: TRUTH_VERSION,
    recsimu: RECSIMU_VERSION,
    preset: world.preset,
    seed: world.seed,
    labels: TRUTH_LABELS,
    positive: TRUTH_LABELS.map((l) => l !== "skip"),
    parameters: world.params,
    sizes,
    reward: rewardMap(sizes),
    leave: leaveRule(sizes),
    files: TRUTH_FILES,
    stats: { log, cases },
  });
  return { files: { "log.csv": null, truth: null }, world, sizes, log, cases, policies };
}
