/**
 * A policy-gradient recommender agent trained on a simulator, and the experiment that compares
 * it with reference policies on identical episodes.
 *
 * Algorithm: REINFORCE (Williams 1992) with a running-mean baseline per step index, advantage
 * normalisation, an entropy bonus and gradient-norm clipping. Each iteration runs `envs`
 * episodes together (one batched `predict` per step), then makes one Adam update on all their
 * steps. REINFORCE rather than DQN because the action space is the whole item vocabulary and
 * episodes are short and cheap: a softmax policy handles hundreds of actions without a replay
 * buffer or target network, and its only tuning knobs are the learning rate and entropy weight.
 *
 * Seeds (cleanrl style): one root seed; weights, training episodes, action sampling,
 * evaluation episodes and evaluation sampling each use `deriveSeed(seed, purpose)`.
 * @module
 */
import { tf } from "../tf.ts";
import { deriveSeed } from "../random.ts";
import { Progress } from "../progress.ts";
import { defaultRewards } from "../sim/reward.ts";
import type { SimEnvOptions } from "../sim/env.ts";
import type { SimulatorLike } from "../sim/types.ts";
import { type AgentConfig, agentConfig } from "./config.ts";
import { Featurizer, randomEmbeddings } from "./features.ts";
import { PolicyNet, type ReinforceBatch, reinforceStep } from "./policy.ts";
import { episodeSpecs, type Policy, rollout, type Trajectory } from "./rollout.ts";
import { bestStaticRanking, popularRanking, randomPolicy, rankedPolicy } from "./baselines.ts";
import { evaluatePolicies, type PolicyScore, scoresTable } from "./evaluate.ts";

/** Metrics of one training iteration (namespaced keys, cleanrl style). */
export interface IterationLog {
  /** 1-based iteration number. */
  iteration: number;
  /** Training episodes finished so far. */
  episodes: number;
  /** Mean undiscounted return of this iteration's episodes (sampled actions). */
  "charts/episodic_return": number;
  /** Mean episode length of this iteration, in steps. */
  "charts/episodic_length": number;
  /** Total loss of the update. */
  "losses/loss": number;
  /** Policy-gradient part of the loss. */
  "losses/policy": number;
  /** Mean policy entropy (nats). */
  "losses/entropy": number;
  /** Gradient norm before clipping. */
  "losses/grad_norm": number;
  /** Environment steps per second so far (rollouts and updates). */
  "perf/sps": number;
  /** Live tensors after the update (should stay flat). */
  "perf/num_tensors": number;
}

/** Options of {@link trainAgent} and {@link runAgent}. */
export interface AgentOptions {
  /** Reward per label, in `sim.labels` order. @default 1 for positive labels, 0 otherwise */
  rewards?: readonly number[];
  /**
   * [V, E] item embeddings (row-major, `sim.items` order), e.g. the checkpoint's frozen
   * item2vec table. @default fixed Gaussian embeddings of size `config.randomEmbDim`
   */
  embeddings?: Float32Array;
  /** Called after every training iteration. */
  onIteration?: (log: IterationLog) => void;
  /** Show progress and the result table on stderr. @default false */
  progress?: boolean;
}

/** A trained agent: its network, optimiser and the policies it acts with. */
export class Agent {
  /** Running-mean baseline of the return-to-go at each step index (NaN until first seen). */
  readonly baseline: Float64Array;
  readonly #optimizer: tf.AdamOptimizer;

  constructor(readonly net: PolicyNet, readonly config: AgentConfig) {
    this.baseline = new Float64Array(config.maxSteps).fill(NaN);
    this.#optimizer = tf.train.adam(config.learningRate);
  }

  /** Samples items from π. */
  sampled(): Policy {
    return this.net.policy("sample", "agent-sampled");
  }

  /** Recommends π's most likely unused item. */
  greedy(): Policy {
    return this.net.policy("greedy", "agent-greedy");
  }

