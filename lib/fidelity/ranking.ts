/**
 * Policy-ranking fidelity: every reference policy of a truth world is played against a
 * responder from the world's start states, with the recorded horizon, reward, leave rule and
 * episode seeds, and its simulated mean return is compared with its true one. The oracle keeps
 * acting on the TRUE user state (replayed over the responder-generated history).
 *
 * Steps the responder cannot answer (an item it does not know) get the log's mean label
 * distribution and are counted as `unanswered_steps`; history steps it cannot read (an unknown
 * item or label) are left out of the history it is sent, counted as `trimmed_steps`.
 * @module
 */
import { deriveSeed } from "../random.ts";
import { UserError } from "../errors.ts";
import { kendallTauB, relativeError, spearman } from "../eval/fidelity_metrics.ts";
import { Progress } from "../progress.ts";
import {
  type Episode,
  type MeanSe,
  type PolicyKnowledge,
  referencePolicies,
  stratifiedMean,
  type SyncTruthPolicy,
} from "../data/truth/policies.ts";
import { type Probs, type Step, TrueUser } from "../data/truth/world.ts";
import { type BatchAnswer, type LockstepEpisode, runLockstep } from "./lockstep.ts";
import { type FidelityRequest, type FidelityResponder, truthResponder } from "./responders.ts";
import type { TruthData } from "./truth_dir.ts";

/** Options of {@link policyFidelity}. */
export interface RankingOptions {
  /** Rollouts per start state. @default the recorded rollouts */
  rollouts?: number;
  /** Start states used: the first S of start_states.json. @default the recorded count */
  startStates?: number;
  /** Root seed of the episodes. @default the recorded Monte Carlo seed */
  seed?: number;
  /** No progress on stderr. @default true */
  quiet?: boolean;
  /**
   * λ of the exploit guard (`serve --uncertainty-penalty`): each simulated step's reward is
   * lowered by λ × the answer's spread. @default 0
   */
  uncertaintyPenalty?: number;
}

/** One policy: simulated and true value on the same episodes. */
export interface PolicyRow {
  /** The policy. */
  name: string;
  /** What it knows. */
  knows: PolicyKnowledge;
  /** Mean return in the responder (and its stratified standard error). */
  simulated: MeanSe;
  /** Mean expected return Σ_k r_k·p_k along the responder's episodes. */
  simulated_expected: MeanSe;
  /** True mean return from the same start states, rollouts and seeds. */
  true: MeanSe;
  /** True mean expected return, same episodes. */
  true_expected: MeanSe;
  /** The true value recorded in policies.json (all recorded start states and rollouts). */
  true_recorded: MeanSe;
  /** (simulated − true) / |true|. */
  relative_error: number;
  /** The same for the expected returns. */
  relative_error_expected: number;
  /** Steps played in the responder. */
  steps: number;
  /** Steps whose item the responder does not know (answered by the log's label shares). */
  unanswered_steps: number;
  /** Steps whose history held items or labels the responder does not know (left out). */
  trimmed_steps: number;
}

/** Policy-ranking fidelity. */
export interface RankingReport {
  /** Steps per episode. */
  horizon: number;
  /** Start states used. */
  start_states: number;
  /** Rollouts per start state. */
  rollouts: number;
  /** Root seed of the episodes. */
  seed: number;
  /** Whether the episodes are exactly policies.json's (else the truth was replayed on them). */
  recorded_episodes: boolean;
  /** One row per reference policy, in the recorded order. */
  rows: PolicyRow[];
  /** Spearman's ρ between simulated and true mean returns. */
  spearman: number;
  /** Kendall's τ_b between them. */
  kendall: number;
  /** Spearman's ρ between simulated and true mean expected returns (less noise). */
  spearman_expected: number;
  /** Kendall's τ_b between them. */
  kendall_expected: number;
  /** The policy the responder ranks first and its recorded true return. */
  simulator_top: { name: string; simulated: number; true: number };
  /** The truly best policy (by the recorded values). */
  true_best: { name: string; true: number };
  /** true_best.true − simulator_top.true: what trusting the simulator's ranking costs. */
  regret: number;
  /** Steps over all policies. */
  steps: number;
  /** Unanswered steps over all policies. */
  unanswered_steps: number;
  /** Steps with a trimmed history over all policies. */
  trimmed_steps: number;
}

