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
import { join } from "node:path";
import { cpuUsage } from "node:process";
import type { TrainConfig } from "../config.ts";
import type { Dataset, DatasetOptions } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../atomic.ts";
import { openOutputDir } from "../output.ts";
import { backendInfo, tf } from "../tf.ts";
import { log } from "../progress.ts";
import { trainItem2Vec } from "../embeddings/item2vec.ts";
import { loadEmbeddingsCsv } from "../embeddings/load.ts";
import { type EpochRecord, trainRecSimu } from "../train/loop.ts";
import { type FeedbackMetrics, itemBaselines } from "./evaluate.ts";
import {
  GeneratorRanker,
  logsRanking,
  type RankingMetrics,
  rankingMetrics,
  type RankingQuery,
  splitForGeneratorQuality,
  splitLists,
  TABLE1_K,
} from "./generator_quality.ts";
import {
  type BaselineEpoch,
  type FeedbackPredictor,
  predictionMetrics,
} from "../../models/baselines/common.ts";
import { trainRandom } from "../../models/baselines/random.ts";
import { trainLR } from "../../models/baselines/lr.ts";
import { trainGru } from "../../models/baselines/gru.ts";
import { trainGan, trainGanS } from "../../models/baselines/gan.ts";
import { type ItemRanker, rankerInputs, topK } from "../../models/baselines/ranker.ts";
import { trainFM } from "../../models/baselines/fm.ts";
import { trainWideDeep } from "../../models/baselines/wide_deep.ts";
import { trainGru4Rec } from "../../models/baselines/gru4rec.ts";
import { PopularityRanker } from "../../models/baselines/popularity.ts";
import { writeReport } from "./report.ts";

/** The experiment suites. */
export type Suite = "overall" | "ablation" | "sensitivity" | "generator";

/** Every suite, in the order `all` runs them. */
export const SUITES: readonly Suite[] = ["overall", "ablation", "sensitivity", "generator"];

/** Figure 6's models, in plotting order (RecSimu last). */
export const OVERALL_MODELS = [
  "random",
  "item_rate",
  "lr",
  "gru",
  "gan",
  "gan-s",
  "recsimu",
  "recsimu+ib",
] as const;

/** Beyond the paper (issue 4 item 7): RecSimu with `--item-bias`, labelled `recsimu+ib`. */
export const ITEM_BIAS_LABEL = "recsimu+ib";

/** Figure 7's variants, in plotting order. */
export const ABLATION_VARIANTS = ["recsimu-1", "recsimu-2", "recsimu-3", "recsimu"] as const;

/** Table 1's rows, in order. */
export const RECOMMENDERS = ["logs", "popularity", "fm", "wd", "gru4rec", "recsimu"] as const;

/** Figure 8's grids. */
export interface SensitivityGrid {
  /** State lengths N. */
  stateLength: number[];
  /** Weights λ of the fake-class term. */
  lambda: number[];
}

/** The paper's grids (Figure 8). */
export const SENSITIVITY_GRID: Readonly<SensitivityGrid> = Object.freeze({
  stateLength: [1, 5, 10, 15, 20, 25],
  lambda: [0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0],
});

/**
 * Which tuples a run uses: `base` the log under the configuration, `long` the tuples whose
 * action has at least max(N grid) earlier rows (Figure 8a: every N on the same tuples), `fit`
 * the sessions not held out for Table 1.
 */
export type View = "base" | "long" | "fit";

/** The configuration fields a run changes from the base one (e.g. `{ beta: 0 }`). */
export type ConfigDelta = Record<string, number | string | boolean>;

/** One run to do. */
export interface Job {
  /** Stable identity, e.g. `base:recsimu[beta=0]:seed=1`. */
  id: string;
  view: View;
  /** Model: a feedback model (`recsimu`, `lr`, …) or a recommender (`fm`, `logs`, …). */
  model: string;
  /** Name in the report (`recsimu-2` for RecSimu with β = 0). */
  label: string;
  /** Seed, or null for seedless runs (the logs). */
  seed: number | null;
  /** Configuration changes from the base configuration. */
  delta: ConfigDelta;
  /** The full training configuration. */
  config: TrainConfig;
  /** Feedback prediction (Figures 6–8) or top-k ranking (Table 1). */
  kind: "feedback" | "ranking";
}

