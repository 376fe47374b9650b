/**
 * Known-truth worlds: a seeded recommendation world whose user model is known exactly, so that a
 * simulator learned from its logs can be judged against the TRUE label probabilities and the true
 * returns of reference policies. The generative model is documented in `docs/truth_worlds.md`;
 * {@link TRUTH_PRESETS} holds its parameters.
 *
 * Structure (after google-research/recsim): a catalogue built once per world; per user a latent
 * (taste vector, engagement, price sensitivity); a {@link UserState} that is a deterministic
 * function of the latent and the observable history, so the true P(label | history, item) is
 * well defined; {@link TruthWorld.probs} is the response model and {@link TruthWorld.step} the
 * transition.
 * @module
 */
import { deriveSeed, Rng } from "../../random.ts";
import { upperBound } from "../synth.ts";

/** Version of the generative model; bumped whenever the same options give different files. */
export const TRUTH_VERSION = 1;

/** The feedback labels, in class order; `click` and `purchase` are positive. */
export const TRUTH_LABELS = ["skip", "click", "purchase"] as const;

/** A label as its class index: 0 skip, 1 click, 2 purchase. */
export type TruthLabel = 0 | 1 | 2;

/** One observable step of a history: the item shown and the user's label. */
export interface Step {
  /** Item number v (id `i{v}`). */
  readonly item: number;
  /** The user's label. */
  readonly label: TruthLabel;
}

/** Probabilities of skip, click and purchase; they sum to 1. */
export type Probs = readonly [number, number, number];

/** The named parameter sets. */
export const TRUTH_PRESET_NAMES = ["base", "hard"] as const;

/** A named parameter set. */
export type PresetName = typeof TRUTH_PRESET_NAMES[number];

/** Every parameter of the generative model (see docs/truth_worlds.md). */
export interface TruthParams {
  /** Number of items V (ids `i0` … `i{V-1}`). */
  items: number;
  /** Number of item categories C (at most `items`). */
  categories: number;
  /** Dimension d of the latent taste and item vectors. */
  dim: number;
  /** Category c has size and user appeal weight (c+1)^-categoryZipf. */
  categoryZipf: number;
  /** Item vector = normalise(category centroid + itemSpread·g), g ~ N(0, I/d). */
  itemSpread: number;
  /** Item quality ~ N(0, qualitySd²) (logit scale). */
  qualitySd: number;
  /** Popularity score = log(category weight) + popularityQuality·quality + popularityNoise·N(0,1). */
  popularityQuality: number;
  /** Noise of the popularity score. */
  popularityNoise: number;
  /** Log price = priceLogMean + N(0, priceCategorySd²) per category + N(0, priceSd²) + priceQuality·quality. */
  priceLogMean: number;
  /** Spread of the categories' mean log prices. */
  priceCategorySd: number;
  /** Spread of log prices within a category. */
  priceSd: number;
  /** Slope of log price on quality (better items cost more). */
  priceQuality: number;
  /** Favourite categories per user, drawn by category weight (with replacement). */
  favourites: number;
  /** Norm of the initial taste vector: the scale of the user·item match term. */
  tasteStrength: number;
  /** Taste direction = normalise(Σ favourite centroids + tasteNoise·g), g ~ N(0, I/d). */
  tasteNoise: number;
  /** Engagement offset ~ N(0, engagementSd²) (logit scale), fixed per user. */
  engagementSd: number;
  /** Price sensitivity = priceSensitivity·exp(N(0, priceSensitivitySd²)). */
  priceSensitivity: number;
  /** Log-scale spread of the price sensitivity. */
  priceSensitivitySd: number;
  /** Intercept of the positive logit. */
  bias: number;
  /** Weight of item quality in the positive logit. */
  qualityWeight: number;
  /** Logit penalty per preceding consecutive similar item (the fatigue run). */
  fatigue: number;
  /** Longest fatigue run counted. */
  fatigueCap: number;
  /** Two items of different categories are similar when their cosine exceeds this. */
  similarity: number;
  /** Logit penalty when the item was already shown in the session. */
  repetition: number;
  /** P(purchase | positive) logit: purchaseBias + purchaseQuality·q + purchaseMatch·match − β·(log price − priceLogMean). */
  purchaseBias: number;
  /** Weight of quality in the purchase logit. */
  purchaseQuality: number;
  /** Weight of the user·item match in the purchase logit. */
  purchaseMatch: number;
  /** Taste drift towards a clicked item's vector. */
  driftClick: number;
  /** Taste drift towards a purchased item's vector. */
  driftPurchase: number;
  /** Per-step decay of the accumulated drift (short-term drift). */
  driftDecay: number;
  /** Aversion (logit penalty) added to a skipped item's category. */
  skipAversion: number;
  /** Per-step decay of every category's aversion. */
  aversionDecay: number;
  /** Logging policy: P(exploit a recent positive: its neighbours or its category). */
  logExploit: number;
  /** Logging policy: P(a latent neighbour of the positive | exploit); otherwise its category. */
  logNeighbour: number;
  /** Logging policy: P(re-show an earlier positive item). */
  logReshow: number;
  /** Logging policy: P(a popularity draw from the whole catalogue); the rest is uniform exploration. */
  logPopular: number;
  /** Logging policy: how many recent positives it remembers. */
  logRecent: number;
  /** Logging policy: P(stepping back one more positive from the newest). */
  logBack: number;
  /** Logging policy: neighbours per item in its item-item table (by latent cosine). */
  neighbours: number;
  /** Popularity draws weight the item of rank r by (r+1)^-popularityZipf. */
  popularityZipf: number;
}

