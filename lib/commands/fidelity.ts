/**
 * `recsimu fidelity --model DIR (--truth WORLD_DIR | --log LOG.csv) [flags]`: judges a trained
 * simulator. Against a known-truth world (`recsimu synth --truth`): prediction fidelity on the
 * world's held-out cases and policy-ranking fidelity on its reference policies. On a real log:
 * the users its training held out (`train --split users`), every tuple asked, beside baselines
 * fitted on the same training users, with a replay check and, when the checkpoint has a learned
 * leave model, its leave prediction and simulated vs logged session lengths. JSON on stdout, a
 * table and progress on stderr, `--out` (JSON) and `--report` (HTML) written atomically.
 * @module
 */
import { resolve } from "node:path";
import {
  numFlag,
  parseFlags,
  requireFlag,
  requireSupport,
  USER_MODEL_HELP,
  userModelFlag,
} from "./_flags.ts";
import { type TrainedAgentPolicy, trainedAgentPolicy } from "./_agent_truth.ts";
import { BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { UserError } from "../errors.ts";
import { Simulator } from "../sim/simulator.ts";
import { parseRewards } from "../sim/reward.ts";
import type { RealScoreMode } from "../sim/types.ts";
import { chooseUserModel, type UserModelRequest } from "../sim/user_model.ts";
import { writeFileAtomic } from "../atomic.ts";
import { claimOutputFile, claimReportFile, outputPath } from "../output.ts";
import { assertCheckpointDir, loadCheckpointMeta } from "../train/checkpoint.ts";
import { loadLeaveModel } from "../sim/leave.ts";
import { type JudgeOptions, judgeTruth } from "../fidelity/judge.ts";
import { judgeLog, type LogJudgeOptions } from "../fidelity/log_judge.ts";
import {
  DEFAULT_SESSION_MAX_STEPS,
  DEFAULT_SESSION_SIMS_CAP,
} from "../fidelity/session_fidelity.ts";
import { LOG_BASELINES, type LogBaseline } from "../fidelity/log_baselines.ts";
import { requireUsersSplit } from "../fidelity/held_out.ts";
import { loadTruthDir } from "../fidelity/truth_dir.ts";
import { fidelityTable, logFidelityTable } from "../fidelity/table.ts";
import { FIDELITY_HTML_MARKER, logReportHtml, truthReportHtml } from "../fidelity/html_report.ts";

/**
 * The baselines `--truth` scores unless `--baselines` says otherwise: not `gru`, whose fit is
 * most of the cost (on a 2,000-session world it made the judge 2.6x slower, 39 s -> 103 s;
 * item_rate and lr add ~5 s).
 */
export const TRUTH_BASELINES: readonly LogBaseline[] = ["item_rate", "lr"];

/** The `kind` field that marks a JSON report written by `recsimu fidelity`. */
export const FIDELITY_REPORT_KIND = "recsimu-fidelity-report";

const USAGE = `Usage: recsimu fidelity --model DIR (--truth WORLD_DIR | --log LOG.csv) [flags]

Judges the simulator in DIR.

With --truth, against the known-truth world in WORLD_DIR (written by recsimu synth
--truth): on the world's held-out cases, how its probabilities compare with the sampled
labels and the TRUE probabilities (AUC, log-loss, Brier, ECE, KL; the truth's own and an
item-popularity score and baselines fitted on the world's log.csv as the model's training
read it beside it); and, playing the world's reference policies in the simulator, how their
simulated returns and ranking compare with the true ones.

With --log, on the log it was trained on with --split users: every tuple of the held-out
users is asked; AUC, log-loss and ECE per label and of P(positive), beside baselines fitted
on the same training users; a replay check of each held-out session's logged return
against the simulator's expected return for the same actions; and, when the model has a
learned leave model, its AUC on the held-out sessions' ends and their logged vs simulated
lengths (sessions).

JSON on stdout, a table and progress on stderr.

Flags:
  --model DIR            trained simulator checkpoint (required)
  --truth WORLD_DIR      known-truth world folder: log.csv and truth/
  --log FILE             the log the model was trained on (--split users)
  --baselines B          item_rate,lr,gru or a part of it, or none (default: --log
                         item_rate,lr,gru; --truth ${TRUTH_BASELINES.join(",")})
  --reward SPEC          --log: LABEL=NUMBER,... of the replay check (default: positive
                         labels 1, others 0)
  --rollouts R           --truth: rollouts per start state (default: the world's)
  --start-states S       --truth: use the first S start states (default: the world's)
  --seed S               --truth: root seed of the policy episodes (default: the world's,
                         so the episodes are those the true values were estimated from);
                         --log: root seed of the simulated sessions (default 0)
  --posterior-particles M
                         --truth: users drawn from the world's prior for the observable
                         ceiling (prediction.*.posterior: the best any model of the log can
                         answer, as the truth knows each user's latent); 0 skips it
                         (default 2000)
  --session-sims N       --log: sessions simulated for the length distribution (default:
                         the held-out sessions, at most ${DEFAULT_SESSION_SIMS_CAP}; 0 skips them)
  --session-max-steps S  --log: cut a simulated session after S steps (default ${DEFAULT_SESSION_MAX_STEPS})
  --uncertainty-penalty L
                         --truth: lower each simulated step's reward by L x the answer's
                         spread, as serve --uncertainty-penalty does (default 0)
  --support-penalty M    --truth: lower each simulated step's reward by M x max(0, -support),
                         as serve --support-penalty does (default 0)
  --agent-episodes N     --truth: also train recsimu agent's REINFORCE agent in the simulator
                         for N episodes (the world's horizon and rewards, the penalties above)
                         and play its greedy policy in the simulator and in the TRUE world
                         (the report's agent: both returns, its rank among the reference
                         policies); 0 skips it (default 0)
  --agent-seed S         --truth: root seed of that agent (default 0)
  --bins B               equal-width bins of the calibration errors (default 10)
  --out FILE             also write the JSON report to FILE (atomically): a new file, or
                         with --overwrite a previous fidelity report
  --report FILE          also write an offline HTML report (reliability diagram; with
                         --truth the true vs simulated policy returns): a new file, or with
                         --overwrite a previous fidelity HTML report
  --overwrite            replace previous fidelity reports in --out and --report
${USER_MODEL_HELP}
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no progress or table on stderr`;

const FLAGS = {
  model: { type: "string" },
  truth: { type: "string" },
  log: { type: "string" },
  baselines: { type: "string" },
  reward: { type: "string" },
  rollouts: { type: "string" },
  "start-states": { type: "string" },
  seed: { type: "string" },
  "session-sims": { type: "string" },
  "posterior-particles": { type: "string" },
  "session-max-steps": { type: "string" },
  bins: { type: "string" },
  "uncertainty-penalty": { type: "string" },
  "support-penalty": { type: "string" },
  "agent-episodes": { type: "string" },
  "agent-seed": { type: "string" },
  out: { type: "string" },
  report: { type: "string" },
  overwrite: { type: "boolean" },
  backend: { type: "string" },
  "user-model": { type: "string" },
  quiet: { type: "boolean" },
} as const;

type Flags = Record<keyof typeof FLAGS, string | boolean | undefined>;

/** Where the reports go: the JSON file and the HTML page, both optional. */
interface Outputs {
  json?: string;
  html?: string;
}

/** Entry point of `recsimu fidelity`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("fidelity", argv, FLAGS, USAGE);
  if (!v) return;
  const dir = requireFlag("fidelity", "model", v.model);
  if (v.truth === undefined && v.log === undefined) {
    throw new UserError(
      "--truth WORLD_DIR or --log LOG.csv is required: a known-truth world, or the log of a model trained with --split users (see recsimu fidelity --help)",
    );
  }
  if (v.truth !== undefined && v.log !== undefined) {
    throw new UserError("--truth and --log exclude each other: judge one at a time");
  }
  onlyWith(v, v.truth !== undefined ? "truth" : "log");
  const outputs = await claimOutputs(v);
  if (typeof v.truth === "string") await runTruth(v, dir, v.truth, outputs);
  else await runLog(v, dir, requireFlag("fidelity", "log", v.log), outputs);
}

/** Refuses the flags of the other mode: a flag that would be ignored is an error. */
function onlyWith(v: Flags, mode: "truth" | "log"): void {
  const other = mode === "truth" ? ["reward", "session-sims", "session-max-steps"] as const : [
    "rollouts",
    "start-states",
    "uncertainty-penalty",
    "support-penalty",
    "agent-episodes",
    "agent-seed",
    "posterior-particles",
  ] as const;
  for (const f of other) {
    if (v[f] !== undefined) {
      throw new UserError(`--${f}: only with --${mode === "truth" ? "log" : "truth"}`);
    }
  }
}

/** Claims --out and --report before any work: new files, or with --overwrite our own. */
async function claimOutputs(v: Flags): Promise<Outputs> {
  const overwrite = !!v.overwrite;
  const json = await claimReportFile(v.out, {
    overwrite,
    kind: FIDELITY_REPORT_KIND,
    what: "a recsimu fidelity report",
  });
  if (typeof v.report !== "string") return { json };
  const html = outputPath("--report", v.report);
  if (json && resolve(json) === resolve(html)) {
    throw new UserError(`--out and --report name the same file "${html}"; name two files`);
  }
  await claimOutputFile(html, {
    flag: "--report",
    overwrite,
    own: (text) => text.includes(FIDELITY_HTML_MARKER),
    what: "a recsimu fidelity HTML report",
  });
  return { json, html };
}

/** Prints the JSON, and writes it and the HTML page where asked. */
async function emit(
  report: Record<string, unknown>,
  outputs: Outputs,
  html: () => Promise<string>,
): Promise<void> {
  const json = JSON.stringify({ kind: FIDELITY_REPORT_KIND, ...report });
  console.log(json);
  if (outputs.json) await writeFileAtomic(outputs.json, json + "\n");
  if (outputs.html) await writeFileAtomic(outputs.html, await html());
}

/** `--truth`: judges the simulator against a known-truth world. */
async function runTruth(v: Flags, dir: string, truthDir: string, outputs: Outputs): Promise<void> {
  const quiet = !!v.quiet;
  const backend = parseBackend(v.backend);
  // The world and the model are checked before the backend starts: a wrong path says only that.
  const truth = await loadTruthDir(truthDir);
  const options = judgeFlags(v, truth.starts.length, quiet);
  const baselines = parseBaselines(v.baselines, TRUTH_BASELINES);
  const int = (name: "agent-episodes" | "agent-seed", max: number) =>
    numFlag(name, v[name], 0, { integer: true, min: 0, max });
  const agentRun = {
    episodes: int("agent-episodes", 10_000_000),
    seed: int("agent-seed", 2 ** 31 - 1),
  };
  const userModel = userModelFlag(v["user-model"]);
  await assertCheckpointDir(dir);
  await initBackend(backend, { quiet });
  const sim = await Simulator.load(dir, {
    userModel,
    realScore: await judgeRealScore(dir, userModel),
  });
  let agent: TrainedAgentPolicy | undefined;
  try {
    requireSupport(sim, dir, options.supportPenalty ?? 0);
    agent = agentRun.episodes > 0
      ? await trainedAgentPolicy(sim, truth, {
        ...agentRun,
        uncertaintyPenalty: options.uncertaintyPenalty ?? 0,
        supportPenalty: options.supportPenalty ?? 0,
        quiet,
      })
      : undefined;
    const report = await judgeTruth(sim, truth, {
      ...options,
      baselines,
      embeddings: baselineEmbeddings(sim, baselines),
      ...(agent ? { learnedPolicy: agent } : {}),
    });
    if (!quiet) console.error(fidelityTable(report));
    await emit({ model: dir, ...report }, outputs, () => truthReportHtml(report, dir));
  } finally {
    agent?.dispose();
    sim.dispose();
  }
}

/** `--log`: judges the simulator on the users its training held out. */
async function runLog(v: Flags, dir: string, log: string, outputs: Outputs): Promise<void> {
  const quiet = !!v.quiet;
  const backend = parseBackend(v.backend);
  const baselines = parseBaselines(v.baselines, LOG_BASELINES);
  const bins = binsFlag(v);
  const sessions = sessionFlags(v);
  // The model's split is checked before the backend starts (config.json only): a wrong model
  // says only that.
  requireUsersSplit((await loadCheckpointMeta(dir)).config, `"${dir}"`);
  const userModel = userModelFlag(v["user-model"]);
  await initBackend(backend, { quiet });
  const sim = await Simulator.load(dir, {
    userModel,
    realScore: await judgeRealScore(dir, userModel),
  });
  try {
    const rewards = parseRewards(
      typeof v.reward === "string" ? v.reward : undefined,
      sim.labels,
      sim.positive,
    );
    const report = await judgeLog(sim, {
      log,
      model: `"${dir}"`,
      baselines,
      embeddings: baselineEmbeddings(sim, baselines),
      rewards,
      bins,
      quiet,
      leave: await loadLeaveModel(dir, sim.labels, sim.stateLength),
      sessions,
    });
    if (!quiet) console.error(logFidelityTable(report));
    await emit(
      { model: dir, ...report, simulator: sim.describe() },
      outputs,
      () => logReportHtml(report, dir),
    );
  } finally {
    sim.dispose();
  }
}

/**
 * The simulator's item embeddings [V, E] (the checkpoint's `embeddings.bin`) when `baselines`
 * has a network (lr, gru), which needs them.
 */
function baselineEmbeddings(
  sim: Simulator,
  baselines: readonly LogBaseline[],
): Float32Array | undefined {
  if (baselines.every((b) => b === "item_rate")) return undefined;
  return sim.embeddings;
}

/** `--seed`, `--session-sims`, `--session-max-steps` of `--log`: the simulated sessions. */
function sessionFlags(v: Flags): LogJudgeOptions["sessions"] {
  const int = (name: keyof Flags, min: number, max: number) =>
    v[name] === undefined ? undefined : numFlag(name, v[name], NaN, { integer: true, min, max });
  return {
    seed: int("seed", 0, 2 ** 31 - 1),
    sims: int("session-sims", 0, 1_000_000),
    maxSteps: int("session-max-steps", 1, 1_000_000),
  };
}

/** `--baselines`: a comma-separated list of LOG_BASELINES, or `none`; `fallback` when absent. */
function parseBaselines(
  value: string | boolean | undefined,
  fallback: readonly LogBaseline[],
): LogBaseline[] {
  if (value === undefined) return [...fallback];
  const names = String(value).split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 1 && names[0] === "none") return [];
  for (const n of names) {
    if (!(LOG_BASELINES as readonly string[]).includes(n)) {
      throw new UserError(
        `--baselines: unknown baseline "${n}" (expected ${LOG_BASELINES.join(", ")} or none)`,
      );
    }
  }
  if (names.length === 0) throw new UserError("--baselines: name at least one, or none");
  return LOG_BASELINES.filter((b) => names.includes(b));
}

