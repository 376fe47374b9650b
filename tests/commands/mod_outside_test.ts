/**
 * mod.ts used the way a library user does: from a script in a folder of their own, outside the
 * repository, run without `--config` (so deno.json's import map is not in play). Every npm
 * package must resolve from the specifiers in lib/ themselves, and the WASM backend must find
 * its .wasm files wherever Deno keeps the package.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { assert, assertEquals } from "../_assert.ts";
import { ROOT } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";

/** The user's script: synthesize a log, train a tiny simulator, load it and score one step. */
const SCRIPT = (mod: string) => `
import {
  datasetFromText, expectedReward, initBackend, parseRewards, Simulator, SYNTH_DEFAULTS,
  synthRows, TRAIN_DEFAULTS, trainRecSimu,
} from ${JSON.stringify(mod)};

const info = await initBackend("wasm", { quiet: true });
const rows = synthRows({ ...SYNTH_DEFAULTS, seed: 1, sessions: 60, items: 30, categories: 4,
  minLength: 10, maxLength: 15 });
const csv = ["session_id,item_id,feedback,timestamp",
  ...rows.map((r) => [r.session, r.item, r.feedback, r.timestamp].join(","))].join("\\n") + "\\n";
const ds = await datasetFromText(csv, "log.csv", { stateLength: 5, minCount: 1 });
await trainRecSimu(ds, {
  ...TRAIN_DEFAULTS, stateLength: 5, minStateLength: 5, minCount: 1, embDim: 6, feedbackDim: 4,
  hidden: 8, fc: 8, batch: 32, preGEpochs: 1, preDEpochs: 1, epochs: 1, i2vEpochs: 1,
}, { out: "model", quiet: true });
const sim = await Simulator.load("model", { backend: "wasm" });
const [p] = await sim.predict([{ state: [], action: sim.items[0] }]);
const probs = sim.labels.map((l) => p.probs[l]);
const reward = expectedReward(probs, parseRewards("skip=0,click=1,purchase=5", sim.labels, sim.positive));
console.log(JSON.stringify({ backend: info.name, labels: sim.labels, probs, reward }));
sim.dispose();
`;

Deno.test("a script outside the repository imports mod.ts without --config, trains and predicts on WASM", async () => {
  await using tmp = await tempDir();
  assert(!tmp.path.startsWith(ROOT), `${tmp.path} must lie outside ${ROOT}`);
  const script = join(tmp.path, "script.ts");
  await Deno.writeTextFile(script, SCRIPT(pathToFileURL(join(ROOT, "mod.ts")).href));
  // The packages come from Deno's cache, which the repository's own runs have filled.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "script.ts"],
    cwd: tmp.path,
    env: { RECSIMU_THREADS: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(240_000),
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, err);
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim());
  assertEquals(r.backend, "wasm");
  assertEquals([...r.labels].sort(), ["click", "purchase", "skip"]);
  assertEquals(r.probs.length, 3);
  const sum = r.probs.reduce((a: number, b: number) => a + b, 0);
  assert(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
  assert(r.reward >= 0 && r.reward <= 5, `expected reward ${r.reward}`);
  // The model was written where the user's script asked: relative to its own folder.
  assert((await Deno.stat(join(tmp.path, "model"))).isDirectory);
});
