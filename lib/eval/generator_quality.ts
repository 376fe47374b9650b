/**
 * Table 1, generator quality: how close a recommender's ranking performance comes to that of
 * the logging policy recorded in the logs. (The exact protocol and why it reads the paper this
 * way: `docs/experiments.md`, "Table 1".)
 *
 * 1. A seeded share of the sessions that have at least N + 1 rows is held out; every model
 *    (RecSimu included) trains on the other sessions only ({@link splitForGeneratorQuality}).
 * 2. Each held-out session gives one query: its initial state, the first N (item, feedback)
 *    pairs — the paper's initial state — and its window, the next (up to) k = 40 logged rows.
 *    The relevant items are those of the window with positive feedback; sessions whose window
 *    has none are skipped (average precision is undefined there).
 * 3. "Logs" ranks the window's items in the order the logging policy showed them. A recommender
 *    ranks every item for the initial state and keeps its top k.
 * 4. MAP = mean average precision over queries (AP's denominator: min(|relevant|, list length));
 *    NDCG@k with binary gains. The difference of a recommender to the logs is
 *    |M − M_logs| / M_logs, per seed.
 * @module
 */
import { tf } from "../tf.ts";
import type { Dataset } from "../data/dataset.ts";
import type { TupleBatch } from "../data/batches.ts";
import { deriveSeed, Rng } from "../random.ts";
import { averagePrecision, ndcgAtK } from "./metrics.ts";
import { dotAll, type ItemRanker } from "../../models/baselines/ranker.ts";

/** The list length of Table 1 (NDCG@40, top-40 lists). */
export const TABLE1_K = 40;

/** One held-out session of Table 1. */
export interface RankingQuery {
  /** Flat row of the session's first action; its state is the session's first N pairs. */
  row: number;
  /** Items the logging policy showed after the state, in order (at most k). */
  window: Int32Array;
  /** Items of the window with positive feedback. */
  relevant: Set<number>;
}

/** Result of {@link splitForGeneratorQuality}. */
export interface GeneratorSplit {
  /** The data without the held-out sessions (models train here). */
  fit: Dataset;
  /** One query per held-out session with a positive item in its window. */
  queries: RankingQuery[];
  /** Sessions held out. */
  heldOut: number;
  /** Held-out sessions skipped because their window has no positive item. */
  noPositive: number;
}

/** Options of {@link splitForGeneratorQuality}. */
export interface GeneratorSplitOptions {
  /** Share of the eligible sessions (≥ N + 1 rows) held out. @default 0.2 */
  fraction?: number;
  /** Seed of the draw. @default 0 */
  seed?: number;
  /** Window (and list) length. @default TABLE1_K */
  k?: number;
}

/**
 * A data set made of some of `ds`'s sessions (`sessions`: indices into `ds.sessionIds`), with the
 * same vocabulary and labels and tuples split by the same rule (last tuple test, the one before
 * validation when `ds` has validation tuples).
 */
export function subsetSessions(ds: Dataset, sessions: readonly number[], tag: string): Dataset {
  const order = [...sessions].sort((a, b) => a - b);
  let rows = 0;
  for (const s of order) rows += ds.sessionOffsets[s + 1]! - ds.sessionOffsets[s]!;
  const rowItem = new Int32Array(rows), rowLabel = new Int32Array(rows);
  const rowSessionStart = new Int32Array(rows);
  const offsets = [0];
  const train: number[] = [], validation: number[] = [], test: number[] = [];
  const useVal = ds.validation.length > 0;
  const minState = Math.max(ds.minStateLength, 1);
  let at = 0;
  for (const s of order) {
    const a = ds.sessionOffsets[s]!, b = ds.sessionOffsets[s + 1]!;
    rowItem.set(ds.rowItem.subarray(a, b), at);
    rowLabel.set(ds.rowLabel.subarray(a, b), at);
    rowSessionStart.fill(at, at, at + b - a);
    const first = at + minState, last = at + b - a - 1;
    if (first <= last) {
      for (let p = first; p < last; p++) (useVal && p === last - 1 ? validation : train).push(p);
      test.push(last);
    }
    at += b - a;
    offsets.push(at);
  }
  const posRate = (idx: number[]) =>
    idx.length ? idx.filter((r) => ds.positive[rowLabel[r]!]).length / idx.length : NaN;
  return {
    ...ds,
    fingerprint: `${ds.fingerprint}/${tag}`,
    rowItem,
    rowLabel,
    rowSessionStart,
    sessionOffsets: Int32Array.from(offsets),
    sessionIds: order.map((s) => ds.sessionIds[s]!),
    train: Int32Array.from(train),
    validation: Int32Array.from(validation),
    test: Int32Array.from(test),
    stats: {
      ...ds.stats,
      rowsKept: rows,
      sessions: order.length,
      sessionsWithTuples: test.length,
      trainTuples: train.length,
      validationTuples: validation.length,
      testTuples: test.length,
      trainPositiveRate: posRate(train),
      testPositiveRate: posRate(test),
    },
  };
}

/**
 * Holds out a seeded share of the sessions with at least N + 1 rows and builds Table 1's
 * queries from them (see the module doc).
 */
