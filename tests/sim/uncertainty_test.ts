import { assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { FakeSimulator } from "../_fake_sim.ts";
import { SimEnv, type StepResult } from "../../lib/sim/env.ts";
import type { ArrayPrediction, FeedbackRequest } from "../../lib/sim/types.ts";

/** The fake simulator with an ensemble spread of 0.1 on item i7 and 0 elsewhere. */
class SpreadSim extends FakeSimulator {
  override async predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    const answers = await super.predictArrays(requests);
    return answers.map((a, i) => ({ ...a, spread: requests[i]!.action === "i7" ? 0.1 : 0 }));
  }
}

Deno.test("uncertaintyPenalty lowers reward and expected reward by λ × spread", async () => {
  const sim = new SpreadSim();
  const plain = new SimEnv(sim, { rewards: [0, 1, 5] });
  const guarded = new SimEnv(sim, { rewards: [0, 1, 5], uncertaintyPenalty: 2 });
  plain.reset({ seed: 3 });
  guarded.reset({ seed: 3 });
  const a = await plain.step("i7") as StepResult;
  const b = await guarded.step("i7") as StepResult;
  assertEquals(b.feedback, a.feedback, "the same feedback is sampled");
  assertAlmostEquals(b.reward, a.reward - 0.2, 1e-12);
  assertAlmostEquals(b.info.expected_reward, a.info.expected_reward - 0.2, 1e-12);
  assertAlmostEquals(
    (b.info as unknown as { uncertainty_penalty: number }).uncertainty_penalty,
    0.2,
    1e-12,
  );
  assertEquals("uncertainty_penalty" in a.info, false);
  // No spread, no penalty.
  const c = await guarded.step("i8") as StepResult;
  const d = await plain.step("i8") as StepResult;
  assertEquals(c.reward, d.reward);
});

Deno.test("uncertaintyPenalty must be a finite number >= 0", () => {
  const sim = new SpreadSim();
  assertThrows(() => new SimEnv(sim, { uncertaintyPenalty: -1 }), RangeError, "uncertaintyPenalty");
  assertThrows(
    () => new SimEnv(sim, { uncertaintyPenalty: NaN }),
    RangeError,
    "uncertaintyPenalty",
  );
});

/** The fake simulator with a support of −1.5 on item i7, +2 elsewhere. */
class SupportSim extends FakeSimulator {
  override async predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    const answers = await super.predictArrays(requests);
    return answers.map((a, i) => ({ ...a, support: requests[i]!.action === "i7" ? -1.5 : 2 }));
  }
}

Deno.test("supportPenalty lowers reward and expected reward by μ × max(0, −support)", async () => {
  const sim = new SupportSim();
  const plain = new SimEnv(sim, { rewards: [0, 1, 5] });
  const guarded = new SimEnv(sim, { rewards: [0, 1, 5], supportPenalty: 0.4 });
  plain.reset({ seed: 3 });
  guarded.reset({ seed: 3 });
  const a = await plain.step("i7") as StepResult;
  const b = await guarded.step("i7") as StepResult;
  assertEquals(b.feedback, a.feedback, "the same feedback is sampled");
  assertAlmostEquals(b.reward, a.reward - 0.6, 1e-12);
  assertAlmostEquals(b.info.expected_reward, a.info.expected_reward - 0.6, 1e-12);
  assertAlmostEquals(
    (b.info as unknown as { support_penalty: number }).support_penalty,
    0.6,
    1e-12,
  );
  assertEquals("support_penalty" in a.info, false);
  // A positive support costs nothing; the answer's support is passed on in the info.
  const c = await guarded.step("i8") as StepResult;
  const d = await plain.step("i8") as StepResult;
  assertEquals(c.reward, d.reward);
  assertEquals((c.info as unknown as { support: number }).support, 2);
  assertThrows(() => new SimEnv(sim, { supportPenalty: -1 }), RangeError, "supportPenalty");
  assertThrows(() => new SimEnv(sim, { supportPenalty: Infinity }), RangeError, "supportPenalty");
});
