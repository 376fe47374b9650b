/**
 * `deno task fidelity:logs`: issue 14's target on real logs. For each log, training
 * configuration and seed it trains a simulator with its users held out and judges it on every
 * held-out tuple, beside the item-rate, LR and supervised-GRU baselines, through main.ts as
 * subprocesses with RECSIMU_THREADS=1:
 *
 *   recsimu train --data LOG --out W/<log>/<config>/seed<s> --split users --seed <s> <flags>
 *   recsimu fidelity --model W/<log>/<config>/seed<s> --log LOG --out W/<log>/<config>/seed<s>.fidelity.json
 *
 * then prints ONE JSON on stdout: per log × configuration the per-seed figures, the paired
 * comparisons over seeds of the simulator's AUC with each baseline's and with the per-seed best
 * one's, and the verdict (bench/_logs_summary.ts; the statistics in bench/_paired.ts).
 *
 *   deno task fidelity:logs [--logs ml100k,mind_small_subset] [--seeds 0,1,2,3,4]
 *     [--compare "FLAGS_A" "FLAGS_B" ...] [--train-flags "FLAGS"] [--data-root DIR] [--work DIR]
 *     [--jobs 1|2] [--summary-only]
 *
 * A log NAME is DIR/NAME/log.csv under `--data-root` (default ../shared/data from the repository
 * root). `--compare` names each configuration's own flags ("" is the defaults, folder
 * `default`); `--train-flags` go to every training. A report is reused when the training config it
 * records (`simulator.config`) is the one these flags give for the seed and it judged this log
 * (sha256) with all three baselines; a finished checkpoint with that config is judged without
 * retraining. `--summary-only` runs nothing and lists what is missing. Progress on stderr; each
 * subprocess's stderr goes to `seed<s>.train.log` / `seed<s>.fidelity.log` beside its output.
 * @module
 */
import { createHash } from "node:crypto";
import { join, relative, resolve } from "node:path";
import { writeFileAtomic } from "../lib/atomic.ts";
import { TRAIN_DEFAULTS, type TrainConfig } from "../lib/config.ts";
import { configFromFlags, TRAIN_FLAGS } from "../lib/commands/train.ts";
import { parseFlags } from "../lib/commands/_flags.ts";
import { ROOT } from "./_server.ts";
import { pool, recsimu, running } from "./_subprocess.ts";
import { flagWords, scanBenchArgs } from "./_fidelity_summary.ts";
import {
  BASELINES,
  type SeedFigures,
  seedFigures,
  type SeedRun,
  summariseSeeds,
  TARGET_RULE,
} from "./_logs_summary.ts";

const VALUE_FLAGS = ["logs", "seeds", "train-flags", "data-root", "work", "jobs"] as const;
const BOOLEAN_FLAGS = ["compare", "summary-only", "help"] as const;

const USAGE = `Usage: deno task fidelity:logs [--logs ml100k,mind_small_subset] [--seeds 0,1,2,3,4]
  [--compare "FLAGS_A" "FLAGS_B" ...] [--train-flags "FLAGS"] [--data-root DIR] [--work DIR]
  [--jobs 1|2] [--summary-only]`;

/** Training flags the bench sets itself, or that would make its runs unreusable. */
const OWN_FLAGS = ["data", "out", "split", "seed", "resume", "overwrite"];
/** Training flags a configuration may carry: the model's, the holdout, backend and quiet. */
const CONFIG_FLAGS = {
  ...TRAIN_FLAGS,
  holdout: { type: "string" },
  backend: { type: "string" },
  quiet: { type: "boolean" },
} as const;

/** A bad flag or input file: one line, exit 2. */
export class BenchInputError extends Error {
  override name = "BenchInputError";
}

/** One training configuration. */
export interface ConfigSpec {
  /** Folder and display name: "default" for no flags of its own. */
  name: string;
  /** Its own flags (from --compare). */
  own: string[];
  /** Every training flag: --train-flags, then its own. */
  flags: string[];
}

/** The bench's options. */
export interface LogsBenchOptions {
  logs: string[];
  seeds: number[];
  configs: ConfigSpec[];
  dataRoot: string;
  work: string;
  jobs: number;
  summaryOnly: boolean;
}

/** Raw flags: values by name, and the words after --compare. */
function scanArgs(args: readonly string[]): { values: Map<string, string>; compare: string[] } {
  const flags = { values: VALUE_FLAGS, booleans: BOOLEAN_FLAGS };
  return scanBenchArgs(args, flags, USAGE, (m) => new BenchInputError(m));
}

