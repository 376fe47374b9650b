/**
 * Flag parsing shared by the commands: `node:util` parseArgs in strict mode, with its errors
 * turned into {@link UserError}s and typed number helpers.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../errors.ts";
import { REAL_SCORES, type RealScoreMode } from "../sim/types.ts";
import { USER_MODEL_REQUESTS, type UserModelRequest } from "../sim/user_model.ts";

/** Option specs as `node:util` parseArgs takes them. */
export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** The help line every command's usage ends with. */
export const HELP_LINE = "  -h, --help             show this help";

/**
 * `--flag -1` as `--flag=-1`: parseArgs takes a value that starts with a dash for a flag, and
 * its message about it is three lines of text. Negative numbers are values (and get the
 * flag's own range check).
 */
function joinNegativeValues(argv: string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-(\d|\.\d)/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parses `argv` for `command`; unknown flags and positionals are user errors.
 * Adds `--help` (-h) automatically; when given, prints `usage` (with the help line) and
 * returns undefined.
 */
export function parseFlags<T extends FlagSpec>(
  command: string,
  argv: string[],
  options: T,
  usage: string,
): Record<keyof T, string | boolean | undefined> | undefined {
  let parsed: { values: Record<string, string | boolean | undefined> };
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }) as unknown as { values: Record<string, string | boolean | undefined> };
  } catch (e) {
    // parseArgs' messages can span lines; the first says what is wrong.
    const first = (e as Error).message.split("\n")[0]!.trim();
    throw new UserError(`${first} (see recsimu ${command} --help)`);
  }
  if (parsed.values.help) {
    console.log(usage.includes("--help") ? usage : `${usage}\n${HELP_LINE}`);
    return undefined;
  }
  return parsed.values as Record<keyof T, string | boolean | undefined>;
}

/** A number flag: finite, optionally an integer and within [min, max]. */
export function numFlag(
  name: string,
  value: string | boolean | undefined,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(v)) {
    throw new UserError(`--${name}: expected a number, got "${value}"`);
  }
  if (opts.integer && !Number.isInteger(v)) {
    throw new UserError(`--${name}: expected an integer, got "${value}"`);
  }
  if (opts.min !== undefined && v < opts.min) {
    throw new UserError(`--${name}: must be at least ${opts.min}, got ${v}`);
  }
  if (opts.max !== undefined && v > opts.max) {
    throw new UserError(`--${name}: must be at most ${opts.max}, got ${v}`);
  }
  return v;
}

/**
 * Refuses `--support-penalty` > 0 for a checkpoint without a support model (`support.json`,
 * fitted by `recsimu train` since the support guard exists): its answers carry no `support`,
 * so the penalty would silently do nothing.
 */
export function requireSupport(
  sim: { support: unknown },
  model: string,
  supportPenalty: number,
): void {
  if (supportPenalty > 0 && sim.support === undefined) {
    throw new UserError(
      `--support-penalty: the checkpoint in "${model}" has no support model (support.json); ` +
        `train it again with this version of recsimu`,
    );
  }
}

/** The help line of `--user-model`, shared by the commands that load a simulator. */
export const USER_MODEL_HELP =
  `  --user-model M         who answers: auto (default: the one with the lower validation
                         log-loss, recorded by recsimu train), network (the discriminator) or
                         glm (the structured user model train fits beside it, glm.json)`;

/** `--user-model`: auto (default), network or glm. */
export function userModelFlag(value: string | boolean | undefined): UserModelRequest {
  if (value === undefined) return "auto";
  const ok = (USER_MODEL_REQUESTS as readonly unknown[]).includes(value);
  if (!ok) {
    throw new UserError(
      `--user-model: expected one of ${USER_MODEL_REQUESTS.join(", ")}, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as UserModelRequest;
}

/** The help lines of `--real-score`, shared by serve and predict. */
export const REAL_SCORE_HELP =
  `  --real-score on|off    off (when the GLM answers): answers carry no real and no
                         ood.low_real, and the discriminator does not run at all, so a batch
                         costs the structured model's features only (default on)`;

/**
 * `--real-score`: on (default) or off, which needs the GLM to answer (refused here for
 * `--user-model network`; for `auto`, once the choice is known).
 */
export function realScoreFlag(
  value: string | boolean | undefined,
  userModel: UserModelRequest,
): RealScoreMode {
  if (value === undefined) return "on";
  if (!(REAL_SCORES as readonly unknown[]).includes(value)) {
    throw new UserError(
      `--real-score: expected one of ${REAL_SCORES.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  if (value === "off" && userModel === "network") {
    throw new UserError(
      "--real-score off needs --user-model glm: the network's answers are the discriminator's",
    );
  }
  return value as RealScoreMode;
}

/** A string flag that must be present. */
export function requireFlag(
  command: string,
  name: string,
  value: string | boolean | undefined,
): string {
  if (typeof value !== "string" || value === "") {
    throw new UserError(`--${name} is required (see recsimu ${command} --help)`);
  }
  return value;
}
