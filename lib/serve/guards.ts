/**
 * Checks that run before routing: the Host allow-list (DNS-rebinding protection for a loopback
 * server), bearer-token authentication with a constant-time compare, and CORS.
 * @module
 */
import { quoteForMessage } from "../errors.ts";
import { HttpError } from "./http_error.ts";

/**
 * The request's URL. `Deno.serve` builds it from the Host header, so a Host that is no valid
 * `host[:port]` (`a b`, `127.0.0.1:99999`) makes no URL: that is the client's fault, a 400.
 */
export function requestUrl(req: Request): URL {
  try {
    return new URL(req.url);
  } catch {
    const host = req.headers.get("host");
    throw new HttpError(
      400,
      "bad_host",
      host === null
        ? "the request has no valid URL"
        : `Host header ${quoteForMessage(host)} is not a valid host[:port]`,
    );
  }
}

/** Throws 403 unless the request's host name is in `allowed` (no check when undefined). */
export function checkHost(url: URL, allowed: readonly string[] | undefined): void {
  if (allowed === undefined) return;
  const host = url.hostname.toLowerCase();
  if (!allowed.includes(host)) {
    throw new HttpError(
      403,
      "host_not_allowed",
      `Host "${host.slice(0, 100)}" is not allowed; this server answers ${allowed.join(", ")}`,
    );
  }
}

/** True when `provided` equals `expected`; the time taken depends only on `provided`'s length. */
export function constantTimeEqual(provided: Uint8Array, expected: Uint8Array): boolean {
  let diff = provided.length ^ expected.length;
  for (let i = 0; i < provided.length; i++) {
    diff |= provided[i]! ^ expected[i % expected.length]!;
  }
  return diff === 0;
}

/** Bearer-token check: `Authorization: Bearer <token>` or a 401. */
export class BearerAuth {
  readonly #expected: Uint8Array;
  constructor(token: string) {
    if (token === "") throw new RangeError("Cannot enable authentication: the token is empty");
    this.#expected = new TextEncoder().encode(token);
  }

  /** Throws a 401 {@link HttpError} unless `req` carries the token. */
  check(req: Request): void {
    const header = req.headers.get("authorization");
    const challenge = { "www-authenticate": 'Bearer realm="recsimu"' };
    const m = header === null ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) {
      throw new HttpError(401, "unauthorized", "missing Authorization: Bearer <token> header", {
        headers: challenge,
      });
    }
    if (!constantTimeEqual(new TextEncoder().encode(m[1]!), this.#expected)) {
      throw new HttpError(401, "unauthorized", "invalid token", { headers: challenge });
    }
  }
}

/** CORS for one configured origin (or `*`). */
export class Cors {
  readonly origin: string;
  constructor(origin: string) {
    this.origin = origin;
  }

  /** The allowed origin for `req`, or null when its Origin is absent or not allowed. */
  #allowed(req: Request): string | null {
    const origin = req.headers.get("origin");
    if (origin === null) return null;
    if (this.origin === "*") return "*";
    return origin === this.origin ? origin : null;
  }

  /** A 204 answer to a CORS preflight, or null when `req` is not one. */
  preflight(req: Request): Response | null {
    if (req.method !== "OPTIONS" || !req.headers.has("access-control-request-method")) return null;
    const allowed = this.#allowed(req);
    if (allowed === null) return null;
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": allowed,
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
        "vary": "Origin",
      },
    });
  }

  /** Adds CORS headers to `res` when `req`'s origin is allowed. */
  decorate(req: Request, res: Response): Response {
    const allowed = this.#allowed(req);
    if (allowed !== null) {
      res.headers.set("access-control-allow-origin", allowed);
      res.headers.set("access-control-expose-headers", "retry-after");
      res.headers.append("vary", "Origin");
    }
    return res;
  }
}
