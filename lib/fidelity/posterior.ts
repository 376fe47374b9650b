/**
 * The observable ceiling of a truth world: P(label | observable history, item), the best any
 * model of the log can answer. The truth's own probabilities (cases.jsonl) use the user's latent
 * taste, engagement and price sensitivity, which no history fully reveals; this module averages
 * the response model over the posterior of the latent given the history.
 *
 * Monte Carlo by importance sampling: M users ("particles") are drawn from the world's own prior
 * ({@link TruthWorld.userLatent}); particle j weighs Π_t P(label_t | latent_j, history_<t, item_t).
 * The logging policy chooses items from the observable history only (policies.ts), so the items
 * carry no information about the latent beyond the labels and the weights are exact up to the
 * sampling. The drift, aversion, fatigue and repetition terms depend on the history alone, so they
 * are computed once per step and shared by every particle.
 * @module
 */
import {
  sigmoid,
  type Step,
  type TruthWorld,
  type UserLatent,
  type UserState,
} from "../data/truth/world.ts";
import type { FidelityResponder } from "./responders.ts";

/** Options of {@link posteriorProbs}. */
export interface PosteriorOptions {
  /** Particles drawn from the user prior. @default 4000 */
  particles?: number;
  /** Seed of the particles (child seeds of the world's). @default 0 */
  seed?: number;
}

/** One question: an observable history and the item shown next. */
export interface PosteriorQuestion {
  /** The history, oldest first. */
  readonly state: readonly Step[];
  /** The item shown. */
  readonly action: number;
}

/** The posterior answers of {@link posteriorProbs}. */
export interface PosteriorAnswers {
  /** P(skip, click, purchase) per question, row-major [n, 3]. */
  probs: Float64Array;
  /** The effective number of particles per question, (Σw)² / Σw². */
  ess: Float64Array;
  /** Particles drawn. */
  particles: number;
}

/** Particle `j` of `seed`: a user latent drawn from the world's prior. */
export function posteriorParticle(world: TruthWorld, seed: number, j: number): UserLatent {
  return world.userLatent(world.childSeed(`posterior/${seed}/${j}`));
}

/** The particles' latents, packed: tastes [M, d], engagements and price sensitivities [M]. */
export interface Particles {
  readonly taste: Float64Array;
  readonly engagement: Float64Array;
  readonly beta: Float64Array;
}

/** `m` particles of `seed` ({@link posteriorParticle}), packed. */
export function drawParticles(world: TruthWorld, m: number, seed = 0): Particles {
  if (!Number.isInteger(m) || m < 1) {
    throw new RangeError(`Cannot draw posterior particles: expected a positive integer, got ${m}`);
  }
  const d = world.params.dim;
  const out = {
    taste: new Float64Array(m * d),
    engagement: new Float64Array(m),
    beta: new Float64Array(m),
  };
  for (let j = 0; j < m; j++) {
    const l = posteriorParticle(world, seed, j);
    out.taste.set(l.taste, j * d);
    out.engagement[j] = l.engagement;
    out.beta[j] = l.priceSensitivity;
  }
  return out;
}

/** The latent-free terms of the response to `item` after a history (state of a zero latent). */
interface ItemTerms {
  /** Unit item vector offset into the catalogue's vectors. */
  offset: number;
  /** bias + drift·v + quality − fatigue − repetition − aversion: the positive logit less the latent. */
  positive: number;
  /** drift·v: the match term's latent-free part (it enters the purchase logit too). */
  driftMatch: number;
  /** purchaseBias + purchaseQuality·q: the purchase logit's latent-free part. */
  purchase: number;
  /** log price − priceLogMean: scaled by the particle's price sensitivity. */
  price: number;
}

function itemTerms(world: TruthWorld, h: UserState, item: number): ItemTerms {
  const p = world.params;
  const c = world.catalogue;
  const driftMatch = world.match(h, item); // h.taste is the drift: its latent taste is zero
  const q = c.quality[item]!;
  return {
    offset: item * p.dim,
    positive: p.bias + driftMatch + p.qualityWeight * q - p.fatigue * world.fatigueRun(h, item) -
      (h.shown.has(item) ? p.repetition : 0) - h.aversion[c.category[item]!]!,
    driftMatch,
    purchase: p.purchaseBias + p.purchaseQuality * q,
    price: c.logPrice[item]! - p.priceLogMean,
  };
}

/** Particle j's P(positive) and P(purchase | positive) of the item with terms `t`, into out. */
function particleResponse(
  world: TruthWorld,
  ps: Particles,
  j: number,
  t: ItemTerms,
  out: Float64Array,
): void {
  const d = world.params.dim;
  const v = world.catalogue.vectors;
  let m = 0;
  for (let k = 0; k < d; k++) m += ps.taste[j * d + k]! * v[t.offset + k]!;
  out[0] = sigmoid(t.positive + ps.engagement[j]! + m);
  out[1] = sigmoid(
    t.purchase + world.params.purchaseMatch * (m + t.driftMatch) - ps.beta[j]! * t.price,
  );
}

/**
 * The posterior of one user's latent as its history grows: log-weights of the particles and the
 * history-only state (drift, aversion, items shown) shared by all of them.
 */
export class PosteriorTracker {
  readonly #world: TruthWorld;
  readonly #ps: Particles;
  readonly #logW: Float64Array;
  readonly #h: UserState;
  readonly #r = new Float64Array(2);
  /** The steps seen so far. */
  readonly seen: Step[] = [];

