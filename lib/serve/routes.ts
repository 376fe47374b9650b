/**
 * The API's routes, one function each, over the shared {@link Api} state that
 * `createHandler` builds. Guards and limits have run before any of these is called; every
 * error they throw goes through the one mapping in `http_error.ts`.
 * @module
 */
import {
  checkItem,
  checkPrediction,
  checkState,
  type EnvAction,
  type EnvConfig,
  lastPairs,
  probsRecord,
  randomSeed,
  sampleFeedback,
  SimEnv,
  type SlateStepResult,
  statelessStep,
  stepMany,
  type StepResult,
} from "../sim/env.ts";
import { expectedReward } from "../sim/reward.ts";
import type { FeedbackRequest, SimulatorLike } from "../sim/types.ts";
import { MAX_ITEMS_PAGE, SERVE_DEFAULTS } from "./defaults.ts";
import { HttpError, json } from "./http_error.ts";
import { readJsonBody } from "./limits.ts";
import type { Route, RouteContext } from "./router.ts";
import { MAX_PAGE_ITEMS, parseBody, type RequestSchemas } from "./schema.ts";
import type { Session, SessionStore } from "./sessions.ts";

/** What the routes share: the simulator, the checked configuration and the session store. */
export interface Api {
  /** The simulator that answers. */
  sim: SimulatorLike;
  /** Episode defaults of sessions and stateless steps. */
  env: EnvConfig;
  /** Most entries in one batch. */
  maxBatch: number;
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Most (item, feedback) pairs in a request's state. */
  maxStateLength: number;
  /** Milliseconds a request body may take to arrive. */
  bodyTimeoutMs: number;
  /** Seconds an idle session lives (reported by `GET /v1/model`). */
  ttlSeconds: number;
  /** Live sessions. */
  store: SessionStore;
  /** Request body schemas for the limits above. */
  schemas: RequestSchemas;
  /** The OpenAPI document, serialised once. */
  openapi: string;
}

/** The routes of the API over `api`. */
export function apiRoutes(api: Api): Route[] {
  return [
    { path: "/healthz", methods: { GET: () => json({ status: "ok" }) } },
    { path: "/openapi.json", methods: { GET: () => openApiResponse(api) } },
    { path: "/v1/model", methods: { GET: () => getModel(api) } },
    { path: "/v1/items", methods: { GET: (c) => getItems(api, c) } },
    { path: "/v1/feedback", methods: { POST: (c) => postFeedback(api, c) } },
    { path: "/v1/step", methods: { POST: (c) => postStatelessStep(api, c) } },
    { path: "/v1/sessions", methods: { POST: (c) => createSession(api, c) } },
    { path: "/v1/sessions/step", methods: { POST: (c) => stepSessions(api, c) } },
    { path: "/v1/sessions/batch", methods: { POST: (c) => createSessions(api, c) } },
    { path: "/v1/sessions/delete", methods: { POST: (c) => deleteSessions(api, c) } },
    {
      path: "/v1/sessions/:id",
      methods: { GET: (c) => getSession(api, c), DELETE: (c) => deleteSession(api, c) },
    },
    { path: "/v1/sessions/:id/step", methods: { POST: (c) => stepSession(api, c) } },
  ];
}

