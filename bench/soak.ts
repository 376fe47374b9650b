/**
 * Soak test of `recsimu serve` (issue 6, part 5): steady concurrent load on predictions and
 * session steps for a bounded time, on 127.0.0.1 only. Reports throughput, p50/p99 latency per
 * kind of request, the error count (must be 0) and the server's resident memory after warm-up
 * and at the end (must be flat), then exits 1 if either condition fails. Not part of CI.
 *
 *   deno task bench:soak [--model DIR] [--duration 120] [--warmup 15] [--concurrency 8]
 *     [--backend auto]
 *
 * Without --model, a small model is trained first on a synthetic log in a temporary directory.
 * Memory is read from /proc (Linux); elsewhere it is reported as null and not checked.
 * @module
 */
import { parseArgs } from "node:util";
import { type ServerChild, spawnServer } from "./_server.ts";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { Rng } from "../lib/random.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = `${ROOT}main.ts`;
/** Largest growth of the server's RSS from warm-up to the end that still counts as flat. */
const FLAT = 0.1;

interface Opts {
  model?: string;
  duration: number;
  warmup: number;
  concurrency: number;
  backend: string;
}

function options(): Opts {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      duration: { type: "string", default: "120" },
      warmup: { type: "string", default: "15" },
      concurrency: { type: "string", default: "8" },
      backend: { type: "string", default: "auto" },
    },
    strict: true,
  });
  const num = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!(n >= min)) throw new RangeError(`--${name}: expected a number ≥ ${min}, got "${v}"`);
    return n;
  };
  const o = {
    model: values.model,
    duration: num("duration", values.duration!, 1),
    warmup: num("warmup", values.warmup!, 0),
    concurrency: Math.floor(num("concurrency", values.concurrency!, 2)),
    backend: values.backend!,
  };
  if (o.warmup >= o.duration) throw new RangeError("--warmup must be shorter than --duration");
  return o;
}

async function recsimu(args: string[]): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (r.code !== 0) {
    throw new Error(
      `recsimu ${args.join(" ")}: exit ${r.code}\n${new TextDecoder().decode(r.stderr)}`,
    );
  }
}

/** Trains a small model on a synthetic log; returns its directory. */
async function trainModel(dir: string): Promise<string> {
  console.error("soak: training a small model (use --model DIR to skip)…");
  await recsimu(["synth", "--out", dir, "--sessions", "400", "--items", "300", "--seed", "1"]);
  const model = join(dir, "model");
  await recsimu([
    ...["train", "--data", join(dir, "log.csv"), "--out", model, "--quiet", "--backend", "cpu"],
    ...["--state-length", "10", "--min-count", "1", "--hidden", "32", "--fc", "32"],
    ...["--emb-dim", "16", "--batch", "128", "--pre-g-epochs", "1", "--pre-d-epochs", "1"],
    ...["--epochs", "1", "--i2v-epochs", "1"],
  ]);
  return model;
}

/** `recsimu serve` on a free loopback port. */
function startServer(model: string, backend: string): Promise<ServerChild> {
  return spawnServer([
    "run",
    "-A",
    MAIN,
    "serve",
    "--model",
    model,
    "--port",
    "0",
    "--backend",
    backend,
  ]);
}

