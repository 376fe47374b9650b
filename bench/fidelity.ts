/**
 * `deno task fidelity`: how faithful is the default simulator (or any training configuration) on
 * the project's own known-truth worlds? For each world (preset × seed; default base and hard ×
 * seeds 0, 1, 2) it runs, through main.ts as subprocesses with RECSIMU_THREADS=1,
 * `recsimu synth --truth`, `recsimu train` and `recsimu fidelity`, then prints ONE JSON on
 * stdout: per world the main metrics, their mean, and the targets of issue 14 with pass/fail
 * (bench/_fidelity_summary.ts). Progress on stderr; each subprocess's stderr goes to a log file in
 * the work folder.
 *
 *   deno task fidelity [--presets base,hard] [--seeds 0,1,2] [--sessions N] [--items N]
 *     [--categories C] [--min-length L] [--max-length L] [--train-flags "FLAGS"]
 *     [--compare "FLAGS_A" "FLAGS_B" ...] [--fidelity-flags "FLAGS"] [--work DIR] [--jobs 1|2]
 *     [--ignore-code-changes]
 *
 * `--train-flags` go to every training; `--compare A B …` trains each configuration (its flags
 * after the common ones; "" is the defaults) on the same worlds and prints them side by side.
 * In both, `{world}` stands for the world's folder (e.g.
 * `--item-features {world}/truth/items.csv`); models are named by the flags as written.
 * Worlds, models and reports live in `--work` (default runs/fidelity-bench) and are reused when
 * their configuration matches: the flags, the world or model they come from, and a fingerprint of
 * the source code they depend on (`--ignore-code-changes` drops the fingerprint from the match).
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join, relative, resolve } from "node:path";
import { writeFileAtomic } from "../lib/atomic.ts";
import { ROOT } from "./_server.ts";
import { pool, recsimu, running } from "./_subprocess.ts";
import {
  compareConfigs,
  type ConfigSummary,
  type FidelityReportLike,
  flagWords,
  scanBenchArgs,
  summariseConfig,
  TARGETS,
  type WorldMetrics,
  worldMetrics,
  type WorldRun,
} from "./_fidelity_summary.ts";

/** Flags of `synth --truth` that size a world, passed on as given. */
const SIZE_FLAGS = ["sessions", "items", "categories", "min-length", "max-length"] as const;
const VALUE_FLAGS = [
  "presets",
  "seeds",
  ...SIZE_FLAGS,
  "train-flags",
  "fidelity-flags",
  "work",
  "jobs",
] as const;
const BOOLEAN_FLAGS = ["compare", "ignore-code-changes", "help"] as const;

/** The bench's options. */
export interface BenchOptions {
  presets: string[];
  seeds: number[];
  /** `synth --truth` size flags, e.g. ["--sessions", "60"]. */
  sizeFlags: string[];
  /** Flags every training gets. */
  commonTrainFlags: string[];
  /** The configurations: each one's own training flags (after the common ones). */
  configs: string[][];
  fidelityFlags: string[];
  work: string;
  jobs: number;
  ignoreCode: boolean;
}

const USAGE = `Usage: deno task fidelity [--presets base,hard] [--seeds 0,1,2] [--sessions N]
  [--items N] [--categories C] [--min-length L] [--max-length L] [--train-flags "FLAGS"]
  [--compare "FLAGS_A" "FLAGS_B" ...] [--fidelity-flags "FLAGS"] [--work DIR] [--jobs 1|2]
  [--ignore-code-changes]
In --train-flags and --compare, {world} is replaced by each world's folder.`;

/**
 * The judge's flags, with an agent trained in each simulator and played in the truth
 * (`--agent-episodes 2000`, `recsimu agent`'s default budget) unless they set their own.
 */
function withAgent(flags: string[]): string[] {
  return flags.includes("--agent-episodes") ? flags : [...flags, "--agent-episodes", "2000"];
}

/** Training flags for one world: `{world}` in any word becomes the world's folder `dir`. */
export function withWorld(flags: readonly string[], dir: string): string[] {
  return flags.map((f) => f.replaceAll("{world}", dir));
}

/** A bad flag: one line, exit 2. */
export class FlagError extends Error {
  override name = "FlagError";
}

/** Raw flags: values by name, and the words after --compare. */
function scanArgs(args: readonly string[]): { values: Map<string, string>; compare: string[] } {
  const flags = { values: VALUE_FLAGS, booleans: BOOLEAN_FLAGS };
  return scanBenchArgs(args, flags, USAGE, (m) => new FlagError(m));
}

