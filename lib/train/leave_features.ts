/**
 * The learned leave model's features and its stored form (`leave.json` in a checkpoint): a
 * logistic regression of P(the user leaves after this item | state, feedback, position), fitted
 * by `fit_leave.ts` on the log's session ends and applied by `lib/sim/leave.ts`.
 *
 * For the item at 0-based position p of a session (an episode, in the simulator), with feedback
 * label k and the up to N (item, feedback) pairs before it as the state, the features are:
 *
 *   bias                1
 *   feedback=<label>    1 for the item's own label, 0 for the others (one per label)
 *   negative_streak     negatives in a row ending at this item (itself included), capped at
 *                       {@link LEAVE_STREAK_CAP}, divided by the cap
 *   state_<label>       how many of the state's pairs have the label, divided by N
 *   position<bin>       1 for the bin of p among {@link LEAVE_POSITION_EDGES}, 0 for the others
 *
 * The recommended item enters only through its feedback (no per-item weights: the model stays
 * small and transfers to items it never saw leave), and neither does the discriminator's
 * expected reward: that would need a pass of the discriminator over every logged row, rows it
 * never trained on included, and would tie the leave model to one reward table.
 * @module
 */
import { CheckpointError } from "../errors.ts";

/** The checkpoint file that holds the learned leave model. */
export const LEAVE_FILE = "leave.json";
/** Format of `leave.json`; a different one is refused. */
export const LEAVE_FORMAT = 1;
/** Negative streaks are capped here (a streak of 10 or more counts as 10). */
export const LEAVE_STREAK_CAP = 10;
/**
 * Lower edges of the position bins after the first (positions 0-based): bin 0 is position 0,
 * bin 1 position 1, …, the last bin positions 500 and beyond.
 */
export const LEAVE_POSITION_EDGES: readonly number[] = Object.freeze([
  1,
  2,
  3,
  4,
  5,
  7,
  10,
  15,
  20,
  25,
  30,
  40,
  50,
  75,
  100,
  150,
  200,
  300,
  500,
]);

/** How well the leave model predicts the ends of held-out sessions. */
export interface LeaveEvaluation {
  /** Sessions held out from the fit (a seeded share of the log's sessions). */
  sessions: number;
  /** Their rows: one leave question each. */
  rows: number;
  /** Share of those rows that end their session (sessions / rows). */
  base_rate: number;
  /** AUC of the predicted leave probability against "this row ends its session"; null when undefined. */
  auc: number | null;
  /** Mean log-loss of the model on the held-out rows. */
  log_loss: number | null;
  /** Mean log-loss of the constant base rate of the training rows on the held-out rows. */
  base_log_loss: number | null;
}

/** `leave.json`: the fitted model, what it was fitted on, and its held-out evaluation. */
export interface LeaveModelData {
  /** {@link LEAVE_FORMAT}. */
  format: number;
  /** Always `"logistic"`: P(leave) = sigmoid(weights · features). */
  method: "logistic";
  /** The simulator's labels, in class order (the one-hot features follow it). */
  labels: string[];
  /** State length N the `state_<label>` features are divided by. */
  state_length: number;
  /** {@link LEAVE_STREAK_CAP} at fit time. */
  streak_cap: number;
  /** {@link LEAVE_POSITION_EDGES} at fit time. */
  position_edges: number[];
  /** Feature names, in the order of `weights` ({@link leaveFeatureNames}). */
  features: string[];
  /** One weight per feature. */
  weights: number[];
  /** L2 penalty of the fit (not on the bias). */
  l2: number;
  /** The fit: sessions and rows, and the training rows' leave rate. */
  train: { sessions: number; rows: number; base_rate: number; iterations: number };
  /** The evaluation on held-out sessions; null when the log has too few sessions to hold any out. */
  heldout: LeaveEvaluation | null;
  /** The root seed of the session split. */
  seed: number;
  /**
   * Sessions left out of the fit and of its held-out evaluation: with `--split users`, the users
   * the test holds out (`recsimu fidelity --log` judges the leave model on them, unseen).
   * Absent: none left out.
   */
  excluded?: { sessions: number; reason: string };
}

/**
 * The feature names for `labels`, in weight order.
 *
 * @example
 * ```ts
 * import { leaveFeatureNames } from "./leave_features.ts";
 * leaveFeatureNames(["neg", "pos"], [1, 20]);
 * // ["bias", "feedback=neg", "feedback=pos", "negative_streak", "state_neg", "state_pos",
 * //  "position<1", "position<20", "position>=20"]
 * ```
 */
