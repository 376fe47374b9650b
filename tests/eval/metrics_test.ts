import assert from "node:assert/strict";
import {
  auc,
  averagePrecision,
  binaryStats,
  erfc,
  lnGamma,
  logLoss,
  meanStd,
  ndcgAtK,
  pairedTTest,
  perClassStats,
  regularizedIncompleteBeta,
  studentTTwoSidedP,
  wilcoxonSignedRank,
} from "../../lib/eval/metrics.ts";
import { Rng } from "../../lib/random.ts";

/** |actual - expected| <= tol · max(1, |expected|). */
function assertClose(actual: number, expected: number, tol = 1e-12, what = ""): void {
  const ok = Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
  assert.ok(ok, `${what} expected ${expected}, got ${actual} (tol ${tol})`);
}

/** Relative closeness, for tiny p-values. */
function assertRelClose(actual: number, expected: number, rel: number, what = ""): void {
  const ok = Math.abs(actual - expected) <= rel * Math.abs(expected);
  assert.ok(ok, `${what} expected ${expected}, got ${actual} (relative tol ${rel})`);
}

// ---------------------------------------------------------------------------------------------
// auc
// ---------------------------------------------------------------------------------------------

/** Brute-force AUC: over all (positive, negative) pairs, 1 if pos > neg, 1/2 if equal. */
function pairwiseAuc(labels: readonly number[], scores: readonly number[]): number {
  let u = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) u += 1;
      else if (scores[i] === scores[j]) u += 0.5;
    }
  }
  return u / pairs;
}

Deno.test("auc() matches a hand count with a tie", () => {
  // positives 0.8, 0.4, 0.1; negatives 0.4, 0.9.
  // Pairs: (0.8>0.4)=1, (0.8<0.9)=0, (0.4=0.4)=1/2, (0.4<0.9)=0, (0.1<0.4)=0, (0.1<0.9)=0
  // → U = 1.5 of 3·2 = 6 pairs → 0.25.
  // By ranks: 0.1→1, 0.4,0.4→2.5 each, 0.8→4, 0.9→5; R+ = 1 + 2.5 + 4 = 7.5;
  // U = R+ - 3·4/2 = 1.5.
  assert.equal(auc([1, 0, 1, 0, 1], [0.8, 0.4, 0.4, 0.9, 0.1]), 0.25);
});

Deno.test("auc() is 1 for a perfect ranking, 0 for an inverse one, 0.5 when all scores tie", () => {
  const labels = [true, true, false, false, false];
  assert.equal(auc(labels, [5, 4, 3, 2, 1]), 1);
  assert.equal(auc(labels, [1, 2, 3, 4, 5]), 0);
  assert.equal(auc(labels, [7, 7, 7, 7, 7]), 0.5);
});

Deno.test("auc() is NaN when only one class (or nothing) is present", () => {
  assert.ok(Number.isNaN(auc([1, 1, 1], [0.1, 0.2, 0.3])));
  assert.ok(Number.isNaN(auc([false, false], [0.1, 0.2])));
  assert.ok(Number.isNaN(auc([], [])));
});

Deno.test("auc() equals the brute-force pairwise count on seeded random data with ties", () => {
  const rng = new Rng(20240601);
  for (let trial = 0; trial < 20; trial++) {
    const n = 2 + rng.int(400);
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = rng.next() < 0.3 ? 1 : 0;
      labels.push(y);
      // Coarse grid → many ties; positives shifted up a little.
      scores.push(Math.round((rng.next() + 0.3 * y) * 20) / 20);
    }
    if (!labels.includes(0) || !labels.includes(1)) continue;
    assertClose(auc(labels, scores), pairwiseAuc(labels, scores), 1e-12, `trial ${trial}`);
    assertClose(
      auc(Float64Array.from(labels), Float64Array.from(scores)),
      pairwiseAuc(labels, scores),
    );
  }
});

