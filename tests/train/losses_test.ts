import { assertAlmostEquals } from "../_assert.ts";
import { initBackend, tf } from "../../lib/tf.ts";
import * as L from "../../lib/train/losses.ts";

await initBackend("cpu", { quiet: true });
const v = (t: tf.Tensor) => t.dataSync()[0]!;

// Logits [0, ln 2, 0, 0] with K = 2: softmax = [1, 2, 1, 1] / 5 = [0.2, 0.4, 0.2, 0.2].
const logits = () => tf.tensor2d([[0, Math.log(2), 0, 0]]);

Deno.test("logReal() and logFake() sum the real and fake class probabilities (Eq. 5, 6)", () => {
  assertAlmostEquals(v(L.logReal(logits(), 2)), Math.log(0.6), 1e-6);
  assertAlmostEquals(v(L.logFake(logits(), 2)), Math.log(0.4), 1e-6);
});

Deno.test("unsupD() is −(log D(s,a) + log D_fake(s,G(s))) (Eq. 7)", () => {
  // Real pair: p_real = 0.6; fake pair logits [0, 0, ln 3, 0] → p_fake = (3 + 1) / 6.
  const fake = tf.tensor2d([[0, 0, Math.log(3), 0]]);
  assertAlmostEquals(v(L.unsupD(logits(), fake, 2)), -(Math.log(0.6) + Math.log(4 / 6)), 1e-6);
});

Deno.test("supD() is the real-class cross-entropy plus λ times the fake-class one (Eq. 8)", () => {
  const y = tf.tensor1d([1], "int32");
  // Real pair, class 1: p = 0.4; fake pair (same logits), fake class K + 1 = 3: p = 0.2.
  assertAlmostEquals(
    v(L.supD(logits(), logits(), y, 2, 0.5)),
    -(Math.log(0.4) + 0.5 * Math.log(0.2)),
    1e-6,
  );
  assertAlmostEquals(v(L.supD(logits(), logits(), y, 2, 0)), -Math.log(0.4), 1e-6);
  // RecSimu-1: one fake class. Logits [0, ln 2, 0] → [0.25, 0.5, 0.25]; fake pair's class is 2.
  const l1 = tf.tensor2d([[0, Math.log(2), 0]]);
  assertAlmostEquals(v(L.supD(l1, l1, y, 2, 1)), -(Math.log(0.5) + Math.log(0.25)), 1e-6);
});

Deno.test("lossD() is L_unsupD + α L_supD (Eq. 9), averaged over the batch", () => {
  const real = tf.tensor2d([[0, Math.log(2), 0, 0], [Math.log(3), 0, 0, 0]]);
  const fake = tf.tensor2d([[0, 0, 0, 0], [0, 0, 0, Math.log(2)]]);
  const y = tf.tensor1d([1, 0], "int32");
  // Row 1: real softmax [.2,.4,.2,.2] (p_real .6); fake uniform (p_fake .5).
  // Row 2: real [.5,1/6,1/6,1/6] (p_real 2/3); fake [.2,.2,.2,.4] (p_fake .6).
  const unsup = -((Math.log(0.6) + Math.log(2 / 3)) / 2 + (Math.log(0.5) + Math.log(0.6)) / 2);
  const lambda = 0.3;
  const sup =
    -((Math.log(0.4) + Math.log(0.5)) / 2 + lambda * (Math.log(0.25) + Math.log(0.2)) / 2);
  assertAlmostEquals(v(L.lossD(real, fake, y, 2, { alpha: 2, lambda })), unsup + 2 * sup, 1e-6);
});

Deno.test("supG() is the squared L2 distance, lossG() adds the unsupervised term (Eq. 10–12)", () => {
  const g = tf.tensor2d([[0, 0], [1, 1]]);
  const a = tf.tensor2d([[1, 2], [1, 0]]);
  assertAlmostEquals(v(L.supG(g, a)), (5 + 1) / 2, 1e-6);
  const fake = tf.tensor2d([[0, 0, Math.log(3), 0], [0, 0, 0, 0]]); // p_fake = 4/6, 0.5
  const unsupG = (Math.log(4 / 6) + Math.log(0.5)) / 2;
  assertAlmostEquals(v(L.unsupG(fake, 2)), unsupG, 1e-6);
  assertAlmostEquals(v(L.lossG(fake, g, a, 2, 0.5)), unsupG + 0.5 * 3, 1e-6);
  assertAlmostEquals(v(L.lossG(fake, g, a, 2, 0)), unsupG, 1e-6);
});
