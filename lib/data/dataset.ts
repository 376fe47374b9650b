/**
 * From a canonical log to (state, action, reward) tuples: sessions ordered by timestamp,
 * rare items dropped, feedback labels mapped to K classes, tuple windows of N pairs and the
 * train / validation / test split. Data are kept columnar (typed arrays) so that paper-scale
 * logs fit in memory.
 *
 * Split `last` (the default, as in the paper): the test tuple of a session is its last one; the
 * validation tuple is the one before it (the same protocol one step earlier); every other tuple
 * trains. Split `users`: whole sessions are held out, chosen by a hash of the seed and the
 * session id ({@link sessionRole}); every tuple of a test session tests, of a validation session
 * validates, of the rest trains.
 * @module
 */
import { DataFormatError, quoteForMessage, UserError } from "../errors.ts";
import { type LogRecord, readLog, readLogBytes } from "./read_log.ts";
import { Column } from "./column.ts";
import { createHash } from "node:crypto";
import { collectGarbage } from "../memory.ts";
import { DEFAULT_POSITIVE, type TrainConfig } from "../config.ts";

/** From this many rows on, loading collects garbage between its phases (see lib/memory.ts). */
const LARGE_LOG_ROWS = 1_000_000;

/** Labels counted as positive unless `--positive` says otherwise (from lib/config.ts). */
export { DEFAULT_POSITIVE };

/**
 * How to turn a log into tuples.
 *
 * @example
 * ```ts
 * import { datasetFromText, type DatasetOptions } from "@recsimu/recsimu";
 *
 * const options: DatasetOptions = { stateLength: 2, minCount: 1, positive: ["liked"] };
 * const csv = "session_id,item_id,feedback\nu1,a,seen\nu1,b,liked\nu1,a,seen\n";
 * const ds = await datasetFromText(csv, "inline.csv", options);
 * ds.labels; // ["seen", "liked"]
 * ds.positive; // [false, true]
 * ```
 */
