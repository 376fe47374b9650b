/**
 * The HTTP API as a pure function `Request -> Response` over a {@link SimulatorLike}: tests call
 * it in-process; `server.ts` puts it behind `Deno.serve`. Guards (host, rate limit, auth) and
 * limits (content type, body size, batch size) run before the routes; every thrown error goes
 * through the one mapping in `http_error.ts`.
 * @module
 */
import {
  checkItem,
  checkPrediction,
  checkState,
  type EnvConfig,
  envConfig,
  lastPairs,
  probsRecord,
  randomSeed,
  sampleFeedback,
  SimEnv,
  statelessStep,
  stepMany,
  type StepResult,
} from "../sim/env.ts";
import { expectedReward } from "../sim/reward.ts";
import type { FeedbackRequest, SimulatorLike } from "../sim/types.ts";
import { BearerAuth, checkHost, Cors, requestUrl } from "./guards.ts";
import { errorResponse, HttpError, json } from "./http_error.ts";
import { closeAfterResponse, RateLimiter, readJsonBody } from "./limits.ts";
import { openApiDocument } from "./openapi.ts";
import { parseBody, requestSchemas } from "./schema.ts";
import { type Session, SessionStore } from "./sessions.ts";

/** Configuration of {@link createHandler}; every field is optional. */
export interface HandlerConfig {
  /** Reward per label, in label order. @default 1 for positive labels, 0 otherwise */
  rewards?: readonly number[];
  /** Default episode length of sessions and stateless steps. @default 50 */
  maxSteps?: number;
  /** Negative feedbacks in a row after which the user leaves; 0 = never. @default 0 */
  leaveAfterSkips?: number;
  /** Most entries in one batch (`requests`, `steps`). @default 4096 */
  maxBatch?: number;
  /** Largest request body in bytes. @default 16777216 (16 MiB) */
  maxBodyBytes?: number;
  /** Seconds a request body may take to arrive (against slow senders). @default 30 */
  bodyTimeoutSeconds?: number;
  /** Most (item, feedback) pairs in a request's state. @default 1000 */
  maxStateLength?: number;
  /** Live sessions at most. @default 10000 */
  maxSessions?: number;
  /** Seconds an idle session lives. @default 600 */
  sessionTtlSeconds?: number;
  /** When set, every request needs `Authorization: Bearer <token>`. @default undefined (no auth) */
  token?: string;
  /** Allowed CORS origin (or `*`). @default undefined (CORS off) */
  cors?: string;
  /** Host names the server answers (DNS-rebinding protection). @default undefined (any) */
  allowedHosts?: readonly string[];
  /** Per-client token bucket. @default undefined (no rate limit) */
  rateLimit?: { ratePerSecond: number; burst?: number };
  /** Monotonic clock in milliseconds, for session expiry and rate limits. @default performance.now */
  now?: () => number;
  /** Where internal errors are logged. @default console.error */
  log?: (message: string, error: unknown) => void;
}

/** Who sent a request (`Deno.ServeHandlerInfo` fits). */
export interface ClientInfo {
  /** The peer address; its host name keys the rate limit. */
  remoteAddr?: { hostname?: string };
  /**
   * Settles once the response is sent. Given (as by `Deno.serve`), a refused body's connection
   * is closed after the response; without it the body is cancelled at once.
   */
  completed?: Promise<void>;
}

/** The HTTP API: a function from request to response. */
export type Handler = (req: Request, info?: ClientInfo) => Promise<Response>;

/** Items per page of `GET /v1/items` at most. */
export const MAX_ITEMS_PAGE = 10_000;

interface Ctx {
  req: Request;
  url: URL;
  params: string[];
}

type Route = {
  path: string[];
  methods: Partial<Record<string, (ctx: Ctx) => Promise<Response> | Response>>;
};

