/**
 * bench/_paired.ts: the paired statistics of `deno task fidelity:logs` against values computed by
 * hand (sums of every sign pattern written out in the comments).
 * @module
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import {
  differenceStats,
  MAX_EXACT_N,
  pairedStats,
  signFlipPValues,
  smallestPValue,
} from "../../bench/_paired.ts";

Deno.test("differenceStats() of [1, 2, 3]: t = 2 / (1/√3), p = 1/8 one-sided and 2/8 two-sided", () => {
  // Sign patterns of ±1±2±3: 6, 4, 2, 0, 0, −2, −4, −6; only 6 reaches 6, and |±6| reach |6|.
  const s = differenceStats([1, 2, 3]);
  assertEquals([s.n, s.mean, s.sd], [3, 2, 1]);
  assertAlmostEquals(s.t, 2 / (1 / Math.sqrt(3)), 1e-12);
  assertAlmostEquals(s.t, 3.4641016, 1e-6);
  assertEquals([s.p_one_sided, s.p_two_sided], [1 / 8, 2 / 8]);
  assertEquals([s.wins, s.ties, s.losses], [3, 0, 0]);
});

Deno.test("differenceStats() of [0.5, -0.1, 0.2, 0.3]: mean 0.225, sd 0.25, t 1.8, p 2/16 and 4/16", () => {
  // Sum = 1.1 − 2·(magnitudes flipped to minus); ≥ 0.9 when those sum to ≤ 0.1: {} and {0.1}.
  // |sum| ≥ 0.9 adds their complements: 4 patterns of 16.
  const s = differenceStats([0.5, -0.1, 0.2, 0.3]);
  assertAlmostEquals(s.mean, 0.225, 1e-12);
  assertAlmostEquals(s.sd, 0.25, 1e-12); // squared deviations sum to 0.1875; / 3 = 0.0625
  assertAlmostEquals(s.t, 0.225 / (0.25 / 2), 1e-12);
  assertEquals([s.p_one_sided, s.p_two_sided], [2 / 16, 4 / 16]);
  assertEquals([s.wins, s.ties, s.losses], [3, 0, 1]);
});

Deno.test("signFlipPValues() counts ties with the observed sum, zeros and opposite signs included", () => {
  // [1, −1]: sums 0, 2, −2, 0; three reach 0, all four reach |0|.
  assertEquals(signFlipPValues([1, -1]), { one_sided: 3 / 4, two_sided: 1 });
  // [0, 1]: flipping 0 changes nothing: sums 1, 1, −1, −1.
  assertEquals(signFlipPValues([0, 1]), { one_sided: 2 / 4, two_sided: 1 });
  // [0.1, 0.2, 0.3, −0.6] sums to 0 exactly, but to +1.1e-16 in floating point, and its
  // mirror pattern to −1.1e-16: both zero patterns must count (7 positive + 2 zero of 16).
  assertEquals(signFlipPValues([0.1, 0.2, 0.3, -0.6]), { one_sided: 9 / 16, two_sided: 1 });
  assertEquals(signFlipPValues([]), { one_sided: 1, two_sided: 1 });
  assertEquals(signFlipPValues([2]), { one_sided: 0.5, two_sided: 1 });
  assertThrows(() => signFlipPValues(new Array(MAX_EXACT_N + 1).fill(1)), RangeError, "at most");
});

Deno.test("differenceStats() gives t = ±Infinity for constant differences and NaN below two", () => {
  const c = differenceStats([0.1, 0.1, 0.1]);
  assertEquals([c.sd, c.t, c.p_one_sided], [0, Infinity, 1 / 8]);
  assertEquals(differenceStats([-0.2, -0.2]).t, -Infinity);
  assert(Number.isNaN(differenceStats([0, 0]).t));
  const one = differenceStats([0.3]);
  assert(Number.isNaN(one.sd) && Number.isNaN(one.t));
  const none = differenceStats([]);
  assert(Number.isNaN(none.mean));
  assertEquals([none.n, none.p_one_sided], [0, 1]);
});

Deno.test("pairedStats() subtracts pairwise and leaves out pairs with a non-finite value", () => {
  const s = pairedStats([0.8, 0.9, NaN, 1.0], [0.7, 0.7, 0.5, 0.7]);
  assertEquals(s.n, 3);
  assertAlmostEquals(s.mean, 0.2, 1e-12);
  assertEquals(s.p_one_sided, 1 / 8);
  assertThrows(() => pairedStats([1], [1, 2]), RangeError, "one length");
});

Deno.test("smallestPValue() is 2^-n: 5 seeds can reach p <= 0.05, 4 cannot", () => {
  assertEquals(smallestPValue(5), 1 / 32);
  assertEquals(differenceStats([0.01, 0.02, 0.03, 0.04, 0.05]).p_one_sided, 1 / 32);
  assert(smallestPValue(4) > 0.05);
});
