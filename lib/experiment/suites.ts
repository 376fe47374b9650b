/**
 * The catalogue of the paper's experiments: which suites exist and what each one compares —
 * Figure 6's models (`overall`), Figure 7's variants (`ablation`), Figure 8's grids
 * (`sensitivity`) and Table 1's recommenders (`generator`).
 * @module
 */
import { UserError } from "../errors.ts";

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

/** Beyond the paper: RecSimu with `--item-bias`, labelled `recsimu+ib`. */
export const ITEM_BIAS_LABEL = "recsimu+ib";

/** Figure 7's variants, in plotting order. */
export const ABLATION_VARIANTS = ["recsimu-1", "recsimu-2", "recsimu-3", "recsimu"] as const;

/** Table 1's rows, in order. */
export const RECOMMENDERS = ["logs", "popularity", "fm", "wd", "gru4rec", "recsimu"] as const;

/**
 * A model a run fits: Figure 6's feedback models (`recsimu+ib` is RecSimu with a configuration
 * change, not a model of its own) and Table 1's recommenders.
 */
export type ModelName =
  | Exclude<(typeof OVERALL_MODELS)[number], typeof ITEM_BIAS_LABEL>
  | (typeof RECOMMENDERS)[number];

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
 * Parses `overall`, `ablation`, `sensitivity`, `generator` or `all`, or a comma list of them;
 * returns the suites in the order `all` runs them.
 *
 * @example
 * ```ts
 * import { parseSuites } from "./suites.ts";
 * parseSuites("generator,overall"); // ["overall", "generator"]
 * ```
 * @throws {UserError} naming `--suite` for an unknown name or an empty list.
 */
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

/**
 * Figure 8's grids: the given ones, the paper's for those not given.
 * @throws {UserError} when a state length is not a positive integer.
 */
export function sensitivityGrid(grid: Partial<SensitivityGrid> = {}): SensitivityGrid {
  const out: SensitivityGrid = {
    stateLength: grid.stateLength ?? [...SENSITIVITY_GRID.stateLength],
    lambda: grid.lambda ?? [...SENSITIVITY_GRID.lambda],
  };
  if (out.stateLength.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UserError(`state-length grid: expected positive integers, got ${out.stateLength}`);
  }
  return out;
}
