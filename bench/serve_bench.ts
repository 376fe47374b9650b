/**
 * Serving benchmark: starts a server on 127.0.0.1 in a child process (`recsimu serve` with
 * `--model DIR`, else the fake simulator of the tests), drives it with concurrent clients from
 * this process for a bounded time per scenario, and prints one JSON line per scenario:
 * requests/s, predictions/s and p50/p99 latency. Then a batch-size sweep shows where
 * predictions/s saturate. Last, the agents' view from Python (`python/bench/env_bench.py` on the
 * same server): vectorised env steps/s at 1, 64 and 256 envs through `RecSimuVectorEnv`,
 * single-step latency from one client, and the package's overhead over the same raw HTTP calls
 * (scenario `python_env`, medians of `--python-repeats`). The Python is `--python PATH`, else
 * `$RECSIMU_PYTHON`, else `.venv-ci/bin/python` (`python3 -m venv .venv-ci &&
 * .venv-ci/bin/pip install ./python`); without one that imports `recsimu` the Python part is
 * skipped with a note on stderr. Traffic goes only to 127.0.0.1.
 *
 *   deno run -A bench/serve_bench.ts [--model DIR] [--backend auto] [--duration 5]
 *     [--sweep-duration 2] [--concurrency 16] [--python PATH] [--no-python | --python-only]
 *     [--python-seconds 2] [--python-repeats 3] [--python-envs 1,64,256] [--workers 1]
 *     [--user-model network|glm] [--real-score on|off]
 *
 * `--workers W` is `serve --workers W` (prediction threads; with the fake simulator, ignored).
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Rng } from "../lib/random.ts";
import { ROOT, spawnServer } from "./_server.ts";

interface Opts {
  model?: string;
  backend: string;
  duration: number;
  sweepDuration: number;
  concurrency: number;
  /** The interpreter of the Python part (undefined: look for one). */
  python?: string;
  /** "both" (default), "none" (--no-python) or "only" (--python-only). */
  pythonPart: "both" | "none" | "only";
  pythonSeconds: number;
  pythonRepeats: number;
  pythonEnvs: string;
  /** `serve --workers`: prediction threads of the server. */
  workers: number;
  /** `serve --user-model` and `--real-score` (undefined: the server's defaults). */
  userModel?: string;
  realScore?: string;
}

function options(): Opts {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      backend: { type: "string", default: "auto" },
      duration: { type: "string", default: "5" },
      "sweep-duration": { type: "string", default: "2" },
      concurrency: { type: "string", default: "16" },
      python: { type: "string" },
      "no-python": { type: "boolean", default: false },
      "python-only": { type: "boolean", default: false },
      "python-seconds": { type: "string", default: "2" },
      "python-repeats": { type: "string", default: "3" },
      "python-envs": { type: "string", default: "1,64,256" },
      workers: { type: "string", default: "1" },
      "user-model": { type: "string" },
      "real-score": { type: "string" },
    },
    strict: true,
  });
  const num = (name: string, v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new RangeError(`--${name}: expected a positive number, got "${v}"`);
    return n;
  };
  return {
    model: values.model,
    backend: values.backend!,
    duration: num("duration", values.duration!),
    sweepDuration: num("sweep-duration", values["sweep-duration"]!),
    concurrency: Math.floor(num("concurrency", values.concurrency!)),
    python: values.python,
    pythonPart: values["no-python"] ? "none" : values["python-only"] ? "only" : "both",
    pythonSeconds: num("python-seconds", values["python-seconds"]!),
    pythonRepeats: Math.floor(num("python-repeats", values["python-repeats"]!)),
    pythonEnvs: values["python-envs"]!,
    workers: Math.floor(num("workers", values.workers!)),
    userModel: values["user-model"],
    realScore: values["real-score"],
  };
}

/** The server child: the real CLI with a model, else the fake simulator. */
async function startChild(o: Opts): Promise<{ url: string; stop: () => Promise<void> }> {
  const args = o.model !== undefined
    ? [
      "run",
      "-A",
      `${ROOT}main.ts`,
      "serve",
      "--model",
      o.model,
      "--port",
      "0",
      "--backend",
      o.backend,
      "--workers",
      String(o.workers),
      ...(o.userModel !== undefined ? ["--user-model", o.userModel] : []),
      ...(o.realScore !== undefined ? ["--real-score", o.realScore] : []),
    ]
    : [
      "eval",
      "--quiet",
      `import { startServer } from "${ROOT}lib/serve/server.ts";
       import { FakeSimulator } from "${ROOT}tests/_fake_sim.ts";
       const s = startServer(new FakeSimulator({ itemCount: 1000, stateLength: 20 }), { port: 0, handleSignals: true });
       console.error("recsimu serve: listening on " + s.url);
       await s.finished;`,
    ];
  const server = await spawnServer(args);
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
    },
  };
}

