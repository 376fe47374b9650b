/**
 * The pure half of `deno task fidelity:logs` (bench/fidelity_logs.ts): the figures of one
 * `recsimu fidelity --log` report, and a configuration's summary over seeds — means, the paired
 * comparisons of the simulator's AUC with each baseline's and with the per-seed best baseline's,
 * and the verdict on issue 14's target. No I/O here, so the tests check it on hand-made reports.
 * @module
 */
import { type PairedStats, pairedStats, smallestPValue } from "./_paired.ts";

/** The baselines of `recsimu fidelity --log` the target names. */
export const BASELINES = ["item_rate", "lr", "gru"] as const;
/** The scorers read from each report: the simulator, then the baselines. */
export const SCORERS = ["simulator", ...BASELINES] as const;
export type Scorer = (typeof SCORERS)[number];

/** One-sided level of the paired sign-flip test in the verdict. */
export const ALPHA = 0.05;

/** The verdict's rule, in words (also in docs/fidelity.md). */
export const TARGET_RULE =
  "target_met: on the requested seeds, the simulator's AUC of P(positive) minus the per-seed " +
  `best baseline's (max of ${BASELINES.join(", ")}) has mean > 0 and an exact one-sided ` +
  `sign-flip permutation p <= ${ALPHA}; null while a seed is missing`;

/** P(positive) figures of one scorer on the answered questions (NaN where the report has null). */
export interface ScorerFigures {
  n: number;
  auc: number;
  log_loss: number;
  ece: number;
}

/** The figures of one seed's report. */
export interface SeedFigures {
  /** Every tuple of the held-out sessions (the questions asked). */
  questions: number;
  answered: number;
  refused: number;
  refused_share: number;
  held_out_sessions: number;
  scores: Record<Scorer, ScorerFigures>;
  /** The baseline with the highest AUC on this seed, and that AUC. */
  best_baseline: string;
  best_baseline_auc: number;
  /** Wall seconds of the judge. */
  judge_seconds: number;
}

/** A value of `obj` at a dotted JSON path, or undefined. */
function at(obj: unknown, path: string): unknown {
  let x: unknown = obj;
  for (const k of path.split(".")) {
    if (typeof x !== "object" || x === null) return undefined;
    x = (x as Record<string, unknown>)[k];
  }
  return x;
}

/** A number at `path`: null (JSON's NaN) is NaN. @throws {TypeError} naming the path. */
function numberAt(report: unknown, path: string): number {
  const x = at(report, path);
  if (x === null) return NaN;
  if (typeof x !== "number") {
    throw new TypeError(
      `${path}: expected a number, found ${x === undefined ? "nothing" : typeof x}`,
    );
  }
  return x;
}

/**
 * The figures of one `recsimu fidelity --log` report (its parsed JSON): AUC, binary log-loss and
 * ECE of P(positive) for the simulator and each baseline (`scores.<scorer>.positive`), the
 * question counts (`tuples`) and the per-seed best baseline.
 * @throws {TypeError} naming the JSON path of a missing or non-numeric field
 *
 * @example
 * ```ts ignore
 * const f = seedFigures(JSON.parse(await Deno.readTextFile("seed0.fidelity.json")));
 * f.scores.simulator.auc - f.best_baseline_auc;
 * ```
 */
export function seedFigures(report: unknown): SeedFigures {
  const scorer = (name: Scorer): ScorerFigures => ({
    n: numberAt(report, `scores.${name}.n`),
    auc: numberAt(report, `scores.${name}.positive.auc`),
    log_loss: numberAt(report, `scores.${name}.positive.log_loss`),
    ece: numberAt(report, `scores.${name}.positive.ece`),
  });
  const scores = Object.fromEntries(SCORERS.map((s) => [s, scorer(s)])) as Record<
    Scorer,
    ScorerFigures
  >;
  let best = "", bestAuc = NaN;
  for (const b of BASELINES) {
    const a = scores[b].auc;
    if (Number.isFinite(a) && !(a <= bestAuc)) [best, bestAuc] = [b, a];
  }
  return {
    questions: numberAt(report, "tuples.tuples"),
    answered: numberAt(report, "tuples.answered"),
    refused: numberAt(report, "tuples.refused"),
    refused_share: numberAt(report, "tuples.refused_share"),
    held_out_sessions: numberAt(report, "tuples.held_out_sessions"),
    scores,
    best_baseline: best,
    best_baseline_auc: bestAuc,
    judge_seconds: numberAt(report, "seconds"),
  };
}

