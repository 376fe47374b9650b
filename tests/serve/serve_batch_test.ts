/**
 * Batched session creation, reset (`replace`) and deletion, and step answers without the state
 * (`observation: false`), in-process on the fake simulator.
 */
import assert from "node:assert/strict";
import { createHandler, type HandlerConfig } from "../../lib/serve/handler.ts";
import { FakeSimulator } from "../_fake_sim.ts";
import { call } from "./_call.ts";

function setup(config: HandlerConfig = {}, sim = new FakeSimulator()) {
  return { sim, h: createHandler(sim, { log: () => {}, ...config }) };
}

// deno-lint-ignore no-explicit-any
function assertError(a: any, status: number, code: string, path: string | null) {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.equal(a.body.error.code, code, JSON.stringify(a.body));
  assert.equal(a.body.error.path, path, JSON.stringify(a.body));
}

const START = [{ item: "i1", feedback: "click" }, { item: "i2", feedback: "skip" }];

Deno.test("POST /v1/sessions/batch starts one session per entry, each as POST /v1/sessions would", async () => {
  const { h } = setup();
  const entries = [{ seed: 1 }, { seed: 2, max_steps: 2 }, { seed: 3, state: START }, {}];
  const batch = await call(h, "POST", "/v1/sessions/batch", { sessions: entries });
  assert.equal(batch.status, 201, JSON.stringify(batch.body));
  assert.equal(batch.body.results.length, 4);
  const ids = batch.body.results.map((r: { session_id: string }) => r.session_id);
  assert.equal(new Set(ids).size, 4);
  for (let i = 0; i < 3; i++) {
    const one = await call(h, "POST", "/v1/sessions", entries[i]);
    const { session_id, ...rest } = batch.body.results[i];
    assert.match(session_id, /^[0-9a-f]{32}$/);
    assert.deepEqual(rest, { observation: one.body.observation, info: one.body.info });
  }
  assert.equal(batch.body.results[3].info.step, 0);
  // Each is a live session with its own max_steps.
  const second = ids[1];
  await call(h, "POST", `/v1/sessions/${second}/step`, { action: "i1" });
  const last = await call(h, "POST", `/v1/sessions/${second}/step`, { action: "i1" });
  assert.equal(last.body.truncated, true);
  assert.equal((await call(h, "GET", `/v1/sessions/${ids[0]}`)).body.done, false);
});

Deno.test("replace resets sessions: the old ids end, and no extra room is needed", async () => {
  const { h } = setup({ maxSessions: 2 });
  const created = await call(h, "POST", "/v1/sessions/batch", { sessions: [{}, {}] });
  const [a, b] = created.body.results.map((r: { session_id: string }) => r.session_id);
  await call(h, "POST", "/v1/sessions/step", { steps: [{ session_id: a, action: "i1" }] });
  const reset = await call(h, "POST", "/v1/sessions/batch", {
    sessions: [{ replace: a, seed: 5 }, { replace: b, seed: 6 }],
  });
  assert.equal(reset.status, 201, JSON.stringify(reset.body));
  const [a2, b2] = reset.body.results.map((r: { session_id: string }) => r.session_id);
  assert.notEqual(a2, a);
  assert.deepEqual(reset.body.results.map((r: { info: unknown }) => r.info), [
    { seed: 5, step: 0, negative_streak: 0 },
    { seed: 6, step: 0, negative_streak: 0 },
  ]);
  assertError(await call(h, "GET", `/v1/sessions/${a}`), 404, "session_not_found", null);
  assert.equal((await call(h, "GET", `/v1/sessions/${b2}`)).status, 200);
  // Full: one more session does not fit, and a refused batch leaves the replaced one alive.
  const full = await call(h, "POST", "/v1/sessions/batch", {
    sessions: [{ replace: a2 }, {}],
  });
  assertError(full, 503, "too_many_sessions", null);
  assert.match(full.body.error.message, /limit of 2 sessions;/);
  assert.ok(Number(full.headers.get("retry-after")) >= 1);
  const two = await call(h, "POST", "/v1/sessions/batch", { sessions: [{}, {}] });
  assertError(two, 503, "too_many_sessions", null);
  assert.match(two.body.error.message, /limit of 2 sessions \(2 more asked for\)/);
  assert.equal((await call(h, "GET", `/v1/sessions/${a2}`)).status, 200);
});

