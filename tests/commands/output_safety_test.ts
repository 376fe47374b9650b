/**
 * File safety through the real commands: recsimu never removes or overwrites what it did not
 * write. Every writing command is walked over targets that hold a user's files — a folder, the
 * data's own folder, the data file, a plain file, the current folder — and every user byte must
 * survive; a folder named `NAME.old` is never deleted nor taken for a model. A previous output of
 * the same command is replaced only with --overwrite (or continued with --resume). Damaged
 * checkpoint files are refused; odd paths (trailing slash, read-only folders) give one line.
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { MAIN, NO_EPOCHS, ROOT, runDeno, type RunResult, TINY_FLAGS } from "../_cli.ts";

/** `recsimu …args` with `cwd` as the working folder. */
const recsimu = (cwd: string, args: string[]) =>
  runDeno(["run", "-A", "--config", `${ROOT}deno.json`, MAIN, ...args], { cwd });

/** Every file under `dir` (relative path → bytes), skipping the folders named in `skip`. */
async function snapshot(dir: string, skip: string[] = []): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip.includes(r)) continue;
      if (e.isDirectory) await walk(join(d, e.name), r);
      else out.set(r, new TextDecoder().decode(await Deno.readFile(join(d, e.name))));
    }
  };
  await walk(dir, "");
  return out;
}