export function splitForGeneratorQuality(
  ds: Dataset,
  options: GeneratorSplitOptions = {},
): GeneratorSplit {
  const fraction = options.fraction ?? 0.2;
  const k = options.k ?? TABLE1_K;
  if (!(fraction > 0 && fraction < 1)) {
    throw new RangeError(`held-out fraction must be in (0, 1), got ${fraction}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const N = ds.stateLength;
  const S = ds.sessionIds.length;
  const eligible: number[] = [];
  for (let s = 0; s < S; s++) {
    if (ds.sessionOffsets[s + 1]! - ds.sessionOffsets[s]! >= N + 1) eligible.push(s);
  }
  new Rng(deriveSeed(options.seed ?? 0, "table1/held-out")).shuffle(eligible);
  const held = eligible.slice(0, Math.round(fraction * eligible.length)).sort((a, b) => a - b);
  const heldSet = new Set(held);
  const keep: number[] = [];
  for (let s = 0; s < S; s++) if (!heldSet.has(s)) keep.push(s);
  const queries: RankingQuery[] = [];
  let noPositive = 0;
  for (const s of held) {
    const a = ds.sessionOffsets[s]!, b = ds.sessionOffsets[s + 1]!;
    const row = a + N;
    const end = Math.min(b, row + k);
    const window = ds.rowItem.slice(row, end);
    const relevant = new Set<number>();
    for (let r = row; r < end; r++) if (ds.positive[ds.rowLabel[r]!]) relevant.add(ds.rowItem[r]!);
    if (relevant.size === 0) noPositive++;
    else queries.push({ row, window, relevant });
  }
  return {
    fit: subsetSessions(ds, keep, `fit-${fraction}-${options.seed ?? 0}`),
    queries,
    heldOut: held.length,
    noPositive,
  };
}

/** Ranking quality of top-k lists. */
export interface RankingMetrics {
  /** Mean average precision over the queries. */
  map: number;
  /** Mean NDCG@k (binary gains). */
  ndcg: number;
  /** List length k. */
  k: number;
  /** Number of queries. */
  queries: number;
}

/**
 * MAP and NDCG@k of one ranked list per query (`lists[i]` for `queries[i]`; entries < 0 are
 * ignored).
 *
 * @example
 * ```ts
 * import { rankingMetrics } from "./generator_quality.ts";
 * const q = { row: 0, window: Int32Array.of(1, 2), relevant: new Set([2]) };
 * rankingMetrics([[2, 5]], [q], 2); // { map: 1, ndcg: 1, k: 2, queries: 1 }
 * ```
 */
export function rankingMetrics(
  lists: readonly (ArrayLike<number>)[],
  queries: readonly RankingQuery[],
  k: number,
): RankingMetrics {
  if (lists.length !== queries.length) {
    throw new TypeError(`rankingMetrics: ${lists.length} lists for ${queries.length} queries`);
  }
  let ap = 0, nd = 0;
  queries.forEach((q, i) => {
    const list = Array.from(lists[i]!).filter((x) => x >= 0).slice(0, k);
    ap += averagePrecision(list, q.relevant);
    nd += ndcgAtK(list, q.relevant, k);
  });
  const n = queries.length;
  return { map: n ? ap / n : NaN, ndcg: n ? nd / n : NaN, k, queries: n };
}

/** The "Logs" row: each window's items in the order they were shown. */
export function logsRanking(queries: readonly RankingQuery[], k: number): RankingMetrics {
  return rankingMetrics(queries.map((q) => q.window), queries, k);
}

/** Splits a flat [n × k] top-k array into lists. */
export function splitLists(flat: Int32Array, k: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i < flat.length; i += k) out.push(flat.subarray(i, i + k));
  return out;
}

/**
 * Relative difference |m − logs| / logs of a recommender's metric to the logs' (NaN when the
 * logs' metric is 0 or undefined).
 *
 * @example
 * ```ts
 * import { relativeDifference } from "./generator_quality.ts";
 * relativeDifference(0.075, 0.097); // ≈ 0.2268 (the paper's FM row: 22.6%)
 * ```
 */
export function relativeDifference(m: number, logs: number): number {
  return logs > 0 && Number.isFinite(logs) ? Math.abs(m - logs) / logs : NaN;
}

/**
 * RecSimu's generator as a recommender: items ranked by the squared distance of their embedding
 * (the first E item features) to G(s), nearest first.
 */
export class GeneratorRanker implements ItemRanker {
  readonly name = "recsimu";
  readonly pairCost = 1;
  /** @param generate G(s) [B, E] for a batch; @param embDim E */
  constructor(readonly generate: (b: TupleBatch) => tf.Tensor2D, readonly embDim: number) {}
  scores(b: TupleBatch, candidates: tf.Tensor2D): tf.Tensor2D {
    const g = this.generate(b);
    const e = tf.slice(candidates, [0, 0], [-1, this.embDim]) as tf.Tensor2D;
    // −‖g − e‖² = 2 g·e − ‖g‖² − ‖e‖²
    const cross = tf.mul(2, dotAll(g, e));
    const gn = tf.sum(tf.square(g), 1, true);
    const en = tf.reshape(tf.sum(tf.square(e), 1), [1, -1]);
    return tf.sub(tf.sub(cross, gn), en);
  }
  variables(): tf.Variable[] {
    return [];
  }
  dispose(): void {}
}
