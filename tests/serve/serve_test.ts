import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run as runServe } from "../../lib/commands/serve.ts";
import { UserError } from "../../lib/errors.ts";
import { Rng } from "../../lib/random.ts";
import { MAX_ITEMS_PAGE, SERVE_DEFAULTS } from "../../lib/serve/defaults.ts";
import { createHandler, type Handler, type HandlerConfig } from "../../lib/serve/handler.ts";
import { RateLimiter } from "../../lib/serve/limits.ts";
import { openApiDocument } from "../../lib/serve/openapi.ts";
import { Router } from "../../lib/serve/router.ts";
import { jsonPath, MAX_PAGE_ITEMS } from "../../lib/serve/schema.ts";
import { isLoopback, startServer } from "../../lib/serve/server.ts";
import { ENV_DEFAULTS, sampleFeedback } from "../../lib/sim/env.ts";
import type { ArrayPrediction, FeedbackRequest, StepRecord } from "../../lib/sim/types.ts";
import { FakeSimulator } from "../_fake_sim.ts";

const eq = (a: unknown, b: unknown, msg?: string) =>
  msg === undefined ? assert.deepStrictEqual(a, b) : assert.deepStrictEqual(a, b, msg);
const LABELS = ["skip", "click", "purchase"];
const TOKEN = "0123456789abcdef0123456789abcdef";

function setup(
  config: HandlerConfig = {},
  sim = new FakeSimulator(),
): { sim: FakeSimulator; h: Handler } {
  return { sim, h: createHandler(sim, { log: () => {}, ...config }) };
}

interface Answer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

async function call(
  h: Handler,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body =
      typeof body === "string" || body instanceof Uint8Array || body instanceof ReadableStream
        ? body as BodyInit
        : JSON.stringify(body);
    init.headers = { "content-type": "application/json", ...headers };
  }
  const res = await h(new Request(`http://127.0.0.1${path}`, init));
  const text = await res.text();
  let parsed: unknown = null;
  if (text !== "") parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

