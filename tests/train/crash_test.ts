/**
 * Crashes and signals (issue 6, parts 2 and 3). A training process is killed with SIGKILL at
 * random file operations of its checkpoint writes, several times in a row; after each kill the
 * last good checkpoint loads and `--resume` carries on, and the chain ends with exactly the test
 * metrics of an uninterrupted run (CPU backend, same seed). SIGINT / SIGTERM stop training at
 * the next step with a checkpoint and exit 0; `recsimu serve` finishes an in-flight request on
 * SIGTERM, stops accepting connections and exits 0.
 *
 * The kills are injected by a child that wraps Deno's file-system calls: before (or just after
 * starting) the chosen call of the chosen checkpoint write, the child SIGKILLs itself. The
 * choice is random; set CRASH_SEED to replay a run (the seed is in every failure message).
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { ROOT, runDeno, TINY_FLAGS, Watched } from "../_cli.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { Rng } from "../../lib/random.ts";

const SEED = Deno.env.get("CRASH_SEED") ?? String(crypto.getRandomValues(new Uint32Array(1))[0]);
const rng = new Rng(`crash ${SEED}`);
const replay = `(CRASH_SEED=${SEED})`;

/** `recsimu train` with Deno's file-system calls counted (and one of them fatal). */
const CHILD = `
const out = Deno.env.get("CKPT_OUT");
const parent = out.slice(0, out.lastIndexOf("/"));
const [killCkpt, killOp, mode] = (Deno.env.get("KILL_AT") ?? "0:0:none").split(":");
let ckpt = 0, op = 0;
for (const name of ["mkdir", "open", "writeFile", "writeTextFile", "rename", "remove"]) {
  const orig = Deno[name];
  Deno[name] = (...args) => {
    const path = String(args[0]);
    // Files are opened for writing only inside the checkpoint's temporary directory.
    if (name === "open" && !path.includes("/.recsimu-tmp-")) return orig(...args);
    // writeDirAtomic starts by creating the parent of the checkpoint directory.
    if (name === "mkdir" && path === parent) { ckpt++; op = 0; }
    op++;
    console.error("OP " + ckpt + ":" + op + " " + name + " " + path);
    const fatal = ckpt === Number(killCkpt) && op === Number(killOp);
    if (fatal && mode === "before") Deno.kill(Deno.pid, "SIGKILL");
    const p = orig(...args);
    if (fatal) Deno.kill(Deno.pid, "SIGKILL"); // "during": the call is under way
    return p;
  };
}
const { run } = await import("${ROOT}lib/commands/train.ts");
try {
  await run(Deno.args);
} catch (e) {
  console.error("recsimu train: " + e.message);
  Deno.exit(2);
}
`;

/** Flags of every run in the chain (they must match for --resume). */
const EPOCHS = ["--pre-g-epochs", "2", "--pre-d-epochs", "2", "--epochs", "2"];
const TOTAL_EPOCHS = 6;

interface Op {
  ckpt: number;
  op: number;
  name: string;
  path: string;
}

function ops(stderr: string): Op[] {
  return [...stderr.matchAll(/^OP (\d+):(\d+) (\w+) (.*)$/gm)].map((m) => ({
    ckpt: Number(m[1]),
    op: Number(m[2]),
    name: m[3]!,
    path: m[4]!,
  }));
}

/** Test metrics of a finished run, without its timing. */
function metrics(stdout: string): unknown {
  const { recsimu, baselines } = JSON.parse(stdout);
  return { recsimu, baselines };
}

async function epochsDone(dir: string): Promise<number> {
  const ck = await loadCheckpoint(dir, { optimizer: true });
  return ck.history.length;
}

interface Chain {
  log: string;
  out: string;
  train(extra: string[], env?: Record<string, string>): Watched;
}

async function chain(dir: string): Promise<Chain> {
  const log = join(dir, "log.csv");
  await Deno.writeTextFile(
    log,
    synthText({ seed: 3, sessions: 60, items: 40, categories: 5, minLength: 10, maxLength: 20 }),
  );
  const out = join(dir, "model");
  return {
    log,
    out,
    train: (extra, env = {}) =>
      new Watched(
        [
          "eval",
          "--quiet",
          CHILD,
          "--data",
          log,
          "--out",
          out,
          ...TINY_FLAGS,
          ...EPOCHS,
          ...extra,
        ],
        { env: { CKPT_OUT: out, ...env } },
      ),
  };
}

