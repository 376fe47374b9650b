/**
 * `recsimu fidelity --model DIR --truth WORLD_DIR [flags]`: judges a trained simulator against
 * a known-truth world (`recsimu synth --truth`): prediction fidelity on the world's held-out
 * cases and policy-ranking fidelity on its reference policies. JSON on stdout, a table and
 * progress on stderr, `--out` written atomically.
 * @module
 */
import { numFlag, parseFlags, requireFlag } from "./_flags.ts";
import { BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { Simulator } from "../sim/simulator.ts";
import { writeFileAtomic } from "../atomic.ts";
import { claimReportFile } from "../output.ts";
import { assertCheckpointDir } from "../train/checkpoint.ts";
import { type JudgeOptions, judgeTruth } from "../fidelity/judge.ts";
import { loadTruthDir } from "../fidelity/truth_dir.ts";
import { fidelityTable } from "../fidelity/table.ts";

/** The `kind` field that marks a JSON report written by `recsimu fidelity`. */
export const FIDELITY_REPORT_KIND = "recsimu-fidelity-report";

const USAGE = `Usage: recsimu fidelity --model DIR --truth WORLD_DIR [flags]

Judges the simulator in DIR against the known-truth world in WORLD_DIR (written by
recsimu synth --truth): on the world's held-out cases, how its probabilities compare with
the sampled labels and the TRUE probabilities (AUC, log-loss, Brier, ECE, KL; the truth's
own and an item-popularity score beside it); and, playing the world's reference policies in
the simulator, how their simulated returns and ranking compare with the true ones.
JSON on stdout, a table and progress on stderr.

Flags:
  --model DIR            trained simulator checkpoint (required)
  --truth WORLD_DIR      known-truth world folder: log.csv and truth/ (required)
  --rollouts R           rollouts per start state (default: the world's, in policies.json)
  --start-states S       use the first S start states (default: the world's)
  --seed S               root seed of the policy episodes (default: the world's, so the
                         episodes are those the true values were estimated from)
  --bins B               equal-width bins of the calibration errors (default 10)
  --out FILE             also write the JSON report to FILE (atomically): a new file, or
                         with --overwrite a previous fidelity report
  --overwrite            replace a previous fidelity report in --out
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no progress or table on stderr`;

const FLAGS = {
  model: { type: "string" },
  truth: { type: "string" },
  rollouts: { type: "string" },
  "start-states": { type: "string" },
  seed: { type: "string" },
  bins: { type: "string" },
  out: { type: "string" },
  overwrite: { type: "boolean" },
  backend: { type: "string" },
  quiet: { type: "boolean" },
} as const;

type Flags = Record<keyof typeof FLAGS, string | boolean | undefined>;

/** Entry point of `recsimu fidelity`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("fidelity", argv, FLAGS, USAGE);
  if (!v) return;
  const dir = requireFlag("fidelity", "model", v.model);
  const truthDir = requireFlag("fidelity", "truth", v.truth);
  const backend = parseBackend(v.backend);
  const quiet = !!v.quiet;
  const out = await claimReportFile(v.out, {
    overwrite: !!v.overwrite,
    kind: FIDELITY_REPORT_KIND,
    what: "a recsimu fidelity report",
  });
  // The world and the model are checked before the backend starts: a wrong path says only that.
  const truth = await loadTruthDir(truthDir);
  const options = judgeFlags(v, truth.starts.length, quiet);
  await assertCheckpointDir(dir);
  await initBackend(backend, { quiet });
  const sim = await Simulator.load(dir);
  try {
    const report = await judgeTruth(sim, truth, options);
    const json = JSON.stringify({ kind: FIDELITY_REPORT_KIND, model: dir, ...report });
    if (!quiet) console.error(fidelityTable(report));
    console.log(json);
    if (out) await writeFileAtomic(out, json + "\n");
  } finally {
    sim.dispose();
  }
}

/** Flags -> the judge's options; a bad value is a {@link UserError} naming the flag. */
function judgeFlags(v: Flags, starts: number, quiet: boolean): JudgeOptions {
  const int = (name: keyof Flags, min: number, max?: number) =>
    v[name] === undefined ? undefined : numFlag(name, v[name], NaN, { integer: true, min, max });
  return {
    rollouts: int("rollouts", 1, 100_000),
    startStates: int("start-states", 1, starts),
    seed: int("seed", 0, 2 ** 31 - 1),
    bins: int("bins", 1, 1000),
    quiet,
  };
}
