/**
 * The serving defaults, in one place: the handler, the session store, the body reader, the
 * OpenAPI document and `recsimu serve`'s flags and help all read them from here. The episode
 * defaults come from the environment below (`ENV_DEFAULTS` in lib/sim/env.ts).
 * @module
 */
import { ENV_DEFAULTS } from "../sim/env.ts";

/** Default of every serving setting that has one. */
export const SERVE_DEFAULTS = Object.freeze({
  /** Interface `recsimu serve` binds. */
  hostname: "127.0.0.1",
  /** TCP port. */
  port: 8080,
  /** Episode length of sessions and stateless steps. */
  maxSteps: ENV_DEFAULTS.maxSteps,
  /** Negative feedbacks in a row after which the user leaves; 0 = never. */
  leaveAfterSkips: ENV_DEFAULTS.leaveAfterSkips,
  /** λ: rewards are lowered by λ × each answer's spread (0 = off). */
  uncertaintyPenalty: ENV_DEFAULTS.uncertaintyPenalty,
  /** μ: rewards are lowered by μ × max(0, −each answer's support) (0 = off). */
  supportPenalty: ENV_DEFAULTS.supportPenalty,
  /** Most entries in one batch (`requests`, `steps`). */
  maxBatch: 4096,
  /** Largest request body in bytes (16 MiB). */
  maxBodyBytes: 16 * 1024 * 1024,
  /** Seconds a request body may take to arrive (against slow senders). */
  bodyTimeoutSeconds: 30,
  /** Most (item, feedback) pairs in a request's state. */
  maxStateLength: 1000,
  /** Live sessions at most. */
  maxSessions: 10_000,
  /** Seconds an idle session lives. */
  sessionTtlSeconds: 600,
  /** Item ids per page of `GET /v1/items` when the request gives no `limit`. */
  itemsPerPage: 1000,
});

/** Items per page of `GET /v1/items` at most (the largest `limit`). */
export const MAX_ITEMS_PAGE = 10_000;