/** `GET /openapi.json`. */
function openApiResponse(api: Api): Response {
  return new Response(api.openapi, {
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** `GET /v1/model`: labels, rewards, N, item count, backend, model config, env and limits. */
function getModel(api: Api): Response {
  const { sim, env } = api;
  const description = sim.describe();
  return json({
    labels: sim.labels,
    positive: sim.positive,
    rewards: probsRecord(sim.labels, env.rewards),
    state_length: sim.stateLength,
    item_count: sim.itemCount,
    backend: typeof description.backend === "string" ? description.backend : null,
    model: description,
    env: {
      max_steps: env.maxSteps,
      leave_after_skips: env.leaveAfterSkips,
      leave: env.leave === undefined ? "rule" : "learned",
      leave_model: env.leave?.describe() ?? null,
      uncertainty_penalty: env.uncertaintyPenalty,
      support_penalty: env.supportPenalty,
    },
    limits: {
      max_batch: api.maxBatch,
      max_page_items: MAX_PAGE_ITEMS,
      max_body_bytes: api.maxBodyBytes,
      max_state_length: api.maxStateLength,
      max_sessions: api.store.maxSessions,
      session_ttl_seconds: api.ttlSeconds,
    },
    items_url: "/v1/items",
  });
}

/** `GET /v1/items?offset&limit`: a page of item ids. */
function getItems(api: Api, { url }: RouteContext): Response {
  const items = api.sim.items;
  const offset = queryInt(url, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = queryInt(url, "limit", SERVE_DEFAULTS.itemsPerPage, 1, MAX_ITEMS_PAGE);
  const page = items.slice(offset, offset + limit);
  const next = offset + page.length;
  return json({
    items: page,
    offset,
    limit,
    total: items.length,
    next_offset: next < items.length ? next : null,
  });
}

/** `POST /v1/feedback`: probs, realness and expected reward of one request or a batch. */
async function postFeedback(api: Api, ctx: RouteContext): Promise<Response> {
  const { sim, env } = api;
  const raw = await readBody(api, ctx);
  const batch = isObject(raw) && Object.hasOwn(raw, "requests");
  if (batch) checkBatchSize(api, raw, "requests");
  const list = batch
    ? parseBody(api.schemas.feedbackBatch, raw).requests
    : [parseBody(api.schemas.feedback, raw)];
  const prefix = (i: number) => (batch ? `requests[${i}].` : "");
  const requests: FeedbackRequest[] = list.map((r, i) => {
    checkState(sim, r.state, `${prefix(i)}state`);
    checkItem(sim, r.action, `${prefix(i)}action`);
    return { state: lastPairs(r.state, sim.stateLength), action: r.action };
  });
  const predictions = await sim.predictArrays(requests);
  const results = list.map((r, i) => {
    const p = checkPrediction(sim, predictions[i]);
    const out: Record<string, unknown> = {
      probs: probsRecord(sim.labels, p.probs),
      ...(p.real !== undefined ? { real: p.real } : {}),
      expected_reward: expectedReward(p.probs, env.rewards),
      ...(p.spread !== undefined ? { spread: p.spread } : {}),
      ...(p.support !== undefined ? { support: p.support } : {}),
      ...(p.ood ? { ood: p.ood } : {}),
    };
    if (r.sample === true) {
      const seed = r.seed ?? randomSeed();
      const k = sampleFeedback(p.probs, seed, 0);
      out.feedback = sim.labels[k];
      out.reward = env.rewards[k];
      out.seed = seed;
    }
    return out;
  });
  return json(batch ? { results } : results[0]);
}

/** `POST /v1/step`: one stateless step, the same answer as the session step. */
async function postStatelessStep(api: Api, ctx: RouteContext): Promise<Response> {
  const b = parseBody(api.schemas.statelessStep, await readBody(api, ctx));
  const r = await statelessStep(api.sim, {
    state: b.state,
    action: b.action,
    seed: b.seed,
    step: b.step,
    negativeStreak: b.negative_streak,
  }, envOptions(api, b.max_steps));
  return json(stepBody(r));
}

/** `POST /v1/sessions`: starts an episode (reset). */
async function createSession(api: Api, ctx: RouteContext): Promise<Response> {
  const b = parseBody(api.schemas.sessionCreate, await readBody(api, ctx, true));
  const e = new SimEnv(api.sim, envOptions(api, b.max_steps));
  const { observation, info } = e.reset({ seed: b.seed, state: b.state });
  const s = api.store.create(e);
  return json({ session_id: s.id, observation, info }, 201);
}

/**
 * `POST /v1/sessions/batch`: starts many episodes at once, all or nothing. An entry with
 * `replace` ends that session and starts the new one in its place (a reset; the new session
 * has a new id), so resetting needs no extra room under `--max-sessions`.
 */
async function createSessions(api: Api, ctx: RouteContext): Promise<Response> {
  const raw = await readBody(api, ctx);
  checkBatchSize(api, raw, "sessions");
  const { sessions } = parseBody(api.schemas.sessionsCreate, raw);
  const replaced = new Set<string>();
  sessions.forEach((b, i) => {
    if (b.state !== undefined) checkState(api.sim, b.state, `sessions[${i}].state`);
    if (b.replace === undefined) return;
    const path = `sessions[${i}].replace`;
    if (replaced.has(b.replace)) {
      throw new HttpError(422, "duplicate_session", `${path}: session appears twice`, { path });
    }
    replaced.add(b.replace);
    const s = findSession(api, b.replace, path);
    if (s.env.busy) {
      throw new HttpError(409, "session_busy", "a step of this session is in progress", { path });
    }
  });
  api.store.checkRoom(sessions.length - replaced.size);
  for (const id of replaced) api.store.delete(id);
  const results = sessions.map((b) => {
    const e = new SimEnv(api.sim, envOptions(api, b.max_steps));
    const { observation, info } = e.reset({ seed: b.seed, state: b.state });
    return { session_id: api.store.create(e).id, observation, info };
  });
  return json({ results }, 201);
}

/** `POST /v1/sessions/delete`: ends many sessions; ids that do not exist are listed, not errors. */
async function deleteSessions(api: Api, ctx: RouteContext): Promise<Response> {
  const raw = await readBody(api, ctx);
  checkBatchSize(api, raw, "session_ids");
  const { session_ids } = parseBody(api.schemas.sessionsDelete, raw);
  const missing = session_ids.filter((id) => !api.store.delete(id));
  return json({ deleted: session_ids.length - missing.length, missing });
}

/** `POST /v1/sessions/step`: steps many sessions with one batched call, all or nothing. */
async function stepSessions(api: Api, ctx: RouteContext): Promise<Response> {
  const raw = await readBody(api, ctx);
  checkBatchSize(api, raw, "steps");
  const { steps, observation } = parseBody(api.schemas.sessionsStep, raw);
  const seen = new Set<string>();
  const pairs = steps.map((st, i): EnvAction<string | string[]> => {
    const path = `steps[${i}].session_id`;
    if (seen.has(st.session_id)) {
      throw new HttpError(
        422,
        "duplicate_session",
        `${path}: session appears twice in one request`,
        { path },
      );
    }
    seen.add(st.session_id);
    const s = findSession(api, st.session_id, path);
    checkSteppable(s, path);
    return { env: s.env, action: st.action };
  });
  const results = await stepMany(pairs);
  const withState = observation !== false;
  return json({
    results: results.map((r, i) => ({
      session_id: steps[i]!.session_id,
      ...stepBody(r, withState),
    })),
  });
}

/** `GET /v1/sessions/:id`: the session's state. */
function getSession(api: Api, { params }: RouteContext): Response {
  const s = findSession(api, params[0]!);
  return json({
    session_id: s.id,
    observation: s.env.observation,
    info: s.env.info,
    done: s.env.done,
  });
}

/** `DELETE /v1/sessions/:id`: ends a session. */
function deleteSession(api: Api, { params }: RouteContext): Response {
  const id = params[0]!;
  if (!api.store.delete(id)) findSession(api, id); // throws the 404
  return new Response(null, { status: 204 });
}

/** `POST /v1/sessions/:id/step`: recommends one item (or a page) in a session. */
async function stepSession(api: Api, ctx: RouteContext): Promise<Response> {
  const s = findSession(api, ctx.params[0]!);
  const { action, observation } = parseBody(api.schemas.sessionStep, await readBody(api, ctx));
  checkSteppable(s, null);
  return json(stepBody(await s.env.step(action), observation !== false));
}

/** The request's JSON body; `{}` for an empty one where allowed (JSON `null` stays `null`). */
async function readBody(api: Api, ctx: RouteContext, allowEmpty = false): Promise<unknown> {
  const value = await readJsonBody(ctx.req, api.maxBodyBytes, {
    allowEmpty,
    timeoutMs: api.bodyTimeoutMs,
  });
  return value === undefined ? {} : value;
}

/** The environment options of a session or step: the server's, with its own `max_steps`. */
function envOptions(api: Api, maxSteps: number | undefined): EnvConfig {
  return { ...api.env, maxSteps: maxSteps ?? api.env.maxSteps };
}

/** 413 when `value[key]` is an array longer than the batch limit (checked before the schema). */
function checkBatchSize(api: Api, value: unknown, key: string): void {
  const list = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  if (Array.isArray(list) && list.length > api.maxBatch) {
    throw new HttpError(
      413,
      "batch_too_large",
      `${key}: ${list.length} entries exceed the limit of ${api.maxBatch}`,
      { path: key },
    );
  }
}

/** The live session `id`, or a 404 naming it (at `path`, when given). */
function findSession(api: Api, id: string, path: string | null = null): Session {
  const s = api.store.get(id);
  if (s === undefined) {
    throw new HttpError(
      404,
      "session_not_found",
      `session "${id.slice(0, 64)}" does not exist or expired`,
      { path },
    );
  }
  return s;
}

/** 409 unless the session can take a step now. */
function checkSteppable(s: Session, path: string | null): void {
  if (s.env.busy) {
    throw new HttpError(409, "session_busy", "a step of this session is in progress", { path });
  }
  if (s.env.done) {
    throw new HttpError(
      409,
      "episode_over",
      "the episode is over (terminated or truncated); create a new session",
      { path },
    );
  }
}

/** A step result (single item or page) as the API answers it; without the state on request. */
function stepBody(r: StepResult | SlateStepResult, withState = true): Record<string, unknown> {
  return {
    ...(withState ? { observation: r.observation } : {}),
    feedback: r.feedback,
    reward: r.reward,
    terminated: r.terminated,
    truncated: r.truncated,
    info: r.info,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An integer query parameter in [min, max], `fallback` when absent, else a 422. */
function queryInt(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new HttpError(
      422,
      "invalid_field",
      `${name}: expected an integer in [${min}, ${max}], got "${raw.slice(0, 50)}"`,
      { path: name },
    );
  }
  return v;
}
