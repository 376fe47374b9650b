/**
 * The OpenAPI 3.1 description served at `GET /openapi.json`, built by hand from the same
 * limits as the zod schemas (labels, batch and state limits are filled in from the config).
 * @module
 */
import { RECSIMU_VERSION } from "../version.ts";
import { MAX_ITEMS_PAGE, SERVE_DEFAULTS } from "./defaults.ts";
import { MAX_EPISODE_STEPS, MAX_ID_LENGTH, MAX_PAGE_ITEMS } from "./schema.ts";

/** What the document depends on. */
export interface OpenApiOptions {
  /** The model's feedback labels. */
  labels: readonly string[];
  /** Most entries of a batch. */
  maxBatch: number;
  /** Most pairs in a state. */
  maxStateLength: number;
  /** Default episode length. */
  maxStepsDefault: number;
  /** How users leave: the leave-after-skips rule or the learned leave model. @default "rule" */
  leave?: "rule" | "learned";
  /** Whether requests need a bearer token. */
  auth: boolean;
}

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const obj = (
  properties: Record<string, Schema>,
  required: string[] = Object.keys(properties),
): Schema => ({
  type: "object",
  properties,
  required,
  additionalProperties: false,
});
const int = (description: string, extra: Schema = {}): Schema => ({
  type: "integer",
  description,
  ...extra,
});
const jsonBody = (schema: Schema, required = true) => ({
  required,
  content: { "application/json": { schema } },
});
const ok = (description: string, schema: Schema) => ({
  description,
  content: { "application/json": { schema } },
});
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/E${s}` }]));

const ERROR_TEXT: Record<number, string> = {
  400: "The body is not valid JSON (or empty, or not UTF-8).",
  401: "Missing or wrong bearer token.",
  403: "Host not allowed (DNS-rebinding protection).",
  404: "Unknown route, or unknown / expired session.",
  405: "Method not allowed on this route (see the Allow header).",
  408: "The request body took too long to arrive.",
  409: "The session's episode is over, or a step of it is in flight.",
  413: "Body or batch over the limit.",
  415: "Content-Type is not application/json.",
  422:
    "A field is invalid: wrong type, unknown field, unknown item or label, state too long, an item twice in one page.",
  429: "Rate limit exceeded (see Retry-After).",
  500: "Internal error (details are logged on the server, never returned).",
  503: "Session limit reached (see Retry-After).",
};

/** How sessions end, per leave mode (the document's description says which one is served). */
const LEAVE_TEXT = {
  rule:
    "Users leave (terminated) after the server's --leave-after-skips negatives in a row (0: never).",
  learned: "Users leave (terminated) by the learned leave model of the checkpoint (serve --leave " +
    "learned): after each step with probability info.leave_prob, drawn reproducibly from (seed, step).",
} as const;

/** Status codes every body-reading route can answer with. */
const COMMON_ERRORS = [400, 401, 403, 405, 408, 413, 415, 422, 429];

/** Builds the OpenAPI 3.1 document. */
export function openApiDocument(o: OpenApiOptions): Record<string, unknown> {
  const p = parts(o);
  const doc: Record<string, unknown> = {
    openapi: "3.1.0",
    info: {
      title: "recsimu",
      version: RECSIMU_VERSION,
      description:
        "A GAN-learned user simulator (RecSimu) as a reward endpoint and Gymnasium-style environment. " +
        "An action is one item id or a page (slate) of distinct item ids, read top to bottom as a " +
        "cascade: item j is answered given the state extended by the page's earlier (item, sampled " +
        "feedback) pairs. " + LEAVE_TEXT[o.leave ?? "rule"],
    },
    paths: { ...infoPaths(), ...feedbackPaths(), ...sessionPaths() },
    components: {
      schemas: {
        ...stateSchemas(o, p),
        ...feedbackSchemas(o, p),
        ...stepSchemas(p),
        ...sessionSchemas(o, p),
        ...otherSchemas(),
      },
      responses: Object.fromEntries(
        Object.entries(ERROR_TEXT).map(([s, d]) => [`E${s}`, ok(d, ref("Error"))]),
      ),
      ...(o.auth ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {}),
    },
  };
  if (o.auth) doc.security = [{ bearer: [] }];
  return doc;
}

/** Field schemas that many request and response schemas share. */
interface Parts {
  label: Schema;
  id: Schema;
  seed: Schema;
  maxSteps: Schema;
  probs: Schema;
}

function parts(o: OpenApiOptions): Parts {
  return {
    label: { type: "string", enum: [...o.labels], description: "A feedback label." },
    id: {
      type: "string",
      maxLength: MAX_ID_LENGTH,
      description: "An item id of the model's vocabulary.",
    },
    seed: int("Seed of the episode / sample; any safe integer.", {
      minimum: Number.MIN_SAFE_INTEGER,
      maximum: Number.MAX_SAFE_INTEGER,
    }),
    maxSteps: int(`Episode length; default ${o.maxStepsDefault}.`, {
      minimum: 1,
      maximum: MAX_EPISODE_STEPS,
    }),
    probs: {
      type: "object",
      description: "Probability of each feedback label.",
      properties: Object.fromEntries(o.labels.map((l) => [l, { type: "number" }])),
      required: [...o.labels],
    },
  };
}

/** StepRecord, State and Observation. */
function stateSchemas(o: OpenApiOptions, p: Parts): Record<string, Schema> {
  return {
    StepRecord: obj({ item: p.id, feedback: p.label }),
    State: {
      type: "array",
      items: ref("StepRecord"),
      maxItems: o.maxStateLength,
      description:
        "History, oldest first. Shorter than N is fine (even empty); longer: the last N pairs are used.",
    },
    Observation: {
      type: "array",
      items: ref("StepRecord"),
      description: "The state: at most N (item, feedback) pairs, oldest first.",
    },
  };
}

/** Requests and results of `POST /v1/feedback`. */
function feedbackSchemas(o: OpenApiOptions, p: Parts): Record<string, Schema> {
  return {
    FeedbackRequest: obj({
      state: ref("State"),
      action: p.id,
      sample: { type: "boolean", description: "Also draw a feedback from probs (seeded)." },
      seed: p.seed,
    }, ["state", "action"]),
    FeedbackBatch: obj({
      requests: { type: "array", items: ref("FeedbackRequest"), minItems: 1, maxItems: o.maxBatch },
    }),
    FeedbackResult: obj({
      probs: p.probs,
      real: {
        type: "number",
        description: "Discriminator's probability that (state, action) is real (absent when " +
          "the server runs with --real-score off).",
      },
      expected_reward: { type: "number", description: "Σ probs · rewards." },
      spread: {
        type: "number",
        description: "Standard deviation of P(positive) over the ensemble heads.",
      },
      support: {
        type: "number",
        description: "The support model's estimate of ln π_log(a | s) − ln(1/V): how much " +
          "likelier the logging policy was to show the item in this state than a uniform draw " +
          "(absent for checkpoints without a support model).",
      },
      ood: {
        type: "object",
        description: "What the model did not know: item (known | unknown), " +
          "state_unknown_items, low_real (absent with --real-score off), off_support (with a " +
          "support model), any.",
      },
      feedback: { ...p.label, description: "Sampled feedback (with sample: true)." },
      reward: {
        type: "number",
        description: "Reward of the sampled feedback (with sample: true).",
      },
      seed: { ...p.seed, description: "Seed used for the sample (with sample: true)." },
    }, ["probs", "expected_reward"]),
    FeedbackBatchResult: obj({ results: { type: "array", items: ref("FeedbackResult") } }),
  };
}

/** Info, StepInfo and StepResult: what resets and steps answer. */
function stepSchemas(p: Parts): Record<string, Schema> {
  const expected = { expected_reward: { type: "number" } };
  const counters = stepCounters(p);
  return {
    Info: obj({
      seed: p.seed,
      step: int("Steps taken in the episode so far."),
      negative_streak: int("Negative feedbacks in a row at the end of the episode."),
    }),
    StepInfo: {
      ...obj(
        {
          probs: p.probs,
          real: { type: "number" },
          ...expected,
          ...counters,
          leave_prob: LEAVE_PROB,
        },
        ["probs", "expected_reward", ...Object.keys(counters)],
      ),
      additionalProperties: true, // further fields of the prediction, such as ood
    },
    StepResult: obj({
      observation: STEP_OBSERVATION,
      feedback: p.label,
      reward: { type: "number" },
      terminated: TERMINATED,
      truncated: { type: "boolean", description: "The episode reached max_steps." },
      info: ref("StepInfo"),
    }, ["feedback", "reward", "terminated", "truncated", "info"]),
    ...slateSchemas(p),
    AnyStepResult: { oneOf: [ref("StepResult"), ref("SlateStepResult")] },
  };
}

const LEAVE_PROB: Schema = {
  type: "number",
  description: "Only with the learned leave model: P(the user leaves after this step).",
};
const STEP_OBSERVATION: Schema = {
  ...ref("Observation"),
  description: "The state after the step; left out when the request says observation: false.",
};
const OBSERVATION_OPTION: Schema = {
  type: "boolean",
  default: true,
  description: "false: leave the state (observation) out of the answer, for clients that keep " +
    "their own (append the action and the sampled feedback, keep the last N pairs).",
};
const TERMINATED: Schema = {
  type: "boolean",
  description: "The user left (the leave-after-skips rule, or the learned leave model's draw).",
};

/** seed, step and negative_streak of a step's info. */
function stepCounters(p: Parts): Record<string, Schema> {
  return {
    seed: p.seed,
    step: int("Steps taken in the episode, including this one."),
    negative_streak: int("Negative feedbacks in a row, including this one."),
  };
}

/** Page (slate) actions and their results. */
function slateSchemas(p: Parts): Record<string, Schema> {
  const item = obj({
    item: p.id,
    feedback: p.label,
    reward: { type: "number" },
    probs: p.probs,
    real: { type: "number" },
    expected_reward: {
      type: "number",
      description: "Σ probs · rewards, given the sampled feedback of the items above.",
    },
  }, ["item", "feedback", "reward", "probs", "expected_reward"]);
  return {
    Action: {
      description: "One item id, or a page of distinct item ids (top to bottom).",
      oneOf: [p.id, ref("Page")],
    },
    Page: {
      type: "array",
      items: p.id,
      minItems: 1,
      maxItems: MAX_PAGE_ITEMS,
      uniqueItems: true,
      description:
        "A page (slate), read top to bottom: item j is scored on the state extended by " +
        "the page's earlier (item, sampled feedback) pairs; its feedback is sampled from " +
        "(seed, step, j). The state then appends the page's pairs in order; the reward is their sum. " +
        "An item twice is a 422 naming it (e.g. action[2]).",
    },
    SlateItem: { ...item, additionalProperties: true },
    SlateStepInfo: obj({
      ...stepCounters(p),
      expected_reward: { type: "number", description: "Σ of the items' expected rewards." },
      slate: { type: "array", items: ref("SlateItem"), description: "One entry per item." },
      leave_prob: LEAVE_PROB,
    }, ["seed", "step", "negative_streak", "expected_reward", "slate"]),
    SlateStepResult: obj({
      observation: STEP_OBSERVATION,
      feedback: { type: "array", items: p.label, description: "One label per item, in order." },
      reward: { type: "number", description: "Σ of the items' rewards." },
      terminated: TERMINATED,
      truncated: {
        type: "boolean",
        description: "The episode reached max_steps (a page is one step).",
      },
      info: ref("SlateStepInfo"),
    }, ["feedback", "reward", "terminated", "truncated", "info"]),
  };
}

/** Requests and results of the session routes and of the stateless step. */
function sessionSchemas(o: OpenApiOptions, p: Parts): Record<string, Schema> {
  const session = { session_id: { type: "string" }, observation: ref("Observation") };
  return {
    SessionCreate: obj({
      state: {
        ...ref("State"),
        description: "Start state; default: a logged start state drawn with the seed.",
      },
      seed: p.seed,
      max_steps: p.maxSteps,
    }, []),
    SessionCreated: obj({ ...session, info: ref("Info") }),
    SessionState: obj({ ...session, info: ref("Info"), done: { type: "boolean" } }),
    SessionStep: obj({ action: ref("Action"), observation: OBSERVATION_OPTION }, ["action"]),
    SessionsStep: obj({
      steps: {
        type: "array",
        minItems: 1,
        maxItems: o.maxBatch,
        items: obj({ session_id: { type: "string" }, action: ref("Action") }),
      },
      observation: OBSERVATION_OPTION,
    }, ["steps"]),
    ...batchSessionSchemas(o, p),
    SessionsStepResult: obj({
      results: {
        type: "array",
        items: { allOf: [ref("AnyStepResult"), obj({ session_id: { type: "string" } })] },
      },
    }),
    StatelessStep: obj({
      state: ref("State"),
      action: ref("Action"),
      seed: p.seed,
      step: int("Steps already taken in the episode (default 0).", {
        minimum: 0,
        maximum: MAX_EPISODE_STEPS,
      }),
      negative_streak: int("Negative feedbacks in a row before this step (default 0).", {
        minimum: 0,
        maximum: MAX_EPISODE_STEPS,
      }),
      max_steps: p.maxSteps,
    }, ["state", "action", "seed"]),
  };
}

/** Requests and answers of `POST /v1/sessions/batch` and `POST /v1/sessions/delete`. */
function batchSessionSchemas(o: OpenApiOptions, p: Parts): Record<string, Schema> {
  const ids = { type: "array", items: { type: "string" } };
  return {
    SessionsCreate: obj({
      sessions: {
        type: "array",
        minItems: 1,
        maxItems: o.maxBatch,
        items: obj({
          state: {
            ...ref("State"),
            description: "Start state; default: a logged start state drawn with the seed.",
          },
          seed: p.seed,
          max_steps: p.maxSteps,
          replace: {
            type: "string",
            description: "A live session to end: the new one takes its place (a reset; it gets " +
              "a new id). Unknown: 404 naming sessions[i].replace, nothing created.",
          },
        }, []),
      },
    }),
    SessionsCreated: obj({
      results: {
        type: "array",
        description: "One per entry, in order.",
        items: ref("SessionCreated"),
      },
    }),
    SessionsDelete: obj({
      session_ids: { ...ids, minItems: 1, maxItems: o.maxBatch },
    }),
    SessionsDeleted: obj({
      deleted: int("Sessions ended."),
      missing: { ...ids, description: "Ids that were unknown, deleted or expired already." },
    }),
  };
}

/** Model, Items and Error. */
function otherSchemas(): Record<string, Schema> {
  return {
    Model: {
      type: "object",
      description: "Labels, rewards, N, item count, backend, model config, limits.",
    },
    Items: obj({
      items: { type: "array", items: { type: "string" } },
      offset: { type: "integer" },
      limit: { type: "integer" },
      total: { type: "integer" },
      next_offset: { type: ["integer", "null"] },
    }),
    Error: obj({
      error: obj({
        code: { type: "string" },
        message: { type: "string" },
        path: {
          type: ["string", "null"],
          description: "JSON path of the fault, e.g. requests[3].state[0].feedback.",
        },
      }),
    }),
  };
}

/** `/healthz`, `/openapi.json`, `/v1/model` and `/v1/items`. */
function infoPaths(): Record<string, unknown> {
  return {
    "/healthz": {
      get: {
        summary: "Liveness",
        responses: { "200": ok("OK", obj({ status: { const: "ok" } })) },
      },
    },
    "/openapi.json": {
      get: {
        summary: "This document",
        responses: { "200": ok("OpenAPI 3.1", { type: "object" }) },
      },
    },
    "/v1/model": {
      get: {
        summary: "Labels, rewards, N, item count, backend, model config",
        responses: { "200": ok("Model", ref("Model")) },
      },
    },
    "/v1/items": {
      get: {
        summary: "Item ids, paged",
        parameters: [
          { name: "offset", in: "query", schema: { type: "integer", minimum: 0, default: 0 } },
          {
            name: "limit",
            in: "query",
            schema: {
              type: "integer",
              minimum: 1,
              maximum: MAX_ITEMS_PAGE,
              default: SERVE_DEFAULTS.itemsPerPage,
            },
          },
        ],
        responses: { "200": ok("A page of item ids", ref("Items")), ...errors(422) },
      },
    },
  };
}

/** `/v1/feedback` and the stateless `/v1/step`. */
function feedbackPaths(): Record<string, unknown> {
  return {
    "/v1/feedback": {
      post: {
        summary: "Feedback distribution for one (state, action) or a batch; one batched model call",
        requestBody: jsonBody({ oneOf: [ref("FeedbackRequest"), ref("FeedbackBatch")] }),
        responses: {
          "200": ok("One result, or {results} for a batch", {
            oneOf: [ref("FeedbackResult"), ref("FeedbackBatchResult")],
          }),
          ...errors(...COMMON_ERRORS),
        },
      },
    },
    "/v1/step": {
      post: {
        summary: "Stateless environment step: same answer as the session step with the same inputs",
        requestBody: jsonBody(ref("StatelessStep")),
        responses: { "200": ok("Step result", ref("AnyStepResult")), ...errors(...COMMON_ERRORS) },
      },
    },
  };
}

/** The `/v1/sessions` routes. */
function sessionPaths(): Record<string, unknown> {
  const sessionId = {
    name: "id",
    in: "path",
    required: true,
    schema: { type: "string", pattern: "^[0-9a-f]{32}$" },
  };
  return {
    "/v1/sessions": {
      post: {
        summary: "Start an episode (reset)",
        requestBody: jsonBody(ref("SessionCreate"), false),
        responses: {
          "201": ok("Session created", ref("SessionCreated")),
          ...errors(...COMMON_ERRORS, 503),
        },
      },
    },
    "/v1/sessions/step": {
      post: {
        summary: "Step many sessions with one batched model call (all or nothing)",
        requestBody: jsonBody(ref("SessionsStep")),
        responses: {
          "200": ok("One result per step, in order", ref("SessionsStepResult")),
          ...errors(...COMMON_ERRORS, 404, 409),
        },
      },
    },
    "/v1/sessions/batch": {
      post: {
        summary: "Start (or, with replace, reset) many episodes in one call, all or nothing",
        requestBody: jsonBody(ref("SessionsCreate")),
        responses: {
          "201": ok("One session per entry, in order", ref("SessionsCreated")),
          ...errors(...COMMON_ERRORS, 404, 409, 503),
        },
      },
    },
    "/v1/sessions/delete": {
      post: {
        summary: "End many sessions in one call",
        requestBody: jsonBody(ref("SessionsDelete")),
        responses: {
          "200": ok("How many were ended; the ids that did not exist", ref("SessionsDeleted")),
          ...errors(...COMMON_ERRORS),
        },
      },
    },
    "/v1/sessions/{id}": {
      parameters: [sessionId],
      get: {
        summary: "Current state of a session",
        responses: { "200": ok("Session", ref("SessionState")), ...errors(404) },
      },
      delete: {
        summary: "End a session",
        responses: { "204": { description: "Deleted" }, ...errors(404) },
      },
    },
    "/v1/sessions/{id}/step": {
      parameters: [sessionId],
      post: {
        summary: "Recommend one item, or a page of items, in a session",
        requestBody: jsonBody(ref("SessionStep")),
        responses: {
          "200": ok("Step result", ref("AnyStepResult")),
          ...errors(...COMMON_ERRORS, 404, 409),
        },
      },
    },
  };
}
