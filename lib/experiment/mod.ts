/**
 * The experiment layer: the paper's suites (Figures 6–8, Table 1) planned as jobs, run
 * resumably into `OUT/results.json`, and drawn as `OUT/report.html`.
 *
 * - `suites.ts`: the catalogue (suites, models, variants, grids) and `parseSuites`
 * - `plan.ts`: the jobs of a set of suites (`planJobs`)
 * - `results.ts`: the results.json format
 * - `workspace.ts`: the data views and embeddings runs share
 * - `fitters.ts`: one fit function per model name
 * - `runner.ts`: the run loop (`runExperiment`)
 * - `report.ts`, `charts.ts`: the HTML report and its Vega-Lite charts
 * @module
 */
export {
  ABLATION_VARIANTS,
  ITEM_BIAS_LABEL,
  type ModelName,
  OVERALL_MODELS,
  parseSuites,
  RECOMMENDERS,
  SENSITIVITY_GRID,
  type SensitivityGrid,
  sensitivityGrid,
  type Suite,
  SUITES,
} from "./suites.ts";
export { type ConfigDelta, type Job, planJobs, type RunIdentity, type View } from "./plan.ts";
export {
  type ExperimentSettings,
  readResults,
  RESULTS_FORMAT,
  type ResultsFile,
  type RunRecord,
} from "./results.ts";
export type { ExperimentOptions, ExperimentOutcome } from "./options.ts";
export { FITTERS, type Measured } from "./fitters.ts";
export { runExperiment } from "./runner.ts";
export { renderReport, REPORT_SECTIONS, writeReport } from "./report.ts";