const BASE: TruthParams = {
  items: 3000,
  categories: 30,
  dim: 16,
  categoryZipf: 0.7,
  itemSpread: 0.5,
  qualitySd: 0.4,
  popularityQuality: 1,
  popularityNoise: 1,
  priceLogMean: 3,
  priceCategorySd: 0.5,
  priceSd: 0.35,
  priceQuality: 0.3,
  favourites: 2,
  tasteStrength: 6,
  tasteNoise: 0.5,
  engagementSd: 0.5,
  priceSensitivity: 0.8,
  priceSensitivitySd: 0.3,
  bias: -3.6,
  qualityWeight: 1,
  fatigue: 0.25,
  fatigueCap: 4,
  similarity: 0.6,
  repetition: 1,
  purchaseBias: -1.8,
  purchaseQuality: 1,
  purchaseMatch: 0.2,
  driftClick: 0.4,
  driftPurchase: 0.6,
  driftDecay: 0.8,
  skipAversion: 0.2,
  aversionDecay: 0.7,
  logExploit: 0.55,
  logNeighbour: 0.5,
  logReshow: 0.03,
  logPopular: 0.3,
  logRecent: 5,
  logBack: 0.4,
  neighbours: 20,
  popularityZipf: 0.9,
};

/** The parameter sets: "base", and "hard" (more items, stronger fatigue, repetition and confounding). */
export const TRUTH_PRESETS: Readonly<Record<PresetName, Readonly<TruthParams>>> = Object.freeze({
  base: Object.freeze({ ...BASE }),
  hard: Object.freeze({
    ...BASE,
    items: 5000,
    categories: 50,
    fatigue: 0.4,
    fatigueCap: 6,
    repetition: 2.5,
    driftClick: 0.5,
    driftPurchase: 0.7,
    driftDecay: 0.85,
    skipAversion: 0.3,
    aversionDecay: 0.75,
    logExploit: 0.75,
    logNeighbour: 0.6,
    logReshow: 0.06,
    logPopular: 0.15,
  }),
});

/** Options of a {@link TruthWorld}: a world is (preset, seed), with optional overrides. */
export interface TruthWorldOptions {
  /** The parameter set. @default "base" */
  preset?: PresetName;
  /** Root seed; every sampler derives its own child seed from it. @default 0 */
  seed?: number;
  /** Parameters that replace the preset's (e.g. `{ items: 300 }`). @default {} */
  params?: Partial<TruthParams>;
}

/** The user groups: log sessions, held-out test cases and policy-evaluation start states. */
export type UserGroup = "log" | "case" | "start";

/** A user's latent traits, fixed for the session. */
export interface UserLatent {
  /** The seed the latent was drawn from ({@link TruthWorld.userSeed}). */
  readonly seed: number;
  /** Initial taste vector (length d, norm tasteStrength). */
  readonly taste: Float64Array;
  /** Engagement offset of the positive logit. */
  readonly engagement: number;
  /** Price sensitivity β of the purchase logit. */
  readonly priceSensitivity: number;
}

