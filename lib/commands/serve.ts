/**
 * `recsimu serve`: flags -> a loaded simulator -> the HTTP API on `Deno.serve` until SIGINT or
 * SIGTERM (graceful: in-flight requests finish, then exit 0).
 * @module
 */
import { quoteForMessage, UserError } from "../errors.ts";
import { SERVE_DEFAULTS } from "../serve/defaults.ts";
import { hostProblem, isLoopback, type ServeOptions, startServer } from "../serve/server.ts";
import { parseRewards } from "../sim/reward.ts";
import { MAX_LANES } from "../sim/pool.ts";
import type { RealScoreMode } from "../sim/types.ts";
import type { UserModelRequest } from "../sim/user_model.ts";
import { type BackendName, BACKENDS, parseBackend } from "../tf.ts";
import {
  numFlag,
  parseFlags,
  REAL_SCORE_HELP,
  realScoreFlag,
  requireFlag,
  requireSupport,
  USER_MODEL_HELP,
  userModelFlag,
} from "./_flags.ts";

const D = SERVE_DEFAULTS;

const USAGE = `Usage: recsimu serve --model DIR [flags]

Serves a trained simulator over HTTP (JSON): rewards for (state, action) pairs, Gymnasium-style
sessions and stateless steps. See GET /openapi.json once running.

Flags:
  --model DIR            trained model directory (required)
  --host H               interface to bind (default ${D.hostname}); a non-loopback host
                         needs --token or RECSIMU_TOKEN
  --port P               TCP port, 0 = any free port (default ${D.port})
  --reward SPEC          reward per label, e.g. skip=0,click=1,purchase=5
                         (default 1 for positive labels, 0 otherwise)
  --max-steps N          episode length of sessions (default ${D.maxSteps})
  --leave-after-skips M  the user leaves after M negative feedbacks in a row; 0 = never (default ${D.leaveAfterSkips})
  --leave MODE           rule: by --leave-after-skips | learned: by the checkpoint's learned
                         leave model (leave.json, fitted by train), drawn from (seed, step)
                         (default rule)
  --uncertainty-penalty L
                         lower every reward by L x the answer's spread (the ensemble heads'
                         standard deviation of P(positive)): agents cannot farm what the
                         simulator does not know (default ${D.uncertaintyPenalty}: off)
  --support-penalty M    lower every reward by M x max(0, -support): the nats by which the
                         logging policy was less likely than a uniform draw to show the item
                         in this state (the checkpoint's support model), so agents cannot farm
                         actions the log never showed there (default ${D.supportPenalty}: off)
  --max-batch N          most entries in one batch request (default ${D.maxBatch})
  --max-body-bytes B     largest request body (default ${D.maxBodyBytes})
  --max-state-length L   most (item, feedback) pairs in a request's state (default ${D.maxStateLength})
  --max-sessions S       live sessions at most (default ${D.maxSessions})
  --session-ttl SECONDS  idle sessions expire after this long (default ${D.sessionTtlSeconds})
  --token T              require Authorization: Bearer T (default: env RECSIMU_TOKEN, else none)
  --cors ORIGIN          allow cross-origin requests from ORIGIN (or *); default off
  --rate-limit R         requests per second per client IP, 0 = unlimited (default 0)
  --rate-burst B         burst size of the rate limit (default 2 x rate)
  --workers W            threads that compute predictions: the main thread and W - 1 workers,
                         each with its own copy of the model; batches of 64 or more requests
                         (vectorised envs) are shared out, smaller ones stay on the main thread
                         (default 1; 2 on a 2-core machine roughly halves a 256-env step)
${USER_MODEL_HELP}
${REAL_SCORE_HELP}
  --backend B            ${BACKENDS.join(" | ")} (default auto)`;

