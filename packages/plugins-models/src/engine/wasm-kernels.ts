/**
 * Training-speed fixes for the wasm backend. tfjs-backend-wasm's BatchMatMul runs XNNPACK only
 * for untransposed products; the stock gradient uses transposeA/transposeB, which takes a
 * scalar triple loop (10–20x slower). Re-registering the gradient with explicit `transpose`
 * calls keeps every gradient product on the fast path (tfjs-engine.md §1, §3).
 *
 * No cpu-kernel fallback is registered: the PPG-GPT model uses no kernel that wasm lacks
 * (no conv, gather or einsum gradients); tests run the full forward/backward on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { wasmGemmTakes } from './wasm-gemm-kernels.js';

let installed = false;

/** Swaps the last two axes explicitly (a real Transpose kernel, so the next matmul is untransposed). */
export function swapLastTwo(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/**
 * op(x)·op(y) for gradients. By default explicit Transpose kernels and an untransposed product
 * (tfjs-wasm's only XNNPACK path). When FAIRTUNE_WASM_GEMM's GEMM takes the product, the
 * transposes are left to its packing: no Transpose kernels, and the same sums in the same order.
 */
export function matMulT(x: tf.Tensor, y: tf.Tensor, transposeX: boolean, transposeY: boolean): tf.Tensor {
  const n = transposeY ? y.shape[y.rank - 2]! : y.shape[y.rank - 1]!;
  if (wasmGemmTakes(n)) return tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, transposeX, transposeY);
  return tf.matMul((transposeX ? swapLastTwo(x) : x) as tf.Tensor3D, (transposeY ? swapLastTwo(y) : y) as tf.Tensor3D);
}

/** Sums a gradient over broadcast batch dims so it matches the input's shape. */
function reduceToShape(g: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank - 2; i++) {
    const want = i - lead < 0 ? 1 : shape[i - lead]!;
    if (want === 1 && g.shape[i] !== 1) axes.push(i);
  }
  const summed = axes.length ? tf.sum(g, axes, true) : g;
  return tf.reshape(summed, shape as number[]);
}

export function installWasmTrainingKernels(): void {
  if (installed) return;
  installed = true;
  // tfjs-wasm's Identity copies the tensor. The engine calls it for every tensor the tape saves
  // for a gradient (engine.clone), i.e. hundreds of full activation copies per training step.
  // Tensors are immutable in tfjs (variables swap their dataId on assign), so sharing the buffer
  // with a reference count is safe; it is exactly what the wasm Reshape kernel and the cpu
  // backend's Identity already do.
  const wasmIdentity = tf.getKernel(tf.Identity, 'wasm');
  if (wasmIdentity) {
    tf.unregisterKernel(tf.Identity, 'wasm');
    tf.registerKernel({
      kernelName: tf.Identity,
      backendName: 'wasm',
      kernelFunc: (args) => {
        const x = (args.inputs as { x: tf.TensorInfo }).x;
        if (x.dtype === 'string') return wasmIdentity.kernelFunc(args);
        (args.backend as unknown as { incRef(id: unknown): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
  }
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const g = dy as tf.Tensor;
      // Mathematically the same cases as tfjs-core's BatchMatMul_grad, with the transposes done
      // by explicit kernels unless the GEMM takes them (matMulT).
      let da: () => tf.Tensor;
      let db: () => tf.Tensor;
      if (!transposeA && !transposeB) {
        da = () => matMulT(g, b, false, true);
        db = () => matMulT(a, g, true, false);
      } else if (!transposeA && transposeB) {
        da = () => matMulT(g, b, false, false);
        db = () => matMulT(g, a, true, false);
      } else if (transposeA && !transposeB) {
        da = () => matMulT(b, g, false, true);
        db = () => matMulT(a, g, false, false);
      } else {
        da = () => matMulT(b, g, true, true);
        db = () => matMulT(g, a, true, true);
      }
      return { a: () => reduceToShape(da(), a.shape), b: () => reduceToShape(db(), b.shape) };
    },
  });
}