function assertRefused(r: RunResult, what: string, pattern: RegExp): void {
  assertEquals(r.code, 2, `${what}: exit code\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, `${what}: one line on stderr, got\n${r.stderr}`);
  assert(pattern.test(lines[0]!), `${what}: ${lines[0]} does not match ${pattern}`);
}

/** A working folder with a user's files and a trained model at `model/`. */
async function userWorld(path: string): Promise<void> {
  await Deno.mkdir(join(path, "data"));
  await Deno.writeTextFile(
    join(path, "data", "log.csv"),
    synthText({ seed: 5, sessions: 40, items: 30, categories: 4, minLength: 8, maxLength: 14 }),
  );
  await Deno.writeTextFile(join(path, "data", "README"), "my notes about the data\n");
  await Deno.mkdir(join(path, "f1"));
  await Deno.writeTextFile(join(path, "f1", "notes.txt"), "x\n");
  await Deno.writeTextFile(join(path, "plain.txt"), "a user's plain file\n");
  await Deno.mkdir(join(path, "f1", "report"));
  await Deno.writeTextFile(join(path, "f1", "report", "report.html"), "<p>mine</p>\n");
  const r = await recsimu(path, [
    "train",
    "--data",
    "data/log.csv",
    "--out",
    "model",
    ...TINY_FLAGS,
    ...NO_EPOCHS,
  ]);
  assertEquals(r.code, 0, r.stderr);
}

Deno.test("every writing command refuses targets holding a user's files, and every user byte survives", async () => {
  await using tmp = await tempDir();
  const cwd = tmp.path;
  await userWorld(cwd);
  const before = await snapshot(cwd);
  const targets: [string, RegExp][] = [
    ["f1", /recsimu did not write .*notes\.txt/],
    ["f1/", /recsimu did not write/],
    ["data", /(is or holds the input|recsimu did not write)/],
    ["data/log.csv", /(is or holds the input|is an existing file)/],
    ["plain.txt", /is an existing file/],
    [".", /current folder/],
    ["model", /already holds a recsimu checkpoint|holds a recsimu checkpoint, not/],
  ];
  const data = ["--data", "data/log.csv"];
  const commands: [string, (out: string) => string[]][] = [
    ["train", (out) => ["train", ...data, "--out", out, ...TINY_FLAGS, ...NO_EPOCHS]],
    ["train --overwrite", (out) => [
      "train",
      ...data,
      "--out",
      out,
      "--overwrite",
      ...TINY_FLAGS,
      ...NO_EPOCHS,
    ]],
    ["synth", (out) => ["synth", "--out", out, "--sessions", "10", "--items", "10"]],
    ["synth --overwrite", (out) => ["synth", "--out", out, "--overwrite", "--sessions", "10"]],
    ["demo", (out) => ["demo", "--out", out, "--sessions", "10", "--backend", "cpu"]],
    ["demo --overwrite", (out) => ["demo", "--out", out, "--overwrite", "--sessions", "10"]],
    ["experiment", (out) => ["experiment", ...data, "--out", out, "--suite", "overall"]],
    ["experiment --overwrite", (out) => [
      "experiment",
      ...data,
      "--out",
      out,
      "--overwrite",
      "--suite",
      "overall",
    ]],
  ];
  for (const [name, args] of commands) {
    for (const [target, pattern] of targets) {
      // An own checkpoint is replaced by train --overwrite: that case is tested below.
      if (target === "model" && name === "train --overwrite") continue;
      const r = await recsimu(cwd, args(target));
      assertRefused(r, `${name} --out ${target}`, pattern);
    }
  }
  // agent --out names one file: folders, the data, plain files and a model's files are refused.
  const agent = (out: string) => ["agent", "--model", "model", "--out", out, "--episodes", "1"];
  for (
    const [target, pattern] of [
      ["f1", /is a folder/],
      ["data/log.csv", /not a recsimu agent report/],
      ["plain.txt", /not a recsimu agent report/],
      ["model/weights.bin", /not a recsimu agent report/],
      ["model/config.json", /not a recsimu agent report/],
    ] as const
  ) {
    assertRefused(await recsimu(cwd, agent(target)), `agent --out ${target}`, pattern);
  }
  // eval --save writes only into a checkpoint: a user's folder is not one.
  for (const target of ["f1", "data", "plain.txt"]) {
    const r = await recsimu(cwd, ["eval", "--model", target, "--save", "--backend", "cpu"]);
    assertRefused(r, `eval --model ${target} --save`, /not a recsimu checkpoint|is a file/);
  }
  const after = await snapshot(cwd);
  for (const [path, bytes] of before) {
    assertEquals(after.get(path), bytes, `${path} changed or vanished`);
  }
  const leftovers = [...after.keys()].filter((p) => /(^|\/)\.recsimu-(tmp|old)-/.test(p));
  assertEquals(leftovers, [], "temporary or backup folders left behind");
});

Deno.test("a user's NAME.old folder is neither deleted nor taken for the model NAME", async () => {
  await using tmp = await tempDir();
  const cwd = tmp.path;
  await userWorld(cwd);
  // A real model, renamed by the user to m.old, with the user's notes in it.
  await Deno.rename(join(cwd, "model"), join(cwd, "m.old"));
  await Deno.writeTextFile(join(cwd, "m.old", "notes.txt"), "keep me\n");
  const before = await snapshot(join(cwd, "m.old"));
  const ev = await recsimu(cwd, ["eval", "--model", "m", "--backend", "cpu"]);
  assertRefused(ev, "eval --model m", /"m" does not exist/);
  const tr = await recsimu(cwd, [
    "train",
    "--data",
    "data/log.csv",
    "--out",
    "m",
    ...TINY_FLAGS,
    ...NO_EPOCHS,
  ]);
  assertEquals(tr.code, 0, tr.stderr);
  const tr2 = await recsimu(cwd, [
    "train",
    "--data",
    "data/log.csv",
    "--out",
    "m",
    "--overwrite",
    ...TINY_FLAGS,
    ...NO_EPOCHS,
  ]);
  assertEquals(tr2.code, 0, tr2.stderr);
  const sy = await recsimu(cwd, ["synth", "--out", "s", "--sessions", "10", "--items", "10"]);
  assertEquals(sy.code, 0, sy.stderr);
  assertEquals(await snapshot(join(cwd, "m.old")), before, "m.old changed");
  const names = [];
  for await (const e of Deno.readDir(cwd)) names.push(e.name);
  assertEquals(names.filter((n) => n.startsWith(".recsimu-")), [], "temporary folders left");
});

Deno.test("a previous output of the same command is replaced only with --overwrite, continued with --resume", async () => {
  await using tmp = await tempDir();
  const cwd = tmp.path;
  await userWorld(cwd);
  const seedOf = async () =>
    JSON.parse(await Deno.readTextFile(join(cwd, "model", "config.json"))).config.seed;
  assertEquals(await seedOf(), 0);
  const train = (extra: string[]) =>
    recsimu(cwd, [
      "train",
      "--data",
      "data/log.csv",
      "--out",
      "model",
      ...TINY_FLAGS,
      ...NO_EPOCHS,
      ...extra,
    ]);
  assertRefused(await train(["--seed", "7"]), "train again", /--resume .* or --overwrite/);
  assertEquals(await seedOf(), 0, "the seed-0 model was replaced without --overwrite");
  assertEquals((await train(["--seed", "7", "--overwrite"])).code, 0);
  assertEquals(await seedOf(), 7);
  assertEquals((await train(["--seed", "7", "--resume"])).code, 0);
  assertRefused(await train(["--resume", "--overwrite"]), "both", /exclude each other/);
  // A user's file inside the checkpoint blocks replacing it.
  await Deno.writeTextFile(join(cwd, "model", "mine.txt"), "mine\n");
  assertRefused(
    await train(["--seed", "7", "--overwrite"]),
    "train --overwrite over a user's file",
    /files recsimu did not write .*mine\.txt/,
  );
  assertEquals(await Deno.readTextFile(join(cwd, "model", "mine.txt")), "mine\n");
  // synth: the second run needs --overwrite; a synth folder is not a checkpoint.
  const synth = (extra: string[]) =>
    recsimu(cwd, ["synth", "--out", "s", "--sessions", "10", "--items", "10", ...extra]);
  assertEquals((await synth([])).code, 0);
  const log1 = await Deno.readTextFile(join(cwd, "s", "log.csv"));
  assertRefused(await synth(["--seed", "3"]), "synth again", /--overwrite/);
  assertEquals(await Deno.readTextFile(join(cwd, "s", "log.csv")), log1);
  assertEquals((await synth(["--seed", "3", "--overwrite"])).code, 0);
  assert(await Deno.readTextFile(join(cwd, "s", "log.csv")) !== log1, "--overwrite replaced");
  const asModel = await recsimu(cwd, [
    "train",
    "--data",
    "data/log.csv",
    "--out",
    "s",
    "--overwrite",
    ...TINY_FLAGS,
    ...NO_EPOCHS,
  ]);
  assertRefused(asModel, "train over a synth folder", /holds a recsimu synthetic log, not/);
  // agent --out: a second write needs --overwrite, and only over its own report.
  const agent = (extra: string[]) =>
    recsimu(cwd, [
      "agent",
      "--model",
      "model",
      "--out",
      "report.json",
      "--episodes",
      "2",
      "--envs",
      "2",
      "--max-steps",
      "3",
      "--eval-episodes",
      "2",
      "--probe-states",
      "0",
      "--backend",
      "cpu",
      "--quiet",
      ...extra,
    ]);
  const a1 = await agent([]);
  assertEquals(a1.code, 0, a1.stderr);
  assertRefused(await agent([]), "agent again", /--overwrite/);
  assertEquals((await agent(["--overwrite"])).code, 0);
});

Deno.test("damaged checkpoint files are refused: every file is checked against its sha256", async () => {
  await using tmp = await tempDir();
  const cwd = tmp.path;
  await userWorld(cwd);
  const model = join(cwd, "model");
  const evalModel = () => recsimu(cwd, ["eval", "--model", "model", "--backend", "cpu", "--quiet"]);
  assertEquals((await evalModel()).code, 0);
  const damage = async (name: string, change: (b: Uint8Array) => Uint8Array) => {
    const path = join(model, name);
    const good = await Deno.readFile(path);
    await Deno.writeFile(path, change(good.slice()));
    const r = await evalModel();
    await Deno.writeFile(path, good);
    assertRefused(r, `damaged ${name}`, new RegExp(`${name.replace(".", "\\.")}.*corrupted`));
  };
  // Three bytes of one float in embeddings.bin: 0.418 becomes ~1e38, still finite.
  await damage("embeddings.bin", (b) => {
    b[4] = 0xff, b[5] = 0xff, b[6] = 0x7e;
    return b;
  });
  // Two item ids swapped in vocab.json.
  await damage("vocab.json", (b) => {
    const ids = JSON.parse(new TextDecoder().decode(b)) as string[];
    [ids[0], ids[1]] = [ids[1]!, ids[0]!];
    return new TextEncoder().encode(JSON.stringify(ids));
  });
  // A change that keeps the JSON valid (a trailing space) is still a change.
  for (const name of ["config.json", "start_states.json", "weights.json", "history.json"]) {
    await damage(name, (b) => new Uint8Array([...b, 0x20]));
  }
  assertEquals((await evalModel()).code, 0, "the restored model loads again");
  // eval --save updates metrics.json and its checksum: the model still loads.
  const saved = await recsimu(cwd, ["eval", "--model", "model", "--save", "--backend", "cpu"]);
  assertEquals(saved.code, 0, saved.stderr);
  assertEquals((await evalModel()).code, 0, "eval --save left a checkpoint that loads");
});

Deno.test("odd output paths give one line and exit 2, and leave nothing behind", async () => {
  await using tmp = await tempDir();
  const cwd = tmp.path;
  await userWorld(cwd);
  // A trailing slash names the same folder.
  const r = await recsimu(cwd, [
    "train",
    "--data",
    "data/log.csv",
    "--out",
    "f2/",
    ...TINY_FLAGS,
    ...NO_EPOCHS,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assert((await Deno.stat(join(cwd, "f2", "config.json"))).isFile);
  // Negative numbers are values with a range check, not three lines of parser text.
  const neg = await recsimu(cwd, [
    "train",
    "--data",
    "data/log.csv",
    "--out",
    "x",
    "--epochs",
    "-1",
  ]);
  assertRefused(neg, "--epochs -1", /--epochs: must be at least 0, got -1/);
  const names = [];
  for await (const e of Deno.readDir(cwd)) names.push(e.name);
  assertEquals(names.filter((n) => n.startsWith(".recsimu-") || n === "x"), []);
});

/** Makes `path` unwritable even for root (chattr +i), or with chmod for other users. */
async function readOnly(path: string): Promise<(() => Promise<void>) | undefined> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(path, 0o555);
    return () => Deno.chmod(path, 0o755);
  }
  const run = (flag: string) =>
    new Deno.Command("chattr", { args: [flag, path], stderr: "null" }).output().then(
      (o) => o.success,
      () => false,
    );
  return await run("+i") ? async () => void await run("-i") : undefined;
}

Deno.test({
  name:
    "a read-only target gives one line and exit 2 in train, train --resume, synth and eval --save",
  fn: async (t) => {
    await using tmp = await tempDir();
    const cwd = tmp.path;
    await userWorld(cwd);
    await Deno.mkdir(join(cwd, "ro"));
    const undoParent = await readOnly(join(cwd, "ro"));
    if (!undoParent) {
      await t.step({
        name: "no way to make a folder read-only here (chattr)",
        ignore: true,
        fn() {},
      });
      return;
    }
    try {
      const tr = await recsimu(cwd, [
        "train",
        "--data",
        "data/log.csv",
        "--out",
        "ro/m",
        ...TINY_FLAGS,
        ...NO_EPOCHS,
      ]);
      assertRefused(tr, "train into a read-only folder", /Cannot write .*permission denied/);
      const sy = await recsimu(cwd, ["synth", "--out", "ro/s", "--sessions", "10"]);
      assertRefused(sy, "synth into a read-only folder", /Cannot write .*permission denied/);
    } finally {
      await undoParent();
    }
    const undoModel = (await readOnly(join(cwd, "model")))!;
    try {
      const res = await recsimu(cwd, [
        "train",
        "--data",
        "data/log.csv",
        "--out",
        "model",
        "--resume",
        ...TINY_FLAGS,
        ...NO_EPOCHS,
      ]);
      assertRefused(res, "train --resume of a read-only model", /Cannot .*permission denied/);
      const ev = await recsimu(cwd, ["eval", "--model", "model", "--save", "--backend", "cpu"]);
      assertEquals(ev.code, 2, ev.stderr);
      assert(/Cannot write .*permission denied/.test(ev.stderr), ev.stderr);
    } finally {
      await undoModel();
    }
    const names = [];
    for await (const e of Deno.readDir(cwd)) names.push(e.name);
    for await (const e of Deno.readDir(join(cwd, "model"))) names.push(e.name);
    assertEquals(
      names.filter((n) => n.startsWith(".recsimu-tmp") || n.startsWith(".recsimu-old")),
      [],
    );
  },
});
