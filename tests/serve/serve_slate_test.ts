/**
 * Pages (slate actions) and the learned leave model over HTTP, in-process on a fake simulator:
 * session steps, batched session steps, the stateless step, errors and the OpenAPI document.
 */
import assert from "node:assert/strict";
import { createHandler, type HandlerConfig } from "../../lib/serve/handler.ts";
import { MAX_PAGE_ITEMS } from "../../lib/serve/schema.ts";
import { SimEnv } from "../../lib/sim/env.ts";
import { LeaveModel } from "../../lib/sim/leave.ts";
import { leaveFeatureNames } from "../../lib/train/leave_features.ts";
import { FakeSimulator } from "../_fake_sim.ts";
import { call } from "./_call.ts";

const LABELS = ["skip", "click", "purchase"];

function setup(config: HandlerConfig = {}) {
  const sim = new FakeSimulator();
  return { sim, h: createHandler(sim, { log: () => {}, ...config }) };
}

// deno-lint-ignore no-explicit-any
function assertError(a: any, status: number, code: string, path: string) {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.equal(a.body.error.code, code, JSON.stringify(a.body));
  assert.equal(a.body.error.path, path, JSON.stringify(a.body));
}

const START = [{ item: "i1", feedback: "click" }, { item: "i2", feedback: "skip" }];

/** A leave model that leaves more after skips. */
function leaveModel(): LeaveModel {
  const features = leaveFeatureNames(LABELS, [3]);
  const weights = features.map((f) => (f === "bias" ? -1 : f === "feedback=skip" ? 1 : 0));
  return LeaveModel.fromData(
    {
      format: 1,
      method: "logistic",
      labels: LABELS,
      state_length: 5,
      streak_cap: 10,
      position_edges: [3],
      features,
      weights,
      l2: 1,
      train: { sessions: 10, rows: 100, base_rate: 0.1, iterations: 5 },
      heldout: {
        sessions: 2,
        rows: 20,
        base_rate: 0.1,
        auc: 0.7,
        log_loss: 0.3,
        base_log_loss: 0.33,
      },
      seed: 0,
    },
    LABELS,
    5,
  );
}

Deno.test("POST /v1/sessions/:id/step takes a page and answers like SimEnv's page step", async () => {
  const { h, sim } = setup({ rewards: [0, 1, 5] });
  const created = await call(h, "POST", "/v1/sessions", { seed: 8, state: START });
  const id = created.body.session_id;
  const a = await call(h, "POST", `/v1/sessions/${id}/step`, { action: ["i3", "i4", "i5"] });
  assert.equal(a.status, 200);
  const env = new SimEnv(sim, { rewards: [0, 1, 5] });
  env.reset({ seed: 8, state: START });
  const expected = JSON.parse(JSON.stringify(await env.step(["i3", "i4", "i5"])));
  assert.deepEqual(a.body, expected);
  assert.equal(a.body.feedback.length, 3);
  assert.deepEqual(a.body.info.slate.map((s: { item: string }) => s.item), ["i3", "i4", "i5"]);
  // A plain item id in the same session still answers the single-item shape.
  const b = await call(h, "POST", `/v1/sessions/${id}/step`, { action: "i6" });
  assert.equal(typeof b.body.feedback, "string");
  assert.deepEqual(Object.keys(b.body.info), [
    "probs",
    "real",
    "expected_reward",
    "seed",
    "step",
    "negative_streak",
  ]);
});

Deno.test("a repeated, unknown, missing or malformed page entry is a 422 naming it", async () => {
  const { h } = setup();
  const id = (await call(h, "POST", "/v1/sessions", { seed: 1 })).body.session_id;
  const step = (action: unknown) => call(h, "POST", `/v1/sessions/${id}/step`, { action });
  const dup = await step(["i1", "i2", "i1"]);
  assertError(dup, 422, "duplicate_item", "action[2]");
  assert.match(dup.body.error.message, /already at action\[0\]/);
  assertError(await step(["i1", "nope"]), 422, "unknown_item", "action[1]");
  assertError(await step(["i1", 7]), 422, "invalid_field", "action[1]");
  assertError(await step([]), 422, "invalid_field", "action");
  const long = Array.from({ length: MAX_PAGE_ITEMS + 1 }, (_, i) => `i${i}`);
  assertError(await step(long), 422, "invalid_field", "action");
  assertError(await step(5), 422, "invalid_field", "action");
  // Nothing moved: the session is still at step 0.
  assert.equal((await call(h, "GET", `/v1/sessions/${id}`)).body.info.step, 0);
});

