/**
 * Reads a known-truth world directory (`recsimu synth --truth`, docs/truth_worlds.md) back for
 * the judge: the world rebuilt from truth/world.json (and checked against the written start
 * states), the held-out cases, the start states, the recorded policy values and a summary of
 * log.csv (label shares, positives per item). Every problem is a {@link DataFormatError} or
 * {@link UserError} that names the file, line and field.
 * @module
 */
import { join } from "node:path";
import { DataFormatError, UserError } from "../errors.ts";
import { readLog } from "../data/read_log.ts";
import type { PolicyValue, StartState } from "../data/truth/policies.ts";
import {
  type Probs,
  type Step,
  TRUTH_LABELS,
  TRUTH_VERSION,
  type TruthLabel,
  TruthWorld,
} from "../data/truth/world.ts";

/** The format tag of truth/world.json. */
export const TRUTH_WORLD_FORMAT = "recsimu-truth-world";

/** One held-out case of truth/cases.jsonl, with items and labels as numbers. */
export interface JudgedCase {
  /** The user's index in the "case" group. */
  user: number;
  /** Who chose the action. */
  source: "logging" | "random";
  /** The observable history, oldest first. */
  state: Step[];
  /** The item shown. */
  action: number;
  /** The TRUE label probabilities (skip, click, purchase). */
  probs: Probs;
  /** The sampled label. */
  label: TruthLabel;
}

/** The settings and values of truth/policies.json. */
export interface RecordedPolicies {
  /** Reward of each label, in label order. */
  rewards: number[];
  /** The leave rule: the user leaves after this many consecutive skips; 0 never. */
  leaveAfterSkips: number;
  /** Steps per episode. */
  horizon: number;
  /** Start states the values were estimated from (the first of start_states.json). */
  startStates: number;
  /** Rollouts per start state. */
  rollouts: number;
  /** The Monte Carlo root seed (episode (s, r) uses deriveSeed(seed, "s/r")). */
  seed: number;
  /** Each reference policy's true value, in the file's order. */
  values: PolicyValue[];
}

/** What the judge needs of log.csv. */
export interface LogSummary {
  /** Data rows. */
  rows: number;
  /** Share of each label, in label order (sums to 1). */
  labelShares: Probs;
  /** Positive rows (click or purchase) of each item: the popularity score. */
  itemPositives: Float64Array;
}

/** A truth world directory, read. */
export interface TruthData {
  /** The directory, as given. */
  dir: string;
  /** The world rebuilt from world.json. */
  world: TruthWorld;
  /** world.json as written (preset, seed, parameters, sizes, stats …). */
  description: Record<string, unknown>;
  /** The held-out cases, in file order. */
  cases: JudgedCase[];
  /** The start states, in file order. */
  starts: StartState[];
  /** The recorded policy values and their settings. */
  policies: RecordedPolicies;
  /** The log's label shares and item popularity. */
  log: LogSummary;
}

/** Reads and parses a JSON file; errors name the file. */
async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "it does not exist" : (e as Error).message;
    throw new UserError(`Cannot read "${path}": ${why} (is it a recsimu synth --truth folder?)`);
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* reported below */ }
  throw new DataFormatError({ file: path }, "expected a JSON object");
}

/** Parses item id `i{v}` of a world with `items` items; throws naming the place. */
function itemNumber(id: unknown, items: number, where: () => DataFormatError): number {
  const m = typeof id === "string" ? /^i(0|[1-9]\d*)$/.exec(id) : null;
  const v = m ? Number(m[1]) : NaN;
  if (!(v < items)) throw where();
  return v;
}

/** The class index of a label name. */
function labelNumber(name: unknown, where: () => DataFormatError): TruthLabel {
  const k = TRUTH_LABELS.indexOf(name as typeof TRUTH_LABELS[number]);
  if (k < 0) throw where();
  return k as TruthLabel;
}

/** A history in the request format ({item, feedback} records) as steps. */
function parseHistory(
  records: unknown,
  items: number,
  at: (field: string, detail: string) => DataFormatError,
): Step[] {
  if (!Array.isArray(records)) throw at("state", "expected an array of {item, feedback}");
  return records.map((r, t) => ({
    item: itemNumber(r?.item, items, () => at(`[${t}].item`, `not an item of the world`)),
    label: labelNumber(r?.feedback, () => at(`[${t}].feedback`, `not one of ${TRUTH_LABELS}`)),
  }));
}

/** The world of world.json, rebuilt; refuses other formats and versions. */
function rebuildWorld(path: string, d: Record<string, unknown>): TruthWorld {
  if (d.format !== TRUTH_WORLD_FORMAT) {
    throw new DataFormatError({ file: path, column: "format" }, `expected "${TRUTH_WORLD_FORMAT}"`);
  }
  if (d.version !== TRUTH_VERSION) {
    throw new DataFormatError(
      { file: path, column: "version" },
      `the world has version ${d.version}; this recsimu rebuilds version ${TRUTH_VERSION}`,
    );
  }
  if (JSON.stringify(d.labels) !== JSON.stringify(TRUTH_LABELS)) {
    throw new DataFormatError({ file: path, column: "labels" }, `expected ${TRUTH_LABELS}`);
  }
  try {
    return new TruthWorld({
      preset: d.preset as TruthWorld["preset"],
      seed: d.seed as number,
      params: d.parameters as TruthWorld["params"],
    });
  } catch (e) {
    if (e instanceof RangeError) throw new DataFormatError({ file: path }, e.message);
    throw e;
  }
}