export function leaveFeatureNames(
  labels: readonly string[],
  edges: readonly number[] = LEAVE_POSITION_EDGES,
): string[] {
  return [
    "bias",
    ...labels.map((l) => `feedback=${l}`),
    "negative_streak",
    ...labels.map((l) => `state_${l}`),
    ...edges.map((e) => `position<${e}`),
    `position>=${edges.at(-1) ?? 0}`,
  ];
}

/** Bin of position `p`: how many edges are <= p. */
export function positionBin(p: number, edges: readonly number[] = LEAVE_POSITION_EDGES): number {
  let b = 0;
  while (b < edges.length && p >= edges[b]!) b++;
  return b;
}

/** What one leave question is about (everything the features are computed from). */
export interface LeaveQuestion {
  /** Class index of the item's feedback. */
  feedback: number;
  /** Negatives in a row ending at this item, itself included. */
  streak: number;
  /** Pairs of each label in the state before the item (length K). */
  stateCounts: ArrayLike<number>;
  /** 0-based position of the item in its session or episode. */
  position: number;
}

/**
 * Writes the features of `q` into `out` (length {@link leaveFeatureNames}`.length`).
 *
 * @example
 * ```ts
 * import { leaveFeatures } from "./leave_features.ts";
 * const x = new Float64Array(9);
 * leaveFeatures(x, { feedback: 0, streak: 5, stateCounts: [1, 3], position: 7 }, 2, 4, [1, 20]);
 * [...x]; // [1, 1, 0, 0.5, 0.25, 0.75, 0, 1, 0]
 * ```
 */
export function leaveFeatures(
  out: Float64Array,
  q: LeaveQuestion,
  labelCount: number,
  stateLength: number,
  edges: readonly number[] = LEAVE_POSITION_EDGES,
): Float64Array {
  const K = labelCount;
  out.fill(0);
  out[0] = 1;
  out[1 + q.feedback] = 1;
  out[1 + K] = Math.min(q.streak, LEAVE_STREAK_CAP) / LEAVE_STREAK_CAP;
  for (let k = 0; k < K; k++) out[2 + K + k] = q.stateCounts[k]! / stateLength;
  out[2 + 2 * K + positionBin(q.position, edges)] = 1;
  return out;
}

/** sigmoid(w · x + offset), computed without overflow. */
export function logistic(weights: ArrayLike<number>, x: ArrayLike<number>, offset = 0): number {
  let z = offset;
  for (let i = 0; i < x.length; i++) z += weights[i]! * x[i]!;
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * Checks a parsed `leave.json` against the model it belongs to; throws {@link CheckpointError}
 * naming the file and the field.
 */
export function checkLeaveModel(
  data: unknown,
  file: string,
  labels: readonly string[],
  stateLength: number,
): LeaveModelData {
  const fail = (what: string): never => {
    throw new CheckpointError(`"${file}": ${what}`);
  };
  if (typeof data !== "object" || data === null) fail("expected a JSON object");
  const d = data as Partial<LeaveModelData>;
  if (d.format !== LEAVE_FORMAT) fail(`format ${d.format}, this recsimu reads ${LEAVE_FORMAT}`);
  if (d.method !== "logistic") fail(`method must be "logistic", got ${JSON.stringify(d.method)}`);
  if (JSON.stringify(d.labels) !== JSON.stringify(labels)) {
    fail(`labels ${JSON.stringify(d.labels)} differ from the model's ${JSON.stringify(labels)}`);
  }
  if (d.state_length !== stateLength) {
    fail(`state_length ${d.state_length} differs from the model's ${stateLength}`);
  }
  if (d.streak_cap !== LEAVE_STREAK_CAP) fail(`streak_cap must be ${LEAVE_STREAK_CAP}`);
  const edges = d.position_edges;
  if (
    !Array.isArray(edges) || edges.length === 0 ||
    !edges.every((e, i) => Number.isSafeInteger(e) && e > (i === 0 ? 0 : edges[i - 1]!))
  ) {
    fail("position_edges must be increasing positive integers");
  }
  const names = leaveFeatureNames(labels, edges!);
  if (JSON.stringify(d.features) !== JSON.stringify(names)) {
    fail(`features must be ${JSON.stringify(names)}`);
  }
  const w = d.weights;
  if (!Array.isArray(w) || w.length !== names.length || !w.every(Number.isFinite)) {
    fail(`weights must be ${names.length} finite numbers`);
  }
  return d as LeaveModelData;
}