/** One flag string as words. @throws {FlagError} on an unterminated quote. */
function splitOne(flag: string, text: string): string[] {
  return flagWords(flag, text, (m) => new FlagError(m));
}

/** Parses the command line (see the module doc). @throws {FlagError} on a bad flag. */
export function parseBenchArgs(args: readonly string[]): BenchOptions | "help" {
  const { values: v, compare } = scanArgs(args);
  if (v.has("help")) return "help";
  const list = (name: string, dflt: string) =>
    (v.get(name) ?? dflt).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const presets = list("presets", "base,hard");
  for (const p of presets) {
    if (p !== "base" && p !== "hard") {
      throw new FlagError(`--presets: expected base and/or hard, got ${JSON.stringify(p)}`);
    }
  }
  const seeds = list("seeds", "0,1,2").map((s) => {
    if (!/^\d+$/.test(s)) throw new FlagError(`--seeds: expected integers >= 0, got "${s}"`);
    return Number(s);
  });
  const sizeFlags = SIZE_FLAGS.flatMap((f) => v.has(f) ? [`--${f}`, v.get(f)!] : []);
  const split = (name: string) => splitOne(`--${name}`, v.get(name) ?? "");
  const jobs = Number(v.get("jobs") ?? "1");
  if (jobs !== 1 && jobs !== 2) {
    throw new FlagError(`--jobs: expected 1 or 2, got ${v.get("jobs")}`);
  }
  if (v.has("compare") && compare.length < 2) {
    throw new FlagError(`--compare: expected two or more flag strings, got ${compare.length}`);
  }
  if (presets.length === 0 || seeds.length === 0) {
    throw new FlagError("--presets and --seeds: expected at least one world");
  }
  return {
    presets,
    seeds,
    sizeFlags,
    commonTrainFlags: split("train-flags"),
    configs: v.has("compare") ? compare.map((c, i) => splitOne(`--compare #${i + 1}`, c)) : [[]],
    fidelityFlags: withAgent(split("fidelity-flags")),
    work: resolve(v.get("work") ?? join(ROOT, "runs", "fidelity-bench")),
    jobs,
    ignoreCode: v.has("ignore-code-changes"),
  };
}

// Source fingerprints -----------------------------------------------------------------------------

/** What each step's output depends on: path prefixes, minus exclusions (exact files win). */
const CODE: Record<"world" | "model" | "report", { include: string[]; exclude: string[] }> = {
  world: {
    include: ["lib/data/truth/", "lib/random.ts", "lib/commands/_synth_truth.ts"],
    exclude: [],
  },
  model: {
    include: ["lib/", "models/", "lib/commands/train.ts", "lib/commands/_flags.ts"],
    exclude: [
      "lib/commands/",
      "lib/data/truth/",
      "lib/experiment/",
      "lib/fidelity/",
      "lib/rl/",
      "lib/serve/",
      "lib/sim/",
    ],
  },
  report: { include: ["lib/", "models/"], exclude: [] },
};

/** sha256 over the .ts files of a step's code (paths and contents), 16 hex digits. */
async function fingerprint(step: keyof typeof CODE): Promise<string> {
  const { include, exclude } = CODE[step];
  const files = new Set<string>();
  const walk = async (p: string) => {
    const info = await Deno.stat(join(ROOT, p));
    if (info.isFile) {
      if (p.endsWith(".ts")) files.add(p);
      return;
    }
    for await (const e of Deno.readDir(join(ROOT, p))) await walk(join(p, e.name));
  };
  for (const p of include) await walk(p);
  const kept = [...files].filter((f) =>
    include.includes(f) || !exclude.some((x) => f.startsWith(x))
  )
    .sort();
  const h = createHash("sha256");
  for (const f of kept) h.update(f).update("\0").update(await Deno.readFile(join(ROOT, f)));
  return h.digest("hex").slice(0, 16);
}

// Subprocesses --------------------------------------------------------------------------------

// Steps, each reused when its recorded configuration matches ------------------------------------

/** The record next to each output (`PATH.bench.json`). */
interface StepRecord {
  kind: "recsimu-fidelity-bench-step";
  config: Record<string, unknown>;
  seconds: number;
  peak_rss_mib: number | null;
}

const recordPath = (out: string) => `${out}.bench.json`;
const configText = (c: unknown, ignoreCode: boolean) =>
  JSON.stringify(c, (k, x) => (ignoreCode && k === "code" ? undefined : x));

