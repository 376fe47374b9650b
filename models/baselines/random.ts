/**
 * The Random baseline of Figure 6: every tuple gets a score drawn uniformly from [0, 1]; the
 * tuple is predicted positive when the score exceeds 0.5, and the score is the AUC's score.
 * @module
 */
import type { Dataset } from "../../lib/data/dataset.ts";
import { deriveSeed, Rng } from "../../lib/random.ts";
import type { BaselineTraining, FeedbackPrediction, FeedbackPredictor } from "./common.ts";

/** Uniform random scores, seeded: the same seed and rows give the same scores. */
export class RandomBaseline implements FeedbackPredictor {
  readonly name = "random";
  readonly training: BaselineTraining = { history: [], stopped: false, seconds: 0 };
  /** @param seed root seed of the scores */
  constructor(readonly seed: number) {}

  /**
   * Scores `rows`. Each score depends only on the seed and the row.
   *
   * @example
   * ```ts
   * import { RandomBaseline } from "./random.ts";
   * const p = new RandomBaseline(0).predict({} as never, Int32Array.of(4, 9));
   * "positive" in p && p.positive.length; // 2
   * ```
   */
  predict(_ds: Dataset, rows: Int32Array): FeedbackPrediction {
    const positive = new Float64Array(rows.length);
    const root = deriveSeed(this.seed, "random-baseline");
    for (let i = 0; i < rows.length; i++) positive[i] = new Rng(`${root}:${rows[i]}`).next();
    return { positive };
  }

  dispose(): void {}
}