/** One finished run, as stored in results.json. */
export interface RunRecord {
  id: string;
  view: View;
  model: string;
  label: string;
  seed: number | null;
  delta: ConfigDelta;
  config: TrainConfig;
  /** Test-tuple metrics (feedback models). */
  feedback?: FeedbackMetrics;
  /** Table 1 metrics (recommenders). */
  ranking?: RankingMetrics;
  /** Per-epoch losses (RecSimu: its history.json records; baselines: their epochs). */
  history?: (EpochRecord | BaselineEpoch)[];
  /** Wall-clock seconds of the run (training and evaluation). */
  seconds: number;
  /** CPU seconds (user + system) of the process during the run; less than `seconds` when
   * the machine is shared. */
  cpuSeconds?: number;
  /** ISO time the run finished. */
  finished: string;
  /** tfjs backend. */
  backend: string;
}

/** What must match for runs to be comparable; fixed for an output directory. */
export interface ExperimentSettings {
  data: { file: string; fingerprint: string };
  /** Base configuration; the seeds are `config.seed + i`. */
  config: TrainConfig;
  /** Table 1's held-out share of sessions and the seed of its draw. */
  heldOut: { fraction: number; seed: number };
  /** Table 1's list length. */
  k: number;
  /**
   * Figure 8a's tuples: those whose action has at least this many earlier rows (the largest N
   * of the grid), so that every N is compared on the same tuples.
   */
  longHistory: number;
  /** `item2vec` or the embeddings file. */
  embeddings: string;
}

/** The content of results.json. */
export interface ResultsFile {
  format: typeof RESULTS_FORMAT;
  settings: ExperimentSettings;
  runs: RunRecord[];
}

/** What an experiment folder holds (its marker lists these). */
const EXPERIMENT_ENTRIES = ["results.json", "report.html", "cache", "checkpoints"];

/** Format tag of results.json. */
export const RESULTS_FORMAT = "recsimu-experiment/1";

/** Options of {@link runExperiment}. */
export interface ExperimentOptions {
  /**
   * Output directory (results.json, report.html, checkpoints/, cache/): absent, empty, or a
   * previous experiment's (marked) folder, which is continued; anything else is refused.
   */
  out: string;
  /** Replace a previous experiment in `out` instead of continuing it. @default false */
  replace?: boolean;
  /** Suites to run. */
  suites: readonly Suite[];
  /** Seeds per configuration (`config.seed` … `config.seed + seeds − 1`). @default 5 */
  seeds?: number;
  /** Base training configuration. */
  config: TrainConfig;
  /** Loads the log with the given tuple options (state length etc.). */
  load: (options: DatasetOptions) => Promise<Dataset>;
  /** Item embeddings CSV used instead of item2vec. */
  embeddingsFile?: string;
  /** Figure 8's grids. @default SENSITIVITY_GRID */
  grid?: Partial<SensitivityGrid>;
  /** Table 1's held-out share of sessions. @default 0.2 */
  heldOut?: number;
  /** Table 1's list length. @default TABLE1_K (40) */
  k?: number;
  /** Keep each RecSimu run's checkpoint after it finishes. @default false */
  keepCheckpoints?: boolean;
  /** No training progress bars (run lines and ETA still print unless `silent`). @default false */
  quiet?: boolean;
  /** Nothing at all on stderr. @default false */
  silent?: boolean;
  /** Checked between runs and between training steps; true stops the experiment. */
  shouldStop?: () => boolean;
  /** Called after each run is saved (tests use it to simulate an interruption). */
  onRecord?: (r: RunRecord) => void | Promise<void>;
}

/** What {@link runExperiment} did. */
export interface ExperimentOutcome {
  /** Runs done by this call. */
  ran: string[];
  /** Runs found finished in results.json. */
  skipped: string[];
  /** True when `shouldStop` ended the experiment early. */
  stopped: boolean;
  results: ResultsFile;
}

/** Parses `overall`, `ablation`, `sensitivity`, `generator` or `all`. */
export function parseSuites(text: string): Suite[] {
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new UserError("--suite: name at least one suite");
  const out = new Set<Suite>();
  for (const p of parts) {
    if (p === "all") SUITES.forEach((s) => out.add(s));
    else if ((SUITES as readonly string[]).includes(p)) out.add(p as Suite);
    else {
      throw new UserError(
        `--suite: expected overall, ablation, sensitivity, generator or all, got "${p}"`,
      );
    }
  }
  return SUITES.filter((s) => out.has(s));
}

