/**
 * Fitting the learned leave model on a log's session ends: every row of a session is one
 * question "does the user leave after this item?", answered yes on the session's last row. The
 * sessions are split with the seed into a fitting share and a held-out share; the model (a
 * ridge-penalised logistic regression on the features of `leave_features.ts`) is fitted by
 * Newton's method on the fitting sessions and scored on the held-out ones (AUC, log-loss against
 * the base rate).
 *
 * Rows with the same features are fitted as one weighted row, so a fit costs one pass over the
 * log plus a few Newton steps over the distinct feature vectors (thousands, whatever the log's
 * size).
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import type { Dataset } from "../data/dataset.ts";
import { auc } from "../eval/metrics.ts";
import { updateCheckpointFile } from "./checkpoint.ts";
import { fitLogistic, type WeightedRows } from "./newton_logistic.ts";
import {
  LEAVE_FILE,
  LEAVE_FORMAT,
  LEAVE_POSITION_EDGES,
  LEAVE_STREAK_CAP,
  type LeaveEvaluation,
  leaveFeatureNames,
  leaveFeatures,
  type LeaveModelData,
  logistic,
  positionBin,
} from "./leave_features.ts";

/** Options of {@link fitLeaveModel}. */
export interface FitLeaveOptions {
  /** Root seed of the session split. @default 0 */
  seed?: number;
  /** Share of the sessions held out for the evaluation. @default 0.2 */
  heldoutShare?: number;
  /** L2 penalty on every weight but the bias. @default 1 */
  l2?: number;
  /**
   * Sessions (indices into `ds.sessionOffsets`) neither fitted nor evaluated on, with the reason
   * recorded in `excluded` (e.g. the users a `--split users` test holds out). @default none
   */
  exclude?: { sessions: ReadonlySet<number>; reason: string };
}

/** Sessions (indices into `ds.sessionOffsets`) that fit the leave model and that evaluate it. */
export interface LeaveSplit {
  fit: Int32Array;
  heldout: Int32Array;
}

/**
 * The seeded session split of {@link fitLeaveModel}: the sessions with rows, shuffled with
 * `deriveSeed(seed, "leave:split")`, the first `round(share × S)` held out (none when fewer than
 * 2 sessions); sessions in `exclude` take no part. Sorted, so a session's role depends only on (seed, share, the log).
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { leaveSplit } from "./fit_leave.ts";
 * const csv = "session_id,item_id,feedback\n" +
 *   Array.from({ length: 10 }, (_, s) => `s${s},a,pos\ns${s},b,neg\n`).join("");
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 1, minCount: 1 });
 * const { fit, heldout } = leaveSplit(ds, 0, 0.2);
 * [fit.length, heldout.length]; // [8, 2]
 * ```
 */
export function leaveSplit(
  ds: Dataset,
  seed: number,
  share = 0.2,
  exclude?: ReadonlySet<number>,
): LeaveSplit {
  if (!(share >= 0 && share < 1)) {
    throw new RangeError(`Cannot split sessions: share must be in [0, 1), got ${share}`);
  }
  const sessions = exclude ? allSessions(ds).filter((j) => !exclude.has(j)) : allSessions(ds);
  new Rng(deriveSeed(seed, "leave:split")).shuffle(sessions);
  const held = sessions.length < 2 ? 0 : Math.round(share * sessions.length);
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { fit: sorted(sessions.slice(held)), heldout: sorted(sessions.slice(0, held)) };
}

/**
 * Rows of each given session: the logged session lengths, to compare with simulated ones.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { sessionLengths } from "./fit_leave.ts";
 * const csv = "session_id,item_id,feedback\nu1,a,pos\nu1,b,neg\nu2,a,neg\n";
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 1, minCount: 1 });
 * [...sessionLengths(ds, [0, 1])]; // [2, 1]
 * ```
 */
export function sessionLengths(ds: Dataset, sessions: ArrayLike<number>): Int32Array {
  const off = ds.sessionOffsets;
  return Int32Array.from({ length: sessions.length }, (_, i) => {
    const j = sessions[i]!;
    return off[j + 1]! - off[j]!;
  });
}

