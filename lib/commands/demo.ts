/**
 * `recsimu demo`: the main job on an embedded default — synthetic log → train → evaluate →
 * metrics table — sized to finish in a few minutes on 2 CPU cores.
 * @module
 */
import { join } from "node:path";
import { numFlag, parseFlags } from "./_flags.ts";
import { BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { SYNTH_DEFAULTS, writeSynthLog } from "../data/synth.ts";
import { datasetOptions, formatStats, loadDataset } from "../data/dataset.ts";
import { TRAIN_DEFAULTS, validateConfig } from "../config.ts";
import { finished, trainRecSimu } from "../train/loop.ts";
import { fitBesideModel } from "./train.ts";
import { metricsTable, perClassTable } from "../eval/table.ts";
import { testSetWarnings } from "../eval/evaluate.ts";
import { claimOutputDir, openOutputDir, outputPath } from "../output.ts";

const USAGE = `Usage: recsimu demo [--out DIR] [--overwrite] [flags]

Writes a seeded synthetic log (DIR/log.csv), trains RecSimu on it (DIR/model), evaluates
it on the test tuples and prints the metrics table (stderr) and JSON (stdout).

Flags:
  --out DIR              output folder (default runs/demo): new or empty, or with
                         --overwrite a previous demo output
  --overwrite            replace a previous demo output in --out
  --seed S               root seed (default 0)
  --sessions N           sessions in the synthetic log (default 1000)
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no progress output (the tables and JSON still print)`;

/** One paragraph on how to read the demo's numbers (printed after the tables). */
const DEMO_READING = `
How to read this: F1, precision, recall and accuracy score the most likely label against the
logged one; AUC ranks P(positive) (1.0 perfect, 0.5 chance). "logloss" is RecSimu's over the
three labels (skip, click, purchase) but item_rate's over positive vs rest, since it predicts only
P(positive): the two are not comparable. "ll(pos)" is every scorer's binary log-loss of
P(positive), lower is better: compare that column.`;

/** Entry point of `recsimu demo`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("demo", argv, {
    out: { type: "string" },
    overwrite: { type: "boolean" },
    seed: { type: "string" },
    sessions: { type: "string" },
    backend: { type: "string" },
    quiet: { type: "boolean" },
  }, USAGE);
  if (!v) return;
  const given = typeof v.out === "string" ? v.out : "runs/demo";
  const seed = numFlag("seed", v.seed, 0, { integer: true, min: 0 });
  const sessions = numFlag("sessions", v.sessions, 1000, { integer: true, min: 10 });
  const backend = parseBackend(v.backend);
  const quiet = !!v.quiet;
  const dir = outputPath("--out", given);
  const replace = await claimOutputDir(dir, {
    flag: "--out",
    kind: "demo",
    overwrite: !!v.overwrite,
  });
  await openOutputDir(dir, "demo", ["log.csv", "model"], { replace });
  await initBackend(backend, { quiet });
  const log = join(dir, "log.csv");
  const t0 = performance.now();
  const s = await writeSynthLog(log, { ...SYNTH_DEFAULTS, seed, sessions });
  if (!quiet) {
    console.error(
      `synth: ${s.sessions} sessions, ${s.rows} rows, positive ${
        (100 * s.positiveRate).toFixed(1)
      }% -> ${join(given, "log.csv")}`,
    );
  }
  const config = validateConfig({
    ...TRAIN_DEFAULTS,
    seed,
    epochs: 3,
    preGEpochs: 1,
    preDEpochs: 1,
  });
  const ds = await loadDataset(log, datasetOptions(config));
  if (!quiet) console.error(formatStats(ds));
  const r = finished(await trainRecSimu(ds, config, { out: join(dir, "model"), quiet }));
  // The leave, support and structured user models, as `recsimu train` fits them: the demo model
  // serves `--leave learned`, `--support-penalty` and `--user-model glm` too.
  await fitBesideModel(join(dir, "model"), ds, config, r);
  console.error(`\nRecSimu vs item baselines on the test tuples (last tuple of each session):`);
  console.error(metricsTable({ recsimu: r.test, ...r.baselines }));
  const warnings = testSetWarnings(ds, ds.test); // a too-small test set (e.g. --sessions 10)
  for (const w of warnings) console.error(`warning: ${w}`);
  console.error(`\nper label (recsimu):\n${perClassTable(r.test)}`);
  console.error(DEMO_READING);
  console.error(
    `\nmodel: ${join(given, "model")}   total ${((performance.now() - t0) / 1000).toFixed(1)}s`,
  );
  console.log(
    JSON.stringify({
      model: join(given, "model"),
      seed,
      seconds: r.seconds,
      recsimu: r.test,
      baselines: r.baselines,
      warnings,
    }),
  );
  r.model.dispose();
}
