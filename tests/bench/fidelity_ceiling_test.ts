/**
 * `deno task fidelity:ceiling` (bench/fidelity_ceiling.ts): the observable ceiling judged with
 * the bench's metrics and targets on a tiny world.
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { runDeno } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";

Deno.test("the ceiling bench judges the posterior on each world and prints one JSON", async () => {
  await using d = await tempDir();
  const worlds = [join(d.path, "a"), join(d.path, "b")];
  for (const [k, w] of worlds.entries()) {
    await writeTruthWorld(w, {
      preset: "base",
      seed: k,
      params: { items: 60, categories: 4 },
      sessions: 30,
      cases: 200,
      startStates: 4,
      rollouts: 1,
      horizon: 4,
    });
  }
  const r = await runDeno([
    "run",
    "-A",
    "bench/fidelity_ceiling.ts",
    "--worlds",
    worlds.join(","),
    "--particles",
    "100",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assertEquals(out.kind, "recsimu-fidelity-ceiling");
  assertEquals(out.runs.length, 2);
  for (const run of out.runs) {
    // The history-only posterior cannot know the latents the truth uses.
    assert(run.metrics.auc < run.metrics.truth_auc, JSON.stringify(run.metrics));
    assert(run.metrics.kl_to_truth > 0);
    assertEquals(typeof run.targets.spearman.pass, "boolean");
  }
  assertEquals(Object.keys(out.targets).sort(), [
    "auc",
    "best_first",
    "ece_vs_truth",
    "log_loss",
    "returns",
    "spearman",
  ]);
});