export interface DatasetOptions {
  /** State length N. @default 20 */
  stateLength?: number;
  /**
   * Items seen fewer times get no own index: their rows are dropped, or kept as the shared rare
   * item with `rareItems`. @default 5
   */
  minCount?: number;
  /**
   * Keep the rows of rare items (below `minCount`, or outside a fixed `vocabulary`) as the
   * shared rare item, index `items.length + 1` ({@link rareIndex}), instead of dropping them, so
   * that every tuple is kept and the labels keep the raw log's distribution. @default false
   */
  rareItems?: boolean;
  /**
   * When more items are kept than this, order the vocabulary by count (most frequent first, ties
   * in first-appearance order) instead of by first appearance, so that the first items are the
   * frequent ones (the `attn` model's own residual rows, `residualItems`). Ignored with a fixed
   * `vocabulary`. @default never
   */
  countOrderAbove?: number;
  /** Labels that count as positive. @default DEFAULT_POSITIVE */
  positive?: readonly string[];
  /**
   * Shortest state (in pairs) a tuple may have; shorter histories are left-padded and masked.
   * N reproduces the paper (full states only). @default stateLength
   */
  minStateLength?: number;
  /**
   * Validation tuples: split `last`, the second-to-last tuple of each session; split `users`,
   * the tuples of {@link USERS_VALIDATION_SHARE} of the sessions. @default true
   */
  validation?: boolean;
  /** `last`: each session's last tuple tests; `users`: whole sessions are held out. @default "last" */
  split?: "last" | "users";
  /** Split `users`: the share of sessions held out for testing. @default 0.2 */
  holdout?: number;
  /** Split `users`: the seed of the session hash. @default 0 */
  seed?: number;
  /**
   * Fixed vocabulary and labels (e.g. from a checkpoint): rows with unknown items are dropped
   * (or kept as the rare item with `rareItems`), unknown labels are an error; `minCount` is not
   * applied.
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
  c:
    & Pick<TrainConfig, "stateLength" | "minStateLength" | "minCount" | "positive" | "arch">
    & Partial<Pick<TrainConfig, "split" | "holdout" | "seed" | "residualItems">>,
): DatasetOptions {
  return {
    stateLength: c.stateLength,
    minStateLength: c.minStateLength,
    minCount: c.minCount,
    positive: c.positive,
    // The paper's networks drop rare items (its protocol); the default model answers them.
    rareItems: c.arch !== "paper",
    ...(c.arch !== "paper" && c.residualItems ? { countOrderAbove: c.residualItems } : {}),
    ...splitOptions(c),
  };
}

/**
 * The split options a training configuration implies (a checkpoint's config written before
 * `split` existed means `last`): what every command that rebuilds a model's tuples passes.
 *
 * @example
 * ```ts
 * import { splitOptions } from "./dataset.ts";
 * splitOptions({ split: "users", holdout: 0.3, seed: 2 }); // { split: "users", holdout: 0.3, seed: 2 }
 * splitOptions({}).split; // "last"
 * ```
 */
export function splitOptions(
  c: Partial<Pick<TrainConfig, "split" | "holdout" | "seed">>,
): Pick<DatasetOptions, "split" | "holdout" | "seed"> {
  return c.split === "users"
    ? { split: "users", holdout: c.holdout ?? 0.2, seed: c.seed ?? 0 }
    : { split: "last" };
}

/** Split `users`: the share of sessions whose tuples validate (after the test share). */
export const USERS_VALIDATION_SHARE = 0.1;

/**
 * Split `users`: the role of session `id`. u is the first 32 bits of
 * sha256("recsimu-split-users:SEED:ID") over 2^32, uniform in [0, 1); the session tests when
 * u < holdout, validates when u < holdout + validationShare, else trains. It depends only on
 * the seed and the id, so it is the same whatever else the log holds.
 *
 * @example
 * ```ts
 * import { sessionRole } from "./dataset.ts";
 * sessionRole("u1", 0, 0.2) === sessionRole("u1", 0, 0.2); // true
 * sessionRole("u1", 0, 0.2, 0.8) !== "train"; // true: holdout + validation share is 1
 * ```
 */
export function sessionRole(
  id: string,
  seed: number,
  holdout: number,
  validationShare = USERS_VALIDATION_SHARE,
): "train" | "validation" | "test" {
  const h = createHash("sha256").update(`recsimu-split-users:${seed}:${id}`).digest();
  const u = h.readUInt32BE(0) / 2 ** 32;
  return u < holdout ? "test" : u < holdout + validationShare ? "validation" : "train";
}

/** Index of the padding item of a vocabulary of `items` items (the embedding tables' zero row). */
export function padIndex(items: number): number {
  return items;
}

/** Index of the shared rare item (items below --min-count, or never seen) of `items` items. */
export function rareIndex(items: number): number {
  return items + 1;
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
  /** `last` or `users`. */
  split: "last" | "users";
  /** Sessions with test tuples. */
  testSessions: number;
  /** Test tuples with a state shorter than N (left-padded). */
  shortStateTestTuples: number;
  /** Kept rows whose item is the shared rare item (0 unless rare items are kept). */
  rareRows: number;
  sessionLength: { min: number; median: number; mean: number; max: number };
}

/**
 * A log turned into flat per-row arrays plus tuple indices.
 *
 * @example
 * ```ts
 * import { type Dataset, datasetFromText } from "@recsimu/recsimu";
 *
 * // Tuple `row` as ids and labels: up to N earlier pairs of its session, the action, its feedback.
 * function tuple(ds: Dataset, row: number) {
 *   const state = [];
 *   for (let r = Math.max(ds.rowSessionStart[row]!, row - ds.stateLength); r < row; r++) {
 *     state.push({ item: ds.items[ds.rowItem[r]!]!, feedback: ds.labels[ds.rowLabel[r]!]! });
 *   }
 *   return { state, action: ds.items[ds.rowItem[row]!]!, feedback: ds.labels[ds.rowLabel[row]!]! };
 * }
 * const csv = "session_id,item_id,feedback\nu1,a,skip\nu1,b,click\nu1,c,skip\n";
 * const ds = await datasetFromText(csv, "inline.csv", { stateLength: 2, minCount: 1 });
 * tuple(ds, ds.test[0]!);
 * // { state: [{ item: "a", feedback: "skip" }, { item: "b", feedback: "click" }],
 * //   action: "c", feedback: "skip" }
 * ```
 */
export interface Dataset {
  /** File the log came from. */
  file: string;
  /** sha256 of the file's bytes (hex), the data fingerprint. */
  fingerprint: string;
  /** State length N. */
  stateLength: number;
  /** Shortest state length a tuple may have. */
  minStateLength: number;
  /**
   * Item ids, index = item class. Index `items.length` pads states; `items.length + 1` is the
   * shared rare item ({@link rareIndex}), present in `rowItem` when `rare` is true.
   */
  items: string[];
  /** Rare items were kept as the shared rare item (`DatasetOptions.rareItems`). */
  rare: boolean;
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

/**
 * Reads `path` and builds the data set.
 *
 * @example
 * ```ts
 * import { loadDataset } from "@recsimu/recsimu";
 *
 * const dir = await Deno.makeTempDir();
 * const csv = "session_id,item_id,feedback,timestamp\n" +
 *   "u1,a,skip,30\nu1,b,click,10\nu1,c,skip,20\nu1,a,click,40\n";
 * await Deno.writeTextFile(`${dir}/log.csv`, csv);
 * const ds = await loadDataset(`${dir}/log.csv`, { stateLength: 1, minCount: 1 });
 * ds.items; // ["a", "b", "c"]: kept items in order of first appearance
 * [...ds.rowItem].map((i) => ds.items[i]); // ["b", "c", "a", "a"]: the session in time order
 * ds.fingerprint; // sha256 of the file's bytes
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadDataset(path: string, options: DatasetOptions = {}): Promise<Dataset> {
  return await buildDataset(
    path,
    (onRecord, onChunk) => readLog(path, onRecord, { onChunk }),
    options,
  );
}

/**
 * Like {@link loadDataset} for in-memory CSV text (tests, stdin).
 *
 * @example
 * ```ts
 * import { datasetFromText } from "@recsimu/recsimu";
 *
 * const csv = "session_id,item_id,feedback\nu1,a,skip\nu1,b,click\nu1,c,skip\nu1,a,click\n";
 * const ds = await datasetFromText(csv, "inline.csv", { stateLength: 1, minCount: 1 });
 * ds.labels; // ["skip", "click"]: non-positive labels first
 * [ds.train.length, ds.validation.length, ds.test.length]; // [1, 1, 1]
 * ```
 */
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

/** Reads a log, calling `onRecord` per row and `onChunk` per block of raw bytes. */
type ReadRows = (
  onRecord: (r: LogRecord) => void,
  onChunk: (bytes: Uint8Array) => void,
) => Promise<{ header: { hasTimestamp: boolean }; rows: number }>;

/** The log as read: one interned value per row and column, in file order. */
interface RawLog {
  rows: number;
  hasTimestamp: boolean;
  /** sha256 of the bytes read (hex). */
  fingerprint: string;
  sess: Column<Int32Array>;
  item: Column<Int32Array>;
  label: Column<Int32Array>;
  /** Empty without a timestamp column. */
  ts: Column<Float64Array>;
  sessNames: string[];
  itemMap: Map<string, number>;
  itemNames: string[];
  labelNames: string[];
  /** Line where each label first appears, for error messages. */
  labelLine: number[];
}

/** The kept items: raw item index → kept index (−1: dropped), and the kept ids in index order. */
interface ItemVocabulary {
  newIndex: Int32Array;
  items: string[];
}

/** The feedback classes and the class of each raw label. */
interface LabelClasses {
  labels: string[];
  positive: boolean[];
  labelClass: number[];
}

/** Kept rows grouped by session in time order (the row fields of {@link Dataset}). */
type SessionRows = Pick<
  Dataset,
  "rowItem" | "rowLabel" | "rowSessionStart" | "sessionOffsets" | "sessionIds"
>;

/** The log read into sessions: everything {@link buildDataset} keeps of the raw columns. */
interface LogSessions extends SessionRows {
  /** Data rows in the file. */
  rows: number;
  /** Distinct items in the file. */
  itemsRaw: number;
  fingerprint: string;
  items: string[];
  itemIndex: Map<string, number>;
  classes: LabelClasses;
}

/** Tuple indices and the per-session counts the statistics need. */
interface TupleSplit {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
  sessionsWithTuples: number;
  /** Sessions with test tuples. */
  testSessions: number;
  /** Row count of each session, ascending. */
  sortedLengths: number[];
}

/** The log → tuples pipeline: read into sessions, tuples and split, statistics. */
async function buildDataset(
  file: string,
  read: ReadRows,
  options: DatasetOptions,
): Promise<Dataset> {
  const N = options.stateLength ?? 20;
  const minState = options.minStateLength ?? N;
  if (!Number.isInteger(N) || N < 1) {
    throw new RangeError(`stateLength must be a positive integer, got ${N}`);
  }
  if (!Number.isInteger(minState) || minState < 0 || minState > N) {
    throw new RangeError(`minStateLength must be an integer in [0, ${N}], got ${minState}`);
  }
  const log = await logSessions(file, read, options);
  if (log.rows >= LARGE_LOG_ROWS) collectGarbage(); // the raw columns and the row order
  const split = options.split === "users"
    ? splitUsers(log, minState, usersSplit(options))
    : splitTuples(log.sessionOffsets, minState, options.validation ?? true);
  return {
    file,
    fingerprint: log.fingerprint,
    stateLength: N,
    minStateLength: minState,
    items: log.items,
    rare: options.rareItems ?? false,
    itemIndex: log.itemIndex,
    labels: log.classes.labels,
    positive: log.classes.positive,
    rowItem: log.rowItem,
    rowLabel: log.rowLabel,
    rowSessionStart: log.rowSessionStart,
    sessionOffsets: log.sessionOffsets,
    sessionIds: log.sessionIds,
    train: split.train,
    validation: split.validation,
    test: split.test,
    stats: datasetStats(log, split, { split: options.split ?? "last", stateLength: N }),
  };
}

/** The checked parameters of split `users`. */
function usersSplit(o: DatasetOptions): { seed: number; holdout: number; validation: number } {
  const holdout = o.holdout ?? 0.2;
  const validation = o.validation ?? true ? USERS_VALIDATION_SHARE : 0;
  if (!(holdout > 0 && holdout + validation < 1)) {
    throw new RangeError(
      `holdout must be in (0, ${
        1 - validation
      }) (test and validation sessions leave some to train), got ${holdout}`,
    );
  }
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  }
  return { seed, holdout, validation };
}

/**
 * Reads the log, picks the items and labels, and groups the kept rows into sessions; the raw
 * per-row columns are garbage once it returns.
 */
async function logSessions(
  file: string,
  read: ReadRows,
  options: DatasetOptions,
): Promise<LogSessions> {
  const raw = await readRawLog(file, read);
  // The reading's garbage (a string per field, the intern maps' old tables) before the build.
  if (raw.rows >= LARGE_LOG_ROWS) collectGarbage();
  const vocab = keptItems(raw, file, options.minCount ?? 5, options.vocabulary);
  if (!options.vocabulary && vocab.items.length > (options.countOrderAbove ?? Infinity)) {
    orderByCount(raw, vocab);
  }
  if (options.rareItems) {
    const rare = rareIndex(vocab.items.length);
    vocab.newIndex.forEach((j, i) => {
      if (j === -1) vocab.newIndex[i] = rare;
    });
  }
  const classes = labelClasses(raw, file, options.positive ?? DEFAULT_POSITIVE, options.vocabulary);
  return {
    rows: raw.rows,
    itemsRaw: raw.itemNames.length,
    fingerprint: raw.fingerprint,
    items: vocab.items,
    classes,
    ...sessionRows(raw, vocab.newIndex, classes.labelClass),
    itemIndex: keptItemIndex(raw.itemMap, vocab, options.vocabulary !== undefined),
  };
}

/** Reads every row, interning sessions, items and labels, and hashes the bytes as they pass. */
async function readRawLog(file: string, read: ReadRows): Promise<RawLog> {
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
  const ts = new Column(Float64Array);
  const hash = createHash("sha256");
  const { header, rows } = await read((r) => {
    sess.push(intern(sessMap, sessNames, r.session));
    item.push(intern(itemMap, itemNames, r.item));
    const li = intern(labelMap, labelNames, r.feedback);
    if (labelLine.length < labelNames.length) labelLine.push(r.line);
    label.push(li);
    if (r.timestamp !== undefined) ts.push(r.timestamp);
  }, (bytes) => hash.update(bytes));
  if (rows === 0) throw new DataFormatError({ file }, "no data rows");
  return {
    rows,
    hasTimestamp: header.hasTimestamp,
    fingerprint: hash.digest("hex"),
    sess,
    item,
    label,
    ts,
    sessNames,
    itemMap,
    itemNames,
    labelNames,
    labelLine,
  };
}

/** Items kept: those seen at least `minCount` times, in first-appearance order, or a fixed list. */
function keptItems(
  raw: RawLog,
  file: string,
  minCount: number,
  vocabulary: DatasetOptions["vocabulary"],
): ItemVocabulary {
  const { item, itemNames } = raw;
  const itemCount = new Int32Array(itemNames.length);
  for (let i = 0; i < item.length; i++) itemCount[item.at(i)]!++;
  const newIndex = new Int32Array(itemNames.length).fill(-1);
  const items: string[] = [];
  if (vocabulary) {
    const fixed = new Map(vocabulary.items.map((id, i) => [id, i]));
    itemNames.forEach((id, i) => {
      const j = fixed.get(id);
      if (j !== undefined) newIndex[i] = j;
    });
    items.push(...vocabulary.items);
  } else {
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
  return { newIndex, items };
}

/** Reorders a kept vocabulary by count, most frequent first (stable: ties keep their order). */
function orderByCount(raw: RawLog, vocab: ItemVocabulary): void {
  const count = new Int32Array(vocab.items.length);
  for (let i = 0; i < raw.item.length; i++) {
    const j = vocab.newIndex[raw.item.at(i)]!;
    if (j >= 0) count[j]!++;
  }
  const order = Array.from(count.keys()).sort((a, b) => count[b]! - count[a]! || a - b);
  const rank = new Int32Array(order.length);
  order.forEach((j, r) => (rank[j] = r));
  const items = order.map((j) => vocab.items[j]!);
  items.forEach((id, r) => (vocab.items[r] = id)); // not splice(...items): 1 M arguments
  vocab.newIndex.forEach((j, i) => {
    if (j >= 0) vocab.newIndex[i] = rank[j]!;
  });
}

/** Labels: a fixed list (every label of the log must be in it), or non-positive then positive. */
function labelClasses(
  raw: RawLog,
  file: string,
  positiveLabels: readonly string[],
  vocabulary: DatasetOptions["vocabulary"],
): LabelClasses {
  const { labelNames } = raw;
  let labels: string[];
  let positive: boolean[];
  if (vocabulary) {
    labels = [...vocabulary.labels];
    positive = [...vocabulary.positive];
    labelNames.forEach((l, i) => {
      if (!labels.includes(l)) {
        throw new DataFormatError(
          { file, line: raw.labelLine[i], column: "feedback" },
          `label ${quoteForMessage(l)} is not one of the model's labels (${
            quoteForMessage(labels, 80, "labels")
          })`,
        );
      }
    });
  } else {
    const positiveSet = new Set(positiveLabels);
    labels = inferredLabels(file, labelNames, positiveSet);
    positive = labels.map((l) => positiveSet.has(l));
  }
  return { labels, positive, labelClass: labelNames.map((l) => labels.indexOf(l)) };
}

/** The log's labels, non-positive first then positive (each sorted); both kinds must occur. */
function inferredLabels(file: string, labelNames: string[], positiveSet: Set<string>): string[] {
  const neg = labelNames.filter((l) => !positiveSet.has(l)).sort();
  const pos = labelNames.filter((l) => positiveSet.has(l)).sort();
  const labels = [...neg, ...pos];
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
  return labels;
}

/**
 * Raw indices of the kept rows, ordered by session (first appearance), then timestamp, then
 * file order (stable); `perSess[s]` is where session s starts in that order.
 */
function orderRows(raw: RawLog, newIndex: Int32Array): { order: Int32Array; perSess: Int32Array } {
  const { sess, item, ts } = raw;
  const S = raw.sessNames.length;
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
  if (!raw.hasTimestamp) return { order, perSess };
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
  return { order, perSess };
}

/** The kept rows as flat per-row arrays, sessions left empty dropped. */
function sessionRows(raw: RawLog, newIndex: Int32Array, labelClass: number[]): SessionRows {
  const { order, perSess } = orderRows(raw, newIndex);
  const kept = order.length;
  const rowItem = new Int32Array(kept);
  const rowLabel = new Int32Array(kept);
  const rowSessionStart = new Int32Array(kept);
  const offsets: number[] = [0];
  const sessionIds: string[] = [];
  for (let s = 0; s < raw.sessNames.length; s++) {
    const a = perSess[s]!, b = perSess[s + 1]!;
    if (b === a) continue;
    for (let j = a; j < b; j++) {
      const r = order[j]!;
      rowItem[j] = newIndex[raw.item.at(r)]!;
      rowLabel[j] = labelClass[raw.label.at(r)]!;
      rowSessionStart[j] = a;
    }
    offsets.push(b);
    sessionIds.push(raw.sessNames[s]!);
  }
  return {
    rowItem,
    rowLabel,
    rowSessionStart,
    sessionOffsets: Int32Array.from(offsets),
    sessionIds,
  };
}

/**
 * Tuples: action positions with at least `minState` earlier pairs (and ≥ 1 when it is 0). A
 * session's last one tests, the one before validates (when `useVal`), the others train.
 */
function splitTuples(sessionOffsets: Int32Array, minState: number, useVal: boolean): TupleSplit {
  const train = new Column(Int32Array), val = new Column(Int32Array), test = new Column(Int32Array);
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
  lengths.sort((x, y) => x - y);
  return {
    train: train.toArray(),
    validation: val.toArray(),
    test: test.toArray(),
    sessionsWithTuples: withTuples,
    testSessions: withTuples,
    sortedLengths: lengths,
  };
}

/**
 * Split `users`: tuples as in {@link splitTuples} (at least `minState` earlier pairs, ≥ 1), each
 * going to its session's role ({@link sessionRole}): all of a test session's tuples test.
 */
function splitUsers(
  log: Pick<SessionRows, "sessionOffsets" | "sessionIds">,
  minState: number,
  o: { seed: number; holdout: number; validation: number },
): TupleSplit {
  const cols = {
    train: new Column(Int32Array),
    validation: new Column(Int32Array),
    test: new Column(Int32Array),
  };
  let withTuples = 0, testSessions = 0;
  const lengths: number[] = [];
  const offsets = log.sessionOffsets;
  for (let j = 0; j + 1 < offsets.length; j++) {
    const a = offsets[j]!, b = offsets[j + 1]!;
    lengths.push(b - a);
    const first = a + Math.max(minState, 1);
    if (first >= b) continue;
    withTuples++;
    const role = sessionRole(log.sessionIds[j]!, o.seed, o.holdout, o.validation);
    if (role === "test") testSessions++;
    for (let p = first; p < b; p++) cols[role].push(p);
  }
  lengths.sort((x, y) => x - y);
  return {
    train: cols.train.toArray(),
    validation: cols.validation.toArray(),
    test: cols.test.toArray(),
    sessionsWithTuples: withTuples,
    testSessions,
    sortedLengths: lengths,
  };
}

/** The summary numbers printed after loading. */
function datasetStats(
  log: LogSessions,
  split: TupleSplit,
  o: { split: "last" | "users"; stateLength: number },
): DatasetStats {
  const { rowLabel } = log;
  const { labels, positive } = log.classes;
  const kept = rowLabel.length;
  const lengths = split.sortedLengths;
  const labelCounts: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
  for (let i = 0; i < kept; i++) labelCounts[labels[rowLabel[i]!]!]!++;
  const rare = rareIndex(log.items.length);
  let rareRows = 0;
  for (let i = 0; i < kept; i++) if (log.rowItem[i] === rare) rareRows++;
  const posRate = (idx: Int32Array) => {
    let p = 0;
    for (const i of idx) if (positive[rowLabel[i]!]) p++;
    return idx.length ? p / idx.length : NaN;
  };
  return {
    rows: log.rows,
    rowsKept: kept,
    sessions: log.sessionIds.length,
    sessionsWithTuples: split.sessionsWithTuples,
    itemsRaw: log.itemsRaw,
    items: log.items.length,
    labelCounts,
    trainTuples: split.train.length,
    validationTuples: split.validation.length,
    testTuples: split.test.length,
    trainPositiveRate: posRate(split.train),
    testPositiveRate: posRate(split.test),
    split: o.split,
    testSessions: split.testSessions,
    shortStateTestTuples: split.test.filter((r) => r - log.rowSessionStart[r]! < o.stateLength)
      .length,
    rareRows,
    sessionLength: {
      min: lengths[0] ?? 0,
      median: lengths[Math.floor(lengths.length / 2)] ?? 0,
      mean: lengths.length ? kept / lengths.length : 0,
      max: lengths[lengths.length - 1] ?? 0,
    },
  };
}

/**
 * Item id → kept index. Without a fixed vocabulary, the intern map re-pointed in place (a second
 * 1 M-entry map, built from 1 M [id, index] pairs, was the largest garbage of a paper-scale load).
 */
function keptItemIndex(
  itemMap: Map<string, number>,
  { newIndex, items }: ItemVocabulary,
  fixed: boolean,
): Map<string, number> {
  if (fixed) {
    const index = new Map<string, number>();
    items.forEach((id, i) => index.set(id, i));
    return index;
  }
  for (const [id, raw] of itemMap) {
    if (newIndex[raw]! >= 0) itemMap.set(id, newIndex[raw]!);
    else itemMap.delete(id);
  }
  return itemMap;
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
    }${
      s.split === "users"
        ? `; ${s.testSessions} held-out sessions, ${s.shortStateTestTuples} with states < N`
        : ""
    })`,
  ].join("\n");
}
