/**
 * Temperature scaling, temperature with a bias per class, and the expected calibration error as
 * pure functions: the fits recover a known temperature (and bias), leave calibrated logits at
 * T = 1, never raise the log-loss they minimise; ECE against hand-computed values and a direct
 * implementation.
 * @module
 */
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { Rng } from "../../lib/random.ts";
import {
  calibratedLogLoss,
  calibrateScale,
  fitTemperature,
  fitTemperatureBias,
  IDENTITY_CALIBRATION,
  logitsOfProbs,
  TEMPERATURE_RANGE,
  temperatureLogLoss,
  temperatureScale,
} from "../../lib/eval/calibration.ts";
import { expectedCalibrationError } from "../../lib/eval/metrics.ts";

/** softmax(z / t) of one row. */
function softmax(z: readonly number[], t = 1): number[] {
  const m = Math.max(...z.map((x) => x / t));
  const e = z.map((x) => Math.exp(x / t - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** `n` rows of K logits ~ N(0, scale²) and a label drawn from softmax(z / t0) for each. */
function synthetic(
  seed: number,
  n: number,
  k: number,
  t0: number,
  scale = 3,
): { logits: Float64Array; y: Int32Array } {
  const rng = new Rng(seed);
  const logits = new Float64Array(n * k), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => scale * rng.normal());
    logits.set(z, i * k);
    y[i] = rng.categorical(softmax(z, t0));
  }
  return { logits, y };
}

Deno.test("fitTemperature() recovers T0 = 2.5 from labels drawn from softmax(z / 2.5)", () => {
  for (const [seed, k] of [[1, 3], [2, 2], [3, 5]] as const) {
    const { logits, y } = synthetic(seed, 20_000, k, 2.5);
    const t = fitTemperature(logits, k, y);
    assert(Math.abs(t - 2.5) < 0.1, `seed ${seed}, K ${k}: fitted ${t}, expected ≈ 2.5`);
  }
});

Deno.test("fitTemperature() leaves calibrated logits at T ≈ 1 (a fixed point), also with a constant added per row", () => {
  const { logits, y } = synthetic(4, 20_000, 3, 1);
  const t = fitTemperature(logits, 3, y);
  assert(Math.abs(t - 1) < 0.04, `fitted ${t}, expected ≈ 1`);
  // Logits shifted by any constant per row (log-probabilities are) fit the same T.
  const shifted = logits.map((z, i) => z + 10 * Math.sin(Math.floor(i / 3)));
  assertAlmostEquals(fitTemperature(shifted, 3, y), t, 1e-9);
  // Probabilities already at T = 1: scaling by the fitted T changes them by little, by 1 not at all.
  const p = Float64Array.from(softmax([0.3, -1.2, 2]));
  assertEquals(Array.from(temperatureScale(p, 3, 1)), Array.from(p));
});

Deno.test("calibration never raises the log-loss it minimises: the fitted T beats T = 1 and a grid around it", () => {
  for (const [seed, t0] of [[5, 0.4], [6, 1], [7, 3], [8, 30]] as const) {
    const { logits, y } = synthetic(seed, 3_000, 3, t0, 2);
    const t = fitTemperature(logits, 3, y);
    assert(t >= TEMPERATURE_RANGE[0] && t <= TEMPERATURE_RANGE[1], `T ${t} outside the range`);
    const at = (x: number) => temperatureLogLoss(logits, 3, y, x);
    assert(at(t) <= at(1) + 1e-12, `seed ${seed}: log-loss ${at(t)} at T ${t} > ${at(1)} at T 1`);
    for (const f of [0.9, 0.99, 1.01, 1.1]) {
      const x = Math.min(Math.max(t * f, TEMPERATURE_RANGE[0]), TEMPERATURE_RANGE[1]);
      assert(at(t) <= at(x) + 1e-12, `seed ${seed}: T ${x} beats the fitted ${t}`);
    }
  }
  // T0 = 30 lies beyond the range: the fit stops at its end.
  const { logits, y } = synthetic(8, 3_000, 3, 30, 2);
  assertEquals(fitTemperature(logits, 3, y), TEMPERATURE_RANGE[1]);
});

Deno.test("fitTemperature() is 1 when T changes nothing, an end of the range when always right; bad input is refused", () => {
  assertEquals(fitTemperature([0.5, 0.5, 0.5, -2, -2, -2], 3, [0, 2]), 1);
  assertEquals(fitTemperature([], 3, []), 1);
  assertEquals(fitTemperature([1, 0, 0, 1], 2, [0, 1]), TEMPERATURE_RANGE[0]);
  assertThrows(() => fitTemperature([1, 0, 0], 2, [0, 1]), TypeError, "3 logits for 2 rows");
  assertThrows(() => fitTemperature([1, NaN], 2, [0]), RangeError, "logits[1] is NaN");
  assertThrows(() => fitTemperature([1, 0], 2, [2]), RangeError, "yTrue[0] is 2");
});

Deno.test("temperatureScale() is softmax(ln p / T): a hand-computed row, zeros kept, bad T refused", () => {
  const p = [0.8, 0.2, 0.5, 0.5, 0, 0];
  const q = temperatureScale(p, 2, 2);
  assertAlmostEquals(q[0]!, 2 / 3, 1e-15);
  assertAlmostEquals(q[1]!, 1 / 3, 1e-15);
  assertEquals([q[2], q[3], q[4], q[5]], [0.5, 0.5, 0, 0]);
  const z = [1.5, -0.5, 0.25];
  const scaled = temperatureScale(softmax(z), 3, 0.7);
  softmax(z, 0.7).forEach((x, c) => assertAlmostEquals(scaled[c]!, x, 1e-14));
  // The logits of an underflowed probability are finite, so the fit can read them.
  assert(logitsOfProbs([0, 1]).every(Number.isFinite));
  assertThrows(() => temperatureScale(p, 2, 0), RangeError, "temperature is 0");
});

/** ECE written out directly: bins of width 1/B, |accuracy − confidence| weighted by share. */
function directEce(labels: readonly number[], probs: readonly number[], bins: number): number {
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const idx = probs.map((p, i) => [p, i] as const).filter(([p]) =>
      b === bins - 1 ? p >= b / bins : p >= b / bins && p < (b + 1) / bins
    ).map(([, i]) => i);
    if (idx.length === 0) continue;
    const acc = idx.reduce((s, i) => s + labels[i]!, 0) / idx.length;
    const conf = idx.reduce((s, i) => s + probs[i]!, 0) / idx.length;
    ece += (idx.length / probs.length) * Math.abs(acc - conf);
  }
  return ece;
}

