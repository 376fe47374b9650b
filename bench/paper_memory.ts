/**
 * `deno task bench:memory`: peak memory of `recsimu train` on a synthetic log of the paper's
 * scale (272 k sessions, 1.35 M catalogue items, 8.2 M rows). Writes the log once (cached in
 * `--dir`), trains with every item kept for `--budget` seconds of training steps after loading
 * and item2vec, and reads the child's peak resident set (`VmHWM`, Linux) while it runs. Prints
 * one JSON line. Takes ~6 minutes on one core.
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ROOT } from "./_server.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string", default: join(Deno.env.get("TMPDIR") ?? "/tmp", "recsimu-paper") },
    sessions: { type: "string", default: "272000" },
    items: { type: "string", default: "1350000" },
    budget: { type: "string", default: "60" },
    "micro-batch": { type: "string", default: "100" },
  },
});
if (Deno.build.os !== "linux") {
  console.error("bench:memory reads /proc/PID/status (Linux only)");
  Deno.exit(2);
}
const logDir = join(a.dir!, `synth-${a.sessions}-${a.items}`);
const log = join(logDir, "log.csv");
const deno = (args: string[], extra: Partial<Deno.CommandOptions> = {}) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    env: { RECSIMU_THREADS: "1" },
    ...extra,
  });
await Deno.mkdir(a.dir!, { recursive: true });
try {
  await Deno.stat(log);
} catch {
  const r = await deno([
    "synth",
    "--sessions",
    a.sessions!,
    "--items",
    a.items!,
    "--min-length",
    "15",
    "--max-length",
    "45",
    "--out",
    logDir,
  ]).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
}
const out = await Deno.makeTempDir({ dir: a.dir, prefix: "model-" });
const t0 = performance.now();
const child = deno([
  "train",
  "--data",
  log,
  "--out",
  out,
  "--min-count",
  "1",
  "--micro-batch",
  a["micro-batch"]!,
  "--time-budget",
  a.budget!,
], { stdout: "null", stderr: "piped" }).spawn();
const stderr = new Response(child.stderr).text();
const vmHwm = async () => {
  try {
    const s = await Deno.readTextFile(`/proc/${child.pid}/status`);
    return Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0);
  } catch {
    return 0; // exited
  }
};
let peakKb = 0;
const poll = setInterval(async () => (peakKb = Math.max(peakKb, await vmHwm())), 200);
const status = await child.status;
clearInterval(poll);
await Deno.remove(out, { recursive: true });
if (!status.success) {
  console.error(await stderr);
  Deno.exit(1);
}
const stats = /rows (\d+) \(kept (\d+)\), sessions (\d+).*items (\d+) -> (\d+)/s.exec(await stderr);
console.log(JSON.stringify({
  bench: "paper_memory",
  rows: Number(stats?.[1]),
  sessions: Number(stats?.[3]),
  items: Number(stats?.[5]),
  train_seconds: Number(a.budget),
  peak_rss_mb: +(peakKb / 1024).toFixed(1),
  wall_s: +((performance.now() - t0) / 1000).toFixed(1),
  deno: Deno.version.deno,
}));