/** One seed of a configuration: its figures, or why there are none. */
export type SeedRun =
  | { seed: number; figures: SeedFigures; fidelity_file: string; reused: boolean }
  | { seed: number; missing: string; fidelity_file: string };

/** A configuration's summary over its seeds. */
export interface ConfigSeedsSummary {
  seeds: number[];
  complete_seeds: number[];
  missing_seeds: number[];
  /** Means over the complete seeds, per scorer. */
  mean: Record<Scorer, { auc: number; log_loss: number; ece: number }> & {
    questions: number;
    refused: number;
  };
  /** Simulator AUC − baseline AUC over the complete seeds (seeds in `complete_seeds` order). */
  paired: Record<(typeof BASELINES)[number] | "best", PairedStats & { differences: number[] }>;
  /** Every complete seed has simulator AUC ≥ the per-seed best baseline's. */
  every_seed: boolean;
  /** See {@link TARGET_RULE}: null while a requested seed is missing. */
  target_met: boolean | null;
  /** The verdict in words. */
  verdict: string;
}

const mean = (xs: readonly number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
const signed = (x: number) => (x > 0 ? "+" : "") + f4(x);

/** The summary of one configuration's seeds (see {@link ConfigSeedsSummary}). */
export function summariseSeeds(runs: readonly SeedRun[]): ConfigSeedsSummary {
  const done = runs.filter((r): r is Extract<SeedRun, { figures: SeedFigures }> => "figures" in r);
  const f = done.map((r) => r.figures);
  const sim = f.map((x) => x.scores.simulator.auc);
  const pairedWith = (other: number[]) => {
    const s = pairedStats(sim, other);
    return { ...s, differences: sim.map((a, i) => a - other[i]!) };
  };
  const paired = {
    ...Object.fromEntries(BASELINES.map((b) => [b, pairedWith(f.map((x) => x.scores[b].auc))])),
    best: pairedWith(f.map((x) => x.best_baseline_auc)),
  } as ConfigSeedsSummary["paired"];
  const meanOf = (s: Scorer) => ({
    auc: mean(f.map((x) => x.scores[s].auc)),
    log_loss: mean(f.map((x) => x.scores[s].log_loss)),
    ece: mean(f.map((x) => x.scores[s].ece)),
  });
  const best = paired.best;
  const everySeed = best.n > 0 && best.n === done.length && best.losses === 0;
  const missing = runs.filter((r) => !("figures" in r)).map((r) => r.seed);
  const passed = best.n > 0 && best.mean > 0 && best.p_one_sided <= ALPHA;
  const figures = `simulator − best baseline AUC ${signed(best.mean)} (sd ${f4(best.sd)}), ` +
    `ahead on ${best.wins}/${best.n} seeds, one-sided p = ${f4(best.p_one_sided)}`;
  let verdict: string;
  if (done.length === 0) {
    verdict = `undecided: no seed complete (${missing.length} missing)`;
  } else if (missing.length > 0) {
    verdict = `undecided: seeds ${
      missing.join(", ")
    } missing; on ${done.length} seed(s) ${figures}`;
  } else if (best.n < done.length) {
    verdict = `not met: ${done.length - best.n} seed(s) have no finite AUC; ${figures}`;
  } else if (passed) {
    verdict = `met: ${figures} <= ${ALPHA}`;
  } else {
    const floor = smallestPValue(best.n);
    verdict = `not met: ${figures}` +
      (floor > ALPHA ? ` (${best.n} seeds cannot reach p <= ${ALPHA}: at best ${f4(floor)})` : "");
  }
  return {
    seeds: runs.map((r) => r.seed),
    complete_seeds: done.map((r) => r.seed),
    missing_seeds: missing,
    mean: {
      ...Object.fromEntries(SCORERS.map((s) => [s, meanOf(s)])) as Record<
        Scorer,
        { auc: number; log_loss: number; ece: number }
      >,
      questions: mean(f.map((x) => x.questions)),
      refused: mean(f.map((x) => x.refused)),
    },
    paired,
    every_seed: everySeed,
    target_met: missing.length > 0 ? null : passed && best.n === done.length,
    verdict,
  };
}
