/**
 * Runs the Python package's own tests (python/tests: Gymnasium checks of RecSimuEnv and
 * RecSimuVectorEnv, launch, the examples) with the Python of a virtual environment that has the
 * package installed: `.venv-ci/` (what .ci/run creates) or the interpreter in $RECSIMU_PYTHON.
 * Without one, the test is skipped VISIBLY, with the commands that make one.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SOURCE = `${REPO}python/recsimu`;
const PYTHON = Deno.env.get("RECSIMU_PYTHON") || `${REPO}.venv-ci/bin/python`;
const MAKE_VENV = "python3 -m venv .venv-ci && .venv-ci/bin/pip install ./python";

async function python(args: string[]) {
  const out = await new Deno.Command(PYTHON, {
    args,
    cwd: REPO,
    // No __pycache__ in the source tree; the tests' CLI runs stay on one thread.
    env: { PYTHONDONTWRITEBYTECODE: "1", RECSIMU_THREADS: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Why the package's tests cannot run here, or undefined when they can. */
async function unavailable(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `no Python at ${PYTHON}`;
  const r = await python(["-c", "import recsimu, gymnasium, numpy; print(recsimu.__file__)"])
    .catch((e) => ({ code: -1, stdout: "", stderr: String(e) }));
  if (r.code !== 0) return `${PYTHON} cannot import recsimu: ${r.stderr.trim().split("\n").pop()}`;
  return undefined;
}

const missing = await unavailable();
if (missing !== undefined) {
  console.warn(`python_package_test: SKIPPED — ${missing} (make one: ${MAKE_VENV})`);
}

/** Files of the installed package that differ from python/recsimu (a stale install). */
async function staleFiles(): Promise<string[]> {
  const r = await python(["-c", "import recsimu, os; print(os.path.dirname(recsimu.__file__))"]);
  const installed = r.stdout.trim();
  const stale: string[] = [];
  for await (const entry of Deno.readDir(SOURCE)) {
    if (!entry.isFile || !entry.name.endsWith(".py")) continue;
    const mine = await Deno.readTextFile(`${SOURCE}/${entry.name}`);
    const theirs = await Deno.readTextFile(`${installed}/${entry.name}`).catch(() => undefined);
    if (mine !== theirs) stale.push(entry.name);
  }
  return stale.sort();
}

const NAME = "the Python package passes its tests (gymnasium checks, vector env, launch, examples)";

Deno.test({
  // Ignored tests count in Deno's summary ("1 ignored") and in .ci/run's "skipped".
  name: missing === undefined
    ? NAME
    : `${NAME} — SKIPPED: ${missing}; make it with: ${MAKE_VENV} (or set RECSIMU_PYTHON)`,
  ignore: missing !== undefined,
  fn: async (t) => {
    const stale = await staleFiles();
    assert.deepEqual(
      stale,
      [],
      `the recsimu package in ${PYTHON}'s environment differs from python/recsimu (${
        stale.join(", ")
      }): reinstall it with ${PYTHON} -m pip install ./python`,
    );
    const r = await python(["-m", "unittest", "discover", "-v", "python/tests"]);
    const report = r.stderr; // unittest writes its report on stderr
    assert.equal(r.code, 0, `python -m unittest failed:\n${report.slice(-6000)}`);
    const ran = Number(report.match(/^Ran (\d+) tests? in/m)?.[1] ?? 0);
    assert.ok(ran >= 25, `expected the Python suite (25+ tests), ran ${ran}:\n${report}`);
    // Each Python test skipped (e.g. stable-baselines3 not installed) shows as an ignored step.
    for (const m of report.matchAll(/^(\w+) \(([\w.]+)\) \.\.\. skipped '(.*)'$/gm)) {
      await t.step({ name: `python ${m[2]}: SKIPPED: ${m[3]}`, ignore: true, fn() {} });
    }
  },
});
