import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { BACKENDS, parseBackend } from "../../lib/tf.ts";

/** `recsimu …args` in a subprocess (with a deadline), optionally fed `stdin`. */
const recsimu = (args: string[], stdin?: string) => runRecsimu(args, { stdin });

Deno.test("bad flags and bad files exit 2 with a one-line message naming the problem", async () => {
  await using tmp = await tempDir();
  const r1 = await recsimu(["train", "--data", "x.csv", "--out", tmp.path, "--hidden", "abc"]);
  assertEquals(r1.code, 2);
  assert(r1.stderr.startsWith("recsimu train: --hidden: expected a number"), r1.stderr);
  const r2 = await recsimu(["train", "--bogus"]);
  assertEquals(r2.code, 2);
  assert(r2.stderr.includes("Unknown option '--bogus'"), r2.stderr);
  const bad = join(tmp.path, "bad.csv");
  await Deno.writeTextFile(bad, "session_id,item_id,feedback\ns,a,skip\ns,b\n");
  const r3 = await recsimu([
    "train",
    "--data",
    bad,
    "--out",
    join(tmp.path, "m"),
    "--backend",
    "cpu",
  ]);
  assertEquals(r3.code, 2);
  assertEquals(r3.stderr.trim().split("\n").length, 1, r3.stderr);
  assert(r3.stderr.includes(`line 3`) && r3.stderr.includes("bad.csv"), r3.stderr);
  const r4 = await recsimu(["nonsense"]);
  assertEquals(r4.code, 2);
  // A model folder that does not exist, or is not a model: one line, before the backend line.
  const r5 = await recsimu(["eval", "--model", join(tmp.path, "none")]);
  assertEquals(r5.code, 2);
  assertEquals(r5.stderr.trim().split("\n").length, 1, r5.stderr);
  assert(r5.stderr.includes("does not exist"), r5.stderr);
  const r6 = await recsimu(["eval", "--model", tmp.path]);
  assertEquals(r6.code, 2);
  assertEquals(r6.stderr.trim().split("\n").length, 1, r6.stderr);
  assert(r6.stderr.includes("not a recsimu checkpoint"), r6.stderr);
});

Deno.test("train → eval → predict work end to end from the command line", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "log.csv");
  await Deno.writeTextFile(
    log,
    synthText({ seed: 2, sessions: 80, items: 40, categories: 5, minLength: 10, maxLength: 20 }),
  );
  const model = join(tmp.path, "model");
  const tiny = [...TINY_FLAGS, "--epochs", "1", "--quiet"];
  const t = await recsimu(["train", "--data", log, "--out", model, ...tiny]);
  assertEquals(t.code, 0, t.stderr);
  const trained = JSON.parse(t.stdout);
  assert(trained.recsimu.auc > 0 && trained.recsimu.auc < 1);
  const e = await recsimu(["eval", "--model", model]);
  assertEquals(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assertEquals(ev.recsimu.n, trained.recsimu.n);
  assert(Math.abs(ev.recsimu.auc - trained.recsimu.auc) < 1e-9, "eval reproduces train's test AUC");
  assert(e.stderr.includes("recsimu") && e.stderr.includes("item_rate"));
  const vocab = JSON.parse(await Deno.readTextFile(join(model, "vocab.json"))) as string[];
  const lines = [
    JSON.stringify({
      id: 1,
      state: [{ item: vocab[0], feedback: "skip" }, { item: vocab[1], feedback: "click" }],
      action: vocab[2],
    }),
    "not json",
    JSON.stringify({ id: 3, state: [], action: "no-such-item" }),
    JSON.stringify({ id: 4, state: [{ item: vocab[0], feedback: "meh" }], action: vocab[1] }),
    JSON.stringify({
      id: 5,
      state: Array.from(
        { length: 30 },
        (_, i) => ({ item: vocab[i % vocab.length], feedback: "skip" }),
      ),
      action: vocab[3],
    }),
  ].join("\n") + "\n";
  const p = await recsimu(["predict", "--model", model], lines);
  assertEquals(p.code, 0, p.stderr);
  const out = p.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(out.length, 5);
  assertEquals(out[0].id, 1);
  const probs = Object.values(out[0].probs) as number[];
  assertEquals(Object.keys(out[0].probs), ["skip", "click", "purchase"]);
  assert(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert(out[0].real > 0 && out[0].real < 1);
  assert(out[1].error.includes("line 2"));
  // The default model answers an item it never saw as the shared rare item, and says so.
  assertEquals(out[2].error, undefined, JSON.stringify(out[2]));
  assertEquals(out[2].ood.item, "unknown");
  assertEquals(out[2].ood.any, true);
  assertEquals(out[0].ood.item, "known");
  assert(out[0].spread >= 0 && out[0].spread < 0.5, `spread ${out[0].spread}`);
  assert(out[3].error.includes("state[0].feedback"));
  assert(out[4].probs, "a state longer than N uses its last N pairs");
});

Deno.test("every command refuses an unknown --backend: one line listing BACKENDS, exit 2, nothing written", async () => {
  await using tmp = await tempDir();
  assertEquals([...BACKENDS], ["auto", "webgpu", "wasm", "cpu"]);
  assertEquals(parseBackend(undefined), "auto");
  for (const b of BACKENDS) assertEquals(parseBackend(b), b);
  const out = join(tmp.path, "out");
  const none = join(tmp.path, "none");
  const runs: string[][] = [
    ["train", "--data", join(tmp.path, "log.csv"), "--out", out],
    ["experiment", "--data", join(tmp.path, "log.csv"), "--out", out],
    ["demo", "--out", out],
    ["eval", "--model", none],
    ["predict", "--model", none],
    ["serve", "--model", none],
    ["agent", "--model", none],
  ];
  for (const args of runs) {
    const r = await recsimu([...args, "--backend", "tpu"]);
    assertEquals(r.code, 2, `${args[0]}: ${r.stderr}`);
    assertEquals(
      r.stderr.trim(),
      `recsimu ${args[0]}: --backend: expected auto, webgpu, wasm or cpu, got "tpu"`,
    );
    const left = await Deno.lstat(out).then(() => true, () => false);
    assertEquals(left, false, `${args[0]} left ${out} behind`);
  }
});