/** The uninterrupted run: test metrics, per-epoch losses and the file operations per checkpoint. */
let reference:
  | Promise<{ metrics: unknown; losses: unknown; ops: Op[]; model: string; trainMs: number }>
  | undefined;
const refDir = await Deno.makeTempDir({ prefix: "recsimu-crash-ref-" });
globalThis.addEventListener("unload", () => Deno.removeSync(refDir, { recursive: true }));

function uninterrupted() {
  reference ??= (async () => {
    const c = await chain(refDir);
    const w = c.train([]);
    await w.waitFor(/^item2vec:/m);
    const t0 = performance.now();
    const r = await w.finish();
    assertEquals(r.code, 0, r.stderr);
    return {
      metrics: metrics(r.stdout),
      losses: await losses(c.out),
      ops: ops(r.stderr),
      model: c.out,
      trainMs: performance.now() - t0, // from the end of item2vec to the exit
    };
  })();
  return reference;
}

async function losses(dir: string): Promise<unknown> {
  const h = JSON.parse(await Deno.readTextFile(join(dir, "history.json"))) as {
    loss: unknown;
    validation?: unknown;
  }[];
  return h.map((e) => [e.loss, e.validation]);
}

Deno.test("SIGKILL at random moments of checkpointing always leaves the last good checkpoint; --resume ends with the uninterrupted run's metrics", async () => {
  const ref = await uninterrupted();
  const perCkpt = Map.groupBy(ref.ops, (o) => o.ckpt);
  assertEquals(perCkpt.size, TOTAL_EPOCHS + 1, "one checkpoint per epoch and a final one");
  /** Index (in its checkpoint) of the rename that puts a new checkpoint in place. */
  const swapOp = (ckpt: number) =>
    perCkpt.get(ckpt)!.find((o) => o.name === "rename" && o.path.includes("/.recsimu-tmp-model-"))!
      .op;

  await using tmp = await tempDir();
  const c = await chain(tmp.path);
  let done = 0; // epochs in the last good checkpoint
  const kills: string[] = [];
  for (let k = 0; k < 4; k++) {
    // The first kill falls between moving the old checkpoint aside and renaming the new one
    // into place (the narrowest window); the others anywhere in a random checkpoint write.
    const ckpts = TOTAL_EPOCHS + 1 - done; // checkpoint writes this run would make
    const ckpt = k === 0 ? 2 : 1 + rng.int(ckpts);
    const refCkpt = done + ckpt; // the same write in the uninterrupted run
    const op = k === 0 ? swapOp(refCkpt) : 1 + rng.int(perCkpt.get(refCkpt)!.length);
    const mode = k === 0 || rng.next() < 0.5 ? "before" : "during";
    const at = `${ckpt}:${op}:${mode}`;
    kills.push(`${at} (${perCkpt.get(refCkpt)![op - 1]!.name})`);
    const where = `kill ${k + 1} at ${at}, after ${done} epochs ${replay}`;
    const r = await c.train(done === 0 ? ["--quiet"] : ["--quiet", "--resume"], { KILL_AT: at })
      .finish();
    assertEquals(r.signal, "SIGKILL", `${where}: the run was killed\n${r.stderr}`);
    // The last complete checkpoint loads: the one being written if its rename happened.
    let now: number;
    try {
      now = await epochsDone(c.out);
    } catch (e) {
      throw new Error(`${where}: the last good checkpoint does not load: ${e}`);
    }
    const before = Math.min(done + ckpt - 1, TOTAL_EPOCHS);
    const after = Math.min(done + ckpt, TOTAL_EPOCHS);
    const swap = swapOp(refCkpt);
    const expected = op < swap || (op === swap && mode === "before")
      ? [before]
      : op > swap
      ? [after]
      : [before, after]; // killed while the rename was under way
    assert(
      expected.includes(now),
      `${where}: the checkpoint holds ${now} epochs, expected ${expected.join(" or ")}`,
    );
    done = now;
  }
  const r = await c.train(["--quiet", "--resume"]).finish();
  assertEquals(r.code, 0, r.stderr);
  const context = `after kills ${kills.join(", ")} ${replay}`;
  assertEquals(metrics(r.stdout), ref.metrics, context);
  assertEquals(await losses(c.out), ref.losses, context);
});