Deno.test("auc() stays exact on 1e6 scores (rank sums beyond 2^31 do not overflow)", () => {
  const rng = new Rng(7);
  const n = 1_000_000;
  const labels = new Uint8Array(n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.next() < 0.5 ? 1 : 0;
    scores[i] = rng.next();
  }
  const a = auc(labels, scores);
  // Independent labels and scores: AUC ≈ 0.5 (sd ≈ 0.0006 at this n).
  assert.ok(Math.abs(a - 0.5) < 0.005, `AUC ${a}`);
  // Scores that rank every positive first: exactly 1, and exactly 0 reversed.
  const perfect = Float64Array.from(labels, (y, i) => y + i / (2 * n));
  assert.equal(auc(labels, perfect), 1);
  assert.equal(auc(labels, perfect.map((x) => -x)), 0);
});

Deno.test("auc() rejects mismatched lengths, non-binary labels and non-finite scores", () => {
  assert.throws(() => auc([1, 0], [0.5]), TypeError);
  assert.throws(() => auc([1, 2], [0.5, 0.6]), RangeError);
  assert.throws(() => auc([1, 0], [0.5, NaN]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// binaryStats, perClassStats, logLoss
// ---------------------------------------------------------------------------------------------

Deno.test("binaryStats() counts the confusion matrix and derives the rates", () => {
  // truth 1 1 1 0 0 0 0
  // pred  1 1 0 1 0 0 0  → tp 2, fn 1, fp 1, tn 3
  // precision 2/3, recall 2/3, f1 = 2·2/(4+1+1) = 2/3, accuracy 5/7.
  const s = binaryStats([1, 1, 1, 0, 0, 0, 0], [true, true, false, true, false, false, false]);
  assert.deepEqual([s.tp, s.fp, s.fn, s.tn], [2, 1, 1, 3]);
  assertClose(s.precision, 2 / 3);
  assertClose(s.recall, 2 / 3);
  assertClose(s.f1, 2 / 3);
  assertClose(s.accuracy, 5 / 7);
});

Deno.test("binaryStats() gives 0, not NaN, when a denominator is 0", () => {
  // No positives at all, none predicted: tp = fp = fn = 0, tn = 3.
  const s = binaryStats([0, 0, 0], [0, 0, 0]);
  assert.deepEqual(s, {
    tp: 0,
    fp: 0,
    fn: 0,
    tn: 3,
    precision: 0,
    recall: 0,
    f1: 0,
    accuracy: 1,
  });
  const empty = binaryStats([], []);
  assert.equal(empty.accuracy, 0);
  assert.equal(empty.f1, 0);
  assert.throws(() => binaryStats([1], [0.5]), RangeError);
  assert.throws(() => binaryStats([1], []), TypeError);
});

Deno.test("perClassStats() computes one-vs-rest precision, recall, F1 and support", () => {
  // index  0 1 2 3 4 5
  // true   0 0 1 1 2 2
  // pred   0 1 1 1 0 2
  // class 0: predicted at {0,4}, tp {0} → P 1/2; support 2 → R 1/2; F1 1/2
  // class 1: predicted at {1,2,3}, tp {2,3} → P 2/3; support 2 → R 1; F1 = 2·(2/3)/(5/3) = 0.8
  // class 2: predicted at {5}, tp {5} → P 1; support 2 → R 1/2; F1 = 2·(1/2)/(3/2) = 2/3
  // class 3: never true, never predicted → all 0
  const stats = perClassStats([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], 4);
  const expected = [
    { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
    { precision: 2 / 3, recall: 1, f1: 0.8, support: 2 },
    { precision: 1, recall: 0.5, f1: 2 / 3, support: 2 },
    { precision: 0, recall: 0, f1: 0, support: 0 },
  ];
  assert.equal(stats.length, 4);
  stats.forEach((s, c) => {
    const e = expected[c]!;
    assertClose(s.precision, e.precision, 1e-12, `class ${c} precision`);
    assertClose(s.recall, e.recall, 1e-12, `class ${c} recall`);
    assertClose(s.f1, e.f1, 1e-12, `class ${c} f1`);
    assert.equal(s.support, e.support);
  });
});

Deno.test("perClassStats() rejects class indices outside [0, k) and a bad k", () => {
  assert.throws(() => perClassStats([0, 3], [0, 1], 3), RangeError);
  assert.throws(() => perClassStats([0, 1], [0, 1.5], 3), RangeError);
  assert.throws(() => perClassStats([0], [0], 0), RangeError);
  assert.throws(() => perClassStats([0, 1], [0], 2), TypeError);
});

Deno.test("logLoss() is the mean -ln p(true class), clipped at 1e-7", () => {
  // rows [0.7 0.2 0.1], [0.1 0.1 0.8], [0 1 0]; true classes 0, 2, 0
  // → -(ln 0.7 + ln 0.8 + ln max(0, 1e-7)) / 3
  //   = (0.356675 + 0.223144 + 16.118096) / 3 = 5.565971
  const probs = [0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0, 1, 0];
  assertClose(logLoss(probs, 3, [0, 2, 0]), 5.56597138207042, 1e-12);
  assertClose(logLoss(probs, 3, [0, 2, 0]), -(Math.log(0.7) + Math.log(0.8) + Math.log(1e-7)) / 3);
  // A perfect prediction costs nothing.
  assert.equal(logLoss([0, 1], 2, [1]), 0);
  assert.ok(Number.isNaN(logLoss([], 2, [])));
});

Deno.test("logLoss() rejects a wrong shape, a bad label and a non-probability", () => {
  assert.throws(() => logLoss([0.5, 0.5, 1], 2, [0, 1]), TypeError);
  assert.throws(() => logLoss([0.5, 0.5], 2, [2]), RangeError);
  assert.throws(() => logLoss([1.5, -0.5], 2, [0]), RangeError);
  assert.throws(() => logLoss([NaN, 1], 2, [0]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// averagePrecision, ndcgAtK
// ---------------------------------------------------------------------------------------------

Deno.test("averagePrecision() averages precision@i over the hits", () => {
  // ranked a x b y c, relevant {a, b, c, d}: hits at ranks 1, 3, 5
  // precision there: 1/1, 2/3, 3/5 → sum 2.2667; divided by min(4, 5) = 4 → 0.566667
  const ap = averagePrecision(["a", "x", "b", "y", "c"], new Set(["a", "b", "c", "d"]));
  assertClose(ap, (1 + 2 / 3 + 3 / 5) / 4);
  // A list shorter than the relevant set: [a, b] vs {a, b, c} → (1 + 1) / min(3, 2) = 1.
  assert.equal(averagePrecision(["a", "b"], new Set(["a", "b", "c"])), 1);
  // Numeric ids; perfect and inverse rankings of 2 relevant among 4.
  assert.equal(averagePrecision([1, 2, 3, 4], new Set([1, 2])), 1);
  // Inverse: hits at ranks 3, 4 → (1/3 + 2/4) / 2 = 5/12.
  assertClose(averagePrecision([3, 4, 1, 2], new Set([1, 2])), 5 / 12);
});

Deno.test("averagePrecision() counts a repeated id once and is 0 on empty input", () => {
  // [a, a, b] vs {a, b}: hits at ranks 1 and 3 (the second a is a miss) → (1 + 2/3) / 2.
  assertClose(averagePrecision(["a", "a", "b"], new Set(["a", "b"])), 5 / 6);
  assert.equal(averagePrecision([], new Set(["a"])), 0);
  assert.equal(averagePrecision(["a"], new Set()), 0);
});

Deno.test("ndcgAtK() with binary gains matches the hand computation", () => {
  // ranked x a b, relevant {a, b}, k = 3
  // DCG  = 0 + 1/log2(3) + 1/log2(4) = 0.630930 + 0.5 = 1.130930
  // IDCG = 1/log2(2) + 1/log2(3)     = 1 + 0.630930  = 1.630930 → NDCG = 0.693426
  const expected = (1 / Math.log2(3) + 0.5) / (1 + 1 / Math.log2(3));
  assertClose(ndcgAtK(["x", "a", "b"], new Set(["a", "b"]), 3), expected);
  assertClose(expected, 0.693426, 1e-6);
  // k = 1: only x counts → 0; perfect ranking → 1; k beyond the list is fine.
  assert.equal(ndcgAtK(["x", "a", "b"], new Set(["a", "b"]), 1), 0);
  assert.equal(ndcgAtK(["a", "b", "x"], new Set(["a", "b"]), 10), 1);
  // k = 2 with 3 relevant: IDCG@2 = 1 + 1/log2 3, ranked a b → 1.
  assert.equal(ndcgAtK(["a", "b"], new Set(["a", "b", "c"]), 2), 1);
  assert.equal(ndcgAtK(["a"], new Set<string>(), 5), 0);
});

Deno.test("ndcgAtK() with graded gains uses them linearly", () => {
  // gains a 3, b 1; ranked b a (inverse):
  // DCG = 1/log2 2 + 3/log2 3 = 1 + 1.892789 = 2.892789
  // IDCG = 3/log2 2 + 1/log2 3 = 3 + 0.630930 = 3.630930 → 0.796703
  const gains = new Map([["a", 3], ["b", 1], ["c", 0]]);
  assertClose(ndcgAtK(["b", "a"], gains, 2), (1 + 3 / Math.log2(3)) / (3 + 1 / Math.log2(3)));
  assert.equal(ndcgAtK(["a", "b", "c"], gains, 3), 1);
  // A repeated id gains once: [a, a] → 3 / (3 + 1/log2 3).
  assertClose(ndcgAtK(["a", "a"], gains, 2), 3 / (3 + 1 / Math.log2(3)));
});

Deno.test("ndcgAtK() rejects k < 1 and negative or non-finite gains", () => {
  assert.throws(() => ndcgAtK(["a"], new Set(["a"]), 0), RangeError);
  assert.throws(() => ndcgAtK(["a"], new Set(["a"]), 1.5), RangeError);
  assert.throws(() => ndcgAtK(["a"], new Map([["a", -1]]), 1), RangeError);
  assert.throws(() => ndcgAtK(["a"], new Map([["a", NaN]]), 1), RangeError);
});

// ---------------------------------------------------------------------------------------------
// meanStd, pairedTTest, wilcoxonSignedRank
// ---------------------------------------------------------------------------------------------

Deno.test("meanStd() gives the mean and the n-1 standard deviation", () => {
  // 2 4 4 4 5 5 7 9: mean 40/8 = 5; squared deviations 9 1 1 1 0 0 4 16 = 32;
  // sample variance 32/7 → std 2.138090
  const r = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(r.mean, 5);
  assertClose(r.std, Math.sqrt(32 / 7));
  assert.equal(r.n, 8);
  assert.deepEqual(meanStd([3]), { mean: 3, std: 0, n: 1 });
  const empty = meanStd([]);
  assert.ok(Number.isNaN(empty.mean) && Number.isNaN(empty.std) && empty.n === 0);
  assert.throws(() => meanStd([1, Infinity]), RangeError);
});

Deno.test("pairedTTest() matches the closed form for df = 2", () => {
  // d = a - b = 1 2 3: mean 2, sd 1, t = 2 / (1/√3) = 2√3 = 3.464102, df 2.
  // For df = 2 the two-sided p is 1 - t/√(2 + t²) = 1 - 2√3/√14 = 0.0741799002274486.
  const r = pairedTTest([2, 4, 6], [1, 2, 3]);
  assertClose(r.t, 2 * Math.sqrt(3));
  assert.equal(r.df, 2);
  assert.equal(r.meanDiff, 2);
  assertClose(r.p, 1 - (2 * Math.sqrt(3)) / Math.sqrt(14), 1e-14);
  assertClose(r.p, 0.07417990022744858, 1e-14);
});

Deno.test("pairedTTest() matches scipy.stats.ttest_rel", () => {
  // scipy 1.17: ttest_rel(a, b) → statistic 4.2767186698034285, pvalue 0.0036701749743291833
  const a = [0.83, 0.79, 0.81, 0.85, 0.80, 0.84, 0.78, 0.82];
  const b = [0.80, 0.78, 0.79, 0.81, 0.80, 0.80, 0.77, 0.79];
  const r = pairedTTest(a, b);
  assertClose(r.t, 4.2767186698034285, 1e-12);
  assert.equal(r.df, 7);
  assertRelClose(r.p, 0.0036701749743291833, 1e-11);
  // Swapping the arms flips t, not p.
  const s = pairedTTest(b, a);
  assertClose(s.t, -r.t, 1e-12);
  assertClose(s.p, r.p, 1e-15);
});

Deno.test("pairedTTest() handles constant, zero and too few differences", () => {
  assert.deepEqual(pairedTTest([2, 3, 4], [1, 2, 3]), { t: Infinity, df: 2, p: 0, meanDiff: 1 });
  const zero = pairedTTest([1, 2], [1, 2]);
  assert.ok(Number.isNaN(zero.t) && Number.isNaN(zero.p));
  const one = pairedTTest([1], [0]);
  assert.ok(Number.isNaN(one.t) && Number.isNaN(one.p) && one.df === 0);
  assert.throws(() => pairedTTest([1, 2], [1]), TypeError);
  assert.throws(() => pairedTTest([1, NaN], [1, 2]), RangeError);
});

Deno.test("studentTTwoSidedP() matches closed forms and scipy", () => {
  // df = 1 (Cauchy): p = 1 - (2/π) atan|t|
  for (const t of [0, 0.3, 1, 4, 100]) {
    assertClose(studentTTwoSidedP(t, 1), 1 - (2 / Math.PI) * Math.atan(t), 1e-14, `t ${t}`);
  }
  // scipy: 2 * t.sf(t, df)
  const cases: [number, number, number][] = [
    [1.7, 9, 0.12334766214382385],
    [5, 30, 2.32966854670078e-05],
    [10, 100, 9.90168898459413e-17],
    [30, 4, 7.352856097661319e-06],
    [2.5, 1e5, 0.012420919192559051],
    [1.96, 1e7, 0.04999581802531423],
  ];
  for (const [t, df, p] of cases) {
    assertRelClose(studentTTwoSidedP(t, df), p, 1e-9, `t ${t}, df ${df}`);
    assertRelClose(studentTTwoSidedP(-t, df), p, 1e-9, `t ${-t}, df ${df}`);
  }
  assert.equal(studentTTwoSidedP(Infinity, 3), 0);
});

Deno.test("the special functions match known values", () => {
  assertClose(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-15);
  assertClose(lnGamma(10), Math.log(362880), 1e-15);
  assertClose(lnGamma(1), 0, 1e-15);
  // scipy.special.betainc(a, b, x)
  assertClose(regularizedIncompleteBeta(2, 3, 0.4), 0.5248, 1e-14); // 1-(1-x)^4-4x(1-x)^3 - ...
  assertRelClose(regularizedIncompleteBeta(100, 200, 0.33), 0.45661816333399713, 1e-12);
  assertRelClose(regularizedIncompleteBeta(1e3, 0.5, 0.999), 0.15724727426672383, 1e-12);
  assert.equal(regularizedIncompleteBeta(2, 3, 0), 0);
  assert.equal(regularizedIncompleteBeta(2, 3, 1), 1);
  // scipy.special.erfc
  assertClose(erfc(0), 1, 1e-15);
  assertClose(erfc(1), 0.15729920705028516, 1e-14);
  assertRelClose(erfc(5), 1.5374597944280347e-12, 1e-12);
  assertClose(erfc(-1), 2 - 0.15729920705028516, 1e-14);
  assert.throws(() => lnGamma(0), RangeError);
  assert.throws(() => regularizedIncompleteBeta(1, 1, 1.5), RangeError);
});

/** Exact two-sided Wilcoxon p by enumerating all 2^n sign flips of the ranks (brute force). */
function bruteWilcoxonP(d: readonly number[]): number {
  const nz = d.filter((x) => x !== 0);
  const n = nz.length;
  const abs = nz.map(Math.abs);
  const ranks = abs.map((v) => {
    const less = abs.filter((u) => u < v).length;
    const equal = abs.filter((u) => u === v).length;
    return less + (equal + 1) / 2;
  });
  const total = (n * (n + 1)) / 2;
  const wPlus = ranks.reduce((s, r, i) => s + (nz[i]! > 0 ? r : 0), 0);
  const w = Math.min(wPlus, total - wPlus);
  let atMost = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) s += ranks[i]!;
    if (s <= w + 1e-9) atMost++;
  }
  return Math.min(1, (2 * atMost) / 2 ** n);
}

Deno.test("wilcoxonSignedRank() gives the exact p for a small case", () => {
  // d = 1 -2 3 4 5 → ranks 1..5; W- = 2, W+ = 13, w = 2.
  // Subsets of {1..5} with sum <= 2: {}, {1}, {2} → P(W+ <= 2) = 3/32 → p = 6/32 = 0.1875
  // (scipy wilcoxon(method="exact") agrees: statistic 2, pvalue 0.1875).
  assert.deepEqual(wilcoxonSignedRank([1, -2, 3, 4, 5], [0, 0, 0, 0, 0]), {
    w: 2,
    p: 0.1875,
    n: 5,
  });
  // scipy: wilcoxon([1..10, -11, 12], method="exact") → statistic 11, pvalue 0.02685546875
  const r = wilcoxonSignedRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -11, 12], new Array(12).fill(0));
  assert.equal(r.w, 11);
  assertClose(r.p, 0.02685546875, 1e-15);
});

Deno.test("wilcoxonSignedRank() drops zeros and handles ties exactly", () => {
  // a - b = 1 1 0 -2 3: the zero is dropped → d = 1 1 -2 3, n = 4.
  // |d| ranks: 1,1 → 1.5 each; 2 → 3; 3 → 4. W- = 3, W+ = 7, w = 3.
  // Subsets of ranks {1.5, 1.5, 3, 4} with sum <= 3: {}, {1.5}×2, {3}, {1.5,1.5} → 5 of 16
  // → p = 2·5/16 = 0.625.
  assert.deepEqual(wilcoxonSignedRank([2, 2, 5, 0, 7], [1, 1, 5, 2, 4]), { w: 3, p: 0.625, n: 4 });
  assert.ok(Number.isNaN(wilcoxonSignedRank([1, 2], [1, 2]).p));
});

Deno.test("wilcoxonSignedRank() equals brute-force enumeration on seeded random data", () => {
  const rng = new Rng(99);
  for (let trial = 0; trial < 30; trial++) {
    const n = 1 + rng.int(12);
    // Small integers: many ties in |d| and some zeros.
    const d = Array.from({ length: n }, () => rng.int(9) - 3);
    const r = wilcoxonSignedRank(d, new Array(n).fill(0));
    if (r.n === 0) continue;
    assertClose(r.p, bruteWilcoxonP(d), 1e-12, `trial ${trial}, d = ${d}`);
  }
});

Deno.test("wilcoxonSignedRank() uses the tie-corrected normal approximation above n = 20", () => {
  // 30 differences, 3 zeros → n = 27, with ties.
  // scipy wilcoxon(d, method="approx", zero_method="wilcox", correction=False)
  //   → statistic 65.5, pvalue 0.0029150983697375458
  const d = Array.from({ length: 30 }, (_, i) => ((i * 7) % 11) - 3);
  const r = wilcoxonSignedRank(d, new Array(30).fill(0));
  assert.equal(r.n, 27);
  assert.equal(r.w, 65.5);
  assertRelClose(r.p, 0.0029150983697375458, 1e-12);
  assert.throws(() => wilcoxonSignedRank([1], [1, 2]), TypeError);
});