Deno.test("expectedCalibrationError() matches hand-computed values and a direct implementation", () => {
  assertEquals(expectedCalibrationError([1, 0, 1, 1], [0.75, 0.75, 0.75, 0.75]), 0);
  assertAlmostEquals(expectedCalibrationError([0, 0], [0.9, 0.1]), 0.5, 1e-15);
  // 1.0 falls into the last bin, 0 into the first: both exactly right.
  assertEquals(expectedCalibrationError([true, false], [1, 0]), 0);
  // Two bins: [0.2, 0.4] with labels 0, 1 (|0.5 − 0.3|) and [0.6, 0.8] with 1, 1 (|1 − 0.7|).
  assertAlmostEquals(expectedCalibrationError([0, 1, 1, 1], [0.2, 0.4, 0.6, 0.8], 2), 0.25, 1e-15);
  assert(Number.isNaN(expectedCalibrationError([], [])));
  const rng = new Rng(9);
  const probs = Array.from({ length: 500 }, () => rng.next());
  const labels = probs.map((p) => (rng.next() < p * p ? 1 : 0));
  for (const bins of [1, 10, 15]) {
    assertAlmostEquals(
      expectedCalibrationError(labels, probs, bins),
      directEce(labels, probs, bins),
      1e-12,
    );
  }
  // Labels drawn from the probabilities themselves: calibrated, ECE small.
  const fair = Array.from({ length: 20_000 }, () => rng.next());
  const ece = expectedCalibrationError(fair.map((p) => rng.next() < p), fair);
  assert(ece < 0.02, `ECE of calibrated probabilities ${ece}`);
  assertThrows(() => expectedCalibrationError([1], [0.5, 0.5]), TypeError, "labels has 1");
  assertThrows(() => expectedCalibrationError([1], [1.5]), RangeError, "probs[0] is 1.5");
  assertThrows(() => expectedCalibrationError([2], [0.5]), RangeError, "labels[0] is 2");
  assertThrows(() => expectedCalibrationError([1], [0.5], 0), RangeError, "bins is 0");
});

/** `n` rows of K logits ~ N(0, scale²) and a label drawn from softmax(z / t0 + b0) for each. */
function syntheticBiased(
  seed: number,
  n: number,
  t0: number,
  b0: readonly number[],
): { logits: Float64Array; y: Int32Array } {
  const rng = new Rng(seed), k = b0.length;
  const logits = new Float64Array(n * k), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => 2 * rng.normal());
    logits.set(z, i * k);
    y[i] = rng.categorical(softmax(z.map((x, c) => x / t0 + b0[c]!)));
  }
  return { logits, y };
}

