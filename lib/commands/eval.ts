/**
 * `recsimu eval --model DIR [--data LOG.csv]`: feedback-prediction metrics of a trained
 * simulator on the test tuples (the last tuple of every session), with the item baselines.
 * JSON on stdout, a table on stderr.
 * @module
 */
import { parseFlags, requireFlag } from "./_flags.ts";
import { backendInfo, BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { loadDataset, splitOptions } from "../data/dataset.ts";
import { Simulator } from "../sim/simulator.ts";
import { evaluateCalibrated, itemBaselines, testSetWarnings } from "../eval/evaluate.ts";
import { metricsTable, perClassTable } from "../eval/table.ts";
import { assertCheckpointDir, updateCheckpointFile } from "../train/checkpoint.ts";

const USAGE = `Usage: recsimu eval --model DIR [flags]

Evaluates the simulator in DIR on the test tuples of LOG.csv (default: the log it was
trained on), prints JSON on stdout and a table on stderr.

Flags:
  --model DIR            trained simulator checkpoint (required)
  --data FILE            the log to evaluate on (default: the one it was trained on)
  --save                 also write DIR/metrics.json (recsimu's own file in the checkpoint)
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no backend line or tables on stderr (the JSON still prints)`;

/** Entry point of `recsimu eval`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("eval", argv, {
    model: { type: "string" },
    data: { type: "string" },
    backend: { type: "string" },
    save: { type: "boolean" },
    quiet: { type: "boolean" },
  }, USAGE);
  if (!v) return;
  const dir = requireFlag("eval", "model", v.model);
  const backend = parseBackend(v.backend);
  await assertCheckpointDir(dir); // before the backend line: a wrong path says only that
  const quiet = !!v.quiet;
  await initBackend(backend, { quiet });
  const sim = await Simulator.load(dir);
  const meta = sim.meta;
  const data = typeof v.data === "string" ? v.data : meta.data.file;
  const ds = await loadDataset(data, {
    stateLength: meta.config.stateLength,
    minStateLength: meta.config.minStateLength,
    ...splitOptions(meta.config), // a model trained with --split users is tested on its users
    vocabulary: { items: sim.items, labels: sim.labels, positive: sim.positive },
    rareItems: sim.answersUnknownItems, // the default model answers items it has no vector for
  });
  const t0 = performance.now();
  // The checkpoint's calibration (T = 1 without one), with the test figures before and after it.
  const evaluated = await evaluateCalibrated(sim.model, ds, ds.test, sim.calibration);
  const test = evaluated.metrics;
  const calibration = {
    method: meta.calibration?.method ?? "none",
    temperature: sim.temperature,
    ...(meta.calibration?.bias ? { bias: meta.calibration.bias } : {}),
    ...(meta.calibration ? { validation: meta.calibration.validation } : {}),
    test: evaluated.calibration,
  };
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
    calibration,
    warnings: testSetWarnings(ds, ds.test),
  };
  if (!quiet) {
    console.error(metricsTable({ recsimu: test, ...baselines }));
    console.error(`\nper label (recsimu):\n${perClassTable(test)}`);
  }
  // A too-small test set: printed under --quiet too (a warning is not progress).
  for (const w of result.warnings) console.error(`warning: ${w}`);
  console.log(JSON.stringify(result));
  if (v.save) await updateCheckpointFile(dir, "metrics.json", JSON.stringify(result, null, 2));
  sim.dispose();
}
