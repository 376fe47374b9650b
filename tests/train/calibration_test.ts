/**
 * Calibrated probabilities (`--calibrate temperature-bias` and `temperature`; `auto`, the
 * default, picks one by the split): a temperature (and a bias per label) fitted on the
 * validation tuples after training, stored in the checkpoint and applied by the simulator and
 * the test metrics; checkpoints without it answer at T = 1 and resume; `--calibrate none`
 * trains the same weights and reports D as trained.
 * @module
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { initBackend } from "../../lib/tf.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { finished, trainRecSimu } from "../../lib/train/loop.ts";
import {
  evaluateModel,
  fitModelCalibration,
  fitModelTemperature,
} from "../../lib/eval/evaluate.ts";
import { Simulator } from "../../lib/sim/simulator.ts";
import { loadCheckpoint, updateCheckpointFile } from "../../lib/train/checkpoint.ts";
import { CheckpointError, UserError } from "../../lib/errors.ts";
import type { FeedbackRequest } from "../../lib/sim/types.ts";
import type { Dataset } from "../../lib/data/dataset.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { type Calibrate, calibrationMethod, type Split, TRAIN_DEFAULTS } from "../../lib/config.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

const small = synthText({
  seed: 1,
  sessions: 60,
  items: 40,
  categories: 5,
  minLength: 10,
  maxLength: 20,
});

/** Copies the (flat) checkpoint folder `from` to `to`, marker included. */
async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to);
  for await (const e of Deno.readDir(from)) {
    await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

/** Rewrites config.json of the checkpoint in `dir` through `edit` (the marker follows). */
async function editMeta(dir: string, edit: (meta: Record<string, unknown>) => void): Promise<void> {
  const meta = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  edit(meta);
  await updateCheckpointFile(dir, "config.json", JSON.stringify(meta, null, 2));
}

/** One request per test tuple: its N-pair state and its action. */
function testRequests(ds: Dataset, n: number): FeedbackRequest[] {
  return [...ds.test].map((a) => ({
    state: Array.from({ length: n }, (_, t) => ({
      item: ds.items[ds.rowItem[a - n + t]!]!,
      feedback: ds.labels[ds.rowLabel[a - n + t]!]!,
    })),
    action: ds.items[ds.rowItem[a]!]!,
  }));
}

/** softmax(ln p / t + b) of one row of probabilities (b = 0 when absent), written out. */
function manualSoftmax(p: readonly number[], t: number, b?: readonly number[]): number[] {
  const z = p.map((x, k) => Math.log(x) / t + (b?.[k] ?? 0));
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, c) => a + c, 0);
  return e.map((x) => x / s);
}

Deno.test("--calibrate temperature fits a temperature on the validation tuples, keeps it in config.json, and the test metrics and Simulator answers use it", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const out = join(tmp.path, "model");
  const c = tinyConfig({ batch: 64, calibrate: "temperature" });
  const r = finished(await trainRecSimu(ds, c, { quiet: true, out }));
  const cal = r.calibration;
  const T = cal.temperature;
  assertEquals(cal.method, "temperature");
  assert(T !== 1 && T > 0.05 && T < 20, `temperature ${T}`);
  const v = cal.validation!;
  assert(
    v.after.logLoss < v.before.logLoss,
    `validation log-loss ${v.before.logLoss} -> ${v.after.logLoss}`,
  );
  // Fitted on the validation tuples (the same again), not on the test tuples.
  const refit = await fitModelTemperature(r.model, ds, ds.validation);
  assertEquals(refit, { method: "temperature", temperature: T, validation: v });
  assert((await fitModelTemperature(r.model, ds, ds.test)).temperature !== T);
  // The test metrics are the calibrated model's; "before" is D as trained.
  assertEquals(r.test, await evaluateModel(r.model, ds, ds.test, { temperature: T }));
  const raw = await evaluateModel(r.model, ds, ds.test);
  assertEquals(cal.test.before.logLoss, raw.logLoss);
  assertEquals(cal.test.before.auc, raw.auc);
  assertEquals(cal.test.after.logLoss, r.test.logLoss);
  assertEquals(r.test.f1, raw.f1, "a temperature keeps the arg-max, so F1");
  r.model.dispose();
  const ck = await loadCheckpoint(out);
  assertEquals(ck.meta.calibration, { method: "temperature", temperature: T, validation: v });
  assertEquals((ck.metrics as { calibration: unknown }).calibration, cal);

  // The same checkpoint without its calibration answers D as trained; with it, softmax(z / T).
  const uncal = join(tmp.path, "uncalibrated");
  await copyDir(out, uncal);
  await editMeta(uncal, (m) => delete m.calibration);
  const sim = await Simulator.load(out), plain = await Simulator.load(uncal);
  assertEquals(sim.temperature, T);
  assertEquals(plain.temperature, 1);
  assertEquals(sim.describe().calibration, ck.meta.calibration);
  const reqs = testRequests(ds, 5);
  const [a, b] = [await sim.predictArrays(reqs), await plain.predictArrays(reqs)];
  a.forEach((p, i) => {
    assertEquals(p.real, b[i]!.real, "D's real-vs-fake score is not scaled");
    manualSoftmax(b[i]!.probs, T).forEach((x, k) => assertAlmostEquals(p.probs[k]!, x, 1e-12));
  });
  const named = await sim.predict(reqs.slice(0, 1));
  assertEquals(Object.values(named[0]!.probs), a[0]!.probs);
  sim.dispose();
  plain.dispose();

  // A temperature that is not a positive number is refused when loading.
  await editMeta(uncal, (m) => m.calibration = { method: "temperature", temperature: -1 });
  await assertRejects(() => Simulator.load(uncal), CheckpointError, "calibration must be");
});

