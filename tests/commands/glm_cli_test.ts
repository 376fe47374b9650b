/**
 * The structured user model end to end: `recsimu train` stores it (glm.json, sha256 in the
 * marker) beside the discriminator, with the catalogue's columns when trained with
 * `--item-features`; `--user-model glm` makes the simulator, `predict` and `fidelity` answer
 * with it; a checkpoint without one, or a wrong value, is refused in one line.
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { checkpointWithout, tempDir, tinyTruth } from "../_helpers.ts";
import { writeTruthWorld } from "../../lib/data/truth/write.ts";
import { OUTPUT_MARKER, sha256 } from "../../lib/output.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { autoUserModel, chooseUserModel } from "../../lib/sim/user_model.ts";

const cliTest = { permissions: { read: true, write: true, run: true, env: true } } as const;

Deno.test({
  ...cliTest,
  name: "train fits the structured user model; --user-model glm answers with it; refusals",
  async fn() {
    await using d = await tempDir();
    const w = join(d.path, "w"), m = join(d.path, "m");
    await writeTruthWorld(w, tinyTruth(5));
    const t = await runRecsimu([
      "train",
      "--data",
      join(w, "log.csv"),
      "--out",
      m,
      "--item-features",
      join(w, "truth", "items.csv"),
      "--item-feature-columns",
      "category",
      ...TINY_FLAGS,
    ], { timeoutMs: 300_000 });
    assertEquals(t.code, 0, t.stderr);
    const trained = JSON.parse(t.stdout.trim().split("\n").at(-1)!);
    assert(trained.glm.heldout.log_loss < trained.glm.heldout.base_log_loss, t.stdout);
    const bytes = await Deno.readFile(join(m, "glm.json"));
    const marker = JSON.parse(await Deno.readTextFile(join(m, OUTPUT_MARKER)));
    assertEquals(marker.files["glm.json"], { sha256: sha256(bytes), bytes: bytes.length });
    const stored = JSON.parse(new TextDecoder().decode(bytes));
    assertEquals(stored.columns, ["category"]);

    const net = await Simulator.load(m, { backend: "cpu" });
    const glm = await Simulator.load(m, { backend: "cpu", userModel: "glm" });
    const fast = await Simulator.load(m, { backend: "cpu", userModel: "glm", realScore: "off" });
    try {
      assertEquals([net.userModel, glm.userModel], ["network", "glm"]);
      assertEquals((glm.describe().glm as { columns: string[] }).columns, ["category"]);
      const requests = [
        { state: [{ item: net.items[0]!, feedback: "click" }], action: net.items[1]! },
        { state: [{ item: net.items[2]!, feedback: "skip" }], action: "never-seen" },
      ];
      const [a, b] = await glm.predictArrays(requests);
      const [na, nb] = await net.predictArrays(requests);
      // The probabilities are the GLM's own; D still gives the real score and the flags.
      const direct = glm.glm!.probs({
        items: [0],
        feedback: [net.labels.indexOf("click")],
        candidate: 1,
      });
      a!.probs.forEach((p, k) => assertAlmostEquals(p, direct[k]!, 1e-12));
      assertAlmostEquals(a!.probs.reduce((s, p) => s + p, 0), 1, 1e-9);
      assertEquals(a!.real, na!.real);
      // The GLM's own spread: p (1 − p) · sd of the candidate's bias (the delta method).
      const pPos = a!.probs.reduce((s, p, k) => s + (net.positive[k] ? p : 0), 0);
      assertAlmostEquals(a!.spread!, pPos * (1 - pPos) * stored.item_bias_sd[1], 1e-12);
      assert(a!.spread! > 0);
      assertEquals(b!.ood, nb!.ood);
      assertEquals(b!.ood!.item, "unknown");
      assert(a!.probs.some((p, k) => Math.abs(p - na!.probs[k]!) > 1e-6), "answers differ");
      // realScore off: the same answers without D's real score and its flag.
      const [fa, fb] = await fast.predictArrays(requests);
      assertEquals(fast.describe().real_score, "off");
      for (const [f, g] of [[fa!, a!], [fb!, b!]] as const) {
        assertEquals(f.probs, g.probs);
        assertEquals([f.spread, f.support], [g.spread, g.support]);
        assertEquals("real" in f, false);
        const { low_real: _, ...rest } = g.ood!;
        const any = rest.item === "unknown" || rest.state_unknown_items > 0 ||
          rest.off_support === true;
        assertEquals(f.ood, { ...rest, any });
      }
      assertEquals(fb!.ood!.any, true); // the unseen item
    } finally {
      net.dispose();
      glm.dispose();
      fast.dispose();
    }

    const line = JSON.stringify({ state: [], action: "i1" });
    const p = await runRecsimu(
      ["predict", "--model", m, "--user-model", "glm", "--backend", "cpu"],
      {
        stdin: line + "\n",
      },
    );
    assertEquals(p.code, 0, p.stderr);
    const answer = JSON.parse(p.stdout.trim());
    assert(Number.isFinite(answer.support), p.stdout); // predict prints the support model's answer
    assert(answer.spread > 0, p.stdout);
    assert(Number.isFinite(answer.real), p.stdout);
    const q = await runRecsimu(
      ["predict", "--model", m, "--user-model", "glm", "--real-score", "off", "--backend", "cpu"],
      { stdin: line + "\n" },
    );
    assertEquals(q.code, 0, q.stderr);
    // The same answer without `real` and `ood.low_real` (`ood.any` then counts the rest).
    const { real: _, ood: { low_real: _low, ...ood }, ...rest } = answer;
    ood.any = ood.item === "unknown" || ood.state_unknown_items > 0 || ood.off_support;
    assertEquals(JSON.parse(q.stdout.trim()), { ...rest, ood });
    assertAlmostEquals(
      Object.values(answer.probs as Record<string, number>).reduce((s, x) => s + x, 0),
      1,
      1e-9,
    );

    const judged = await runRecsimu([
      "fidelity",
      "--model",
      m,
      "--truth",
      w,
      "--user-model",
      "glm",
      "--backend",
      "cpu",
      "--posterior-particles",
      "0",
      "--baselines",
      "none",
      "--quiet",
    ], { timeoutMs: 300_000 });
    assertEquals(judged.code, 0, judged.stderr);
    const r = JSON.parse(judged.stdout);
    assertEquals(r.simulator.user_model, "glm"); // the report says who answered
    assert(r.prediction.overall.simulator.auc > 0.5, JSON.stringify(r.prediction.overall));
    assert(r.prediction.overall.spread.mean > 0, JSON.stringify(r.prediction.overall.spread));

    const old = join(d.path, "old");
    await checkpointWithout(m, old, "glm.json");
    for (
      const args of [
        ["serve", "--model", old, "--port", "0"],
        ["predict", "--model", old],
        ["fidelity", "--model", old, "--truth", w],
      ]
    ) {
      const refused = await runRecsimu([...args, "--user-model", "glm", "--backend", "cpu"], {
        stdin: "",
      });
      assertEquals(refused.code, 2, refused.stderr);
      assert(
        /^recsimu \w+: --user-model glm: ".*old" has no glm\.json [^\n]*$/
          .test(refused.stderr.trim().split("\n").at(-1)!),
        refused.stderr,
      );
    }
    // auto: the lower of the two recorded validation log-losses; the network without glm.json.
    const config = JSON.parse(await Deno.readTextFile(join(m, "config.json")));
    const netLoss = config.calibration.validation.after.logLoss as number;
    const want = stored.heldout.log_loss < netLoss ? "glm" : "network";
    assertEquals(trained.user_model_auto, want); // train says what auto will answer with
    assertEquals(await chooseUserModel(m, "auto"), {
      requested: "auto",
      chosen: want,
      network_log_loss: netLoss,
      glm_log_loss: stored.heldout.log_loss,
    });
    assertEquals((await chooseUserModel(old, "auto")).chosen, "network");
    assertEquals((await chooseUserModel(old, "glm")).chosen, "glm"); // as asked; loading refuses
    // A damaged glm.json stops auto (it must read it), never network (it reads nothing).
    const damaged = join(d.path, "damaged");
    await checkpointWithout(m, damaged, "none");
    await Deno.writeTextFile(join(damaged, "glm.json"), "{");
    assertEquals((await chooseUserModel(damaged, "network")).chosen, "network");
    await assertRejects(() => chooseUserModel(damaged, "auto"), CheckpointError, "glm.json");
    const auto = await Simulator.load(m, { backend: "cpu", userModel: "auto" });
    try {
      assertEquals(auto.userModel, want);
      assertEquals((auto.describe().user_model_choice as { requested: string }).requested, "auto");
    } finally {
      auto.dispose();
    }
    // The commands' default is auto: predict answers as the chosen model does.
    const byDefault = await runRecsimu(["predict", "--model", m, "--backend", "cpu"], {
      stdin: line + "\n",
    });
    assertEquals(byDefault.code, 0, byDefault.stderr);
    const chosen = await runRecsimu(
      ["predict", "--model", m, "--user-model", want, "--backend", "cpu"],
      { stdin: line + "\n" },
    );
    assertEquals(byDefault.stdout, chosen.stdout);
    const noGlm = await runRecsimu([
      "serve",
      "--model",
      m,
      "--user-model",
      "network",
      "--real-score",
      "off",
    ]);
    assertEquals(noGlm.code, 2);
    assert(
      noGlm.stderr.includes("--real-score off needs --user-model glm"),
      noGlm.stderr,
    );
    const bad = await runRecsimu(["serve", "--model", m, "--user-model", "gru"]);
    assertEquals(bad.code, 2);
    assert(
      bad.stderr.includes('--user-model: expected one of auto, network, glm, got "gru"'),
      bad.stderr,
    );
  },
});

Deno.test("autoUserModel: the GLM only when both log-losses are known and its is lower", () => {
  assertEquals(autoUserModel(0.6, 0.5), "glm");
  assertEquals(autoUserModel(0.5, 0.6), "network");
  assertEquals(autoUserModel(0.5, 0.5), "network"); // a tie keeps the discriminator
  assertEquals(autoUserModel(null, 0.1), "network");
  assertEquals(autoUserModel(0.5, null), "network");
});
