/**
 * From a canonical log to (state, action, reward) tuples: sessions ordered by timestamp,
 * rare items dropped, feedback labels mapped to K classes, tuple windows of N pairs and the
 * train / validation / test split. Data are kept columnar (typed arrays) so that paper-scale
 * logs fit in memory.
 *
 * Split: the test tuple of a session is its last one (as in the paper); the validation tuple is
 * the one before it (the same protocol one step earlier); every other tuple trains.
 * @module
 */
import { DataFormatError, quoteForMessage, UserError } from "../errors.ts";
import { type LogRecord, readLog, readLogBytes } from "./read_log.ts";
import { Column } from "./column.ts";
import { createHash } from "node:crypto";
import { collectGarbage } from "../memory.ts";
import type { TrainConfig } from "../config.ts";

/** From this many rows on, loading collects garbage between its phases (see lib/memory.ts). */
const LARGE_LOG_ROWS = 1_000_000;

/** Labels counted as positive unless `--positive` says otherwise. */
export const DEFAULT_POSITIVE = ["click", "purchase", "pos", "like", "buy", "1"] as const;

/** How to turn a log into tuples. */
export interface DatasetOptions {
  /** State length N. @default 20 */
  stateLength?: number;
  /** Items seen fewer times are dropped (their rows removed). @default 5 */
  minCount?: number;
  /** Labels that count as positive. @default DEFAULT_POSITIVE */
  positive?: readonly string[];
  /**
   * Shortest state (in pairs) a tuple may have; shorter histories are left-padded and masked.
   * N reproduces the paper (full states only). @default stateLength
   */
  minStateLength?: number;
  /** Hold out the second-to-last tuple of each session for validation. @default true */
  validation?: boolean;
  /**
   * Fixed vocabulary and labels (e.g. from a checkpoint): rows with unknown items are dropped,
   * unknown labels are an error; `minCount` is not applied.
   */
  vocabulary?: {
    items: readonly string[];
    labels: readonly string[];
    positive: readonly boolean[];
  };
}

/**
 * The dataset options a training configuration implies: the one mapping from flags to tuples,
 * used by train, demo and experiment.
 *
 * @example
 * ```ts
 * import { TRAIN_DEFAULTS } from "../config.ts";
 * const o = datasetOptions({ ...TRAIN_DEFAULTS, stateLength: 5, minStateLength: 5 });
 * console.assert(o.stateLength === 5 && o.minCount === TRAIN_DEFAULTS.minCount);
 * ```
 */
export function datasetOptions(
  c: Pick<TrainConfig, "stateLength" | "minStateLength" | "minCount" | "positive">,
): DatasetOptions {
  return {
    stateLength: c.stateLength,
    minStateLength: c.minStateLength,
    minCount: c.minCount,
    positive: c.positive,
  };
}

/** Summary numbers of a data set, printed after loading. */
export interface DatasetStats {
  rows: number;
  rowsKept: number;
  sessions: number;
  sessionsWithTuples: number;
  itemsRaw: number;
  items: number;
  labelCounts: Record<string, number>;
  trainTuples: number;
  validationTuples: number;
  testTuples: number;
  trainPositiveRate: number;
  testPositiveRate: number;
  sessionLength: { min: number; median: number; mean: number; max: number };
}

/** A log turned into flat per-row arrays plus tuple indices. */
export interface Dataset {
  /** File the log came from. */
  file: string;
  /** sha256 of the file's bytes (hex), the data fingerprint. */
  fingerprint: string;
  /** State length N. */
  stateLength: number;
  /** Shortest state length a tuple may have. */
  minStateLength: number;
  /** Item ids, index = item class. */
  items: string[];
  /** Item id → index. */
  itemIndex: Map<string, number>;
  /** Feedback labels, index = class (non-positive labels first, then positive; each sorted). */
  labels: string[];
  /** Whether each label is positive. */
  positive: boolean[];
  /** Per kept row, grouped by session in time order: item index. */
  rowItem: Int32Array;
  /** Per kept row: feedback class. */
  rowLabel: Int32Array;
  /** Per kept row: flat index of its session's first row. */
  rowSessionStart: Int32Array;
  /** Session boundaries: session j has rows [sessionOffsets[j], sessionOffsets[j+1]). */
  sessionOffsets: Int32Array;
  /** Session ids in the order of `sessionOffsets`. */
  sessionIds: string[];
  /** Tuples are identified by the flat row index of their action. */
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
  stats: DatasetStats;
}