Deno.test("POST /v1/sessions/batch is all or nothing and names the faulty entry", async () => {
  const { h } = setup({ maxBatch: 3 });
  const a = (await call(h, "POST", "/v1/sessions", { seed: 1 })).body.session_id;
  const post = (body: unknown) => call(h, "POST", "/v1/sessions/batch", body);
  const unknown = "f".repeat(32);
  assertError(
    await post({ sessions: [{ replace: a }, { replace: unknown }] }),
    404,
    "session_not_found",
    "sessions[1].replace",
  );
  assertError(
    await post({ sessions: [{ replace: a }, { replace: a }] }),
    422,
    "duplicate_session",
    "sessions[1].replace",
  );
  assertError(
    await post({ sessions: [{ replace: a }, { state: [{ item: "zz", feedback: "skip" }] }] }),
    422,
    "unknown_item",
    "sessions[1].state[0].item",
  );
  assertError(
    await post({ sessions: [{ state: [{ item: "i1", feedback: "meh" }] }] }),
    422,
    "unknown_label",
    "sessions[0].state[0].feedback",
  );
  assertError(await post({ sessions: [{ sed: 1 }] }), 422, "invalid_field", "sessions[0].sed");
  assertError(await post({ sessions: [{ seed: 0.5 }] }), 422, "invalid_field", "sessions[0].seed");
  assertError(
    await post({ sessions: [{ max_steps: 0 }] }),
    422,
    "invalid_field",
    "sessions[0].max_steps",
  );
  assertError(await post({ sessions: [] }), 422, "invalid_field", "sessions");
  assertError(await post({}), 422, "invalid_field", "sessions");
  assertError(await post({ sessions: [{}, {}, {}, {}] }), 413, "batch_too_large", "sessions");
  // Nothing was created or ended: a is still the only session, at its first step.
  assert.equal((await call(h, "GET", `/v1/sessions/${a}`)).body.info.step, 0);
  const d = await call(h, "POST", "/v1/sessions/delete", { session_ids: [a] });
  assert.deepEqual(d.body, { deleted: 1, missing: [] });
});

Deno.test("replacing a session with a step in flight is 409, naming the entry", async () => {
  const { h } = setup({}, new FakeSimulator({ delayMs: 40 }));
  const a = (await call(h, "POST", "/v1/sessions", { seed: 1 })).body.session_id;
  const step = call(h, "POST", `/v1/sessions/${a}/step`, { action: "i1" });
  await new Promise((r) => setTimeout(r, 5));
  const reset = await call(h, "POST", "/v1/sessions/batch", { sessions: [{ replace: a }] });
  assertError(reset, 409, "session_busy", "sessions[0].replace");
  assert.equal((await step).status, 200);
  assert.equal((await call(h, "GET", `/v1/sessions/${a}`)).body.info.step, 1);
});