/** One flag string as words. @throws {BenchInputError} on an unterminated quote. */
function words(flag: string, text: string): string[] {
  return flagWords(flag, text, (m) => new BenchInputError(m));
}

/** A folder name for a configuration's own flags: "default", or e.g. "arch-paper". */
export function configName(own: readonly string[]): string {
  if (own.length === 0) return "default";
  const name = own.join("-").replace(/^-+/, "").replace(/[^A-Za-z0-9.=_-]+/g, "-")
    .replace(/-{2,}/g, "-").replace(/-+$/, "");
  if (name.length <= 48) return name || "flags";
  const h = createHash("sha256").update(JSON.stringify(own)).digest("hex").slice(0, 8);
  return `${name.slice(0, 40)}-${h}`;
}

/**
 * The training config that `flags` give for `seed` with `--split users`, as the checkpoint and
 * the fidelity report record it.
 * @throws {BenchInputError} on a flag train refuses or one the bench sets itself
 */
export function expectedConfig(
  flags: readonly string[],
  seed: number,
  what = "flags",
): TrainConfig {
  for (const f of flags) {
    const name = f.startsWith("--") ? f.slice(2).split("=")[0]! : "";
    if (f === "-h" || name === "help") {
      throw new BenchInputError(`${what}: --help is not a training flag`);
    }
    if (OWN_FLAGS.includes(name)) {
      throw new BenchInputError(`${what}: --${name} is set by the bench, not by a configuration`);
    }
  }
  try {
    const v = parseFlags("train", [...flags], CONFIG_FLAGS, "")!;
    return configFromFlags({ ...v, split: "users", seed: String(seed) });
  } catch (e) {
    if (e instanceof BenchInputError) throw e;
    throw new BenchInputError(`${what}: ${(e as Error).message}`);
  }
}

/** Parses the command line (see the module doc). @throws {BenchInputError} on a bad flag. */
export function parseLogsBenchArgs(args: readonly string[]): LogsBenchOptions | "help" {
  const { values: v, compare } = scanArgs(args);
  if (v.has("help")) return "help";
  const list = (name: string, dflt: string) =>
    (v.get(name) ?? dflt).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const logs = list("logs", "ml100k,mind_small_subset");
  for (const l of logs) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(l)) {
      throw new BenchInputError(
        `--logs: expected folder names under --data-root, got ${JSON.stringify(l)}`,
      );
    }
  }
  const seeds = list("seeds", "0,1,2,3,4").map((s) => {
    if (!/^\d+$/.test(s)) throw new BenchInputError(`--seeds: expected integers >= 0, got "${s}"`);
    return Number(s);
  });
  if (new Set(seeds).size !== seeds.length) {
    throw new BenchInputError("--seeds: a seed is repeated");
  }
  if (logs.length === 0 || seeds.length === 0) {
    throw new BenchInputError("--logs and --seeds: expected at least one of each");
  }
  const jobs = Number(v.get("jobs") ?? "1");
  if (jobs !== 1 && jobs !== 2) {
    throw new BenchInputError(`--jobs: expected 1 or 2, got ${v.get("jobs")}`);
  }
  if (v.has("compare") && compare.length === 0) {
    throw new BenchInputError("--compare: expected one or more flag strings");
  }
  const common = words("--train-flags", v.get("train-flags") ?? "");
  const owns = v.has("compare") ? compare.map((c, i) => words(`--compare #${i + 1}`, c)) : [[]];
  const configs = owns.map((own, i) => {
    const what = v.has("compare") ? `--compare #${i + 1}` : "--train-flags";
    const flags = [...common, ...own];
    expectedConfig(flags, 0, what); // refuse a bad configuration before anything runs
    return { name: configName(own), own, flags };
  });
  const names = configs.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) {
    throw new BenchInputError(`--compare: two configurations share the name "${dup}"`);
  }
  return {
    logs,
    seeds,
    configs,
    dataRoot: resolve(v.get("data-root") ?? join(ROOT, "..", "shared", "data")),
    work: resolve(v.get("work") ?? join(ROOT, "runs", "fidelity-logs")),
    jobs,
    summaryOnly: v.has("summary-only"),
  };
}

// Reuse ----------------------------------------------------------------------------------------

/** The files of one (log, configuration, seed) run. */
export interface RunPaths {
  model: string;
  fidelity: string;
  trainLog: string;
  trainJson: string;
  fidelityLog: string;
}

/** Where the run of `config` and `seed` on `log` lives under `work`. */
export function runPaths(work: string, log: string, config: string, seed: number): RunPaths {
  const base = join(work, log, config, `seed${seed}`);
  return {
    model: base,
    fidelity: `${base}.fidelity.json`,
    trainLog: `${base}.train.log`,
    trainJson: `${base}.train.json`,
    fidelityLog: `${base}.fidelity.log`,
  };
}