/** Resident set size of a process in bytes (Linux), else null. */
function rss(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Latencies, errors and counts of one kind of request. */
class Stats {
  latencies: number[] = [];
  units = 0;
  errors = 0;
  firstError = "";
  summary(seconds: number) {
    const s = Float64Array.from(this.latencies).sort();
    const q = (p: number) =>
      s.length ? +s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(2) : null;
    return {
      requests: s.length + this.errors,
      requests_per_s: +(s.length / seconds).toFixed(1),
      units_per_s: +(this.units / seconds).toFixed(1),
      p50_ms: q(0.5),
      p99_ms: q(0.99),
      max_ms: s.length ? +s[s.length - 1]!.toFixed(2) : null,
      errors: this.errors,
      ...(this.firstError ? { first_error: this.firstError } : {}),
    };
  }
}

interface Model {
  items: string[];
  labels: string[];
  n: number;
}

async function call(
  stats: Stats,
  units: number,
  url: string,
  init: RequestInit,
  expect: number,
): Promise<unknown> {
  const t = performance.now();
  try {
    const res = await fetch(url, init);
    const body = res.status === 204 ? null : await res.json();
    if (res.status !== expect) throw new Error(`${res.status} ${JSON.stringify(body)}`);
    stats.latencies.push(performance.now() - t);
    stats.units += units;
    return body;
  } catch (e) {
    stats.errors++;
    stats.firstError ||= `${init.method ?? "GET"} ${url}: ${String(e).slice(0, 300)}`;
    return undefined;
  }
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function main(): Promise<number> {
  const o = options();
  const tmp = o.model === undefined ? await Deno.makeTempDir({ prefix: "recsimu-soak-" }) : "";
  try {
    const model = o.model ?? await trainModel(tmp);
    const server = await startServer(model, o.backend);
    const info = await (await fetch(`${server.url}/v1/model`)).json();
    const items: string[] = [];
    for (let off: number | null = 0; off !== null;) {
      const page = await (await fetch(`${server.url}/v1/items?offset=${off}&limit=10000`)).json();
      items.push(...page.items);
      off = page.next_offset;
    }
    const m: Model = { items, labels: info.labels, n: info.state_length };
    console.error(
      `soak: ${server.url}, backend ${info.backend}, ${items.length} items, N = ${m.n}; ` +
        `${o.concurrency} clients for ${o.duration} s (warm-up ${o.warmup} s)`,
    );

    const stats = {
      feedback_single: new Stats(),
      feedback_batch32: new Stats(),
      session_create: new Stats(),
      session_step: new Stats(),
      sessions_step8: new Stats(),
      session_delete: new Stats(),
    };
    const state = (rng: Rng) =>
      Array.from({ length: m.n }, () => ({
        item: m.items[rng.int(m.items.length)]!,
        feedback: m.labels[rng.int(m.labels.length)]!,
      }));
    const action = (rng: Rng) => m.items[rng.int(m.items.length)]!;

    /** Prediction clients: single and batched reward questions. */
    const predictions = async (rng: Rng, until: number) => {
      while (performance.now() < until) {
        if (rng.next() < 0.5) {
          await call(
            stats.feedback_single,
            1,
            `${server.url}/v1/feedback`,
            json({ state: state(rng), action: action(rng), sample: true, seed: rng.int(1e9) }),
            200,
          );
        } else {
          const requests = Array.from(
            { length: 32 },
            () => ({ state: state(rng), action: action(rng) }),
          );
          await call(
            stats.feedback_batch32,
            32,
            `${server.url}/v1/feedback`,
            json({ requests }),
            200,
          );
        }
      }
    };
    /** Environment clients: episodes of single steps, and vectorised steps of 8 sessions. */
    const sessions = async (rng: Rng, until: number) => {
      while (performance.now() < until) {
        const ids: string[] = [];
        const k = rng.next() < 0.5 ? 1 : 8;
        for (let i = 0; i < k; i++) {
          const s = await call(
            stats.session_create,
            1,
            `${server.url}/v1/sessions`,
            json({ seed: rng.int(1e9), max_steps: 20 }),
            201,
          ) as { session_id?: string } | undefined;
          if (s?.session_id) ids.push(s.session_id);
        }
        for (let t = 0; t < 10 && ids.length > 0; t++) {
          if (k === 1) {
            await call(
              stats.session_step,
              1,
              `${server.url}/v1/sessions/${ids[0]}/step`,
              json({ action: action(rng) }),
              200,
            );
          } else {
            const steps = ids.map((id) => ({ session_id: id, action: action(rng) }));
            await call(
              stats.sessions_step8,
              ids.length,
              `${server.url}/v1/sessions/step`,
              json({ steps }),
              200,
            );
          }
        }
        for (const id of ids) {
          await call(stats.session_delete, 1, `${server.url}/v1/sessions/${id}`, {
            method: "DELETE",
          }, 204);
        }
      }
    };

    const t0 = performance.now();
    const end = t0 + o.duration * 1000;
    const memory: { t: number; rss: number | null }[] = [];
    let warm: number | null = null;
    let counted = 0;
    const sampler = setInterval(() => {
      const t = (performance.now() - t0) / 1000;
      memory.push({ t: +t.toFixed(1), rss: rss(server.pid) });
      if (warm === null && t >= o.warmup) {
        warm = memory.at(-1)!.rss;
        counted = Object.values(stats).reduce((a, s) => a + s.latencies.length, 0);
      }
    }, 1000);
    const rngs = Array.from({ length: o.concurrency }, (_, i) => new Rng(`soak ${i}`));
    await Promise.all(rngs.map((rng, i) => (i % 2 === 0 ? predictions : sessions)(rng, end)));
    clearInterval(sampler);
    const seconds = (performance.now() - t0) / 1000;
    const last = rss(server.pid);
    const healthy = (await fetch(`${server.url}/healthz`).then((r) =>
      r.json(), () => ({}))).status === "ok";
    const code = await server.stop();

    const kinds = Object.fromEntries(
      Object.entries(stats).map(([k, s]) => [k, s.summary(seconds)]),
    );
    const errors = Object.values(stats).reduce((a, s) => a + s.errors, 0);
    const requests = Object.values(stats).reduce((a, s) => a + s.latencies.length, 0);
    const all = Float64Array.from(Object.values(stats).flatMap((s) => s.latencies)).sort();
    const growth = warm !== null && last !== null ? (last - warm) / warm : null;
    const mib = (b: number | null) => b === null ? null : +(b / 2 ** 20).toFixed(1);
    const report = {
      seconds: +seconds.toFixed(1),
      concurrency: o.concurrency,
      backend: info.backend,
      requests,
      requests_per_s: +(requests / seconds).toFixed(1),
      predictions_per_s: +((stats.feedback_single.units + stats.feedback_batch32.units) / seconds)
        .toFixed(1),
      session_steps_per_s: +((stats.session_step.units + stats.sessions_step8.units) / seconds)
        .toFixed(1),
      p50_ms: +all[Math.floor(0.5 * all.length)]!.toFixed(2),
      p99_ms: +all[Math.min(all.length - 1, Math.floor(0.99 * all.length))]!.toFixed(2),
      errors,
      rss_after_warmup_mib: mib(warm),
      rss_end_mib: mib(last),
      rss_max_mib: mib(Math.max(...memory.map((x) => x.rss ?? 0))),
      rss_growth: growth === null ? null : +growth.toFixed(3),
      requests_after_warmup: requests - counted,
      server_exit: code,
      kinds,
      env: {
        deno: Deno.version.deno,
        os: Deno.build.os,
        arch: Deno.build.arch,
        cpus: navigator.hardwareConcurrency,
      },
      healthy_at_end: healthy,
    };
    console.log(JSON.stringify(report));
    const flat = growth === null || growth <= FLAT;
    const pass = errors === 0 && flat && healthy && code === 0;
    console.error(
      [
        `soak: ${report.requests} requests in ${report.seconds} s (${report.requests_per_s}/s), ` +
        `${report.predictions_per_s} predictions/s, ${report.session_steps_per_s} session steps/s`,
        `  latency p50 ${report.p50_ms} ms, p99 ${report.p99_ms} ms; errors ${errors}`,
        `  server RSS ${report.rss_after_warmup_mib} MiB after warm-up -> ${report.rss_end_mib} MiB at the end ` +
        `(${
          growth === null ? "n/a" : `${(100 * growth).toFixed(1)}%`
        }, max ${report.rss_max_mib} MiB); server exit ${code}`,
        ...Object.entries(kinds).map(([k, s]) =>
          `  ${k.padEnd(17)} ${
            String(s.requests_per_s).padStart(8)
          }/s  p50 ${s.p50_ms} ms  p99 ${s.p99_ms} ms  errors ${s.errors}`
        ),
        pass ? "soak: PASS" : `soak: FAIL (${
          [
            errors ? `${errors} errors` : "",
            flat ? "" : `RSS grew ${(100 * growth!).toFixed(1)}% > ${100 * FLAT}%`,
            healthy ? "" : "/healthz failed at the end",
            code ? `server exit ${code}` : "",
          ].filter(Boolean).join(", ")
        })`,
      ].join("\n"),
    );
    return pass ? 0 : 1;
  } finally {
    if (tmp) await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
