import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { tempDir, tinyTruth } from "../_helpers.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";
import { judgeResponder } from "../../lib/fidelity/judge.ts";
import { type FidelityResponder, truthResponder } from "../../lib/fidelity/responders.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";
import { spreadScores } from "../../lib/fidelity/prediction.ts";

const TINY = tinyTruth(1);

/** The truth, with a spread of 0.25 on every answer. */
function unsureTruth(base: FidelityResponder): FidelityResponder {
  let n = 0;
  return {
    ...base,
    name: "unsure",
    async predict(requests) {
      n = requests.length;
      return await base.predict(requests);
    },
    lastSpreads: () => new Array(n).fill(0.25),
  };
}

Deno.test("--uncertainty-penalty lowers each policy's simulated return by λ × spread per step", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const responder = unsureTruth(truthResponder(truth.world));
  const plain = await judgeResponder(responder, truth);
  const guarded = await judgeResponder(responder, truth, { uncertaintyPenalty: 2 });
  assertEquals(guarded.config.uncertainty_penalty, 2);
  assertEquals(plain.config.uncertainty_penalty, 0);
  plain.policies.rows.forEach((row, i) => {
    const g = guarded.policies.rows[i]!;
    // Every step is answered, each costs 2 × 0.25: the mean return drops by 0.5 × mean steps.
    const perEpisode = 0.5 * row.steps / (6 * 2);
    assertAlmostEquals(g.simulated.mean, row.simulated.mean - perEpisode, 1e-9, row.name);
    assertAlmostEquals(g.simulated_expected.mean, row.simulated_expected.mean - perEpisode, 1e-9);
    assertEquals(g.true, row.true, "the truth is not penalised");
  });
});

Deno.test("spreadScores: hand-computed mean, Spearman with the error and the top decile's MAE", () => {
  const s = spreadScores([0.1, 0.4, 0.2, 0.3], [0.01, 0.04, 0.03, 0.02], [0.5, 0.1, 0.3, 0.2]);
  assertAlmostEquals(s.mean, 0.25, 1e-12);
  // Ranks [1, 4, 2, 3] and [1, 4, 3, 2]: Σ d_a d_b = 4, Σ d_a² = 5.
  assertAlmostEquals(s.error_spearman, 0.8, 1e-12);
  // p ranks [4, 1, 3, 2] against the errors' [1, 4, 3, 2]: Σ d_p d_e = −4, Σ d² = 5.
  assertAlmostEquals(s.p_error_spearman, -0.8, 1e-12);
  // Four cases: the top decile is the one case of largest spread (0.4, error 0.04).
  assertAlmostEquals(s.mae_top_decile, 0.04, 1e-12);
  assertAlmostEquals(s.mae_rest, 0.02, 1e-12);
  assertThrows(() => spreadScores([0.1], [], [0.1]), RangeError, "1 spreads but 0 errors");
});

Deno.test("the judge reports what the spread says about the errors, only for responders with spreads", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const base = truthResponder(truth.world);
  // The truth with P(positive) moved by e, and a spread that knows e: a spread ranking the errors.
  let spreads: number[] = [];
  const knowing: FidelityResponder = {
    ...base,
    name: "knowing",
    async predict(requests) {
      const probs = await base.predict(requests);
      spreads = [];
      return probs.map((p, i) => {
        const e = 0.002 * i; // distinct per case (60 cases, one batch): mass from skip to click
        const moved = Math.min(e, p[0]);
        spreads.push(moved);
        return [p[0] - moved, p[1] + moved, p[2]] as unknown as typeof p;
      });
    },
    lastSpreads: () => spreads,
  };
  const r = await judgeResponder(knowing, truth, { posteriorParticles: 0 });
  for (const split of ["overall", "logging", "random"] as const) {
    const s = r.prediction[split].spread!;
    assertAlmostEquals(s.error_spearman, 1, 1e-9, split);
    assert(s.mae_top_decile > s.mae_rest, split);
    assert(s.p_error_spearman < s.error_spearman, split);
    assertAlmostEquals(s.mean, r.prediction[split].simulator.mae_vs_truth, 1e-12, split);
  }
  const plain = await judgeResponder(base, truth, { posteriorParticles: 0 });
  assertEquals(plain.prediction.overall.spread, undefined);
});
