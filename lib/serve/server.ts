/**
 * Puts the handler behind `Deno.serve`: loopback by default, a token required off loopback,
 * a Host allow-list on loopback (DNS rebinding), and a graceful stop on SIGINT / SIGTERM.
 * @module
 */
import { UserError } from "../errors.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { createHandler, type HandlerConfig } from "./handler.ts";

/** Options of {@link startServer}: the handler's plus where to listen. */
export interface ServeOptions extends HandlerConfig {
  /** Interface to bind; any non-loopback host requires `token`. @default "127.0.0.1" */
  hostname?: string;
  /** TCP port; 0 picks a free one. @default 8080 */
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
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Starts serving `sim`; returns once listening. Bind errors are {@link UserError}s. */
export function startServer(sim: SimulatorLike, options: ServeOptions = {}): RunningServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8080;
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
    if (
      e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.AddrNotAvailable ||
      e instanceof Deno.errors.PermissionDenied
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
