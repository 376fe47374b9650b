/**
 * `recsimu synth --truth`: writes a known-truth world (`lib/data/truth/`, docs/truth_worlds.md)
 * into DIR: log.csv and truth/. The size flags of `synth` map onto the world's options; a flag
 * not given keeps the preset's or the writer's default.
 * @module
 */
import { writeDirAtomic } from "../atomic.ts";
import { claimOutputDir, outputPath } from "../output.ts";
import { UserError } from "../errors.ts";
import {
  TRUTH_SIZE_DEFAULTS,
  TRUTH_SIZE_LIMITS,
  truthSizes,
  type TruthWriteOptions,
  type TruthWriteResult,
  writeTruthWorld,
} from "../data/truth/write.ts";
import {
  type PresetName,
  TRUTH_LIMITS,
  TRUTH_PRESET_NAMES,
  truthParams,
} from "../data/truth/world.ts";
import { numFlag } from "./_flags.ts";

/** The flags `synth --truth` reads (as parsed by `synth`). */
export interface TruthFlags {
  overwrite?: string | boolean;
  quiet?: string | boolean;
  preset?: string | boolean;
  seed?: string | boolean;
  sessions?: string | boolean;
  items?: string | boolean;
  categories?: string | boolean;
  "min-length"?: string | boolean;
  "max-length"?: string | boolean;
}

/** Flag of each option the library may name in a RangeError. */
const FLAG_OF: Record<string, string> = {
  preset: "--preset",
  seed: "--seed",
  sessions: "--sessions",
  items: "--items",
  categories: "--categories",
  minLength: "--min-length",
  maxLength: "--max-length",
};

/** A library RangeError as a one-line UserError that names the flag where there is one. */
function flagError(e: RangeError): UserError {
  const text = e.message.replace(/^Cannot (build|write) a truth world: /, "");
  const field = /^(\w+) /.exec(text)?.[1];
  const flag = field === undefined ? undefined : FLAG_OF[field];
  return new UserError(
    flag ? `${flag}: ${text.slice(field!.length + 1)}` : `--truth: ${text}`,
  );
}

/** Flags -> the writer's options (only the flags given; the rest stay defaults). */
export function truthOptions(f: TruthFlags): TruthWriteOptions {
  const preset = f.preset === undefined ? "base" : String(f.preset);
  if (!(TRUTH_PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new UserError(
      `--preset: expected ${TRUTH_PRESET_NAMES.join(" or ")}, got ${JSON.stringify(preset)}`,
    );
  }
  const integer = true;
  const given = (name: keyof TruthFlags, min: number, max: number) =>
    f[name] === undefined ? undefined : numFlag(name, f[name], NaN, { integer, min, max });
  const items = given("items", 1, TRUTH_LIMITS.items);
  const categories = given("categories", 1, TRUTH_LIMITS.categories);
  // A length given alone moves the other's default so that the pair stays valid (as in synth).
  let minLength = given("min-length", 1, TRUTH_SIZE_LIMITS.length);
  let maxLength = given("max-length", 1, TRUTH_SIZE_LIMITS.length);
  if (minLength !== undefined && maxLength === undefined) {
    maxLength = Math.max(TRUTH_SIZE_DEFAULTS.maxLength, minLength);
  }
  if (maxLength !== undefined && minLength === undefined) {
    minLength = Math.min(TRUTH_SIZE_DEFAULTS.minLength, maxLength);
  }
  const params: NonNullable<TruthWriteOptions["params"]> = {};
  if (items !== undefined) params.items = items;
  if (categories !== undefined) params.categories = categories;
  const options: TruthWriteOptions = {
    preset: preset as PresetName,
    seed: given("seed", 0, 2 ** 31 - 1) ?? 0,
    params,
  };
  const sessions = given("sessions", 0, TRUTH_SIZE_LIMITS.sessions);
  if (sessions !== undefined) options.sessions = sessions;
  if (minLength !== undefined) options.minLength = minLength;
  if (maxLength !== undefined) options.maxLength = maxLength;
  // Checked before the output is claimed: a bad combination is one line, and nothing is written.
  try {
    truthParams(options);
    truthSizes(options);
  } catch (e) {
    throw e instanceof RangeError ? flagError(e) : e;
  }
  return options;
}

/**
 * Writes the world of `f` into the folder `outGiven` (through writeDirAtomic, kind "truth");
 * prints a summary line on stderr unless quiet.
 */
export async function runSynthTruth(f: TruthFlags, outGiven: string): Promise<void> {
  const options = truthOptions(f);
  const out = outputPath("--out", outGiven);
  await claimOutputDir(out, { flag: "--out", kind: "truth", overwrite: !!f.overwrite });
  const started = performance.now();
  let r: TruthWriteResult | undefined;
  try {
    await writeDirAtomic(out, "truth", async (tmp) => {
      r = await writeTruthWorld(tmp, options);
      return r.files;
    });
  } catch (e) {
    throw e instanceof RangeError ? flagError(e) : e;
  }
  const seconds = (performance.now() - started) / 1000;
  if (!f.quiet) {
    const w = r!.world;
    console.error(
      `synth: wrote a ${w.preset} known-truth world (seed ${w.seed}, ${w.params.items} items): ` +
        `${r!.sizes.sessions} sessions, ${r!.log.n} rows (positive ${
          (100 * r!.log.positiveRate).toFixed(1)
        }%), ${r!.cases.logging.n + r!.cases.random.n} cases, ${r!.policies.length} policies ` +
        `to ${outGiven} in ${seconds.toFixed(1)} s`,
    );
  }
}
