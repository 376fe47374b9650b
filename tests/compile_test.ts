/**
 * `deno task compile` builds the single binary, which must find its WASM files inside itself.
 * `deno compile` needs the `denort` runtime: it is downloaded on first use (impossible on
 * air-gapped machines) or taken from DENORT_BIN. Without one at hand the test is skipped —
 * visibly, with the reason — never faked.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./_assert.ts";
import { synthText, tempDir } from "./_helpers.ts";

const root = new URL("..", import.meta.url).pathname;
const denort = Deno.env.get("DENORT_BIN");
const haveRuntime = denort !== undefined && (await Deno.stat(denort).then(() => true, () => false));
if (!haveRuntime) {
  console.error(
    "compile_test: skipped — no denort runtime (set DENORT_BIN to a denort binary of this Deno version)",
  );
}

Deno.test({
  name: "the compiled binary trains and evaluates with the WASM backend from its embedded files",
  ignore: !haveRuntime,
  async fn() {
    await using tmp = await tempDir();
    const bin = join(tmp.path, "recsimu");
    // The `compile` task's own command line, with the output redirected.
    const task = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))).tasks
      .compile as string;
    const args = task.replace("--output dist/recsimu", `--output ${bin}`).split(/\s+/).slice(1);
    const c = await new Deno.Command(Deno.execPath(), {
      args,
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
        "--state-length",
        "5",
        "--min-count",
        "1",
        "--hidden",
        "8",
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