function assertError(a: Answer, status: number, code: string, path?: string | null): void {
  assert.equal(a.status, status, `expected ${status} ${code}, got ${a.status}: ${a.text}`);
  assert.equal(a.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(a.body.error.code, code, a.text);
  assert.equal(typeof a.body.error.message, "string");
  if (path !== undefined) assert.equal(a.body.error.path, path, a.text);
}

const s = (...pairs: [string, string][]): StepRecord[] =>
  pairs.map(([item, feedback]) => ({ item, feedback }));

Deno.test("GET /healthz answers ok", async () => {
  const { h } = setup();
  const a = await call(h, "GET", "/healthz");
  eq([a.status, a.body], [200, { status: "ok" }]);
  eq(a.headers.get("cache-control"), "no-store");
});

Deno.test("GET /v1/model describes labels, rewards, N, items, backend and limits", async () => {
  const { h } = setup({ rewards: [0, 1, 5], maxBatch: 100 });
  const { status, body } = await call(h, "GET", "/v1/model");
  eq(status, 200);
  eq(body.labels, LABELS);
  eq(body.positive, [false, true, true]);
  eq(body.rewards, { skip: 0, click: 1, purchase: 5 });
  eq([body.state_length, body.item_count, body.backend], [5, 50, "cpu"]);
  eq(body.model.kind, "fake");
  eq(body.limits.max_batch, 100);
  eq(body.env, {
    max_steps: 50,
    leave_after_skips: 0,
    leave: "rule",
    leave_model: null,
    uncertainty_penalty: 0,
    support_penalty: 0,
  });
});

Deno.test("GET /v1/items pages through the vocabulary", async () => {
  const { h, sim } = setup();
  const p1 = await call(h, "GET", "/v1/items?limit=20");
  eq([p1.body.items.length, p1.body.total, p1.body.next_offset], [20, 50, 20]);
  const p3 = await call(h, "GET", "/v1/items?offset=40&limit=20");
  eq([p3.body.items, p3.body.next_offset], [sim.items.slice(40), null]);
  assertError(await call(h, "GET", "/v1/items?limit=0"), 422, "invalid_field", "limit");
  assertError(await call(h, "GET", "/v1/items?offset=-1"), 422, "invalid_field", "offset");
  assertError(await call(h, "GET", "/v1/items?limit=abc"), 422, "invalid_field", "limit");
});

Deno.test("POST /v1/feedback answers probs, real and expected reward for one request", async () => {
  const { h, sim } = setup({ rewards: [0, 1, 5] });
  const state = s(["i1", "click"], ["i2", "skip"]);
  const a = await call(h, "POST", "/v1/feedback", { state, action: "i7" });
  const p = sim.predictOne({ state, action: "i7" });
  eq(a.status, 200);
  eq(a.body.probs, { skip: p.probs[0], click: p.probs[1], purchase: p.probs[2] });
  eq(a.body.real, p.real);
  assert.ok(Math.abs(a.body.expected_reward - (p.probs[1]! + 5 * p.probs[2]!)) < 1e-12);
  eq(a.body.feedback, undefined);
});

Deno.test("POST /v1/feedback samples feedback deterministically per seed", async () => {
  const { h, sim } = setup();
  const state = s(["i1", "click"]);
  const one = (seed: number) =>
    call(h, "POST", "/v1/feedback", { state, action: "i3", sample: true, seed });
  const p = sim.predictOne({ state, action: "i3" });
  for (let seed = 0; seed < 20; seed++) {
    const [a, b] = [await one(seed), await one(seed)];
    eq(a.body, b.body);
    eq(a.body.feedback, LABELS[sampleFeedback(p.probs, seed, 0)]);
    eq(a.body.seed, seed);
  }
  const unseeded = await call(h, "POST", "/v1/feedback", { state, action: "i3", sample: true });
  assert.ok(
    Number.isSafeInteger(unseeded.body.seed),
    "an unseeded sample reports the seed it used",
  );
  eq((await one(unseeded.body.seed)).body.feedback, unseeded.body.feedback);
});

Deno.test("POST /v1/feedback answers a batch in order with ONE predict call", async () => {
  const { h, sim } = setup();
  const requests = Array.from({ length: 300 }, (_, i) => ({
    state: s([`i${i % 50}`, LABELS[i % 3]!]),
    action: `i${(i * 7) % 50}`,
  }));
  const a = await call(h, "POST", "/v1/feedback", { requests });
  eq(a.status, 200);
  eq(sim.batchSizes, [300]);
  eq(a.body.results.length, 300);
  for (const [i, r] of requests.entries()) eq(a.body.results[i].real, sim.predictOne(r).real);
});

Deno.test("POST /v1/feedback names the path of unknown items and labels (422)", async () => {
  const { h, sim } = setup();
  const good = { state: s(["i1", "click"]), action: "i2" };
  const requests = [good, good, good, { state: [{ item: "i1", feedback: "like" }], action: "i2" }];
  assertError(
    await call(h, "POST", "/v1/feedback", { requests }),
    422,
    "unknown_label",
    "requests[3].state[0].feedback",
  );
  requests[3] = { state: [{ item: "nope", feedback: "skip" }], action: "i2" };
  assertError(
    await call(h, "POST", "/v1/feedback", { requests }),
    422,
    "unknown_item",
    "requests[3].state[0].item",
  );
  requests[3] = { state: [], action: "nope" };
  assertError(
    await call(h, "POST", "/v1/feedback", { requests }),
    422,
    "unknown_item",
    "requests[3].action",
  );
  assertError(
    await call(h, "POST", "/v1/feedback", { state: [], action: "x" }),
    422,
    "unknown_item",
    "action",
  );
  eq(sim.predictCalls, 0, "invalid requests never reach the model");
});

Deno.test("POST /v1/feedback rejects wrong types, unknown fields and long states (422)", async () => {
  const { h } = setup({ maxStateLength: 10 });
  const f = (body: unknown) => call(h, "POST", "/v1/feedback", body);
  assertError(await f({ state: "i1", action: "i2" }), 422, "invalid_field", "state");
  assertError(
    await f({ state: [{ item: 1, feedback: "skip" }], action: "i2" }),
    422,
    "invalid_field",
    "state[0].item",
  );
  assertError(await f({ state: [], action: 5 }), 422, "invalid_field", "action");
  assertError(await f({ state: [] }), 422, "invalid_field", "action");
  assertError(await f({ state: [], action: "i1", seed: 1.5 }), 422, "invalid_field", "seed");
  assertError(await f({ state: [], action: "i1", sample: "yes" }), 422, "invalid_field", "sample");
  assertError(await f({ state: [], action: "i1", acton: "i1" }), 422, "invalid_field", "acton");
  assertError(await f([1, 2]), 422, "invalid_field", "");
  assertError(await f({ requests: [] }), 422, "invalid_field", "requests");
  assertError(
    await f({ requests: [{ state: [], action: "i1" }, { state: [{ item: "i1" }], action: "i1" }] }),
    422,
    "invalid_field",
    "requests[1].state[0].feedback",
  );
  const long = Array.from({ length: 11 }, () => ({ item: "i1", feedback: "skip" }));
  const a = await f({ state: long, action: "i1" });
  assertError(a, 422, "invalid_field", "state");
  assert.match(a.body.error.message, /at most 10 pairs/);
  eq((await f({ state: long.slice(1), action: "i1" })).status, 200);
});

Deno.test("bad JSON is 400, wrong content type 415", async () => {
  const { h } = setup();
  assertError(await call(h, "POST", "/v1/feedback", "{not json"), 400, "bad_json", null);
  assertError(await call(h, "POST", "/v1/feedback", '{"state": ['), 400, "bad_json");
  assertError(await call(h, "POST", "/v1/feedback", ""), 400, "bad_json");
  assertError(
    await call(h, "POST", "/v1/feedback", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
    400,
    "bad_json",
  );
  assertError(
    await call(h, "POST", "/v1/feedback", '{"state":[],"action":"i1"}', {
      "content-type": "text/plain",
    }),
    415,
    "unsupported_media_type",
  );
  eq(
    (await call(h, "POST", "/v1/feedback", '{"state":[],"action":"i1"}', {
      "content-type": "application/json; charset=utf-8",
    })).status,
    200,
  );
});

Deno.test("an oversized body is 413, checked while streaming, whatever Content-Length says", async () => {
  const { h } = setup({ maxBodyBytes: 1024 });
  const big = JSON.stringify({ state: [], action: "x".repeat(2000) });
  assertError(await call(h, "POST", "/v1/feedback", big), 413, "body_too_large");
  // A stream with no Content-Length, sent in small chunks: stopped after the limit.
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent > 1_000_000) return c.close();
      sent += 100;
      c.enqueue(new TextEncoder().encode(" ".repeat(100)));
    },
  });
  assertError(await call(h, "POST", "/v1/feedback", stream), 413, "body_too_large");
  assert.ok(sent < 10_000, `reading stopped early (read ${sent} bytes)`);
  // A Content-Length that lies low does not help.
  assertError(
    await call(h, "POST", "/v1/feedback", big, { "content-length": "10" }),
    413,
    "body_too_large",
  );
});