Deno.test("fitTemperatureBias() recovers T0 and b0 from labels drawn from softmax(z / T0 + b0)", () => {
  for (const [seed, t0, b0] of [[11, 2, [0, -1]], [12, 0.7, [0, 0.8, -0.5]]] as const) {
    const { logits, y } = syntheticBiased(seed, 40_000, t0, b0);
    const fit = fitTemperatureBias(logits, b0.length, y);
    assert(
      Math.abs(fit.temperature - t0) < 0.06 * t0,
      `seed ${seed}: T ${fit.temperature}, expected ≈ ${t0}`,
    );
    assertEquals(fit.bias[0], 0);
    b0.forEach((b, c) =>
      assert(
        Math.abs(fit.bias[c]! - b) < 0.06,
        `seed ${seed}: b[${c}] ${fit.bias[c]}, expected ≈ ${b}`,
      )
    );
  }
});

Deno.test("fitTemperatureBias() minimises the log-loss: it beats T alone and a grid around its own fit; equal logits give the classes' log-odds", () => {
  const { logits, y } = syntheticBiased(13, 3_000, 1.5, [0, 0.6, -0.4]);
  const fit = fitTemperatureBias(logits, 3, y);
  const at = (t: number, b: readonly number[]) =>
    calibratedLogLoss(logits, 3, y, { temperature: t, bias: b });
  const best = at(fit.temperature, fit.bias);
  const tAlone = fitTemperature(logits, 3, y);
  assert(best <= temperatureLogLoss(logits, 3, y, tAlone) + 1e-12, "worse than T alone");
  assertAlmostEquals(at(tAlone, [0, 0, 0]), temperatureLogLoss(logits, 3, y, tAlone), 1e-12);
  for (const dt of [0.98, 1.02]) assert(best <= at(fit.temperature * dt, fit.bias) + 1e-12);
  for (const c of [1, 2]) {
    for (const db of [-0.02, 0.02]) {
      const b = [...fit.bias];
      b[c]! += db;
      assert(best <= at(fit.temperature, b) + 1e-12, `b[${c}] + ${db} beats the fit`);
    }
  }
  // Logits that carry nothing: T stays 1 and b is the log-odds of the labels' counts (3 : 1).
  const flat = fitTemperatureBias(new Float64Array(8), 2, [1, 1, 1, 0]);
  assertEquals(flat.temperature, 1);
  assertAlmostEquals(flat.bias[1]!, Math.log(3), 1e-5); // the ridge moves it by ~1e-6
  assertEquals(fitTemperatureBias([], 2, []), { temperature: 1, bias: [0, 0] });
  assertThrows(() => fitTemperatureBias([1, 0, 0], 2, [0, 1]), TypeError, "3 logits for 2 rows");
  assertThrows(() => fitTemperatureBias([1, 0], 2, [2]), RangeError, "yTrue[0] is 2");
});

Deno.test("calibrateScale() is softmax(ln p / T + b): hand-computed rows, zeros kept, temperatureScale without a bias, bad bias refused", () => {
  // [0.5, 0.5] with b = [0, ln 3]: 1 : 3. [0.8, 0.2] at T = 2 with b = [0, ln 2]: 2 : 1·2 = 1 : 1.
  const q = calibrateScale([0.5, 0.5, 0.8, 0.2, 0, 0], 2, {
    temperature: 1,
    bias: [0, Math.log(3)],
  });
  assertAlmostEquals(q[0]!, 0.25, 1e-15);
  assertAlmostEquals(q[1]!, 0.75, 1e-15);
  assertEquals([q[4], q[5]], [0, 0]);
  const r = calibrateScale([0.8, 0.2], 2, { temperature: 2, bias: [0, Math.log(2)] });
  assertAlmostEquals(r[0]!, 0.5, 1e-15);
  assertAlmostEquals(r[1]!, 0.5, 1e-15);
  const p = [0.7, 0.2, 0.1];
  assertEquals(calibrateScale(p, 3, { temperature: 0.8 }), temperatureScale(p, 3, 0.8));
  assertEquals(calibrateScale([0.5, 0.5], 2, IDENTITY_CALIBRATION), Float64Array.from([0.5, 0.5]));
  assertThrows(() => calibrateScale(p, 3, { temperature: 1, bias: [0, 1] }), RangeError, "bias is");
  assertThrows(
    () => calibrateScale(p, 3, { temperature: 1, bias: [0, NaN, 0] }),
    RangeError,
    "bias is",
  );
});
