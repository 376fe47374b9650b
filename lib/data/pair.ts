/**
 * The (item, feedback) pair: one step of a user's history, as the log holds it and as states,
 * start states and requests carry it.
 * @module
 */

/**
 * One (item, feedback) pair of a state, oldest first.
 *
 * @example
 * ```ts
 * import type { StepRecord } from "@recsimu/recsimu";
 *
 * const history: StepRecord[] = [
 *   { item: "i3", feedback: "skip" },
 *   { item: "i7", feedback: "click" },
 * ];
 * ```
 */
export interface StepRecord {
  /** Item id as in the log. */
  item: string;
  /** Feedback label as in the log (one of `labels`). */
  feedback: string;
}