const FLAGS = {
  model: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  reward: { type: "string" },
  "max-steps": { type: "string" },
  "leave-after-skips": { type: "string" },
  leave: { type: "string" },
  "uncertainty-penalty": { type: "string" },
  "support-penalty": { type: "string" },
  "max-batch": { type: "string" },
  "max-body-bytes": { type: "string" },
  "max-state-length": { type: "string" },
  "max-sessions": { type: "string" },
  "session-ttl": { type: "string" },
  token: { type: "string" },
  cors: { type: "string" },
  "rate-limit": { type: "string" },
  "rate-burst": { type: "string" },
  backend: { type: "string" },
  workers: { type: "string" },
  "user-model": { type: "string" },
  "real-score": { type: "string" },
} as const;

type Flags = Record<keyof typeof FLAGS, string | boolean | undefined>;

/** What the flags ask for: checked before the model loads, so a typo fails at once. */
interface ServeConfig {
  model: string;
  backend: BackendName;
  reward: string | undefined;
  /** How users leave: the rule, or the checkpoint's learned leave model. */
  leave: "rule" | "learned";
  /** Prediction lanes: the main thread and `workers − 1` workers. */
  workers: number;
  /** Who answers (`--user-model`). */
  userModel: UserModelRequest;
  /** Whether answers carry D's real score (`--real-score`). */
  realScore: RealScoreMode;
  options: ServeOptions;
}

/** Runs `recsimu serve` with the arguments after the command name. */
export async function run(argv: string[]): Promise<void> {
  const f = parseFlags("serve", argv, FLAGS, USAGE);
  if (f === undefined) return;
  await serve(serveConfig(f));
}

/** Flags -> configuration, in the order the checks report: model, host, backend, token, limits. */
function serveConfig(f: Flags): ServeConfig {
  const model = requireFlag("serve", "model", f.model);
  const hostname = typeof f.host === "string" ? f.host : D.hostname;
  // Checked (and bound once on a free port) before the model loads: a typo fails at once.
  const hostError = hostProblem(hostname);
  if (hostError !== undefined) {
    throw new UserError(`--host ${quoteForMessage(hostname)}: ${hostError}`);
  }
  const backend = parseBackend(f.backend);
  const token = typeof f.token === "string" ? f.token : envToken();
  if (!isLoopback(hostname) && token === undefined) {
    throw new UserError(`--host ${hostname} is not loopback: pass --token or set RECSIMU_TOKEN`);
  }
  const rate = numFlag("rate-limit", f["rate-limit"], 0, { min: 0, max: 1e9 });
  if (rate === 0 && f["rate-burst"] !== undefined) {
    throw new UserError("--rate-burst needs --rate-limit (requests per second per client)");
  }
  const options: ServeOptions = {
    hostname,
    ...limitFlags(f),
    token,
    cors: typeof f.cors === "string" && f.cors !== "" ? f.cors : undefined,
    rateLimit: rate > 0
      ? {
        ratePerSecond: rate,
        burst: numFlag("rate-burst", f["rate-burst"], Math.max(1, 2 * rate), { min: 1 }),
      }
      : undefined,
    handleSignals: true,
  };
  const reward = typeof f.reward === "string" ? f.reward : undefined;
  const workers = numFlag("workers", f.workers, 1, { integer: true, min: 1, max: MAX_LANES });
  const userModel = userModelFlag(f["user-model"]);
  const realScore = realScoreFlag(f["real-score"], userModel);
  return { model, backend, reward, leave: leaveFlag(f), workers, userModel, realScore, options };
}

/** `--leave rule|learned`; the learned model excludes `--leave-after-skips`. */
function leaveFlag(f: Flags): "rule" | "learned" {
  const leave = f.leave ?? "rule";
  if (leave !== "rule" && leave !== "learned") {
    throw new UserError(`--leave: expected rule or learned, got ${quoteForMessage(String(leave))}`);
  }
  if (leave === "learned" && f["leave-after-skips"] !== undefined) {
    throw new UserError("--leave learned and --leave-after-skips exclude each other");
  }
  return leave;
}