  /** A tracker over `particles` ({@link drawParticles}, shared, not copied) with no history. */
  constructor(world: TruthWorld, particles: Particles) {
    this.#world = world;
    this.#ps = particles;
    this.#logW = new Float64Array(particles.engagement.length);
    const zero = { seed: 0, taste: new Float64Array(world.params.dim), engagement: 0 };
    this.#h = world.initialState({ ...zero, priceSensitivity: 0 });
  }

  /** The history grows by `step`: every particle is weighed by its probability of the label. */
  advance(step: Step): void {
    const t = itemTerms(this.#world, this.#h, step.item);
    const r = this.#r;
    for (let j = 0; j < this.#logW.length; j++) {
      particleResponse(this.#world, this.#ps, j, t, r);
      const l = step.label;
      const pl = l === 0 ? 1 - r[0]! : l === 1 ? r[0]! * (1 - r[1]!) : r[0]! * r[1]!;
      this.#logW[j]! += Math.log(Math.max(pl, 1e-300));
    }
    this.#world.step(this.#h, step.item, step.label);
    this.seen.push({ item: step.item, label: step.label });
  }

  /** P(skip, click, purchase) of `item` now, into out[at..at+2]; returns the effective sample size. */
  answer(item: number, out: Float64Array, at = 0): number {
    const logW = this.#logW;
    const r = this.#r;
    let top = -Infinity;
    for (let j = 0; j < logW.length; j++) top = Math.max(top, logW[j]!);
    const t = itemTerms(this.#world, this.#h, item);
    let sw = 0, sw2 = 0, skip = 0, click = 0, buy = 0;
    for (let j = 0; j < logW.length; j++) {
      const w = Math.exp(logW[j]! - top);
      particleResponse(this.#world, this.#ps, j, t, r);
      sw += w;
      sw2 += w * w;
      skip += w * (1 - r[0]!);
      click += w * r[0]! * (1 - r[1]!);
      buy += w * r[0]! * r[1]!;
    }
    out[at] = skip / sw;
    out[at + 1] = click / sw;
    out[at + 2] = buy / sw;
    return (sw * sw) / sw2;
  }
}

/**
 * P(label | observable history, item) of every question, by importance sampling over the
 * world's user prior.
 *
 * @example
 * ```ts
 * import { TruthWorld } from "../data/truth/world.ts";
 * import { posteriorProbs } from "./posterior.ts";
 * const w = new TruthWorld({ params: { items: 20, categories: 4 } });
 * const a = posteriorProbs(w, [{ state: [{ item: 1, label: 1 }], action: 2 }], { particles: 50 });
 * a.probs.length; // 3
 * ```
 */
export function posteriorProbs(
  world: TruthWorld,
  questions: readonly PosteriorQuestion[],
  options: PosteriorOptions = {},
): PosteriorAnswers {
  const { particles = 4000, seed = 0 } = options;
  const ps = drawParticles(world, particles, seed);
  const probs = new Float64Array(3 * questions.length);
  const ess = new Float64Array(questions.length);
  questions.forEach((q, i) => {
    const t = new PosteriorTracker(world, ps);
    for (const s of q.state) t.advance(s);
    ess[i] = t.answer(q.action, probs, 3 * i);
  });
  return { probs, ess, particles };
}

/** Options of {@link posteriorResponder}. */
export interface PosteriorResponderOptions {
  /** Particles drawn from the user prior, shared by every stream. @default 1000 */
  particles?: number;
  /** Seed of the particles. @default 0 */
  seed?: number;
}

/**
 * The observable ceiling as a responder: a simulator that knows the world's response model and
 * its user prior but, like any model of the log, only the history. One {@link PosteriorTracker}
 * per stream advances as the stream's history grows; any other history restarts it. Judging it
 * tells what the best simulator that learns from histories could reach (`deno task
 * fidelity:ceiling`).
 *
 * @example
 * ```ts
 * import { TruthWorld } from "../data/truth/world.ts";
 * import { posteriorResponder } from "./posterior.ts";
 * const w = new TruthWorld({ params: { items: 20, categories: 4 } });
 * const r = posteriorResponder(w, { particles: 50 });
 * const [p] = await r.predict([{ user: { seed: 1, stream: "a" }, history: [], item: 3 }]);
 * p!.length; // 3
 * ```
 */
export function posteriorResponder(
  world: TruthWorld,
  options: PosteriorResponderOptions = {},
): FidelityResponder {
  const ps = drawParticles(world, options.particles ?? 1000, options.seed ?? 0);
  const streams = new Map<string, PosteriorTracker>();
  const out = new Float64Array(3);
  const tracker = (stream: string, history: readonly Step[]) => {
    let t = streams.get(stream);
    const extends_ = t !== undefined && history.length >= t.seen.length &&
      t.seen.every((s, k) => s.item === history[k]!.item && s.label === history[k]!.label);
    if (!t || !extends_) {
      t = new PosteriorTracker(world, ps);
      streams.set(stream, t);
    }
    for (let k = t.seen.length; k < history.length; k++) t.advance(history[k]!);
    return t;
  };
  return {
    name: "posterior",
    knowsItem: (item) => item >= 0 && item < world.params.items,
    knowsLabel: () => true,
    predict(requests) {
      return Promise.resolve(requests.map((r) => {
        tracker(r.user.stream, r.history).answer(r.item, out);
        return [out[0]!, out[1]!, out[2]!] as const;
      }));
    },
  };
}
