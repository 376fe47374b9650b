/**
 * A seeded generator of realistic recommendation session logs (the CSV log format of README.md,
 * "Bring your own log"), used by the demo and the tests. The generative model is documented in
 * `docs/synth.md`; the constants below are its parameters.
 *
 * Structure (after google-research/recsim): a {@link Catalogue} of items built once; per session
 * a user state, a logging policy that picks the shown item from the observable history, a
 * response model that draws the feedback, and a transition that updates the state.
 * @module
 */
import { streamFileAtomic } from "../atomic.ts";
import { deriveSeed, Rng } from "../random.ts";

/** Version of the generative model; bumped whenever the same options give different rows. */
export const SYNTH_VERSION = 1;

/** The feedback labels, in class order; `click` and `purchase` are positive. */
export const SYNTH_LABELS = ["skip", "click", "purchase"] as const;

/**
 * Options of {@link synthRows} and {@link writeSynthLog}.
 *
 * @example
 * ```ts
 * import { type SynthOptions, synthRows } from "@recsimu/recsimu";
 *
 * const options: SynthOptions = {
 *   seed: 1,
 *   sessions: 10,
 *   items: 50,
 *   categories: 5,
 *   minLength: 5,
 *   maxLength: 10,
 * };
 * const rows = [...synthRows(options)]; // 10 sessions of 5 to 10 rows
 * ```
 */
export interface SynthOptions {
  /** Root seed; every sampler derives its own child seed from it. */
  seed: number;
  /** Number of sessions. @default 2000 */
  sessions: number;
  /** Number of items V (ids `i0` … `i{V-1}`). @default 500 */
  items: number;
  /** Number of item categories C (at most `items`). @default 20 */
  categories: number;
  /** Shortest session, in rows. @default 25 */
  minLength: number;
  /** Longest session, in rows (lengths are uniform in [minLength, maxLength]). @default 60 */
  maxLength: number;
}

/**
 * Default {@link SynthOptions}.
 *
 * @example
 * ```ts
 * import { SYNTH_DEFAULTS, synthRows } from "@recsimu/recsimu";
 *
 * SYNTH_DEFAULTS.sessions; // 2000
 * const rows = [...synthRows({ ...SYNTH_DEFAULTS, sessions: 3, seed: 7 })];
 * ```
 */
export const SYNTH_DEFAULTS: SynthOptions = Object.freeze({
  seed: 0,
  sessions: 2000,
  items: 500,
  categories: 20,
  minLength: 25,
  maxLength: 60,
});

/** One row of the log: one recommended item and the user's reaction to it. */
export interface SynthRow {
  /** Session id, `s{k}` for the k-th session (0-based). */
  session: string;
  /** Item id, `i{v}` with 0 <= v < items. */
  item: string;
  /** The user's feedback. */
  feedback: "skip" | "click" | "purchase";
  /** Unix time in seconds; strictly increasing within a session. */
  timestamp: number;
}

/** Upper bounds of {@link SynthOptions} that keep memory and time per row small. */
export const SYNTH_LIMITS = {
  sessions: 100_000_000,
  items: 50_000_000,
  categories: 10_000,
  length: 100_000,
} as const;

