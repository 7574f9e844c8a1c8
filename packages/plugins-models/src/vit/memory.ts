/**
 * Memory a ViT training step needs, estimated before anything is allocated, and the early
 * failure on backends whose tensors live in a wasm32 heap (4 GiB at most) or the JS heap.
 *
 * Terms (float32): parameters; one gradient and two Adam moments per trainable parameter; the
 * activations the backward pass keeps per block and token (≈ 25·D floats: norms, qkv, context,
 * residuals, the 4·D MLP hidden three times — fc1 output, Φ(x), GELU output — plus H·T attention
 * probabilities), times ACTIVATION_OVERHEAD for the backward pass's transient tensors and
 * allocator slack (the wasm heap never shrinks; calibrated on measured heaps, see below).
 */
import { FairtuneError } from '@fairtune/core/plugin';
import { vitParameterCount, vitTokens, type VitConfig } from './config.js';

export const WASM32_HEAP_BYTES = 4 * 1024 ** 3;

/**
 * Backward-pass transients, the ops' intermediate tensors and allocator slack over the saved
 * activations. Measured heap high-water marks after two full fine-tuning steps on wasm: small at
 * batch 32 710 MiB (this estimate 692 MiB), ViT-S/16 with 4 blocks at batch 8 1103 MiB (estimate
 * 1404 MiB).
 */
export const ACTIVATION_OVERHEAD = 4;

export interface MemoryEstimate {
  readonly parameters: number;
  readonly gradients: number;
  readonly adam: number;
  readonly activations: number;
  readonly total: number;
}

/** Bytes for one training step at `batch` with `trainable` trainable parameters (default: all). */
export function estimateTrainingBytes(c: VitConfig, batch: number, trainable = vitParameterCount(c)): MemoryEstimate {
  const T = vitTokens(c);
  const parameters = 4 * vitParameterCount(c);
  const gradients = 4 * trainable;
  const adam = 8 * trainable;
  const perTokenBlock = 25 * c.dim + c.heads * T;
  const activations = 4 * ACTIVATION_OVERHEAD * batch * T * (c.depth * perTokenBlock + 4 * c.dim);
  return { parameters, gradients, adam, activations, total: parameters + gradients + adam + activations };
}

const GiB = (b: number) => (b / 1024 ** 3).toFixed(2);

/**
 * Throws before allocation when the step would not fit the 4 GiB wasm32 heap on the `wasm` or
 * `cpu` backend (native tfjs-node and GPUs have no such cap). The message names the remedies.
 */
export function checkTrainingMemory(c: VitConfig, batch: number, trainable: number, backend: string, what: string): MemoryEstimate {
  const e = estimateTrainingBytes(c, batch, trainable);
  if ((backend === 'wasm' || backend === 'cpu') && e.total > WASM32_HEAP_BYTES) {
    throw new FairtuneError(
      'FT_MODEL_TOO_LARGE',
      `${what}: a ViT training step (image ${c.imageSize}², patch ${c.patchSize}, dim ${c.dim}, depth ${c.depth}) at batch ${batch} needs about ${GiB(e.total)} GiB ` +
        `(parameters ${GiB(e.parameters)}, gradients + Adam ${GiB(e.gradients + e.adam)}, activations ${GiB(e.activations)}), ` +
        `more than the 4 GiB wasm32 heap of the "${backend}" backend. Install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu with a CUDA GPU) and use backend "node"/"node-gpu", ` +
        `or lower batchSize (at most ${maxBatch(c, trainable)} fits), the image size or the preset.`,
    );
  }
  return e;
}

/** Largest batch whose estimate fits the wasm32 heap (0 when not even one image does). */
export function maxBatch(c: VitConfig, trainable: number): number {
  const fixed = estimateTrainingBytes(c, 0, trainable).total;
  const per = estimateTrainingBytes(c, 1, trainable).total - fixed;
  return Math.max(0, Math.floor((WASM32_HEAP_BYTES - fixed) / per));
}