Deno.test("a body that arrives too slowly is 408", async () => {
  const { h } = setup({ bodyTimeoutSeconds: 0.05 });
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"state": ['));
    },
  });
  assertError(await call(h, "POST", "/v1/feedback", stream), 408, "body_timeout");
});

Deno.test("a batch over the limit is 413", async () => {
  const { h, sim } = setup({ maxBatch: 8 });
  const requests = Array.from({ length: 9 }, () => ({ state: [], action: "i1" }));
  assertError(
    await call(h, "POST", "/v1/feedback", { requests }),
    413,
    "batch_too_large",
    "requests",
  );
  eq((await call(h, "POST", "/v1/feedback", { requests: requests.slice(1) })).status, 200);
  const steps = Array.from({ length: 9 }, () => ({ session_id: "0".repeat(32), action: "i1" }));
  assertError(
    await call(h, "POST", "/v1/sessions/step", { steps }),
    413,
    "batch_too_large",
    "steps",
  );
  eq(sim.batchSizes, [8]);
});

Deno.test("unknown routes are 404 and wrong methods 405 with Allow", async () => {
  const { h } = setup();
  assertError(await call(h, "GET", "/nope"), 404, "not_found");
  assertError(await call(h, "GET", "/v1/model/"), 404, "not_found");
  const a = await call(h, "GET", "/v1/feedback");
  assertError(a, 405, "method_not_allowed");
  eq(a.headers.get("allow"), "POST");
  assertError(await call(h, "PUT", "/v1/sessions"), 405, "method_not_allowed");
  assertError(await call(h, "POST", "/healthz", {}), 405, "method_not_allowed");
});

Deno.test("the router prefers fixed segments to parameters, whatever the route order", async () => {
  const answer = (name: string) => () => new Response(name);
  const routes = [
    { path: "/v1/sessions/:id", methods: { GET: answer("by id"), DELETE: answer("delete") } },
    { path: "/v1/sessions/step", methods: { POST: answer("batch step") } },
    { path: "/v1/:a/step", methods: { POST: answer("any step") } },
  ];
  for (const list of [routes, [...routes].reverse()]) {
    const router = new Router(list);
    const send = async (method: string, path: string) => {
      const url = new URL(`http://x${path}`);
      return await (await router.dispatch(new Request(url, { method }), url)).text();
    };
    eq(await send("POST", "/v1/sessions/step"), "batch step");
    eq(await send("GET", "/v1/sessions/abc"), "by id");
    eq(await send("POST", "/v1/other/step"), "any step");
    eq(router.match("/v1/sessions/abc")?.params, ["abc"]);
    eq(router.match("/v1/sessions"), undefined);
    // GET on the fixed route is its 405, not the parameter route's GET.
    await assert.rejects(
      () => send("GET", "/v1/sessions/step"),
      (e: Error & { status?: number }) => e.status === 405 && /use POST$/.test(e.message),
    );
  }
});

Deno.test("GET on /v1/sessions/step is the batch route's 405, not a session lookup", async () => {
  const { h } = setup();
  const a = await call(h, "GET", "/v1/sessions/step");
  assertError(a, 405, "method_not_allowed");
  eq(a.headers.get("allow"), "POST");
  const d = await call(h, "DELETE", "/v1/sessions/step");
  assertError(d, 405, "method_not_allowed");
});

Deno.test("the server's defaults come from SERVE_DEFAULTS and the environment's ENV_DEFAULTS", async () => {
  eq([SERVE_DEFAULTS.maxSteps, SERVE_DEFAULTS.leaveAfterSkips], [
    ENV_DEFAULTS.maxSteps,
    ENV_DEFAULTS.leaveAfterSkips,
  ]);
  const { h, sim } = setup();
  const { body } = await call(h, "GET", "/v1/model");
  eq(body.env, {
    max_steps: SERVE_DEFAULTS.maxSteps,
    leave_after_skips: SERVE_DEFAULTS.leaveAfterSkips,
    leave: "rule",
    leave_model: null,
    uncertainty_penalty: SERVE_DEFAULTS.uncertaintyPenalty,
    support_penalty: SERVE_DEFAULTS.supportPenalty,
  });
  eq(body.limits, {
    max_batch: SERVE_DEFAULTS.maxBatch,
    max_page_items: MAX_PAGE_ITEMS,
    max_body_bytes: SERVE_DEFAULTS.maxBodyBytes,
    max_state_length: SERVE_DEFAULTS.maxStateLength,
    max_sessions: SERVE_DEFAULTS.maxSessions,
    session_ttl_seconds: SERVE_DEFAULTS.sessionTtlSeconds,
  });
  const page = await call(h, "GET", "/v1/items");
  eq(page.body.limit, SERVE_DEFAULTS.itemsPerPage);
  eq((await call(h, "GET", `/v1/items?limit=${MAX_ITEMS_PAGE}`)).body.items, sim.items);
  assertError(
    await call(h, "GET", `/v1/items?limit=${MAX_ITEMS_PAGE + 1}`),
    422,
    "invalid_field",
    "limit",
  );
  // The OpenAPI document states the same page limits.
  const doc = (await call(h, "GET", "/openapi.json")).body;
  const limit = doc.paths["/v1/items"].get.parameters[1].schema;
  eq([limit.maximum, limit.default], [MAX_ITEMS_PAGE, SERVE_DEFAULTS.itemsPerPage]);
  eq(
    doc,
    JSON.parse(JSON.stringify(openApiDocument({
      labels: sim.labels,
      maxBatch: SERVE_DEFAULTS.maxBatch,
      maxStateLength: SERVE_DEFAULTS.maxStateLength,
      maxStepsDefault: SERVE_DEFAULTS.maxSteps,
      auth: false,
    }))),
  );
});

