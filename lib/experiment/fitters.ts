/**
 * Model dispatch: one fit function per model name ({@link FITTERS}). Each trains its model on
 * the job's view and scores it — feedback metrics on the test tuples (Figures 6–8) or Table 1's
 * ranking metrics on the held-out queries — and frees what it allocated.
 * @module
 */
import { join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { itemBaselines, predictionMetrics } from "../eval/evaluate.ts";
import {
  GeneratorRanker,
  logsRanking,
  type RankingMetrics,
  rankingMetrics,
  splitLists,
} from "../eval/generator_quality.ts";
import { trainRecSimu } from "../train/loop.ts";
import {
  trainFM,
  trainGan,
  trainGanS,
  trainGru,
  trainGru4Rec,
  trainLR,
  trainRandom,
  trainWideDeep,
} from "../train/baselines.ts";
import type { BaselineOptions } from "../train/fit.ts";
import type { BaselineEpoch, FeedbackPredictor } from "../../models/baselines/common.ts";
import {
  disposeInputs,
  type ItemRanker,
  type RankerInputs,
  rankerInputs,
  topK,
} from "../../models/baselines/ranker.ts";
import { PopularityRanker } from "../../models/baselines/popularity.ts";
import type { RunRecord } from "./results.ts";
import type { Job } from "./plan.ts";
import type { ModelName } from "./suites.ts";
import type { Workspace } from "./workspace.ts";

/** What a run measured: the part of its record a fit function fills in. */
export type Measured = Pick<RunRecord, "feedback" | "ranking" | "history">;

/** Fits and scores one job's model; "stopped" when `shouldStop` ended its training. */
export type Fit = (job: Job, ws: Workspace) => Promise<Measured | "stopped">;

/** A trained recommender with the inputs it ranks from (and its training, if it trains). */
type Recommender = ItemRanker & {
  inputs: RankerInputs;
  training?: { stopped: boolean; history: BaselineEpoch[] };
};

/** The options every trained baseline takes: the job's configuration and embeddings. */
async function baselineOptions(job: Job, ws: Workspace, ds: Dataset): Promise<BaselineOptions> {
  const embeddings = await ws.embeddings(job, ds);
  return { config: job.config, embeddings, quiet: ws.quiet, shouldStop: ws.opts.shouldStop };
}

/** Table 1's metrics of `ranker`'s top-k lists for the workspace's queries. */
function rankQueries(ranker: ItemRanker, inputs: RankerInputs, ws: Workspace): RankingMetrics {
  const k = ws.settings.k;
  const queries = ws.queries();
  const rows = Int32Array.from(queries.map((q) => q.row));
  return rankingMetrics(splitLists(topK(ranker, inputs, ws.base, rows, k), k), queries, k);
}

/** The logging policy's own ranking (Table 1's reference row); nothing is trained. */
function fitLogs(_job: Job, ws: Workspace): Promise<Measured> {
  return Promise.resolve({ ranking: logsRanking(ws.queries(), ws.settings.k) });
}

/** Each item's positive rate in training, as the prediction (Figure 6's item_rate). */
async function fitItemRate(job: Job, ws: Workspace): Promise<Measured> {
  const ds = await ws.view(job);
  return { feedback: itemBaselines(ds, ds.test).item_rate };
}

/** Uniformly random feedback (Figure 6's random). */
async function fitRandom(job: Job, ws: Workspace): Promise<Measured> {
  const ds = await ws.view(job);
  const m = await trainRandom(ds, { seed: job.config.seed });
  return { feedback: predictionMetrics(m.predict(ds, ds.test), ds, ds.test) };
}

/**
 * The fit function of a trained baseline: trains it on the job's view with the job's
 * configuration and embeddings, scores it, and frees it.
 */
function baseline<M extends { dispose(): void }>(
  train: (ds: Dataset, opts: BaselineOptions) => Promise<M>,
  score: (m: M, ds: Dataset, ws: Workspace) => Measured | "stopped",
): Fit {
  return async (job, ws) => {
    const ds = await ws.view(job);
    const m = await train(ds, await baselineOptions(job, ws, ds));
    try {
      return score(m, ds, ws);
    } finally {
      m.dispose();
    }
  };
}

/** A feedback baseline's test metrics (LR, GRU, GAN, GAN-s; Figure 6). */
function scoreFeedback(m: FeedbackPredictor, ds: Dataset): Measured | "stopped" {
  if (m.training.stopped) return "stopped";
  return {
    feedback: predictionMetrics(m.predict(ds, ds.test), ds, ds.test),
    history: m.training.history.length ? m.training.history : undefined,
  };
}

/** A recommender's Table 1 metrics (popularity, FM, W&D, GRU4Rec). */
function scoreRanking(m: Recommender, _ds: Dataset, ws: Workspace): Measured | "stopped" {
  if (m.training?.stopped) return "stopped";
  return { ranking: rankQueries(m, m.inputs, ws), history: m.training?.history };
}

/** Where a RecSimu run keeps its epoch checkpoints: `OUT/checkpoints/<job id, sanitised>`. */
function checkpointDir(out: string, job: Job): string {
  return join(out, "checkpoints", job.id.replace(/[^A-Za-z0-9._=-]+/g, "_"));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * RecSimu: trained from its last checkpoint when one exists; scored on the test tuples and, on
 * Table 1's view, its generator ranked as a recommender. The checkpoint is removed once the run
 * finishes unless `keepCheckpoints`.
 */
async function fitRecSimu(job: Job, ws: Workspace): Promise<Measured | "stopped"> {
  const o = ws.opts;
  const ds = await ws.view(job);
  const c = job.config;
  const embeddings = await ws.embeddings(job, ds);
  const dir = checkpointDir(o.out, job);
  const resume = await exists(join(dir, "config.json"));
  if (resume) ws.say(`${job.id}: continuing from its checkpoint "${dir}"`);
  const r = await trainRecSimu(ds, c, {
    out: dir,
    resume,
    embeddings: { vectors: embeddings, source: ws.settings.embeddings },
    quiet: ws.quiet,
    shouldStop: o.shouldStop,
  });
  try {
    if (r.stopped) return "stopped";
    let ranking: RankingMetrics | undefined;
    if (job.view === "fit") {
      const inputs = rankerInputs(ds, embeddings, c.embDim);
      const g = new GeneratorRanker((b) => r.model.g.apply(b.state), c.embDim);
      try {
        ranking = rankQueries(g, inputs, ws);
      } finally {
        disposeInputs(inputs);
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

/** The fit function of every model a job can name. */
export const FITTERS: Readonly<Record<ModelName, Fit>> = {
  random: fitRandom,
  item_rate: fitItemRate,
  lr: baseline(trainLR, scoreFeedback),
  gru: baseline(trainGru, scoreFeedback),
  gan: baseline(trainGan, scoreFeedback),
  "gan-s": baseline(trainGanS, scoreFeedback),
  recsimu: fitRecSimu,
  logs: fitLogs,
  popularity: baseline(
    (ds, o) => Promise.resolve(new PopularityRanker(ds, o.embeddings, o.config.embDim)),
    scoreRanking,
  ),
  fm: baseline(trainFM, scoreRanking),
  wd: baseline(trainWideDeep, scoreRanking),
  gru4rec: baseline(trainGru4Rec, scoreRanking),
};

/**
 * Fits and scores `job`'s model with its entry in {@link FITTERS}.
 * @throws {Error} for a model name that has no fit function.
 */
export function fit(job: Job, ws: Workspace): Promise<Measured | "stopped"> {
  const f = FITTERS[job.model] as Fit | undefined;
  if (!f) throw new Error(`unknown model ${job.model}`);
  return f(job, ws);
}
