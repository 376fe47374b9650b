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
  loggingPolicy,
  type MeanSe,
  type PolicyKnowledge,
  referencePolicies,
  stratifiedMean,
  type SyncTruthPolicy,
  type TruthPolicy,
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
  /**
   * μ of the support guard (`serve --support-penalty`): each simulated step's reward is lowered
   * by μ × max(0, −the answer's support). @default 0
   */
  supportPenalty?: number;
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
  policies: readonly TruthPolicy[],
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
  /** λ of the uncertainty penalty and μ of the support penalty, when one is taken. */
  lambda?: number;
  mu?: number;
  /** Per episode: the summed penalty λ × spread + μ × max(0, −support) of its steps. */
  penalty?: Float64Array;
}

/** Counts for P policies of S × R episodes, with the penalties of `o` (if any). */
function newCounts(P: number, S: number, R: number, o: RankingOptions): Counts {
  const lambda = o.uncertaintyPenalty ?? 0, mu = o.supportPenalty ?? 0;
  return {
    unanswered: new Float64Array(P),
    trimmed: new Float64Array(P),
    ...(lambda > 0 || mu > 0 ? { lambda, mu, penalty: new Float64Array(P * S * R) } : {}),
  };
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
    if (counts.penalty) {
      const spreads = responder.lastSpreads?.() ?? [];
      const supports = responder.lastSupports?.() ?? [];
      const { lambda = 0, mu = 0 } = counts;
      asked.forEach((i, j) => {
        const support = Math.max(0, -(supports[j]?.logit ?? 0));
        counts.penalty![steps[i]!.episode]! += lambda * (spreads[j] ?? 0) + mu * support;
      });
    }
    return out;
  };
}

/** Episodes with their penalties (summed per episode) taken off both returns. */
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
  policies: readonly TruthPolicy[],
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
  const counts = newCounts(P, S, R, options);
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

/** A policy learned in the simulator (e.g. by `recsimu agent`), judged in it and in the truth. */
export interface LearnedPolicyReport {
  /** The policy's name. */
  name: string;
  /** Mean return in the responder (penalties, if any, taken off) on the judge's episodes. */
  simulated: MeanSe;
  /** Mean return in the TRUE world on the same start states, rollouts and seeds. */
  true: MeanSe;
  /** The same for the expected returns. */
  simulated_expected: MeanSe;
  true_expected: MeanSe;
  /** (simulated − true) / |true|. */
  relative_error: number;
  /**
   * Its rank (1 = best) among the reference policies and itself, by the simulated returns of
   * the ranking (`simulated`) and by the true ones (`true`).
   */
  rank: { simulated: number; true: number; of: number };
  /** The reference policies whose true return it beats, in the ranking's order. */
  beats: string[];
  /**
   * What it does in the TRUE world, beside the logging policy on the same episodes: the share
   * of steps showing the category of the item just before (the start history's last included;
   * long same-category runs are where the truth's fatigue rules), the distinct items shown, and
   * the mean popularity rank of the items shown over V (0: the most popular).
   */
  behaviour: { policy: PolicyBehaviour; logging: PolicyBehaviour };
  /** Steps the responder could not answer (see {@link PolicyRow}). */
  unanswered_steps: number;
}

/** What a policy showed over its episodes (see {@link LearnedPolicyReport.behaviour}). */
export interface PolicyBehaviour {
  same_category: number;
  distinct_items: number;
  mean_popularity_rank: number;
}

/** {@link PolicyBehaviour} of episodes played from `starts` (episode i from start ⌊i / R⌋). */
function behaviourOf(
  episodes: readonly Episode[],
  truth: TruthData,
  R: number,
): PolicyBehaviour {
  const cat = truth.world.observable;
  let steps = 0, same = 0, rank = 0;
  const distinct = new Set<number>();
  episodes.forEach((e, i) => {
    const start = truth.starts[Math.floor(i / R)]!.history;
    let prev = start.length > 0 ? start[start.length - 1]!.item : -1;
    for (const s of e.steps) {
      steps++;
      if (prev >= 0 && cat.category[prev] === cat.category[s.item]) same++;
      rank += cat.popularityRank[s.item]! / cat.items;
      distinct.add(s.item);
      prev = s.item;
    }
  });
  return {
    same_category: steps === 0 ? NaN : same / steps,
    distinct_items: distinct.size,
    mean_popularity_rank: steps === 0 ? NaN : rank / steps,
  };
}

/**
 * Plays `policy` (any {@link TruthPolicy}; asynchronous ones are awaited per step) from the
 * start states of `truth` in `responder` and in the true world, on the episodes `ranking` was
 * judged on (its start states, rollouts and seed, and the same penalties in `options`), and
 * ranks it among the reference policies of `ranking`: what an agent trained in the simulator
 * is worth, and how much the simulator over-values it.
 */
export async function learnedPolicyFidelity(
  responder: FidelityResponder,
  truth: TruthData,
  policy: TruthPolicy,
  ranking: RankingReport,
  options: RankingOptions = {},
): Promise<LearnedPolicyReport> {
  const S = ranking.start_states, R = ranking.rollouts, seed = ranking.seed;
  const quiet = options.quiet ?? true;
  const counts = newCounts(1, S, R, options);
  const played = await play(responder, truth, [policy], {
    S,
    R,
    seed,
    label: policy.name,
    quiet,
  }, counts);
  const [sim] = values(penalised(played, counts.penalty), 1, S, R);
  const inTruth = (p: TruthPolicy) =>
    play(truthResponder(truth.world), truth, [p], {
      S,
      R,
      seed,
      label: `${p.name} (truth)`,
      quiet,
    }, newCounts(1, S, R, {}));
  const trueEpisodes = await inTruth(policy);
  const [tru] = values(trueEpisodes, 1, S, R);

  const rankIn = (xs: number[], x: number) => 1 + xs.filter((v) => v > x).length;
  const rows = ranking.rows;
  return {
    name: policy.name,
    simulated: sim!.mean,
    true: tru!.mean,
    simulated_expected: sim!.expected,
    true_expected: tru!.expected,
    relative_error: relativeError(sim!.mean.mean, tru!.mean.mean),
    rank: {
      simulated: rankIn(rows.map((r) => r.simulated.mean), sim!.mean.mean),
      true: rankIn(rows.map((r) => r.true.mean), tru!.mean.mean),
      of: rows.length + 1,
    },
    beats: rows.filter((r) => r.true.mean < tru!.mean.mean).map((r) => r.name),
    behaviour: {
      policy: behaviourOf(trueEpisodes, truth, R),
      logging: behaviourOf(await inTruth(loggingPolicy(truth.world)), truth, R),
    },
    unanswered_steps: counts.unanswered[0]!,
  };
}
