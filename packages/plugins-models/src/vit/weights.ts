/**
 * Import of timm VisionTransformer weights (e.g. `vit_base_patch16_224.safetensors`) into a
 * ViT config: every expected tensor checked by name and shape (errors name the file and
 * tensor), unexpected tensors reported and ignored, a new head when the class count differs,
 * and position embeddings resampled to another patch grid as timm's `resample_abs_pos_embed`
 * does (class token kept, grid resized with antialiased bicubic interpolation, align_corners
 * False — PyTorch's `F.interpolate(..., mode='bicubic', antialias=True)`).
 */
import { FairtuneError, type NdArray } from '@fairtune/core/plugin';
import { vitHeadSpecs, vitSpecs, vitTokens, type VitConfig } from './config.js';

export interface TimmImport {
  /** Arrays for Vit.fromArrays (head missing when `newHead`: the caller initialises one). */
  readonly arrays: Record<string, NdArray>;
  /** Tensors in the file the model does not use. */
  readonly ignored: string[];
  /** The file's head has another class count (or none): a fresh head is needed. */
  readonly newHead: boolean;
  /** Position embeddings resampled from grid `from` to grid `to` (sides). */
  readonly resampled?: { from: number; to: number };
}

/** PIL/PyTorch antialiased cubic filter, a = −0.5. */
function cubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/**
 * Resampling weights of one axis (input n → output m), as PyTorch's antialiased interpolation
 * computes them: support 2·scale when shrinking (2 when growing), centre scale·(i + ½), taps
 * clipped to the input and renormalised. Returns a dense [m, n] matrix.
 */
export function aaBicubicMatrix(n: number, m: number): Float64Array {
  const scale = n / m;
  const support = scale >= 1 ? 2 * scale : 2;
  const inv = scale >= 1 ? 1 / scale : 1;
  const w = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const center = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), n);
    let total = 0;
    for (let j = lo; j < hi; j++) total += cubic((j - center + 0.5) * inv);
    for (let j = lo; j < hi; j++) w[i * n + j] = total !== 0 ? cubic((j - center + 0.5) * inv) / total : 0;
  }
  return w;
}

/** Resamples pos_embed [1, 1 + g², D] to [1, 1 + G², D] (class token kept, grid resized). */
export function resamplePosEmbed(pos: Float32Array, from: number, to: number, dim: number): Float32Array {
  const W = aaBicubicMatrix(from, to);
  const out = new Float32Array((1 + to * to) * dim);
  out.set(pos.subarray(0, dim));
  // Separable: rows first (grid y), then columns (grid x), in float64.
  const tmp = new Float64Array(to * from * dim);
  for (let y = 0; y < to; y++) {
    for (let j = 0; j < from; j++) {
      const wy = W[y * from + j]!;
      if (wy === 0) continue;
      for (let x = 0; x < from; x++) {
        const src = (1 + j * from + x) * dim;
        const dst = (y * from + x) * dim;
        for (let d = 0; d < dim; d++) tmp[dst + d] += wy * pos[src + d]!;
      }
    }
  }
  for (let y = 0; y < to; y++) {
    for (let x = 0; x < to; x++) {
      const dst = (1 + y * to + x) * dim;
      for (let j = 0; j < from; j++) {
        const wx = W[x * from + j]!;
        if (wx === 0) continue;
        const src = (y * from + j) * dim;
        for (let d = 0; d < dim; d++) out[dst + d] += wx * tmp[src + d]!;
      }
    }
  }
  return out;
}

/**
 * Maps a timm state dict onto `config`. The file's sizes must match the config's (dim, depth,
 * patch size, MLP width); the image size and class count may differ. A tensor that does not map
 * is FT_CHECKPOINT_MAPPING about `file` (when given).
 */
export function importTimm(tensors: Readonly<Record<string, NdArray>>, config: VitConfig, source: string, file?: string): TimmImport {
  const unmapped = (message: string) => new FairtuneError('FT_CHECKPOINT_MAPPING', message, file !== undefined ? { file } : {});
  const specs = vitSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const headNames = new Set(vitHeadSpecs(config).map((s) => s.name));
  const arrays: Record<string, NdArray> = {};
  const shape = (a: NdArray) => `[${a.shape.join(', ')}]`;
  const fileHead = tensors['head.weight'];
  const newHead = !fileHead || fileHead.shape.length !== 2 || fileHead.shape[0] !== config.numClasses || !tensors['head.bias'];
  if (fileHead && fileHead.shape[1] !== config.dim) throw unmapped(`${source}: tensor "head.weight" has shape ${shape(fileHead)}, its input width should be the model's dim ${config.dim}`);
  let resampled: TimmImport['resampled'];
  for (const s of specs) {
    if (headNames.has(s.name) && newHead) continue;
    const a = tensors[s.name];
    if (!a) throw unmapped(`${source}: missing tensor "${s.name}" (expected shape [${s.shape.join(', ')}]); is this a timm VisionTransformer checkpoint with depth ${config.depth}?`);
    if (s.name === 'pos_embed' && a.shape.length === 3 && a.shape[2] === config.dim && a.shape[0] === 1 && a.shape[1] !== vitTokens(config)) {
      const from = Math.round(Math.sqrt(a.shape[1]! - 1));
      if (from * from !== a.shape[1]! - 1) throw unmapped(`${source}: tensor "pos_embed" has ${a.shape[1]} tokens, not 1 class token + a square patch grid`);
      const to = config.imageSize / config.patchSize;
      arrays[s.name] = { dtype: 'float32', shape: [...s.shape], data: resamplePosEmbed(a.data as Float32Array, from, to, config.dim) };
      resampled = { from, to };
      continue;
    }
    if (a.shape.length !== s.shape.length || a.shape.some((d, i) => d !== s.shape[i])) {
      throw unmapped(`${source}: tensor "${s.name}" has shape ${shape(a)}, the model (dim ${config.dim}, patch ${config.patchSize}, MLP ×${config.mlpRatio}) expects [${s.shape.join(', ')}]`);
    }
    arrays[s.name] = a;
  }
  const ignored = Object.keys(tensors).filter((k) => !expected.has(k)).sort();
  return { arrays, ignored, newHead, ...(resampled ? { resampled } : {}) };
}