  /** One REINFORCE update on finished trajectories; returns plain numbers. */
  update(trajs: readonly Trajectory[]): ReturnType<typeof reinforceStep> {
    const batch = reinforceBatch(this.net, trajs, { ...this.config, baseline: this.baseline });
    return reinforceStep(this.net, batch, { ...this.config, optimizer: this.#optimizer });
  }

  /** Frees the network's and optimiser's tensors. */
  dispose(): void {
    this.net.dispose();
    this.#optimizer.dispose();
  }
}

/** What {@link trainAgent} returns. */
export interface TrainAgentResult {
  /** The trained agent (call `dispose()` when done). */
  agent: Agent;
  /** One entry per iteration. */
  history: IterationLog[];
  /** Environment steps taken. */
  envSteps: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/** Builds an untrained agent for `sim` (weights seeded from `config.seed`). */
export function createAgent(
  sim: SimulatorLike,
  config: AgentConfig,
  embeddings?: Float32Array,
): Agent {
  const emb = embeddings ??
    randomEmbeddings(sim.itemCount, config.randomEmbDim, deriveSeed(config.seed, "embeddings"));
  const featurizer = new Featurizer(sim, emb);
  const net = new PolicyNet(featurizer, {
    hidden: config.hidden,
    seed: deriveSeed(config.seed, "weights"),
  });
  return new Agent(net, config);
}

/**
 * Trains a REINFORCE agent on `sim` for `config.episodes` episodes, `config.envs` at a time.
 *
 * @example
 * ```ts ignore
 * const { agent, history } = await trainAgent(sim, agentConfig({ episodes: 256 }));
 * agent.dispose();
 * ```
 */
export async function trainAgent(
  sim: SimulatorLike,
  config: AgentConfig,
  options: AgentOptions = {},
): Promise<TrainAgentResult> {
  const c = agentConfig(config);
  const env = envOptions(sim, c, options);
  const agent = createAgent(sim, c, options.embeddings);
  const policy = agent.sampled();
  const iterations = Math.ceil(c.episodes / c.envs);
  const progress = new Progress("agent", c.episodes, { quiet: !options.progress });
  const history: IterationLog[] = [];
  const t0 = performance.now();
  let episodes = 0;
  let envSteps = 0;
  try {
    for (let it = 0; it < iterations; it++) {
      const count = Math.min(c.envs, c.episodes - episodes);
      const specs = episodeSpecs(sim, count, deriveSeed(c.seed, `train:${it}`));
      const trajs = await rollout(sim, policy, {
        episodes: specs,
        env,
        policySeed: deriveSeed(c.seed, `act:${it}`),
        record: true,
      });
      const stats = agent.update(trajs);
      const steps = trajs.reduce((s, t) => s + t.actions.length, 0);
      episodes += count;
      envSteps += steps;
      const secs = (performance.now() - t0) / 1000;
      const log: IterationLog = {
        iteration: it + 1,
        episodes,
        "charts/episodic_return": trajs.reduce((s, t) => s + t.return, 0) / count,
        "charts/episodic_length": steps / count,
        "losses/loss": stats.loss,
        "losses/policy": stats.policyLoss,
        "losses/entropy": stats.entropy,
        "losses/grad_norm": stats.gradNorm,
        "perf/sps": envSteps / Math.max(secs, 1e-9),
        "perf/num_tensors": tf.memory().numTensors,
      };
      history.push(log);
      options.onIteration?.(log);
      progress.update(episodes, {
        return: log["charts/episodic_return"],
        entropy: log["losses/entropy"],
        "steps/s": log["perf/sps"],
      });
    }
  } catch (e) {
    agent.dispose();
    throw e;
  }
  return { agent, history, envSteps, seconds: (performance.now() - t0) / 1000 };
}

/** The evaluation part of an {@link AgentReport}. */
export interface AgentEvaluation {
  /** Episodes per policy (the same list for all). */
  episodes: number;
  /** Policy the paired differences are taken against. */
  reference: string;
  /** One score per policy. */
  policies: Omit<PolicyScore, "returns">[];
}

/** Everything `recsimu agent` reports. */
export interface AgentReport {
  /** Run name, including algorithm and seed. */
  run_name: string;
  /** The full configuration. */
  config: AgentConfig;
  /** Reward per label. */
  rewards: Record<string, number>;
  /** Size of the simulator's vocabulary and start-state pool. */
  simulator: { items: number; start_states: number; state_length: number };
  /** Training summary and per-iteration history. */
  train: {
    episodes: number;
    iterations: number;
    env_steps: number;
    seconds: number;
    "perf/sps": number;
    history: IterationLog[];
  };
  /** Evaluation on common episodes. */
  eval: AgentEvaluation;
  /** Flat namespaced metrics (`eval/<policy>/return`, `eval/<policy>/stderr`, ...). */
  metrics: Record<string, number>;
}

/**
 * Trains an agent, then evaluates it (greedy and sampled) together with uniform random,
 * most-popular and best-static policies on the same `config.evalEpisodes` episodes.
 */
export async function runAgent(
  sim: SimulatorLike,
  config: Partial<AgentConfig> = {},
  options: AgentOptions = {},
): Promise<AgentReport> {
  const c = agentConfig(config);
  const env = envOptions(sim, c, options);
  const rewards = env.rewards!;
  const trained = await trainAgent(sim, c, options);
  try {
    const policies: Policy[] = [
      randomPolicy(sim.itemCount),
      rankedPolicy("popular", popularRanking(sim)),
    ];
    if (c.staticProbeStates > 0) {
      const { ranking } = await bestStaticRanking(sim, rewards, {
        probes: c.staticProbeStates,
        seed: c.seed,
      });
      policies.push(rankedPolicy("best-static", ranking));
    }
    policies.push(trained.agent.greedy(), trained.agent.sampled());
    const specs = episodeSpecs(sim, c.evalEpisodes, deriveSeed(c.seed, "eval"));
    const scores = await evaluatePolicies(sim, policies, {
      episodes: specs,
      env,
      policySeed: deriveSeed(c.seed, "eval-act"),
      reference: "random",
      onPolicy: (s, secs) => {
        if (options.progress) {
          console.error(
            `eval ${s.policy}: ${s.mean.toFixed(3)} ± ${s.stderr.toFixed(3)} (${secs.toFixed(1)}s)`,
          );
        }
      },
    });
    if (options.progress) console.error(`\n${scoresTable(scores)}`);
    const metrics: Record<string, number> = {
      "train/episodic_return_last": trained.history.at(-1)?.["charts/episodic_return"] ?? NaN,
      "perf/sps": trained.envSteps / Math.max(trained.seconds, 1e-9),
    };
    for (const s of scores) {
      metrics[`eval/${s.policy}/return`] = s.mean;
      metrics[`eval/${s.policy}/stderr`] = s.stderr;
      if (s.vsReference) metrics[`eval/${s.policy}/vs_random`] = s.vsReference.mean;
    }
    return {
      run_name: `recsimu-agent__${c.algo}__${c.seed}`,
      config: c,
      rewards: Object.fromEntries(sim.labels.map((l, k) => [l, rewards[k]!])),
      simulator: {
        items: sim.itemCount,
        start_states: sim.startStates.length,
        state_length: sim.stateLength,
      },
      train: {
        episodes: c.episodes,
        iterations: trained.history.length,
        env_steps: trained.envSteps,
        seconds: trained.seconds,
        "perf/sps": metrics["perf/sps"]!,
        history: trained.history,
      },
      eval: {
        episodes: c.evalEpisodes,
        reference: "random",
        policies: scores.map(({ returns: _, ...s }) => s),
      },
      metrics,
    };
  } finally {
    trained.agent.dispose();
  }
}

/** Options of {@link reinforceBatch}. */
export interface ReinforceBatchOptions
  extends Pick<AgentConfig, "gamma" | "baselineRate" | "normalizeAdvantages" | "rewardSignal"> {
  /** Running mean of the return-to-go per step index (NaN = not yet seen); updated in place. */
  baseline: Float64Array;
}

/**
 * Builds the REINFORCE batch of `trajs`: features and used masks of every step, returns-to-go
 * minus the per-step running-mean baseline (then normalised), and updates the baseline after
 * computing the advantages, so a batch is not its own baseline (except the very first, which
 * uses its own per-step means to start the running means).
 */
export function reinforceBatch(
  net: PolicyNet,
  trajs: readonly Trajectory[],
  options: ReinforceBatchOptions,
): ReinforceBatch {
  const { baseline } = options;
  const config = options;
  const v = net.items;
  const f = net.inputSize;
  const m = trajs.reduce((s, t) => s + t.actions.length, 0);
  const features = new Float32Array(m * f);
  const used = new Float32Array(m * v);
  const actions = new Int32Array(m);
  const advantages = new Float32Array(m);
  const returns = new Float64Array(m);
  const stepOf = new Int32Array(m);
  const sums = new Float64Array(baseline.length);
  const counts = new Float64Array(baseline.length);
  let row = 0;
  for (const t of trajs) {
    if (t.observations.length !== t.actions.length) {
      throw new TypeError(
        "Cannot build a REINFORCE batch: trajectories need recorded observations",
      );
    }
    const rewards = config.rewardSignal === "expected" ? t.expectedRewards : t.rewards;
    const g = new Float64Array(rewards.length);
    let acc = 0;
    for (let s = rewards.length - 1; s >= 0; s--) g[s] = acc = rewards[s]! + config.gamma * acc;
    for (let s = 0; s < t.actions.length; s++, row++) {
      net.featurizer.write(t.observations[s]!, features, row * f);
      // The rollout clears the used mask whenever all V items have been used.
      for (let p = s - (s % v); p < s; p++) used[row * v + t.actions[p]!] = 1;
      actions[row] = t.actions[s]!;
      returns[row] = g[s]!;
      stepOf[row] = s;
      if (s < baseline.length) {
        sums[s]! += g[s]!;
        counts[s]!++;
      }
    }
  }
  for (let r = 0; r < m; r++) {
    const s = stepOf[r]!;
    const b = s < baseline.length && Number.isFinite(baseline[s]!)
      ? baseline[s]!
      : (counts[s] ?? 0) > 0
      ? sums[s]! / counts[s]!
      : 0;
    advantages[r] = returns[r]! - b;
  }
  for (let s = 0; s < baseline.length; s++) {
    if (counts[s]! === 0) continue;
    const mean = sums[s]! / counts[s]!;
    baseline[s] = Number.isFinite(baseline[s]!)
      ? baseline[s]! + config.baselineRate * (mean - baseline[s]!)
      : mean;
  }
  if (config.normalizeAdvantages && m > 1) {
    let mean = 0;
    for (const a of advantages) mean += a;
    mean /= m;
    let ss = 0;
    for (const a of advantages) ss += (a - mean) ** 2;
    const sd = Math.sqrt(ss / m);
    for (let r = 0; r < m; r++) advantages[r] = (advantages[r]! - mean) / (sd + 1e-8);
  }
  return { features, used, actions, advantages };
}

function envOptions(
  sim: SimulatorLike,
  c: AgentConfig,
  options: AgentOptions,
): SimEnvOptions {
  return {
    maxSteps: c.maxSteps,
    leaveAfterSkips: c.leaveAfterSkips,
    rewards: options.rewards ?? defaultRewards(sim.positive),
    uncertaintyPenalty: c.uncertaintyPenalty,
    supportPenalty: c.supportPenalty,
  };
}