/** The true user state: a deterministic function of the latent and the history so far. */
export interface UserState {
  /** The user's latent traits. */
  readonly latent: UserLatent;
  /** Current taste = latent taste + drift. */
  readonly taste: Float64Array;
  /** Accumulated short-term drift of the taste. */
  readonly drift: Float64Array;
  /** Per-category aversion (logit penalty) from recent skips. */
  readonly aversion: Float64Array;
  /** Items shown so far, oldest first. */
  readonly items: number[];
  /** The same items as a set, for the repetition term. */
  readonly shown: Set<number>;
}

/** What every policy may see of the catalogue: category, price and popularity rank. */
export interface ObservableCatalogue {
  /** Number of items V. */
  readonly items: number;
  /** Number of categories C. */
  readonly categories: number;
  /** Category of each item. */
  readonly category: Uint32Array;
  /** Price of each item (rounded to cents). */
  readonly price: Float64Array;
  /** Popularity rank of each item, 0 the most popular. */
  readonly popularityRank: Uint32Array;
  /** Item numbers, most popular first. */
  readonly byPopularity: Uint32Array;
  /** Items grouped by category, each group most popular first. */
  readonly byCategory: Uint32Array;
  /** Category c's items are byCategory[categoryStart[c] .. categoryStart[c+1]). */
  readonly categoryStart: Uint32Array;
}

/** The full (latent) catalogue of a world. */
export interface TrueCatalogue {
  /** Category of each item. */
  readonly category: Uint32Array;
  /** Unit latent vector of each item, row-major V × d. */
  readonly vectors: Float64Array;
  /** Latent quality of each item (logit scale). */
  readonly quality: Float64Array;
  /** Price of each item (rounded to cents). */
  readonly price: Float64Array;
  /** Natural log of each price. */
  readonly logPrice: Float64Array;
  /** Popularity rank of each item, 0 the most popular. */
  readonly popularityRank: Uint32Array;
  /** Unit centroid of each category, row-major C × d. */
  readonly centroids: Float64Array;
  /** Appeal weight of each category, (c+1)^-categoryZipf. */
  readonly categoryWeight: Float64Array;
}

/** Upper bounds of the sizes, keeping memory and time per row small. */
export const TRUTH_LIMITS = { items: 1_000_000, categories: 10_000, dim: 256 } as const;

/** Checks the merged parameters; throws a RangeError naming the first bad one. */
function checkParams(p: TruthParams): void {
  const fail = (name: string, want: string, v: unknown): never => {
    throw new RangeError(`Cannot build a truth world: ${name} must be ${want}, got ${v}`);
  };
  const int = (name: keyof TruthParams, min: number, max: number) => {
    const v = p[name];
    if (!Number.isInteger(v) || v < min || v > max) fail(name, `an integer in [${min}, ${max}]`, v);
  };
  int("items", 1, TRUTH_LIMITS.items);
  int("categories", 1, Math.min(TRUTH_LIMITS.categories, p.items));
  int("dim", 1, TRUTH_LIMITS.dim);
  int("favourites", 1, 100);
  int("fatigueCap", 0, 1000);
  int("logRecent", 1, 1000);
  int("neighbours", 1, 1000);
  for (const [k, v] of Object.entries(p)) if (!Number.isFinite(v)) fail(k, "finite", v);
  const unit = [
    "driftDecay",
    "aversionDecay",
    "similarity",
    "logExploit",
    "logNeighbour",
    "logReshow",
    "logPopular",
    "logBack",
  ] as const;
  for (const k of unit) if (p[k] < 0 || p[k] > 1) fail(k, "in [0, 1]", p[k]);
  const mass = p.logExploit + p.logReshow + p.logPopular;
  if (mass > 1 + 1e-12) fail("logExploit + logReshow + logPopular", "at most 1", mass);
}

/** The merged parameters of `options`, checked. */
export function truthParams(options: TruthWorldOptions = {}): TruthParams {
  const preset = options.preset ?? "base";
  if (!TRUTH_PRESET_NAMES.includes(preset)) {
    throw new RangeError(
      `Cannot build a truth world: preset must be one of ${TRUTH_PRESET_NAMES.join(", ")}, got ${
        JSON.stringify(preset)
      }`,
    );
  }
  for (const k of Object.keys(options.params ?? {})) {
    if (!(k in BASE)) throw new RangeError(`Cannot build a truth world: unknown parameter "${k}"`);
  }
  const p = { ...TRUTH_PRESETS[preset], ...options.params };
  checkParams(p);
  return p;
}

