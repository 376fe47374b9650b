/**
 * The one error type that carries an HTTP status, and the one place that maps any thrown value
 * to a JSON error response `{error: {code, message, path}}`.
 * @module
 */
import { UserError } from "../errors.ts";
import { EpisodeOverError, InputError } from "../sim/env.ts";

/** An error answered with `status` and a JSON body naming `code`, `message` and `path`. */
export class HttpError extends Error {
  override name = "HttpError";
  /** HTTP status (4xx or 5xx). */
  readonly status: number;
  /** Stable machine-readable code, e.g. `unknown_item`. */
  readonly code: string;
  /** JSON path of the fault in the request (`requests[3].state[0].feedback`), or null. */
  readonly path: string | null;
  /** Extra response headers (`Allow`, `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    code: string,
    message: string,
    options: { path?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = options.path ?? null;
    this.headers = options.headers ?? {};
  }
}

/** Headers on every JSON response. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/**
 * Maps a thrown value to a response: {@link HttpError} keeps its status; {@link InputError}
 * (unknown item or label) is 422 with its path; {@link EpisodeOverError} is 409; any other
 * `UserError` is 422; everything else is logged with `log` and answered 500 with no internals.
 */
export function errorResponse(
  e: unknown,
  log: (message: string, error: unknown) => void,
): Response {
  if (e instanceof HttpError) return errorBody(e.status, e.code, e.message, e.path, e.headers);
  if (e instanceof InputError) return errorBody(422, e.code, e.message, e.path);
  if (e instanceof EpisodeOverError) return errorBody(409, "episode_over", e.message, null);
  if (e instanceof UserError) return errorBody(422, "invalid_request", e.message, null);
  log("internal error while handling a request", e);
  return errorBody(500, "internal", "internal server error", null);
}

function errorBody(
  status: number,
  code: string,
  message: string,
  path: string | null,
  headers: Record<string, string> = {},
): Response {
  return json({ error: { code, message, path } }, status, headers);
}