Deno.test("recsimu serve --help shows the SERVE_DEFAULTS values", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await runServe(["--help"]);
  } finally {
    console.log = log;
  }
  const help = lines.join("\n");
  const D = SERVE_DEFAULTS;
  for (
    const [flag, value] of [
      ["--host H", D.hostname],
      ["--port P", D.port],
      ["--max-steps N", D.maxSteps],
      ["--leave-after-skips M", D.leaveAfterSkips],
      ["--max-batch N", D.maxBatch],
      ["--max-body-bytes B", D.maxBodyBytes],
      ["--max-state-length L", D.maxStateLength],
      ["--max-sessions S", D.maxSessions],
      ["--session-ttl SECONDS", D.sessionTtlSeconds],
    ] as const
  ) {
    const line = help.split("\n").find((l) => l.trimStart().startsWith(flag));
    assert.ok(line?.includes(`(default ${value})`), `${flag}: ${line}`);
  }
});

Deno.test("with a token, requests without the right bearer token are 401", async () => {
  const { h } = setup({ token: TOKEN });
  const a = await call(h, "GET", "/v1/model");
  assertError(a, 401, "unauthorized");
  eq(a.headers.get("www-authenticate"), 'Bearer realm="recsimu"');
  assertError(
    await call(h, "GET", "/healthz", undefined, { authorization: "Bearer wrong" }),
    401,
    "unauthorized",
  );
  assertError(
    await call(h, "GET", "/healthz", undefined, { authorization: `Bearer ${TOKEN}x` }),
    401,
    "unauthorized",
  );
  assertError(
    await call(h, "GET", "/healthz", undefined, { authorization: `Basic ${TOKEN}` }),
    401,
    "unauthorized",
  );
  assertError(await call(h, "GET", "/nope"), 401, "unauthorized");
  eq(
    (await call(h, "GET", "/v1/model", undefined, { authorization: `Bearer ${TOKEN}` })).status,
    200,
  );
  eq(
    (await call(h, "GET", "/healthz", undefined, { authorization: `bearer ${TOKEN}` })).status,
    200,
  );
});

Deno.test("sessions: create, step (oldest pair dropped, new one appended), read, delete", async () => {
  const { h, sim } = setup({ rewards: [0, 1, 5] });
  const state = s(["i1", "click"], ["i2", "skip"], ["i3", "skip"], ["i4", "purchase"], [
    "i5",
    "click",
  ]);
  const c = await call(h, "POST", "/v1/sessions", { state, seed: 11 });
  eq(c.status, 201);
  assert.match(c.body.session_id, /^[0-9a-f]{32}$/);
  eq(c.body.observation, state);
  eq(c.body.info, { seed: 11, step: 0, negative_streak: 0 });
  const id = c.body.session_id;
  const r = await call(h, "POST", `/v1/sessions/${id}/step`, { action: "i9" });
  eq(r.status, 200);
  const p = sim.predictOne({ state, action: "i9" });
  const feedback = LABELS[sampleFeedback(p.probs, 11, 0)]!;
  eq(r.body.feedback, feedback);
  eq(r.body.observation, [...state.slice(1), { item: "i9", feedback }]);
  eq(r.body.reward, [0, 1, 5][LABELS.indexOf(feedback)]);
  eq([r.body.terminated, r.body.truncated, r.body.info.step], [false, false, 1]);
  const g = await call(h, "GET", `/v1/sessions/${id}`);
  eq([g.body.observation, g.body.done, g.body.info.step], [r.body.observation, false, 1]);
  eq((await call(h, "DELETE", `/v1/sessions/${id}`)).status, 204);
  assertError(await call(h, "DELETE", `/v1/sessions/${id}`), 404, "session_not_found");
  assertError(
    await call(h, "POST", `/v1/sessions/${id}/step`, { action: "i1" }),
    404,
    "session_not_found",
  );
  assertError(await call(h, "GET", "/v1/sessions/not-an-id"), 404, "session_not_found");
});

Deno.test("sessions: defaults, bad input and the end of an episode", async () => {
  const { h } = setup({ maxSteps: 2 });
  const empty = await call(h, "POST", "/v1/sessions");
  eq(empty.status, 201, empty.text);
  assertError(await call(h, "POST", "/v1/sessions", "null"), 422, "invalid_field", "");
  assertError(await call(h, "POST", "/v1/sessions", "[]"), 422, "invalid_field", "");
  assertError(
    await call(h, "POST", "/v1/sessions", { state: s(["zz", "skip"]) }),
    422,
    "unknown_item",
    "state[0].item",
  );
  assertError(
    await call(h, "POST", "/v1/sessions", { max_steps: 0 }),
    422,
    "invalid_field",
    "max_steps",
  );
  const id = empty.body.session_id;
  assertError(
    await call(h, "POST", `/v1/sessions/${id}/step`, { action: "zz" }),
    422,
    "unknown_item",
    "action",
  );
  assertError(await call(h, "POST", `/v1/sessions/${id}/step`, {}), 422, "invalid_field", "action");
  await call(h, "POST", `/v1/sessions/${id}/step`, { action: "i1" });
  const last = await call(h, "POST", `/v1/sessions/${id}/step`, { action: "i1" });
  eq(last.body.truncated, true);
  assertError(
    await call(h, "POST", `/v1/sessions/${id}/step`, { action: "i1" }),
    409,
    "episode_over",
  );
  const long = await call(h, "POST", "/v1/sessions", { max_steps: 5 });
  for (let t = 0; t < 4; t++) {
    eq(
      (await call(h, "POST", `/v1/sessions/${long.body.session_id}/step`, { action: "i1" })).body
        .truncated,
      false,
    );
  }
});

