/**
 * `recsimu demo`: the main job on an embedded default — synthetic log → train → evaluate →
 * metrics table — sized to finish in a few minutes on 2 CPU cores.
 * @module
 */
import { join } from "node:path";
import { numFlag, parseFlags } from "./_flags.ts";
import { type BackendName, initBackend } from "../tf.ts";
import { SYNTH_DEFAULTS, writeSynthLog } from "../data/synth.ts";
import { formatStats, loadDataset } from "../data/dataset.ts";
import { TRAIN_DEFAULTS, validateConfig } from "../config.ts";
import { finished, trainRecSimu } from "../train/loop.ts";
import { metricsTable } from "../eval/table.ts";

const USAGE = `Usage: recsimu demo [--out DIR] [--seed S] [--sessions N] [--backend B]

Writes a seeded synthetic log (DIR/log.csv), trains RecSimu on it (DIR/model), evaluates
it on the test tuples and prints the metrics table (stderr) and JSON (stdout).
Default DIR: runs/demo.`;

/** Entry point of `recsimu demo`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("demo", argv, {
    out: { type: "string" },
    seed: { type: "string" },
    sessions: { type: "string" },
    backend: { type: "string" },
  }, USAGE);
  if (!v) return;
  const dir = typeof v.out === "string" ? v.out : "runs/demo";
  const seed = numFlag("seed", v.seed, 0, { integer: true, min: 0 });
  const sessions = numFlag("sessions", v.sessions, 1000, { integer: true, min: 10 });
  await initBackend((v.backend ?? "auto") as BackendName);
  const log = join(dir, "log.csv");
  const t0 = performance.now();
  const s = await writeSynthLog(log, { ...SYNTH_DEFAULTS, seed, sessions });
  console.error(
    `synth: ${s.sessions} sessions, ${s.rows} rows, positive ${
      (100 * s.positiveRate).toFixed(1)
    }% -> ${log}`,
  );
  const config = validateConfig({
    ...TRAIN_DEFAULTS,
    seed,
    epochs: 3,
    preGEpochs: 1,
    preDEpochs: 1,
  });
  const ds = await loadDataset(log, {
    stateLength: config.stateLength,
    minCount: config.minCount,
    positive: config.positive,
  });
  console.error(formatStats(ds));
  const r = finished(await trainRecSimu(ds, config, { out: join(dir, "model") }));
  console.error(`\nRecSimu vs item baselines on the test tuples (last tuple of each session):`);
  console.error(metricsTable({ recsimu: r.test, ...r.baselines }));
  console.error(
    `\nmodel: ${join(dir, "model")}   total ${((performance.now() - t0) / 1000).toFixed(1)}s`,
  );
  console.log(
    JSON.stringify({
      model: join(dir, "model"),
      seed,
      seconds: r.seconds,
      recsimu: r.test,
      baselines: r.baselines,
    }),
  );
  r.model.dispose();
}