/** The episodes: policy-major, then start state, then rollout. */
function episodesOf(
  truth: TruthData,
  policies: readonly SyncTruthPolicy[],
  S: number,
  R: number,
  seed: number,
): LockstepEpisode[] {
  const { world } = truth;
  const out: LockstepEpisode[] = [];
  for (const policy of policies) {
    for (let s = 0; s < S; s++) {
      const start = truth.starts[s]!;
      for (let r = 0; r < R; r++) {
        // One true user per episode: episodes run together, and a TrueUser follows one history.
        const oracle = policy.knows === "true user state";
        out.push({
          policy,
          env: {
            catalogue: world.observable,
            start: start.history,
            truth: oracle ? new TrueUser(world, world.userLatent(start.seed)) : undefined,
          },
          seed: deriveSeed(seed, `${s}/${r}`),
        });
      }
    }
  }
  return out;
}

/** Per-policy counts of the answer's fallbacks. */
interface Counts {
  unanswered: Float64Array;
  trimmed: Float64Array;
  /** λ of the uncertainty penalty, when one is taken. */
  lambda?: number;
  /** Per episode: the summed penalty λ × spread of its steps. */
  penalty?: Float64Array;
}

/**
 * The batch answer of `responder`: unknown actions get `fallback` (counted), unknown history
 * steps are left out (counted); one predict call per batch.
 */
function responderAnswer(
  responder: FidelityResponder,
  truth: TruthData,
  perPolicy: number,
  R: number,
  counts: Counts,
): BatchAnswer {
  const fallback = truth.log.labelShares;
  return async (steps) => {
    const out: Probs[] = new Array(steps.length);
    const asked: number[] = [];
    const requests: FidelityRequest[] = [];
    steps.forEach((st, i) => {
      const p = Math.floor(st.episode / perPolicy);
      if (!responder.knowsItem(st.item)) {
        counts.unanswered[p]!++;
        out[i] = fallback;
        return;
      }
      const readable = (h: Step) => responder.knowsItem(h.item) && responder.knowsLabel(h.label);
      let history = st.history;
      if (!history.every(readable)) {
        history = history.filter(readable);
        counts.trimmed[p]!++;
      }
      const s = Math.floor((st.episode % perPolicy) / R);
      const user = { seed: truth.starts[s]!.seed, stream: `episode/${st.episode}` };
      asked.push(i);
      requests.push({ user, history, item: st.item });
    });
    const probs = requests.length > 0 ? await responder.predict(requests) : [];
    asked.forEach((i, j) => (out[i] = probs[j]!));
    if (counts.penalty && counts.lambda) {
      const spreads = responder.lastSpreads?.() ?? [];
      asked.forEach((
        i,
        j,
      ) => (counts.penalty![steps[i]!.episode]! += counts.lambda! * (spreads[j] ?? 0)));
    }
    return out;
  };
}

/** Episodes with their penalties (λ × spread, summed per episode) taken off both returns. */
function penalised(episodes: readonly Episode[], penalty?: Float64Array): Episode[] {
  if (!penalty) return [...episodes];
  return episodes.map((e, i) => ({
    ...e,
    return: e.return - penalty[i]!,
    expectedReturn: e.expectedReturn - penalty[i]!,
  }));
}

/** Mean returns (sampled and expected) of each policy's S × R episodes. */
function values(episodes: readonly Episode[], P: number, S: number, R: number) {
  return Array.from({ length: P }, (_, p) => {
    const ret: number[][] = [];
    const exp: number[][] = [];
    let steps = 0;
    for (let s = 0; s < S; s++) {
      const row = episodes.slice((p * S + s) * R, (p * S + s + 1) * R);
      ret.push(row.map((e) => e.return));
      exp.push(row.map((e) => e.expectedReturn));
      for (const e of row) steps += e.steps.length;
    }
    return { mean: stratifiedMean(ret), expected: stratifiedMean(exp), steps };
  });
}

/** Plays every policy's episodes against `responder` in lockstep; returns them in order. */
async function play(
  responder: FidelityResponder,
  truth: TruthData,
  policies: readonly SyncTruthPolicy[],
  run: { S: number; R: number; seed: number; label: string; quiet: boolean },
  counts: Counts,
): Promise<Episode[]> {
  const rec = truth.policies;
  const episodes = episodesOf(truth, policies, run.S, run.R, run.seed);
  // One progress step per round of the lockstep; the rate counts episode steps.
  const progress = new Progress(run.label, rec.horizon, {
    quiet: run.quiet,
    unitsPerStep: episodes.length,
  });
  const answer = responderAnswer(responder, truth, run.S * run.R, run.R, counts);
  return await runLockstep(episodes, answer, {
    horizon: rec.horizon,
    rewards: rec.rewards,
    leaveAfterSkips: rec.leaveAfterSkips,
    onBatch: (_, batches) => progress.update(batches),
  });
}

/** The reference policies in policies.json's order; refuses names this recsimu lacks. */
function recordedPolicies(truth: TruthData): SyncTruthPolicy[] {
  const byName = new Map(referencePolicies(truth.world).map((p) => [p.name, p]));
  return truth.policies.values.map((v) => {
    const p = byName.get(v.name);
    if (!p) {
      throw new UserError(
        `"${truth.dir}/truth/policies.json": policy "${v.name}" is not a reference policy of this recsimu`,
      );
    }
    return p;
  });
}

