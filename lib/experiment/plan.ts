/**
 * Planning: the suites' runs as a list of jobs, each with a stable identity, without duplicates
 * (RecSimu with the base configuration is one run however many suites show it).
 * @module
 */
import type { TrainConfig } from "../config.ts";
import {
  ITEM_BIAS_LABEL,
  type ModelName,
  OVERALL_MODELS,
  RECOMMENDERS,
  SENSITIVITY_GRID,
  type SensitivityGrid,
  type Suite,
} from "./suites.ts";

/**
 * Which tuples a run uses: `base` the log under the configuration, `long` the tuples whose
 * action has at least max(N grid) earlier rows (Figure 8a: every N on the same tuples), `fit`
 * the sessions not held out for Table 1.
 */
export type View = "base" | "long" | "fit";

/** The configuration fields a run changes from the base one (e.g. `{ beta: 0 }`). */
export type ConfigDelta = Record<string, number | string | boolean>;

/** What identifies a run: shared by a {@link Job} and the record of its result. */
export interface RunIdentity {
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
}

/** One run to do. */
export interface Job extends RunIdentity {
  model: ModelName;
  /** Feedback prediction (Figures 6–8) or top-k ranking (Table 1). */
  kind: "feedback" | "ranking";
}

/** The fields of `c` that differ from `base`, the seed left out. */
function deltaOf(base: TrainConfig, c: TrainConfig): ConfigDelta {
  const d: ConfigDelta = {};
  for (const k of Object.keys(c) as (keyof TrainConfig)[]) {
    if (k === "seed") continue;
    if (JSON.stringify(c[k]) !== JSON.stringify(base[k])) d[k] = c[k] as ConfigDelta[string];
  }
  return d;
}

/** `view:model[delta]:seed=S`, the parts that are empty left out. */
function jobId(view: View, model: string, delta: ConfigDelta, seed: number | null): string {
  const d = Object.entries(delta).map(([k, v]) => `${k}=${v}`).join(",");
  return `${view}:${model}${d ? `[${d}]` : ""}${seed === null ? "" : `:seed=${seed}`}`;
}

/**
 * The runs of `suites` for `seeds` seeds, without duplicates, in execution order (suite by
 * suite; seed by seed within a suite).
 *
 * @example
 * ```ts
 * import { planJobs } from "./plan.ts";
 * import { TRAIN_DEFAULTS } from "../config.ts";
 * const jobs = planJobs(["ablation"], 1, { ...TRAIN_DEFAULTS, seed: 7 });
 * jobs.map((j) => j.label); // ["recsimu-1", "recsimu-2", "recsimu-3", "recsimu"]
 * ```
 */
export function planJobs(
  suites: readonly Suite[],
  seeds: number,
  config: TrainConfig,
  grid: SensitivityGrid = SENSITIVITY_GRID,
): Job[] {
  const jobs = new Map<string, Job>();
  const add = (
    view: View,
    model: ModelName,
    label: string,
    c: TrainConfig,
    seed: number | null,
  ) => {
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
