/**
 * Running `recsimu` in a subprocess for the reliability tests: every run has a deadline, so a
 * hang fails the test instead of stalling it.
 * @module
 */
import { fileURLToPath } from "node:url";

/** Repository root (with a trailing slash). */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Every command of the CLI, as the tests expect main.ts to list them. */
export const COMMAND_NAMES = [
  "synth",
  "train",
  "eval",
  "predict",
  "serve",
  "experiment",
  "agent",
  "fidelity",
  "demo",
];

/** The CLI entry point. */
export const MAIN = `${ROOT}main.ts`;

/** Tiny model and training flags (no backend): a few seconds per run on one CPU core. */
export const TINY_MODEL_FLAGS = [
  "--state-length",
  "5",
  "--min-count",
  "1",
  "--hidden",
  "8",
  "--fc",
  "8",
  "--emb-dim",
  "6",
  "--batch",
  "32",
  "--i2v-epochs",
  "1",
];

/** No training epochs, quietly: the checkpoint holds item2vec and the initial weights. */
export const NO_EPOCHS = ["--epochs", "0", "--pre-g-epochs", "0", "--pre-d-epochs", "0", "--quiet"];

/** {@link TINY_MODEL_FLAGS} on the CPU backend. */
export const TINY_FLAGS = ["--backend", "cpu", ...TINY_MODEL_FLAGS];

/** What a finished run left behind. */
export interface RunResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Options of {@link runRecsimu}. */
export interface RunOptions {
  /** Kill the run (SIGKILL) and fail after this long. @default 120000 */
  timeoutMs?: number;
  /** Extra environment variables. @default {} */
  env?: Record<string, string>;
  /** Text written to the child's standard input (closed after). @default none */
  stdin?: string;
  /** Working folder of the child. @default the repository root */
  cwd?: string;
}

/**
 * Runs `deno run -A main.ts ...args` and collects its output.
 * @throws {Error} when the run does not finish within `timeoutMs` (it is killed first).
 */
export async function runRecsimu(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return await runDeno(["run", "-A", MAIN, ...args], options);
}

/** Runs `deno ...args` from the repository root; see {@link runRecsimu}. */
export async function runDeno(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  // stdin is written while stdout is read: a child whose output fills the pipe cannot block it.
  const fed = options.stdin === undefined ? Promise.resolve() : (async () => {
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(options.stdin));
      await w.close();
    } catch { /* the child exited or was killed before reading it all */ }
  })();
  const [out] = await Promise.all([child.output(), fed]);
  clearTimeout(timer);
  const dec = new TextDecoder();
  const r = {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - t0,
  };
  if (timedOut) {
    throw new Error(
      `deno ${args.join(" ")} did not finish within ${timeoutMs} ms (killed)\n${r.stderr}`,
    );
  }
  return r;
}

/** A child process whose stderr is read line by line while it runs. */
export class Watched {
  readonly child: Deno.ChildProcess;
  #err = "";
  #waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];
  readonly #done: Promise<void>;

  constructor(args: string[], options: RunOptions = {}) {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#done = (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#err += s;
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(this.#err)) return true;
          w.resolve();
          return false;
        });
      }
    })();
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.#err;
  }

  /** Resolves once stderr matches `re`; rejects after `timeoutMs` or if the process ends first. */
  async waitFor(re: RegExp, timeoutMs = 60_000): Promise<void> {
    if (re.test(this.#err)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push({ test: (s) => re.test(s), resolve })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out waiting for ${re} on stderr:\n${this.#err}`)),
            timeoutMs,
          );
        }),
        this.child.status.then(() => this.#done).then(() => {
          if (!re.test(this.#err)) {
            throw new Error(`the process ended before ${re} appeared on stderr:\n${this.#err}`);
          }
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the process to end (killing it after `timeoutMs`); returns its status and output. */
  async finish(timeoutMs = 120_000): Promise<RunResult & { timedOut: boolean }> {
    const t0 = performance.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        this.child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, timeoutMs);
    const [status, stdout] = await Promise.all([
      this.child.status,
      new Response(this.child.stdout).text(),
    ]);
    await this.#done;
    clearTimeout(timer);
    return {
      code: status.code,
      signal: status.signal,
      stdout,
      stderr: this.#err,
      ms: performance.now() - t0,
      timedOut,
    };
  }
}
