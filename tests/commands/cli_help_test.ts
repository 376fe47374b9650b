/**
 * Every command's --help: one layout (Usage line, a Flags section, descriptions in one column),
 * `-h, --help` listed, `--quiet` on every command that prints progress.
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { COMMAND_NAMES, runRecsimu } from "../_cli.ts";
import { DEFAULT_POSITIVE, TRAIN_DEFAULTS } from "../../lib/config.ts";
import { BACKENDS } from "../../lib/tf.ts";

const COMMANDS = COMMAND_NAMES;
/** Commands that print progress or summaries on stderr, so they need a way to be quiet. */
const PROGRESS = ["synth", "train", "eval", "experiment", "agent", "fidelity", "demo"];
/** Column (0-based) where every flag's description starts. */
const DESCRIPTION_COLUMN = 25;

Deno.test("every command's --help has one layout and lists -h/--help (and --quiet where it prints progress)", async () => {
  for (const cmd of COMMANDS) {
    for (const flag of ["--help", "-h"]) {
      const r = await runRecsimu([cmd, flag]);
      assertEquals(r.code, 0, `${cmd} ${flag}: ${r.stderr}`);
      const help = r.stdout;
      assert(help.startsWith(`Usage: recsimu ${cmd}`), `${cmd}: usage line\n${help}`);
      assert(/^Flags:$/m.test(help), `${cmd}: no "Flags:" section\n${help}`);
      assert(/^ {2}-h, --help {2,}show this help$/m.test(help), `${cmd}: -h, --help missing`);
      if (PROGRESS.includes(cmd)) assert(/^ {2}--quiet /m.test(help), `${cmd}: --quiet missing`);
      const lines = help.split("\n");
      for (const [i, line] of lines.entries()) {
        if (!/^ {2}-/.test(line)) continue;
        // A flag too long for the column stands alone, its description on the next line there.
        if (/^ {2}-\S+ \S+$/.test(line) && line.length >= DESCRIPTION_COLUMN) {
          const next = lines[i + 1] ?? "";
          assertEquals(/^ +/.exec(next)?.[0].length, DESCRIPTION_COLUMN, `${cmd}: after "${line}"`);
          continue;
        }
        const m = /^( {2}-\S+(?:, --\S+)?(?: [^ ]+)?)( +)\S/.exec(line);
        assert(m, `${cmd}: flag line without a description: "${line}"`);
        assertEquals(
          m[1]!.length + m[2]!.length,
          DESCRIPTION_COLUMN,
          `${cmd}: description of "${m[1]!.trim()}" starts at column ${
            m[1]!.length + m[2]!.length
          }, not ${DESCRIPTION_COLUMN}`,
        );
      }
    }
  }
});

Deno.test("the --backend line of every command that has one lists BACKENDS, auto the default", async () => {
  const listed = `${BACKENDS.join(" | ")} (default auto)`;
  for (
    const cmd of ["train", "eval", "predict", "serve", "experiment", "agent", "fidelity", "demo"]
  ) {
    const help = (await runRecsimu([cmd, "--help"])).stdout;
    const line = help.split("\n").find((l) => l.startsWith("  --backend B"));
    assert(line?.endsWith(listed), `${cmd}: "${line}" should end with "${listed}"`);
  }
});

Deno.test("train --help shows the positive labels of DEFAULT_POSITIVE, the one default", async () => {
  assertEquals(TRAIN_DEFAULTS.positive, [...DEFAULT_POSITIVE]);
  const help = (await runRecsimu(["train", "--help"])).stdout;
  assert(help.includes(`(default ${DEFAULT_POSITIVE.join(",")})`), help);
});