/** truth/cases.jsonl, parsed. */
async function readCases(path: string, items: number): Promise<JudgedCase[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UserError(`Cannot read "${path}": ${(e as Error).message}`);
  }
  const out: JudgedCase[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === "") continue;
    const at = (field: string, detail: string) =>
      new DataFormatError({ file: path, line: i + 1, column: field }, detail);
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(lines[i]!);
    } catch {
      throw new DataFormatError({ file: path, line: i + 1 }, "not a JSON object");
    }
    const p = c?.probs as Record<string, unknown> | undefined;
    const probs = TRUTH_LABELS.map((l) => p?.[l]);
    if (!probs.every((x) => typeof x === "number" && x >= 0 && x <= 1)) {
      throw at("probs", "expected {skip, click, purchase} probabilities");
    }
    if (c.source !== "logging" && c.source !== "random") throw at("source", "logging or random");
    if (!Number.isInteger(c.user)) throw at("user", "expected an integer");
    out.push({
      user: c.user as number,
      source: c.source,
      state: parseHistory(c.state, items, (f, d) => at(`state${f}`, d)),
      action: itemNumber(c.action, items, () => at("action", "not an item of the world")),
      probs: probs as unknown as Probs,
      label: labelNumber(c.label, () => at("label", `not one of ${TRUTH_LABELS}`)),
    });
  }
  return out;
}

/** truth/start_states.json, parsed; checks that the rebuilt world gives the written latents. */
function parseStarts(path: string, d: Record<string, unknown>, world: TruthWorld): StartState[] {
  if (!Array.isArray(d.states)) throw new DataFormatError({ file: path }, "expected states: [...]");
  return d.states.map((s, k) => {
    const at = (field: string, detail: string) =>
      new DataFormatError({ file: path, column: `states[${k}].${field}` }, detail);
    if (!Number.isInteger(s?.seed)) throw at("seed", "expected an integer");
    const latent = world.userLatent(s.seed);
    if (latent.engagement !== s?.latent?.engagement) {
      throw at(
        "latent",
        "the world rebuilt from world.json does not give this latent (edited or another version?)",
      );
    }
    const history = parseHistory(s.history, world.params.items, (f, d) => at(`history${f}`, d));
    return { user: s.user, seed: s.seed, history };
  });
}

/** truth/policies.json, parsed. */
function parsePolicies(path: string, d: Record<string, unknown>): RecordedPolicies {
  const at = (field: string, detail: string) =>
    new DataFormatError({ file: path, column: field }, detail);
  const reward = d.reward as Record<string, unknown> | undefined;
  const rewards = TRUTH_LABELS.map((l) => reward?.[l]);
  if (!rewards.every(Number.isFinite)) throw at("reward", "expected a number per label");
  const leave = d.leave as { rule?: unknown; skips?: unknown } | undefined;
  const leaveAfterSkips = leave?.rule === "consecutive-skips" ? leave.skips : 0;
  if (!Number.isInteger(leaveAfterSkips)) throw at("leave", "expected a leave rule");
  for (const k of ["horizon", "startStates", "rollouts", "seed"] as const) {
    if (!Number.isInteger(d[k])) throw at(k, "expected an integer");
  }
  if (!Array.isArray(d.policies)) throw at("policies", "expected an array");
  return {
    rewards: rewards as number[],
    leaveAfterSkips: leaveAfterSkips as number,
    horizon: d.horizon as number,
    startStates: d.startStates as number,
    rollouts: d.rollouts as number,
    seed: d.seed as number,
    values: d.policies as PolicyValue[],
  };
}

/** log.csv's label shares and positives per item. */
async function summariseLog(path: string, items: number): Promise<LogSummary> {
  const counts = [0, 0, 0];
  const itemPositives = new Float64Array(items);
  const { rows } = await readLog(path, (r) => {
    const where = (column: string, what: string) => () =>
      new DataFormatError({ file: path, line: r.line, column }, what);
    const label = labelNumber(r.feedback, where("feedback", `not one of ${TRUTH_LABELS}`));
    counts[label]!++;
    if (label > 0) {
      itemPositives[itemNumber(r.item, items, where("item_id", "not an item of the world"))]!++;
    }
  });
  if (rows === 0) throw new DataFormatError({ file: path }, "the log has no rows");
  return { rows, labelShares: counts.map((c) => c / rows) as unknown as Probs, itemPositives };
}

/**
 * Reads the truth world in `dir`: `dir/log.csv` and `dir/truth/*`.
 *
 * @example
 * ```ts ignore
 * const t = await loadTruthDir("runs/base0");
 * t.cases.length; // 5000
 * ```
 */
export async function loadTruthDir(dir: string): Promise<TruthData> {
  const file = (name: string) => join(dir, "truth", name);
  const description = await readJson(file("world.json"));
  const world = rebuildWorld(file("world.json"), description);
  const V = world.params.items;
  const starts = parseStarts(
    file("start_states.json"),
    await readJson(file("start_states.json")),
    world,
  );
  const policies = parsePolicies(file("policies.json"), await readJson(file("policies.json")));
  if (policies.startStates > starts.length) {
    throw new DataFormatError(
      { file: file("policies.json"), column: "startStates" },
      `${policies.startStates} start states, but start_states.json has ${starts.length}`,
    );
  }
  return {
    dir,
    world,
    description,
    cases: await readCases(file("cases.jsonl"), V),
    starts,
    policies,
    log: await summariseLog(join(dir, "log.csv"), V),
  };
}
