/**
 * Vision Transformer (timm's VisionTransformer: class token, learned absolute position
 * embeddings, pre-norm blocks, exact GELU, LayerNorm eps 1e-6, class-token pooling, head on the
 * final norm of the class token) in raw tfjs ops with tf.variable.
 *
 * Variables carry timm's names. Artifacts and safetensors hold timm's (PyTorch) layout; the
 * variables hold Linear weights transposed ([in, out]) and the patch projection as [3p², D], so
 * every product is wasm's fast untransposed 2-D matmul (engine/ops.ts `linear`); conversion
 * happens once when weights are loaded or exported (toArrays/fromArrays).
 *
 * The residual stream is 2-D [B·T, D]; q/k/v come from the fused qkv projection (timm's column
 * order: q | k | v, heads contiguous), and the attention core is the engine's fused kernel with
 * RoPE off (ropeTheta 0). No dropout: timm's vit_*_patch16_224 defaults have none.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, type ErrorSubject, type NdArray } from '@fairtune/core/plugin';
import { countParameters, type VariableSpec } from '../ppg-gpt/config.js';
import { internalLayout, patchValues, validateVitConfig, vitHeadSpecs, vitSpecs, vitTokens, type VitConfig } from './config.js';
import { linear } from '../engine/ops.js';
import { geluErf, layerNormVit } from '../engine/vit-ops.js';
import { attention } from '../engine/fused-kernels.js';
import { weightError } from '../io/weight-errors.js';

const INIT_STD = 0.02;
let instanceCounter = 0;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** timm layout → internal layout (see internalLayout). */
export function toInternal(s: VariableSpec, data: Float32Array): { data: Float32Array; shape: number[] } {
  const layout = internalLayout(s);
  if (layout === 'as-is') return { data, shape: [...s.shape] };
  const rows = s.shape[0]!;
  const cols = data.length / rows;
  return { data: transpose2d(data, rows, cols), shape: [cols, rows] };
}