/** Adds scale·g to out[off .. off+d), with g ~ N(0, I/d) (so |g| ≈ 1). */
function noiseInto(out: Float64Array, off: number, d: number, rng: Rng, scale: number): void {
  for (let k = 0; k < d; k++) out[off + k]! += scale * rng.normal() / Math.sqrt(d);
}

/** Normalises out[off .. off+d) to unit length (a zero vector stays zero). */
function normalise(out: Float64Array, off: number, d: number): void {
  let n = 0;
  for (let k = 0; k < d; k++) n += out[off + k]! ** 2;
  const s = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let k = 0; k < d; k++) out[off + k]! *= s;
}

/** Category of each item: the first C items get one each, the rest are drawn by weight. */
function drawCategories(p: TruthParams, weight: Float64Array, rng: Rng): Uint32Array {
  const cdf = new Float64Array(p.categories);
  let acc = 0;
  for (let c = 0; c < p.categories; c++) cdf[c] = acc += weight[c]!;
  const category = new Uint32Array(p.items);
  for (let i = 0; i < p.items; i++) {
    category[i] = i < p.categories ? i : upperBound(cdf, 0, p.categories, rng.next() * acc);
  }
  return category;
}

/** Builds the latent catalogue from the catalogue's seed. */
function buildCatalogue(p: TruthParams, seed: number): TrueCatalogue {
  const rng = new Rng(seed);
  const { items: V, categories: C, dim: d } = p;
  const centroids = new Float64Array(C * d);
  for (let c = 0; c < C; c++) {
    noiseInto(centroids, c * d, d, rng, 1);
    normalise(centroids, c * d, d);
  }
  const categoryWeight = new Float64Array(C);
  for (let c = 0; c < C; c++) categoryWeight[c] = (c + 1) ** -p.categoryZipf;
  const category = drawCategories(p, categoryWeight, rng);
  const vectors = new Float64Array(V * d);
  const quality = new Float64Array(V);
  const price = new Float64Array(V);
  const logPrice = new Float64Array(V);
  const categoryPrice = new Float64Array(C);
  for (let c = 0; c < C; c++) categoryPrice[c] = p.priceLogMean + p.priceCategorySd * rng.normal();
  const score = new Float64Array(V);
  for (let i = 0; i < V; i++) {
    const c = category[i]!;
    for (let k = 0; k < d; k++) vectors[i * d + k] = centroids[c * d + k]!;
    noiseInto(vectors, i * d, d, rng, p.itemSpread);
    normalise(vectors, i * d, d);
    const q = p.qualitySd * rng.normal();
    quality[i] = q;
    const lp = categoryPrice[c]! + p.priceSd * rng.normal() + p.priceQuality * q;
    price[i] = Math.max(0.01, Math.round(Math.exp(lp) * 100) / 100);
    logPrice[i] = Math.log(price[i]!);
    score[i] = Math.log(categoryWeight[c]!) + p.popularityQuality * q +
      p.popularityNoise * rng.normal();
  }
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) =>
    score[b]! - score[a]! || a - b
  );
  const popularityRank = new Uint32Array(V);
  order.forEach((item, r) => popularityRank[item] = r);
  return { category, vectors, quality, price, logPrice, popularityRank, centroids, categoryWeight };
}

/** Per-item observable metadata, the input of {@link observableCatalogue}. */
export interface CatalogueMetadata {
  /** Number of categories C. */
  categories: number;
  /** Category of each item, in [0, C). */
  category: Uint32Array;
  /** Price of each item. */
  price: Float64Array;
  /** Popularity rank of each item: a permutation of 0 … V-1, 0 the most popular. */
  popularityRank: Uint32Array;
}

/**
 * The observable catalogue from per-item metadata, with its popularity orders: what a policy
 * driven by a learned simulator needs (the metadata can be read back from `truth/items.csv`).
 *
 * @example
 * ```ts
 * import { observableCatalogue } from "./world.ts";
 * const c = observableCatalogue({
 *   categories: 2,
 *   category: new Uint32Array([1, 0, 1]),
 *   price: new Float64Array([5, 9, 2]),
 *   popularityRank: new Uint32Array([2, 0, 1]),
 * });
 * [...c.byPopularity]; // [1, 2, 0]
 * ```
 */
