/**
 * In-process HTTP for the serve tests: one request to a handler, JSON in and out.
 * @module
 */
import type { Handler } from "../../lib/serve/handler.ts";

/** What {@link call} returns: the status, the headers and the parsed body (null when empty). */
// deno-lint-ignore no-explicit-any
export type Answer = { status: number; headers: Headers; body: any };

/** Sends `method path` with `body` as JSON (when given) to the handler `h`. */
export async function call(
  h: Handler,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await h(new Request(`http://127.0.0.1${path}`, init));
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? null : JSON.parse(text) };
}