Deno.test("--calibrate temperature-bias fits T and a bias per label on the validation tuples, fits them at least as well as T alone, and the test metrics and Simulator answers use both", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const out = join(tmp.path, "model");
  const r = finished(
    await trainRecSimu(ds, tinyConfig({ batch: 64, calibrate: "temperature-bias" }), {
      quiet: true,
      out,
    }),
  );
  const cal = r.calibration;
  assertEquals(cal.method, "temperature-bias");
  const { temperature: T, bias } = cal;
  assertEquals(bias!.length, ds.labels.length);
  assertEquals(bias![0], 0);
  assert(bias!.some((b) => b !== 0), `bias ${bias}`);
  const v = cal.validation!;
  const refit = await fitModelCalibration(r.model, ds, ds.validation, "temperature-bias");
  assertEquals(refit, { method: "temperature-bias", temperature: T, bias, validation: v });
  // T alone is the special case b = 0: the joint fit's validation log-loss is at most its.
  const alone = await fitModelTemperature(r.model, ds, ds.validation);
  assert(
    v.after.logLoss <= alone.validation.after.logLoss + 1e-9,
    `temperature-bias ${v.after.logLoss} > temperature ${alone.validation.after.logLoss}`,
  );
  assertEquals(r.test, await evaluateModel(r.model, ds, ds.test, { temperature: T, bias }));
  r.model.dispose();
  assertEquals((await loadCheckpoint(out)).meta.calibration, {
    method: "temperature-bias",
    temperature: T,
    bias,
    validation: v,
  });

  const uncal = join(tmp.path, "uncalibrated");
  await copyDir(out, uncal);
  await editMeta(uncal, (m) => delete m.calibration);
  const sim = await Simulator.load(out), plain = await Simulator.load(uncal);
  assertEquals(sim.calibration, { temperature: T, bias });
  const reqs = testRequests(ds, 5);
  const [a, b] = [await sim.predictArrays(reqs), await plain.predictArrays(reqs)];
  a.forEach((p, i) => {
    manualSoftmax(b[i]!.probs, T, bias!).forEach((x, k) =>
      assertAlmostEquals(p.probs[k]!, x, 1e-12)
    );
  });
  sim.dispose();
  plain.dispose();

  // A bias of the wrong length, or one with a temperature-only method, is refused when loading.
  await editMeta(
    uncal,
    (m) => m.calibration = { method: "temperature-bias", temperature: 1, bias: [0] },
  );
  await assertRejects(() => Simulator.load(uncal), CheckpointError, "calibration must be");
  await editMeta(
    uncal,
    (m) => m.calibration = { method: "temperature", temperature: 1, bias: [0, 0, 0] },
  );
  await assertRejects(() => Simulator.load(uncal), CheckpointError, "calibration must be");
});

Deno.test("--calibrate auto fits a bias only when the validation tuples are whole sessions of their own users", () => {
  const at = (calibrate: Calibrate, split: Split) => calibrationMethod({ calibrate, split });
  assertEquals(at("auto", "users"), "temperature-bias");
  assertEquals(at("auto", "last"), "temperature");
  assertEquals(at("temperature-bias", "last"), "temperature-bias");
  assertEquals(at("temperature", "users"), "temperature");
  assertEquals(at("none", "users"), undefined);
  assertEquals(TRAIN_DEFAULTS.calibrate, "auto");
});