export function observableCatalogue(meta: CatalogueMetadata): ObservableCatalogue {
  const { categories, category, price, popularityRank } = meta;
  const V = category.length;
  if (price.length !== V || popularityRank.length !== V) {
    throw new RangeError("Cannot build a catalogue: category, price and rank lengths differ");
  }
  const byPopularity = new Uint32Array(V);
  const seen = new Uint8Array(V);
  for (let i = 0; i < V; i++) {
    const r = popularityRank[i]!;
    if (r >= V || seen[r]) {
      throw new RangeError(`Cannot build a catalogue: rank ${r} is not a permutation`);
    }
    seen[r] = 1;
    byPopularity[r] = i;
  }
  const categoryStart = new Uint32Array(categories + 1);
  for (let i = 0; i < V; i++) {
    const c = category[i]!;
    if (c >= categories) {
      throw new RangeError(`Cannot build a catalogue: item ${i} has category ${c}`);
    }
    categoryStart[c + 1]!++;
  }
  for (let c = 0; c < categories; c++) categoryStart[c + 1]! += categoryStart[c]!;
  const fill = categoryStart.slice(0, categories);
  const byCategory = new Uint32Array(V);
  for (const i of byPopularity) byCategory[fill[category[i]!]!++] = i;
  return {
    items: V,
    categories,
    category,
    price,
    popularityRank,
    byPopularity,
    byCategory,
    categoryStart,
  };
}

/** The logistic function. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * The label a uniform u in [0, 1) selects from `probs` by the inverse CDF (`probs` need not be
 * normalised: u is scaled by their sum).
 *
 * @example
 * ```ts
 * import { sampleLabel } from "./world.ts";
 * sampleLabel([0.5, 0.3, 0.2], 0.9); // 2
 * ```
 */
export function sampleLabel(probs: Probs, u: number): TruthLabel {
  const r = u * (probs[0] + probs[1] + probs[2]);
  if (r < probs[0]) return 0;
  return r < probs[0] + probs[1] ? 1 : 2;
}

/**
 * A known-truth world: its parameters, catalogue, users, response model and transition.
 *
 * @example
 * ```ts
 * import { TruthWorld } from "./world.ts";
 * const w = new TruthWorld({ preset: "base", seed: 0, params: { items: 50, categories: 5 } });
 * const s = w.initialState(w.user("case", 0));
 * const [skip, click, purchase] = w.probs(s, 3);
 * Math.abs(skip + click + purchase - 1) < 1e-12; // true
 * ```
 */
export class TruthWorld {
  /** The parameter set's name. */
  readonly preset: PresetName;
  /** The root seed. */
  readonly seed: number;
  /** The merged, checked parameters. */
  readonly params: Readonly<TruthParams>;
  /** The latent catalogue. */
  readonly catalogue: TrueCatalogue;
  /** What policies may see of the catalogue. */
  readonly observable: ObservableCatalogue;
  readonly #base: number;
  #positive = 0;
  #buy = 0;

  constructor(options: TruthWorldOptions = {}) {
    this.preset = options.preset ?? "base";
    this.seed = options.seed ?? 0;
    if (!Number.isInteger(this.seed) || this.seed < 0 || this.seed > 2 ** 31 - 1) {
      throw new RangeError(
        `Cannot build a truth world: seed must be an integer in [0, 2147483647], got ${this.seed}`,
      );
    }
    this.params = Object.freeze(truthParams(options));
    this.#base = deriveSeed(this.seed, `truth/${this.preset}`);
    this.catalogue = buildCatalogue(this.params, this.childSeed("catalogue"));
    const c = this.catalogue;
    this.observable = observableCatalogue({ categories: this.params.categories, ...c });
  }

