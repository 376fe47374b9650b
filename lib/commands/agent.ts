/**
 * `recsimu agent --model DIR [flags]`: trains a REINFORCE recommender on a trained simulator
 * and compares it with random, most-popular and best-static policies on the same episodes.
 * Progress and a table on stderr, JSON on stdout, `--out` written atomically.
 * @module
 */
import {
  numFlag,
  parseFlags,
  requireFlag,
  requireSupport,
  USER_MODEL_HELP,
  userModelFlag,
} from "./_flags.ts";
import { type BackendName, BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { MAX_LANES, PooledSimulator } from "../sim/pool.ts";
import { parseRewards } from "../sim/reward.ts";
import { chooseUserModel } from "../sim/user_model.ts";
import { AGENT_DEFAULTS, type AgentConfig, agentConfig } from "../rl/config.ts";
import { runAgent } from "../rl/agent.ts";
import { writeFileAtomic } from "../atomic.ts";
import { claimReportFile } from "../output.ts";
import { assertCheckpointDir } from "../train/checkpoint.ts";
import { UserError } from "../errors.ts";

/** The `kind` field that marks a JSON report written by `recsimu agent`. */
export const AGENT_REPORT_KIND = "recsimu-agent-report";

const D = AGENT_DEFAULTS;

const USAGE = `Usage: recsimu agent --model DIR [flags]

Trains a policy-gradient (REINFORCE) recommender on the simulator in DIR for a fixed budget,
stepping --envs simulated users together (one batched prediction per step), then evaluates
it (greedy and sampled) with a uniform-random, a most-popular and a best-static policy on the
SAME --eval-episodes (seed, start state) pairs. Table and progress on stderr, JSON on stdout.

Flags:
  --model DIR            trained simulator checkpoint (required)
  --episodes N           training episodes (default ${D.episodes})
  --max-steps T          steps per episode (default ${D.maxSteps})
  --leave-after-skips S  the user leaves after S negatives in a row; 0 = never (default ${D.leaveAfterSkips})
  --envs B               episodes run together and per update (default ${D.envs})
  --uncertainty-penalty L
                         lower every reward (training and evaluation) by L x the answer's
                         spread, as serve --uncertainty-penalty does (default ${D.uncertaintyPenalty}: off)
  --support-penalty M    lower every reward (training and evaluation) by M x max(0, -support),
                         as serve --support-penalty does (default ${D.supportPenalty}: off)
  --algo A               reinforce (default ${D.algo})
  --reward SPEC          reward per label, e.g. skip=0,click=1,purchase=5
                         (default 1 for positive labels, 0 otherwise)
  --lr R                 Adam learning rate (default ${D.learningRate})
  --entropy C            entropy bonus weight (default ${D.entropyCoef})
  --reward-signal S      expected | sampled: reward REINFORCE credits (default ${D.rewardSignal};
                         expected = Σ probs·rewards of each step, unbiased and less noisy)
  --gamma G              discount of the return-to-go (default ${D.gamma})
  --hidden H             policy hidden width (default ${D.hidden})
  --eval-episodes N      evaluation episodes per policy (default ${D.evalEpisodes})
  --probe-states P       start states that rank items for best-static; 0 = skip (default ${D.staticProbeStates})
  --seed S               root seed (default ${D.seed})
  --out FILE             also write the JSON report to FILE (atomically): a new file, or
                         with --overwrite a previous agent report
  --overwrite            replace a previous agent report in --out
  --workers W            threads that compute the simulator's answers: the main thread and
                         W - 1 workers, each with its own copy of the model; steps of 64 or
                         more envs are shared out (default 1; results do not change)
${USER_MODEL_HELP}
  --backend B            ${BACKENDS.join(" | ")} (default auto)
  --quiet                no progress or table on stderr`;

const FLAGS = {
  model: { type: "string" },
  episodes: { type: "string" },
  "max-steps": { type: "string" },
  "leave-after-skips": { type: "string" },
  envs: { type: "string" },
  "uncertainty-penalty": { type: "string" },
  "support-penalty": { type: "string" },
  algo: { type: "string" },
  reward: { type: "string" },
  lr: { type: "string" },
  entropy: { type: "string" },
  gamma: { type: "string" },
  "reward-signal": { type: "string" },
  hidden: { type: "string" },
  "eval-episodes": { type: "string" },
  "probe-states": { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  overwrite: { type: "boolean" },
  backend: { type: "string" },
  "user-model": { type: "string" },
  workers: { type: "string" },
  quiet: { type: "boolean" },
} as const;

type Flags = Record<keyof typeof FLAGS, string | boolean | undefined>;

/** Entry point of `recsimu agent`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("agent", argv, FLAGS, USAGE);
  if (!v) return;
  const dir = requireFlag("agent", "model", v.model);
  const { config, backend } = agentFlags(v);
  const lanes = numFlag("workers", v.workers, 1, { integer: true, min: 1, max: MAX_LANES });
  const quiet = !!v.quiet;
  const userModel = userModelFlag(v["user-model"]);
  // The report's target and the model are checked before hours of training, not after.
  const out = await claimReportFile(v.out, {
    overwrite: !!v.overwrite,
    kind: AGENT_REPORT_KIND,
    what: "a recsimu agent report",
  });
  await assertCheckpointDir(dir);
  await initBackend(backend, { quiet });
  // The agent reads no `real` score: under the structured model the discriminator need not run.
  const realScore = (await chooseUserModel(dir, userModel)).chosen === "glm" ? "off" : "on";
  const sim = await PooledSimulator.load(dir, { lanes, userModel, realScore });
  try {
    requireSupport(sim.main, dir, config.supportPenalty);
    const rewards = parseRewards(
      typeof v.reward === "string" ? v.reward : undefined,
      sim.labels,
      sim.positive,
    );
    const report = await runAgent(sim, config, {
      rewards,
      embeddings: sim.main.embeddings,
      progress: !quiet,
    });
    const json = JSON.stringify({ kind: AGENT_REPORT_KIND, model: dir, ...report });
    console.log(json);
    if (out) await writeFileAtomic(out, json + "\n");
  } finally {
    sim.close();
  }
}

/** Flags -> the agent's configuration and backend; a bad value is a {@link UserError}. */
function agentFlags(v: Flags): { config: AgentConfig; backend: BackendName } {
  const int = (name: keyof Flags, fallback: number, min: number) =>
    numFlag(name, v[name], fallback, { integer: true, min });
  const algo = typeof v.algo === "string" ? v.algo : D.algo;
  if (algo !== "reinforce") throw new UserError(`--algo: expected reinforce, got "${algo}"`);
  const signal = typeof v["reward-signal"] === "string" ? v["reward-signal"] : D.rewardSignal;
  if (signal !== "expected" && signal !== "sampled") {
    throw new UserError(`--reward-signal: must be expected or sampled, got "${signal}"`);
  }
  const backend = parseBackend(v.backend);
  try {
    const config = agentConfig({
      episodes: int("episodes", D.episodes, 1),
      maxSteps: int("max-steps", D.maxSteps, 1),
      leaveAfterSkips: int("leave-after-skips", D.leaveAfterSkips, 0),
      envs: int("envs", D.envs, 1),
      uncertaintyPenalty: numFlag(
        "uncertainty-penalty",
        v["uncertainty-penalty"],
        D.uncertaintyPenalty,
        {
          min: 0,
        },
      ),
      supportPenalty: numFlag("support-penalty", v["support-penalty"], D.supportPenalty, {
        min: 0,
      }),
      algo,
      learningRate: numFlag("lr", v.lr, D.learningRate, { min: 1e-12 }),
      entropyCoef: numFlag("entropy", v.entropy, D.entropyCoef, { min: 0 }),
      gamma: numFlag("gamma", v.gamma, D.gamma, { min: 0, max: 1 }),
      rewardSignal: signal,
      hidden: int("hidden", D.hidden, 1),
      evalEpisodes: int("eval-episodes", D.evalEpisodes, 1),
      staticProbeStates: int("probe-states", D.staticProbeStates, 0),
      seed: int("seed", D.seed, 0),
    });
    return { config, backend };
  } catch (e) {
    if (e instanceof RangeError) {
      throw new UserError(e.message.replace("Cannot configure agent: ", ""));
    }
    throw e;
  }
}
