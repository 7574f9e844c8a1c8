/**
 * Per-sample losses as tfjs ops. Formulas follow the references exactly (algorithms.md §2.2):
 * Logit-Laplace is PPG-Distill's `LogitLaplaceLoss` (DALL·E density) including its clamps.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Logit-Laplace negative log-likelihood, averaged per sample over all predicted values.
 * x: targets in (0, 1) [B, ...]; mu, s (= log b): same shape. Returns [B].
 *   x ← clamp(x, 1e-5, 1 − 1e-5); b = max(exp(min(s, 20)), 1e-4)
 *   f = 1/(2 b x(1−x)) · exp(−|logit(x) − μ| / b); f ← max(f, 1e-10); ℓ = −log(f + 1e-5)
 */
export function logitLaplacePerSample(x: tf.Tensor, mu: tf.Tensor, s: tf.Tensor): tf.Tensor1D {
  const xc = tf.clipByValue(x, 1e-5, 1 - 1e-5);
  const b = tf.maximum(tf.exp(tf.minimum(s, 20)), 1e-4);
  const logit = tf.log(tf.div(xc, tf.sub(1, xc)));
  const norm = tf.mul(tf.mul(b, 2), tf.mul(xc, tf.sub(1, xc)));
  const density = tf.maximum(tf.div(tf.exp(tf.neg(tf.div(tf.abs(tf.sub(logit, mu)), b))), norm), 1e-10);
  const nll = tf.neg(tf.log(tf.add(density, 1e-5)));
  const batch = x.shape[0]!;
  return tf.mean(tf.reshape(nll, [batch, -1]), 1) as tf.Tensor1D;
}

/** |ŷ − y| per sample. */
export function l1PerSample(pred: tf.Tensor1D, target: tf.Tensor1D): tf.Tensor1D {
  return tf.abs(tf.sub(pred, target)) as tf.Tensor1D;
}

/** Binary cross-entropy from logits, numerically stable: max(z,0) − z·y + log(1 + e^−|z|). */
export function bceWithLogitsPerSample(logits: tf.Tensor1D, target: tf.Tensor1D): tf.Tensor1D {
  return tf.add(tf.sub(tf.relu(logits), tf.mul(logits, target)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))) as tf.Tensor1D;
}

/**
 * Softmax cross-entropy per sample for integer labels; rows with label −1 get loss 0 and are
 * excluded by `mask` (used by the adversary on group labels, where −1 = unknown group).
 */
export function softmaxCrossEntropyPerSample(logits: tf.Tensor2D, labels: Int32Array, classes: number): { loss: tf.Tensor1D; mask: tf.Tensor1D } {
  const safe = Int32Array.from(labels, (l) => (l >= 0 ? l : 0));
  const onehot = tf.oneHot(tf.tensor1d(safe, 'int32'), classes);
  const mask = tf.tensor1d(Float32Array.from(labels, (l) => (l >= 0 ? 1 : 0)));
  const logp = tf.logSoftmax(logits);
  const loss = tf.mul(tf.neg(tf.sum(tf.mul(onehot, logp), 1)), mask) as tf.Tensor1D;
  return { loss, mask };
}