/** Internal layout → timm layout. */
export function toTimm(s: VariableSpec, data: Float32Array): Float32Array {
  if (internalLayout(s) === 'as-is') return data;
  const out = s.shape[0]!;
  return transpose2d(data, data.length / out, out);
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

function initialValue(s: VariableSpec, seed: number): Float32Array {
  const data = new Float32Array(product(s.shape));
  if (s.init === 'ones') data.fill(1);
  else if (s.init === 'normal') {
    // One stream per variable name (a new head never changes the backbone's initialisation);
    // truncated at ±2σ as timm's trunc_normal_(std=.02).
    const rng = Rng.derive(seed, s.name);
    for (let i = 0; i < data.length; i++) {
      let v = rng.normal(0, INIT_STD);
      while (Math.abs(v) > 2 * INIT_STD) v = rng.normal(0, INIT_STD);
      data[i] = v;
    }
  }
  return data;
}

/** A freshly initialised head for `config` in timm layout (a checkpoint whose head does not fit). */
export function initialHead(config: VitConfig, seed: number): Record<string, NdArray> {
  return Object.fromEntries(vitHeadSpecs(config).map((s) => [s.name, { dtype: 'float32' as const, shape: [...s.shape], data: initialValue(s, seed) }]));
}

export interface VitOutput {
  /** Head output [B, numClasses]. */
  readonly logits: tf.Tensor2D;
  /** The final norm of the class token [B, D] (timm's pre-logits features). */
  readonly embedding: tf.Tensor2D;
}

export class Vit {
  config: VitConfig;
  readonly specs: VariableSpec[];
  readonly vars = new Map<string, tf.Variable>();
  readonly #prefix: string;
  #disposed = false;

  private constructor(config: VitConfig) {
    validateVitConfig(config);
    this.config = config;
    this.specs = vitSpecs(config);
    // tfjs variable names are process-global; a per-instance prefix lets several models coexist.
    this.#prefix = `vit-${++instanceCounter}/`;
  }

  /** Freshly initialised (truncated normal 0.02 weights, zero biases, unit norms), seeded. */
  static create(config: VitConfig, seed: number): Vit {
    const m = new Vit(config);
    for (const s of m.specs) m.#add(s, initialValue(s, seed));
    return m;
  }

  /**
   * Builds a model from timm-layout float32 arrays named as timm names them. Every variable must
   * be present with its exact shape and finite values; errors name the source and the tensor.
   * `about` says where the arrays came from (an artifact's port or a weights file), which sets the errors' codes.
   */
  static fromArrays(config: VitConfig, arrays: Readonly<Record<string, NdArray>>, source: string, about: ErrorSubject = {}): Vit {
    const m = new Vit(config);
    try {
      for (const s of m.specs) m.#add(s, checkedArray(arrays, s, source, about));
    } catch (err) {
      m.dispose();
      throw err;
    }
    return m;
  }

  #add(s: VariableSpec, timmData: Float32Array): void {
    const { data, shape } = toInternal(s, timmData);
    // The variable shares the initial tensor's data; dispose the wrapper or it leaks one tensor per variable.
    const init = tf.tensor(data, shape, 'float32');
    this.vars.set(s.name, tf.variable(init, true, this.#prefix + s.name));
    init.dispose();
  }

  /** Replaces the head with a freshly initialised one of `classes` outputs (fine-tuning a new task). */
  replaceHead(classes: number, seed: number): void {
    for (const s of vitHeadSpecs(this.config)) {
      this.vars.get(s.name)?.dispose();
      this.vars.delete(s.name);
    }
    this.config = { ...this.config, numClasses: classes };
    const heads = vitHeadSpecs(this.config);
    this.specs.splice(this.specs.length - heads.length, heads.length, ...heads);
    for (const s of heads) this.#add(s, initialValue(s, seed));
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
   * Forward pass on a token matrix from images.ts (`imageTokens`): [B·T, 3p² + 1]. Callers run
   * it inside tf.tidy / variableGrads.
   */
  forward(tokens: tf.Tensor2D, batch: number): VitOutput {
    const c = this.config;
    const T = vitTokens(c);
    const D = c.dim;
    const K = patchValues(c);
    if (tokens.shape[0] !== batch * T || tokens.shape[1] !== K + 1) {
      throw new Error(`ViT input: token matrix [${tokens.shape.join(', ')}] does not fit ${batch} images of ${c.imageSize}² with ${c.patchSize}² patches ([${batch * T}, ${K + 1}])`);
    }
    // Class token and patch embedding in ONE product: the class-token row is [0, …, 0, 1] and the
    // weight gets an extra row (cls − b), so that row yields cls − b + b = cls.
    const bias = this.v('patch_embed.proj.bias') as tf.Tensor1D;
    const weight = tf.concat([this.v('patch_embed.proj.weight'), tf.sub(tf.reshape(this.v('cls_token'), [1, D]), bias)], 0) as tf.Tensor2D;
    const emb = tf.reshape(linear(tokens, weight, bias), [batch, T, D]);
    let h = tf.reshape(tf.add(emb, this.v('pos_embed')), [batch * T, D]) as tf.Tensor2D;
    for (let i = 0; i < c.depth; i++) h = this.#block(h, i, batch);
    const cls = tf.reshape(tf.slice(tf.reshape(h, [batch, T, D]), [0, 0, 0], [batch, 1, D]), [batch, D]) as tf.Tensor2D;
    // The final norm is per token, so normalising the class token alone equals timm's norm-then-pool.
    const embedding = this.#norm(cls, 'norm');
    const logits = linear(embedding, this.v('head.weight') as tf.Tensor2D, this.v('head.bias') as tf.Tensor1D);
    return { logits, embedding };
  }

  #norm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return layerNormVit(x, this.v(`${name}.weight`) as tf.Tensor1D, this.v(`${name}.bias`) as tf.Tensor1D, this.config.layerNormEps);
  }

  #linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return linear(x, this.v(`${name}.weight`) as tf.Tensor2D, this.v(`${name}.bias`) as tf.Tensor1D);
  }

  #block(h: tf.Tensor2D, i: number, batch: number): tf.Tensor2D {
    const c = this.config;
    const p = `blocks.${i}`;
    const qkv = this.#linear(this.#norm(h, `${p}.norm1`), `${p}.attn.qkv`);
    const ctx = attention(qkv, { batch, seq: vitTokens(c), heads: c.heads, ropeTheta: 0, causal: false, dropout: 0, seed: 0 });
    const a = tf.add(h, this.#linear(ctx, `${p}.attn.proj`)) as tf.Tensor2D;
    const f = geluErf(this.#linear(this.#norm(a, `${p}.norm2`), `${p}.mlp.fc1`)) as tf.Tensor2D;
    return tf.add(a, this.#linear(f, `${p}.mlp.fc2`)) as tf.Tensor2D;
  }

  /** Current weights in timm's layout (one float32 array per variable, timm's names). */
  toArrays(): Record<string, NdArray> {
    const out: Record<string, NdArray> = {};
    for (const s of this.specs) out[s.name] = { dtype: 'float32', shape: [...s.shape], data: toTimm(s, (this.v(s.name).dataSync() as Float32Array).slice()) };
    return out;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

function checkedArray(arrays: Readonly<Record<string, NdArray>>, s: VariableSpec, source: string, about: ErrorSubject): Float32Array {
  const a = arrays[s.name];
  if (!a) throw weightError(about, 'layout', `${source}: missing weight "${s.name}" (shape [${s.shape.join(', ')}])`);
  if (a.dtype !== 'float32') throw weightError(about, 'layout', `${source}: weight "${s.name}" is ${a.dtype}, expected float32`);
  if (a.shape.length !== s.shape.length || a.shape.some((d, i) => d !== s.shape[i])) {
    throw weightError(about, 'layout', `${source}: weight "${s.name}" has shape [${a.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
  }
  const data = a.data as Float32Array;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) throw weightError(about, 'value', `${source}: weight "${s.name}" has a non-finite value at index ${i}`);
  return data;
}
