/**
 * Limits that sit in front of the handlers: a JSON body reader that enforces the size limit
 * while it reads the stream (Content-Length is only a hint), the connection close after a body
 * is refused, and a per-client token-bucket rate limiter.
 * @module
 */
import { SERVE_DEFAULTS } from "./defaults.ts";
import { HttpError } from "./http_error.ts";

/** Options of {@link readJsonBody}. */
export interface ReadBodyOptions {
  /** Return undefined for an empty body instead of failing. @default false */
  allowEmpty?: boolean;
  /**
   * Milliseconds the whole body may take to arrive (slow senders hold a request).
   * @default SERVE_DEFAULTS.bodyTimeoutSeconds × 1000
   */
  timeoutMs?: number;
}

/**
 * Reads `req`'s body as JSON, at most `maxBytes` bytes. Throws {@link HttpError}: 413 past the
 * limit (declared or streamed), 408 when the body takes longer than the timeout, 415 for a
 * non-JSON content type, 400 for an empty body (unless `allowEmpty`, which returns undefined),
 * invalid UTF-8 or text that does not parse.
 *
 * The 413 and 408 carry `connection: close` and leave the rest of the body unread and not
 * cancelled, for {@link closeAfterResponse}.
 */
export async function readJsonBody(
  req: Request,
  maxBytes: number,
  options: ReadBodyOptions = {},
): Promise<unknown> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readLimited(
    req,
    maxBytes,
    options.timeoutMs ?? SERVE_DEFAULTS.bodyTimeoutSeconds * 1000,
  );
  if (bytes.length === 0 && options.allowEmpty) return undefined;
  const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `expected Content-Type: application/json, got ${
        type === "" ? "none" : `"${type.slice(0, 100)}"`
      }`,
    );
  }
  if (bytes.length === 0) {
    throw new HttpError(400, "bad_json", "request body is empty; expected JSON");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "bad_json", "request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const detail = e instanceof SyntaxError ? e.message.slice(0, 200) : "does not parse";
    throw new HttpError(400, "bad_json", `request body is not valid JSON: ${detail}`);
  }
}

async function readLimited(req: Request, maxBytes: number, timeoutMs: number): Promise<Uint8Array> {
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(408, "body_timeout", `request body not received within ${timeoutMs} ms`, {
            headers: CLOSE,
          }),
        ),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const { done, value } = await Promise.race([reader.read(), timeout]);
      if (done) break;
      total += value.length;
      if (total > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof HttpError) throw e; // 413 / 408: the caller closes the connection
    await reader.cancel().catch(() => {});
    throw new HttpError(400, "bad_body", "could not read the request body");
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "body_too_large",
    `request body exceeds the limit of ${maxBytes} bytes`,
    { headers: CLOSE },
  );
}

const CLOSE = { connection: "close" } as const;

/**
 * Makes `Deno.serve` close the connection of a request whose body was refused (413, 408) once
 * the response is sent, without waiting for the rest of the body.
 *
 * `Deno.serve` drains an unread body before it closes a connection, so a body cancelled before
 * the response goes out keeps the socket open for as long as the client keeps sending (or
 * holding) it. A body that a reader holds when the response goes out is handed to that reader
 * instead, and cancelling it then drops the connection. So: take a reader now, and cancel
 * `delayMs` after the response is sent (`completed`, from `Deno.ServeHandlerInfo`), which also
 * gives the client time to read the response before the socket closes. A read still pending on
 * the body (a 408's) holds the connection until that read ends: see docs/serve.md.
 */
export function closeAfterResponse(
  body: ReadableStream<Uint8Array>,
  completed: Promise<void>,
  delayMs = 250,
): void {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  completed.then(() => void setTimeout(cancel, delayMs), cancel);
}

/** Options of {@link RateLimiter}. */
export interface RateLimitOptions {
  /** Sustained requests per second per client. */
  ratePerSecond: number;
  /** Bucket size: requests a client may send in a burst. @default max(1, 2 × ratePerSecond) */
  burst?: number;
  /** Clock in milliseconds. @default Date.now */
  now?: () => number;
  /** Clients tracked at most; idle full buckets are forgotten first. @default 100000 */
  maxClients?: number;
}

/** A token bucket per client key (the client's IP address). */
export class RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #maxClients: number;
  readonly #buckets = new Map<string, { tokens: number; last: number }>();

  constructor(options: RateLimitOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new RangeError(
        `Cannot create rate limiter: ratePerSecond must be > 0, got ${options.ratePerSecond}`,
      );
    }
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst ?? Math.max(1, 2 * options.ratePerSecond);
    if (!(this.burst >= 1)) {
      throw new RangeError(`Cannot create rate limiter: burst must be >= 1, got ${this.burst}`);
    }
    this.#now = options.now ?? Date.now;
    this.#maxClients = options.maxClients ?? 100_000;
  }

  /** Takes one token for `key`: 0 when allowed, else the seconds until the next token. */
  take(key: string): number {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxClients) this.#prune(now);
      b = { tokens: this.burst, last: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.last) / 1000) * this.ratePerSecond);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.ratePerSecond;
  }

  #prune(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.last) / 1000) * this.ratePerSecond >= this.burst) {
        this.#buckets.delete(key);
      }
    }
    // Still full of active clients: forget the oldest half rather than grow without bound.
    if (this.#buckets.size >= this.#maxClients) {
      let drop = Math.ceil(this.#buckets.size / 2);
      for (const key of this.#buckets.keys()) {
        if (drop-- <= 0) break;
        this.#buckets.delete(key);
      }
    }
  }
}