function deltaOf(base: TrainConfig, c: TrainConfig): ConfigDelta {
  const d: ConfigDelta = {};
  for (const k of Object.keys(c) as (keyof TrainConfig)[]) {
    if (k === "seed") continue;
    if (JSON.stringify(c[k]) !== JSON.stringify(base[k])) d[k] = c[k] as ConfigDelta[string];
  }
  return d;
}

function jobId(
  view: View,
  model: string,
  delta: ConfigDelta,
  seed: number | null,
) {
  const d = Object.entries(delta).map(([k, v]) => `${k}=${v}`).join(",");
  return `${view}:${model}${d ? `[${d}]` : ""}${seed === null ? "" : `:seed=${seed}`}`;
}

/**
 * The runs of `suites` for `seeds` seeds, without duplicates, in execution order (suite by
 * suite; seed by seed within a suite).
 */
export function planJobs(
  suites: readonly Suite[],
  seeds: number,
  config: TrainConfig,
  grid: SensitivityGrid = SENSITIVITY_GRID,
): Job[] {
  const jobs = new Map<string, Job>();
  const add = (view: View, model: string, label: string, c: TrainConfig, seed: number | null) => {
    const delta = deltaOf(config, c);
    const kind = view === "fit" ? "ranking" : "feedback";
    const id = jobId(view, model, delta, seed);
    if (!jobs.has(id)) jobs.set(id, { id, view, model, label, seed, delta, config: c, kind });
  };
  const seedList = Array.from({ length: seeds }, (_, i) => config.seed + i);
  for (const suite of suites) {
    if (suite === "generator") add("fit", "logs", "logs", config, null);
    for (const seed of seedList) {
      const c = { ...config, seed };
      if (suite === "overall") {
        for (const m of OVERALL_MODELS) {
          if (m === ITEM_BIAS_LABEL) add("base", "recsimu", m, { ...c, itemBias: true }, seed);
          else add("base", m, m, c, seed);
        }
      } else if (suite === "ablation") {
        add("base", "recsimu", "recsimu-1", { ...c, variant: "recsimu-1" }, seed);
        add("base", "recsimu", "recsimu-2", { ...c, beta: 0 }, seed);
        add("base", "recsimu", "recsimu-3", { ...c, variant: "recsimu-3" }, seed);
        add("base", "recsimu", "recsimu", c, seed);
      } else if (suite === "sensitivity") {
        for (const n of grid.stateLength) {
          add("long", "recsimu", `N=${n}`, { ...c, stateLength: n, minStateLength: n }, seed);
        }
        for (const l of grid.lambda) {
          add("base", "recsimu", `lambda=${l}`, { ...c, lambda: l }, seed);
        }
      } else {
        for (const m of RECOMMENDERS) if (m !== "logs") add("fit", m, m, c, seed);
      }
    }
  }
  return [...jobs.values()];
}

/** Reads `OUT/results.json`, or undefined when there is none. */
export async function readResults(out: string): Promise<ResultsFile | undefined> {
  const path = join(out, "results.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new UserError(`Cannot read "${path}": ${(e as Error).message}`);
  }
  let r: ResultsFile;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new UserError(`Cannot read "${path}": ${(e as Error).message}`);
  }
  if (r.format !== RESULTS_FORMAT || !Array.isArray(r.runs)) {
    throw new UserError(`"${path}" is not a ${RESULTS_FORMAT} results file`);
  }
  return r;
}

