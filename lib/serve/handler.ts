/**
 * The HTTP API as a pure function `Request -> Response` over a {@link SimulatorLike}: tests call
 * it in-process; `server.ts` puts it behind `Deno.serve`. Guards (host, rate limit, auth) and
 * limits (content type, body size, batch size) run before the routes; every thrown error goes
 * through the one mapping in `http_error.ts`.
 * @module
 */
import { envConfig } from "../sim/env.ts";
import type { LeaveModel } from "../sim/leave.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { SERVE_DEFAULTS } from "./defaults.ts";
import { BearerAuth, checkHost, Cors, requestUrl } from "./guards.ts";
import { errorResponse, HttpError } from "./http_error.ts";
import { closeAfterResponse, RateLimiter } from "./limits.ts";
import { openApiDocument } from "./openapi.ts";
import { Router } from "./router.ts";
import { type Api, apiRoutes } from "./routes.ts";
import { requestSchemas } from "./schema.ts";
import { SessionStore } from "./sessions.ts";

/** Configuration of {@link createHandler}; every field is optional. */
export interface HandlerConfig {
  /** Reward per label, in label order. @default 1 for positive labels, 0 otherwise */
  rewards?: readonly number[];
  /** Default episode length of sessions and stateless steps. @default SERVE_DEFAULTS.maxSteps */
  maxSteps?: number;
  /**
   * Negative feedbacks in a row after which the user leaves; 0 = never.
   * @default SERVE_DEFAULTS.leaveAfterSkips
   */
  leaveAfterSkips?: number;
  /**
   * A learned leave model: users leave by it instead of the rule (excludes `leaveAfterSkips`).
   * @default undefined (the rule)
   */
  leave?: LeaveModel;
  /**
   * λ of the exploit guard: rewards are lowered by λ × each answer's spread.
   * @default SERVE_DEFAULTS.uncertaintyPenalty
   */
  uncertaintyPenalty?: number;
  /**
   * μ of the support guard: rewards are lowered by μ × max(0, −each answer's support).
   * @default SERVE_DEFAULTS.supportPenalty
   */
  supportPenalty?: number;
  /** Most entries in one batch (`requests`, `steps`). @default SERVE_DEFAULTS.maxBatch */
  maxBatch?: number;
  /** Largest request body in bytes. @default SERVE_DEFAULTS.maxBodyBytes (16 MiB) */
  maxBodyBytes?: number;
  /**
   * Seconds a request body may take to arrive (against slow senders).
   * @default SERVE_DEFAULTS.bodyTimeoutSeconds
   */
  bodyTimeoutSeconds?: number;
  /** Most (item, feedback) pairs in a request's state. @default SERVE_DEFAULTS.maxStateLength */
  maxStateLength?: number;
  /** Live sessions at most. @default SERVE_DEFAULTS.maxSessions */
  maxSessions?: number;
  /** Seconds an idle session lives. @default SERVE_DEFAULTS.sessionTtlSeconds */
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
  const api = buildApi(sim, config);
  const router = new Router(apiRoutes(api));
  const auth = config.token === undefined ? undefined : new BearerAuth(config.token);
  const cors = config.cors === undefined ? undefined : new Cors(config.cors);
  const limiter = config.rateLimit === undefined
    ? undefined
    : new RateLimiter({ ...config.rateLimit, now: config.now });
  const log = config.log ?? ((message: string, error: unknown) => console.error(message, error));

  // The checks in front of the routes, in order: host, CORS preflight, rate limit, token.
  const dispatch = (req: Request, info: ClientInfo | undefined): Promise<Response> | Response => {
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
    return router.dispatch(req, url);
  };

  return async (req, info) => {
    let res: Response;
    try {
      res = await dispatch(req, info);
    } catch (e) {
      res = errorResponse(e, log);
    }
    await dropUnreadBody(req, res, info);
    if (req.method === "HEAD") res = await withoutBody(res);
    return cors === undefined ? res : cors.decorate(req, res);
  };
}

/** The routes' shared state from `config`, every limit checked (a `RangeError` names it). */
function buildApi(sim: SimulatorLike, config: HandlerConfig): Api {
  const D = SERVE_DEFAULTS;
  const maxBatch = positiveInt("maxBatch", config.maxBatch ?? D.maxBatch);
  const maxBodyBytes = positiveInt("maxBodyBytes", config.maxBodyBytes ?? D.maxBodyBytes);
  const maxStateLength = positiveInt("maxStateLength", config.maxStateLength ?? D.maxStateLength);
  const bodyTimeoutMs = (config.bodyTimeoutSeconds ?? D.bodyTimeoutSeconds) * 1000;
  if (!(bodyTimeoutMs > 0)) {
    throw new RangeError(`Cannot create handler: bodyTimeoutSeconds must be > 0`);
  }
  const env = envConfig(sim, {
    maxSteps: config.maxSteps,
    leaveAfterSkips: config.leaveAfterSkips,
    rewards: config.rewards,
    leave: config.leave,
    uncertaintyPenalty: config.uncertaintyPenalty,
    supportPenalty: config.supportPenalty,
  });
  const ttlSeconds = config.sessionTtlSeconds ?? D.sessionTtlSeconds;
  const store = new SessionStore({
    maxSessions: config.maxSessions,
    ttlMs: ttlSeconds * 1000,
    now: config.now,
  });
  const openapi = JSON.stringify(openApiDocument({
    labels: sim.labels,
    maxBatch,
    maxStateLength,
    maxStepsDefault: env.maxSteps,
    leave: env.leave === undefined ? "rule" : "learned",
    auth: config.token !== undefined,
  }));
  const schemas = requestSchemas({ maxStateLength, maxBatch });
  return {
    sim,
    env,
    maxBatch,
    maxBodyBytes,
    maxStateLength,
    bodyTimeoutMs,
    ttlSeconds,
    store,
    schemas,
    openapi,
  };
}

/**
 * Drops a request body the route did not read (errors before parsing, a GET with a body)
 * instead of buffering it. A refused body (413, 408: the response says `connection: close`)
 * is cut off after the response when the server says when that is sent.
 */
async function dropUnreadBody(req: Request, res: Response, info: ClientInfo | undefined) {
  const close = res.headers.get("connection") === "close";
  if (req.body === null || req.body.locked || (!close && req.bodyUsed)) return;
  if (close && info?.completed !== undefined) closeAfterResponse(req.body, info.completed);
  else await req.body.cancel().catch(() => {});
}

/** `res` without its body, Content-Length kept: the answer to a HEAD request. */
async function withoutBody(res: Response): Promise<Response> {
  const headers = new Headers(res.headers);
  if (res.body !== null) {
    headers.set("content-length", String((await res.arrayBuffer()).byteLength));
  }
  return new Response(null, { status: res.status, statusText: res.statusText, headers });
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`Cannot create handler: ${name} must be an integer >= 1, got ${v}`);
  }
  return v;
}