Deno.test("POST /v1/sessions/step steps pages of many sessions, errors naming the entry", async () => {
  const { h, sim } = setup();
  const ids: string[] = [];
  for (const seed of [1, 2]) {
    ids.push((await call(h, "POST", "/v1/sessions", { seed, state: START })).body.session_id);
  }
  sim.batchSizes = [];
  const a = await call(h, "POST", "/v1/sessions/step", {
    steps: [{ session_id: ids[0], action: ["i3", "i4"] }, { session_id: ids[1], action: "i3" }],
  });
  assert.equal(a.status, 200);
  assert.deepEqual(sim.batchSizes, [2, 1]); // one prediction per page position
  assert.equal(a.body.results[0].session_id, ids[0]);
  assert.equal(a.body.results[0].feedback.length, 2);
  assert.equal(typeof a.body.results[1].feedback, "string");
  const bad = await call(h, "POST", "/v1/sessions/step", {
    steps: [{ session_id: ids[0], action: "i5" }, { session_id: ids[1], action: ["i5", "i5"] }],
  });
  assertError(bad, 422, "duplicate_item", "steps[1].action[1]");
  const stepOf = async (id: string) => (await call(h, "GET", `/v1/sessions/${id}`)).body.info.step;
  assert.deepEqual([await stepOf(ids[0]!), await stepOf(ids[1]!)], [1, 1]); // all or nothing
});

Deno.test("POST /v1/step with a page gives the session's page step", async () => {
  const { h } = setup();
  const id = (await call(h, "POST", "/v1/sessions", { seed: 5, state: START })).body.session_id;
  const first = await call(h, "POST", `/v1/sessions/${id}/step`, { action: ["i7", "i8"] });
  const second = await call(h, "POST", `/v1/sessions/${id}/step`, { action: ["i9", "i1"] });
  const stateless = await call(h, "POST", "/v1/step", {
    state: first.body.observation,
    action: ["i9", "i1"],
    seed: 5,
    step: 1,
    negative_streak: first.body.info.negative_streak,
  });
  assert.equal(stateless.status, 200);
  assert.deepEqual(stateless.body, second.body);
  assertError(
    await call(h, "POST", "/v1/step", { state: [], action: ["i1", "i1"], seed: 1 }),
    422,
    "duplicate_item",
    "action[1]",
  );
});

Deno.test("a learned leave model: GET /v1/model says so and steps carry info.leave_prob", async () => {
  const leave = leaveModel();
  const { h } = setup({ leave });
  const model = (await call(h, "GET", "/v1/model")).body;
  assert.equal(model.env.leave, "learned");
  assert.equal(model.env.leave_model.heldout.auc, 0.7);
  let ended = 0;
  for (let seed = 0; seed < 20; seed++) {
    const id = (await call(h, "POST", "/v1/sessions", { seed })).body.session_id;
    let r;
    do {
      r = (await call(h, "POST", `/v1/sessions/${id}/step`, { action: ["i1", "i2"] })).body;
      assert.ok(r.info.leave_prob > 0 && r.info.leave_prob < 1, JSON.stringify(r.info));
    } while (!r.terminated && !r.truncated);
    if (r.terminated) ended++;
  }
  assert.equal(ended, 20, "P(leave) >= 1 - (1 - sigmoid(-1))^2 per page: all leave before 50");
  assert.throws(
    () => createHandler(new FakeSimulator(), { leave, leaveAfterSkips: 2 }),
    RangeError,
  );
  const doc = (await call(h, "GET", "/openapi.json")).body;
  assert.match(doc.info.description, /learned leave model/);
});

Deno.test("GET /openapi.json describes pages and their results", async () => {
  const { h } = setup();
  const doc = (await call(h, "GET", "/openapi.json")).body;
  const s = doc.components.schemas;
  assert.equal(s.Page.maxItems, MAX_PAGE_ITEMS);
  assert.equal(s.Page.uniqueItems, true);
  assert.deepEqual(s.SessionStep.properties.action, { $ref: "#/components/schemas/Action" });
  assert.deepEqual(s.StatelessStep.properties.action, { $ref: "#/components/schemas/Action" });
  assert.deepEqual(s.SlateStepResult.properties.feedback.type, "array");
  assert.ok(s.SlateStepInfo.required.includes("slate"));
  assert.ok("leave_prob" in s.StepInfo.properties && !s.StepInfo.required.includes("leave_prob"));
  const step = doc.paths["/v1/sessions/{id}/step"].post.responses["200"];
  assert.deepEqual(step.content["application/json"].schema, {
    $ref: "#/components/schemas/AnyStepResult",
  });
  assert.match(doc.info.description, /leave-after-skips/);
});
