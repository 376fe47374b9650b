/**
 * The results format: `OUT/results.json` holds the settings every run shares and one record
 * per finished run; it is read back to resume an experiment and to draw the report.
 * @module
 */
import { join } from "node:path";
import type { TrainConfig } from "../config.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../atomic.ts";
import type { FeedbackMetrics } from "../eval/evaluate.ts";
import type { RankingMetrics } from "../eval/generator_quality.ts";
import type { EpochRecord } from "../train/loop.ts";
import type { BaselineEpoch } from "../../models/baselines/common.ts";
import type { RunIdentity } from "./plan.ts";

/** Format tag of results.json. */
export const RESULTS_FORMAT = "recsimu-experiment/1";

/** One finished run, as stored in results.json. */
export interface RunRecord extends RunIdentity {
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

/** The path of `OUT/results.json`. */
export function resultsPath(out: string): string {
  return join(out, "results.json");
}

/**
 * Reads `OUT/results.json`, or undefined when there is none.
 * @throws {UserError} when the file cannot be read or is not a results file.
 */
export async function readResults(out: string): Promise<ResultsFile | undefined> {
  const path = resultsPath(out);
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

/** Writes `OUT/results.json` atomically (a crash leaves the previous version). */
export async function writeResults(out: string, results: ResultsFile): Promise<void> {
  await writeFileAtomic(resultsPath(out), JSON.stringify(results, null, 1) + "\n");
}

/**
 * The first setting that differs, as "path: a ≠ b", or undefined.
 *
 * @example
 * ```ts
 * import { firstDifference } from "./results.ts";
 * firstDifference({ k: 40 }, { k: 20 }); // "settings.k: 40 ≠ 20"
 * ```
 */
export function firstDifference(a: unknown, b: unknown, path = "settings"): string | undefined {
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

/**
 * Checks that `results` (read from `OUT`) were made under `settings`; the data is compared by
 * fingerprint only, so a moved log still matches.
 * @throws {UserError} naming the first setting that differs.
 */
export function assertSameSettings(
  out: string,
  results: ResultsFile,
  settings: ExperimentSettings,
): void {
  const diff = firstDifference(
    { ...results.settings, data: { fingerprint: results.settings.data.fingerprint } },
    { ...settings, data: { fingerprint: settings.data.fingerprint } },
  );
  if (diff) {
    throw new UserError(
      `"${
        resultsPath(out)
      }" holds runs of other settings (${diff}); use another --out or the same flags`,
    );
  }
}
