/**
 * Server-side episodes: a bounded map from unguessable session ids to environments, with idle
 * expiry. The map is kept in least-recently-used order (a touch moves a session to the end), so
 * expiring idle sessions only looks at the expired ones.
 * @module
 */
import type { SimEnv } from "../sim/env.ts";
import { SERVE_DEFAULTS } from "./defaults.ts";
import { HttpError } from "./http_error.ts";

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /**
   * Live sessions at most; creating one more is answered 503.
   * @default SERVE_DEFAULTS.maxSessions
   */
  maxSessions?: number;
  /**
   * Milliseconds a session may sit idle before it expires.
   * @default SERVE_DEFAULTS.sessionTtlSeconds × 1000
   */
  ttlMs?: number;
  /** Monotonic clock in milliseconds (injectable for tests). @default performance.now */
  now?: () => number;
}

/** One live session. */
export interface Session {
  /** 128-bit random id, 32 lowercase hex digits. */
  readonly id: string;
  /** The episode. */
  readonly env: SimEnv;
  /** Clock time of the last use. */
  lastUsed: number;
}

const ID_PATTERN = /^[0-9a-f]{32}$/;

/** A fresh session id: 128 bits from the system's CSPRNG, as hex. */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Live sessions with a size limit and idle expiry. */
export class SessionStore {
  readonly maxSessions: number;
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Session>();

  constructor(options: SessionStoreOptions = {}) {
    this.maxSessions = options.maxSessions ?? SERVE_DEFAULTS.maxSessions;
    this.ttlMs = options.ttlMs ?? SERVE_DEFAULTS.sessionTtlSeconds * 1000;
    this.#now = options.now ?? (() => performance.now());
    if (!Number.isSafeInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new RangeError(
        `Cannot create session store: maxSessions must be an integer >= 1, got ${this.maxSessions}`,
      );
    }
    if (!(this.ttlMs > 0)) {
      throw new RangeError(`Cannot create session store: ttlMs must be > 0, got ${this.ttlMs}`);
    }
  }

  /** Number of live (unexpired) sessions. */
  get size(): number {
    this.sweep();
    return this.#sessions.size;
  }

  /**
   * Adds a session for `env`. When the store is full (after expiring idle sessions) throws a
   * 503 {@link HttpError} whose Retry-After says when the oldest idle session expires.
   */
  create(env: SimEnv): Session {
    this.checkRoom(1);
    let id = newSessionId();
    while (this.#sessions.has(id)) id = newSessionId();
    const session: Session = { id, env, lastUsed: this.#now() };
    this.#sessions.set(id, session);
    return session;
  }

  /**
   * Throws the 503 {@link HttpError} of a full store unless `count` more sessions fit (after
   * expiring idle ones); its Retry-After says when the oldest idle session expires.
   */
  checkRoom(count: number): void {
    this.sweep();
    if (this.#sessions.size + count <= this.maxSessions) return;
    const oldest = this.#sessions.values().next().value as Session | undefined;
    const wait = oldest === undefined
      ? 1
      : Math.max(1, Math.ceil((oldest.lastUsed + this.ttlMs - this.#now()) / 1000));
    const asked = count === 1 ? "" : ` (${count} more asked for)`;
    throw new HttpError(
      503,
      "too_many_sessions",
      `the server holds its limit of ${this.maxSessions} sessions${asked}; delete finished ` +
        `sessions (DELETE /v1/sessions/{id}) or retry after idle ones expire`,
      { headers: { "retry-after": String(wait) } },
    );
  }

  /** The live session `id` (marking it used), or undefined if unknown or expired. */
  get(id: string): Session | undefined {
    if (!ID_PATTERN.test(id)) return undefined;
    this.sweep();
    const s = this.#sessions.get(id);
    if (s === undefined) return undefined;
    s.lastUsed = this.#now();
    this.#sessions.delete(id);
    this.#sessions.set(id, s);
    return s;
  }

  /** Removes session `id`; false when it did not exist. */
  delete(id: string): boolean {
    this.sweep();
    return this.#sessions.delete(id);
  }

  /** Drops sessions idle for longer than the TTL (never one with a step in flight). */
  sweep(): void {
    const cutoff = this.#now() - this.ttlMs;
    for (const [id, s] of this.#sessions) {
      if (s.lastUsed > cutoff) break; // LRU order: the rest are fresher
      if (!s.env.busy) this.#sessions.delete(id);
    }
  }
}