/** `--bins`. */
function binsFlag(v: Flags): number | undefined {
  return v.bins === undefined
    ? undefined
    : numFlag("bins", v.bins, NaN, { integer: true, min: 1, max: 1000 });
}

/** Flags -> the truth judge's options; a bad value is a {@link UserError} naming the flag. */
function judgeFlags(v: Flags, starts: number, quiet: boolean): JudgeOptions {
  const int = (name: keyof Flags, min: number, max?: number) =>
    v[name] === undefined ? undefined : numFlag(name, v[name], NaN, { integer: true, min, max });
  return {
    rollouts: int("rollouts", 1, 100_000),
    startStates: int("start-states", 1, starts),
    seed: int("seed", 0, 2 ** 31 - 1),
    posteriorParticles: int("posterior-particles", 0, 1_000_000),
    bins: binsFlag(v),
    uncertaintyPenalty: numFlag("uncertainty-penalty", v["uncertainty-penalty"], 0, {
      min: 0,
      max: 1e6,
    }),
    supportPenalty: numFlag("support-penalty", v["support-penalty"], 0, { min: 0, max: 1e6 }),
    quiet,
  };
}

/**
 * The judge reads no `real` score: under the structured model the discriminator need not run
 * (the same probabilities, sooner).
 */
async function judgeRealScore(dir: string, userModel: UserModelRequest): Promise<RealScoreMode> {
  return (await chooseUserModel(dir, userModel)).chosen === "glm" ? "off" : "on";
}
