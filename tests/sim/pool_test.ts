/**
 * The pooled simulator: a large batch shared over the main thread and workers answers exactly
 * what the plain simulator does, in request order; bad input gets the plain simulator's error;
 * `serve --workers` serves through it and refuses a bad count.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { trainRecSimu } from "../../lib/train/loop.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { MIN_PER_LANE, PooledSimulator } from "../../lib/sim/pool.ts";
import type { FeedbackRequest } from "../../lib/sim/types.ts";
import { initBackend } from "../../lib/tf.ts";
import { runRecsimu } from "../_cli.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

async function model(dir: string): Promise<string> {
  await initBackend("wasm", { quiet: true, threads: 1 });
  const ds = await datasetFromText(synthText({ sessions: 40, items: 30 }), "log.csv", {
    stateLength: 5,
    minCount: 1,
  });
  const out = join(dir, "model");
  const trained = await trainRecSimu(ds, tinyConfig({ epochs: 0, preDEpochs: 1, i2vEpochs: 1 }), {
    quiet: true,
    out,
  });
  trained.model.dispose();
  return out;
}

/** `n` requests with states of 0–7 pairs (longer than N too), some unknown items. */
function requests(sim: Simulator, n: number): FeedbackRequest[] {
  const out: FeedbackRequest[] = [];
  for (let i = 0; i < n; i++) {
    const state = Array.from({ length: i % 8 }, (_, t) => ({
      item: t === 3 && i % 5 === 0 ? "never-seen" : sim.items[(i * 7 + t * 3) % sim.items.length]!,
      feedback: sim.labels[(i + t) % sim.labels.length]!,
    }));
    const action = i % 11 === 0 ? "unseen-action" : sim.items[(i * 13) % sim.items.length]!;
    out.push({ state, action });
  }
  return out;
}

Deno.test("a pooled batch answers exactly what one simulator does, in order; errors as one", async () => {
  await using tmp = await tempDir();
  const dir = await model(tmp.path);
  const plain = await Simulator.load(dir);
  const pooled = await PooledSimulator.load(dir, { lanes: 3 });
  try {
    assert.equal(pooled.lanes, 3);
    assert.equal(pooled.describe().workers, 3);
    assert.deepEqual(pooled.items, plain.items);
    for (const n of [1, 2 * MIN_PER_LANE - 1, 2 * MIN_PER_LANE, 200, 257]) {
      const reqs = requests(plain, n);
      const want = await plain.predictArrays(reqs);
      const got = await pooled.predictArrays(reqs);
      assert.equal(got.length, n);
      assert.deepEqual(got, want, `batch of ${n}`); // bit for bit: answers are per request
    }
    // A bad label deep in a share: the same one-line UserError as the plain simulator's.
    const bad = requests(plain, 200);
    bad[150] = { state: [{ item: plain.items[0]!, feedback: "meh" }], action: plain.items[1]! };
    const plainErr = await plain.predictArrays(bad).catch((e: Error) => e);
    const pooledErr = await pooled.predictArrays(bad).catch((e: Error) => e);
    assert.ok(plainErr instanceof Error && pooledErr instanceof Error);
    assert.equal(pooledErr.name, plainErr.name);
    assert.equal(pooledErr.message, plainErr.message);
    // The pool still answers after an error.
    const again = requests(plain, 100);
    assert.deepEqual(await pooled.predictArrays(again), await plain.predictArrays(again));
  } finally {
    pooled.close();
    plain.dispose();
  }
});

Deno.test("serve --workers 2 serves batched steps through the pool; bad counts exit 2", async () => {
  await using tmp = await tempDir();
  const dir = await model(tmp.path);
  for (const bad of ["0", "1.5", "65"]) {
    const r = await runRecsimu(["serve", "--model", dir, "--workers", bad, "--port", "0"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.trim(), /^recsimu serve: --workers[^\n]*$/);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "serve", "--model", dir, "--port", "0", "--workers", "2"],
    stderr: "piped",
    stdout: "null",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve ended: ${text}`);
      text += value;
      url = /listening on (http:\/\/\S+?)[ ,;)]/.exec(text)?.[1];
    }
    assert.match(text, /2 prediction threads/);
    const info = await (await fetch(`${url}/v1/model`)).json();
    assert.equal(info.model.workers, 2);
    const created = await (await fetch(`${url}/v1/sessions/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessions: Array.from({ length: 80 }, (_, i) => ({ seed: i })) }),
    })).json();
    const ids = created.results.map((r: { session_id: string }) => r.session_id);
    const step = await fetch(`${url}/v1/sessions/step`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        steps: ids.map((id: string, i: number) => ({ session_id: id, action: `i${i % 20}` })),
      }),
    });
    const body = await step.json();
    assert.equal(step.status, 200, JSON.stringify(body));
    assert.equal(body.results.length, 80);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel().catch(() => {});
  }
});

Deno.test("recsimu agent --workers 2 trains and evaluates exactly as one thread does", async () => {
  await using tmp = await tempDir();
  const dir = await model(tmp.path);
  const timing = /seconds|sps|eta/i;
  const strip = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(strip) : x !== null && typeof x === "object"
      ? Object.fromEntries(
        Object.entries(x).filter(([k]) => !timing.test(k)).map(([k, v]) => [k, strip(v)]),
      )
      : x;
  const reports = [];
  for (const w of ["1", "2"]) {
    const r = await runRecsimu([
      "agent",
      "--model",
      dir,
      "--episodes",
      "128",
      "--envs",
      "64",
      "--max-steps",
      "4",
      "--eval-episodes",
      "64",
      "--probe-states",
      "4",
      "--quiet",
      "--workers",
      w,
    ]);
    assert.equal(r.code, 0, r.stderr);
    reports.push(strip(JSON.parse(r.stdout)));
  }
  assert.deepEqual(reports[1], reports[0]);
  const bad = await runRecsimu(["agent", "--model", dir, "--workers", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--workers/);
});
