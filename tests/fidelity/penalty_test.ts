import { assertAlmostEquals, assertEquals } from "../_assert.ts";
import { tempDir } from "../_helpers.ts";
import { type TruthWriteOptions, writeTruthWorld } from "../../lib/data/truth/write.ts";
import { judgeResponder } from "../../lib/fidelity/judge.ts";
import { type FidelityResponder, truthResponder } from "../../lib/fidelity/responders.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";

const TINY: TruthWriteOptions = {
  preset: "base",
  seed: 1,
  params: { items: 120, categories: 6 },
  sessions: 120,
  cases: 60,
  startStates: 6,
  rollouts: 2,
  horizon: 5,
};

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