/**
 * The first field where a recorded training config differs from the expected one, in words, or
 * undefined when they agree. A field only one side has (a config from another version of
 * recsimu) agrees when the other side holds its default.
 */
export function configDifference(recorded: unknown, expected: TrainConfig): string | undefined {
  if (typeof recorded !== "object" || recorded === null) return "no training config recorded";
  const rec = recorded as Record<string, unknown>;
  const exp = expected as unknown as Record<string, unknown>;
  const dflt = TRAIN_DEFAULTS as unknown as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(rec), ...Object.keys(exp)])].sort()) {
    const a = JSON.stringify(k in rec ? rec[k] : dflt[k]);
    const b = JSON.stringify(k in exp ? exp[k] : dflt[k]);
    if (a !== b) return `trained with ${k} = ${a ?? "nothing"}, expected ${b ?? "nothing"}`;
  }
  return undefined;
}

/** What a run needs: nothing (its report), a judge (its checkpoint is done), or training. */
export type RunState =
  | { state: "done"; report: unknown }
  | { state: "judge"; reason: string }
  | { state: "train"; reason: string };

/** A JSON file's value; a reason string when it is absent or does not parse. */
async function readJson(path: string): Promise<{ value: unknown } | { reason: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    return { reason: e instanceof Deno.errors.NotFound ? "absent" : (e as Error).message };
  }
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { reason: "does not parse as JSON" };
  }
}

const field = (x: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (o, k) => (typeof o === "object" && o !== null ? (o as never)[k] : undefined),
    x,
  );

/** Why a fidelity report cannot be reused for `expected` on the log `fingerprint`, or undefined. */
export function reportProblem(
  report: unknown,
  expected: TrainConfig,
  fingerprint: string,
): string | undefined {
  if (field(report, "kind") !== "recsimu-fidelity-report" || field(report, "mode") !== "log") {
    return "not a report of recsimu fidelity --log";
  }
  if (field(report, "log", "fingerprint") !== fingerprint) return "it judged another log (sha256)";
  const baselines = field(report, "config", "baselines");
  const lacking = BASELINES.filter((b) => !(Array.isArray(baselines) && baselines.includes(b)));
  if (lacking.length) return `it lacks the baselines ${lacking.join(", ")}`;
  return configDifference(field(report, "simulator", "config"), expected);
}

/**
 * What the run at `p` needs for the training config `expected` on the log whose sha256 is
 * `fingerprint`: its report is reused when {@link reportProblem} finds none; else its checkpoint
 * is judged when finished (phase "done") with the same config and log; else it trains.
 */
export async function inspectRun(
  p: RunPaths,
  expected: TrainConfig,
  fingerprint: string,
): Promise<RunState> {
  const r = await readJson(p.fidelity);
  const problem = "value" in r ? reportProblem(r.value, expected, fingerprint) : r.reason;
  if ("value" in r && problem === undefined) return { state: "done", report: r.value };
  const why = `report ${problem}`;
  const c = await readJson(join(p.model, "config.json"));
  if (!("value" in c)) return { state: "train", reason: `${why}; checkpoint ${c.reason}` };
  const phase = field(c.value, "position", "phase");
  const ckpt = field(c.value, "data", "fingerprint") !== fingerprint
    ? "trained on another log (sha256)"
    : configDifference(field(c.value, "config"), expected) ??
      (phase !== "done"
        ? `not finished (phase ${JSON.stringify(phase)}): training in progress or stopped`
        : undefined);
  return ckpt === undefined
    ? { state: "judge", reason: `${why}; checkpoint finished` }
    : { state: "train", reason: `${why}; checkpoint ${ckpt}` };
}

/** sha256 of a file's bytes (the data fingerprint train and fidelity record). */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash("sha256");
  const f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

// Subprocesses ---------------------------------------------------------------------------------

// The bench --------------------------------------------------------------------------------------

const progress = (line: string) => console.error(`fidelity-logs: ${line}`);
/** `p` relative to the working folder when inside it, else as is. */
const rel = (p: string) => {
  const r = relative(Deno.cwd(), p);
  return r.startsWith("..") ? p : r || ".";
};
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "—");

