import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import {
  averageRanks,
  binaryLogLoss,
  brierScore,
  calibrationBins,
  eceVsTruth,
  expectedCalibrationError,
  kendallTauB,
  meanKl,
  multiclassBrier,
  relativeError,
  spearman,
} from "../../lib/eval/fidelity_metrics.ts";

Deno.test("brierScore() and multiclassBrier() match hand-computed values", () => {
  // (0.2² + 0.4² + 0.1²) / 3
  assertAlmostEquals(brierScore([0.8, 0.4, 0.1], [1, 0, 0]), 0.07, 1e-15);
  assertAlmostEquals(brierScore([1, 0], [true, false]), 0, 0);
  // Rows: 0.25 + 0.09 + 0.04 = 0.38 and 0.01 + 0.01 + 0.04 = 0.06.
  assertAlmostEquals(multiclassBrier([0.5, 0.3, 0.2, 0.1, 0.1, 0.8], 3, [0, 2]), 0.22, 1e-15);
  assert(Number.isNaN(brierScore([], [])));
  assertThrows(() => brierScore([0.5], [1, 0]), TypeError, "entries");
  assertThrows(() => brierScore([1.5], [1]), RangeError, "p[0] is 1.5");
  assertThrows(() => brierScore([0.5], [2]), RangeError, "y[0] is 2");
  assertThrows(() => multiclassBrier([0.5, 0.5], 2, [2]), RangeError, "yTrue[0]");
});

Deno.test("binaryLogLoss() is the mean −ln P(observed label)", () => {
  const want = (Math.LN2 - Math.log(0.8) - Math.log(0.9)) / 3;
  assertAlmostEquals(binaryLogLoss([0.5, 0.8, 0.1], [1, 1, 0]), want, 1e-15);
  // A certain mistake is clipped at −ln(1e-7).
  assertAlmostEquals(binaryLogLoss([0], [1]), -Math.log(1e-7), 1e-12);
});

Deno.test("expectedCalibrationError() sums |mean p − rate| over equal-width bins, weighted by size", () => {
  const p = [0.05, 0.15, 0.12, 0.95, 0.91];
  const y = [0, 1, 0, 1, 1];
  // Bins [0, .1): 0.05 vs 0 (1 of 5); [.1, .2): 0.135 vs 0.5 (2 of 5); [.9, 1]: 0.93 vs 1 (2 of 5).
  assertAlmostEquals(expectedCalibrationError(p, y), 0.01 + 0.146 + 0.028, 1e-12);
  // Two bins: [0, .5): mean 0.32/3 vs 1/3 (3 of 5); [.5, 1]: 0.93 vs 1 (2 of 5).
  assertAlmostEquals(
    expectedCalibrationError(p, y, 2),
    (3 / 5) * (1 / 3 - 0.32 / 3) + (2 / 5) * 0.07,
    1e-12,
  );
  // p = 1 falls in the last bin; a perfectly calibrated certain prediction scores 0.
  assertEquals(calibrationBins([1], [1], 10)[9]!.n, 1);
  assertEquals(expectedCalibrationError([1, 0], [1, 0]), 0);
  const bins = calibrationBins(p, y, 10);
  assertEquals(bins.map((b) => b.n), [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]);
  assert(Number.isNaN(bins[4]!.meanPredicted));
  assert(Number.isNaN(expectedCalibrationError([], [])));
  assertThrows(() => expectedCalibrationError(p, y, 0), RangeError, "bins is 0");
});

Deno.test("eceVsTruth() bins by the simulator's p and compares bin means with the true p", () => {
  const sim = [0.05, 0.15, 0.12, 0.95];
  const truth = [0.1, 0.1, 0.2, 0.9];
  // Bins: |0.05 − 0.1|·1/4 + |0.135 − 0.15|·2/4 + |0.95 − 0.9|·1/4 = 0.0325.
  assertAlmostEquals(eceVsTruth(sim, truth), 0.0325, 1e-12);
  // Errors of opposite sign within a bin cancel: below the mean absolute error (0.0575).
  assert(eceVsTruth(sim, truth) < 0.0575);
  assertEquals(eceVsTruth(truth, truth), 0);
  assertThrows(() => eceVsTruth([0.1], [0.1, 0.2]), TypeError);
});

Deno.test("meanKl() is the mean KL(p_true ‖ p_sim) in nats, clipped where p_sim is 0", () => {
  // Rows: 0.5·ln 2 + 0.5·ln(2/3) and 1·ln 2 (a 0 of p_true adds nothing).
  const want = (0.5 * Math.LN2 + 0.5 * Math.log(2 / 3) + Math.LN2) / 2;
  assertAlmostEquals(meanKl([0.5, 0.5, 1, 0], [0.25, 0.75, 0.5, 0.5], 2), want, 1e-15);
  assertEquals(meanKl([0.2, 0.3, 0.5], [0.2, 0.3, 0.5], 3), 0);
  assertAlmostEquals(meanKl([1, 0], [0, 1], 2), -Math.log(1e-7), 1e-12);
  assert(Number.isNaN(meanKl([], [], 3)));
  assertThrows(() => meanKl([0.5, 0.5, 1], [0.5, 0.5, 1], 2), TypeError, "rows of 2");
});

Deno.test("spearman() and kendallTauB() handle ties as hand-computed", () => {
  assertEquals(averageRanks([10, 30, 20, 20]), [1, 4, 2.5, 2.5]);
  // Ranks of y: 1.5, 1.5, 3, 4: ρ = 4.5 / √(5 · 4.5) = √0.9.
  assertAlmostEquals(spearman([1, 2, 3, 4], [1, 1, 2, 3]), Math.sqrt(0.9), 1e-15);
  // 5 concordant pairs, 0 discordant, 1 tied in y: τ_b = 5 / √(6 · 5).
  assertAlmostEquals(kendallTauB([1, 2, 3, 4], [1, 1, 2, 3]), 5 / Math.sqrt(30), 1e-15);
  assertAlmostEquals(spearman([1, 2, 3], [10, 30, 20]), 0.5, 1e-15);
  assertAlmostEquals(kendallTauB([1, 2, 3], [10, 30, 20]), 1 / 3, 1e-15);
  assertEquals(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assertEquals(spearman([3, 1, 2], [30, 10, 20]), 1);
  assert(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])));
  assert(Number.isNaN(kendallTauB([1, 1], [1, 2])));
  assert(Number.isNaN(spearman([1], [1])));
  assertThrows(() => kendallTauB([1, NaN], [1, 2]), RangeError, "x[1]");
});

Deno.test("relativeError() is signed and undefined for a zero truth", () => {
  assertAlmostEquals(relativeError(12, 10), 0.2, 1e-15);
  assertAlmostEquals(relativeError(8, 10), -0.2, 1e-15);
  assertAlmostEquals(relativeError(-3, -2), -0.5, 1e-15);
  assert(Number.isNaN(relativeError(1, 0)));
  assert(Number.isNaN(relativeError(NaN, 1)));
});
