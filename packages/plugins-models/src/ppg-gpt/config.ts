/** PPG-GPT configuration, presets and parameter counting (GPT-PPG, arXiv 2503.08015; algorithms.md §2.2). */
import { FairtuneError } from '@fairtune/core/plugin';

export interface PpgGptConfig {
  /** Samples per input window (GPT-PPG: 30 s at 40 Hz = 1200). */
  readonly windowLength: number;
  /** Sampling rate in Hz the model expects. */
  readonly fs: number;
  /** Samples per patch/token (GPT-PPG: 40). */
  readonly patchSize: number;
  readonly dModel: number;
  readonly nHeads: number;
  readonly nLayers: number;
  /** Hidden width of the feed-forward block as a multiple of dModel (GPT-PPG: 4). */
  readonly ffnMultiplier: number;
  /** Dropout on residual branches and inside the FFN. */
  readonly dropout: number;
  /** Dropout on attention probabilities. */
  readonly attentionDropout: number;
  /** RoPE base θ. Rotary dims = half of each head's dims (rotary_embedding_torch(d_head // 2)). */
  readonly ropeTheta: number;
}

export type PresetName = 'tiny' | 'small' | '19m' | '85m' | '345m' | '1b';

const BASE = { windowLength: 1200, fs: 40, patchSize: 40, ffnMultiplier: 4, dropout: 0.1, attentionDropout: 0.1, ropeTheta: 10000 };

/**
 * `tiny`/`small` match the CPU benchmark sizes of tfjs-engine.md; `19m` is the paper's model
 * (d 512, 8 heads, 6 layers: the only published configuration, algorithms.md §2.2).
 *
 * The larger sizes are assumptions (no configuration or weights are public), documented in
 * docs/models.md "Model sizes". The paper's names follow GPT-2's ladder: 12·d²·L (the blocks'
 * weights) gives 18.9M for `19m` and 84.9M for d 768 × 12 layers, GPT-2 small's shape, so `85m`
 * is that shape. `345m` is GPT-2 medium's shape (d 1024, 16 heads, 24 layers), the model GPT-2's
 * authors first called "345M": in this architecture, without GPT-2's 51M-parameter vocabulary
 * embedding, it has 302.4M parameters. `1b` is d 2048, 16 heads, 20 layers (1.007B), the
 * smallest round shape whose count reaches 1B with 128-wide heads. Neither fits the 4 GiB wasm32
 * heap for training (ppg-gpt/memory.ts): they need @tensorflow/tfjs-node(-gpu).
 */
export const PRESETS: Readonly<Record<PresetName, PpgGptConfig>> = {
  tiny: { ...BASE, dModel: 64, nHeads: 4, nLayers: 2 },
  small: { ...BASE, dModel: 128, nHeads: 4, nLayers: 4 },
  '19m': { ...BASE, dModel: 512, nHeads: 8, nLayers: 6 },
  '85m': { ...BASE, dModel: 768, nHeads: 12, nLayers: 12 },
  '345m': { ...BASE, dModel: 1024, nHeads: 16, nLayers: 24 },
  '1b': { ...BASE, dModel: 2048, nHeads: 16, nLayers: 20 },
};

/**
 * Throws a FairtuneError for sizes the model cannot have: FT_PARAM_INVALID naming the param (the
 * config key, as the model stages call it) for a config made from params, FT_INPUT_CONTENT for the
 * stored config of an artifact read from input `port`.
 */