/**
 * Builds the API over `sim`. Limits are checked here, so a bad config fails at start-up.
 *
 * @example
 * ```ts ignore
 * const handler = createHandler(sim, { maxBatch: 1024 });
 * const res = await handler(new Request("http://x/v1/feedback", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ state: [], action: sim.items[0] }),
 * }));
 * ```
 */
export function createHandler(sim: SimulatorLike, config: HandlerConfig = {}): Handler {
  const maxBatch = positiveInt("maxBatch", config.maxBatch ?? 4096);
  const maxBodyBytes = positiveInt("maxBodyBytes", config.maxBodyBytes ?? 16 * 1024 * 1024);
  const maxStateLength = positiveInt("maxStateLength", config.maxStateLength ?? 1000);
  const bodyTimeoutMs = (config.bodyTimeoutSeconds ?? 30) * 1000;
  if (!(bodyTimeoutMs > 0)) {
    throw new RangeError(`Cannot create handler: bodyTimeoutSeconds must be > 0`);
  }
  const env: EnvConfig = envConfig(sim, {
    maxSteps: config.maxSteps,
    leaveAfterSkips: config.leaveAfterSkips,
    rewards: config.rewards,
  });
  const ttlSeconds = config.sessionTtlSeconds ?? 600;
  const store = new SessionStore({
    maxSessions: config.maxSessions,
    ttlMs: ttlSeconds * 1000,
    now: config.now,
  });
  const schemas = requestSchemas({ maxStateLength, maxBatch });
  const auth = config.token === undefined ? undefined : new BearerAuth(config.token);
  const cors = config.cors === undefined ? undefined : new Cors(config.cors);
  const limiter = config.rateLimit === undefined
    ? undefined
    : new RateLimiter({ ...config.rateLimit, now: config.now });
  const log = config.log ?? ((message: string, error: unknown) => console.error(message, error));
  const labels = sim.labels;
  const openapi = JSON.stringify(openApiDocument({
    labels,
    maxBatch,
    maxStateLength,
    maxStepsDefault: env.maxSteps,
    auth: auth !== undefined,
  }));

  const envOptions = (maxSteps: number | undefined) => ({
    ...env,
    maxSteps: maxSteps ?? env.maxSteps,
  });

  const body = async (ctx: Ctx, allowEmpty = false): Promise<unknown> => {
    const value = await readJsonBody(ctx.req, maxBodyBytes, {
      allowEmpty,
      timeoutMs: bodyTimeoutMs,
    });
    return value === undefined ? {} : value; // undefined only for an empty body; JSON null stays null
  };

  const checkBatchSize = (value: unknown, key: string): void => {
    const list = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    if (Array.isArray(list) && list.length > maxBatch) {
      throw new HttpError(
        413,
        "batch_too_large",
        `${key}: ${list.length} entries exceed the limit of ${maxBatch}`,
        {
          path: key,
        },
      );
    }
  };

  const session = (id: string, path: string | null = null): Session => {
    const s = store.get(id);
    if (s === undefined) {
      throw new HttpError(
        404,
        "session_not_found",
        `session "${id.slice(0, 64)}" does not exist or expired`,
        {
          path,
        },
      );
    }
    return s;
  };

  const checkSteppable = (s: Session, path: string | null): void => {
    if (s.env.busy) {
      throw new HttpError(409, "session_busy", "a step of this session is in progress", { path });
    }
    if (s.env.done) {
      throw new HttpError(
        409,
        "episode_over",
        "the episode is over (terminated or truncated); create a new session",
        {
          path,
        },
      );
    }
  };

  const stepBody = (r: StepResult) => ({
    observation: r.observation,
    feedback: r.feedback,
    reward: r.reward,
    terminated: r.terminated,
    truncated: r.truncated,
    info: r.info,
  });

  const routes: Route[] = [
    { path: ["healthz"], methods: { GET: () => json({ status: "ok" }) } },
    {
      path: ["openapi.json"],
      methods: {
        GET: () =>
          new Response(openapi, { headers: { "content-type": "application/json; charset=utf-8" } }),
      },
    },
    {
      path: ["v1", "model"],
      methods: {
        GET: () => {
          const description = sim.describe();
          return json({
            labels,
            positive: sim.positive,
            rewards: probsRecord(labels, env.rewards),
            state_length: sim.stateLength,
            item_count: sim.itemCount,
            backend: typeof description.backend === "string" ? description.backend : null,
            model: description,
            env: { max_steps: env.maxSteps, leave_after_skips: env.leaveAfterSkips },
            limits: {
              max_batch: maxBatch,
              max_body_bytes: maxBodyBytes,
              max_state_length: maxStateLength,
              max_sessions: store.maxSessions,
              session_ttl_seconds: ttlSeconds,
            },
            items_url: "/v1/items",
          });
        },
      },
    },
    {
      path: ["v1", "items"],
      methods: {
        GET: ({ url }) => {
          const offset = queryInt(url, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
          const limit = queryInt(url, "limit", 1000, 1, MAX_ITEMS_PAGE);
          const items = sim.items.slice(offset, offset + limit);
          const next = offset + items.length;
          return json({
            items,
            offset,
            limit,
            total: sim.items.length,
            next_offset: next < sim.items.length ? next : null,
          });
        },
      },
    },
    {
      path: ["v1", "feedback"],
      methods: {
        POST: async (ctx) => {
          const raw = await body(ctx);
          const batch = isObject(raw) && Object.hasOwn(raw, "requests");
          if (batch) checkBatchSize(raw, "requests");
          const list = batch
            ? parseBody(schemas.feedbackBatch, raw).requests
            : [parseBody(schemas.feedback, raw)];
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
              probs: probsRecord(labels, p.probs),
              real: p.real,
              expected_reward: expectedReward(p.probs, env.rewards),
            };
            if (r.sample === true) {
              const seed = r.seed ?? randomSeed();
              const k = sampleFeedback(p.probs, seed, 0);
              out.feedback = labels[k];
              out.reward = env.rewards[k];
              out.seed = seed;
            }
            return out;
          });
          return json(batch ? { results } : results[0]);
        },
      },
    },
    {
      path: ["v1", "step"],
      methods: {
        POST: async (ctx) => {
          const b = parseBody(schemas.statelessStep, await body(ctx));
          const r = await statelessStep(sim, {
            state: b.state,
            action: b.action,
            seed: b.seed,
            step: b.step,
            negativeStreak: b.negative_streak,
          }, envOptions(b.max_steps));
          return json(stepBody(r));
        },
      },
    },
    {
      path: ["v1", "sessions"],
      methods: {
        POST: async (ctx) => {
          const b = parseBody(schemas.sessionCreate, await body(ctx, true));
          const e = new SimEnv(sim, envOptions(b.max_steps));
          const { observation, info } = e.reset({ seed: b.seed, state: b.state });
          const s = store.create(e);
          return json({ session_id: s.id, observation, info }, 201);
        },
      },
    },
    {
      path: ["v1", "sessions", "step"],
      methods: {
        POST: async (ctx) => {
          const raw = await body(ctx);
          checkBatchSize(raw, "steps");
          const { steps } = parseBody(schemas.sessionsStep, raw);
          const seen = new Set<string>();
          const pairs = steps.map((st, i) => {
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
            const s = session(st.session_id, path);
            checkSteppable(s, path);
            return { env: s.env, action: st.action };
          });
          const results = await stepMany(pairs);
          return json({
            results: results.map((r, i) => ({ session_id: steps[i]!.session_id, ...stepBody(r) })),
          });
        },
      },
    },
    {
      path: ["v1", "sessions", ":id"],
      methods: {
        GET: ({ params }) => {
          const s = session(params[0]!);
          return json({
            session_id: s.id,
            observation: s.env.observation,
            info: s.env.info,
            done: s.env.done,
          });
        },
        DELETE: ({ params }) => {
          const id = params[0]!;
          if (!store.delete(id)) session(id); // throws the 404
          return new Response(null, { status: 204 });
        },
      },
    },
    {
      path: ["v1", "sessions", ":id", "step"],
      methods: {
        POST: async (ctx) => {
          const s = session(ctx.params[0]!);
          const { action } = parseBody(schemas.sessionStep, await body(ctx));
          checkSteppable(s, null);
          return json(stepBody(await s.env.step(action)));
        },
      },
    },
  ];

  const dispatch = async (req: Request, info: ClientInfo | undefined): Promise<Response> => {
    const url = requestUrl(req);
    checkHost(url, config.allowedHosts);
    const preflight = cors?.preflight(req);
    if (preflight) return preflight;
    if (limiter !== undefined) {
      const wait = limiter.take(info?.remoteAddr?.hostname ?? "local");
      if (wait > 0) {
        throw new HttpError(429, "rate_limited", "too many requests; slow down", {
          headers: { "retry-after": String(Math.ceil(wait)) },
        });
      }
    }
    auth?.check(req);
    const { route, params } = match(routes, url.pathname);
    if (route === undefined) {
      throw new HttpError(404, "not_found", `no route ${url.pathname.slice(0, 200)}`);
    }
    // HEAD is GET without the body (RFC 9110 §9.3.2); the wrapper below drops the body.
    const method = req.method === "HEAD" && Object.hasOwn(route.methods, "GET")
      ? "GET"
      : req.method;
    // Own properties only: "constructor" and "toString" are valid HTTP method names too.
    const fn = Object.hasOwn(route.methods, method) ? route.methods[method] : undefined;
    if (fn === undefined) {
      const names = Object.keys(route.methods);
      const allow = (names.includes("GET") ? [...names, "HEAD"] : names).join(", ");
      throw new HttpError(
        405,
        "method_not_allowed",
        `${req.method} is not allowed here; use ${allow}`,
        {
          headers: { allow },
        },
      );
    }
    return await fn({ req, url, params });
  };

  return async (req, info) => {
    let res: Response;
    try {
      res = await dispatch(req, info);
    } catch (e) {
      res = errorResponse(e, log);
    }
    const close = res.headers.get("connection") === "close"; // a refused body (413, 408)
    if (req.body !== null && !req.body.locked && (close || !req.bodyUsed)) {
      if (close && info?.completed !== undefined) closeAfterResponse(req.body, info.completed);
      // Unread bodies (errors before parsing, GET with a body) are dropped, not buffered.
      else await req.body.cancel().catch(() => {});
    }
    if (req.method === "HEAD") res = await withoutBody(res);
    return cors === undefined ? res : cors.decorate(req, res);
  };
}

/** `res` without its body, Content-Length kept: the answer to a HEAD request. */
async function withoutBody(res: Response): Promise<Response> {
  const headers = new Headers(res.headers);
  if (res.body !== null) {
    headers.set("content-length", String((await res.arrayBuffer()).byteLength));
  }
  return new Response(null, { status: res.status, statusText: res.statusText, headers });
}

function match(routes: readonly Route[], pathname: string): { route?: Route; params: string[] } {
  const parts = pathname.split("/").slice(1);
  for (const route of routes) {
    if (route.path.length !== parts.length) continue;
    const params: string[] = [];
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const want = route.path[i]!;
      if (want.startsWith(":")) params.push(parts[i]!);
      else ok = want === parts[i];
    }
    // Fixed segments win over parameters (`/v1/sessions/step` over `/v1/sessions/:id`).
    if (ok) return { route, params };
  }
  return { params: [] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function queryInt(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new HttpError(
      422,
      "invalid_field",
      `${name}: expected an integer in [${min}, ${max}], got "${raw.slice(0, 50)}"`,
      {
        path: name,
      },
    );
  }
  return v;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`Cannot create handler: ${name} must be an integer >= 1, got ${v}`);
  }
  return v;
}
