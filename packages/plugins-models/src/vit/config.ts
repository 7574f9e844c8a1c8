/**
 * Vision Transformer configuration, presets and variable specs with timm's names and shapes
 * (`timm.models.vision_transformer.VisionTransformer`, class-token pooling, pre-norm blocks,
 * LayerNorm eps 1e-6, exact-erf GELU, MLP ratio 4, qkv with bias).
 *
 * Specs carry timm's (PyTorch) shapes: Linear weights [out, in], the patch projection
 * [D, 3, p, p]. That is the layout of artifacts and safetensors files; the model keeps its
 * variables transposed internally (see model.ts) because wasm's fast matmul path is the
 * untransposed 2-D product.
 */
import { FairtuneError } from '@fairtune/core/plugin';
import type { ParamGroup, VariableSpec } from '../ppg-gpt/config.js';

export interface VitConfig {
  /** Square input side in pixels. */
  readonly imageSize: number;
  readonly patchSize: number;
  /** Embedding width D. */
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  /** Hidden width of the MLP as a multiple of D (timm: 4). */
  readonly mlpRatio: number;
  /** Output logits of the head (1 for binary classification with BCE; 1000 for ImageNet checkpoints). */
  readonly numClasses: number;
  readonly layerNormEps: number;
}

export type VitPresetName = 'tiny' | 'small' | 'vit-s16' | 'vit-b16';

const BASE = { mlpRatio: 4, numClasses: 1, layerNormEps: 1e-6 };

/**
 * - `tiny`: CPU-sized for tests and the out-of-the-box run: 32×32 input, 8×8 patches (16 tokens
 *   + CLS), D 64, depth 4, 4 heads (head dim 16), ≈ 0.2 M parameters.
 * - `small`: 64×64, patch 8 (64 tokens + CLS), D 128, depth 6, 4 heads, ≈ 1.2 M parameters.
 * - `vit-s16` / `vit-b16`: timm's vit_small_patch16_224 / vit_base_patch16_224 (224², patch 16).
 */
export const VIT_PRESETS: Readonly<Record<VitPresetName, VitConfig>> = {
  tiny: { ...BASE, imageSize: 32, patchSize: 8, dim: 64, depth: 4, heads: 4 },
  small: { ...BASE, imageSize: 64, patchSize: 8, dim: 128, depth: 6, heads: 4 },
  'vit-s16': { ...BASE, imageSize: 224, patchSize: 16, dim: 384, depth: 12, heads: 6 },
  'vit-b16': { ...BASE, imageSize: 224, patchSize: 16, dim: 768, depth: 12, heads: 12 },
};

/**
 * Throws a FairtuneError for sizes the ViT cannot have: FT_PARAM_INVALID naming the config key
 * (`imageSize` as model.vit calls it) for a config made from params, FT_INPUT_CONTENT for the
 * stored config of an artifact read from input `port`.
 */
