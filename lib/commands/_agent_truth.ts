/**
 * `recsimu fidelity --truth W --agent-episodes N`: trains `recsimu agent`'s REINFORCE agent in
 * the simulator (its defaults, the world's horizon and rewards, the judge's penalties), then
 * plays its greedy policy from the world's start states in the simulator and in the TRUE world
 * (`learnedPolicyFidelity`). The strongest check of a simulator: an agent that wins in it but
 * not in the truth has learned the simulator's errors.
 * @module
 */
import { deriveSeed, Rng } from "../random.ts";
import type { PolicyInput as TruthPolicyInput, TruthPolicy } from "../data/truth/policies.ts";
import { TRUTH_LABELS } from "../data/truth/world.ts";
import type { TruthData } from "../fidelity/truth_dir.ts";
import { trainAgent } from "../rl/agent.ts";
import { agentConfig } from "../rl/config.ts";
import type { Policy, PolicyInput } from "../rl/rollout.ts";
import type { Simulator } from "../sim/simulator.ts";

/** Options of {@link trainedAgentPolicy}. */
export interface AgentTruthOptions {
  /** Training episodes. */
  episodes: number;
  /** Root seed of the agent. */
  seed: number;
  /** λ and μ of the exploit guards, in training as in serve. */
  uncertaintyPenalty: number;
  supportPenalty: number;
  quiet: boolean;
}

/** The trained agent as a truth policy, how it was trained, and its disposal. */
export interface TrainedAgentPolicy {
  policy: TruthPolicy;
  training: Record<string, unknown>;
  dispose(): void;
}

/**
 * Trains the agent in `sim` with the world's horizon and rewards (mapped onto the simulator's
 * labels by name) and returns its greedy policy, answering the lockstep's episodes of one step
 * in one batched call.
 */
export async function trainedAgentPolicy(
  sim: Simulator,
  truth: TruthData,
  o: AgentTruthOptions,
): Promise<TrainedAgentPolicy> {
  const rec = truth.policies;
  const rewards = sim.labels.map((l) => {
    const k = TRUTH_LABELS.indexOf(l as (typeof TRUTH_LABELS)[number]);
    return k >= 0 ? rec.rewards[k] ?? 0 : 0;
  });
  const config = agentConfig({
    episodes: o.episodes,
    maxSteps: rec.horizon,
    leaveAfterSkips: rec.leaveAfterSkips,
    seed: o.seed,
    uncertaintyPenalty: o.uncertaintyPenalty,
    supportPenalty: o.supportPenalty,
  });
  const t0 = performance.now();
  const { agent, history } = await trainAgent(sim, config, {
    rewards,
    embeddings: sim.embeddings,
    progress: !o.quiet,
  });
  const tail = history.slice(-5);
  const training = {
    algo: config.algo,
    episodes: config.episodes,
    envs: config.envs,
    seed: config.seed,
    uncertainty_penalty: config.uncertaintyPenalty,
    support_penalty: config.supportPenalty,
    seconds: (performance.now() - t0) / 1000,
    final_training_return: tail.reduce((s, h) => s + h["charts/episodic_return"], 0) /
      Math.max(tail.length, 1),
  };
  return {
    policy: batchedPolicy(sim, agent.greedy(), o.seed),
    training,
    dispose: () => agent.dispose(),
  };
}

/**
 * A truth policy over an agent's batched policy: the calls of one lockstep round (all made
 * before the next macrotask) are answered by one `act` call. Truth item v is `i{v}`; history
 * items outside the vocabulary are left out of the observation.
 */
function batchedPolicy(sim: Simulator, agent: Policy, seed: number): TruthPolicy {
  const N = sim.stateLength, V = sim.itemCount;
  const truthItem = sim.items.map((id) => Number(id.slice(1)));
  let queue: { input: PolicyInput; resolve: (a: number) => void; reject: (e: unknown) => void }[] =
    [];
  const flush = () => {
    const round = queue;
    queue = [];
    Promise.resolve(round.map((q) => q.input)).then((inputs) => agent.act(inputs)).then(
      (actions) => round.forEach((q, i) => q.resolve(truthItem[actions[i]!]!)),
      (e) => round.forEach((q) => q.reject(e)),
    );
  };
  return {
    name: "agent",
    description: "recsimu agent's REINFORCE policy trained in the simulator (greedy)",
    knows: "history",
    act({ history, step, rng }: TruthPolicyInput): Promise<number> {
      const used = new Uint8Array(V);
      const observation = [];
      for (let t = 0; t < history.length; t++) {
        const i = sim.itemIndex(`i${history[t]!.item}`);
        if (i === undefined) continue;
        if (t >= history.length - step) used[i] = 1;
        observation.push({
          item: `i${history[t]!.item}`,
          feedback: TRUTH_LABELS[history[t]!.label],
        });
      }
      const input: PolicyInput = {
        observation: observation.slice(-N),
        used,
        rng: new Rng(deriveSeed(seed, `agent:${Math.floor(rng.next() * 2 ** 31)}`)),
        step,
      };
      return new Promise((resolve, reject) => {
        if (queue.length === 0) setTimeout(flush, 0);
        queue.push({ input, resolve, reject });
      });
    },
  };
}