function intern(map: Map<string, number>, names: string[], key: string): number {
  let i = map.get(key);
  if (i === undefined) {
    i = names.length;
    map.set(key, i);
    names.push(key);
  }
  return i;
}

/** Reads `path` and builds the data set. */
export async function loadDataset(path: string, options: DatasetOptions = {}): Promise<Dataset> {
  return await buildDataset(
    path,
    (onRecord, onChunk) => readLog(path, onRecord, { onChunk }),
    options,
  );
}

/** Like {@link loadDataset} for in-memory CSV text (tests, stdin). */
export async function datasetFromText(
  text: string,
  file: string,
  options: DatasetOptions = {},
): Promise<Dataset> {
  return await buildDataset(
    file,
    (onRecord, onChunk) => readLogBytes(text, file, onRecord, { onChunk }),
    options,
  );
}

async function buildDataset(
  file: string,
  read: (
    onRecord: (r: LogRecord) => void,
    onChunk: (bytes: Uint8Array) => void,
  ) => Promise<{ header: { hasTimestamp: boolean }; rows: number }>,
  options: DatasetOptions,
): Promise<Dataset> {
  const N = options.stateLength ?? 20;
  const minCount = options.minCount ?? 5;
  const minState = options.minStateLength ?? N;
  if (!Number.isInteger(N) || N < 1) {
    throw new RangeError(`stateLength must be a positive integer, got ${N}`);
  }
  if (!Number.isInteger(minState) || minState < 0 || minState > N) {
    throw new RangeError(`minStateLength must be an integer in [0, ${N}], got ${minState}`);
  }
  const positiveSet = new Set(options.positive ?? DEFAULT_POSITIVE);
  const sessMap = new Map<string, number>();
  const sessNames: string[] = [];
  const itemMap = new Map<string, number>();
  const itemNames: string[] = [];
  const labelMap = new Map<string, number>();
  const labelNames: string[] = [];
  const labelLine: number[] = [];
  const sess = new Column(Int32Array);
  const item = new Column(Int32Array);
  const label = new Column(Int32Array);
  const ts = new Column(Float64Array); // stays empty without a timestamp column
  const hash = createHash("sha256"); // the fingerprint, of the bytes as they are read
  const { header, rows } = await read((r) => {
    sess.push(intern(sessMap, sessNames, r.session));
    item.push(intern(itemMap, itemNames, r.item));
    const li = intern(labelMap, labelNames, r.feedback);
    if (labelLine.length < labelNames.length) labelLine.push(r.line);
    label.push(li);
    if (r.timestamp !== undefined) ts.push(r.timestamp);
  }, (bytes) => hash.update(bytes));
  if (rows === 0) throw new DataFormatError({ file }, "no data rows");
  // The reading's garbage (a string per field, the intern maps' old tables) before the build.
  if (rows >= LARGE_LOG_ROWS) collectGarbage();

  // Items kept: by count, or by a fixed vocabulary.
  const itemCount = new Int32Array(itemNames.length);
  for (let i = 0; i < item.length; i++) itemCount[item.at(i)]!++;
  const newIndex = new Int32Array(itemNames.length).fill(-1);
  const items: string[] = [];
  if (options.vocabulary) {
    const fixed = new Map(options.vocabulary.items.map((id, i) => [id, i]));
    itemNames.forEach((id, i) => {
      const j = fixed.get(id);
      if (j !== undefined) newIndex[i] = j;
    });
    items.push(...options.vocabulary.items);
  } else {
    // First-appearance order among kept items.
    for (let i = 0; i < item.length; i++) {
      const it = item.at(i);
      if (newIndex[it] === -1 && itemCount[it]! >= minCount) {
        newIndex[it] = items.length;
        items.push(itemNames[it]!);
      }
    }
  }
  if (items.length === 0) {
    throw new UserError(
      `"${file}": no item is seen at least --min-count=${minCount} times (${itemNames.length} items, most frequent seen ${
        Math.max(...itemCount)
      } times); lower --min-count`,
    );
  }

  // Labels: fixed, or non-positive first then positive, each sorted.
  let labels: string[];
  let positive: boolean[];
  if (options.vocabulary) {
    labels = [...options.vocabulary.labels];
    positive = [...options.vocabulary.positive];
    labelNames.forEach((l, i) => {
      if (!labels.includes(l)) {
        throw new DataFormatError(
          { file, line: labelLine[i], column: "feedback" },
          `label ${quoteForMessage(l)} is not one of the model's labels (${
            quoteForMessage(labels, 80, "labels")
          })`,
        );
      }
    });
  } else {
    const neg = labelNames.filter((l) => !positiveSet.has(l)).sort();
    const pos = labelNames.filter((l) => positiveSet.has(l)).sort();
    labels = [...neg, ...pos];
    positive = labels.map((l) => positiveSet.has(l));
    if (labels.length < 2) {
      throw new UserError(
        `"${file}": only one feedback label (${
          quoteForMessage(labels[0]!)
        }) — a simulator needs at least two classes`,
      );
    }
    if (pos.length === 0) {
      throw new UserError(
        `"${file}": none of the labels (${
          quoteForMessage(labels, 80, "labels")
        }) is positive; name them with --positive`,
      );
    }
    if (neg.length === 0) {
      throw new UserError(
        `"${file}": every label (${
          quoteForMessage(labels, 80, "labels")
        }) is positive; leave at least one out of --positive`,
      );
    }
  }
  const labelClass = labelNames.map((l) => labels.indexOf(l));

  // Order kept rows: by session (first appearance), then timestamp, then file order (stable).
  const S = sessNames.length;
  const perSess = new Int32Array(S + 1);
  let kept = 0;
  for (let i = 0; i < item.length; i++) {
    if (newIndex[item.at(i)]! >= 0) {
      perSess[sess.at(i) + 1]!++;
      kept++;
    }
  }
  for (let s = 0; s < S; s++) perSess[s + 1]! += perSess[s]!;
  const cursor = perSess.slice(0, S);
  const order = new Int32Array(kept);
  for (let i = 0; i < item.length; i++) {
    if (newIndex[item.at(i)]! >= 0) order[cursor[sess.at(i)]!++] = i;
  }
  if (header.hasTimestamp) {
    for (let s = 0; s < S; s++) {
      const slice = order.subarray(perSess[s]!, perSess[s + 1]!);
      let sorted = true;
      for (let j = 1; j < slice.length && sorted; j++) {
        sorted = ts.at(slice[j - 1]!) <= ts.at(slice[j]!);
      }
      if (!sorted) {
        const arr = Array.from(slice).sort((a, b) => ts.at(a) - ts.at(b) || a - b);
        slice.set(arr);
      }
    }
  }
  // Drop sessions left empty; build flat arrays.
  const rowItem = new Int32Array(kept);
  const rowLabel = new Int32Array(kept);
  const rowSessionStart = new Int32Array(kept);
  const offsets: number[] = [0];
  const sessionIds: string[] = [];
  for (let s = 0; s < S; s++) {
    const a = perSess[s]!, b = perSess[s + 1]!;
    if (b === a) continue;
    for (let j = a; j < b; j++) {
      const r = order[j]!;
      rowItem[j] = newIndex[item.at(r)]!;
      rowLabel[j] = labelClass[label.at(r)]!;
      rowSessionStart[j] = a;
    }
    offsets.push(b);
    sessionIds.push(sessNames[s]!);
  }
  const sessionOffsets = Int32Array.from(offsets);

  if (rows >= LARGE_LOG_ROWS) collectGarbage(); // the raw columns and the row order
  // Tuples: action positions with at least minState earlier pairs (and ≥ 1 when minState = 0).
  const train = new Column(Int32Array), val = new Column(Int32Array), test = new Column(Int32Array);
  const useVal = options.validation ?? true;
  let withTuples = 0;
  const lengths: number[] = [];
  for (let j = 0; j + 1 < sessionOffsets.length; j++) {
    const a = sessionOffsets[j]!, b = sessionOffsets[j + 1]!;
    lengths.push(b - a);
    const first = a + Math.max(minState, 1);
    if (first >= b) continue;
    withTuples++;
    const last = b - 1;
    for (let p = first; p < last; p++) {
      if (useVal && p === last - 1) val.push(p);
      else train.push(p);
    }
    test.push(last);
  }
  const trainIdx = train.toArray(), valIdx = val.toArray(), testIdx = test.toArray();
  lengths.sort((x, y) => x - y);
  const labelCounts: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
  for (let i = 0; i < kept; i++) labelCounts[labels[rowLabel[i]!]!]!++;
  const posRate = (idx: Int32Array) => {
    let p = 0;
    for (const i of idx) if (positive[rowLabel[i]!]) p++;
    return idx.length ? p / idx.length : NaN;
  };
  const stats: DatasetStats = {
    rows,
    rowsKept: kept,
    sessions: sessionIds.length,
    sessionsWithTuples: withTuples,
    itemsRaw: itemNames.length,
    items: items.length,
    labelCounts,
    trainTuples: trainIdx.length,
    validationTuples: valIdx.length,
    testTuples: testIdx.length,
    trainPositiveRate: posRate(trainIdx),
    testPositiveRate: posRate(testIdx),
    sessionLength: {
      min: lengths[0] ?? 0,
      median: lengths[Math.floor(lengths.length / 2)] ?? 0,
      mean: lengths.length ? kept / lengths.length : 0,
      max: lengths[lengths.length - 1] ?? 0,
    },
  };
  // item id → kept index: the intern map, re-pointed in place (a second 1 M-entry map, built
  // from 1 M [id, index] pairs, was the largest garbage of a paper-scale load).
  let itemIndex = itemMap;
  if (options.vocabulary) {
    itemIndex = new Map();
    items.forEach((id, i) => itemIndex.set(id, i));
  } else {
    for (const [id, raw] of itemMap) {
      if (newIndex[raw]! >= 0) itemMap.set(id, newIndex[raw]!);
      else itemMap.delete(id);
    }
  }
  return {
    file,
    fingerprint: hash.digest("hex"),
    stateLength: N,
    minStateLength: minState,
    items,
    itemIndex,
    labels,
    positive,
    rowItem,
    rowLabel,
    rowSessionStart,
    sessionOffsets,
    sessionIds,
    train: trainIdx,
    validation: valIdx,
    test: testIdx,
    stats,
  };
}

/** One line per statistic, for stderr. */
export function formatStats(ds: Dataset): string {
  const s = ds.stats;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `data: ${ds.file}`,
    `  rows ${s.rows} (kept ${s.rowsKept}), sessions ${s.sessions} (${s.sessionsWithTuples} with tuples), items ${s.itemsRaw} -> ${s.items}`,
    `  labels ${
      ds.labels.map((l, i) => `${l}${ds.positive[i] ? "+" : ""}=${s.labelCounts[l]}`).join(" ")
    }`,
    `  session length min/median/mean/max ${s.sessionLength.min}/${s.sessionLength.median}/${
      s.sessionLength.mean.toFixed(1)
    }/${s.sessionLength.max}`,
    `  tuples train ${s.trainTuples} (positive ${
      pct(s.trainPositiveRate)
    }), validation ${s.validationTuples}, test ${s.testTuples} (positive ${
      pct(s.testPositiveRate)
    })`,
  ].join("\n");
}