/** The record of `out` when `out` exists and was made with `config`. */
async function reusable(
  out: string,
  config: Record<string, unknown>,
  ignoreCode: boolean,
): Promise<StepRecord | undefined> {
  try {
    await Deno.stat(out);
    const r = JSON.parse(await Deno.readTextFile(recordPath(out))) as StepRecord;
    return configText(r.config, ignoreCode) === configText(config, ignoreCode) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a step unless its output can be reused; returns its record and whether it was reused. */
async function step(
  out: string,
  config: Record<string, unknown>,
  o: BenchOptions,
  run: () => Promise<{ seconds: number; peakRssMib: number | null }>,
): Promise<{ record: StepRecord; reused: boolean }> {
  const old = await reusable(out, config, o.ignoreCode);
  if (old !== undefined) return { record: old, reused: true };
  await Deno.remove(recordPath(out)).catch(() => {});
  const r = await run();
  const record: StepRecord = {
    kind: "recsimu-fidelity-bench-step",
    config,
    seconds: r.seconds,
    peak_rss_mib: r.peakRssMib,
  };
  await writeFileAtomic(recordPath(out), JSON.stringify(record, null, 2) + "\n");
  return { record, reused: false };
}

/** A world of the bench. */
interface World {
  key: string;
  preset: string;
  seed: number;
  dir: string;
  config: Record<string, unknown>;
  reused: boolean;
}

const progress = (line: string) => console.error(`fidelity-bench: ${line}`);
const rel = (p: string) => relative(Deno.cwd(), p) || ".";

/** Writes (or reuses) the world of a preset and seed. */
async function ensureWorld(o: BenchOptions, preset: string, seed: number): Promise<World> {
  const sizes = o.sizeFlags.length ? "-" + o.sizeFlags.join("").replace(/-+/g, "") : "";
  const key = `${preset}-s${seed}${sizes}`;
  const dir = join(o.work, "worlds", key);
  const args = ["--preset", preset, "--seed", String(seed), ...o.sizeFlags];
  const config = { step: "world", args, code: await fingerprint("world") };
  const { record, reused } = await step(dir, config, o, async () => {
    progress(`${key}: writing the world`);
    const out = ["synth", "--truth", ...args, "--out", dir, "--overwrite"];
    return await recsimu(out, join(o.work, "logs", `${key}.synth.log`));
  });
  progress(`${key}: world ${reused ? "reused" : `written in ${record.seconds.toFixed(1)} s`}`);
  return { key, preset, seed, dir, config, reused };
}

/** A short folder name for a configuration's flags. */
function slug(flags: readonly string[]): string {
  if (flags.length === 0) return "defaults";
  const words = flags.join("_").replace(/[^A-Za-z0-9.=_]+/g, "").slice(0, 40);
  const h = createHash("sha256").update(JSON.stringify(flags)).digest("hex").slice(0, 8);
  return `${words}-${h}`;
}

/** Trains (or reuses) the model of one configuration on one world, then judges it. */
async function runWorld(
  o: BenchOptions,
  world: World,
  flags: string[],
  label: string,
): Promise<Omit<WorldRun, "targets">> {
  const name = slug(flags);
  const modelDir = join(o.work, "models", world.key, name);
  const modelConfig = {
    step: "model",
    world: world.config,
    args: flags,
    code: await fingerprint("model"),
  };
  const logs = join(o.work, "logs", world.key);
  const model = await step(modelDir, modelConfig, o, async () => {
    progress(`${label}: training (log ${rel(join(logs, `${name}.train.log`))})`);
    const args = ["train", "--data", join(world.dir, "log.csv"), "--out", modelDir, "--overwrite"];
    const r = await recsimu(
      [...args, ...withWorld(flags, world.dir)],
      join(logs, `${name}.train.log`),
    );
    await writeFileAtomic(`${modelDir}.train.json`, r.stdout);
    return r;
  });
  const m = model.record;
  const rss = m.peak_rss_mib === null ? "" : `, peak RSS ${m.peak_rss_mib.toFixed(0)} MiB`;
  progress(
    `${label}: model ${model.reused ? "reused" : "trained"} (${m.seconds.toFixed(0)} s${rss})`,
  );
  const reportFile = join(o.work, "reports", world.key, `${name}.json`);
  const reportConfig = {
    step: "report",
    model: modelConfig,
    args: o.fidelityFlags,
    code: await fingerprint("report"),
  };
  const judged = await step(reportFile, reportConfig, o, async () => {
    await Deno.mkdir(dirname(reportFile), { recursive: true });
    const args = ["fidelity", "--model", modelDir, "--truth", world.dir, "--out", reportFile];
    const more = [...o.fidelityFlags, "--overwrite", "--quiet"];
    return await recsimu([...args, ...more], join(logs, `${name}.fidelity.log`));
  });
  const report = JSON.parse(await Deno.readTextFile(reportFile)) as FidelityReportLike;
  const metrics = worldMetrics(report, {
    train_seconds: m.seconds,
    train_peak_rss_mib: m.peak_rss_mib,
  });
  progress(`${label}: ${oneLine(metrics)}${judged.reused ? " (report reused)" : ""}`);
  return {
    world: world.key,
    model_dir: modelDir,
    report_file: reportFile,
    reused: { world: world.reused, model: model.reused, report: judged.reused },
    metrics,
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "—");

function oneLine(m: WorldMetrics): string {
  return `AUC ${f3(m.auc)} / ${f3(m.truth_auc)} (observable ${f3(m.posterior_auc)}), ` +
    `log-loss ${f3(m.log_loss)} / ${f3(m.truth_log_loss)} (${
      f3(m.posterior_log_loss)
    }), ECE vs truth ${f3(m.ece_vs_truth)}, Spearman ${f3(m.spearman)}, ` +
    `top ${m.simulator_top}${m.best_first ? " (best)" : ` (best: ${m.true_best})`}, ` +
    `max |rel. error| ${f3(m.max_abs_relative_error)}` +
    (Number.isFinite(m.agent_true)
      ? `, agent ${f3(m.agent_simulated)} simulated / ${f3(m.agent_true)} true (logging ${
        f3(m.logging_true)
      })`
      : "");
}

/** The summary table on stderr: one line per configuration and target. */
function printTable(configs: readonly ConfigSummary[]): void {
  for (const c of configs) {
    progress(`${c.name}: ${c.targets_passed}/${Object.keys(c.targets).length} targets met`);
    for (const [k, t] of Object.entries(c.targets)) {
      console.error(`  ${t.pass ? "pass" : "FAIL"}  ${k.padEnd(13)} ${f3(t.value)}  (${t.target})`);
    }
  }
}

/** The whole bench: worlds, then every (configuration, world) run; the JSON report. */
export async function runBench(o: BenchOptions): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const worlds: World[] = [];
  for (const preset of o.presets) {
    for (const seed of o.seeds) worlds.push(await ensureWorld(o, preset, seed));
  }
  const flagsOf = (own: string[]) => [...o.commonTrainFlags, ...own];
  // A configuration is named by its own flags (in --compare) or by all its flags.
  const names = o.configs.map((c) =>
    (o.configs.length > 1 ? c : flagsOf(c)).join(" ") || "defaults"
  );
  const tasks = o.configs.flatMap((own, ci) =>
    worlds.map((w, wi) => () => {
      const label = `[${ci * worlds.length + wi + 1}/${o.configs.length * worlds.length}] ` +
        `${w.key} × ${names[ci]}`;
      return runWorld(o, w, flagsOf(own), label);
    })
  );
  const runs = await pool(o.jobs, tasks);
  const configs = o.configs.map((own, ci) =>
    summariseConfig(
      names[ci]!,
      flagsOf(own),
      runs.slice(ci * worlds.length, (ci + 1) * worlds.length),
    )
  );
  printTable(configs);
  return {
    kind: "recsimu-fidelity-bench",
    format: 1,
    work: o.work,
    worlds: worlds.map((w) => ({
      world: w.key,
      preset: w.preset,
      seed: w.seed,
      synth_flags: w.config.args,
      dir: w.dir,
      reused: w.reused,
    })),
    train_flags_common: o.commonTrainFlags,
    fidelity_flags: o.fidelityFlags,
    targets: TARGETS,
    configs,
    ...(configs.length > 1 ? { comparison: compareConfigs(configs) } : {}),
    seconds: (performance.now() - t0) / 1000,
    versions: Deno.version,
  };
}

async function main(): Promise<number> {
  let o: BenchOptions | "help";
  try {
    o = parseBenchArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    console.error(`fidelity-bench: ${e.message}`);
    return 2;
  }
  if (o === "help") {
    console.log(USAGE);
    return 0;
  }
  try {
    console.log(JSON.stringify(await runBench(o), null, 2));
    return 0;
  } catch (e) {
    for (const c of running) c.kill("SIGTERM");
    console.error(`fidelity-bench: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
