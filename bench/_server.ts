/**
 * A `recsimu serve` child process for the serving benchmarks: started with `deno ...args`,
 * ready once it prints its loopback URL; its stderr is drained so it never blocks.
 * @module
 */
import { fileURLToPath } from "node:url";

/** Repository root (with a trailing slash). */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** A running server child. */
export interface ServerChild {
  url: string;
  pid: number;
  /** SIGTERM, then the exit code once it has stopped. */
  stop(): Promise<number>;
}

/** Runs `deno ...args` from the repository root and waits for "listening on http://127.0.0.1:…". */
export async function spawnServer(args: string[]): Promise<ServerChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server did not start:\n${log}`);
    log += value;
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1];
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* keep the pipe empty */ }
  })();
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      const s = await child.status;
      await drained;
      return s.code;
    },
  };
}
