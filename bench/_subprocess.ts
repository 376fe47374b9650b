/**
 * The fidelity benches' subprocesses: `deno run -A main.ts …` with RECSIMU_THREADS=1, stderr into
 * a log file, peak resident set sampled, every live child killable on a signal; and a pool that
 * runs them `--jobs` at a time.
 * @module
 */
import { dirname, join } from "node:path";
import { ROOT } from "./_server.ts";

/** The children still running (for a SIGINT handler to stop). */
export const running = new Set<Deno.ChildProcess>();

/** Peak resident set of a live process in MiB (VmHWM), or null. */
function peakRss(pid: number): number | null {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

/** The last lines of a log file, for an error message. */
async function tail(path: string, lines = 8): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Runs `deno run -A main.ts ...args` with RECSIMU_THREADS=1, its stderr into `log`.
 * @throws {Error} when it exits non-zero (with the log's last lines).
 */
export async function recsimu(
  args: string[],
  log: string,
): Promise<{ stdout: string; seconds: number; peakRssMib: number | null }> {
  await Deno.mkdir(dirname(log), { recursive: true });
  const file = await Deno.open(log, { write: true, create: true, truncate: true });
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    cwd: ROOT,
    env: { RECSIMU_THREADS: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  running.add(child);
  let peak: number | null = null;
  const poll = setInterval(() => {
    const p = peakRss(child.pid);
    if (p !== null) peak = Math.max(peak ?? 0, p);
  }, 200);
  const [stdout, , status] = await Promise.all([
    new Response(child.stdout).text(),
    child.stderr.pipeTo(file.writable),
    child.status,
  ]);
  clearInterval(poll);
  running.delete(child);
  if (!status.success) {
    const how = `exit ${status.code}${status.signal ? `, ${status.signal}` : ""}`;
    throw new Error(`recsimu ${args[0]} failed (${how}); log ${log}:\n${await tail(log)}`);
  }
  return { stdout, seconds: (performance.now() - t0) / 1000, peakRssMib: peak };
}

/** Runs `tasks` with at most `jobs` at a time, keeping their order in the result. */
export async function pool<T>(jobs: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  }));
  return out;
}
