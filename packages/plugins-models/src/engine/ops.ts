/**
 * Dense-layer and normalisation building blocks shared by the models. `linear` runs the fused
 * matmul+bias(+ReLU) kernel (one XNNPACK call on wasm) and gets a registered gradient whose
 * pieces are lazy: the tape only evaluates the input gradients it needs, so frozen (PEFT)
 * weights cost no weight-gradient product, and every product is an untransposed 2-D matmul
 * (XNNPACK's only path in tfjs-wasm), except where FAIRTUNE_WASM_GEMM's GEMM takes transposed
 * operands itself (wasm-gemm-kernels.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { matMulT, swapLastTwo } from './wasm-kernels.js';
import { wasmGemmTakes } from './wasm-gemm-kernels.js';
import { columnSum, rmsNormKernel } from './fused-kernels.js';

const FUSED = '_FusedMatMul';
let gradInstalled = false;

function installFusedGradient(): void {
  if (gradInstalled) return;
  gradInstalled = true;
  tf.registerGradient({
    kernelName: FUSED,
    inputsToSave: ['a', 'b', 'bias'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      // Inputs are rank 3 with batch 1 (the kernel's calling convention), see linear().
      const [a, b, , y] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor1D, tf.Tensor3D];
      const { activation, transposeA, transposeB } = attrs as unknown as { activation: string; transposeA: boolean; transposeB: boolean };
      if (transposeA || transposeB || (activation !== 'linear' && activation !== 'relu')) {
        throw new Error(`linear(): gradient only implemented for untransposed linear/relu fused matmul (got ${activation})`);
      }
      // ReLU gradient from the saved output: y > 0 exactly where the pre-activation was > 0.
      const g = (activation === 'relu' ? tf.mul(dy as tf.Tensor, tf.step(y)) : dy) as tf.Tensor3D;
      // dW = xᵀ·g. XNNPACK packs the right operand and streams it once per block of rows, so
      // when g is the wider matrix (N > K) the cheaper product is (gᵀ·x)ᵀ: the packed operand
      // x is smaller and stays in cache (measured 14 → 20 GFLOP/s for 1984×128 · 1984×512).
      // With FAIRTUNE_WASM_GEMM's GEMM taking the product, xᵀ·g directly: the GEMM packs both
      // operands anyway and reads xᵀ in place, so neither trick nor Transpose kernel is needed.
      const k = a.shape[2];
      const n = g.shape[2];
      const dW = (): tf.Tensor => {
        if (wasmGemmTakes(n)) return tf.matMul(a, g, true, false);
        return n > k ? swapLastTwo(tf.matMul(swapLastTwo(g) as tf.Tensor3D, a)) : tf.matMul(swapLastTwo(a) as tf.Tensor3D, g);
      };
      return {
        a: () => matMulT(g, b, false, true),
        b: dW,
        bias: () => columnSum(tf.reshape(g, [g.shape[1], n]) as tf.Tensor2D),
      };
    },
  });
}

/** y = act(x·w + b) for x [M, K], w [K, N], b [N]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: 'linear' | 'relu' = 'linear'): tf.Tensor2D {
  installFusedGradient();
  const [m, k] = x.shape;
  const n = w.shape[1];
  // The kernel takes rank-3 operands; a batch of 1 is the same XNNPACK fully-connected call.
  const a3 = tf.reshape(x, [1, m, k]);
  const b3 = tf.reshape(w, [1, k, n]);
  const y = tf.engine().runKernel(FUSED, { a: a3, b: b3, bias: b }, { transposeA: false, transposeB: false, activation, leakyreluAlpha: 0 } as never) as tf.Tensor3D;
  return tf.reshape(y, [m, n]);
}

/** RMSNorm over the last axis: scale · x / sqrt(mean(x²) + eps) (GPT-PPG uses eps 1e-8). */
export function rmsNorm(x: tf.Tensor2D, scale: tf.Tensor1D, eps = 1e-8): tf.Tensor2D {
  const fused = rmsNormKernel(x, scale, eps);
  if (fused) return fused;
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), scale);
}

/** LayerNorm over the last axis with gain and bias. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor2D {
  const mu = tf.mean(x, -1, true);
  const xc = tf.sub(x, mu);
  const v = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(v, eps))), gamma), beta);
}

/**
 * GELU, tanh approximation, written as x·sigmoid(2z) with z = √(2/π)(x + 0.044715x³):
 * identical to 0.5x(1 + tanh z), and wasm's Sigmoid is vectorised where Tanh is scalar.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const z = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), 2 * Math.sqrt(2 / Math.PI));
  return tf.mul(x, tf.sigmoid(z));
}