// ---- Parameters of the generative model (see docs/synth.md) ----------------------------------
/** Zipf exponent of item popularity (weight of the r-th most popular item: (r+1)^-s). */
const ZIPF_ITEMS = 0.9;
/** Zipf exponent of category sizes. */
const ZIPF_CATEGORIES = 0.6;
/** Item quality = QUALITY_NOISE·N(0,1) + QUALITY_POP·(popularity percentile centred on 0). */
const QUALITY_NOISE = 0.6;
const QUALITY_POP = 0.8;
/** Per-session engagement offset ~ N(0, ENGAGEMENT_SD). */
const ENGAGEMENT_SD = 0.8;
/** Initial interest: N(0, INTEREST_SD) per category, plus FAVOURITE_BOOST on FAVOURITES. */
const INTEREST_SD = 0.4;
const FAVOURITES = 2;
const FAVOURITE_BOOST = 1.5;
/** Interest drift of the shown category after each feedback, plus N(0, DRIFT_SD). */
const DRIFT = { skip: -0.15, click: 0.5, purchase: 0.8 } as const;
const DRIFT_SD = 0.1;
const INTEREST_CLAMP = 3;
/** Fatigue: logit penalty per preceding consecutive row of the same category (capped). */
const FATIGUE = 0.4;
const FATIGUE_CAP = 6;
/** Intercept of the positive-feedback logit. */
const BIAS = -1.7;
/** P(purchase | positive) = σ(PURCHASE_BIAS + PURCHASE_QUALITY·quality). */
const PURCHASE_BIAS = -1.4;
const PURCHASE_QUALITY = 1.2;
/** Logging policy: P(category of a recent positive), P(category of the previous row). */
const POLICY_RECENT_POSITIVE = 0.5;
const POLICY_CONTINUE = 0.15;
/** How many recent positives the policy remembers, and P(stepping back one more from the newest). */
const RECENT_POSITIVES = 5;
const RECENT_BACK = 0.4;
/** Redraws when the drawn item was already shown in the session. */
const REDRAWS = 4;
/** Timestamps: first session starts at T0; session k starts at T0 + k·SESSION_SPACING + U[0, 600). */
const T0 = 1_700_000_000;
const SESSION_SPACING = 20;
/** Mean seconds spent on an item, by feedback (exponential, plus 1 s minimum). */
const DWELL = { skip: 8, click: 45, purchase: 120 } as const;

/** The item catalogue: per-item typed arrays, built once per run. */
interface Catalogue {
  /** Category of each item. */
  category: Uint32Array;
  /** Latent quality of each item. */
  quality: Float32Array;
  /** Items ordered by category (stable). */
  byCategory: Uint32Array;
  /** Category c's items are byCategory[start[c] .. start[c+1]). */
  start: Uint32Array;
  /** cumulative[j] = total popularity of byCategory[0..j]. */
  cumulative: Float64Array;
}

function checkOptions(o: SynthOptions): void {
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(
        `Cannot generate a synthetic log: ${name} must be an integer in [${min}, ${max}], got ${v}`,
      );
    }
  };
  if (!Number.isFinite(o.seed)) {
    throw new RangeError(`Cannot generate a synthetic log: seed must be finite, got ${o.seed}`);
  }
  int("sessions", o.sessions, 0, SYNTH_LIMITS.sessions);
  int("items", o.items, 1, SYNTH_LIMITS.items);
  int("categories", o.categories, 1, Math.min(SYNTH_LIMITS.categories, o.items));
  int("minLength", o.minLength, 1, SYNTH_LIMITS.length);
  int("maxLength", o.maxLength, o.minLength, SYNTH_LIMITS.length);
}

/** Builds the catalogue: Zipf popularity over a random rank order, categories, quality. */
function buildCatalogue(o: SynthOptions): Catalogue {
  const rng = new Rng(deriveSeed(o.seed, "synth/catalogue"));
  const V = o.items;
  const C = o.categories;
  // Popularity rank of each item: a random permutation, so ids carry no popularity.
  const rank = new Uint32Array(V);
  for (let i = 0; i < V; i++) rank[i] = i;
  rng.shuffle(rank);
  // Category sizes follow a Zipf law; the first C items seed one per category so none is empty.
  const catCdf = new Float64Array(C);
  let acc = 0;
  for (let c = 0; c < C; c++) catCdf[c] = acc += (c + 1) ** -ZIPF_CATEGORIES;
  const category = new Uint32Array(V);
  const size = new Uint32Array(C);
  for (let i = 0; i < V; i++) {
    const c = i < C ? i : upperBound(catCdf, 0, C, rng.next() * acc);
    category[i] = c;
    size[c]!++;
  }
  const start = new Uint32Array(C + 1);
  for (let c = 0; c < C; c++) start[c + 1] = start[c]! + size[c]!;
  const fill = start.slice(0, C);
  const byCategory = new Uint32Array(V);
  for (let i = 0; i < V; i++) byCategory[fill[category[i]!]!++] = i;
  const quality = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    const percentile = V === 1 ? 0 : 0.5 - rank[i]! / (V - 1);
    quality[i] = QUALITY_NOISE * rng.normal() + QUALITY_POP * percentile;
  }
  const cumulative = new Float64Array(V);
  acc = 0;
  for (let j = 0; j < V; j++) cumulative[j] = acc += (rank[byCategory[j]!]! + 1) ** -ZIPF_ITEMS;
  return { category, quality, byCategory, start, cumulative };
}

