/**
 * The held-out users of a model trained with `--split users`, rebuilt from its log: the same
 * seeded hash of the session ids picks the same test sessions, and EVERY row of those sessions
 * with at least one earlier row becomes a question (its state the up to N rows before it, as
 * logged, left-padded when shorter), whatever the model's `--min-count` and `--min-state-length`.
 * A question is refused only when the simulator cannot read it (an item it does not know and
 * cannot answer as its rare item, or a label it does not know); the refusals are counted by
 * reason.
 * @module
 */
import { type Dataset, loadDataset, sessionRole } from "../data/dataset.ts";
import type { TrainConfig } from "../config.ts";
import { UserError } from "../errors.ts";
import { Progress } from "../progress.ts";
import type { FeedbackRequest, SimulatorLike } from "../sim/types.ts";

/** Why a held-out tuple was not answered (the first reason that applies, in this order). */
export type LogRefusal =
  | "unknown_action"
  | "unknown_label"
  | "unknown_history_item"
  | "unknown_history_label";

/** The refusal reasons, in the order they are checked. */
export const LOG_REFUSALS: readonly LogRefusal[] = [
  "unknown_action",
  "unknown_label",
  "unknown_history_item",
  "unknown_history_label",
];

/** The split a model records in its config (`split`, `holdout`, `seed`). */
export type RecordedSplit = Partial<Pick<TrainConfig, "split" | "holdout">> & {
  seed: number;
  positive: readonly string[];
};

/** The held-out tuples of a log, with what the simulator can answer. */
export interface HeldOutTuples {
  /** The whole log (every row: min-count 1), split by users as the model's. */
  ds: Dataset;
  /** Every held-out tuple, by action row of `ds`: rows of a test session with ≥ 1 earlier row. */
  rows: Int32Array;
  /** Positions in `rows` of the answered tuples. */
  answered: Int32Array;
  /** The label of each answered tuple, in the SIMULATOR's label order. */
  labels: Int32Array;
  /** Whether each answered tuple's state is shorter than N (1) or full (0). */
  short: Uint8Array;
  /** Test sessions with at least one tuple. */
  sessions: number;
  /**
   * Every test session, by index into `ds.sessionOffsets`, one-row sessions (no tuple) included:
   * the held-out users whose session ends the leave model is judged on.
   */
  heldOutSessions: Int32Array;
  /** Refused tuples by reason. */
  refusedByReason: Record<LogRefusal, number>;
  /** Tuples (all, answered or not) with a state shorter than N. */
  shortState: number;
}

/**
 * Refuses a model that does not hold out whole users: one trained with `--split last` (or
 * before `--split` existed) trained on every session, so none is held out. `model` names it in
 * the message (quoted by the caller where it is a path).
 */
export function requireUsersSplit(c: Partial<Pick<TrainConfig, "split">>, model: string): void {
  if (c.split === "users") return;
  throw new UserError(
    `${model} was trained with --split ${
      c.split ?? "last"
    } (every session trained, its last tuple tested), so no user is held out; judging it on a log needs a model trained with --split users (recsimu eval scores its test tuples)`,
  );
}

/** The question of tuple `row`: the up to N logged pairs before it, and its item. */
export function tupleRequest(ds: Dataset, row: number, n: number): FeedbackRequest {
  const state = [];
  for (let r = Math.max(ds.rowSessionStart[row]!, row - n); r < row; r++) {
    state.push({ item: ds.items[ds.rowItem[r]!]!, feedback: ds.labels[ds.rowLabel[r]!]! });
  }
  return { state, action: ds.items[ds.rowItem[row]!]! };
}

/**
 * Reads `log` and rebuilds the held-out tuples of a model with split `split` (its recorded
 * config) and state length `sim.stateLength`; decides which ones `sim` can answer.
 * @throws {UserError} when the model's split is not `users`
 */
export async function loadHeldOut(
  log: string,
  split: RecordedSplit,
  sim: Pick<SimulatorLike, "stateLength" | "labels" | "hasItem" | "answersUnknownItems">,
): Promise<HeldOutTuples> {
  const ds = await loadDataset(log, {
    stateLength: sim.stateLength,
    minStateLength: 0,
    minCount: 1,
    positive: split.positive,
    split: "users",
    holdout: split.holdout ?? 0.2,
    seed: split.seed,
  });
  const toSim = ds.labels.map((l) => sim.labels.indexOf(l));
  const known = ds.items.map((id) => sim.answersUnknownItems === true || sim.hasItem(id));
  const reasons = Object.fromEntries(LOG_REFUSALS.map((r) => [r, 0])) as Record<LogRefusal, number>;
  const answered: number[] = [], labels: number[] = [], short: number[] = [];
  const sessions = new Set<number>();
  let shortState = 0;
  const N = sim.stateLength;
  ds.test.forEach((row, i) => {
    const start = ds.rowSessionStart[row]!;
    sessions.add(start);
    const isShort = row - start < N;
    if (isShort) shortState++;
    let why: LogRefusal | undefined;
    if (!known[ds.rowItem[row]!]) why = "unknown_action";
    else if (toSim[ds.rowLabel[row]!]! < 0) why = "unknown_label";
    else {
      for (let r = Math.max(start, row - N); r < row && !why; r++) {
        if (!known[ds.rowItem[r]!]) why = "unknown_history_item";
      }
      for (let r = Math.max(start, row - N); r < row && !why; r++) {
        if (toSim[ds.rowLabel[r]!]! < 0) why = "unknown_history_label";
      }
    }
    if (why) reasons[why]++;
    else {
      answered.push(i);
      labels.push(toSim[ds.rowLabel[row]!]!);
      short.push(isShort ? 1 : 0);
    }
  });
  const held: number[] = [];
  for (let j = 0; j < ds.sessionIds.length; j++) {
    const role = sessionRole(ds.sessionIds[j]!, split.seed, split.holdout ?? 0.2);
    if (role === "test") held.push(j);
  }
  return {
    ds,
    rows: ds.test,
    answered: Int32Array.from(answered),
    labels: Int32Array.from(labels),
    short: Uint8Array.from(short),
    sessions: sessions.size,
    heldOutSessions: Int32Array.from(held),
    refusedByReason: reasons,
    shortState,
  };
}

/**
 * Asks `sim` every answered tuple of `h`, in batches; returns the probabilities, row-major
 * [answered, K] in the simulator's label order.
 */
export async function answerHeldOut(
  sim: Pick<SimulatorLike, "stateLength" | "labels" | "predictArrays">,
  h: HeldOutTuples,
  o: { batch?: number; quiet?: boolean } = {},
): Promise<Float64Array> {
  const K = sim.labels.length;
  const batch = o.batch ?? 4096;
  const n = h.answered.length;
  const out = new Float64Array(n * K);
  const progress = new Progress("held-out tuples", n, { quiet: o.quiet ?? true });
  for (let i = 0; i < n; i += batch) {
    const chunk = h.answered.subarray(i, i + batch);
    const requests = Array.from(chunk, (j) => tupleRequest(h.ds, h.rows[j]!, sim.stateLength));
    const answers = await sim.predictArrays(requests);
    answers.forEach((a, j) => out.set(a.probs, (i + j) * K));
    progress.update(Math.min(i + batch, n));
  }
  return out;
}