interface Model {
  items: string[];
  labels: string[];
  n: number;
  backend: string | null;
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return await res.json();
}

async function loadModel(base: string): Promise<Model> {
  const m = await getJson(`${base}/v1/model`);
  const items: string[] = [];
  let offset: number | null = 0;
  while (offset !== null && items.length < 100_000) {
    const page = await getJson(`${base}/v1/items?offset=${offset}&limit=10000`);
    items.push(...page.items as string[]);
    offset = page.next_offset as number | null;
  }
  return {
    items,
    labels: m.labels as string[],
    n: m.state_length as number,
    backend: m.backend as string | null,
  };
}

function randomRequest(rng: Rng, m: Model) {
  const state = Array.from({ length: m.n }, () => ({
    item: m.items[rng.int(m.items.length)]!,
    feedback: m.labels[rng.int(m.labels.length)]!,
  }));
  return { state, action: m.items[rng.int(m.items.length)]! };
}

async function post(url: string, body: string): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return await res.json();
}

interface Result {
  scenario: string;
  batch: number;
  concurrency: number;
  seconds: number;
  requests: number;
  requests_per_s: number;
  predictions_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Runs `concurrency` workers for `seconds`; each call of `once` is one HTTP request carrying
 * `batch` predictions.
 */
async function scenario(
  name: string,
  batch: number,
  concurrency: number,
  seconds: number,
  worker: (w: number) => { once: () => Promise<void>; close?: () => Promise<void> },
): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    const { once, close } = worker(w);
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        await once();
        latencies.push(performance.now() - t);
      } catch (e) {
        errors++;
        firstError ||= String(e);
        if (errors > 100) break;
      }
    }
    await close?.();
  }));
  const elapsed = (performance.now() - start) / 1000;
  if (firstError) console.error(`${name}: ${errors} errors, first: ${firstError}`);
  const sorted = Float64Array.from(latencies).sort();
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    scenario: name,
    batch,
    concurrency,
    seconds: round(elapsed),
    requests: latencies.length,
    requests_per_s: round(latencies.length / elapsed, 1),
    predictions_per_s: round((latencies.length * batch) / elapsed, 0),
    p50_ms: round(percentile(sorted, 0.5), 3),
    p99_ms: round(percentile(sorted, 0.99), 3),
    errors,
  };
}

/** Pre-built bodies of `batch` random feedback requests, so clients spend little CPU. */
function feedbackBodies(m: Model, batch: number, count: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    if (batch === 1) return JSON.stringify(randomRequest(rng, m));
    return JSON.stringify({ requests: Array.from({ length: batch }, () => randomRequest(rng, m)) });
  });
}

function feedbackWorker(url: string, bodies: string[]) {
  return (w: number) => {
    let i = w;
    return { once: () => post(`${url}/v1/feedback`, bodies[i++ % bodies.length]!).then(() => {}) };
  };
}

/** Session steps: each worker holds `width` sessions and steps them (one by one, or all at once). */
function sessionWorker(url: string, m: Model, width: number, vectorised: boolean) {
  return (w: number) => {
    const rng = new Rng(1000 + w);
    let ids: string[] = [];
    const open = async () => {
      ids = [];
      for (let i = 0; i < width; i++) {
        const s = await post(
          `${url}/v1/sessions`,
          JSON.stringify({ seed: rng.int(1e9), max_steps: 1_000_000 }),
        );
        ids.push((s as { session_id: string }).session_id);
      }
    };
    const action = () => m.items[rng.int(m.items.length)]!;
    let k = 0;
    return {
      once: async () => {
        if (ids.length === 0) await open();
        if (vectorised) {
          await post(
            `${url}/v1/sessions/step`,
            JSON.stringify({ steps: ids.map((session_id) => ({ session_id, action: action() })) }),
          );
        } else {
          await post(
            `${url}/v1/sessions/${ids[k++ % ids.length]}/step`,
            JSON.stringify({ action: action() }),
          );
        }
      },
      close: async () => {
        for (const id of ids) {
          await (await fetch(`${url}/v1/sessions/${id}`, { method: "DELETE" })).body?.cancel();
        }
      },
    };
  };
}

