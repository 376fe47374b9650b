import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { tempDir } from "../_helpers.ts";
import { Rng } from "../../lib/random.ts";
import { type Step, type TruthLabel, TruthWorld } from "../../lib/data/truth/world.ts";
import {
  posteriorParticle,
  posteriorProbs,
  posteriorResponder,
} from "../../lib/fidelity/posterior.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";
import { judgeResponder } from "../../lib/fidelity/judge.ts";
import { truthResponder } from "../../lib/fidelity/responders.ts";

const world = new TruthWorld({ preset: "hard", seed: 3, params: { items: 60, categories: 5 } });

/** A history of `n` steps over a few items (so that fatigue, repetition and aversion all occur). */
function history(n: number, seed: number): Step[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    item: rng.int(12),
    label: rng.int(3) as TruthLabel,
  }));
}

Deno.test("posteriorProbs() with one particle answers as that user would", () => {
  for (let k = 0; k < 20; k++) {
    const state = history(k, k);
    const action = (k * 7) % 12;
    const a = posteriorProbs(world, [{ state, action }], { particles: 1, seed: k });
    const expected = world.probs(world.stateAfter(posteriorParticle(world, k, 0), state), action);
    for (let l = 0; l < 3; l++) assertAlmostEquals(a.probs[l]!, expected[l]!, 1e-12, `k ${k}`);
    assertEquals(a.ess[0], 1);
  }
});

Deno.test("posteriorProbs() weighs each particle by the likelihood of the history's labels", () => {
  const state = history(9, 99);
  const action = 5;
  const m = 4;
  const a = posteriorProbs(world, [{ state, action }, { state: [], action }], {
    particles: m,
    seed: 7,
  });
  // By hand: w_j = Π_t P_j(label_t | history before t, item_t), answer = Σ w_j P_j(·) / Σ w_j.
  const w: number[] = [];
  const p: number[][] = [];
  const prior = [0, 0, 0];
  for (let j = 0; j < m; j++) {
    const latent = posteriorParticle(world, 7, j);
    let wj = 1;
    for (let t = 0; t < state.length; t++) {
      wj *= world.probs(world.stateAfter(latent, state.slice(0, t)), state[t]!.item)[
        state[t]!.label
      ]!;
    }
    w.push(wj);
    p.push([...world.probs(world.stateAfter(latent, state), action)]);
    world.probs(world.initialState(latent), action).forEach((x, l) => prior[l]! += x / m);
  }
  const sw = w.reduce((x, y) => x + y, 0);
  for (let l = 0; l < 3; l++) {
    const expected = w.reduce((s, wj, j) => s + wj * p[j]![l]!, 0) / sw;
    assertAlmostEquals(a.probs[l]!, expected, 1e-12);
    assertAlmostEquals(a.probs[3 + l]!, prior[l]!, 1e-12); // no history: the prior's mean
  }
  assertAlmostEquals(a.ess[0]!, sw * sw / w.reduce((s, x) => s + x * x, 0), 1e-9);
  assertAlmostEquals(a.ess[1]!, m, 1e-12);
  assert(a.ess[0]! < m);
});

Deno.test("posteriorProbs() refuses a particle count that is not a positive integer", () => {
  for (const particles of [0, -1, 1.5]) {
    assertThrows(() => posteriorProbs(world, [], { particles }), RangeError, "positive integer");
  }
});

Deno.test("the judge reports the observable ceiling between the simulator and the truth", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, {
    preset: "base",
    seed: 1,
    params: { items: 120, categories: 6 },
    sessions: 60,
    cases: 600,
    startStates: 2,
    rollouts: 1,
    horizon: 3,
  });
  const truth = await loadTruthDir(d.path);
  const r = await judgeResponder(truthResponder(truth.world), truth, { posteriorParticles: 500 });
  const post = r.prediction.overall.posterior!;
  assertEquals(r.prediction.posterior?.particles, 500);
  assert(r.prediction.posterior!.ess_p5 > 1);
  // The truth knows the latents: it must beat what the history alone can tell.
  assert(post.auc < r.prediction.overall.truth.auc, `${post.auc}`);
  assert(post.log_loss > r.prediction.overall.truth.log_loss);
  assert(post.kl_to_truth > 0);
  assert(post.auc > r.prediction.overall.popularity.auc, `${post.auc}`);
  const off = await judgeResponder(truthResponder(truth.world), truth, { posteriorParticles: 0 });
  assertEquals(off.prediction.posterior, null);
  assertEquals(off.prediction.overall.posterior, undefined);
  assertEquals(off.prediction.overall.posterior_reliability, undefined);
  // The ceiling's reliability bins hold every answered case; their mean prediction is its own.
  const bins = r.prediction.overall.posterior_reliability!;
  assertEquals(bins.reduce((a, b) => a + b.n, 0), r.prediction.overall.n);
  const mean = bins.reduce((a, b) => a + b.n * b.mean_predicted, 0) / r.prediction.overall.n;
  assertAlmostEquals(mean, post.mean_p_positive, 1e-9);
});

Deno.test("posteriorResponder() advances a stream as its history grows and restarts on another", async () => {
  const r = posteriorResponder(world, { particles: 30, seed: 2 });
  const h = history(8, 5);
  const user = { seed: 0, stream: "e" };
  for (let t = 0; t <= h.length; t++) {
    const [got] = await r.predict([{ user, history: h.slice(0, t), item: 4 }]);
    const want = posteriorProbs(world, [{ state: h.slice(0, t), action: 4 }], {
      particles: 30,
      seed: 2,
    });
    for (let l = 0; l < 3; l++) assertAlmostEquals(got![l]!, want.probs[l]!, 1e-12, `t ${t}`);
  }
  // A history that does not extend the stream's (a new episode under the same name).
  const other = history(3, 6);
  const [got] = await r.predict([{ user, history: other, item: 4 }]);
  const want = posteriorProbs(world, [{ state: other, action: 4 }], { particles: 30, seed: 2 });
  for (let l = 0; l < 3; l++) assertAlmostEquals(got![l]!, want.probs[l]!, 1e-12);
  assertEquals([r.knowsItem(59), r.knowsItem(60), r.knowsLabel(2)], [true, false, true]);
});
