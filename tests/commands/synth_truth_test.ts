import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { runRecsimu } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";

/** A small world: 60 items, 30 sessions (5000 cases and 200 start states stay the default). */
const SMALL = ["--sessions", "30", "--items", "60", "--categories", "4"];

const cliTest = { permissions: { read: true, write: true, run: true, env: true } } as const;

Deno.test({
  ...cliTest,
  name: "synth --truth writes a known-truth world with its own marker and refuses a second run",
  async fn() {
    await using d = await tempDir();
    const out = join(d.path, "w");
    const r = await runRecsimu([
      "synth",
      "--truth",
      "--preset",
      "hard",
      "--seed",
      "3",
      "--out",
      out,
      ...SMALL,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assert(r.stderr.includes("hard known-truth world (seed 3, 60 items)"), r.stderr);
    const marker = JSON.parse(await Deno.readTextFile(join(out, ".recsimu-output.json")));
    assertEquals(marker.kind, "truth");
    assertEquals(Object.keys(marker.files).sort(), ["log.csv", "truth"]);
    const world = JSON.parse(await Deno.readTextFile(join(out, "truth", "world.json")));
    assertEquals([world.preset, world.seed, world.parameters.items], ["hard", 3, 60]);
    assertEquals(world.sizes.sessions, 30);
    const names = [];
    for await (const e of Deno.readDir(join(out, "truth"))) names.push(e.name);
    assertEquals(names.sort(), [
      "cases.jsonl",
      "items.csv",
      "policies.json",
      "start_states.json",
      "world.json",
    ]);
    const log = await Deno.readTextFile(join(out, "log.csv"));
    assert(log.startsWith("session_id,item_id,feedback,timestamp\n"), log.slice(0, 80));

    const again = await runRecsimu(["synth", "--truth", "--out", out, ...SMALL]);
    assertEquals(again.code, 2);
    assert(again.stderr.includes("already holds a recsimu known-truth world"), again.stderr);
    assert(again.stderr.includes("--overwrite"), again.stderr);
    // A plain synth does not replace a truth world, nor the other way round.
    const plain = await runRecsimu(["synth", "--out", out, "--overwrite", "--sessions", "5"]);
    assertEquals(plain.code, 2);
    assert(plain.stderr.includes("holds a recsimu known-truth world, not a recsimu synthetic log"));
    const over = await runRecsimu([
      "synth",
      "--truth",
      "--out",
      out,
      "--overwrite",
      "--quiet",
      ...SMALL,
    ]);
    assertEquals(over.code, 0, over.stderr);
    assertEquals(over.stderr, "");
    const base = JSON.parse(await Deno.readTextFile(join(out, "truth", "world.json")));
    assertEquals([base.preset, base.seed], ["base", 0]);
    const s = join(d.path, "s");
    assertEquals((await runRecsimu(["synth", "--out", s, "--sessions", "5", "--quiet"])).code, 0);
    const onSynth = await runRecsimu(["synth", "--truth", "--out", s, "--overwrite", ...SMALL]);
    assertEquals(onSynth.code, 2);
    assert(onSynth.stderr.includes("not a recsimu known-truth world"), onSynth.stderr);
  },
});

Deno.test({
  ...cliTest,
  name: "synth --truth: bad options are one line naming the flag, and nothing is written",
  async fn() {
    await using d = await tempDir();
    const out = join(d.path, "w");
    const cases: [string[], string][] = [
      [
        ["--truth", "--items", "5", "--categories", "9"],
        "--categories: must be an integer in [1, 5], got 9",
      ],
      [["--truth", "--preset", "easy"], '--preset: expected base or hard, got "easy"'],
      [["--truth", "--min-length", "30", "--max-length", "20"], "--max-length"],
      [["--truth", "--sessions", "-1"], "--sessions: must be at least 0"],
      [["--preset", "hard"], "--preset: only with --truth"],
    ];
    for (const [flags, want] of cases) {
      const r = await runRecsimu(["synth", "--out", out, ...flags]);
      assertEquals(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(r.stderr.includes(want), `${flags.join(" ")}: ${r.stderr}`);
    }
    let exists = true;
    await Deno.lstat(out).catch(() => (exists = false));
    assert(!exists, "a refused run left a folder");
  },
});
