/**
 * Request bodies of the HTTP API as zod schemas, and the one function that validates a body and
 * turns the first fault into a 422 naming its JSON path (`requests[3].state[0].feedback`).
 * Objects are strict: an unknown key (a typo, `__proto__`, `constructor`) is a fault too.
 * Whether items and labels exist is checked after the shape, against the model.
 * @module
 */
import { z } from "npm:zod@3.24.1";
import { HttpError } from "./http_error.ts";

/** Limits that shape the schemas. */
export interface SchemaLimits {
  /** Most (item, feedback) pairs a request's state may hold. */
  maxStateLength: number;
  /** Most entries of a batch (`requests`, `steps`, `sessions`, `session_ids`). */
  maxBatch: number;
}

/** Longest item id or label accepted, in UTF-16 code units. */
export const MAX_ID_LENGTH = 1000;
/** Largest per-session `max_steps`. */
export const MAX_EPISODE_STEPS = 1_000_000;
/** Most items in one page (slate) action: each position costs one batched prediction. */
export const MAX_PAGE_ITEMS = 100;

/** Builds the request schemas for the given limits. */
export function requestSchemas(limits: SchemaLimits) {
  const id = z.string().max(MAX_ID_LENGTH);
  const record = z.object({ item: id, feedback: id }).strict();
  const state = stateSchema(
    record,
    limits.maxStateLength,
    `state may hold at most ${limits.maxStateLength} pairs`,
  );
  const seed = z.number().int().safe();
  const action = actionSchema(id);
  const feedback = z.object({
    state,
    action: id,
    sample: z.boolean().optional(),
    seed: seed.optional(),
  }).strict();
  const sessionId = z.string().max(100);
  const start = {
    state: state.optional(),
    seed: seed.optional(),
    max_steps: z.number().int().min(1).max(MAX_EPISODE_STEPS).optional(),
  };
  // `observation: false` leaves the state out of a step's answer (a client that keeps its own).
  const observation = z.boolean().optional();
  const batch = <T extends z.ZodTypeAny>(entry: T) => z.array(entry).min(1).max(limits.maxBatch);
  return {
    feedback,
    feedbackBatch: z.object({ requests: batch(feedback) }).strict(),
    sessionCreate: z.object(start).strict(),
    sessionsCreate: z.object({
      sessions: batch(z.object({ ...start, replace: sessionId.optional() }).strict()),
    }).strict(),
    sessionsDelete: z.object({ session_ids: batch(sessionId) }).strict(),
    sessionStep: z.object({ action, observation }).strict(),
    sessionsStep: z.object({
      steps: batch(z.object({ session_id: sessionId, action }).strict()),
      observation,
    }).strict(),
    statelessStep: z.object({
      state,
      action,
      seed,
      step: z.number().int().min(0).max(MAX_EPISODE_STEPS).optional(),
      negative_streak: z.number().int().min(0).max(MAX_EPISODE_STEPS).optional(),
      max_steps: z.number().int().min(1).max(MAX_EPISODE_STEPS).optional(),
    }).strict(),
  };
}

/**
 * An action: an item id, or a page of 1 to {@link MAX_PAGE_ITEMS} item ids (whether they are
 * known and distinct is checked against the model, after the shape). A fault names its place:
 * `action`, or `action[2]` for a page's third entry.
 */
function actionSchema(id: z.ZodString) {
  const page = z.array(id).min(1, "a page needs at least one item").max(
    MAX_PAGE_ITEMS,
    `a page holds at most ${MAX_PAGE_ITEMS} items`,
  );
  return z.custom<string | string[]>().superRefine((v, ctx) => {
    const r = (Array.isArray(v) ? page : id).safeParse(v);
    if (!r.success) ctx.addIssue(r.error.issues[0]! as z.IssueData);
  });
}

/**
 * A state: an array of at most `max` strict `{item, feedback}` records. The length is checked
 * before any element is looked at (zod's own `max` still visits every element, which would let
 * a 16 MiB array of junk cost seconds), and well-formed states, the common case, are checked by
 * a plain loop; only a faulty one goes through zod, to name the fault (docs/serve.md has the
 * numbers).
 */
function stateSchema(record: z.ZodTypeAny, max: number, message: string) {
  const slow = z.array(record);
  return z.custom<{ item: string; feedback: string }[]>().superRefine((v, ctx) => {
    if (Array.isArray(v) && v.length > max) {
      ctx.addIssue({ code: "too_big", maximum: max, type: "array", inclusive: true, message });
      return;
    }
    if (isWellFormedState(v)) return;
    const r = slow.safeParse(v);
    if (!r.success) ctx.addIssue(r.error.issues[0]! as z.IssueData);
  });
}

function isWellFormedState(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const r of v) {
    if (typeof r !== "object" || r === null || Array.isArray(r)) return false;
    if (!Object.hasOwn(r, "item") || !Object.hasOwn(r, "feedback") || Object.keys(r).length !== 2) {
      return false;
    }
    const { item, feedback } = r as Record<string, unknown>;
    if (typeof item !== "string" || item.length > MAX_ID_LENGTH) return false;
    if (typeof feedback !== "string" || feedback.length > MAX_ID_LENGTH) return false;
  }
  return true;
}

/** The schemas {@link requestSchemas} builds. */
export type RequestSchemas = ReturnType<typeof requestSchemas>;

/** JSON path of a zod issue path: `["requests", 3, "state"]` → `requests[3].state`. */
export function jsonPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/.test(p)) out += out === "" ? p : `.${p}`;
    else out += `[${JSON.stringify(p.length > 100 ? p.slice(0, 100) + "…" : p)}]`; // long keys clipped
  }
  return out;
}

/**
 * Validates `value` with `schema`; the first fault becomes a 422 {@link HttpError} with code
 * `invalid_field` and the fault's JSON path (`""` is the whole body).
 */
export function parseBody<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [...issue.path];
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path.push(issue.keys[0]!);
    message = "unknown field";
  }
  const where = jsonPath(path);
  throw new HttpError(
    422,
    "invalid_field",
    `${where === "" ? "request body" : where}: ${message}`,
    {
      path: where,
    },
  );
}
