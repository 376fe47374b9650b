/**
 * `deno task compile`: builds the single `recsimu` binary with `deno compile`, the three tfjs
 * WASM files embedded.
 *
 * `deno compile` needs the `denort` runtime of this Deno version: it downloads it once from
 * dl.deno.land into Deno's cache, or takes the file DENORT_BIN names. When it cannot get one
 * (an offline machine), this script removes the output folders the attempt created (only
 * those, and only while empty) and says in one line how to bring a `denort` to the machine.
 *
 * Usage: `deno run -A tools/compile.ts [--output dist/recsimu]`
 * Exit codes: 0 built, 2 no runtime or bad flags (one line on stderr), else `deno compile`'s.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** Repository root: `deno compile` runs there, so the `--include` paths resolve. */
const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The WASM builds tfjs-backend-wasm loads at run time; the binary must carry them. */
const WASM_FILES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
].map((f) => `node_modules/@tensorflow/tfjs-backend-wasm/dist/${f}`);

/** Worker modules: `deno compile` bundles a worker's code only when told to. */
const WORKERS = ["lib/sim/predict_worker.ts"];

/** `deno compile`'s arguments for a binary written to `output`. */
function compileArgs(output: string): string[] {
  return [
    "compile",
    "-A",
    ...[...WASM_FILES, ...WORKERS].flatMap((f) => ["--include", f]),
    "--output",
    output,
    "main.ts",
  ];
}

/** The folders above `path` that do not exist yet, deepest first. */
async function missingParents(path: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = dirname(resolve(path)); dir !== dirname(dir); dir = dirname(dir)) {
    if (await exists(dir)) break;
    missing.push(dir);
  }
  return missing;
}

/**
 * Removes the folders in `dirs` (deepest first) while they are empty; stops at the first one
 * that holds anything, so no file is ever deleted.
 */
async function removeIfEmpty(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    try {
      await Deno.remove(dir); // not recursive: refuses a non-empty folder
    } catch {
      return;
    }
  }
}

/** True when `deno compile`'s error output says the runtime could not be had. */
function isMissingRuntime(stderr: string): boolean {
  return /denort|Setting up base binary|dl\.deno\.land/i.test(stderr);
}

/** The one-line advice for a machine without a `denort` runtime. */
function runtimeHint(denoDir: string): string {
  const version = Deno.version.deno;
  const zip = join(denoDir, "dl", "release", `v${version}`, `denort-${Deno.build.target}.zip`);
  const bin = Deno.env.get("DENORT_BIN");
  const why = bin === undefined
    ? "could not download the denort runtime"
    : `DENORT_BIN="${bin}" is not a readable denort binary`;
  return `compile: ${why}; on an offline machine copy "${zip}" from a machine where one online ` +
    `"deno task compile" succeeded, or set DENORT_BIN to a denort binary of Deno ${version}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Deno's cache folder, where `deno compile` keeps the downloaded runtime. */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  try {
    return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
  } catch {
    return Deno.env.get("DENO_DIR") ?? "$DENO_DIR";
  }
}

async function main(argv: string[]): Promise<number> {
  let output: string;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { output: { type: "string", default: "dist/recsimu" } },
      strict: true,
      allowPositionals: false,
    });
    output = resolve(Deno.cwd(), values.output);
  } catch (e) {
    console.error(`compile: ${(e as Error).message} (usage: tools/compile.ts [--output PATH])`);
    return 2;
  }
  const created = await missingParents(output);
  // Ctrl-C reaches `deno compile` too (same process group); stay alive to clean up after it.
  const onInt = () => {};
  Deno.addSignalListener("SIGINT", onInt);
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(output),
      cwd: ROOT,
      stdout: "inherit",
      stderr: "piped",
    }).output();
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
  }
  const err = new TextDecoder().decode(result.stderr);
  if (result.success) {
    if (err) console.error(err.trimEnd());
    return 0;
  }
  await removeIfEmpty(created);
  if (isMissingRuntime(err)) {
    console.error(runtimeHint(await denoDir()));
    return 2;
  }
  console.error(err.trimEnd());
  return result.code === 0 ? 1 : result.code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
