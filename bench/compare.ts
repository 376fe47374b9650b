/**
 * `deno task bench:compare`: runs this project's bench and the PyTorch reference
 * (`../shared/anchors/torch/bench.sh`) alternately on the same machine, then prints each run's
 * figures and the ratios as JSON lines: each round's ratio (ours and the reference measured one
 * after the other), their median, min and max, and the ratio of the medians. Medians are true
 * medians (the mean of the middle two for an even count); an odd round count is best.
 *
 *   deno run -A bench/compare.ts [--rounds 3] [--threads 2] [--reference ../shared/anchors/torch/bench.sh]
 * @module
 */
import { parseArgs } from "node:util";
import { median } from "./_stats.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    threads: { type: "string", default: "2" },
    reference: {
      type: "string",
      default: new URL("../../shared/anchors/torch/bench.sh", import.meta.url).pathname,
    },
  },
});

type Row = Record<string, unknown> & { bench: string };

async function runLines(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Row[]> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit", env })
    .output();
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${out.code}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.startsWith("{")).map((
    l,
  ) => JSON.parse(l));
}

const r3 = (x: number) => +x.toFixed(3);
/** Per-round ratios a_i / b_i (rounds in order) and their median, min and max. */
const perRound = (as: number[], bs: number[]) => {
  const q = as.map((x, i) => x / bs[i]!);
  return {
    round_ratios: q.map(r3),
    median_round_ratio: r3(median(q)),
    min_round_ratio: r3(Math.min(...q)),
    max_round_ratio: r3(Math.max(...q)),
  };
};
const ours: Row[] = [], ref: Row[] = [];
for (let r = 0; r < Number(a.rounds); r++) {
  const o = await runLines(Deno.execPath(), [
    "run",
    "-A",
    new URL("./bench.ts", import.meta.url).pathname,
    "--threads",
    a.threads!,
    "--only",
    "train",
  ]);
  const oi = await runLines(Deno.execPath(), [
    "run",
    "-A",
    new URL("./bench.ts", import.meta.url).pathname,
    "--threads",
    a.threads!,
    "--only",
    "infer",
  ]);
  const t = await runLines("bash", [a.reference!, a.threads!]);
  for (const x of [...o, ...oi]) console.log(JSON.stringify({ round: r, impl: "recsimu", ...x }));
  for (const x of t) console.log(JSON.stringify({ round: r, impl: "torch", ...x }));
  ours.push(...o, ...oi);
  ref.push(...t);
}
const torchGflops = ref.filter((x) => x.bench === "train_adv_step").map((x) =>
  Number(x.gflops_achieved)
);
if (torchGflops.length && Math.max(...torchGflops) < 10) {
  console.error(
    "bench:compare: warning — the reference reached under 10 GFLOP/s: its BLAS is probably Debian's " +
      "reference libblas3; install libopenblas0-pthread for a fair comparison (see docs/performance.md)",
  );
}
const pick = (rows: Row[], bench: string, key: string, where: Record<string, unknown> = {}) =>
  rows.filter((x) => x.bench === bench && Object.entries(where).every(([k, v]) => x[k] === v)).map((
    x,
  ) => Number(x[key]));
const refSteps = pick(ref, "train_adv_step", "ms_per_step");
for (const update of ["sequential", "fused"]) {
  const steps = pick(ours, "train_adv_step", "ms_per_step", { update });
  const ms = median(steps), refStep = median(refSteps);
  console.log(
    JSON.stringify({
      compare: "train_adv_step",
      update,
      threads: Number(a.threads),
      recsimu_ms: r3(ms),
      torch_ms: r3(refStep),
      time_ratio: r3(ms / refStep),
      ...perRound(steps, refSteps),
    }),
  );
}
for (const batch of [1, 64, 4096]) {
  const os = pick(ours, "d_inference", "predictions_per_s", { batch });
  const ts = pick(ref, "d_inference", "predictions_per_s", { batch });
  const o = median(os), t = median(ts);
  console.log(
    JSON.stringify({
      compare: "d_inference",
      batch,
      recsimu_per_s: r3(o),
      torch_per_s: r3(t),
      throughput_ratio: r3(o / t),
      ...perRound(os, ts),
    }),
  );
}
