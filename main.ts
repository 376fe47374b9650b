/**
 * `recsimu` command line: parses the command name and dispatches; nothing else.
 * Exit codes: 0 success, 2 user error (bad flags, bad files), 1 bug.
 * @module
 */
import { UserError } from "./lib/errors.ts";

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
  demo: {
    summary: "synth -> train -> eval on an embedded default",
    load: () => import("./lib/commands/demo.ts"),
  },
};

const USAGE = `recsimu — a GAN-learned user simulator for RL recommenders

Usage: recsimu <command> [flags]     (recsimu <command> --help for its flags)

Commands:
${Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`).join("\n")}`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    console.log("recsimu 0.1.0");
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
