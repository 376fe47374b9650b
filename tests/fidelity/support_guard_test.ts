/**
 * The judge's side of the support model: what the answers' support says about the errors
 * (`prediction.*.support`), `--support-penalty` in the policy ranking, and a learned policy
 * judged in the responder and in the truth (`agent`).
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { tempDir, tinyTruth } from "../_helpers.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";
import { referencePolicies, type TruthPolicy } from "../../lib/data/truth/policies.ts";
import { judgeResponder } from "../../lib/fidelity/judge.ts";
import { type FidelityResponder, truthResponder } from "../../lib/fidelity/responders.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";
import { supportScores } from "../../lib/fidelity/prediction.ts";

const TINY = tinyTruth(2);

/** The truth, answering every question with support `logit` (flagged off support below −1). */
function supported(base: FidelityResponder, logit: number): FidelityResponder {
  let n = 0;
  return {
    ...base,
    name: "supported",
    async predict(requests) {
      n = requests.length;
      return await base.predict(requests);
    },
    lastSupports: () => new Array(n).fill({ logit, off: logit < -1 }),
  };
}

Deno.test("supportScores: hand-computed mean, flagged share, Spearman of −support with the error, MAEs", () => {
  const s = supportScores([2, -3, 1, -1], [false, true, false, false], [0.1, 0.4, 0.2, 0.3]);
  assertAlmostEquals(s.mean, -0.25, 1e-12);
  assertEquals(s.off_support_share, 0.25);
  // −support [−2, 3, −1, 1] ranks [1, 4, 2, 3]; the errors rank [1, 4, 2, 3]: ρ = 1.
  assertAlmostEquals(s.error_spearman, 1, 1e-12);
  assertAlmostEquals(s.mae_off_support, 0.4, 1e-12);
  assertAlmostEquals(s.mae_on_support, 0.2, 1e-12);
  assertEquals(s.uniform_auc, undefined);
  assert(Number.isNaN(supportScores([1], [false], [0.1]).mae_off_support));
  assertThrows(() => supportScores([1], [], [0.1]), RangeError, "1 supports but 0 flags");
});

Deno.test("--support-penalty lowers each policy's simulated return by μ × max(0, −support) per step", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const off = supported(truthResponder(truth.world), -2);
  const plain = await judgeResponder(off, truth, { posteriorParticles: 0 });
  const guarded = await judgeResponder(off, truth, { supportPenalty: 0.5, posteriorParticles: 0 });
  assertEquals([plain.config.support_penalty, guarded.config.support_penalty], [0, 0.5]);
  plain.policies.rows.forEach((row, i) => {
    const g = guarded.policies.rows[i]!;
    const perEpisode = 0.5 * 2 * row.steps / (6 * 2); // μ × 2 nats per step
    assertAlmostEquals(g.simulated.mean, row.simulated.mean - perEpisode, 1e-9, row.name);
    assertEquals(g.true, row.true, "the truth is not penalised");
  });
  // A positive support costs nothing.
  const on = await judgeResponder(supported(truthResponder(truth.world), 3), truth, {
    supportPenalty: 5,
    posteriorParticles: 0,
  });
  assertEquals(
    on.policies.rows.map((r) => r.simulated),
    plain.policies.rows.map((r) => r.simulated),
  );
  // The prediction report says what the support says; a constant one tells nothing apart.
  const s = plain.prediction.overall.support!;
  assertEquals([s.mean, s.off_support_share, s.uniform_auc], [-2, 1, 0.5]);
  assertEquals(plain.prediction.logging.support!.uniform_auc, undefined);
  const bare = await judgeResponder(truthResponder(truth.world), truth, { posteriorParticles: 0 });
  assertEquals(bare.prediction.overall.support, undefined);
});

Deno.test("a learned policy is judged in the responder and the truth, ranked among the reference policies", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  // An asynchronous copy of most-popular: judged in the truth itself, it must earn exactly
  // most-popular's returns on the same episodes.
  const popular = referencePolicies(truth.world).find((p) => p.name === "most-popular")!;
  const copy: TruthPolicy = {
    name: "copy",
    description: "most-popular, asynchronously",
    knows: "history",
    act: async (input) => await Promise.resolve(popular.act(input)),
  };
  const r = await judgeResponder(truthResponder(truth.world), truth, {
    posteriorParticles: 0,
    learnedPolicy: { policy: copy, training: { episodes: 0 } },
  });
  const row = r.policies.rows.find((x) => x.name === "most-popular")!;
  const a = r.agent!;
  assertEquals(a.name, "copy");
  assertEquals(a.training, { episodes: 0 });
  assertEquals(a.simulated, row.simulated);
  assertEquals(a.true, row.true);
  assertEquals(a.simulated, a.true, "the truth as responder");
  assertEquals(a.relative_error, 0);
  const better = (k: "simulated" | "true") =>
    r.policies.rows.filter((x) => x[k].mean > row[k].mean).length;
  assertEquals(a.rank, { simulated: 1 + better("simulated"), true: 1 + better("true"), of: 11 });
  assertEquals(
    a.beats,
    r.policies.rows.filter((x) => x.true.mean < row.true.mean).map((x) => x.name),
  );
  // Its behaviour in the truth: most-popular's items, beside the logging policy's.
  const b = a.behaviour;
  assert(b.policy.same_category >= 0 && b.policy.same_category <= 1, JSON.stringify(b));
  assert(b.policy.mean_popularity_rank < b.logging.mean_popularity_rank, JSON.stringify(b));
  assert(b.policy.distinct_items < b.logging.distinct_items, JSON.stringify(b));
  const none = await judgeResponder(truthResponder(truth.world), truth, { posteriorParticles: 0 });
  assertEquals(none.agent, undefined);
});