/** Checks and fills in the run's settings. */
function settings(truth: TruthData, o: RankingOptions) {
  const rec = truth.policies;
  const S = o.startStates ?? rec.startStates;
  const R = o.rollouts ?? rec.rollouts;
  const seed = o.seed ?? rec.seed;
  if (!Number.isInteger(S) || S < 1 || S > truth.starts.length) {
    throw new RangeError(
      `Cannot judge policies: startStates must be an integer in [1, ${truth.starts.length}], got ${S}`,
    );
  }
  if (!Number.isInteger(R) || R < 1) {
    throw new RangeError(`Cannot judge policies: rollouts must be an integer >= 1, got ${R}`);
  }
  const recorded = S === rec.startStates && R === rec.rollouts && seed === rec.seed;
  return { S, R, seed, recorded, quiet: o.quiet ?? true };
}

/** Index of the largest value (the first on ties). */
const argmax = (xs: readonly number[]) => xs.reduce((b, x, i) => (x > xs[b]! ? i : b), 0);

/**
 * Judges `responder` on the reference policies of `truth`: simulated vs true mean returns on
 * the same episodes, their rank correlations, and what the responder's favourite is truly worth.
 */
export async function policyFidelity(
  responder: FidelityResponder,
  truth: TruthData,
  options: RankingOptions = {},
): Promise<RankingReport> {
  const rec = truth.policies;
  const policies = recordedPolicies(truth);
  const run = settings(truth, options);
  const { S, R } = run;
  const P = policies.length;
  const lambda = options.uncertaintyPenalty ?? 0;
  const counts: Counts = {
    unanswered: new Float64Array(P),
    trimmed: new Float64Array(P),
    ...(lambda > 0 ? { lambda, penalty: new Float64Array(P * S * R) } : {}),
  };
  const played = await play(responder, truth, policies, { ...run, label: "policies" }, counts);
  const sim = values(penalised(played, counts.penalty), P, S, R);
  // The truth on the same episodes: recorded, or replayed when the run differs from the record.
  const tru = run.recorded
    ? rec.values.map((v) => ({ mean: { mean: v.mean, stderr: v.stderr }, expected: v.expected }))
    : values(
      await play(truthResponder(truth.world), truth, policies, { ...run, label: "truth" }, {
        unanswered: new Float64Array(P),
        trimmed: new Float64Array(P),
      }),
      P,
      S,
      R,
    );
  const rows: PolicyRow[] = policies.map((p, i) => ({
    name: p.name,
    knows: p.knows,
    simulated: sim[i]!.mean,
    simulated_expected: sim[i]!.expected,
    true: tru[i]!.mean,
    true_expected: tru[i]!.expected,
    true_recorded: { mean: rec.values[i]!.mean, stderr: rec.values[i]!.stderr },
    relative_error: relativeError(sim[i]!.mean.mean, tru[i]!.mean.mean),
    relative_error_expected: relativeError(sim[i]!.expected.mean, tru[i]!.expected.mean),
    steps: sim[i]!.steps,
    unanswered_steps: counts.unanswered[i]!,
    trimmed_steps: counts.trimmed[i]!,
  }));
  const col = (f: (r: PolicyRow) => number) => rows.map(f);
  const top = argmax(col((r) => r.simulated.mean));
  const best = argmax(col((r) => r.true_recorded.mean));
  const sum = (f: (r: PolicyRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  return {
    horizon: rec.horizon,
    start_states: S,
    rollouts: R,
    seed: run.seed,
    recorded_episodes: run.recorded,
    rows,
    spearman: spearman(col((r) => r.simulated.mean), col((r) => r.true.mean)),
    kendall: kendallTauB(col((r) => r.simulated.mean), col((r) => r.true.mean)),
    spearman_expected: spearman(
      col((r) => r.simulated_expected.mean),
      col((r) => r.true_expected.mean),
    ),
    kendall_expected: kendallTauB(
      col((r) => r.simulated_expected.mean),
      col((r) => r.true_expected.mean),
    ),
    simulator_top: {
      name: rows[top]!.name,
      simulated: rows[top]!.simulated.mean,
      true: rows[top]!.true_recorded.mean,
    },
    true_best: { name: rows[best]!.name, true: rows[best]!.true_recorded.mean },
    regret: rows[best]!.true_recorded.mean - rows[top]!.true_recorded.mean,
    steps: sum((r) => r.steps),
    unanswered_steps: sum((r) => r.unanswered_steps),
    trimmed_steps: sum((r) => r.trimmed_steps),
  };
}