/** Calls `visit(question, left)` for every row of session `j`, in order. */
function visitSession(
  ds: Dataset,
  j: number,
  visit: (feedback: number, streak: number, counts: Int32Array, position: number) => void,
): void {
  const K = ds.labels.length, N = ds.stateLength;
  const a = ds.sessionOffsets[j]!, b = ds.sessionOffsets[j + 1]!;
  const counts = new Int32Array(K);
  let streak = 0;
  for (let r = a; r < b; r++) {
    const k = ds.rowLabel[r]!;
    streak = ds.positive[k] ? 0 : streak + 1;
    visit(k, streak, counts, r - a);
    counts[k]!++;
    if (r - N >= a) counts[ds.rowLabel[r - N]!]!--; // the state keeps the last N pairs
  }
}

/** Groups the rows of `sessions` by feature vector. */
function groupRows(ds: Dataset, sessions: Int32Array, width: number): WeightedRows {
  const K = ds.labels.length, N = ds.stateLength;
  const index = new Map<string, number>();
  const g: WeightedRows = { x: [], rows: [], positives: [] };
  for (const j of sessions) {
    const last = ds.sessionOffsets[j + 1]! - ds.sessionOffsets[j]! - 1;
    visitSession(ds, j, (k, streak, counts, p) => {
      const s = Math.min(streak, LEAVE_STREAK_CAP);
      const key = `${k}|${s}|${counts.join(",")}|${positionBin(p)}`;
      let i = index.get(key);
      if (i === undefined) {
        i = g.x.length;
        index.set(key, i);
        const q = { feedback: k, streak: s, stateCounts: counts, position: p };
        g.x.push(leaveFeatures(new Float64Array(width), q, K, N));
        g.rows.push(0);
        g.positives.push(0);
      }
      g.rows[i]!++;
      if (p === last) g.positives[i]!++;
    });
  }
  return g;
}

/** The fitted parts of a leave model that {@link evaluateLeave} scores with. */
export interface LeaveWeights {
  /** One weight per feature ({@link leaveFeatureNames}). */
  weights: ArrayLike<number>;
  /** The position bins' edges. @default LEAVE_POSITION_EDGES */
  position_edges?: readonly number[];
  /** The fitting rows' leave rate, the constant the log-loss is compared with. */
  train: { base_rate: number };
}

/**
 * Scores leave model `model` on the rows of the given sessions of `ds` (every session with rows
 * by default): AUC and mean log-loss of P(leave after this row) against "this row ends its
 * session", and the log-loss of the model's training base rate; null for no sessions. `ds` must
 * have the model's labels and state length (its `state_<label>` features count the last
 * `ds.stateLength` rows). `fitLeaveModel` scores its own held-out sessions with it;
 * `recsimu fidelity --log` the held-out users.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { evaluateLeave } from "./fit_leave.ts";
 * import { leaveFeatureNames } from "./leave_features.ts";
 * const csv = "session_id,item_id,feedback\nu1,a,pos\nu1,b,neg\nu2,a,neg\n";
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 1, minCount: 1 });
 * // All weights 0: a constant P(leave) = 1/2 on 3 rows, 2 of which end their session.
 * const weights = leaveFeatureNames(ds.labels).map(() => 0);
 * const e = evaluateLeave({ weights, train: { base_rate: 0.5 } }, ds)!;
 * [e.sessions, e.rows, e.auc, e.log_loss === Math.LN2]; // [2, 3, 0.5, true]
 * ```
 */
