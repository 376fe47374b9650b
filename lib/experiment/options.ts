/**
 * What an experiment is asked to do and what it reports back: the options and the outcome of
 * `runExperiment` (lib/experiment/runner.ts), shared by the workspace and the fit functions.
 * @module
 */
import type { TrainConfig } from "../config.ts";
import type { Dataset, DatasetOptions } from "../data/dataset.ts";
import type { SensitivityGrid, Suite } from "./suites.ts";
import type { ResultsFile, RunRecord } from "./results.ts";

/** Options of `runExperiment`. */
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

/** What `runExperiment` did. */
export interface ExperimentOutcome {
  /** Runs done by this call. */
  ran: string[];
  /** Runs found finished in results.json. */
  skipped: string[];
  /** True when `shouldStop` ended the experiment early. */
  stopped: boolean;
  results: ResultsFile;
}