/** The HTTP scenarios of this process: single and batched feedback, session steps, the sweep. */
async function httpScenarios(url: string, m: Model, o: Opts, sim: string): Promise<void> {
  const print = (r: Result, extra: Record<string, unknown> = {}) =>
    console.log(
      JSON.stringify({
        bench: "serve",
        sim,
        backend: m.backend,
        workers: o.workers,
        user_model: o.userModel ?? "network",
        real_score: o.realScore ?? "on",
        n: m.n,
        ...r,
        ...extra,
      }),
    );
  const c = o.concurrency;
  // Warm-up (JIT, model kernels).
  await scenario(
    "warmup",
    64,
    4,
    Math.min(1, o.duration),
    feedbackWorker(url, feedbackBodies(m, 64, 8, 0)),
  );

  print(
    await scenario(
      "feedback_single",
      1,
      c,
      o.duration,
      feedbackWorker(url, feedbackBodies(m, 1, 256, 1)),
    ),
  );
  print(
    await scenario(
      "feedback_batch64",
      64,
      c,
      o.duration,
      feedbackWorker(url, feedbackBodies(m, 64, 32, 2)),
    ),
  );
  print(
    await scenario(
      "feedback_batch4096",
      4096,
      Math.max(1, Math.min(c, 4)),
      o.duration,
      feedbackWorker(url, feedbackBodies(m, 4096, 4, 3)),
    ),
  );
  print(await scenario("session_step", 1, c, o.duration, sessionWorker(url, m, 4, false)));
  print(
    await scenario(
      "session_step_vectorised64",
      64,
      Math.max(1, Math.min(c, 8)),
      o.duration,
      sessionWorker(url, m, 64, true),
    ),
  );

  // Batch-size sweep: predictions/s against batch size, a few concurrent clients.
  const sweep: Result[] = [];
  for (const batch of [1, 4, 16, 64, 256, 1024, 4096]) {
    const count = Math.max(2, Math.min(64, Math.floor(65536 / batch)));
    const r = await scenario(
      `sweep_batch${batch}`,
      batch,
      4,
      o.sweepDuration,
      feedbackWorker(url, feedbackBodies(m, batch, count, 10 + batch)),
    );
    sweep.push(r);
    print(r);
  }
  const best = Math.max(...sweep.map((r) => r.predictions_per_s));
  const saturated = sweep.find((r) => r.predictions_per_s >= 0.9 * best);
  console.log(JSON.stringify({
    bench: "serve",
    sim,
    scenario: "sweep_summary",
    max_predictions_per_s: best,
    saturates_at_batch: saturated?.batch ?? null,
    note: "smallest batch reaching 90% of the best predictions/s (4 concurrent clients)",
  }));
}

/** The Python interpreter for the agents' view: given, $RECSIMU_PYTHON, or .venv-ci's. */
async function findPython(o: Opts): Promise<string | undefined> {
  const candidates = o.python !== undefined
    ? [o.python]
    : [Deno.env.get("RECSIMU_PYTHON"), join(ROOT, ".venv-ci", "bin", "python")];
  for (const py of candidates) {
    if (py === undefined || py === "") continue;
    try {
      const r = await new Deno.Command(py, { args: ["-c", "import recsimu"], stderr: "null" })
        .output();
      if (r.success) return py;
    } catch { /* not there */ }
  }
  if (o.python !== undefined) {
    console.error(`serve bench: --python ${o.python}: cannot run it and import recsimu`);
    Deno.exit(2);
  }
  console.error(
    "serve bench: Python part skipped: no interpreter with the recsimu package (make one: " +
      "python3 -m venv .venv-ci && .venv-ci/bin/pip install ./python, or pass --python PATH)",
  );
  return undefined;
}

/**
 * The agents' view: python/bench/env_bench.py against the same server; its table goes to
 * stderr, its JSON becomes the `python_env` line.
 */
async function pythonScenario(
  py: string,
  url: string,
  m: Model,
  o: Opts,
  sim: string,
): Promise<void> {
  const out = await new Deno.Command(py, {
    args: [
      join(ROOT, "python", "bench", "env_bench.py"),
      "--url",
      url,
      "--envs",
      o.pythonEnvs,
      "--seconds",
      String(o.pythonSeconds),
      "--repeats",
      String(o.pythonRepeats),
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`env_bench.py failed (exit ${out.code}):\n${text}`);
  const r = JSON.parse(text.split("\n").at(-1)!);
  delete r.bench;
  console.log(JSON.stringify({
    bench: "serve",
    sim,
    scenario: "python_env",
    backend: m.backend,
    workers: o.workers,
    user_model: o.userModel ?? "network",
    real_score: o.realScore ?? "on",
    n: m.n,
    python: py,
    ...r,
  }));
}

async function main(): Promise<void> {
  const o = options();
  // The interpreter is found first: a bad --python stops before any measuring.
  const py = o.pythonPart === "none" ? undefined : await findPython(o);
  const child = await startChild(o);
  try {
    const m = await loadModel(child.url);
    const sim = o.model === undefined ? "fake" : o.model;
    if (o.pythonPart !== "only") await httpScenarios(child.url, m, o, sim);
    if (py !== undefined) await pythonScenario(py, child.url, m, o, sim);
  } finally {
    await child.stop();
  }
}

if (import.meta.main) await main();