Deno.test("SIGINT and SIGTERM stop training at a step with a checkpoint, exit 0; --resume ends with the uninterrupted run's metrics", async () => {
  const ref = await uninterrupted();
  await using tmp = await tempDir();
  const c = await chain(tmp.path);
  const stops: string[] = [];
  let resume: string[] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const w = c.train(resume);
    // The listener is installed before training starts; item2vec (or resuming) comes first.
    await w.waitFor(/^(item2vec:|resumed from)/m);
    // Early enough that the run cannot finish first, whatever the machine's speed.
    const delay = Math.round(ref.trainMs * (0.1 + 0.3 * rng.next()));
    await new Promise((r) => setTimeout(r, delay));
    w.child.kill(sig);
    const r = await w.finish(60_000);
    const where = `${sig} after ${delay} ms ${replay}\n${r.stderr}`;
    assertEquals(r.code, 0, where);
    assert(/stopped; checkpoint in .* \(continue with --resume\)/.test(r.stderr), where);
    assertEquals(r.stdout, "", `a stopped run prints no metrics; ${where}`);
    const ck = await loadCheckpoint(c.out, { optimizer: true });
    const p = ck.meta.position;
    assert(p.phase !== "done" && p.step > 0, `stopped mid-epoch: ${JSON.stringify(p)}; ${where}`);
    stops.push(`${sig} at ${p.phase} epoch ${p.epoch + 1} step ${p.step}`);
    resume = ["--resume"];
  }
  const r = await c.train(["--quiet", "--resume"]).finish();
  assertEquals(r.code, 0, r.stderr);
  assertEquals(metrics(r.stdout), ref.metrics, `after ${stops.join(", ")} ${replay}`);
  assertEquals(await losses(c.out), ref.losses, `after ${stops.join(", ")} ${replay}`);
});

Deno.test("a signal stops a long epoch within a few steps, not at the epoch's end", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "big.csv");
  // ~45k rows: one generator epoch of ~1300 steps of 32, far longer than the wait below.
  await Deno.writeTextFile(
    log,
    synthText({ seed: 4, sessions: 1500, items: 300, categories: 10, minLength: 25 }),
  );
  const out = join(tmp.path, "model");
  const w = new Watched([
    "run",
    "-A",
    `${ROOT}main.ts`,
    "train",
    "--data",
    log,
    "--out",
    out,
    ...TINY_FLAGS,
    "--pre-g-epochs",
    "1",
    "--pre-d-epochs",
    "0",
    "--epochs",
    "0",
  ]);
  await w.waitFor(/^item2vec:/m);
  await new Promise((r) => setTimeout(r, 1000));
  w.child.kill("SIGTERM");
  const r = await w.finish(60_000);
  assertEquals(r.code, 0, r.stderr);
  const p = (await loadCheckpoint(out, { optimizer: true })).meta.position;
  const steps = Math.ceil(Number(/tuples train (\d+)/.exec(r.stderr)?.[1]) / 32);
  assert(
    p.phase === "pre_g" && p.epoch === 0 && p.step > 0 && p.step < steps,
    `position ${JSON.stringify(p)} of ${steps} steps\n${r.stderr}`,
  );
});