Deno.test("sessions: a concurrent step of the same session is 409, not a lost update", async () => {
  const { h } = setup({}, new FakeSimulator({ delayMs: 30 }));
  const id = (await call(h, "POST", "/v1/sessions", { seed: 1 })).body.session_id;
  const [a, b] = await Promise.all([
    call(h, "POST", `/v1/sessions/${id}/step`, { action: "i1" }),
    call(h, "POST", `/v1/sessions/${id}/step`, { action: "i2" }),
  ]);
  eq([a.status, b.status].sort(), [200, 409]);
  eq((await call(h, "GET", `/v1/sessions/${id}`)).body.info.step, 1);
});

Deno.test("sessions expire after the idle TTL (injected clock)", async () => {
  let now = 0;
  const { h } = setup({ sessionTtlSeconds: 60, now: () => now });
  const a = (await call(h, "POST", "/v1/sessions", { seed: 1 })).body.session_id;
  const b = (await call(h, "POST", "/v1/sessions", { seed: 2 })).body.session_id;
  now = 50_000;
  eq(
    (await call(h, "POST", `/v1/sessions/${a}/step`, { action: "i1" })).status,
    200,
    "use keeps a alive",
  );
  now = 100_000; // b idle 100 s, a idle 50 s
  assertError(await call(h, "GET", `/v1/sessions/${b}`), 404, "session_not_found");
  eq((await call(h, "GET", `/v1/sessions/${a}`)).status, 200);
  now = 160_001;
  assertError(
    await call(h, "POST", `/v1/sessions/${a}/step`, { action: "i1" }),
    404,
    "session_not_found",
  );
});

Deno.test("the session limit answers 503 with Retry-After, and frees up as sessions end", async () => {
  let now = 0;
  const { h } = setup({ maxSessions: 3, sessionTtlSeconds: 100, now: () => now });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await call(h, "POST", "/v1/sessions")).body.session_id);
  now = 10_000;
  const full = await call(h, "POST", "/v1/sessions");
  assertError(full, 503, "too_many_sessions");
  eq(full.headers.get("retry-after"), "90");
  assert.match(full.body.error.message, /limit of 3 sessions/);
  await call(h, "DELETE", `/v1/sessions/${ids[0]}`);
  eq((await call(h, "POST", "/v1/sessions")).status, 201);
  now = 200_000;
  eq((await call(h, "POST", "/v1/sessions")).status, 201, "expired sessions make room");
});

Deno.test("POST /v1/step (stateless) gives the same answer as the session step", async () => {
  const { h } = setup({ maxSteps: 12, leaveAfterSkips: 3 });
  const c = await call(h, "POST", "/v1/sessions", { seed: 1234 });
  let obs = c.body.observation;
  let info = c.body.info;
  let done = false;
  for (let t = 0; !done; t++) {
    const action = `i${(t * 11) % 50}`;
    const stateless = await call(h, "POST", "/v1/step", {
      state: obs,
      action,
      seed: 1234,
      step: info.step,
      negative_streak: info.negative_streak,
    });
    const session = await call(h, "POST", `/v1/sessions/${c.body.session_id}/step`, { action });
    eq(stateless.status, 200, stateless.text);
    eq(stateless.body, session.body);
    obs = session.body.observation;
    info = session.body.info;
    done = session.body.terminated || session.body.truncated;
  }
  assertError(
    await call(h, "POST", "/v1/step", { state: [], action: "i1" }),
    422,
    "invalid_field",
    "seed",
  );
  assertError(
    await call(h, "POST", "/v1/step", { state: [], action: "x", seed: 1 }),
    422,
    "unknown_item",
    "action",
  );
});

Deno.test("POST /v1/sessions/step steps many sessions with one predict and equals single steps", async () => {
  const { h, sim } = setup();
  const make = async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await call(h, "POST", "/v1/sessions", { seed: 100 + i })).body.session_id);
    }
    return ids;
  };
  const batched = await make();
  const single = await make();
  for (let t = 0; t < 3; t++) {
    const actions = batched.map((_, i) => `i${(i * 3 + t * 5) % 50}`);
    const before = sim.predictCalls;
    const v = await call(h, "POST", "/v1/sessions/step", {
      steps: batched.map((session_id, i) => ({ session_id, action: actions[i] })),
    });
    eq(sim.predictCalls, before + 1);
    eq(v.status, 200, v.text);
    for (let i = 0; i < single.length; i++) {
      const one = await call(h, "POST", `/v1/sessions/${single[i]}/step`, { action: actions[i] });
      const { session_id, ...rest } = v.body.results[i];
      eq(session_id, batched[i]);
      eq(rest, one.body);
    }
  }
});

Deno.test("POST /v1/sessions/step is all or nothing and names the faulty entry", async () => {
  const { h, sim } = setup();
  const a = (await call(h, "POST", "/v1/sessions", { seed: 1 })).body.session_id;
  const b = (await call(h, "POST", "/v1/sessions", { seed: 2 })).body.session_id;
  const v = (steps: unknown) => call(h, "POST", "/v1/sessions/step", { steps });
  assertError(
    await v([{ session_id: a, action: "i1" }, { session_id: "f".repeat(32), action: "i1" }]),
    404,
    "session_not_found",
    "steps[1].session_id",
  );
  assertError(
    await v([{ session_id: a, action: "i1" }, { session_id: b, action: "zz" }]),
    422,
    "unknown_item",
    "steps[1].action",
  );
  assertError(
    await v([{ session_id: a, action: "i1" }, { session_id: a, action: "i2" }]),
    422,
    "duplicate_session",
    "steps[1].session_id",
  );
  assertError(await v([{ session_id: a }]), 422, "invalid_field", "steps[0].action");
  eq(sim.predictCalls, 0);
  eq((await call(h, "GET", `/v1/sessions/${a}`)).body.info.step, 0, "nothing was stepped");
});

