/**
 * The paper's experiments as resumable suites of runs: Figure 6 (`overall`), Figure 7
 * (`ablation`), Figure 8 (`sensitivity`) and Table 1 (`generator`), each configuration repeated
 * over seeds.
 *
 * Each finished run is appended atomically to `OUT/results.json`; a restarted experiment skips
 * the runs already there (RecSimu runs also continue from their last epoch checkpoint in
 * `OUT/checkpoints/`). Runs shared by several suites (RecSimu with the base configuration) run
 * once. The report `OUT/report.html` is rewritten after every run.
 * @module
 */
import { cpuUsage } from "node:process";
import { datasetOptions } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import { openOutputDir } from "../output.ts";
import { backendInfo, tf } from "../tf.ts";
import { TABLE1_K } from "../eval/generator_quality.ts";
import { type SensitivityGrid, sensitivityGrid } from "./suites.ts";
import { type Job, planJobs } from "./plan.ts";
import {
  assertSameSettings,
  type ExperimentSettings,
  readResults,
  RESULTS_FORMAT,
  type ResultsFile,
  resultsPath,
  type RunRecord,
  writeResults,
} from "./results.ts";
import type { ExperimentOptions, ExperimentOutcome } from "./options.ts";
import { Workspace } from "./workspace.ts";
import { fit } from "./fitters.ts";
import { writeReport } from "./report.ts";