/** The latent item attributes of a synthetic catalogue (for tests and analyses). */
export interface SynthCatalogue {
  /** Category of each item, indexed by item number v (id `i{v}`). */
  readonly category: Uint32Array;
  /** Latent quality of each item (logit scale). */
  readonly quality: Float32Array;
}

/**
 * The catalogue {@link synthRows} uses for `options`: each item's category and quality.
 *
 * @example
 * ```ts
 * import { SYNTH_DEFAULTS, synthCatalogue } from "./synth.ts";
 * synthCatalogue({ ...SYNTH_DEFAULTS }).category.length; // 500
 * ```
 */
export function synthCatalogue(options: SynthOptions): SynthCatalogue {
  checkOptions(options);
  const { category, quality } = buildCatalogue(options);
  return { category, quality };
}

/** Smallest j in [lo, hi) with cdf[j] > x (hi - 1 if none). */
export function upperBound(cdf: Float64Array, lo: number, hi: number, x: number): number {
  let a = lo;
  let b = hi - 1;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (cdf[m]! > x) b = m;
    else a = m + 1;
  }
  return a;
}

/** An item of category c (or of the whole catalogue when c < 0), by popularity. */
function drawItem(cat: Catalogue, c: number, rng: Rng): number {
  const lo = c < 0 ? 0 : cat.start[c]!;
  const hi = c < 0 ? cat.cumulative.length : cat.start[c + 1]!;
  const below = lo === 0 ? 0 : cat.cumulative[lo - 1]!;
  const x = below + rng.next() * (cat.cumulative[hi - 1]! - below);
  return cat.byCategory[upperBound(cat.cumulative, lo, hi, x)]!;
}

/** What the logging policy and the user model know about one session so far. */
interface SessionState {
  /** The user's interest in each category (logit scale); drifts during the session. */
  interest: Float64Array;
  /** The user's engagement offset (logit scale); fixed for the session. */
  engagement: number;
  /** Categories of the latest positives, newest last (at most RECENT_POSITIVES). */
  recentPositives: number[];
  /** Category of the previous row, -1 at the start. */
  lastCategory: number;
  /** Preceding consecutive rows with category lastCategory. */
  run: number;
  /** Items already shown in this session. */
  shown: Set<number>;
}

function resetUser(o: SynthOptions, rng: Rng, interest: Float64Array): SessionState {
  for (let c = 0; c < o.categories; c++) interest[c] = INTEREST_SD * rng.normal();
  for (let f = 0; f < FAVOURITES; f++) interest[rng.int(o.categories)]! += FAVOURITE_BOOST;
  return {
    interest,
    engagement: ENGAGEMENT_SD * rng.normal(),
    recentPositives: [],
    lastCategory: -1,
    run: 0,
    shown: new Set(),
  };
}

/** The logging recommender: popularity mixed with the categories of recent positives. */
function policy(cat: Catalogue, s: SessionState, rng: Rng): number {
  const u = rng.next();
  let c = -1;
  const n = s.recentPositives.length;
  if (u < POLICY_RECENT_POSITIVE) {
    // Newest positive most likely: P(age a) ∝ RECENT_BACK^a; no positive yet: popularity.
    if (n > 0) {
      let k = n - 1;
      while (k > 0 && rng.next() < RECENT_BACK) k--;
      c = s.recentPositives[k]!;
    }
  } else if (u < POLICY_RECENT_POSITIVE + POLICY_CONTINUE && s.lastCategory >= 0) {
    c = s.lastCategory;
  }
  let item = drawItem(cat, c, rng);
  for (let r = 0; r < REDRAWS && s.shown.has(item); r++) item = drawItem(cat, c, rng);
  return item;
}

/** The response model: 0 skip, 1 click, 2 purchase. */
function respond(cat: Catalogue, s: SessionState, item: number, rng: Rng): 0 | 1 | 2 {
  const c = cat.category[item]!;
  const q = cat.quality[item]!;
  const run = c === s.lastCategory ? Math.min(s.run, FATIGUE_CAP) : 0;
  const logit = BIAS + s.engagement + s.interest[c]! + q - FATIGUE * run;
  if (rng.next() >= sigmoid(logit)) return 0;
  return rng.next() < sigmoid(PURCHASE_BIAS + PURCHASE_QUALITY * q) ? 2 : 1;
}

