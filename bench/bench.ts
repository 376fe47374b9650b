/**
 * `deno task bench`: training and inference throughput in the PyTorch reference's shapes
 * (batch 500, N 20, hidden 128, |E| 20, |F| 10, K 2, 10 000 items), one JSON line per figure.
 *
 *   deno run -A bench/bench.ts [--steps 20] [--warmup 5] [--min-seconds 3] [--backend wasm]
 *                              [--threads 1,2] [--only train|infer|i2v]
 * @module
 */
import { parseArgs } from "node:util";
import { initBackend, tf } from "../lib/tf.ts";
import { batchIndices, disposeBatch, toTensors } from "../lib/data/batches.ts";
import { adversarialStep, fusedAdversarialStep } from "../lib/train/steps.ts";
import { discriminatorProbs } from "../models/recsimu.ts";
import { trainItem2Vec } from "../lib/embeddings/item2vec.ts";
import { B, benchWorkload, N } from "./_setup.ts";
import { median } from "./_stats.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "20" },
    warmup: { type: "string", default: "5" },
    "min-seconds": { type: "string", default: "3" },
    backend: { type: "string", default: "wasm" },
    threads: { type: "string" },
    only: { type: "string" },
  },
});
const steps = Number(a.steps), warmup = Number(a.warmup), minSeconds = Number(a["min-seconds"]);
const info = await initBackend(a.backend as "wasm", {
  quiet: true,
  threads: a.threads ? Number(a.threads) : undefined,
});
let peakRss = Deno.memoryUsage().rss;
const sample = () => (peakRss = Math.max(peakRss, Deno.memoryUsage().rss));
const emit = (o: Record<string, unknown>) =>
  console.log(
    JSON.stringify({
      ...o,
      backend: info.name,
      threads: info.threads,
      tfjs: info.tfjs,
      deno: info.deno,
    }),
  );

const { ds, model, trainer, randRows } = await benchWorkload();

if (!a.only || a.only === "train") {
  for (
    const [name, step] of [["sequential", adversarialStep], [
      "fused",
      fusedAdversarialStep,
    ]] as const
  ) {
    for (let i = 0; i < warmup; i++) {
      const b = toTensors(batchIndices(ds, randRows(B)), model.table, N);
      await step(trainer, b);
      disposeBatch(b);
    }
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      const b = toTensors(batchIndices(ds, randRows(B)), model.table, N); // batch assembly included
      await step(trainer, b);
      disposeBatch(b);
      times.push(performance.now() - t0);
      sample();
    }
    const ms = times.reduce((x, y) => x + y, 0) / times.length;
    emit({
      bench: "train_adv_step",
      update: name,
      batch: B,
      N,
      steps,
      ms_per_step: +ms.toFixed(2),
      ms_median: +median(times).toFixed(2),
      samples_per_s: +(B / (ms / 1000)).toFixed(1),
    });
  }
}

if (!a.only || a.only === "infer") {
  for (const bs of [1, 64, 4096]) {
    const b = toTensors(batchIndices(ds, randRows(bs)), model.table, N);
    for (let i = 0; i < 3; i++) discriminatorProbs(model, b).dispose();
    let n = 0;
    const t0 = performance.now();
    let el = 0;
    while (el < minSeconds * 1000 || n < 5) {
      const p = discriminatorProbs(model, b);
      await p.data();
      p.dispose();
      n++;
      el = performance.now() - t0;
    }
    sample();
    emit({
      bench: "d_inference",
      batch: bs,
      calls: n,
      ms_per_call: +(el / n).toFixed(3),
      predictions_per_s: +((bs * n) / (el / 1000)).toFixed(1),
    });
    disposeBatch(b);
  }
}

if (!a.only || a.only === "i2v") {
  const r = await trainItem2Vec(ds, { maxPairs: 400_000, seed: 0 });
  sample();
  emit({
    bench: "item2vec",
    pairs: Math.min(r.pairs, 400_000),
    seconds: +r.seconds.toFixed(2),
    pairs_per_s: +(Math.min(r.pairs, 400_000) / r.seconds).toFixed(0),
  });
}
const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer
  .byteLength;
emit({
  bench: "memory",
  peak_rss_mb: +(peakRss / 2 ** 20).toFixed(1),
  wasm_heap_mb: heap ? +(heap / 2 ** 20).toFixed(1) : null,
  tensors: tf.memory().numTensors,
});
model.dispose();
Deno.exit(0);