Deno.test("a per-client rate limit answers 429 with Retry-After, per client", async () => {
  let now = 0;
  const { h } = setup({ rateLimit: { ratePerSecond: 2, burst: 3 }, now: () => now });
  const from = (ip: string) =>
    h(new Request("http://127.0.0.1/healthz"), { remoteAddr: { hostname: ip } });
  for (let i = 0; i < 3; i++) eq((await from("10.0.0.1")).status, 200);
  const limited = await from("10.0.0.1");
  eq(limited.status, 429);
  eq(limited.headers.get("retry-after"), "1");
  eq((await limited.json()).error.code, "rate_limited");
  eq((await from("10.0.0.2")).status, 200, "other clients are not affected");
  now = 500;
  eq((await from("10.0.0.1")).status, 200, "one token back after 0.5 s");
  eq((await from("10.0.0.1")).status, 429);
  const rl = new RateLimiter({ ratePerSecond: 1, maxClients: 4, now: () => 0 });
  for (let i = 0; i < 100; i++) rl.take(`c${i}`); // bounded memory: does not throw or grow without end
});

Deno.test("CORS is off by default and answers the configured origin when enabled", async () => {
  const off = setup().h;
  const plain = await call(off, "GET", "/healthz", undefined, { origin: "https://evil.example" });
  eq(plain.headers.get("access-control-allow-origin"), null);
  eq(
    (await call(off, "OPTIONS", "/v1/feedback", undefined, { origin: "https://a.example" })).status,
    405,
  );
  const { h } = setup({ cors: "https://app.example", token: TOKEN });
  const pre = await h(
    new Request("http://127.0.0.1/v1/feedback", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    }),
  );
  eq(pre.status, 204, "preflight needs no token");
  eq(pre.headers.get("access-control-allow-origin"), "https://app.example");
  assert.match(pre.headers.get("access-control-allow-headers")!, /authorization/);
  const ok = await call(h, "GET", "/healthz", undefined, {
    origin: "https://app.example",
    authorization: `Bearer ${TOKEN}`,
  });
  eq(ok.headers.get("access-control-allow-origin"), "https://app.example");
  const other = await call(h, "GET", "/healthz", undefined, {
    origin: "https://evil.example",
    authorization: `Bearer ${TOKEN}`,
  });
  eq(other.headers.get("access-control-allow-origin"), null);
});

Deno.test("a Host allow-list rejects other host names (DNS rebinding)", async () => {
  const { h } = setup({ allowedHosts: ["127.0.0.1", "localhost"] });
  eq((await h(new Request("http://localhost:8080/healthz"))).status, 200);
  const bad = await h(new Request("http://attacker.example:8080/healthz"));
  eq([bad.status, (await bad.json()).error.code], [403, "host_not_allowed"]);
});

Deno.test("GET /openapi.json is OpenAPI 3.1 and covers every route", async () => {
  const { h } = setup({ token: TOKEN });
  const { status, body } = await call(h, "GET", "/openapi.json", undefined, {
    authorization: `Bearer ${TOKEN}`,
  });
  eq(status, 200);
  eq(body.openapi, "3.1.0");
  const routes: [string, string][] = [
    ["/healthz", "get"],
    ["/openapi.json", "get"],
    ["/v1/model", "get"],
    ["/v1/items", "get"],
    ["/v1/feedback", "post"],
    ["/v1/step", "post"],
    ["/v1/sessions", "post"],
    ["/v1/sessions/step", "post"],
    ["/v1/sessions/batch", "post"],
    ["/v1/sessions/delete", "post"],
    ["/v1/sessions/{id}", "get"],
    ["/v1/sessions/{id}", "delete"],
    ["/v1/sessions/{id}/step", "post"],
  ];
  for (const [path, method] of routes) {
    assert.ok(body.paths[path]?.[method], `${method} ${path} documented`);
  }
  eq(body.components.schemas.StepRecord.properties.feedback.enum, LABELS);
  eq(body.security, [{ bearer: [] }]);
  // Every $ref resolves.
  const refs = JSON.stringify(body).match(/"\$ref":"#\/components\/[^"]+"/g) ?? [];
  for (const r of refs) {
    const [, , kind, name] = r.slice(8, -1).split("/");
    assert.ok(body.components[kind!]?.[name!], `${r} resolves`);
  }
});

class BrokenSim extends FakeSimulator {
  override predictArrays(_r: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    return Promise.reject(new Error("boom at /work/main/lib/secret.ts:42 with key=SECRET"));
  }
}

Deno.test("unexpected errors are 500 without internals, and logged", async () => {
  const logged: unknown[] = [];
  const h = createHandler(new BrokenSim(), { log: (_m, e) => logged.push(e) });
  const a = await call(h, "POST", "/v1/feedback", { state: [], action: "i1" });
  assertError(a, 500, "internal", null);
  assert.ok(!/secret|SECRET|\/work|\.ts|at /.test(a.text), a.text);
  eq(logged.length, 1);
});

Deno.test("jsonPath() writes JSON paths", () => {
  eq(jsonPath(["requests", 3, "state", 0, "feedback"]), "requests[3].state[0].feedback");
  eq(jsonPath(["a b", 1]), '["a b"][1]');
  eq(jsonPath([]), "");
  eq(jsonPath(["x".repeat(500)]).length < 110, true, "long keys are clipped");
});

