/**
 * `recsimu experiment --data LOG.csv --out DIR [--suite S] [--seeds 5] [training flags]`:
 * the paper's experiments (Figures 6–8, Table 1) over seeds, resumable, with
 * `DIR/results.json` and `DIR/report.html`.
 * @module
 */
import { numFlag, parseFlags, requireFlag } from "./_flags.ts";
import { configFromFlags, DATA_RUN_FLAGS, TRAIN_FLAGS, TRAIN_FLAGS_HELP } from "./train.ts";
import { listenForStop } from "./_signals.ts";
import { BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { formatStats, loadDataset } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import { parseSuites, runExperiment, SENSITIVITY_GRID } from "../experiment/mod.ts";
import { TABLE1_K } from "../eval/generator_quality.ts";
import { claimOutputDir, outputPath } from "../output.ts";

const USAGE = `Usage: recsimu experiment --data LOG.csv --out DIR [flags]

Runs the paper's experiments on a log, each configuration once per seed:
  overall       Figure 6: Random, item_rate, LR, GRU, GAN, GAN-s and RecSimu (F1, AUC)
  ablation      Figure 7: RecSimu-1, RecSimu-2 (beta 0), RecSimu-3 and RecSimu
  sensitivity   Figure 8: RecSimu over N in {${SENSITIVITY_GRID.stateLength.join(",")}} and
                lambda in {${SENSITIVITY_GRID.lambda.join(",")}}
  generator     Table 1: Logs, popularity, FM, W&D, GRU4Rec and RecSimu's generator (MAP, NDCG@${TABLE1_K})
Each finished run is appended to DIR/results.json; the same command with --resume skips
finished runs (RecSimu runs continue from their last epoch). DIR/report.html (self-contained)
is rewritten after every run. SIGINT/SIGTERM stop the experiment (a baseline at its next
step, a RecSimu run at the end of its epoch, with a checkpoint); --resume continues.
RecSimu runs use the paper's networks (--arch paper) unless --arch attn is given, and
--calibrate temperature unless --calibrate says otherwise.
See docs/experiments.md.

Flags:
  --data FILE            the log (required)
  --out DIR              results folder (required): new or empty, or with --resume /
                         --overwrite a previous experiment's folder
  --resume               continue the experiment in --out (same data and flags)
  --overwrite            start over, replacing the experiment in --out
  --suite S              overall | ablation | sensitivity | generator | all, or a comma list
                         (default all)
  --seeds K              seeds per configuration: --seed, --seed + 1, … (default 5)
  --state-lengths LIST   Figure 8a grid (default ${SENSITIVITY_GRID.stateLength.join(",")})
  --lambdas LIST         Figure 8b grid (default ${SENSITIVITY_GRID.lambda.join(",")})
  --held-out F           Table 1: share of sessions held out (default 0.2)
  --embeddings FILE      item embeddings CSV (item_id,v1,...,vE) instead of item2vec
  --keep-checkpoints     keep each RecSimu run's checkpoint in DIR/checkpoints/
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no training progress bars (run lines and ETA still print)
${TRAIN_FLAGS_HELP}`;

function numberList(name: string, v: string | boolean | undefined, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  if (typeof v !== "string") throw new UserError(`--${name}: expected a comma-separated list`);
  const xs = v.split(",").map((s) => s.trim()).filter(Boolean).map((s) =>
    numFlag(name, s, NaN, { min: 0 })
  );
  if (xs.length === 0) throw new UserError(`--${name}: expected at least one number`);
  return xs;
}

const FLAGS = {
  ...DATA_RUN_FLAGS,
  suite: { type: "string" },
  seeds: { type: "string" },
  "state-lengths": { type: "string" },
  lambdas: { type: "string" },
  "held-out": { type: "string" },
  "keep-checkpoints": { type: "boolean" },
  ...TRAIN_FLAGS,
} as const;

/** The parsed flags of `recsimu experiment`. */
export type ExperimentFlags = Partial<Record<keyof typeof FLAGS, string | boolean | undefined>>;

/** Entry point of `recsimu experiment`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("experiment", argv, FLAGS, USAGE);
  if (!v) return;
  const data = requireFlag("experiment", "data", v.data);
  const outGiven = requireFlag("experiment", "out", v.out);
  const plan = planFlags(v);
  const backend = parseBackend(v.backend);
  if (v.resume && v.overwrite) throw new UserError("--resume and --overwrite exclude each other");
  const out = outputPath("--out", outGiven);
  const exists = await claimOutputDir(out, {
    flag: "--out",
    kind: "experiment",
    resume: !!v.resume,
    overwrite: !!v.overwrite,
    inputs: [data, ...(typeof v.embeddings === "string" ? [v.embeddings] : [])],
  });
  await initBackend(backend, { quiet: !!v.quiet });
  const stop = listenForStop("experiment");
  let printedStats = false;
  try {
    const r = await runExperiment({
      out,
      replace: exists && !!v.overwrite,
      suites: plan.suites,
      seeds: plan.seeds,
      config: plan.config,
      load: async (o) => {
        const ds = await loadDataset(data, o);
        if (!v.quiet && !printedStats) console.error(formatStats(ds));
        printedStats = true;
        return ds;
      },
      embeddingsFile: typeof v.embeddings === "string" ? v.embeddings : undefined,
      grid: plan.grid,
      heldOut: plan.heldOut,
      keepCheckpoints: !!v["keep-checkpoints"],
      quiet: !!v.quiet,
      shouldStop: () => stop.requested,
    });
    console.error(
      `recsimu experiment: ${r.ran.length} runs done, ${r.skipped.length} skipped (already finished)${
        r.stopped ? "; stopped early — run again with --resume to continue" : ""
      }\n  results: ${outGiven}/results.json\n  report:  ${outGiven}/report.html`,
    );
    console.log(
      JSON.stringify({
        out: outGiven,
        ran: r.ran.length,
        skipped: r.skipped.length,
        stopped: r.stopped,
      }),
    );
  } finally {
    stop.dispose();
  }
}

/** Flags -> what to run: suites, seeds, the sensitivity grid, the held-out share and config. */
export function planFlags(v: ExperimentFlags) {
  const suites = parseSuites(typeof v.suite === "string" ? v.suite : "all");
  const seeds = numFlag("seeds", v.seeds, 5, { integer: true, min: 1 });
  const stateLengths = numberList("state-lengths", v["state-lengths"], [
    ...SENSITIVITY_GRID.stateLength,
  ]);
  if (stateLengths.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UserError(
      `--state-lengths: expected positive integers, got ${stateLengths.join(",")}`,
    );
  }
  const lambdas = numberList("lambdas", v.lambdas, [...SENSITIVITY_GRID.lambda]);
  const heldOut = numFlag("held-out", v["held-out"], 0.2, { min: 0.01, max: 0.99 });
  // The paper's figures come from the paper's networks unless --arch says otherwise, and from a
  // temperature alone unless --calibrate does: a bias could move the arg-max, and so F1.
  const config = configFromFlags({
    ...v,
    arch: v.arch ?? "paper",
    calibrate: v.calibrate ?? "temperature",
  });
  return {
    suites,
    seeds,
    config,
    grid: { stateLength: stateLengths, lambda: lambdas },
    heldOut,
  };
}