/** The first setting that differs, as "path: a ≠ b", or undefined. */
function firstDifference(a: unknown, b: unknown, path = "settings"): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (d) return d;
    }
  }
  return `${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
}

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

/** Data views and embeddings, built on first use. */
class Workspace {
  readonly #views = new Map<string, Dataset>();
  #split?: { queries: RankingQuery[]; heldOut: number; noPositive: number };
  readonly #embeddings = new Map<string, Float32Array>();
  constructor(
    readonly opts: ExperimentOptions,
    readonly settings: ExperimentSettings,
    readonly base: Dataset,
  ) {}

  async view(job: Job): Promise<Dataset> {
    if (job.view === "base") return this.base;
    if (job.view === "fit") return this.fit();
    const long = await this.long();
    return { ...long, stateLength: job.config.stateLength, minStateLength: job.config.stateLength };
  }

  fit(): Dataset {
    let fit = this.#views.get("fit");
    if (!fit) {
      const s = splitForGeneratorQuality(this.base, {
        fraction: this.settings.heldOut.fraction,
        seed: this.settings.heldOut.seed,
        k: this.settings.k,
      });
      if (s.queries.length === 0) {
        throw new UserError(
          `generator suite: no held-out session has a positive item among its first ${this.settings.k} actions after N = ${this.base.stateLength} rows`,
        );
      }
      fit = s.fit;
      this.#views.set("fit", fit);
      this.#split = { queries: s.queries, heldOut: s.heldOut, noPositive: s.noPositive };
      this.say(
        `generator suite: ${s.heldOut} sessions held out, ${s.queries.length} queries (${s.noPositive} without a positive item skipped)`,
      );
    }
    return fit;
  }

  queries(): RankingQuery[] {
    this.fit();
    return this.#split!.queries;
  }

  async long(): Promise<Dataset> {
    let long = this.#views.get("long");
    if (!long) {
      const maxN = this.settings.longHistory;
      const c = this.settings.config;
      long = await this.opts.load({
        stateLength: maxN,
        minStateLength: maxN,
        minCount: c.minCount,
        positive: c.positive,
      });
      if (long.test.length === 0 || long.train.length === 0) {
        throw new UserError(
          `sensitivity suite: no session has more than ${maxN} rows, so no state length of the grid can be compared on the same tuples; lower the largest N`,
        );
      }
      this.#views.set("long", long);
    }
    return long;
  }

  /** The run's item embeddings: the file's, or item2vec on the view (cached under OUT/cache). */
  async embeddings(job: Job, ds: Dataset): Promise<Float32Array> {
    const c = job.config;
    if (this.opts.embeddingsFile) {
      let e = this.#embeddings.get("file");
      if (!e) {
        e = await loadEmbeddingsCsv(this.opts.embeddingsFile, ds.items, c.embDim);
        this.#embeddings.set("file", e);
      }
      return e;
    }
    const seed = job.seed ?? this.settings.config.seed;
    const key = `${job.view}-seed${seed}`;
    let e = this.#embeddings.get(key);
    if (e) return e;
    const path = join(this.opts.out, "cache", `item2vec-${key}.f32`);
    try {
      const b = await Deno.readFile(path);
      if (b.byteLength === ds.items.length * c.embDim * 4) {
        e = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (!e) {
      const r = await trainItem2Vec(ds, { dim: c.embDim, epochs: c.i2vEpochs, seed });
      e = r.vectors;
      await writeFileAtomic(path, new Uint8Array(e.buffer, e.byteOffset, e.byteLength));
      this.say(
        `item2vec (${key}): ${r.pairs} pairs, loss ${r.finalLoss.toFixed(4)}, ${
          r.seconds.toFixed(1)
        }s`,
      );
    }
    this.#embeddings.set(key, e);
    return e;
  }

  say(line: string): void {
    if (!this.opts.silent) log(line);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs one job; returns its record's measured part. */
async function execute(
  job: Job,
  ws: Workspace,
): Promise<Pick<RunRecord, "feedback" | "ranking" | "history"> | "stopped"> {
  const o = ws.opts;
  const quiet = !!(o.quiet || o.silent);
  const k = ws.settings.k;
  if (job.model === "logs") return { ranking: logsRanking(ws.queries(), k) };
  const ds = await ws.view(job);
  const c = job.config;
  if (job.model === "item_rate") return { feedback: itemBaselines(ds, ds.test).item_rate };
  if (job.model === "random") {
    const m = await trainRandom(ds, { seed: c.seed });
    return { feedback: predictionMetrics(m.predict(ds, ds.test), ds, ds.test) };
  }
  const embeddings = await ws.embeddings(job, ds);
  const base = { config: c, embeddings, quiet, shouldStop: o.shouldStop };
  if (job.model === "recsimu") {
    const dir = join(o.out, "checkpoints", job.id.replace(/[^A-Za-z0-9._=-]+/g, "_"));
    const resume = await exists(join(dir, "config.json"));
    if (resume) ws.say(`${job.id}: continuing from its checkpoint "${dir}"`);
    const r = await trainRecSimu(ds, c, {
      out: dir,
      resume,
      embeddings: { vectors: embeddings, source: ws.settings.embeddings },
      quiet,
      shouldStop: o.shouldStop,
    });
    try {
      if (r.stopped) return "stopped";
      let ranking: RankingMetrics | undefined;
      if (job.view === "fit") {
        const inputs = rankerInputs(ds, embeddings, c.embDim);
        const g = new GeneratorRanker((b) => r.model.g.apply(b.state), c.embDim);
        try {
          ranking = rankQueries(g, inputs, ws.base, ws.queries(), k);
        } finally {
          tf.dispose([inputs.table, inputs.features, inputs.isPositive]);
        }
      }
      return { feedback: r.test, ranking, history: r.history };
    } finally {
      r.model.dispose();
      if (!r.stopped && !o.keepCheckpoints) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
  }
  if (job.kind === "ranking") {
    let m: ItemRanker & {
      inputs: ReturnType<typeof rankerInputs>;
      training?: { stopped: boolean; history: BaselineEpoch[] };
    };
    if (job.model === "popularity") m = new PopularityRanker(ds, embeddings, c.embDim);
    else if (job.model === "fm") m = await trainFM(ds, base);
    else if (job.model === "wd") m = await trainWideDeep(ds, base);
    else if (job.model === "gru4rec") m = await trainGru4Rec(ds, base);
    else throw new Error(`unknown recommender ${job.model}`);
    try {
      if (m.training?.stopped) return "stopped";
      return {
        ranking: rankQueries(m, m.inputs, ws.base, ws.queries(), k),
        history: m.training?.history,
      };
    } finally {
      m.dispose();
    }
  }
  let m: FeedbackPredictor;
  if (job.model === "lr") m = await trainLR(ds, base);
  else if (job.model === "gru") m = await trainGru(ds, base);
  else if (job.model === "gan") m = await trainGan(ds, base);
  else if (job.model === "gan-s") m = await trainGanS(ds, base);
  else throw new Error(`unknown feedback model ${job.model}`);
  try {
    if (m.training.stopped) return "stopped";
    return {
      feedback: predictionMetrics(m.predict(ds, ds.test), ds, ds.test),
      history: m.training.history.length ? m.training.history : undefined,
    };
  } finally {
    m.dispose();
  }
}

function rankQueries(
  ranker: ItemRanker,
  inputs: ReturnType<typeof rankerInputs>,
  ds: Dataset,
  queries: RankingQuery[],
  k: number,
): RankingMetrics {
  const rows = Int32Array.from(queries.map((q) => q.row));
  return rankingMetrics(splitLists(topK(ranker, inputs, ds, rows, k), k), queries, k);
}

function summary(r: Pick<RunRecord, "feedback" | "ranking">): string {
  const f = (
    x: number | undefined,
  ) => (x === undefined || x === null || !Number.isFinite(x) ? "-" : x.toFixed(4));
  if (r.ranking) return `MAP ${f(r.ranking.map)} NDCG@${r.ranking.k} ${f(r.ranking.ndcg)}`;
  if (r.feedback) return `AUC ${f(r.feedback.auc)} F1 ${f(r.feedback.f1)}`;
  return "";
}

/**
 * Runs the suites, skipping runs already in `OUT/results.json`; appends each finished run to it
 * atomically and rewrites `OUT/report.html`.
 */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentOutcome> {
  const seeds = opts.seeds ?? 5;
  if (!Number.isInteger(seeds) || seeds < 1) {
    throw new UserError(`--seeds must be a positive integer, got ${seeds}`);
  }
  const grid: SensitivityGrid = {
    stateLength: opts.grid?.stateLength ?? [...SENSITIVITY_GRID.stateLength],
    lambda: opts.grid?.lambda ?? [...SENSITIVITY_GRID.lambda],
  };
  if (grid.stateLength.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UserError(`state-length grid: expected positive integers, got ${grid.stateLength}`);
  }
  const c = opts.config;
  const base = await opts.load({
    stateLength: c.stateLength,
    minStateLength: c.minStateLength,
    minCount: c.minCount,
    positive: c.positive,
  });
  const settings: ExperimentSettings = {
    data: { file: base.file, fingerprint: base.fingerprint },
    config: c,
    heldOut: { fraction: opts.heldOut ?? 0.2, seed: c.seed },
    k: opts.k ?? TABLE1_K,
    longHistory: Math.max(...grid.stateLength),
    embeddings: opts.embeddingsFile ?? "item2vec",
  };
  await openOutputDir(opts.out, "experiment", EXPERIMENT_ENTRIES, { replace: opts.replace });
  const resultsPath = join(opts.out, "results.json");
  const results: ResultsFile = (await readResults(opts.out)) ??
    { format: RESULTS_FORMAT, settings, runs: [] };
  const diff = firstDifference(
    { ...results.settings, data: { fingerprint: results.settings.data.fingerprint } },
    { ...settings, data: { fingerprint: settings.data.fingerprint } },
  );
  if (diff) {
    throw new UserError(
      `"${resultsPath}" holds runs of other settings (${diff}); use another --out or the same flags`,
    );
  }
  const ws = new Workspace(opts, settings, base);
  const jobs = planJobs(opts.suites, seeds, c, grid);
  const done = new Set(results.runs.map((r) => r.id));
  const skipped = jobs.filter((j) => done.has(j.id)).map((j) => j.id);
  const todo = jobs.filter((j) => !done.has(j.id));
  ws.say(
    `experiment: ${jobs.length} runs for ${
      opts.suites.join(", ")
    } × ${seeds} seed(s); ${skipped.length} already in "${resultsPath}", ${todo.length} to do`,
  );
  const t0 = performance.now();
  const ran: string[] = [];
  const failed: { id: string; error: Error }[] = [];
  let stopped = false;
  for (const [i, job] of todo.entries()) {
    if (opts.shouldStop?.()) {
      stopped = true;
      break;
    }
    const tj = performance.now();
    const cpu0 = cpuUsage();
    const tensors = tf.memory().numTensors;
    let measured: Awaited<ReturnType<typeof execute>>;
    try {
      measured = await execute(job, ws);
    } catch (e) {
      // One failed configuration (a divergence, a bug) should not end a long experiment: it is
      // reported, left out of results.json (so a rerun tries it again) and listed at the end.
      failed.push({ id: job.id, error: e as Error });
      ws.say(`experiment: run ${job.id} failed: ${(e as Error).stack ?? e}`);
      continue;
    }
    if (measured === "stopped") {
      stopped = true;
      break;
    }
    const rec: RunRecord = {
      id: job.id,
      view: job.view,
      model: job.model,
      label: job.label,
      seed: job.seed,
      delta: job.delta,
      config: job.config,
      ...measured,
      seconds: (performance.now() - tj) / 1000,
      cpuSeconds: cpuSeconds(cpu0),
      finished: new Date().toISOString(),
      backend: backendInfo()?.name ?? tf.getBackend(),
    };
    results.runs.push(rec);
    await writeFileAtomic(resultsPath, JSON.stringify(results, null, 1) + "\n");
    ran.push(job.id);
    if (tf.memory().numTensors > tensors) {
      ws.say(`warning: ${job.id} left ${tf.memory().numTensors - tensors} tensors allocated`);
    }
    const remaining = todo.slice(i + 1).reduce((a, j) => a + estimate(j, results.runs), 0);
    ws.say(
      `experiment [${skipped.length + i + 1}/${jobs.length}] ${job.id}: ${summary(rec)} (${
        fmtDuration(rec.seconds)
      }) | ${fmtDuration((performance.now() - t0) / 1000)} elapsed, ETA ${fmtDuration(remaining)}`,
    );
    try {
      await writeReport(opts.out, results);
    } catch (e) {
      ws.say(`warning: report.html not updated: ${(e as Error).message}`);
    }
    await opts.onRecord?.(rec);
  }
  await writeReport(opts.out, results);
  if (stopped) ws.say(`experiment: stopped; run the same command with --resume to continue`);
  if (failed.length) {
    const list = failed.map((f) => `  ${f.id}: ${f.error.message}`).join("\n");
    const msg =
      `${failed.length} run(s) failed (the others are saved; a rerun with --resume retries these):\n${list}`;
    throw failed.every((f) => f.error instanceof UserError) ? new UserError(msg) : new Error(msg);
  }
  return { ran, skipped, stopped, results };
}
