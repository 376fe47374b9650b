/**
 * RecSimu losses, Eq. 5–12 of the paper. Logits are [B, K + F]: K real feedback classes, then
 * F fake classes (F = K, or 1 for RecSimu-1). Every function returns a scalar tensor.
 * @module
 */
import { tf } from "../tf.ts";

/**
 * Mean of per-row values, weighted by `w` when given (Σ w x / Σ w): the heads' bootstrap
 * weights of an ensemble discriminator (rows b · M + m).
 */
export function rowMean(x: tf.Tensor1D, w?: tf.Tensor1D): tf.Scalar {
  if (!w) return tf.mean(x);
  return tf.div(tf.sum(tf.mul(x, w)), tf.maximum(tf.sum(w), 1e-6)) as tf.Scalar;
}

/** log D(s, a) = log Σ_{k ≤ K} softmax_k (Eq. 5). */
export function logReal(logits: tf.Tensor2D, k: number): tf.Tensor1D {
  const all = tf.logSumExp(logits, 1);
  return tf.sub(tf.logSumExp(tf.slice(logits, [0, 0], [-1, k]), 1), all);
}

/** log Σ_{k > K} softmax_k, the probability that the pair is fake (Eq. 6). */
export function logFake(logits: tf.Tensor2D, k: number): tf.Tensor1D {
  const all = tf.logSumExp(logits, 1);
  return tf.sub(tf.logSumExp(tf.slice(logits, [0, k], [-1, -1]), 1), all);
}

/** L_unsupD = −(E log D(s, a) + E log D_fake(s, G(s))) (Eq. 7). */
export function unsupD(
  realLogits: tf.Tensor2D,
  fakeLogits: tf.Tensor2D,
  k: number,
  w?: tf.Tensor1D,
): tf.Scalar {
  return tf.neg(tf.add(rowMean(logReal(realLogits, k), w), rowMean(logFake(fakeLogits, k), w)));
}

/** Log-probability of class `cls[i]` in row i, softmax over all K + F logits. */
function logProbOf(logits: tf.Tensor2D, cls: tf.Tensor1D): tf.Tensor1D {
  const lp = tf.logSoftmax(logits, 1);
  const oh = tf.oneHot(cls, logits.shape[1]);
  return tf.sum(tf.mul(lp, oh), 1);
}

/**
 * L_supD = −(E log p(r = l_y | s, a) + λ E log p(r = l_{K+y} | s, G(s))) (Eq. 8): the real pair
 * should get its true real class, the fake pair the fake class of the same feedback (or the
 * single fake class when F = 1).
 */
export function supD(
  realLogits: tf.Tensor2D,
  fakeLogits: tf.Tensor2D,
  y: tf.Tensor1D,
  k: number,
  lambda: number,
  w?: tf.Tensor1D,
): tf.Scalar {
  const fakeClasses = fakeLogits.shape[1] - k;
  const yFake = fakeClasses === 1
    ? tf.fill(y.shape, k, "int32") as tf.Tensor1D
    : tf.add(y, tf.scalar(k, "int32")) as tf.Tensor1D;
  const real: tf.Scalar = rowMean(logProbOf(realLogits, y), w);
  if (lambda === 0) return tf.neg(real);
  return tf.neg(tf.add(real, tf.mul(lambda, rowMean(logProbOf(fakeLogits, yFake), w))));
}

/** L_D = L_unsupD + α L_supD (Eq. 9). */
export function lossD(
  realLogits: tf.Tensor2D,
  fakeLogits: tf.Tensor2D,
  y: tf.Tensor1D,
  k: number,
  opts: { alpha: number; lambda: number },
  w?: tf.Tensor1D,
): tf.Scalar {
  return tf.add(
    unsupD(realLogits, fakeLogits, k, w),
    tf.mul(opts.alpha, supD(realLogits, fakeLogits, y, k, opts.lambda, w)),
  );
}

/** L_unsupG = E log D_fake(s, G(s)) (Eq. 10): G wants its actions not to look fake. */
export function unsupG(fakeLogits: tf.Tensor2D, k: number): tf.Scalar {
  return tf.mean(logFake(fakeLogits, k));
}

/** L_supG = E ‖a − G(s)‖² (Eq. 11). */
export function supG(generated: tf.Tensor2D, actual: tf.Tensor2D): tf.Scalar {
  return tf.mean(tf.sum(tf.square(tf.sub(actual, generated)), 1));
}

/** L_G = L_unsupG + β L_supG (Eq. 12). */
export function lossG(
  fakeLogits: tf.Tensor2D,
  generated: tf.Tensor2D,
  actual: tf.Tensor2D,
  k: number,
  beta: number,
): tf.Scalar {
  const sup = supG(generated, actual);
  return tf.add(unsupG(fakeLogits, k), beta === 0 ? tf.scalar(0) : tf.mul(beta, sup));
}
