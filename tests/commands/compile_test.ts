/**
 * `deno task compile` builds the single binary, which must find its WASM files inside itself.
 * `deno compile` needs the `denort` runtime: it is downloaded on first use (impossible on
 * air-gapped machines) or taken from DENORT_BIN. Without one at hand the binary test is skipped —
 * visibly, with the reason — never faked; the second test checks what tools/compile.ts says and
 * cleans up when no runtime can be had.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { TINY_MODEL_FLAGS } from "../_cli.ts";

const root = new URL("../..", import.meta.url).pathname;

/** The `compile` task's command line (`deno run -A tools/compile.ts`), without `deno`. */
function compileTask(): string[] {
  const task = JSON.parse(Deno.readTextFileSync(join(root, "deno.json"))).tasks.compile as string;
  assert(task.includes("tools/compile.ts"), task);
  return task.split(/\s+/).slice(1);
}

const denort = Deno.env.get("DENORT_BIN");
const haveRuntime = denort !== undefined && (await Deno.stat(denort).then(() => true, () => false));
if (!haveRuntime) {
  console.error(
    "compile_test: skipped the binary test — no denort runtime (set DENORT_BIN to a denort binary of this Deno version)",
  );
}

Deno.test({
  name: "the compiled binary trains and evaluates with the WASM backend from its embedded files",
  ignore: !haveRuntime,
  async fn() {
    await using tmp = await tempDir();
    const bin = join(tmp.path, "recsimu");
    // The `compile` task's script, with the output redirected.
    const c = await new Deno.Command(Deno.execPath(), {
      args: [...compileTask(), "--output", bin],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(c.code, 0, new TextDecoder().decode(c.stderr));
    const log = join(tmp.path, "log.csv");
    await Deno.writeTextFile(
      log,
      synthText({ seed: 1, sessions: 60, items: 30, categories: 4, minLength: 10, maxLength: 15 }),
    );
    // Run from another directory so that nothing outside the binary can be found.
    const t = await new Deno.Command(bin, {
      args: [
        "train",
        "--data",
        log,
        "--out",
        join(tmp.path, "m"),
        "--backend",
        "wasm",
        ...TINY_MODEL_FLAGS,
        "--epochs",
        "1",
      ],
      cwd: tmp.path,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(t.stderr);
    assertEquals(t.code, 0, err);
    assert(err.includes("backend: wasm"), err);
  },
});

Deno.test("deno task compile without a denort runtime exits 2 with a one-line hint and removes the output folders it created", async () => {
  await using tmp = await tempDir();
  // An existing folder with a user's file in it: kept, file and all.
  const mine = join(tmp.path, "mine");
  await Deno.mkdir(mine);
  await Deno.writeTextFile(join(mine, "notes.txt"), "keep me\n");
  const output = join(mine, "dist", "bin", "recsimu");
  // No runtime to be had: no DENORT_BIN, an empty Deno cache (no downloaded denort), and every
  // download sent to a closed port.
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    DENO_DIR: join(tmp.path, "deno_dir"),
    HTTPS_PROXY: "http://127.0.0.1:9",
    HTTP_PROXY: "http://127.0.0.1:9",
    NO_PROXY: "",
    NO_COLOR: "1",
  };
  delete env.DENORT_BIN;
  delete env.https_proxy;
  delete env.http_proxy;
  delete env.no_proxy;
  const c = await new Deno.Command(Deno.execPath(), {
    args: [...compileTask(), "--output", output],
    cwd: root,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(c.stderr);
  assertEquals(c.code, 2, err);
  const lines = err.trimEnd().split("\n");
  assertEquals(lines.length, 1, err);
  assert(lines[0]!.startsWith("compile: could not download the denort runtime"), err);
  assert(lines[0]!.includes("DENORT_BIN") && lines[0]!.includes("denort-"), err);
  const left = [];
  for await (const e of Deno.readDir(mine)) left.push(e.name);
  assertEquals(left, ["notes.txt"]);
  assertEquals(await Deno.readTextFile(join(mine, "notes.txt")), "keep me\n");
});
