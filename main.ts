/**
 * `recsimu` command line: parses the command name and dispatches; nothing else.
 * Exit codes: 0 success, 2 user error (bad flags, bad files), 1 bug.
 * @module
 */
import { UserError } from "./lib/errors.ts";
import { RECSIMU_VERSION } from "./lib/version.ts";

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> };

const COMMANDS: Record<string, Command> = {
  synth: {
    summary: "write a seeded synthetic session log",
    load: () => import("./lib/commands/synth.ts"),
  },
  train: {
    summary: "train a RecSimu simulator on a log",
    load: () => import("./lib/commands/train.ts"),
  },
  eval: {
    summary: "evaluate a trained simulator on the test tuples",
    load: () => import("./lib/commands/eval.ts"),
  },
  predict: {
    summary: "score JSON lines from stdin",
    load: () => import("./lib/commands/predict.ts"),
  },
  serve: {
    summary: "HTTP reward / environment endpoint",
    load: () => import("./lib/commands/serve.ts"),
  },
  experiment: {
    summary: "the paper's experiments (Figures 6-8, Table 1) with a report",
    load: () => import("./lib/commands/experiment.ts"),
  },
  agent: {
    summary: "train a REINFORCE recommender on a simulator",
    load: () => import("./lib/commands/agent.ts"),
  },
  fidelity: {
    summary: "judge a simulator: against a known-truth world, or on held-out users of a log",
    load: () => import("./lib/commands/fidelity.ts"),
  },
  demo: {
    summary: "synth -> train -> eval on an embedded default",
    load: () => import("./lib/commands/demo.ts"),
  },
};

const USAGE = `recsimu ${RECSIMU_VERSION} — a GAN-learned user simulator for RL recommenders

Usage: recsimu <command> [flags]     (recsimu <command> --help for its flags)
       recsimu --version | -h | --help

Commands:
${Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(11)} ${v.summary}`).join("\n")}

Flags:
  -h, --help             show this help
  --version              print the version ("recsimu ${RECSIMU_VERSION}")

Environment:
  RECSIMU_THREADS        threads of the WASM backend (default 1; more speed up training on
                         an idle machine but slow it down when other processes hold the cores)
  RECSIMU_TOKEN          bearer token that "recsimu serve" requires (default: none)

Exit codes:
  0  success
  2  user error: bad flags, bad or missing files, an output that is not the command's own;
     one line "recsimu <command>: <message>" on stderr (also: no command, an unknown one)
  1  a bug: "internal error" and a stack trace on stderr`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage error: the help goes to stderr, like an unknown command's.
    console.error(USAGE);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return 0;
  }
  if (name === "--version") {
    console.log(`recsimu ${RECSIMU_VERSION}`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`recsimu: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    await (await cmd.load()).run(rest);
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`recsimu ${name}: ${e.message}`);
      return 2;
    }
    console.error(`recsimu ${name}: internal error (a bug; please report it):`);
    console.error(e);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
