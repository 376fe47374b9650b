/**
 * `deno task bench:profile`: where the time goes, per tfjs kernel (`tf.profile`), for one call of
 * the benchmarks' workload (`_setup.ts`), as JSON lines: each kernel's total time and count, the
 * matrix products' GFLOP and rate, and the wall time per call (median of 5, unprofiled).
 * `--what pack` instead times one large product with a reused and with a fresh second operand
 * (tfjs-wasm re-packs the second operand of every product it has not seen); `--what phases` the
 * phases of the sequential step (G(s) forward, d-step, g-step; median of 10 steps).
 *
 *   deno run -A bench/profile.ts [--what fused|sequential|infer|pack|phases] [--batch 500] [--threads 1]
 * @module
 */
import { parseArgs } from "node:util";
import { initBackend, tf } from "../lib/tf.ts";
import { batchIndices, disposeBatch, toTensors } from "../lib/data/batches.ts";
import { adversarialStep, fusedAdversarialStep } from "../lib/train/steps.ts";
import { discriminatorProbs } from "../models/recsimu.ts";
import { benchWorkload, N } from "./_setup.ts";
import { median } from "./_stats.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    what: { type: "string", default: "fused" },
    batch: { type: "string" },
    threads: { type: "string" },
  },
});
const info = await initBackend("wasm", {
  quiet: true,
  threads: a.threads ? Number(a.threads) : undefined,
});
const emit = (o: Record<string, unknown>) =>
  console.log(JSON.stringify({ ...o, what: a.what, threads: info.threads, tfjs: info.tfjs }));

if (a.what === "pack") {
  const [m, k, n] = [128, 9500, 384];
  const x = tf.randomUniform([m, k]), w = tf.randomUniform([k, n]);
  for (const fresh of [false, true]) {
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      const b = fresh ? tf.add(w, 0) : w; // a new tensor: XNNPACK packs it anew
      const t0 = performance.now();
      const y = tf.matMul(x, b);
      await y.data();
      times.push(performance.now() - t0);
      y.dispose();
      if (fresh) b.dispose();
    }
    emit({ bench: "matmul_second_operand", shape: [m, k, n], fresh, ms_median: median(times) });
  }
  Deno.exit(0);
}

const { ds, model, trainer, randRows } = await benchWorkload();
const batch = Number(a.batch ?? (a.what === "infer" ? 4096 : 500));
const b = toTensors(batchIndices(ds, randRows(batch)), model.table, N);
const call = async () => {
  if (a.what === "infer") {
    const p = discriminatorProbs(model, b);
    await p.data();
    p.dispose();
  } else if (a.what === "sequential" || a.what === "phases") await adversarialStep(trainer, b);
  else if (a.what === "fused") await fusedAdversarialStep(trainer, b);
  else throw new Error(`--what: fused, sequential, infer, pack or phases, got ${a.what}`);
};
for (let i = 0; i < 3; i++) await call();
if (a.what === "phases") {
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < 10; i++) {
    const phases: Record<string, number> = {};
    const t0 = performance.now();
    await adversarialStep(trainer, b, { phases });
    runs.push({ ...phases, step: performance.now() - t0 });
  }
  const out: Record<string, number> = {};
  for (const k of Object.keys(runs[0]!)) {
    out[`${k}_ms`] = +median(runs.map((r) => r[k]!)).toFixed(1);
  }
  emit({ bench: "phases", batch, ...out });
  Deno.exit(0);
}
const prof = await tf.profile(call);
// "forward" is a custom gradient's forward pass: its kernels are listed on their own too.
const kernels = prof.kernels.filter((k) => k.name !== "forward");
const by = new Map<string, { ms: number; calls: number }>();
let flop = 0, mmMs = 0;
for (const k of kernels) {
  const e = by.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.calls++;
  by.set(k.name, e);
  if (k.name === "BatchMatMul" || k.name === "_FusedMatMul") {
    // [..., M, K] × [..., K, N] (no transposed operands on this path): 2·M·N·K per batch entry.
    const out = k.outputShapes[0] as number[], x = k.inputShapes[0] as number[];
    flop += 2 * out.reduce((p, d) => p * d, 1) * x[x.length - 1]!;
    mmMs += Number(k.kernelTimeMs);
  }
}
const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
for (const [name, e] of [...by].sort((x, y) => y[1].ms - x[1].ms).slice(0, 12)) {
  emit({
    bench: "kernel",
    kernel: name,
    ms: +e.ms.toFixed(2),
    calls: e.calls,
    share: +(e.ms / total).toFixed(3),
  });
}
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await call();
  times.push(performance.now() - t0);
}
emit({
  bench: "profile",
  batch,
  kernels: kernels.length,
  kernel_ms: +total.toFixed(1),
  matmul_gflop: +(flop / 1e9).toFixed(3),
  matmul_ms: +mmMs.toFixed(1),
  matmul_gflop_per_s: +(flop / 1e6 / mmMs).toFixed(1),
  wall_ms_median: +median(times).toFixed(1),
});
disposeBatch(b);
model.dispose();
Deno.exit(0);
