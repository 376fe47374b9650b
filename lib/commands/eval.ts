/**
 * `recsimu eval --model DIR [--data LOG.csv]`: feedback-prediction metrics of a trained
 * simulator on the test tuples (the last tuple of every session), with the item baselines.
 * JSON on stdout, a table on stderr.
 * @module
 */
import { parseFlags, requireFlag } from "./_flags.ts";
import { backendInfo, type BackendName, initBackend } from "../tf.ts";
import { loadDataset } from "../data/dataset.ts";
import { Simulator } from "../sim/simulator.ts";
import { evaluateModel, itemBaselines } from "../eval/evaluate.ts";
import { metricsTable, perClassTable } from "../eval/table.ts";
import { writeFileAtomic } from "../atomic.ts";
import { join } from "node:path";

const USAGE =
  `Usage: recsimu eval --model DIR [--data LOG.csv] [--backend auto|webgpu|wasm|cpu] [--save]

Evaluates the simulator in DIR on the test tuples of LOG.csv (default: the log it was
trained on), prints JSON on stdout and a table on stderr; --save also writes DIR/metrics.json.`;

/** Entry point of `recsimu eval`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("eval", argv, {
    model: { type: "string" },
    data: { type: "string" },
    backend: { type: "string" },
    save: { type: "boolean" },
  }, USAGE);
  if (!v) return;
  const dir = requireFlag("eval", "model", v.model);
  await initBackend((v.backend ?? "auto") as BackendName);
  const sim = await Simulator.load(dir);
  const meta = sim.meta;
  const data = typeof v.data === "string" ? v.data : meta.data.file;
  const ds = await loadDataset(data, {
    stateLength: meta.config.stateLength,
    minStateLength: meta.config.minStateLength,
    vocabulary: { items: sim.items, labels: sim.labels, positive: sim.positive },
  });
  const t0 = performance.now();
  const test = await evaluateModel(sim.model, ds, ds.test);
  const baselines = itemBaselines(ds, ds.test);
  const result = {
    model: dir,
    data,
    fingerprint: ds.fingerprint,
    split: "test",
    seed: meta.config.seed,
    config: meta.config,
    backend: backendInfo()?.name,
    versions: meta.versions,
    seconds: (performance.now() - t0) / 1000,
    recsimu: test,
    baselines,
  };
  console.error(metricsTable({ recsimu: test, ...baselines }));
  console.error(`\nper label (recsimu):\n${perClassTable(test)}`);
  console.log(JSON.stringify(result));
  if (v.save) await writeFileAtomic(join(dir, "metrics.json"), JSON.stringify(result, null, 2));
  sim.dispose();
}
