/**
 * PPG-GPT in raw tfjs ops with tf.variable (no tf.layers), following GPT-PPG / PPG-Distill
 * (algorithms.md §2.2): patch embedding + learned start token, pre-norm RMSNorm blocks with
 * multi-head self-attention (partial RoPE, causal in pretraining, full in fine-tuning), ReLU
 * FFN, residuals and dropout; a Logit-Laplace generative head `head.lm` and an optional task
 * head (pool → LayerNorm → GELU → Linear).
 *
 * Layout choices for speed on wasm (tfjs-engine.md): the residual stream is kept 2-D
 * [B·T, d] so every projection is one untransposed 2-D matmul; q/k/v come from ONE fused
 * projection, and the attention core (RoPE, scores, mask, softmax, dropout, ·v) is one fused
 * kernel reading that projection in place (engine/fused-kernels.ts; plain tfjs ops on
 * backends other than wasm). Dropout uses the engine's hash-based masks (seeded per call).
 */
import * as tf from '@tensorflow/tfjs';
import { FairtuneError, Rng, type ErrorSubject, type NdArray } from '@fairtune/core/plugin';
import {
  backboneSpecs,
  countParameters,
  sequenceLength,
  taskHeadSpecs,
  validateConfig,
  type Pooling,
  type PpgGptConfig,
  type VariableSpec,
} from './config.js';
import { gelu, layerNorm, linear, rmsNorm } from '../engine/ops.js';
import { attention, dropout } from '../engine/fused-kernels.js';
import { weightError } from '../io/weight-errors.js';

export interface ForwardOptions {
  /** Causal attention (pretraining) or full attention (fine-tuning). */
  readonly causal: boolean;
  /** Enables dropout. */
  readonly training: boolean;
  /** Base seed for this pass's dropout masks; the same seed reproduces the same masks. */
  readonly seed?: number;
}

let instanceCounter = 0;
const INIT_STD = 0.02;

/**
 * Per-window min–max to [0, 1], then x' = 0.8x + 0.1 (GPT.clamp with ε = 0.1). In place-free.
 * `about` names the input the windows came from (a non-finite value is FT_INPUT_CONTENT).
 */
export function preprocessWindows(x: Float32Array, n: number, length: number, about: ErrorSubject = {}): Float32Array {
  if (x.length !== n * length) throw new Error(`preprocessWindows: expected ${n}×${length} values, got ${x.length}`);
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const o = i * length;
    let mn = Infinity;
    let mx = -Infinity;
    for (let j = 0; j < length; j++) {
      const v = x[o + j]!;
      if (!Number.isFinite(v)) throw new FairtuneError('FT_INPUT_CONTENT', `sample ${i} has a non-finite value at position ${j}`, about);
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    // A flat window carries no shape; map it to the middle of the clamped range.
    const range = mx - mn;
    for (let j = 0; j < length; j++) out[o + j] = range > 0 ? 0.8 * ((x[o + j]! - mn) / range) + 0.1 : 0.5;
  }
  return out;
}

function initialValue(spec: VariableSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  if (spec.init === 'ones') data.fill(1);
  else if (spec.init === 'normal') {
    // One stream per variable name: adding a head never changes the backbone's initialisation.
    const rng = Rng.derive(seed, spec.name);
    for (let i = 0; i < size; i++) data[i] = rng.normal(0, INIT_STD);
  }
  return data;
}

export class PpgGpt {
  readonly config: PpgGptConfig;
  readonly specs: VariableSpec[];
  readonly vars = new Map<string, tf.Variable>();
  pooling: Pooling | undefined;
  readonly #prefix: string;
  #disposed = false;

  private constructor(config: PpgGptConfig) {
    validateConfig(config);
    this.config = config;
    this.specs = backboneSpecs(config);
    // tfjs variable names are process-global; a per-instance prefix lets several models coexist.
    this.#prefix = `ppg-gpt-${++instanceCounter}/`;
  }

  /** A freshly initialised backbone (weights N(0, 0.02), zero biases, unit norms), seeded. */
  static create(config: PpgGptConfig, seed: number): PpgGpt {
    const m = new PpgGpt(config);
    for (const s of m.specs) m.#addVariable(s, initialValue(s, seed));
    return m;
  }