/** The transition: interest drifts toward what the user liked; history advances. */
function updateState(
  cat: Catalogue,
  s: SessionState,
  item: number,
  feedback: 0 | 1 | 2,
  rng: Rng,
): void {
  const c = cat.category[item]!;
  const drift = feedback === 0 ? DRIFT.skip : feedback === 1 ? DRIFT.click : DRIFT.purchase;
  const v = s.interest[c]! + drift + DRIFT_SD * rng.normal();
  s.interest[c] = Math.max(-INTEREST_CLAMP, Math.min(INTEREST_CLAMP, v));
  if (feedback > 0) {
    s.recentPositives.push(c);
    if (s.recentPositives.length > RECENT_POSITIVES) s.recentPositives.shift();
  }
  s.run = c === s.lastCategory ? s.run + 1 : 1;
  s.lastCategory = c;
  s.shown.add(item);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

const FEEDBACK_LABELS: readonly SynthRow["feedback"][] = SYNTH_LABELS;
const DWELL_BY_FEEDBACK = [DWELL.skip, DWELL.click, DWELL.purchase] as const;

/**
 * The rows of a synthetic log, session after session, each session's rows in time order.
 * Deterministic for given options; session k depends only on (seed, items, categories, lengths),
 * so a run with more sessions extends a run with fewer.
 *
 * @example
 * ```ts
 * import { SYNTH_DEFAULTS, synthRows } from "./synth.ts";
 * const rows = [...synthRows({ ...SYNTH_DEFAULTS, sessions: 2 })];
 * rows[0]!.session; // "s0"
 * ```
 */
export function* synthRows(options: SynthOptions): Generator<SynthRow> {
  checkOptions(options);
  const o = options;
  const cat = buildCatalogue(o);
  const interest = new Float64Array(o.categories);
  const span = o.maxLength - o.minLength + 1;
  for (let k = 0; k < o.sessions; k++) {
    const rng = new Rng(deriveSeed(o.seed, `synth/session/${k}`));
    const session = `s${k}`;
    const length = o.minLength + rng.int(span);
    let t = T0 + k * SESSION_SPACING + rng.int(600);
    const s = resetUser(o, rng, interest);
    for (let step = 0; step < length; step++) {
      const item = policy(cat, s, rng);
      const feedback = respond(cat, s, item, rng);
      yield { session, item: `i${item}`, feedback: FEEDBACK_LABELS[feedback]!, timestamp: t };
      updateState(cat, s, item, feedback, rng);
      t += 1 + Math.floor(-DWELL_BY_FEEDBACK[feedback] * Math.log(1 - rng.next()));
    }
  }
}

/** Bytes of CSV text gathered before each write. */
const CHUNK = 64 * 1024;

/**
 * Writes the rows of {@link synthRows} to `path` as the canonical CSV log (header
 * `session_id,item_id,feedback,timestamp`), atomically and in ~64 KB chunks.
 *
 * @example
 * ```ts
 * import { SYNTH_DEFAULTS, writeSynthLog } from "@recsimu/recsimu";
 *
 * const dir = await Deno.makeTempDir();
 * const { rows, sessions } = await writeSynthLog(`${dir}/log.csv`, { ...SYNTH_DEFAULTS, sessions: 5 });
 * sessions; // 5
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeSynthLog(
  path: string,
  options: SynthOptions,
): Promise<{ rows: number; sessions: number; positiveRate: number }> {
  checkOptions(options);
  let rows = 0;
  let positives = 0;
  await streamFileAtomic(path, async (write) => {
    let buf = "session_id,item_id,feedback,timestamp\n";
    for (const r of synthRows(options)) {
      buf += `${r.session},${r.item},${r.feedback},${r.timestamp}\n`;
      rows++;
      if (r.feedback !== "skip") positives++;
      if (buf.length >= CHUNK) {
        await write(buf);
        buf = "";
      }
    }
    if (buf.length > 0) await write(buf);
  });
  return { rows, sessions: options.sessions, positiveRate: rows === 0 ? 0 : positives / rows };
}
