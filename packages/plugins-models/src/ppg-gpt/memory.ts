/**
 * The early failure for PPG-GPT sizes that cannot train in a wasm32 heap (4 GiB at most, and it
 * never shrinks) or on the pure-JS CPU backend: checked from the configuration alone, before any
 * tensor is allocated, so `345m` and `1b` fail in a millisecond with the remedy named instead of
 * after minutes of allocation with an out-of-memory abort.
 */
import { FairtuneError } from '@fairtune/core/plugin';
import { backboneSpecs, countParameters, sequenceLength, type PpgGptConfig } from './config.js';

export const WASM32_HEAP_BYTES = 4 * 1024 ** 3;

export interface PpgGptMemoryEstimate {
  readonly parameters: number;
  /** Bytes of weights, their gradients and Adam's two moments (16 bytes a trainable parameter). */
  readonly optimiserState: number;
  /** Bytes of the activations a training step keeps for the backward pass at the given batch. */
  readonly activations: number;
  readonly total: number;
}

/**
 * Bytes for one training step with every parameter trainable. Activations per token and layer:
 * the two norms' inputs and outputs, q, k, v, the attention context and output (≈ 9·d), the MLP's
 * hidden layer twice (before and after ReLU, 8·d) and the attention probabilities (heads · T),
 * times 2 for the backward pass's transients. A lower bound in spirit: it decides only that a
 * configuration cannot fit, never that one surely does.
 */
export function estimatePpgGptTrainingBytes(c: PpgGptConfig, batch: number): PpgGptMemoryEstimate {
  const parameters = countParameters(backboneSpecs(c));
  const optimiserState = 16 * parameters;
  const T = sequenceLength(c);
  const activations = 4 * 2 * batch * T * c.nLayers * (17 * c.dModel + c.nHeads * T);
  return { parameters, optimiserState, activations, total: optimiserState + activations };
}

const GiB = (b: number) => (b / 1024 ** 3).toFixed(2);

/**
 * Throws when training this configuration cannot fit the wasm32 heap on the `wasm` or `cpu`
 * backend (native tfjs-node and GPUs have no such cap). `batch` 1 checks the configuration alone
 * (building a backbone), a real batch size the step a trainer is about to take.
 */
export function checkPpgGptMemory(c: PpgGptConfig & { readonly preset?: string }, batch: number, backend: string, what: string): PpgGptMemoryEstimate {
  const e = estimatePpgGptTrainingBytes(c, batch);
  if ((backend === 'wasm' || backend === 'cpu') && e.total > WASM32_HEAP_BYTES) {
    const name = c.preset ? `preset "${c.preset}" (d ${c.dModel}, ${c.nLayers} layers)` : `d ${c.dModel}, ${c.nLayers} layers`;
    throw new FairtuneError(
      'FT_MODEL_TOO_LARGE',
      `${what}: PPG-GPT ${name} has ${(e.parameters / 1e6).toFixed(1)}M parameters; training it at batch ${batch} needs about ${GiB(e.total)} GiB ` +
        `(weights, gradients and Adam moments ${GiB(e.optimiserState)} GiB, activations ${GiB(e.activations)} GiB), more than the 4 GiB wasm32 heap of the "${backend}" backend. ` +
        'Install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu with a CUDA GPU) and set backend "node"/"node-gpu" (FAIRTUNE_BACKEND), or choose a smaller preset (tiny, small, 19m, 85m).',
    );
  }
  return e;
}
