/**
 * The support model end to end: `recsimu train` stores it (support.json, sha256 in the marker),
 * the simulator's answers carry `support` and `ood.off_support`, `recsimu fidelity
 * --agent-episodes` judges an agent trained with `--support-penalty` in the simulator and in
 * the truth, and a checkpoint without a support model refuses `--support-penalty` in one line.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { checkpointWithout, tempDir } from "../_helpers.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";
import { OUTPUT_MARKER, sha256 } from "../../lib/output.ts";
import { Simulator } from "../../lib/sim/simulator.ts";

const cliTest = { permissions: { read: true, write: true, run: true, env: true } } as const;

Deno.test({
  ...cliTest,
  name:
    "train fits the support model; answers carry it; fidelity judges an agent; old checkpoints refuse the penalty",
  async fn() {
    await using d = await tempDir();
    const w = join(d.path, "w"), m = join(d.path, "m");
    await writeTruthWorld(w, {
      preset: "base",
      seed: 4,
      params: { items: 80, categories: 4 },
      sessions: 100,
      cases: 80,
      startStates: 4,
      rollouts: 1,
      horizon: 4,
    });
    const t = await runRecsimu(["train", "--data", join(w, "log.csv"), "--out", m, ...TINY_FLAGS]);
    assertEquals(t.code, 0, t.stderr);
    assert(/support model: held-out AUC \d\.\d{4} for logged vs uniform/.test(t.stderr), t.stderr);
    const trained = JSON.parse(t.stdout.trim().split("\n").at(-1)!);
    assert(trained.support.heldout.auc > 0.5, JSON.stringify(trained.support));
    const bytes = await Deno.readFile(join(m, "support.json"));
    const marker = JSON.parse(await Deno.readTextFile(join(m, OUTPUT_MARKER)));
    assertEquals(marker.files["support.json"], { sha256: sha256(bytes), bytes: bytes.length });

    const sim = await Simulator.load(m, { backend: "cpu" });
    try {
      assertEquals(sim.support?.threshold, trained.support.threshold);
      const [a, b] = await sim.predict([
        { state: [{ item: sim.items[0]!, feedback: "click" }], action: sim.items[1]! },
        { state: [], action: "never-seen" },
      ]);
      assert(Number.isFinite(a!.support), JSON.stringify(a));
      assertEquals(typeof a!.ood!.off_support, "boolean");
      // An unknown item has no count and no vector: the least supported answer of all.
      assert(b!.support! < a!.support!, `${b!.support} vs ${a!.support}`);
      assertEquals(b!.ood!.any, true);
      assertEquals(
        (sim.describe().support as { threshold: number }).threshold,
        sim.support!.threshold,
      );
    } finally {
      sim.dispose();
    }

    const judged = await runRecsimu([
      "fidelity",
      "--model",
      m,
      "--truth",
      w,
      "--backend",
      "cpu",
      "--posterior-particles",
      "0",
      "--baselines",
      "none",
      "--agent-episodes",
      "32",
      "--support-penalty",
      "0.5",
      "--quiet",
    ]);
    assertEquals(judged.code, 0, judged.stderr);
    const r = JSON.parse(judged.stdout);
    assertEquals(r.config.support_penalty, 0.5);
    assertEquals(r.agent.training.support_penalty, 0.5);
    assertEquals(r.agent.training.episodes, 32);
    assertEquals(r.agent.rank.of, 11);
    assert(Number.isFinite(r.agent.simulated.mean) && Number.isFinite(r.agent.true.mean));
    assert(r.prediction.overall.support.uniform_auc >= 0, JSON.stringify(r.prediction.overall));

    const old = join(d.path, "old");
    await checkpointWithout(m, old, "support.json");
    for (
      const args of [
        ["serve", "--model", old, "--port", "0", "--support-penalty", "1"],
        ["agent", "--model", old, "--episodes", "1", "--support-penalty", "1"],
        ["fidelity", "--model", old, "--truth", w, "--support-penalty", "1"],
      ]
    ) {
      const refused = await runRecsimu([...args, "--backend", "cpu"]);
      assertEquals(refused.code, 2, refused.stderr);
      assert(
        /^recsimu \w+: --support-penalty: the checkpoint in ".*old" has no support model \(support\.json\)[^\n]*$/
          .test(refused.stderr.trim().split("\n").at(-1)!),
        refused.stderr,
      );
    }
    const logOnly = await runRecsimu([
      "fidelity",
      "--model",
      m,
      "--log",
      "x.csv",
      "--agent-episodes",
      "5",
    ]);
    assertEquals(logOnly.code, 2);
    assert(logOnly.stderr.includes("--agent-episodes: only with --truth"), logOnly.stderr);
  },
});
