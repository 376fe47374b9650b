import { join } from "node:path";
import { createHash } from "node:crypto";
import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import { initBackend } from "../../lib/tf.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { alignItemFeatures, readItemFeatures } from "../../lib/data/item_features.ts";
import { finished, trainRecSimu } from "../../lib/train/loop.ts";
import { predictTuples } from "../../lib/eval/evaluate.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { OUTPUT_MARKER } from "../../lib/output.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

const LOG = synthText({
  seed: 1,
  sessions: 60,
  items: 40,
  categories: 5,
  minLength: 10,
  maxLength: 20,
});

/** An items.csv for `ids`: category by index mod 3, a price bucket; the last id unlisted. */
function itemsCsv(ids: readonly string[]): string {
  const rows = ids.slice(0, -1).map((id, i) => `${id},c${i % 3},p${i % 2}`);
  return ["item_id,category,price", ...rows].join("\n") + "\n";
}

/** Trains with item features (and match features when asked), reloads, compares answers. */
async function roundTrip(matchFeatures: boolean, wide = false): Promise<void> {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(LOG, "small.csv", { stateLength: 5, minCount: 1 });
  const file = join(tmp.path, "items.csv");
  await Deno.writeTextFile(file, itemsCsv(ds.items));
  const f = await readItemFeatures(file, { columns: ["category"] });
  const features = alignItemFeatures(f, ds.items);
  const out = join(tmp.path, "model");
  const c = tinyConfig({
    batch: 128,
    calibrate: "none",
    epochs: 0,
    preGEpochs: 0,
    itemFeatures: { file, sha256: f.sha256, columns: f.columns },
    matchFeatures,
    wide,
  });
  const r = finished(await trainRecSimu(ds, c, { quiet: true, out, itemFeatures: features }));
  assertEquals(r.model.shape.itemFeatures, [4]);
  assertEquals(r.model.shape.matchFeatures, matchFeatures ? true : undefined);
  assertEquals(r.model.shape.wide, wide ? true : undefined);
  if (wide) {
    const w = r.model.d.params.get("wide/w").dataSync();
    assert(w.some((x) => x !== 0), "the wide path trained");
  }
  const table = r.model.d.params.get("item/feature/0").arraySync() as number[][];
  assert(table[1]!.some((x) => x !== 0), "the feature table trained");
  const probs = await predictTuples(r.model, ds, ds.test);
  r.model.dispose();
  const sim = await Simulator.load(out, { backend: "cpu" });
  const reqs = [...ds.test].map((a) => ({
    state: Array.from({ length: 5 }, (_, t) => ({
      item: ds.items[ds.rowItem[a - 5 + t]!]!,
      feedback: ds.labels[ds.rowLabel[a - 5 + t]!]!,
    })),
    action: ds.items[ds.rowItem[a]!]!,
  }));
  const preds = await sim.predict(reqs);
  const K = ds.labels.length;
  preds.forEach((p, i) => {
    let z = 0;
    for (let k = 0; k < K; k++) z += probs[i * 2 * K + k]!;
    assertAlmostEquals(p.real!, z, 1e-5);
  });
  sim.dispose();
}

Deno.test("a model trained with item features predicts the same after Simulator.load", async () => {
  await roundTrip(false);
});

Deno.test("a model with item and match features predicts the same after Simulator.load", async () => {
  await roundTrip(true);
});

Deno.test("a model with match features and the wide path predicts the same after Simulator.load", async () => {
  await roundTrip(true, true);
});

Deno.test("recsimu train --item-features records the file, saves item_features.json, refuses changes on --resume", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "log.csv"), items = join(tmp.path, "items.csv");
  await Deno.writeTextFile(log, LOG);
  const ids = [...new Set(LOG.trim().split("\n").slice(1).map((l) => l.split(",")[1]!))];
  await Deno.writeTextFile(items, itemsCsv(ids));
  const out = join(tmp.path, "m");
  const base = ["train", "--data", log, ...TINY_FLAGS, "--quiet", "--pre-g-epochs", "0"];
  const feats = ["--item-features", items, "--item-feature-columns", "category"];
  const run = await runRecsimu([...base, "--epochs", "0", "--out", out, ...feats]);
  assertEquals(run.code, 0, run.stderr);
  const meta = JSON.parse(await Deno.readTextFile(join(out, "config.json")));
  const sha = createHash("sha256").update(await Deno.readFile(items)).digest("hex");
  assertEquals(meta.config.itemFeatures, { file: items, sha256: sha, columns: ["category"] });
  assertEquals(meta.shape.itemFeatures, [4]);
  const marker = JSON.parse(await Deno.readTextFile(join(out, OUTPUT_MARKER)));
  assert(Object.hasOwn(marker.files, "item_features.json"), "the marker lists item_features.json");
  const saved = JSON.parse(await Deno.readTextFile(join(out, "item_features.json")));
  assertEquals([saved.columns, saved.values], [["category"], [["c0", "c1", "c2"]]]);
  const weights = JSON.parse(await Deno.readTextFile(join(out, "weights.json")));
  const names = weights.tensors.map((t: { name: string }) => t.name);
  assert(names.includes("D/item/feature/0"), names.join(","));
  const other = ["--item-features", items, "--item-feature-columns", "price"];
  for (const flags of [other, []]) {
    const r = await runRecsimu([...base, "--epochs", "1", "--out", out, "--resume", ...flags]);
    assertEquals([r.code, r.stderr.includes("flags differ")], [2, true], r.stderr);
  }
  // The same content under another path is the same features.
  const copy = join(tmp.path, "copy.csv");
  await Deno.copyFile(items, copy);
  const same = await runRecsimu([
    ...base,
    ...["--epochs", "1", "--out", out, "--resume"],
    ...["--item-features", copy, "--item-feature-columns", "category"],
  ]);
  assertEquals(same.code, 0, same.stderr);
});

Deno.test("recsimu train --item-features refuses bad use in one line, exit 2", async () => {
  await using tmp = await tempDir();
  const items = join(tmp.path, "items.csv");
  await Deno.writeTextFile(items, "item_id,category\ni1,a\ni1,b\n");
  const log = join(tmp.path, "log.csv");
  await Deno.writeTextFile(log, LOG);
  const cases: [string[], string][] = [
    [["--arch", "paper", "--item-features", items], "--item-features: only with --arch attn"],
    [["--item-features", items, "--item-feature-columns", "brand"], "line 1, column brand"],
    [["--item-features", items], 'line 3, column item_id: duplicate item id "i1"'],
    [["--item-feature-columns", "category"], "only with --item-features FILE"],
  ];
  for (const [flags, msg] of cases) {
    const r = await runRecsimu(["train", "--data", log, "--out", join(tmp.path, "m"), ...flags]);
    assertEquals(r.code, 2, r.stderr);
    assert(r.stderr.includes(msg), `${flags.join(" ")}: ${r.stderr}`);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const e = await runRecsimu([
    "experiment",
    "--data",
    log,
    "--out",
    join(tmp.path, "e"),
    "--item-features",
    items,
  ]);
  assertEquals(
    [e.code, e.stderr.includes("Unknown option '--item-features'")],
    [2, true],
    e.stderr,
  );
  // Only train's help lists the flags it alone takes.
  const help = await runRecsimu(["experiment", "--help"]);
  assert(!help.stdout.includes("--item-features"), help.stdout);
  assert((await runRecsimu(["train", "--help"])).stdout.includes("--item-features FILE"));
});
