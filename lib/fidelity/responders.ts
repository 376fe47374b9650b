/**
 * What the judge asks: P(skip, click, purchase) of an item after an observable history, in
 * batches. A learned simulator answers from the history alone ({@link simulatorResponder}); the
 * truth's own responder ({@link truthResponder}) also needs to know which user asks, so every
 * request names its user. The judge sends a responder only what it knows (items and labels);
 * the rules for the rest are the judge's (`judge.ts`).
 * @module
 */
import type { SimulatorLike } from "../sim/types.ts";
import {
  type Probs,
  type Step,
  TrueUser,
  TRUTH_LABELS,
  type TruthLabel,
  type TruthWorld,
} from "../data/truth/world.ts";

/** The user behind a request: a learned simulator ignores it; the truth needs it. */
export interface UserRef {
  /** The user's seed (`world.userLatent(seed)` is the latent). */
  readonly seed: number;
  /** One stream of requests whose histories extend each other: a case or an episode. */
  readonly stream: string;
}

/** One question: how does `user` with observable `history` react to `item`? */
export interface FidelityRequest {
  /** Who asks. */
  readonly user: UserRef;
  /** The observable history, oldest first (only items and labels the responder knows). */
  readonly history: readonly Step[];
  /** The item shown (one the responder knows). */
  readonly item: number;
}

/** Anything the judge can judge: a learned simulator, the truth itself, a baseline. */
export interface FidelityResponder {
  /** What it is, for the report. */
  readonly name: string;
  /** Whether it can answer item `item` (in a history or as the action). */
  knowsItem(item: number): boolean;
  /** Whether it can read label `label` in a history. */
  knowsLabel(label: TruthLabel): boolean;
  /** P(skip, click, purchase) of each request, in one batched pass where it can. */
  predict(requests: readonly FidelityRequest[]): Promise<Probs[]>;
  /**
   * The spread of each answer (the ensemble heads' standard deviation of P(positive)) from the
   * last `predict` call, in its order; absent for responders without one.
   */
  lastSpreads?(): readonly number[];
  /**
   * The support of each answer (the support model's estimate of ln π_log(a | s) − ln(1/V)) and
   * its `ood.off_support` flag from the last `predict` call, in its order; absent for
   * responders without a support model.
   */
  lastSupports?(): readonly AnswerSupport[];
}

/** An answer's support logit and whether it is flagged off support. */
export interface AnswerSupport {
  logit: number;
  off: boolean;
}

/**
 * A learned simulator as a responder: item v is id `i{v}`, labels are matched by name (a truth
 * label the simulator lacks gets probability 0; the rest is renormalised), one `predictArrays`
 * call per batch. The request's user is ignored: a simulator sees only the history.
 */
export function simulatorResponder(sim: SimulatorLike): FidelityResponder {
  const simIndex = TRUTH_LABELS.map((l) => sim.labels.indexOf(l));
  if (simIndex.every((j) => j < 0)) {
    throw new RangeError(
      `Cannot judge a simulator with labels ${sim.labels.join(", ")}: none of ${TRUTH_LABELS}`,
    );
  }
  const mapped = simIndex.filter((j) => j >= 0).length;
  let spreads: number[] = [];
  let supports: AnswerSupport[] = [];
  return {
    lastSpreads: () => spreads,
    lastSupports: () => supports,
    name: "simulator",
    knowsItem: (item) => sim.answersUnknownItems === true || sim.hasItem(`i${item}`),
    knowsLabel: (label) => simIndex[label]! >= 0,
    async predict(requests) {
      const answers = await sim.predictArrays(requests.map((r) => ({
        state: r.history.map((s) => ({ item: `i${s.item}`, feedback: TRUTH_LABELS[s.label] })),
        action: `i${r.item}`,
      })));
      // Only when every answer has one (a Simulator always does, 0 with one head; other
      // SimulatorLike implementations may not).
      spreads = answers.every((a) => a.spread !== undefined && Number.isFinite(a.spread))
        ? answers.map((a) => a.spread!)
        : [];
      supports = answers.every((a) => a.support !== undefined && Number.isFinite(a.support))
        ? answers.map((a) => ({ logit: a.support!, off: a.ood?.off_support === true }))
        : [];
      return answers.map((a) => {
        const p = simIndex.map((j) => (j >= 0 ? a.probs[j]! : 0));
        const z = p[0]! + p[1]! + p[2]!;
        // All mass on labels the truth lacks (no real model does that): uniform over the rest.
        if (!(z > 0)) return simIndex.map((j) => (j >= 0 ? 1 : 0) / mapped) as unknown as Probs;
        return p.map((x) => x / z) as unknown as Probs;
      });
    },
  };
}

/**
 * The truth itself as a responder: the true P(label | history, item) of the request's user.
 * One {@link TrueUser} per stream advances incrementally as the stream's history grows. Judging
 * it gives the ceiling (and the sanity check: KL 0, ECE against the truth 0, rank correlation 1).
 */
export function truthResponder(world: TruthWorld): FidelityResponder {
  const users = new Map<string, TrueUser>();
  return {
    name: "truth",
    knowsItem: (item) => item >= 0 && item < world.params.items,
    knowsLabel: () => true,
    predict(requests) {
      return Promise.resolve(requests.map((r) => {
        let u = users.get(r.user.stream);
        if (!u) {
          u = new TrueUser(world, world.userLatent(r.user.seed));
          users.set(r.user.stream, u);
        }
        return u.probs(r.history, r.item);
      }));
    },
  };
}