Deno.test("POST /v1/sessions/delete ends many sessions and lists the ids it did not find", async () => {
  const { h } = setup({ maxBatch: 4 });
  const made = await call(h, "POST", "/v1/sessions/batch", { sessions: [{}, {}, {}] });
  const ids: string[] = made.body.results.map((r: { session_id: string }) => r.session_id);
  const gone = "0".repeat(32);
  const d = await call(h, "POST", "/v1/sessions/delete", {
    session_ids: [ids[0], gone, ids[2], ids[0]],
  });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  assert.deepEqual(d.body, { deleted: 2, missing: [gone, ids[0]] });
  assertError(await call(h, "GET", `/v1/sessions/${ids[0]}`), 404, "session_not_found", null);
  assert.equal((await call(h, "GET", `/v1/sessions/${ids[1]}`)).status, 200);
  const del = (body: unknown) => call(h, "POST", "/v1/sessions/delete", body);
  assertError(await del({ session_ids: [] }), 422, "invalid_field", "session_ids");
  assertError(await del({ session_ids: [1] }), 422, "invalid_field", "session_ids[0]");
  assertError(await del({ session_ids: ids, x: 1 }), 422, "invalid_field", "x");
  assertError(
    await del({ session_ids: [...ids, ...ids] }),
    413,
    "batch_too_large",
    "session_ids",
  );
  assertError(await call(h, "GET", "/v1/sessions/delete"), 405, "method_not_allowed", null);
});

Deno.test("observation: false leaves the state out of step answers and changes nothing else", async () => {
  const { h } = setup({ rewards: [0, 1, 5] });
  const start = async () => {
    const r = await call(h, "POST", "/v1/sessions/batch", {
      sessions: [{ seed: 7, state: START }, { seed: 8 }],
    });
    return r.body.results.map((x: { session_id: string }) => x.session_id) as string[];
  };
  const full = await start();
  const lean = await start();
  for (let t = 0; t < 3; t++) {
    const steps = (ids: string[]) =>
      ids.map((session_id, i) => ({ session_id, action: i === 0 ? `i${t + 3}` : ["i4", "i9"] }));
    const a = await call(h, "POST", "/v1/sessions/step", { steps: steps(full) });
    const b = await call(h, "POST", "/v1/sessions/step", {
      steps: steps(lean),
      observation: false,
    });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    for (let i = 0; i < 2; i++) {
      const { observation, session_id: _, ...rest } = a.body.results[i];
      const { session_id: __, ...leanRest } = b.body.results[i];
      assert.ok(Array.isArray(observation) && observation.length > 0);
      assert.equal("observation" in b.body.results[i], false);
      assert.deepEqual(leanRest, rest);
      // The session's state still moved: it equals the full answer's.
      const g = await call(h, "GET", `/v1/sessions/${lean[i]}`);
      assert.deepEqual(g.body.observation, observation);
    }
  }
  const one = await call(h, "POST", `/v1/sessions/${lean[0]}/step`, {
    action: "i1",
    observation: false,
  });
  assert.equal(one.status, 200);
  assert.equal("observation" in one.body, false);
  assert.equal(one.body.info.step, 4);
  const withIt = await call(h, "POST", `/v1/sessions/${lean[0]}/step`, {
    action: "i2",
    observation: true,
  });
  assert.equal(withIt.body.observation.at(-1).item, "i2");
  assertError(
    await call(h, "POST", "/v1/sessions/step", {
      steps: [{ session_id: lean[1], action: "i1" }],
      observation: "no",
    }),
    422,
    "invalid_field",
    "observation",
  );
});

Deno.test("the OpenAPI document describes the batch routes and the observation option", async () => {
  const { h } = setup();
  const doc = (await call(h, "GET", "/openapi.json")).body;
  const schemas = doc.components.schemas;
  assert.ok(doc.paths["/v1/sessions/batch"].post.responses["201"]);
  assert.ok(doc.paths["/v1/sessions/batch"].post.responses["503"]);
  assert.ok(doc.paths["/v1/sessions/delete"].post.responses["200"]);
  assert.deepEqual(Object.keys(schemas.SessionsCreate.properties.sessions.items.properties), [
    "state",
    "seed",
    "max_steps",
    "replace",
  ]);
  assert.equal(schemas.SessionsStep.properties.observation.type, "boolean");
  assert.deepEqual(schemas.SessionsStep.required, ["steps"]);
  assert.equal(schemas.StepResult.required.includes("observation"), false);
  assert.equal(schemas.SlateStepResult.required.includes("observation"), false);
});
