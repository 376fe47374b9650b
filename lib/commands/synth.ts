/**
 * `recsimu synth`: flags -> {@link SynthOptions} -> DIR/log.csv and DIR/synth.json.
 * @module
 */
import { join } from "node:path";
import { writeDirAtomic, writeFileSynced } from "../atomic.ts";
import { claimOutputDir, entryOf, outputPath } from "../output.ts";
import {
  SYNTH_DEFAULTS,
  SYNTH_LABELS,
  SYNTH_LIMITS,
  SYNTH_VERSION,
  type SynthOptions,
  writeSynthLog,
} from "../data/synth.ts";
import { UserError } from "../errors.ts";
import { numFlag, parseFlags, requireFlag } from "./_flags.ts";
import { runSynthTruth } from "./_synth_truth.ts";

const D = SYNTH_DEFAULTS;
const USAGE = `Usage: recsimu synth --out DIR [flags]

Writes a seeded synthetic session log to DIR/log.csv and its description to DIR/synth.json;
with --truth, a known-truth world (a log and the truth a simulator is judged against).

Flags:
  --out DIR              output folder (required): new or empty, or with --overwrite a
                         previous synth output
  --overwrite            replace a previous synth output in --out
  --quiet                no summary line on stderr
  --seed N               root seed (default ${D.seed})
  --sessions N           number of sessions (default ${D.sessions})
  --items V              number of items (default ${D.items})
  --categories C         number of item categories, at most V (default ${D.categories})
  --min-length L         shortest session, in rows (default ${D.minLength}, or --max-length if less)
  --max-length L         longest session, in rows (default ${D.maxLength}, or --min-length if more)
  --truth                write a known-truth world instead (docs/truth_worlds.md): DIR/log.csv
                         and DIR/truth/ (true probabilities, start states, policy values); the
                         size flags above then default to the world's (3000 or 5000 items,
                         30 or 50 categories, 8000 sessions of 10-50 rows)
  --preset P             with --truth: base | hard (default base)`;

const FLAGS = {
  out: { type: "string" },
  overwrite: { type: "boolean" },
  quiet: { type: "boolean" },
  seed: { type: "string" },
  sessions: { type: "string" },
  items: { type: "string" },
  categories: { type: "string" },
  "min-length": { type: "string" },
  "max-length": { type: "string" },
  truth: { type: "boolean" },
  preset: { type: "string" },
} as const;

/** Runs `recsimu synth` with the arguments after the command name. */
export async function run(argv: string[]): Promise<void> {
  const f = parseFlags("synth", argv, FLAGS, USAGE);
  if (f === undefined) return;
  const outGiven = requireFlag("synth", "out", f.out);
  if (f.truth) return await runSynthTruth(f, outGiven);
  if (f.preset !== undefined) throw new UserError("--preset: only with --truth");
  const integer = true;
  const items = numFlag("items", f.items, D.items, { integer, min: 1, max: SYNTH_LIMITS.items });
  // A length given alone moves the other's default so that the pair stays valid.
  const length = (name: string, value: string | boolean | undefined) =>
    numFlag(name, value, NaN, { integer, min: 1, max: SYNTH_LIMITS.length });
  const minGiven = length("min-length", f["min-length"]);
  const maxGiven = length("max-length", f["max-length"]);
  const minLength = Number.isNaN(minGiven) ? Math.min(D.minLength, maxGiven || Infinity) : minGiven;
  const maxLength = Number.isNaN(maxGiven) ? Math.max(D.maxLength, minLength) : maxGiven;
  const options: SynthOptions = {
    seed: numFlag("seed", f.seed, D.seed, { integer, min: 0, max: 2 ** 31 - 1 }),
    sessions: numFlag("sessions", f.sessions, D.sessions, {
      integer,
      min: 1,
      max: SYNTH_LIMITS.sessions,
    }),
    items,
    categories: numFlag("categories", f.categories, Math.min(D.categories, items), {
      integer,
      min: 1,
      max: Math.min(SYNTH_LIMITS.categories, items),
    }),
    minLength,
    maxLength,
  };
  if (options.maxLength < options.minLength) {
    throw new UserError(
      `--max-length (${options.maxLength}) must be at least --min-length (${options.minLength})`,
    );
  }
  const out = outputPath("--out", outGiven);
  await claimOutputDir(out, { flag: "--out", kind: "synth", overwrite: !!f.overwrite });
  const started = performance.now();
  let result: Awaited<ReturnType<typeof writeSynthLog>> | undefined;
  await writeDirAtomic(out, "synth", async (tmp) => {
    result = await writeSynthLog(join(tmp, "log.csv"), options);
    const description = new TextEncoder().encode(
      JSON.stringify(
        {
          generator: "recsimu-synth",
          version: SYNTH_VERSION,
          seed: options.seed,
          options,
          labels: SYNTH_LABELS,
          positive: SYNTH_LABELS.map((l) => l !== "skip"),
          rows: result.rows,
          sessions: result.sessions,
          positiveRate: result.positiveRate,
        },
        null,
        2,
      ) + "\n",
    );
    await writeFileSynced(join(tmp, "synth.json"), description);
    return { "log.csv": null, "synth.json": entryOf(description) };
  });
  const seconds = (performance.now() - started) / 1000;
  if (!f.quiet) {
    console.error(
      `synth: wrote ${result!.sessions} sessions, ${result!.rows} rows (positive ${
        (100 * result!.positiveRate).toFixed(1)
      }%) to ${join(outGiven, "log.csv")} in ${seconds.toFixed(1)} s`,
    );
  }
}