  /** A child seed of this world for one purpose (stable for a given preset, seed and purpose). */
  childSeed(purpose: string): number {
    return deriveSeed(this.#base, purpose);
  }

  /** The seed of user `index` of `group`. */
  userSeed(group: UserGroup, index: number): number {
    return this.childSeed(`user/${group}/${index}`);
  }

  /** User `index` of `group`: the latent drawn from {@link userSeed}. */
  user(group: UserGroup, index: number): UserLatent {
    return this.userLatent(this.userSeed(group, index));
  }

  /** The latent of the user drawn from `seed`: favourite categories, engagement, price sensitivity. */
  userLatent(seed: number): UserLatent {
    const p = this.params;
    const d = p.dim;
    const rng = new Rng(seed);
    const taste = new Float64Array(d);
    const w = this.catalogue.categoryWeight;
    for (let f = 0; f < p.favourites; f++) {
      const c = rng.categorical(w);
      for (let k = 0; k < d; k++) taste[k]! += this.catalogue.centroids[c * d + k]!;
    }
    noiseInto(taste, 0, d, rng, p.tasteNoise);
    normalise(taste, 0, d);
    for (let k = 0; k < d; k++) taste[k]! *= p.tasteStrength;
    const engagement = p.engagementSd * rng.normal();
    const priceSensitivity = p.priceSensitivity * Math.exp(p.priceSensitivitySd * rng.normal());
    return { seed, taste, engagement, priceSensitivity };
  }

  /** The state of a user before any step. */
  initialState(latent: UserLatent): UserState {
    return {
      latent,
      taste: latent.taste.slice(),
      drift: new Float64Array(this.params.dim),
      aversion: new Float64Array(this.params.categories),
      items: [],
      shown: new Set(),
    };
  }

  /** The state after `history`, replayed from the latent. */
  stateAfter(latent: UserLatent, history: readonly Step[]): UserState {
    const s = this.initialState(latent);
    for (const h of history) this.step(s, h.item, h.label);
    return s;
  }

  /** The cosine of items a and b (their vectors are unit). */
  cosine(a: number, b: number): number {
    const d = this.params.dim;
    const v = this.catalogue.vectors;
    let dot = 0;
    for (let k = 0; k < d; k++) dot += v[a * d + k]! * v[b * d + k]!;
    return dot;
  }

  /** Whether items a and b count as similar for fatigue: same category, or cosine > similarity. */
  similar(a: number, b: number): boolean {
    const c = this.catalogue.category;
    return c[a] === c[b] || this.cosine(a, b) > this.params.similarity;
  }

  /** The fatigue run of `item`: preceding consecutive similar items, capped at fatigueCap. */
  fatigueRun(s: UserState, item: number): number {
    const cap = this.params.fatigueCap;
    let run = 0;
    for (let k = s.items.length - 1; k >= 0 && run < cap; k--) {
      if (!this.similar(item, s.items[k]!)) break;
      run++;
    }
    return run;
  }

  /** The user·item match: current taste · item vector. */
  match(s: UserState, item: number): number {
    const d = this.params.dim;
    const v = this.catalogue.vectors;
    let m = 0;
    for (let k = 0; k < d; k++) m += s.taste[k]! * v[item * d + k]!;
    return m;
  }

  /** The response model: P(skip, click, purchase | true state, item). */
  probs(s: UserState, item: number): Probs {
    this.#respond(s, item);
    const positive = this.#positive;
    const buy = this.#buy;
    return [1 - positive, positive * (1 - buy), positive * buy];
  }

  /** P(positive) and P(purchase | positive) of `item` in state `s`, left in #positive and #buy. */
  #respond(s: UserState, item: number): void {
    const p = this.params;
    const c = this.catalogue;
    const m = this.match(s, item);
    const q = c.quality[item]!;
    const logit = p.bias + s.latent.engagement + m + p.qualityWeight * q -
      p.fatigue * this.fatigueRun(s, item) - (s.shown.has(item) ? p.repetition : 0) -
      s.aversion[c.category[item]!]!;
    this.#positive = sigmoid(logit);
    this.#buy = sigmoid(
      p.purchaseBias + p.purchaseQuality * q + p.purchaseMatch * m -
        s.latent.priceSensitivity * (c.logPrice[item]! - p.priceLogMean),
    );
  }

  /**
   * Σ_k rewards[k]·P(k) of every item in state `s`, into `out` (length V): what the oracle
   * maximises. The response model of {@link probs}, inlined over the catalogue for speed.
   */
  expectedRewards(s: UserState, rewards: readonly number[], out: Float64Array): Float64Array {
    const p = this.params;
    const { category, vectors: v, quality, logPrice } = this.catalogue;
    const { dim: d, items: V, similarity, fatigue, qualityWeight } = p;
    const [r0, r1, r2] = [rewards[0] ?? 0, rewards[1] ?? 0, rewards[2] ?? 0];
    const recent = s.items.slice(Math.max(0, s.items.length - p.fatigueCap)).reverse();
    const taste = s.taste;
    const aversion = s.aversion;
    const shown = new Uint8Array(V);
    for (const j of s.items) shown[j] = 1;
    const base = p.bias + s.latent.engagement;
    for (let i = 0; i < V; i++) {
      const o = i * d;
      let m = 0;
      for (let k = 0; k < d; k++) m += taste[k]! * v[o + k]!;
      let run = 0;
      for (let r = 0; r < recent.length; r++) {
        const j = recent[r]!;
        if (category[j] !== category[i]) {
          let cos = 0;
          const oj = j * d;
          for (let k = 0; k < d; k++) cos += v[o + k]! * v[oj + k]!;
          if (!(cos > similarity)) break;
        }
        run++;
      }
      const q = quality[i]!;
      const pos = sigmoid(
        base + m + qualityWeight * q - fatigue * run - (shown[i] ? p.repetition : 0) -
          aversion[category[i]!]!,
      );
      const buy = sigmoid(
        p.purchaseBias + p.purchaseQuality * q + p.purchaseMatch * m -
          s.latent.priceSensitivity * (logPrice[i]! - p.priceLogMean),
      );
      out[i] = r0 * (1 - pos) + r1 * pos * (1 - buy) + r2 * pos * buy;
    }
    return out;
  }

  /**
   * The transition after `item` got `label`, in place: drift and aversion decay; a click or
   * purchase moves the taste towards the item; a skip adds aversion to its category.
   */
  step(s: UserState, item: number, label: TruthLabel): void {
    const p = this.params;
    const d = p.dim;
    const v = this.catalogue.vectors;
    const eta = label === 1 ? p.driftClick : label === 2 ? p.driftPurchase : 0;
    for (let k = 0; k < d; k++) {
      s.drift[k] = p.driftDecay * s.drift[k]! + eta * v[item * d + k]!;
      s.taste[k] = s.latent.taste[k]! + s.drift[k]!;
    }
    for (let c = 0; c < p.categories; c++) s.aversion[c]! *= p.aversionDecay;
    if (label === 0) s.aversion[this.catalogue.category[item]!]! += p.skipAversion;
    s.items.push(item);
    s.shown.add(item);
  }
}