export function evaluateLeave(
  model: LeaveWeights,
  ds: Dataset,
  options: { sessions?: ArrayLike<number> } = {},
): LeaveEvaluation | null {
  const sessions = options.sessions ?? allSessions(ds);
  if (sessions.length === 0) return null;
  const K = ds.labels.length, N = ds.stateLength;
  const edges = model.position_edges ?? LEAVE_POSITION_EDGES;
  const w = model.weights;
  const x = new Float64Array(w.length);
  const scores: number[] = [], labels: number[] = [];
  for (let i = 0; i < sessions.length; i++) {
    const j = sessions[i]!;
    const last = ds.sessionOffsets[j + 1]! - ds.sessionOffsets[j]! - 1;
    visitSession(ds, j, (k, streak, counts, p) => {
      leaveFeatures(x, { feedback: k, streak, stateCounts: counts, position: p }, K, N, edges);
      scores.push(logistic(w, x));
      labels.push(p === last ? 1 : 0);
    });
  }
  const ll = (p: (i: number) => number) => {
    let s = 0;
    for (let i = 0; i < labels.length; i++) {
      const q = Math.min(Math.max(p(i), 1e-15), 1 - 1e-15);
      s -= labels[i] ? Math.log(q) : Math.log(1 - q);
    }
    return s / labels.length;
  };
  const a = auc(labels, scores);
  const trainRate = model.train.base_rate;
  return {
    sessions: sessions.length,
    rows: labels.length,
    base_rate: sessions.length / labels.length,
    auc: Number.isFinite(a) ? a : null,
    log_loss: ll((i) => scores[i]!),
    base_log_loss: ll(() => trainRate),
  };
}

/** Every session of `ds` with rows. */
function allSessions(ds: Dataset): number[] {
  const off = ds.sessionOffsets, out: number[] = [];
  for (let j = 0; j + 1 < off.length; j++) if (off[j + 1]! > off[j]!) out.push(j);
  return out;
}

/**
 * Fits the leave model on the log's sessions (see the module doc) and evaluates it on the
 * held-out ones. Pure and seeded: the same data and options give the same model.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { fitLeaveModel } from "./fit_leave.ts";
 * // Users who leave after their second negative in a row.
 * const session = (s: number) =>
 *   ["pos", "neg", "pos", "neg", "neg"].slice(0, 3 + (s % 3)).map((f, i) => `s${s},i${i},${f}\n`);
 * const csv = "session_id,item_id,feedback\n" +
 *   Array.from({ length: 60 }, (_, s) => session(s).join("")).join("");
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 2, minCount: 1 });
 * const m = fitLeaveModel(ds, { seed: 1 });
 * m.heldout!.auc! > 0.5; // true: it ranks session ends above the other rows
 * ```
 */
export function fitLeaveModel(ds: Dataset, options: FitLeaveOptions = {}): LeaveModelData {
  const seed = options.seed ?? 0;
  const l2 = options.l2 ?? 1;
  if (!(l2 >= 0 && Number.isFinite(l2))) {
    throw new RangeError(`Cannot fit the leave model: l2 must be >= 0, got ${l2}`);
  }
  const split = leaveSplit(ds, seed, options.heldoutShare ?? 0.2, options.exclude?.sessions);
  const features = leaveFeatureNames(ds.labels);
  const groups = groupRows(ds, split.fit, features.length);
  const rows = groups.rows.reduce((a, b) => a + b, 0);
  const { w, iterations } = fitLogistic(groups, features.length, l2);
  const baseRate = split.fit.length / Math.max(rows, 1);
  return {
    format: LEAVE_FORMAT,
    method: "logistic",
    labels: [...ds.labels],
    state_length: ds.stateLength,
    streak_cap: LEAVE_STREAK_CAP,
    position_edges: [...LEAVE_POSITION_EDGES],
    features,
    weights: [...w],
    l2,
    train: { sessions: split.fit.length, rows, base_rate: baseRate, iterations },
    heldout: evaluateLeave({ weights: w, train: { base_rate: baseRate } }, ds, {
      sessions: split.heldout,
    }),
    seed,
    ...(options.exclude
      ? { excluded: { sessions: options.exclude.sessions.size, reason: options.exclude.reason } }
      : {}),
  };
}

/** Writes `leave.json` into the checkpoint in `dir`, its sha256 in the checkpoint's marker. */
export async function saveLeaveModel(dir: string, model: LeaveModelData): Promise<void> {
  await updateCheckpointFile(dir, LEAVE_FILE, JSON.stringify(model, null, 1));
}