Deno.test({
  name: "recsimu serve on SIGTERM finishes the in-flight request, then stops listening, exit 0",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const { model } = await uninterrupted();
    const w = new Watched([
      "run",
      "-A",
      `${ROOT}main.ts`,
      "serve",
      "--model",
      model,
      "--port",
      "0",
      "--backend",
      "cpu",
      "--max-batch",
      "100000",
    ]);
    await w.waitFor(/listening on http:\/\/\S+ /);
    const url = /listening on (http:\/\/\S+) /.exec(w.stderr)![1]!;
    const vocab = JSON.parse(await Deno.readTextFile(join(model, "vocab.json"))) as string[];
    // A slow request: 30000 predictions take 0.3-1.5 s on the CPU backend, while the body
    // (6 MB) is read in a few milliseconds. The signal comes a third of the way through.
    // (Deno.serve drops a request whose body is still arriving when it shuts down: see
    // docs/reliability.md.)
    const requests = Array.from({ length: 30_000 }, (_, i) => ({
      state: Array.from({ length: 5 }, (_, t) => ({
        item: vocab[(i + t) % vocab.length],
        feedback: t % 2 ? "click" : "skip",
      })),
      action: vocab[i % vocab.length],
    }));
    const body = JSON.stringify({ requests });
    let t0 = 0;
    let answered = 0;
    const post = () => {
      t0 = performance.now();
      return fetch(`${url}/v1/feedback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }).then(async (res) => {
        const text = await res.text();
        answered = performance.now() - t0;
        return { status: res.status, body: text };
      });
    };
    await post(); // warm-up
    await post();
    const took = answered;
    const inFlight = post();
    await new Promise((r) => setTimeout(r, took / 3));
    w.child.kill("SIGTERM");
    const signalled = performance.now() - t0;
    const res = await inFlight;
    assertEquals(res.status, 200, `${res.body.slice(0, 300)}\n${w.stderr}`);
    const results = JSON.parse(res.body).results as { real: number }[];
    assertEquals(results.length, requests.length);
    assert(results.every((x) => x.real > 0 && x.real < 1));
    assert(
      answered > signalled,
      `the request was in flight when the signal came (answered at ${answered.toFixed(0)} ms, ` +
        `signal at ${signalled.toFixed(0)} ms)`,
    );
    const r = await w.finish(30_000);
    assertEquals(r.code, 0, r.stderr);
    assert(/recsimu serve: stopped/.test(r.stderr), r.stderr);
    await assertRejects(() => fetch(`${url}/healthz`), TypeError);
  },
});

Deno.test("a checkpoint with corrupted weights or another format version is refused by eval, serve and --resume, exit 2", async () => {
  const ref = await uninterrupted();
  await using tmp = await tempDir();
  const model = join(tmp.path, "model");
  await Deno.mkdir(model);
  for await (const f of Deno.readDir(ref.model)) {
    await Deno.copyFile(join(ref.model, f.name), join(model, f.name));
  }
  const c = await chain(tmp.path); // the same log and flags as the reference
  const commands = [
    ["eval", "--model", model, "--backend", "cpu"],
    ["serve", "--model", model, "--port", "0", "--backend", "cpu"],
    ["train", "--data", c.log, "--out", model, "--resume", ...TINY_FLAGS, ...EPOCHS],
  ];
  const refused = async (re: RegExp) => {
    for (const args of commands) {
      const r = await runDeno(["run", "-A", `${ROOT}main.ts`, ...args], { timeoutMs: 60_000 });
      const where = `${args[0]}: exit ${r.code}\n${r.stderr}`;
      assertEquals(r.code, 2, where);
      const last = r.stderr.trimEnd().split("\n").at(-1)!;
      assert(last.startsWith(`recsimu ${args[0]}: `) && re.test(last), where);
      assert(!/internal error|\n\s+at /.test(r.stderr), where);
    }
  };
  const weights = join(model, "weights.bin");
  const bytes = await Deno.readFile(weights);
  bytes[bytes.length >> 1]! ^= 0x40;
  await Deno.writeFile(weights, bytes);
  await refused(/weights\.bin" is corrupted \(sha256 mismatch\)/);
  await Deno.copyFile(join(ref.model, "weights.bin"), weights);
  const meta = JSON.parse(await Deno.readTextFile(join(model, "config.json")));
  await Deno.writeTextFile(join(model, "config.json"), JSON.stringify({ ...meta, format: 99 }));
  await refused(
    /has checkpoint format 99 \(written by recsimu [^)]+\); this recsimu .* reads format 1/,
  );
});