export function validateConfig(c: PpgGptConfig, where = 'model config', port?: string): void {
  const bad = (param: keyof PpgGptConfig, msg: string) => {
    throw port !== undefined ? new FairtuneError('FT_INPUT_CONTENT', `${where}: ${msg}`, { port }) : new FairtuneError('FT_PARAM_INVALID', `${where}: ${msg}`, { param });
  };
  for (const k of ['windowLength', 'patchSize', 'dModel', 'nHeads', 'nLayers', 'ffnMultiplier'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(k, `${k} must be a positive integer, got ${c[k]}`);
  }
  if (!(c.fs > 0)) bad('fs', `fs must be > 0, got ${c.fs}`);
  if (c.windowLength % c.patchSize !== 0) bad('windowLength', `windowLength ${c.windowLength} is not a multiple of patchSize ${c.patchSize}`);
  if (c.dModel % c.nHeads !== 0) bad('nHeads', `dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`);
  const dh = c.dModel / c.nHeads;
  if (dh % 4 !== 0) bad('nHeads', `head dimension ${dh} must be a multiple of 4 (RoPE rotates pairs on half of it)`);
  for (const k of ['dropout', 'attentionDropout'] as const) if (!(c[k] >= 0 && c[k] < 1)) bad(k, `${k} must be in [0, 1), got ${c[k]}`);
}

/** Tokens per window: one per patch plus the learned start token. */
export function sequenceLength(c: PpgGptConfig): number {
  return c.windowLength / c.patchSize + 1;
}

export type ParamGroup = 'embedding' | 'norm' | 'attention' | 'mlp' | 'head';

export interface VariableSpec {
  /** Path-like name, stored as the artifact array name (e.g. `blocks.0.attention.wqkv`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly group: ParamGroup;
  /** Block index for norm/attention/mlp variables. */
  readonly block?: number;
  readonly isBias: boolean;
  /** How the variable is initialised. */
  readonly init: 'normal' | 'zeros' | 'ones';
}

/** Backbone variables (embedding, blocks and the generative Logit-Laplace head `head.lm`). */
export function backboneSpecs(c: PpgGptConfig): VariableSpec[] {
  const d = c.dModel;
  const f = c.ffnMultiplier * d;
  const specs: VariableSpec[] = [
    { name: 'embedding.patch.w', shape: [c.patchSize, d], group: 'embedding', isBias: false, init: 'normal' },
    { name: 'embedding.patch.b', shape: [d], group: 'embedding', isBias: true, init: 'zeros' },
    { name: 'embedding.start', shape: [1, d], group: 'embedding', isBias: false, init: 'normal' },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blocks.${i}`;
    specs.push(
      { name: `${p}.norm.attn`, shape: [d], group: 'norm', block: i, isBias: false, init: 'ones' },
      { name: `${p}.attention.wqkv`, shape: [d, 3 * d], group: 'attention', block: i, isBias: false, init: 'normal' },
      { name: `${p}.attention.bqkv`, shape: [3 * d], group: 'attention', block: i, isBias: true, init: 'zeros' },
      { name: `${p}.attention.wo`, shape: [d, d], group: 'attention', block: i, isBias: false, init: 'normal' },
      { name: `${p}.attention.bo`, shape: [d], group: 'attention', block: i, isBias: true, init: 'zeros' },
      { name: `${p}.norm.mlp`, shape: [d], group: 'norm', block: i, isBias: false, init: 'ones' },
      { name: `${p}.mlp.w1`, shape: [d, f], group: 'mlp', block: i, isBias: false, init: 'normal' },
      { name: `${p}.mlp.b1`, shape: [f], group: 'mlp', block: i, isBias: true, init: 'zeros' },
      { name: `${p}.mlp.w2`, shape: [f, d], group: 'mlp', block: i, isBias: false, init: 'normal' },
      { name: `${p}.mlp.b2`, shape: [d], group: 'mlp', block: i, isBias: true, init: 'zeros' },
    );
  }
  specs.push(
    { name: 'head.lm.w', shape: [d, 2 * c.patchSize], group: 'head', isBias: false, init: 'normal' },
    { name: 'head.lm.b', shape: [2 * c.patchSize], group: 'head', isBias: true, init: 'zeros' },
  );
  return specs;
}

export type Pooling = 'flatten' | 'mean' | 'last';

/** Width of the pooled feature vector the task head sees. */
export function pooledWidth(c: PpgGptConfig, pooling: Pooling): number {
  return pooling === 'flatten' ? sequenceLength(c) * c.dModel : c.dModel;
}

/** Task head (GPT_with_linearOutput): pooled → LayerNorm → GELU → Linear(→1). */
export function taskHeadSpecs(c: PpgGptConfig, pooling: Pooling): VariableSpec[] {
  const w = pooledWidth(c, pooling);
  return [
    { name: 'head.task.norm.gamma', shape: [w], group: 'head', isBias: false, init: 'ones' },
    { name: 'head.task.norm.beta', shape: [w], group: 'head', isBias: true, init: 'zeros' },
    { name: 'head.task.w', shape: [w, 1], group: 'head', isBias: false, init: 'normal' },
    { name: 'head.task.b', shape: [1], group: 'head', isBias: true, init: 'zeros' },
  ];
}

export function countParameters(specs: readonly VariableSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