Deno.test("recsimu serve rejects bad flags before loading a model", async () => {
  const bad: [string[], string][] = [
    [["--port", "80"], "--model is required"],
    [["--model", "m", "--port", "abc"], "--port"],
    [["--model", "m", "--port", "70000"], "--port"],
    [["--model", "m", "--host", "0.0.0.0"], "not loopback"],
    [["--model", "m", "--backend", "tpu"], "--backend"],
    [["--model", "m", "--rate-burst", "5"], "--rate-burst needs --rate-limit"],
    [["--model", "m", "--session-ttl", "0"], "--session-ttl"],
    [["--model", "m", "--nope"], "nope"],
  ];
  const saved = Deno.env.get("RECSIMU_TOKEN");
  Deno.env.delete("RECSIMU_TOKEN");
  try {
    for (const [argv, message] of bad) {
      await assert.rejects(
        () => runServe(argv),
        (e: Error) => e instanceof UserError && e.message.includes(message),
      );
    }
  } finally {
    if (saved !== undefined) Deno.env.set("RECSIMU_TOKEN", saved);
  }
});

// --- fuzz ---------------------------------------------------------------------------------

function hostileRequests(n: number, seed: number): Request[] {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const valid = JSON.stringify({
    state: [{ item: "i1", feedback: "click" }],
    action: "i2",
    sample: true,
    seed: 3,
  });
  const strings = [
    "",
    "\u0000",
    "\ud800",
    "\udfff\ud800",
    "💥".repeat(100),
    "\u202e\u0647",
    "i1\u0000",
    "I1",
    " i1",
    "x".repeat(5000),
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "hasOwnProperty",
  ];
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    1e308,
    -1e308,
    2 ** 60,
    0.5,
    [],
    {},
    [[[]]],
    ...strings,
    { __proto__: null },
    [{ item: null, feedback: "skip" }],
  ];
  // Numbers no field accepts (-0 and 1e-400 would be a valid 0).
  const rawNumbers = [
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "0.5",
    "9007199254740993",
    "1e301",
  ];
  const bodies: (() => string | Uint8Array)[] = [
    // Truncated valid bodies.
    () => valid.slice(0, 1 + rng.int(valid.length - 1)), // never empty: an empty body is a valid "create session"
    // Random bytes.
    () => crypto.getRandomValues(new Uint8Array(1 + rng.int(200))),
    // Deep nesting.
    () => {
      const d = 1 + rng.int(200_000);
      return rng.next() < 0.5
        ? "[".repeat(d) + "]".repeat(d)
        : '{"a":'.repeat(d) + "1" + "}".repeat(d);
    },
    () => `{"state":${"[".repeat(50_000)}${"]".repeat(50_000)},"action":"i1"}`,
    // Prototype pollution attempts.
    () => `{"__proto__":{"polluted":1},"state":[],"action":"i1"}`,
    () => `{"constructor":{"prototype":{"polluted":1}},"state":[],"action":"i1"}`,
    () => `{"state":[{"item":"i1","feedback":"skip","__proto__":{"polluted":1}}],"action":"i1"}`,
    () => `{"requests":[{"state":[],"action":"i1","__proto__":{"polluted":1}}]}`,
    () => `{"steps":[{"session_id":"__proto__","action":"i1"}]}`,
    () => `{"state":[],"action":"__proto__"}`,
    () => `{"state":[{"item":"constructor","feedback":"__proto__"}],"action":"i1"}`,
    // Huge and odd numbers.
    () => `{"state":[],"action":"i1","sample":true,"seed":${pick(rawNumbers)}}`,
    () => `{"state":[],"action":"i1","seed":1,"step":${pick(rawNumbers)}}`,
    () => `{"requests":${pick(rawNumbers)}}`,
    () => `{"state":[],"action":"i1","max_steps":${pick(rawNumbers)}}`,
    // Wrong types and unicode everywhere.
    () => JSON.stringify({ state: pick(values), action: pick(values) }),
    () =>
      JSON.stringify({ state: [{ item: pick(strings), feedback: pick(values) }], action: "i1" }),
    () =>
      JSON.stringify({ state: [{ item: "i1", feedback: pick(strings) }], action: pick(strings) }),
    () => JSON.stringify({ requests: [pick(values), pick(values)] }),
    () => JSON.stringify({ requests: pick(values) }),
    () => JSON.stringify({ steps: [{ session_id: pick(strings), action: pick(strings) }] }),
    () => JSON.stringify({ sessions: [{ replace: pick(strings), seed: pick(values) }] }),
    () => JSON.stringify({ session_ids: pick(values) }),
    () => JSON.stringify({ [pick(strings)]: pick(values) }),
    () =>
      JSON.stringify(
        pick(values.filter((v) => typeof v !== "object" || Object.keys(v ?? [0]).length > 0)),
      ),
    () => JSON.stringify({ state: [], action: "I1", seed: pick(values), sample: pick(values) }),
    // Over the body limit.
    () => JSON.stringify({ state: [], action: "y".repeat(70_000) }),
  ];
  const posts = [
    "/v1/feedback",
    "/v1/step",
    "/v1/sessions",
    "/v1/sessions/step",
    "/v1/sessions/batch",
    "/v1/sessions/delete",
    "/v1/sessions/0123/step",
  ];
  const types = [
    "application/json",
    "application/json",
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "",
    "application/json; charset=utf-16",
  ];
  const out: Request[] = [];
  for (let i = 0; i < n; i++) {
    const kind = rng.int(10);
    if (kind === 0) {
      // Odd paths and methods.
      const path = pick([
        "/",
        "/v1",
        "/v1/",
        "/../etc/passwd",
        "/v1/sessions/%00/step",
        "/v1/sessions/" + "a".repeat(5000),
        "/v1/feedback/../nope",
        "/v1/%2e%2e/nope",
        "/__proto__",
        "/v1/sessions/__proto__",
        "/v1/sessions/constructor/step",
        "/healthz/x",
        "/v1/items?offset=1e400",
        "/v1/items?limit=-5",
        "/v1/items?offset=__proto__",
      ]);
      const method = pick([
        "GET",
        "PUT",
        "PATCH",
        "DELETE",
        "POST",
        "constructor",
        "toString",
        "valueOf",
      ]);
      out.push(new Request(`http://127.0.0.1${path}`, { method }));
      continue;
    }
    if (kind === 1) {
      const [path, method] = pick(
        [
          ["/healthz", "POST"],
          ["/v1/feedback", "GET"],
          ["/v1/model", "DELETE"],
          ["/v1/sessions", "PATCH"],
          ["/healthz", "constructor"],
          ["/v1/model", "toString"],
          ["/v1/sessions", "hasOwnProperty"],
          ["/healthz", "__proto__"],
        ] as const,
      );
      out.push(new Request(`http://127.0.0.1${path}`, { method }));
      continue;
    }
    const type = rng.next() < 0.6 ? "application/json" : pick(types);
    const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
    if (rng.next() < 0.05) headers["content-length"] = String(pick([0, 1, 10, 99_999_999]));
    let body = pick(bodies)();
    if (typeof body === "string" && rng.next() < 0.1) {
      body = body.slice(0, 1 + rng.int(body.length));
    }
    out.push(
      new Request(`http://127.0.0.1${pick(posts)}`, {
        method: "POST",
        headers,
        body: body as BodyInit,
      }),
    );
  }
  return out;
}