/** The port, episode and limit flags, each with its range; absent ones get the defaults. */
function limitFlags(f: Flags) {
  const integer = true;
  return {
    port: numFlag("port", f.port, D.port, { integer, min: 0, max: 65535 }),
    maxSteps: numFlag("max-steps", f["max-steps"], D.maxSteps, { integer, min: 1, max: 1_000_000 }),
    leaveAfterSkips: numFlag("leave-after-skips", f["leave-after-skips"], D.leaveAfterSkips, {
      integer,
      min: 0,
      max: 1_000_000,
    }),
    uncertaintyPenalty: numFlag(
      "uncertainty-penalty",
      f["uncertainty-penalty"],
      D.uncertaintyPenalty,
      { min: 0, max: 1e6 },
    ),
    supportPenalty: numFlag("support-penalty", f["support-penalty"], D.supportPenalty, {
      min: 0,
      max: 1e6,
    }),
    maxBatch: numFlag("max-batch", f["max-batch"], D.maxBatch, { integer, min: 1, max: 1_000_000 }),
    maxBodyBytes: numFlag("max-body-bytes", f["max-body-bytes"], D.maxBodyBytes, {
      integer,
      min: 1024,
      max: 2 ** 31,
    }),
    maxStateLength: numFlag("max-state-length", f["max-state-length"], D.maxStateLength, {
      integer,
      min: 1,
      max: 1_000_000,
    }),
    maxSessions: numFlag("max-sessions", f["max-sessions"], D.maxSessions, {
      integer,
      min: 1,
      max: 10_000_000,
    }),
    sessionTtlSeconds: numFlag("session-ttl", f["session-ttl"], D.sessionTtlSeconds, {
      min: 1,
      max: 365 * 86400,
    }),
  };
}

/** Loads the model, serves it and waits until the server stops. */
async function serve(c: ServeConfig): Promise<void> {
  const { PooledSimulator } = await import("../sim/pool.ts");
  const { assertCheckpointDir } = await import("../train/checkpoint.ts");
  await assertCheckpointDir(c.model); // a wrong path says only that, before the backend starts
  const sim = await PooledSimulator.load(c.model, {
    backend: c.backend,
    lanes: c.workers,
    userModel: c.userModel,
    realScore: c.realScore,
  });
  try {
    requireSupport(sim.main, c.model, c.options.supportPenalty ?? 0);
    await serveLoaded(c, sim);
  } finally {
    sim.close();
  }
}

/** Serves a loaded simulator until the server stops. */
async function serveLoaded(c: ServeConfig, sim: import("../sim/pool.ts").PooledSimulator) {
  const rewards = parseRewards(c.reward, sim.labels, sim.positive);
  const leave = c.leave === "learned" ? await learnedLeave(c.model, sim) : undefined;
  const server = startServer(sim, { ...c.options, rewards, leave });
  const described = sim.describe();
  console.error(
    `recsimu serve: listening on ${server.url} (model ${c.model}, backend ${
      String(described.backend ?? c.backend)
    }` +
      `${c.options.token === undefined ? "" : ", bearer token required"}${
        sim.lanes > 1 ? `, ${sim.lanes} prediction threads` : ""
      }); API description at ${server.url}/openapi.json`,
  );
  await server.finished;
  console.error("recsimu serve: stopped");
}

/** The checkpoint's learned leave model, or a one-line error for a checkpoint without one. */
async function learnedLeave(
  model: string,
  sim: { labels: readonly string[]; stateLength: number },
) {
  const { loadLeaveModel } = await import("../sim/leave.ts");
  const leave = await loadLeaveModel(model, sim.labels, sim.stateLength);
  if (leave === undefined) {
    throw new UserError(
      `--leave learned: "${model}" has no learned leave model (leave.json): it was trained by an ` +
        `earlier recsimu or its training did not finish; retrain it with recsimu train, or use --leave rule`,
    );
  }
  return leave;
}

function envToken(): string | undefined {
  const t = Deno.env.get("RECSIMU_TOKEN");
  return t === undefined || t === "" ? undefined : t;
}