/** One (log, configuration, seed) run: reused, judged, trained and judged, or missing. */
async function runOne(
  o: LogsBenchOptions,
  log: { name: string; file: string; fingerprint: string },
  config: ConfigSpec,
  seed: number,
  label: string,
): Promise<SeedRun> {
  const p = runPaths(o.work, log.name, config.name, seed);
  const expected = expectedConfig(config.flags, seed);
  let s = await inspectRun(p, expected, log.fingerprint);
  const reused = s.state === "done";
  if (s.state !== "done" && o.summaryOnly) {
    progress(
      `${label}: missing (${s.reason}; it would ${s.state === "judge" ? "be judged" : "train"})`,
    );
    return { seed, missing: s.reason, fidelity_file: p.fidelity };
  }
  if (s.state === "train") {
    progress(`${label}: training (${s.reason}; log ${rel(p.trainLog)})`);
    const args = ["train", "--data", log.file, "--out", p.model, "--split", "users"];
    const r = await recsimu(
      [...args, "--seed", String(seed), ...config.flags, "--overwrite"],
      p.trainLog,
    );
    await writeFileAtomic(p.trainJson, r.stdout);
    progress(`${label}: trained in ${r.seconds.toFixed(0)} s`);
  }
  if (s.state !== "done") {
    progress(`${label}: judging (log ${rel(p.fidelityLog)})`);
    const args = ["fidelity", "--model", p.model, "--log", log.file, "--out", p.fidelity];
    const r = await recsimu([...args, "--overwrite"], p.fidelityLog);
    progress(`${label}: judged in ${r.seconds.toFixed(0)} s`);
    s = await inspectRun(p, expected, log.fingerprint);
    if (s.state !== "done") {
      throw new Error(`${p.fidelity}: written, yet not reusable: ${s.reason}`);
    }
  }
  let figures: SeedFigures;
  try {
    figures = seedFigures(s.report);
  } catch (e) {
    throw new BenchInputError(`Cannot read "${p.fidelity}": ${(e as Error).message}`);
  }
  const sc = figures.scores;
  progress(
    `${label}: ${reused ? "reused" : "done"}: AUC simulator ${f3(sc.simulator.auc)}, item_rate ` +
      `${f3(sc.item_rate.auc)}, lr ${f3(sc.lr.auc)}, gru ${f3(sc.gru.auc)}; ` +
      `${figures.answered}/${figures.questions} answered`,
  );
  return { seed, figures, fidelity_file: p.fidelity, reused };
}

/** The whole bench: every (log, configuration, seed) run, then the JSON report. */
export async function runLogsBench(o: LogsBenchOptions): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const logs = [];
  for (const name of o.logs) {
    const file = join(o.dataRoot, name, "log.csv");
    let fingerprint: string;
    try {
      fingerprint = await fileSha256(file);
    } catch (e) {
      throw new BenchInputError(`--logs ${name}: cannot read "${file}": ${(e as Error).message}`);
    }
    logs.push({ name, file, fingerprint });
  }
  const total = logs.length * o.configs.length * o.seeds.length;
  const tasks = logs.flatMap((log, li) =>
    o.configs.flatMap((c, ci) =>
      o.seeds.map((seed, si) => () => {
        const k = (li * o.configs.length + ci) * o.seeds.length + si + 1;
        return runOne(o, log, c, seed, `[${k}/${total}] ${log.name} × ${c.name} seed${seed}`);
      })
    )
  );
  const runs = await pool(o.jobs, tasks);
  let missing = 0;
  const perLog = logs.map((log, li) => ({
    log: log.name,
    file: log.file,
    fingerprint: log.fingerprint,
    configs: o.configs.map((c, ci) => {
      const start = (li * o.configs.length + ci) * o.seeds.length;
      const own = runs.slice(start, start + o.seeds.length);
      const summary = summariseSeeds(own);
      missing += summary.missing_seeds.length;
      progress(`${log.name} × ${c.name}: ${summary.verdict}`);
      return { name: c.name, train_flags: c.flags, runs: own, ...summary };
    }),
  }));
  return {
    kind: "recsimu-fidelity-logs-bench",
    format: 1,
    work: o.work,
    data_root: o.dataRoot,
    seeds: o.seeds,
    summary_only: o.summaryOnly,
    rule: TARGET_RULE,
    metrics: "AUC, binary log-loss and ECE of P(positive) on the answered held-out tuples " +
      "(scores.<scorer>.positive of each fidelity report)",
    missing_runs: missing,
    logs: perLog,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function main(): Promise<number> {
  try {
    const o = parseLogsBenchArgs(Deno.args);
    if (o === "help") {
      console.log(USAGE);
      return 0;
    }
    console.log(JSON.stringify(await runLogsBench(o), null, 2));
    return 0;
  } catch (e) {
    for (const c of running) c.kill("SIGTERM");
    console.error(`fidelity-logs: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof BenchInputError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main());