  /**
   * Builds a model from stored arrays (one float32 array per variable). Every backbone variable
   * must be present with the right shape; task-head arrays are loaded when present. `about` says
   * where the arrays came from (an artifact's port or a weights file), which sets the errors' codes.
   */
  static fromArrays(config: PpgGptConfig, arrays: Readonly<Record<string, NdArray>>, pooling: Pooling | undefined, source: string, about: ErrorSubject = {}): PpgGpt {
    const m = new PpgGpt(config);
    const specs = [...m.specs, ...(pooling ? taskHeadSpecs(config, pooling) : [])];
    for (const s of specs) {
      const a = arrays[s.name];
      if (!a) throw weightError(about, 'layout', `${source}: missing weight "${s.name}" (shape [${s.shape.join(', ')}])`);
      if (a.dtype !== 'float32') throw weightError(about, 'layout', `${source}: weight "${s.name}" is ${a.dtype}, expected float32`);
      if (a.shape.length !== s.shape.length || a.shape.some((d, i) => d !== s.shape[i])) {
        throw weightError(about, 'layout', `${source}: weight "${s.name}" has shape [${a.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
      }
      const data = a.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) throw weightError(about, 'value', `${source}: weight "${s.name}" has a non-finite value at index ${i}`);
      }
      if (s.group === 'head' && s.name.startsWith('head.task')) continue;
      m.#addVariable(s, data);
    }
    if (pooling) {
      m.pooling = pooling;
      for (const s of taskHeadSpecs(config, pooling)) {
        m.specs.push(s);
        m.#addVariable(s, arrays[s.name]!.data as Float32Array);
      }
    }
    return m;
  }

  #addVariable(s: VariableSpec, data: Float32Array): void {
    // The variable shares the initial tensor's data; dispose the wrapper or it leaks one tensor per variable.
    const init = tf.tensor(data, s.shape as number[], 'float32');
    this.vars.set(s.name, tf.variable(init, true, this.#prefix + s.name));
    init.dispose();
  }

  /** Adds (or replaces) the task head for fine-tuning. */
  addTaskHead(pooling: Pooling, seed: number): void {
    for (const s of taskHeadSpecs(this.config, this.pooling ?? pooling)) {
      if (this.vars.has(s.name)) {
        this.vars.get(s.name)!.dispose();
        this.vars.delete(s.name);
      }
    }
    const idx = this.specs.findIndex((s) => s.name.startsWith('head.task'));
    if (idx >= 0) this.specs.splice(idx);
    this.pooling = pooling;
    for (const s of taskHeadSpecs(this.config, pooling)) {
      this.specs.push(s);
      this.#addVariable(s, initialValue(s, seed));
    }
  }

  v(name: string): tf.Variable {
    const x = this.vars.get(name);
    if (!x) throw new Error(`model has no variable "${name}"`);
    return x;
  }

  get parameterCount(): number {
    return countParameters(this.specs);
  }

  /**
   * Encodes preprocessed windows x [B, L] to the final residual stream [B·T, d].
   * Callers run it inside tf.tidy / variableGrads.
   */
  encode(x: tf.Tensor2D, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const [B, L] = x.shape;
    if (L !== c.windowLength) throw new FairtuneError('FT_INPUT_CONTENT', `input windows have ${L} samples, the model expects ${c.windowLength}`);
    const N = L / c.patchSize;
    const T = N + 1;
    const H = c.nHeads;
    let dropCall = 0;
    // Seeded per call: the same (seed, call order) reproduces the same mask.
    const nextSeed = (rate: number): number => (rate > 0 ? ((opts.seed ?? 0) + 7919 * ++dropCall) % 2147483647 : 0);
    const drop = (t: tf.Tensor, rate: number): tf.Tensor => {
      if (!opts.training || rate === 0) return t;
      return dropout(t, rate, nextSeed(rate));
    };

    // Start token and patch embedding in ONE 2-D product: token rows are [patch, 0] for patches
    // and [0, …, 0, 1] for the start slot, and the weight gets an extra row (start − b), so the
    // start slot yields start − b + b = start. Same math as concat(start, patches·W + b), without
    // the concat/tile whose gradients cost a SplitV plus one slice per sample on wasm.
    const P = c.patchSize;
    const indicator = new Float32Array(T * (P + 1));
    indicator[P] = 1;
    const tokens = tf.add(tf.pad(tf.reshape(x, [B, N, P]), [[0, 0], [1, 0], [0, 1]]), tf.tensor3d(indicator, [1, T, P + 1]));
    const bias = this.v('embedding.patch.b') as tf.Tensor1D;
    const weight = tf.concat([this.v('embedding.patch.w'), tf.sub(this.v('embedding.start'), bias)], 0) as tf.Tensor2D;
    let h = linear(tf.reshape(tokens, [B * T, P + 1]) as tf.Tensor2D, weight, bias);

    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      const a = rmsNorm(h, this.v(`${p}.norm.attn`) as tf.Tensor1D);
      const qkv = linear(a, this.v(`${p}.attention.wqkv`) as tf.Tensor2D, this.v(`${p}.attention.bqkv`) as tf.Tensor1D);
      // One fused kernel: RoPE, scores, causal mask, softmax, dropout and ·v per (sample, head).
      const ctx = attention(qkv, { batch: B, seq: T, heads: H, ropeTheta: c.ropeTheta, causal: opts.causal, dropout: opts.training ? c.attentionDropout : 0, seed: nextSeed(opts.training ? c.attentionDropout : 0) });
      const o = linear(ctx, this.v(`${p}.attention.wo`) as tf.Tensor2D, this.v(`${p}.attention.bo`) as tf.Tensor1D);
      h = tf.add(h, drop(o, c.dropout)) as tf.Tensor2D;
      const m = rmsNorm(h, this.v(`${p}.norm.mlp`) as tf.Tensor1D);
      const f1 = drop(linear(m, this.v(`${p}.mlp.w1`) as tf.Tensor2D, this.v(`${p}.mlp.b1`) as tf.Tensor1D, 'relu'), c.dropout) as tf.Tensor2D;
      const f2 = linear(f1, this.v(`${p}.mlp.w2`) as tf.Tensor2D, this.v(`${p}.mlp.b2`) as tf.Tensor1D);
      h = tf.add(h, drop(f2, c.dropout)) as tf.Tensor2D;
    }
    return h;
  }

  /**
   * Logit-Laplace parameters for the next patch at each position except the last:
   * μ and s = log b, each [B, N, patch]. Position 0 (start token) predicts patch 0.
   */
  lmHead(h: tf.Tensor2D, batch: number): { mu: tf.Tensor3D; logScale: tf.Tensor3D } {
    const c = this.config;
    const T = sequenceLength(c);
    const N = T - 1;
    const out = tf.reshape(linear(h, this.v('head.lm.w') as tf.Tensor2D, this.v('head.lm.b') as tf.Tensor1D), [batch, T, 2 * c.patchSize]);
    const used = tf.slice(out, [0, 0, 0], [batch, N, 2 * c.patchSize]);
    const [mu, logScale] = tf.split(used, 2, 2) as [tf.Tensor3D, tf.Tensor3D];
    return { mu, logScale };
  }

  /** Pools the encoder output and returns the penultimate embedding [B, F] and the head output [B]. */
  taskHead(h: tf.Tensor2D, batch: number): { embedding: tf.Tensor2D; output: tf.Tensor1D } {
    if (!this.pooling) throw new FairtuneError('FT_INPUT_CONTENT', 'model has no task head (fine-tune it first)');
    const c = this.config;
    const T = sequenceLength(c);
    const d = c.dModel;
    let pooled: tf.Tensor2D;
    if (this.pooling === 'flatten') pooled = tf.reshape(h, [batch, T * d]);
    else if (this.pooling === 'mean') pooled = tf.mean(tf.reshape(h, [batch, T, d]), 1);
    else pooled = tf.reshape(tf.slice(tf.reshape(h, [batch, T, d]), [0, T - 1, 0], [batch, 1, d]), [batch, d]);
    const z = gelu(layerNorm(pooled, this.v('head.task.norm.gamma') as tf.Tensor1D, this.v('head.task.norm.beta') as tf.Tensor1D)) as tf.Tensor2D;
    const out = linear(z, this.v('head.task.w') as tf.Tensor2D, this.v('head.task.b') as tf.Tensor1D);
    return { embedding: z, output: tf.reshape(out, [batch]) };
  }

  /** Current weights as artifact arrays (one float32 array per variable, named by path). */
  toArrays(): Record<string, NdArray> {
    const out: Record<string, NdArray> = {};
    for (const s of this.specs) {
      out[s.name] = { dtype: 'float32', shape: [...s.shape], data: (this.v(s.name).dataSync() as Float32Array).slice() };
    }
    return out;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
