/**
 * LayerNorm and exact (erf) GELU with hand-written gradients, for the ViT.
 *
 * Why custom gradients: tfjs derives LayerNorm's backward pass from its forward ops (two means,
 * a broadcast subtract, rsqrt, …) and reduces the gain/bias gradients over axis 0, which wasm
 * only does after transposing the whole activation. Here the backward pass is the closed form
 * dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ, and dγ, dβ are one column sum each
 * (engine columnSum). GELU's gradient Φ(x) + x·φ(x) reuses Φ(x) saved from the forward pass
 * instead of differentiating erf's op graph.
 */
import * as tf from '@tensorflow/tfjs';
import { columnSum } from './fused-kernels.js';

/** LayerNorm over the last axis of x [M, N]: (x − μ)/sqrt(σ² + eps)·γ + β (biased variance, as torch). */
export function layerNormVit(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, g, b] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const mu = tf.mean(xi, -1, true);
    const xc = tf.sub(xi, mu);
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
    const xhat = tf.mul(xc, r);
    save([xhat, r, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor2D;
        const [xh, rr, gg] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const gy = tf.mul(d, gg);
        const dx = tf.mul(rr, tf.sub(tf.sub(gy, tf.mean(gy, -1, true)), tf.mul(xh, tf.mean(tf.mul(gy, xh), -1, true))));
        return [dx, columnSum(tf.mul(d, xh) as tf.Tensor2D), columnSum(d)];
      },
    };
  });
  return f(x, gamma, beta) as tf.Tensor2D;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** GELU with the exact normal CDF, x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (torch nn.GELU(), timm's default). */
export function geluErf(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xi = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const cdf = tf.mul(tf.add(tf.erf(tf.mul(xi, INV_SQRT2)), 1), 0.5);
    save([xi, cdf]);
    return {
      value: tf.mul(xi, cdf),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, c] = saved as [tf.Tensor, tf.Tensor];
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
        return [tf.mul(dy as tf.Tensor, tf.add(c, tf.mul(xs, pdf)))];
      },
    };
  });
  return f(x);
}
