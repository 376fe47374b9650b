/**
 * A small router: paths with `:name` parameters, one handler per method, HEAD answered by the GET
 * handler, and the 404 / 405 errors. Where two routes match a path, the one with a fixed segment
 * at the first position where they differ wins (`/v1/sessions/step` over `/v1/sessions/:id`),
 * whatever the order they are listed in.
 * @module
 */
import { HttpError } from "./http_error.ts";

/** What a route handler gets. */
export interface RouteContext {
  /** The request. */
  req: Request;
  /** Its parsed URL. */
  url: URL;
  /** Values of the path's `:name` segments, in order (undecoded, as in the URL). */
  params: string[];
}

/** Answers one method of one route. */
export type RouteHandler = (ctx: RouteContext) => Promise<Response> | Response;

/** A path (`/v1/sessions/:id`) and its handlers by method name (`GET`, `POST` …). */
export interface Route {
  /** Segments separated by `/`; a segment `:name` matches any one segment. */
  path: string;
  /** Handlers by upper-case method name. */
  methods: Partial<Record<string, RouteHandler>>;
}

interface CompiledRoute extends Route {
  segments: string[];
}

/** Routes requests by path, then by method. */
export class Router {
  readonly #routes: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    const compiled = routes.map((r) => ({ ...r, segments: r.path.split("/").slice(1) }));
    // Most specific first, so the first match is the one fixed segments pick (sort is stable).
    this.#routes = compiled.sort((a, b) => specificity(a.segments, b.segments));
  }

  /** The route matching `pathname` and its parameters, or undefined. */
  match(pathname: string): { route: Route; params: string[] } | undefined {
    const parts = pathname.split("/").slice(1);
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params !== undefined) return { route, params };
    }
    return undefined;
  }

  /**
   * Calls the handler for `req`'s path and method. Throws a 404 {@link HttpError} for an unknown
   * path and a 405 with an `Allow` header for a method the route does not have.
   */
  async dispatch(req: Request, url: URL): Promise<Response> {
    const found = this.match(url.pathname);
    if (found === undefined) {
      throw new HttpError(404, "not_found", `no route ${url.pathname.slice(0, 200)}`);
    }
    const { route, params } = found;
    // HEAD is GET without the body (RFC 9110 §9.3.2); the handler's caller drops the body.
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
        { headers: { allow } },
      );
    }
    return await fn({ req, url, params });
  }
}

/** The parameters when `parts` matches `segments`, else undefined. */
function matchSegments(
  segments: readonly string[],
  parts: readonly string[],
): string[] | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const want = segments[i]!;
    if (want.startsWith(":")) params.push(parts[i]!);
    else if (want !== parts[i]) return undefined;
  }
  return params;
}

/**
 * Sort order of two routes' segments: at the first position where one has a parameter and the
 * other a fixed segment, the fixed one first; else the shorter first (a total order).
 */
function specificity(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const pa = a[i]!.startsWith(":");
    const pb = b[i]!.startsWith(":");
    if (pa !== pb) return pa ? 1 : -1;
  }
  return a.length - b.length;
}