export function validateVitConfig(c: VitConfig, where = 'ViT config', port?: string): void {
  const bad = (param: keyof VitConfig, msg: string) => {
    throw port !== undefined ? new FairtuneError('FT_INPUT_CONTENT', `${where}: ${msg}`, { port }) : new FairtuneError('FT_PARAM_INVALID', `${where}: ${msg}`, { param });
  };
  for (const k of ['imageSize', 'patchSize', 'dim', 'depth', 'heads', 'mlpRatio', 'numClasses'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(k, `${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.imageSize % c.patchSize !== 0) bad('imageSize', `imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.dim % c.heads !== 0) bad('heads', `dim ${c.dim} is not divisible by heads ${c.heads}`);
  if (!(c.layerNormEps > 0)) bad('layerNormEps', `layerNormEps must be > 0, got ${c.layerNormEps}`);
}

/** Patches per image (the grid side squared). */
export function numPatches(c: VitConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}

/** Tokens per image: the patches plus the class token. */
export function vitTokens(c: VitConfig): number {
  return numPatches(c) + 1;
}

/** Values per flattened patch: 3 channels × p × p, in timm's (channel, row, column) order. */
export function patchValues(c: VitConfig): number {
  return 3 * c.patchSize * c.patchSize;
}

function spec(name: string, shape: number[], group: ParamGroup, init: VariableSpec['init'], block?: number): VariableSpec {
  return { name, shape, group, init, isBias: name.endsWith('.bias'), ...(block !== undefined ? { block } : {}) };
}

/**
 * Every variable with timm's name and PyTorch shape, in timm's state-dict order. Groups: the
 * embedding (`cls_token`, `pos_embed`, `patch_embed.proj`), per-block `norm` (norm1, norm2),
 * `attention` (qkv, proj) and `mlp` (fc1, fc2), the final `norm` (group norm without a block: the
 * `layernorm` preset trains it, as FairTune's tune_layernorm does; bit strings never do), `head`.
 */
export function vitSpecs(c: VitConfig): VariableSpec[] {
  const d = c.dim;
  const h = c.mlpRatio * d;
  const p = c.patchSize;
  const out: VariableSpec[] = [
    spec('cls_token', [1, 1, d], 'embedding', 'normal'),
    spec('pos_embed', [1, vitTokens(c), d], 'embedding', 'normal'),
    spec('patch_embed.proj.weight', [d, 3, p, p], 'embedding', 'normal'),
    spec('patch_embed.proj.bias', [d], 'embedding', 'zeros'),
  ];
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}`;
    out.push(
      spec(`${b}.norm1.weight`, [d], 'norm', 'ones', i),
      spec(`${b}.norm1.bias`, [d], 'norm', 'zeros', i),
      spec(`${b}.attn.qkv.weight`, [3 * d, d], 'attention', 'normal', i),
      spec(`${b}.attn.qkv.bias`, [3 * d], 'attention', 'zeros', i),
      spec(`${b}.attn.proj.weight`, [d, d], 'attention', 'normal', i),
      spec(`${b}.attn.proj.bias`, [d], 'attention', 'zeros', i),
      spec(`${b}.norm2.weight`, [d], 'norm', 'ones', i),
      spec(`${b}.norm2.bias`, [d], 'norm', 'zeros', i),
      spec(`${b}.mlp.fc1.weight`, [h, d], 'mlp', 'normal', i),
      spec(`${b}.mlp.fc1.bias`, [h], 'mlp', 'zeros', i),
      spec(`${b}.mlp.fc2.weight`, [d, h], 'mlp', 'normal', i),
      spec(`${b}.mlp.fc2.bias`, [d], 'mlp', 'zeros', i),
    );
  }
  out.push(spec('norm.weight', [d], 'norm', 'ones'), spec('norm.bias', [d], 'norm', 'zeros'), ...vitHeadSpecs(c));
  return out;
}

export function vitHeadSpecs(c: VitConfig): VariableSpec[] {
  return [spec('head.weight', [c.numClasses, c.dim], 'head', 'normal'), spec('head.bias', [c.numClasses], 'head', 'zeros')];
}

/**
 * How a stored (timm-layout) variable maps to the model's internal layout: Linear weights
 * [out, in] are kept as [in, out]; the patch projection [D, 3, p, p] as [3·p·p, D]
 * (rows in (channel, row, column) order, the order patches are flattened in).
 */
export function internalLayout(s: VariableSpec): 'transpose' | 'patch' | 'as-is' {
  if (s.name === 'patch_embed.proj.weight') return 'patch';
  return s.name.endsWith('.weight') && s.shape.length === 2 ? 'transpose' : 'as-is';
}

/** Number of parameters of a ViT (analytic; equals countParameters(vitSpecs(c))). */
export function vitParameterCount(c: VitConfig): number {
  const d = c.dim;
  const h = c.mlpRatio * d;
  const k = patchValues(c);
  const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (h * d + h) + (d * h + d);
  return d + vitTokens(c) * d + (k * d + d) + c.depth * block + 2 * d + (c.numClasses * d + c.numClasses);
}