/** What an experiment folder holds (its marker lists these). */
const EXPERIMENT_ENTRIES = ["results.json", "report.html", "cache", "checkpoints"];

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
  const m = Math.round(t / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** CPU seconds (user + system) since `start`. */
function cpuSeconds(start: { user: number; system: number }): number {
  const d = cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** Estimated seconds of a job from finished runs: same view and model, else same model, else all. */
function estimate(job: Job, done: readonly RunRecord[]): number {
  const mean = (rs: readonly RunRecord[]) =>
    rs.length ? rs.reduce((a, r) => a + r.seconds, 0) / rs.length : NaN;
  const same = done.filter((r) => r.view === job.view && r.model === job.model);
  if (same.length) return mean(same);
  const model = done.filter((r) => r.model === job.model);
  if (model.length) return mean(model);
  return mean(done);
}

/** The headline metrics of a run for its progress line. */
function summary(r: Pick<RunRecord, "feedback" | "ranking">): string {
  const f = (
    x: number | undefined,
  ) => (x === undefined || x === null || !Number.isFinite(x) ? "-" : x.toFixed(4));
  if (r.ranking) return `MAP ${f(r.ranking.map)} NDCG@${r.ranking.k} ${f(r.ranking.ndcg)}`;
  if (r.feedback) return `AUC ${f(r.feedback.auc)} F1 ${f(r.feedback.f1)}`;
  return "";
}

/** The settings of an experiment on `base` (the log loaded under the base configuration). */
function experimentSettings(
  opts: ExperimentOptions,
  base: { file: string; fingerprint: string },
  grid: SensitivityGrid,
): ExperimentSettings {
  const c = opts.config;
  return {
    data: { file: base.file, fingerprint: base.fingerprint },
    config: c,
    heldOut: { fraction: opts.heldOut ?? 0.2, seed: c.seed },
    k: opts.k ?? TABLE1_K,
    longHistory: Math.max(...grid.stateLength),
    embeddings: opts.embeddingsFile ?? "item2vec",
  };
}

/**
 * Opens `OUT` for the experiment and returns its results so far (none for a new folder).
 * @throws {UserError} when `OUT` is not an experiment's folder or holds runs of other settings.
 */
async function openResults(
  opts: ExperimentOptions,
  settings: ExperimentSettings,
): Promise<ResultsFile> {
  await openOutputDir(opts.out, "experiment", EXPERIMENT_ENTRIES, { replace: opts.replace });
  const results: ResultsFile = (await readResults(opts.out)) ??
    { format: RESULTS_FORMAT, settings, runs: [] };
  assertSameSettings(opts.out, results, settings);
  return results;
}

/** Runs one job and returns its record, or "stopped"; throws what its fit function throws. */
async function execute(job: Job, ws: Workspace): Promise<RunRecord | "stopped"> {
  const t0 = performance.now();
  const cpu0 = cpuUsage();
  const measured = await fit(job, ws);
  if (measured === "stopped") return "stopped";
  const { id, view, model, label, seed, delta, config } = job;
  return {
    id,
    view,
    model,
    label,
    seed,
    delta,
    config,
    ...measured,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpuSeconds(cpu0),
    finished: new Date().toISOString(),
    backend: backendInfo()?.name ?? tf.getBackend(),
  };
}

/** A failed run: left out of results.json (so a rerun tries it again) and listed at the end. */
interface Failure {
  id: string;
  error: Error;
}

/** Where the loop stands, for the progress lines. */
interface Progress {
  /** Runs of the whole plan. */
  total: number;
  /** Runs found finished before this call. */
  skipped: number;
  /** `performance.now()` when the loop started. */
  t0: number;
}

/** Saves a finished run, warns of leaked tensors, prints its progress line, redraws the report. */
async function record(
  rec: RunRecord,
  ws: Workspace,
  results: ResultsFile,
  ctx: { tensors: number; position: number; remaining: readonly Job[]; progress: Progress },
): Promise<void> {
  results.runs.push(rec);
  await writeResults(ws.opts.out, results);
  const leaked = tf.memory().numTensors - ctx.tensors;
  if (leaked > 0) ws.say(`warning: ${rec.id} left ${leaked} tensors allocated`);
  const eta = ctx.remaining.reduce((a, j) => a + estimate(j, results.runs), 0);
  const { total, skipped, t0 } = ctx.progress;
  ws.say(
    `experiment [${skipped + ctx.position}/${total}] ${rec.id}: ${summary(rec)} (${
      fmtDuration(rec.seconds)
    }) | ${fmtDuration((performance.now() - t0) / 1000)} elapsed, ETA ${fmtDuration(eta)}`,
  );
  try {
    await writeReport(ws.opts.out, results);
  } catch (e) {
    ws.say(`warning: report.html not updated: ${(e as Error).message}`);
  }
}

/** Runs `todo` in order until done or stopped; one failed run does not end the others. */
async function runJobs(
  todo: readonly Job[],
  ws: Workspace,
  results: ResultsFile,
  progress: Progress,
): Promise<{ ran: string[]; failed: Failure[]; stopped: boolean }> {
  const ran: string[] = [];
  const failed: Failure[] = [];
  for (const [i, job] of todo.entries()) {
    if (ws.opts.shouldStop?.()) return { ran, failed, stopped: true };
    const tensors = tf.memory().numTensors;
    let rec: RunRecord | "stopped";
    try {
      rec = await execute(job, ws);
    } catch (e) {
      // One failed configuration (a divergence, a bug) should not end a long experiment.
      failed.push({ id: job.id, error: e as Error });
      ws.say(`experiment: run ${job.id} failed: ${(e as Error).stack ?? e}`);
      continue;
    }
    if (rec === "stopped") return { ran, failed, stopped: true };
    const remaining = todo.slice(i + 1);
    await record(rec, ws, results, { tensors, position: i + 1, remaining, progress });
    ran.push(job.id);
    await ws.opts.onRecord?.(rec);
  }
  return { ran, failed, stopped: false };
}

/** The error that ends an experiment with failed runs: a UserError when every cause is one. */
function failure(failed: readonly Failure[]): Error {
  const list = failed.map((f) => `  ${f.id}: ${f.error.message}`).join("\n");
  const msg =
    `${failed.length} run(s) failed (the others are saved; a rerun with --resume retries these):\n${list}`;
  return failed.every((f) => f.error instanceof UserError) ? new UserError(msg) : new Error(msg);
}

/**
 * Runs the suites, skipping runs already in `OUT/results.json`; appends each finished run to it
 * atomically and rewrites `OUT/report.html`.
 * @throws {UserError} for bad options, an `OUT` of other settings, or runs that failed on
 * user errors (the other runs are saved).
 */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentOutcome> {
  const seeds = opts.seeds ?? 5;
  if (!Number.isInteger(seeds) || seeds < 1) {
    throw new UserError(`--seeds must be a positive integer, got ${seeds}`);
  }
  const grid = sensitivityGrid(opts.grid);
  const base = await opts.load(datasetOptions(opts.config));
  const settings = experimentSettings(opts, base, grid);
  const results = await openResults(opts, settings);
  const ws = new Workspace(opts, settings, base);
  const jobs = planJobs(opts.suites, seeds, opts.config, grid);
  const done = new Set(results.runs.map((r) => r.id));
  const skipped = jobs.filter((j) => done.has(j.id)).map((j) => j.id);
  const todo = jobs.filter((j) => !done.has(j.id));
  ws.say(
    `experiment: ${jobs.length} runs for ${
      opts.suites.join(", ")
    } × ${seeds} seed(s); ${skipped.length} already in "${
      resultsPath(opts.out)
    }", ${todo.length} to do`,
  );
  const progress = { total: jobs.length, skipped: skipped.length, t0: performance.now() };
  const { ran, failed, stopped } = await runJobs(todo, ws, results, progress);
  await writeReport(opts.out, results);
  if (stopped) ws.say(`experiment: stopped; run the same command with --resume to continue`);
  if (failed.length) throw failure(failed);
  return { ran, skipped, stopped, results };
}