Deno.test("2000 hostile requests all get 4xx JSON errors; the server stays healthy and unpolluted", async () => {
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const logged: unknown[] = [];
  const sim = new FakeSimulator();
  const h = createHandler(sim, {
    maxBodyBytes: 64 * 1024,
    maxStateLength: 100,
    log: (_m, e) => logged.push(e),
  });
  // A real session so some hostile steps hit a live id.
  const session = await call(h, "POST", "/v1/sessions", { seed: 1 });
  eq(session.status, 201);
  const statuses = new Map<number, number>();
  for (const req of hostileRequests(2000, 20240601)) {
    const res = await h(req);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const text = await res.text();
    assert.ok(
      res.status >= 400 && res.status < 500,
      `${req.method} ${req.url} -> ${res.status} ${text.slice(0, 300)}`,
    );
    const body = JSON.parse(text);
    assert.equal(typeof body.error.code, "string");
    assert.equal(typeof body.error.message, "string");
    assert.ok(body.error.path === null || typeof body.error.path === "string");
    assert.ok(
      body.error.message.length < 2000,
      `error messages stay short: ${text.slice(0, 300)} ... ${text.length}`,
    );
  }
  eq(logged, [], "no internal errors");
  eq(Object.getOwnPropertyNames(Object.prototype).sort(), protoKeys);
  // deno-lint-ignore no-explicit-any
  eq(({} as any).polluted, undefined);
  eq((await call(h, "GET", "/healthz")).body, { status: "ok" });
  eq((await call(h, "GET", `/v1/sessions/${session.body.session_id}`)).status, 200);
  assert.ok(statuses.size >= 6, `a variety of statuses: ${[...statuses.keys()]}`);
});

// --- the real server ------------------------------------------------------------------------

Deno.test("startServer() refuses a non-loopback host without a token, and short tokens", () => {
  const sim = new FakeSimulator();
  assert.throws(() => startServer(sim, { hostname: "0.0.0.0", port: 0 }), UserError);
  assert.throws(
    () => startServer(sim, { hostname: "127.0.0.1", port: 0, token: "short" }),
    UserError,
  );
  eq(
    ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "0.0.0.0", "10.0.0.1"].map(isLoopback),
    [
      true,
      true,
      true,
      true,
      true,
      false,
      false,
    ],
  );
});

Deno.test("startServer() on port 0 serves over TCP and shuts down after in-flight requests", async () => {
  const server = startServer(new FakeSimulator({ delayMs: 200 }), { port: 0 });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.port, 0);
  eq(await (await fetch(`${server.url}/healthz`)).json(), { status: "ok" });
  // A DNS-rebound page reaches the loopback port with a foreign Host header (fetch won't send one).
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(
    new TextEncoder().encode(
      "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    ),
  );
  const raw = await new Response(conn.readable).text();
  assert.match(raw, /^HTTP\/1\.1 403/);
  const inFlight = fetch(`${server.url}/v1/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ state: [], action: "i1" }),
  });
  await new Promise((r) => setTimeout(r, 50));
  await server.shutdown();
  const res = await inFlight;
  eq(res.status, 200);
  eq(typeof (await res.json()).real, "number");
  await assert.rejects(() => fetch(`${server.url}/healthz`));
});

Deno.test({
  name: "a served process stops gracefully on SIGTERM: the in-flight request finishes, exit 0",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const code = `
      import { startServer } from "${root}lib/serve/server.ts";
      import { FakeSimulator } from "${root}tests/_fake_sim.ts";
      const s = startServer(new FakeSimulator({ delayMs: 300 }), { port: 0, handleSignals: true });
      console.error("URL " + s.url);
      await s.finished;
      console.error("STOPPED");
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      cwd: root,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!err.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    const url = /URL (\S+)/.exec(err)?.[1];
    assert.ok(url, `server printed its URL: ${err}`);
    const inFlight = fetch(`${url}/v1/feedback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ state: [], action: "i1" }),
    });
    await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    const res = await inFlight;
    eq(res.status, 200);
    await res.body?.cancel();
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    const status = await child.status;
    eq(status.code, 0, err);
    assert.match(err, /STOPPED/);
  },
});
