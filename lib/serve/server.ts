/**
 * Puts the handler behind `Deno.serve`: loopback by default, a token required off loopback,
 * a Host allow-list on loopback (DNS rebinding), and a graceful stop on SIGINT / SIGTERM.
 * @module
 */
import { quoteForMessage, UserError } from "../errors.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { SERVE_DEFAULTS } from "./defaults.ts";
import { createHandler, type HandlerConfig } from "./handler.ts";

/** Options of {@link startServer}: the handler's plus where to listen. */
export interface ServeOptions extends HandlerConfig {
  /** Interface to bind; any non-loopback host requires `token`. @default SERVE_DEFAULTS.hostname */
  hostname?: string;
  /** TCP port; 0 picks a free one. @default SERVE_DEFAULTS.port */
  port?: number;
  /** Stop gracefully on SIGINT / SIGTERM (a second signal exits at once). @default false */
  handleSignals?: boolean;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The actual port (useful with port 0). */
  port: number;
  /** Stops accepting, finishes in-flight requests, then resolves. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Shortest token accepted off loopback. */
export const MIN_TOKEN_LENGTH = 16;

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return h === "localhost" || h === "::1" || (v4 !== null && v4.slice(1).every((o) => +o <= 255));
}

/**
 * Why `hostname` is not an IP address or host name that can be listened on, or undefined when
 * it is. Checks the syntax (as a URL host: IPv4 octets up to 255, valid IPv6, no spaces), then
 * binds a free port on it and lets go at once, which resolves a name the way `Deno.serve` will.
 *
 * @example
 * ```ts
 * import { hostProblem } from "./server.ts";
 * hostProblem("127.0.0.1"); // undefined
 * hostProblem("127.999.1.1"); // "not a valid IP address or host name"
 * ```
 */
export function hostProblem(hostname: string): string | undefined {
  const syntax = hostSyntaxProblem(hostname);
  if (syntax !== undefined) return syntax;
  try {
    Deno.listen({ hostname, port: 0 }).close();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) return undefined; // no --allow-net: Deno.serve says so
    return `cannot listen there: ${(e as Error).message}`;
  }
  return undefined;
}

/** The syntax half of {@link hostProblem}: no lookup, no bind. */
function hostSyntaxProblem(hostname: string): string | undefined {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  if (bare.trim() === "") return "expected an IP address or host name, got an empty value";
  try {
    new URL(`http://${bare.includes(":") ? `[${bare}]` : bare}/`);
  } catch {
    return /^[^:]+:\d+$/.test(bare)
      ? "not a valid IP address or host name (give the port separately)"
      : "not a valid IP address or host name";
  }
  return undefined;
}

/** Starts serving `sim`; returns once listening. Bad hosts and bind errors are {@link UserError}s. */
export function startServer(sim: SimulatorLike, options: ServeOptions = {}): RunningServer {
  const hostname = options.hostname ?? SERVE_DEFAULTS.hostname;
  const port = options.port ?? SERVE_DEFAULTS.port;
  const syntax = hostSyntaxProblem(hostname); // before the loopback test, which it would confuse
  if (syntax !== undefined) {
    throw new UserError(`cannot listen on host ${quoteForMessage(hostname)}: ${syntax}`);
  }
  const loopback = isLoopback(hostname);
  if (!loopback && options.token === undefined) {
    throw new UserError(
      `serving on ${hostname} (not loopback) needs a token: pass --token or set RECSIMU_TOKEN ` +
        `(e.g. RECSIMU_TOKEN=$(openssl rand -hex 16))`,
    );
  }
  if (options.token !== undefined && options.token.length < MIN_TOKEN_LENGTH) {
    throw new UserError(`the token must be at least ${MIN_TOKEN_LENGTH} characters long`);
  }
  const bracketed = hostname.includes(":") ? `[${hostname}]` : hostname;
  const allowedHosts = options.allowedHosts ??
    (loopback
      ? [...new Set(["127.0.0.1", "localhost", "[::1]", bracketed.toLowerCase()])]
      : undefined);
  const handler = createHandler(sim, { ...options, allowedHosts });

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // onListen is replaced so that Deno prints nothing; the caller reports the URL.
    server = Deno.serve({ hostname, port, onListen: () => {} }, handler);
  } catch (e) {
    // Bad host names fail here too: a URIError for bad syntax, a plain Error when the lookup fails.
    if (
      e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.AddrNotAvailable ||
      e instanceof Deno.errors.PermissionDenied || e instanceof URIError ||
      (e instanceof Error && /lookup address/i.test(e.message))
    ) {
      throw new UserError(`cannot listen on ${bracketed}:${port}: ${(e as Error).message}`);
    }
    throw e;
  }
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  let stopping = false;
  const onSignal = () => {
    if (stopping) Deno.exit(130); // a second signal: stop waiting for in-flight requests
    stopping = true;
    server.shutdown();
  };
  if (options.handleSignals) { for (const s of signals) Deno.addSignalListener(s, onSignal); }
  const finished = server.finished.then(() => {
    if (options.handleSignals) { for (const s of signals) Deno.removeSignalListener(s, onSignal); }
  });
  const actualPort = server.addr.port;
  return {
    url: `http://${bracketed}:${actualPort}`,
    port: actualPort,
    shutdown: async () => {
      await server.shutdown();
      await finished;
    },
    finished,
  };
}
