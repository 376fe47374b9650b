/**
 * The top-level help and the version: one version string (lib/version.ts) behind `--version`,
 * the OpenAPI document, checkpoints and deno.json; a help that tells the truth about the
 * environment and the exit codes.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { COMMAND_NAMES, ROOT, runRecsimu } from "../_cli.ts";
import { RECSIMU_VERSION } from "../../lib/version.ts";
import { RECSIMU_VERSION as CHECKPOINT_VERSION } from "../../lib/train/checkpoint.ts";
import { openApiDocument } from "../../lib/serve/openapi.ts";
import { defaultThreads } from "../../lib/tf.ts";

Deno.test("deno.json's version, checkpoints and the OpenAPI document use lib/version.ts's RECSIMU_VERSION", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  assertEquals(config.version, RECSIMU_VERSION);
  assertEquals(CHECKPOINT_VERSION, RECSIMU_VERSION);
  const doc = openApiDocument({
    labels: ["neg", "pos"],
    maxBatch: 8,
    maxStateLength: 8,
    maxStepsDefault: 8,
    auth: false,
  });
  assertEquals((doc.info as { version: string }).version, RECSIMU_VERSION);
});

Deno.test("recsimu --version prints the version from lib/version.ts and exits 0", async () => {
  const r = await runRecsimu(["--version"]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, `recsimu ${RECSIMU_VERSION}\n`);
});

Deno.test("recsimu --help and -h list the options, RECSIMU_THREADS with its real default and the exit codes", async () => {
  // The default the help states is the one the code applies.
  const saved = Deno.env.get("RECSIMU_THREADS");
  Deno.env.delete("RECSIMU_THREADS");
  try {
    assertEquals(defaultThreads(), 1);
  } finally {
    if (saved !== undefined) Deno.env.set("RECSIMU_THREADS", saved);
  }
  for (const flag of ["--help", "-h"]) {
    const r = await runRecsimu([flag]);
    assertEquals(r.code, 0, r.stderr);
    const help = r.stdout;
    for (const cmd of COMMAND_NAMES) {
      assert(new RegExp(`^  ${cmd} `, "m").test(help), `${flag}: command ${cmd} missing:\n${help}`);
    }
    assert(/^\s+-h, --help\s/m.test(help), help);
    assert(/^\s+--version\s/m.test(help), help);
    assert(/^\s+RECSIMU_THREADS\s.*\(default 1[;)]/m.test(help), help);
    assert(/^Exit codes:/m.test(help), help);
    for (const code of ["0", "1", "2"]) {
      assert(new RegExp(`^\\s+${code}\\s+\\S`, "m").test(help), `exit code ${code}:\n${help}`);
    }
  }
});

Deno.test("recsimu without a command prints the help on stderr and exits 2", async () => {
  const r = await runRecsimu([]);
  assertEquals(r.code, 2);
  assertEquals(r.stdout, "");
  assert(r.stderr.includes("Usage: recsimu <command>"), r.stderr);
});