/**
 * The true user behind one latent: answers P(label | history, item) for any history of that
 * user. It keeps the state of the last history it saw and advances it when the next history
 * extends that one (the common case of a rollout); any other history is replayed from the start.
 *
 * @example
 * ```ts
 * import { TrueUser, TruthWorld } from "./world.ts";
 * const w = new TruthWorld({ params: { items: 20, categories: 4 } });
 * const u = new TrueUser(w, w.user("start", 0));
 * u.probs([{ item: 1, label: 1 }], 2).length; // 3
 * ```
 */
export class TrueUser {
  /** The world. */
  readonly world: TruthWorld;
  /** The user's latent traits. */
  readonly latent: UserLatent;
  #state: UserState;
  #seen: Step[] = [];

  constructor(world: TruthWorld, latent: UserLatent) {
    this.world = world;
    this.latent = latent;
    this.#state = world.initialState(latent);
  }

  /** The true state after `history` (do not modify it). */
  stateAfter(history: readonly Step[]): UserState {
    const seen = this.#seen;
    let extends_ = history.length >= seen.length;
    for (let k = 0; extends_ && k < seen.length; k++) {
      extends_ = history[k]!.item === seen[k]!.item && history[k]!.label === seen[k]!.label;
    }
    if (!extends_) {
      this.#state = this.world.initialState(this.latent);
      this.#seen = [];
    }
    for (let k = this.#seen.length; k < history.length; k++) {
      const h = history[k]!;
      this.world.step(this.#state, h.item, h.label);
      this.#seen.push({ item: h.item, label: h.label });
    }
    return this.#state;
  }

  /** The true P(skip, click, purchase) of `item` after `history`. */
  probs(history: readonly Step[], item: number): Probs {
    return this.world.probs(this.stateAfter(history), item);
  }
}
