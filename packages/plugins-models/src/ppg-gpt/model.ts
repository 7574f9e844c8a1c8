/**
 * PPG-GPT in raw tfjs ops with tf.variable (no tf.layers), following GPT-PPG / PPG-Distill
 * (algorithms.md §2.2): patch embedding + learned start token, pre-norm RMSNorm blocks with
 * multi-head self-attention (partial RoPE, causal in pretraining, full in fine-tuning), ReLU
 * FFN, residuals and dropout; a Logit-Laplace generative head `head.lm` and an optional task
 * head (pool → LayerNorm → GELU → Linear).
 *
 * Layout choices for speed on wasm (tfjs-engine.md): the residual stream is kept 2-D
 * [B·T, d] so every projection is one untransposed 2-D matmul; q/k/v come from ONE fused
 * projection; heads are batched as [B·H, T, dh]; RoPE is an elementwise product plus a 2-D
 * matmul with a constant signed permutation (no slicing), and the 1/√dh scale is folded into
 * q's tables.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, type NdArray } from '@fairtune/core';
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

/** Per-window min–max to [0, 1], then x' = 0.8x + 0.1 (GPT.clamp with ε = 0.1). In place-free. */
export function preprocessWindows(x: Float32Array, n: number, length: number): Float32Array {
  if (x.length !== n * length) throw new Error(`preprocessWindows: expected ${n}×${length} values, got ${x.length}`);
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const o = i * length;
    let mn = Infinity;
    let mx = -Infinity;
    for (let j = 0; j < length; j++) {
      const v = x[o + j]!;
      if (!Number.isFinite(v)) throw new Error(`sample ${i} has a non-finite value at position ${j}`);
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
  readonly #consts: tf.Tensor[] = [];
  readonly #cosQ: tf.Tensor2D;
  readonly #sinQ: tf.Tensor2D;
  readonly #cosK: tf.Tensor2D;
  readonly #sinK: tf.Tensor2D;
  readonly #rot: tf.Tensor2D;
  readonly #causalMask: tf.Tensor2D;
  #disposed = false;

  private constructor(config: PpgGptConfig) {
    validateConfig(config);
    this.config = config;
    this.specs = backboneSpecs(config);
    // tfjs variable names are process-global; a per-instance prefix lets several models coexist.
    this.#prefix = `ppg-gpt-${++instanceCounter}/`;
    const T = sequenceLength(config);
    const dh = config.dModel / config.nHeads;
    const r = dh / 2;
    const cos = new Float32Array(T * dh);
    const sin = new Float32Array(T * dh);
    const rot = new Float32Array(dh * dh);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < dh; j++) {
        if (j < r) {
          // rotary_embedding_torch: frequencies θ^(−2i/r), repeated for the interleaved pair (2i, 2i+1).
          const i = Math.floor(j / 2);
          const angle = t * Math.pow(config.ropeTheta, (-2 * i) / r);
          cos[t * dh + j] = Math.cos(angle);
          sin[t * dh + j] = Math.sin(angle);
        } else {
          cos[t * dh + j] = 1;
          sin[t * dh + j] = 0;
        }
      }
    }
    // rotate_half on interleaved pairs: y[2i] = −x[2i+1], y[2i+1] = x[2i]; as y = x·R.
    for (let i = 0; 2 * i + 1 < r; i++) {
      rot[(2 * i + 1) * dh + 2 * i] = -1;
      rot[2 * i * dh + 2 * i + 1] = 1;
    }
    const scale = 1 / Math.sqrt(dh);
    const mask = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e9;
    const keep = <X extends tf.Tensor>(t: X): X => {
      this.#consts.push(tf.keep(t));
      return t;
    };
    this.#cosK = keep(tf.tensor2d(cos, [T, dh]));
    this.#sinK = keep(tf.tensor2d(sin, [T, dh]));
    this.#cosQ = keep(tf.tensor2d(cos.map((v) => v * scale), [T, dh]));
    this.#sinQ = keep(tf.tensor2d(sin.map((v) => v * scale), [T, dh]));
    this.#rot = keep(tf.tensor2d(rot, [dh, dh]));
    this.#causalMask = keep(tf.tensor2d(mask, [T, T]));
  }

  /** A freshly initialised backbone (weights N(0, 0.02), zero biases, unit norms), seeded. */
  static create(config: PpgGptConfig, seed: number): PpgGpt {
    const m = new PpgGpt(config);
    for (const s of m.specs) m.#addVariable(s, initialValue(s, seed));
    return m;
  }

  /**
   * Builds a model from stored arrays (one float32 array per variable). Every backbone variable
   * must be present with the right shape; task-head arrays are loaded when present.
   */
  static fromArrays(config: PpgGptConfig, arrays: Readonly<Record<string, NdArray>>, pooling: Pooling | undefined, source: string): PpgGpt {
    const m = new PpgGpt(config);
    const specs = [...m.specs, ...(pooling ? taskHeadSpecs(config, pooling) : [])];
    for (const s of specs) {
      const a = arrays[s.name];
      if (!a) throw new Error(`${source}: missing weight "${s.name}" (shape [${s.shape.join(', ')}])`);
      if (a.dtype !== 'float32') throw new Error(`${source}: weight "${s.name}" is ${a.dtype}, expected float32`);
      if (a.shape.length !== s.shape.length || a.shape.some((d, i) => d !== s.shape[i])) {
        throw new Error(`${source}: weight "${s.name}" has shape [${a.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
      }
      const data = a.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) throw new Error(`${source}: weight "${s.name}" has a non-finite value at index ${i}`);
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
    if (L !== c.windowLength) throw new Error(`input windows have ${L} samples, the model expects ${c.windowLength}`);
    const N = L / c.patchSize;
    const T = N + 1;
    const d = c.dModel;
    const H = c.nHeads;
    const dh = d / H;
    let dropCall = 0;
    const drop = (t: tf.Tensor, rate: number): tf.Tensor => {
      if (!opts.training || rate === 0) return t;
      // Seeded per call: the same (seed, call order) reproduces the same mask.
      const s = ((opts.seed ?? 0) + 7919 * ++dropCall) % 2147483647;
      return tf.dropout(t, rate, undefined, s);
    };

    const patches = tf.reshape(x, [B * N, c.patchSize]) as tf.Tensor2D;
    const emb = tf.reshape(linear(patches, this.v('embedding.patch.w') as tf.Tensor2D, this.v('embedding.patch.b') as tf.Tensor1D), [B, N, d]);
    const start = tf.tile(tf.reshape(this.v('embedding.start'), [1, 1, d]), [B, 1, 1]);
    let h = tf.reshape(tf.concat([start, emb], 1), [B * T, d]) as tf.Tensor2D;

    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      const a = rmsNorm(h, this.v(`${p}.norm.attn`) as tf.Tensor1D);
      const qkv = linear(a, this.v(`${p}.attention.wqkv`) as tf.Tensor2D, this.v(`${p}.attention.bqkv`) as tf.Tensor1D);
      const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      // RoPE in [B, T, H, dh] layout (tables broadcast over batch and heads), then batch the heads.
      const rope = (t: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor => {
        const flat = tf.reshape(t, [B * T * H, dh]) as tf.Tensor2D;
        const rotated = tf.reshape(tf.matMul(flat, this.#rot), [B, T, H, dh]);
        const cos4 = tf.reshape(cos, [1, T, 1, dh]);
        const sin4 = tf.reshape(sin, [1, T, 1, dh]);
        return tf.add(tf.mul(tf.reshape(t, [B, T, H, dh]), cos4), tf.mul(rotated, sin4));
      };
      const qh = tf.reshape(tf.transpose(rope(q, this.#cosQ, this.#sinQ), [0, 2, 1, 3]), [B * H, T, dh]) as tf.Tensor3D;
      // k goes straight to [B, H, dh, T] so the score product is untransposed.
      const khT = tf.reshape(tf.transpose(rope(k, this.#cosK, this.#sinK), [0, 2, 3, 1]), [B * H, dh, T]) as tf.Tensor3D;
      const vh = tf.reshape(tf.transpose(tf.reshape(v, [B, T, H, dh]), [0, 2, 1, 3]), [B * H, T, dh]) as tf.Tensor3D;
      let scores: tf.Tensor = tf.matMul(qh, khT);
      if (opts.causal) scores = tf.add(scores, this.#causalMask);
      const probs = drop(tf.softmax(scores), c.attentionDropout) as tf.Tensor3D;
      const ctx = tf.reshape(tf.transpose(tf.reshape(tf.matMul(probs, vh), [B, H, T, dh]), [0, 2, 1, 3]), [B * T, d]) as tf.Tensor2D;
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
    if (!this.pooling) throw new Error('model has no task head (fine-tune it first)');
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
    for (const t of this.#consts) t.dispose();
  }
}