Deno.test("a checkpoint from before calibration (no calibrate, no calibration) loads with T = 1 and resumes to the uninterrupted run's results", async () => {
  await initBackend("cpu", { quiet: true });
  await using tmp = await tempDir();
  const ds = await datasetFromText(small, "small.csv", { stateLength: 5, minCount: 1 });
  const c = tinyConfig({ batch: 64, epochs: 2 });
  const full = finished(await trainRecSimu(ds, c, { quiet: true }));
  full.model.dispose();
  const out = join(tmp.path, "model");
  let steps = 0;
  const part = await trainRecSimu(ds, c, { quiet: true, out, shouldStop: () => ++steps === 17 });
  assert(part.stopped);
  part.model.dispose();
  await editMeta(out, (m) => {
    delete (m.config as Record<string, unknown>).calibrate;
    delete m.calibration;
  });
  const old = await Simulator.load(out);
  assertEquals(old.temperature, 1);
  old.dispose();
  // Other flags still may not change.
  await assertRejects(
    () => trainRecSimu(ds, { ...c, hidden: 8 }, { quiet: true, out, resume: true }),
    UserError,
    "flags differ",
  );
  const resumed = finished(await trainRecSimu(ds, c, { quiet: true, out, resume: true }));
  assertEquals(resumed.test, full.test);
  assertEquals(resumed.calibration, full.calibration);
  resumed.model.dispose();
  assertEquals(
    (await loadCheckpoint(out)).meta.calibration?.temperature,
    full.calibration.temperature,
  );

  // --calibrate may change on --resume: the finished run re-evaluated without a temperature.
  const none = { ...c, calibrate: "none" as const };
  const plain = finished(await trainRecSimu(ds, none, { quiet: true, out, resume: true }));
  assertEquals(plain.calibration.method, "none");
  assertEquals(plain.test.logLoss, full.calibration.test.before.logLoss);
  plain.model.dispose();
  assertEquals((await loadCheckpoint(out)).meta.calibration, undefined);
});

Deno.test("train --calibrate none trains the same weights and reports D as trained; the default reports before/after, eval repeats it; a bad value exits 2", async () => {
  await using tmp = await tempDir();
  const log = join(tmp.path, "log.csv");
  await Deno.writeTextFile(log, synthText({ seed: 2, sessions: 80, minLength: 8 }));
  const flags = [...TINY_FLAGS, "--epochs", "1", "--seed", "3", "--quiet"];
  const train = async (name: string, extra: string[]) => {
    const r = await runRecsimu([
      "train",
      "--data",
      log,
      "--out",
      join(tmp.path, name),
      ...flags,
      ...extra,
    ]);
    assertEquals(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const none = await train("none", ["--calibrate", "none"]);
  const cal = await train("cal", []);
  assertEquals(none.calibration.method, "none");
  assertEquals(none.calibration.temperature, 1);
  assertEquals(none.calibration.test.before, none.calibration.test.after);
  assertEquals(none.calibration.test.before.logLoss, none.recsimu.logLoss);
  const noneMeta = JSON.parse(await Deno.readTextFile(join(tmp.path, "none", "config.json")));
  assertEquals(noneMeta.calibration, undefined);
  assertEquals(noneMeta.config.calibrate, "none");
  // Calibration comes after training: the weights are the same bytes.
  assertEquals(
    await Deno.readFile(join(tmp.path, "cal", "weights.bin")),
    await Deno.readFile(join(tmp.path, "none", "weights.bin")),
  );
  const c = cal.calibration;
  assertEquals(c.method, "temperature", "auto with --split last: T alone");
  assertEquals(c.bias, undefined);
  assertEquals(c.test.before, none.calibration.test.after, "before is the uncalibrated model");
  assertEquals(c.test.after.logLoss, cal.recsimu.logLoss);
  assert(c.validation.after.logLoss <= c.validation.before.logLoss);
  const meta = JSON.parse(await Deno.readTextFile(join(tmp.path, "cal", "config.json")));
  assertEquals(meta.config.calibrate, "auto");
  assertEquals(meta.calibration, {
    method: "temperature",
    temperature: c.temperature,
    validation: c.validation,
  });

  const ev = await runRecsimu([
    "eval",
    "--model",
    join(tmp.path, "cal"),
    "--backend",
    "cpu",
    "--quiet",
  ]);
  assertEquals(ev.code, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  assertEquals(e.calibration, c);
  assertEquals(e.recsimu, cal.recsimu);

  const bad = await runRecsimu([
    "train",
    "--data",
    log,
    "--out",
    join(tmp.path, "bad"),
    ...flags,
    "--calibrate",
    "platt",
  ]);
  assertEquals(bad.code, 2);
  assertEquals(
    bad.stderr.trim(),
    "recsimu train: calibrate must be auto, none, temperature or temperature-bias, got platt",
  );
});
