/**
 * Converter from the PPG-Distill / GPT-PPG PyTorch state-dict layout (LingFengGold/PPG-Distill
 * `model/gpt.py` class `GPT`, `model/attention.py`, `model/embedding.py`; algorithms.md §2.2) to
 * this project's PPG-GPT variables (config.ts `backboneSpecs`), name by name:
 *
 *   patch_embedding.linear.weight [d, p]      → embedding.patch.w [p, d]   (transposed)
 *   patch_embedding.linear.bias   [d]         → embedding.patch.b
 *   patch_embedding.sep           [d]         → embedding.start [1, d]     (prepended after the Linear, no bias)
 *   gpt_layers.i.norm_1.scale     [d]         → blocks.i.norm.attn
 *   gpt_layers.i.attn.w_{q,k,v}.weight [d, d] → blocks.i.attention.wqkv [d, 3d] (each transposed, q | k | v)
 *   gpt_layers.i.attn.w_{q,k,v}.bias   [d]    → blocks.i.attention.bqkv [3d]
 *   gpt_layers.i.attn.w_concat.{weight,bias}  → blocks.i.attention.{wo (transposed), bo}
 *   gpt_layers.i.norm_2.scale                 → blocks.i.norm.mlp
 *   gpt_layers.i.ffn.linear1.{weight,bias}    → blocks.i.mlp.{w1 (transposed), b1}
 *   gpt_layers.i.ffn.linear2.{weight,bias}    → blocks.i.mlp.{w2 (transposed), b2}
 *   head.{weight,bias}            [2p, d]     → head.lm.{w [d, 2p], b}     (μ channels first, then log b)
 *
 * PyTorch's Linear stores [out, in] and computes x·Wᵀ; this project stores [in, out] and
 * computes x·W, hence the transposes. Heads need no reordering: PPG-Distill splits q/k/v into
 * heads as contiguous dh-wide slices (`view(B, T, H, dh)`) and rotary_embedding_torch rotates
 * interleaved pairs (x₂ᵢ, x₂ᵢ₊₁) of each head's first dh/2 dims, which is what the fused kernel
 * does (engine/rope.spec.ts checks that independently). `gpt_layers.i.attn.attention.rotary_embed.freqs`
 * (rotary_embedding_torch keeps its frequencies as a non-trainable Parameter, so it is in the
 * state dict) is not a weight here; it does fix the head width (dh = 4·len(freqs)) and θ, which are
 * read from it and checked.
 */
import { FairtuneError, type NdArray } from '@fairtune/core/plugin';
import { backboneSpecs, validateConfig, type PpgGptConfig } from './config.js';

export interface ConvertOptions {
  /** Attention heads: the state dict does not store them unless rotary frequencies are present (default 8, the 19M model). */
  readonly heads?: number;
  /** Samples per input window (default 1200 = 30 s at 40 Hz, GPT-PPG's input). */
  readonly windowLength?: number;
  /** Sampling rate the model expects (default 40 Hz). */
  readonly fs?: number;
  /** Report tensors that map to nothing as ignored instead of failing (e.g. a fine-tuned checkpoint's task head). */
  readonly allowExtra?: boolean;
  /** Names the checkpoint in errors (file path). */
  readonly source?: string;
}

export interface ConvertResult {
  /** This project's variables (float32, [in, out] matrices). */
  readonly arrays: Record<string, NdArray>;
  readonly config: PpgGptConfig;
  /** Checkpoint tensors not used: rotary frequency buffers, and unexpected ones under allowExtra. */
  readonly ignored: string[];
  /** Where each setting of `config` came from (for the CLI's summary). */
  readonly notes: string[];
}

/** Everything that did not map, one line per tensor, all of them at once. */
export class CheckpointMappingError extends FairtuneError {
  override readonly name = 'CheckpointMappingError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super('FT_CHECKPOINT_MAPPING', `${source}: ${problems.length} problem(s) mapping the PPG-Distill checkpoint to PPG-GPT variables:\n  - ${problems.join('\n  - ')}`, { file: source });
  }
}

/** Wrapper prefixes a saved module may carry: DataParallel/DDP, torch.compile, GPT_with_linearOutput's `gpt`. */
const PREFIXES = ['module.', '_orig_mod.', 'gpt.'];
const ROTARY = /^gpt_layers\.(\d+)\.attn\.attention\.rotary_embed\.(.+)$/;
const DEFAULT_THETA = 10000;

/** Strips wrapper prefixes (repeatedly: `module._orig_mod.gpt.x` → `x`); two names that strip to one are a problem. */
export function stripPrefixes(tensors: Readonly<Record<string, NdArray>>, problems: string[]): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  const from: Record<string, string> = {};
  for (const [name, t] of Object.entries(tensors)) {
    let key = name;
    for (let again = true; again; ) {
      again = false;
      for (const p of PREFIXES) {
        if (key.startsWith(p)) {
          key = key.slice(p.length);
          again = true;
        }
      }
    }
    if (key in out) problems.push(`"${name}" and "${from[key]}" both name "${key}" once wrapper prefixes (${PREFIXES.join(', ')}) are removed`);
    else {
      out[key] = t;
      from[key] = name;
    }
  }
  return out;
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * FFN width as a multiple of d: the width most of the FFN tensors agree on (PPG-Distill always
 * uses 4), so one wrong-shaped tensor is reported as such instead of resizing every other layer.
 */
function inferFfnMultiplier(sd: Readonly<Record<string, NdArray>>, d: number, layers: number): number {
  const votes = new Map<number, number>();
  for (let i = 0; i < layers; i++) {
    const g = `gpt_layers.${i}.ffn`;
    for (const f of [sd[`${g}.linear1.weight`]?.shape[0], sd[`${g}.linear1.bias`]?.shape[0], sd[`${g}.linear2.weight`]?.shape[1]]) {
      if (f !== undefined && f > 0 && f % d === 0) votes.set(f / d, (votes.get(f / d) ?? 0) + 1);
    }
  }
  let best = 4;
  let most = 0;
  for (const [m, n] of votes) if (n > most || (n === most && m === 4)) [best, most] = [m, n];
  return best;
}

/** Sizes read from the checkpoint; problems are collected rather than thrown so that every one is reported. */
function inferConfig(sd: Readonly<Record<string, NdArray>>, opts: ConvertOptions, problems: string[], notes: string[]): PpgGptConfig | undefined {
  const emb = sd['patch_embedding.linear.weight'];
  if (!emb || emb.shape.length !== 2) {
    problems.push(emb ? `"patch_embedding.linear.weight" has shape ${shapeText(emb.shape)}, expected [d_model, patch_size]` : '"patch_embedding.linear.weight" is missing: d_model and patch_size cannot be inferred (is this a PPG-Distill GPT state dict?)');
    return undefined;
  }
  const [d, p] = emb.shape as [number, number];
  let layers = 0;
  for (const name of Object.keys(sd)) {
    const m = /^gpt_layers\.(\d+)\./.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers === 0) problems.push('no "gpt_layers.{i}.*" tensors: the number of layers cannot be inferred');
  const ffnMultiplier = inferFfnMultiplier(sd, d, layers);
  notes.push(`d_model ${d} and patch size ${p} from patch_embedding.linear.weight ${shapeText(emb.shape)}; ${layers} layer(s) from the highest gpt_layers index; FFN width ${ffnMultiplier}·d`);

  // rotary_embedding_torch(dim = dh/2) stores dim/2 frequencies θ^(−2i/dim): dh = 4·len, θ = f₁^(−dim/2).
  let heads = opts.heads;
  let ropeTheta = DEFAULT_THETA;
  const freqs = sd['gpt_layers.0.attn.attention.rotary_embed.freqs'];
  if (freqs && freqs.shape.length === 1 && freqs.shape[0]! > 0) {
    const f = freqs.data as Float32Array;
    const dh = 4 * f.length;
    const r = dh / 2;
    if (d % dh !== 0) problems.push(`rotary frequencies in "gpt_layers.0.attn.attention.rotary_embed.freqs" (${f.length}) imply a head width of ${dh}, which does not divide d_model ${d}`);
    else {
      const fromFreqs = d / dh;
      if (heads !== undefined && heads !== fromFreqs) problems.push(`--heads ${heads} disagrees with the checkpoint: its rotary frequencies (${f.length} per head) imply ${fromFreqs} heads of width ${dh}`);
      heads = fromFreqs;
      if (f.length > 1) ropeTheta = Math.round(Math.pow(f[1]!, -r / 2));
      const bad = Array.from(f).findIndex((v, i) => Math.abs(v - Math.pow(ropeTheta, (-2 * i) / r)) > 1e-5 * Math.max(1, Math.abs(v)));
      if (bad >= 0 || f[0] !== 1) problems.push(`rotary frequencies in "gpt_layers.0.attn.attention.rotary_embed.freqs" are not θ^(−2i/${r}) for any θ (index ${Math.max(bad, 0)}: ${f[Math.max(bad, 0)]}); only rotary_embedding_torch's default 'lang' frequencies are supported`);
      notes.push(`${heads} heads (head width ${dh}) and RoPE θ ${ropeTheta} from the rotary frequencies`);
    }
  } else {
    heads ??= 8;
    notes.push(`${heads} heads (${opts.heads !== undefined ? '--heads' : 'default, the 19M model; the checkpoint has no rotary frequencies to read it from'}), RoPE θ ${ropeTheta}`);
  }
  const config: PpgGptConfig = {
    windowLength: opts.windowLength ?? 1200,
    fs: opts.fs ?? 40,
    patchSize: p,
    dModel: d,
    nHeads: heads!,
    nLayers: layers,
    ffnMultiplier,
    dropout: 0.1,
    attentionDropout: 0.1,
    ropeTheta,
  };
  if (layers === 0) return undefined;
  try {
    validateConfig(config, 'inferred config');
  } catch (err) {
    problems.push(`${(err as Error).message}${d % heads! !== 0 ? ' (pass --heads with a divisor of d_model)' : ''}`);
    return undefined;
  }
  return config;
}

/** [rows, cols] row-major → [cols, rows]. */
function transpose(t: NdArray): Float32Array {
  const [rows, cols] = t.shape as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

interface Source {
  readonly names: readonly string[];
  /** PyTorch shape of each source tensor. */
  readonly shapes: readonly (readonly number[])[];
  readonly build: (parts: readonly NdArray[]) => Float32Array;
}

/** For each of our variables, the checkpoint tensors it is made of and how. */
function sourcesOf(c: PpgGptConfig): Map<string, Source> {
  const d = c.dModel;
  const f = c.ffnMultiplier * d;
  const p = c.patchSize;
  const copy = (parts: readonly NdArray[]) => Float32Array.from(parts[0]!.data as Float32Array);
  const linT = (parts: readonly NdArray[]) => transpose(parts[0]!);
  const m = new Map<string, Source>();
  m.set('embedding.patch.w', { names: ['patch_embedding.linear.weight'], shapes: [[d, p]], build: linT });
  m.set('embedding.patch.b', { names: ['patch_embedding.linear.bias'], shapes: [[d]], build: copy });
  m.set('embedding.start', { names: ['patch_embedding.sep'], shapes: [[d]], build: copy });
  for (let i = 0; i < c.nLayers; i++) {
    const g = `gpt_layers.${i}`;
    const b = `blocks.${i}`;
    m.set(`${b}.norm.attn`, { names: [`${g}.norm_1.scale`], shapes: [[d]], build: copy });
    m.set(`${b}.attention.wqkv`, {
      names: ['w_q', 'w_k', 'w_v'].map((w) => `${g}.attn.${w}.weight`),
      shapes: [[d, d], [d, d], [d, d]],
      // Row r of ours = input feature r; columns [0,d) q, [d,2d) k, [2d,3d) v: W_x[j, r] → out[r, x·d + j].
      build: (parts) => {
        const out = new Float32Array(d * 3 * d);
        parts.forEach((w, x) => {
          const src = w.data as Float32Array;
          for (let j = 0; j < d; j++) for (let r = 0; r < d; r++) out[r * 3 * d + x * d + j] = src[j * d + r]!;
        });
        return out;
      },
    });
    m.set(`${b}.attention.bqkv`, {
      names: ['w_q', 'w_k', 'w_v'].map((w) => `${g}.attn.${w}.bias`),
      shapes: [[d], [d], [d]],
      build: (parts) => {
        const out = new Float32Array(3 * d);
        parts.forEach((t, x) => out.set(t.data as Float32Array, x * d));
        return out;
      },
    });
    m.set(`${b}.attention.wo`, { names: [`${g}.attn.w_concat.weight`], shapes: [[d, d]], build: linT });
    m.set(`${b}.attention.bo`, { names: [`${g}.attn.w_concat.bias`], shapes: [[d]], build: copy });
    m.set(`${b}.norm.mlp`, { names: [`${g}.norm_2.scale`], shapes: [[d]], build: copy });
    m.set(`${b}.mlp.w1`, { names: [`${g}.ffn.linear1.weight`], shapes: [[f, d]], build: linT });
    m.set(`${b}.mlp.b1`, { names: [`${g}.ffn.linear1.bias`], shapes: [[f]], build: copy });
    m.set(`${b}.mlp.w2`, { names: [`${g}.ffn.linear2.weight`], shapes: [[d, f]], build: linT });
    m.set(`${b}.mlp.b2`, { names: [`${g}.ffn.linear2.bias`], shapes: [[d]], build: copy });
  }
  m.set('head.lm.w', { names: ['head.weight'], shapes: [[2 * p, d]], build: linT });
  m.set('head.lm.b', { names: ['head.bias'], shapes: [[2 * p]], build: copy });
  return m;
}

/** Why a tensor might be in the checkpoint yet not in the model, when that is recognisable. */
function extraHint(name: string, p: number): string {
  if (/^gpt_layers\.\d+\.conv\./.test(name)) return ' (a with_conv=True model: its causal convolution has no counterpart in PPG-GPT)';
  if (/^(linear|linear2|norm1|norm2|attn_pooler|lde_pooler|asp_pooler)\./.test(name)) return ' (a fine-tuning head of GPT_with_linearOutput; pass --allow-extra to import the backbone alone)';
  if (name === 'head.weight' || name === 'head.bias') return ` (PPG-GPT's Logit-Laplace head has 2·patch_size = ${2 * p} outputs, μ then log b; a checkpoint trained with loss "mse" has ${p})`;
  return '';
}

/**
 * Maps a PPG-Distill state dict to PPG-GPT variables. Throws CheckpointMappingError listing every
 * missing, wrong-shaped, duplicated or unexpected tensor.
 */
export function convertPpgDistill(tensors: Readonly<Record<string, NdArray>>, opts: ConvertOptions = {}): ConvertResult {
  const source = opts.source ?? 'checkpoint';
  const problems: string[] = [];
  const notes: string[] = [];
  const sd = stripPrefixes(tensors, problems);
  const config = inferConfig(sd, opts, problems, notes);
  if (!config) throw new CheckpointMappingError(source, problems);

  const used = new Set<string>();
  const ignored: string[] = [];
  for (const name of Object.keys(sd)) {
    const m = ROTARY.exec(name);
    if (m && Number(m[1]) < config.nLayers) {
      used.add(name);
      ignored.push(name);
    }
  }
  const arrays: Record<string, NdArray> = {};
  const sources = sourcesOf(config);
  for (const spec of backboneSpecs(config)) {
    const src = sources.get(spec.name);
    if (!src) throw new Error(`convertPpgDistill: no source rule for "${spec.name}" (converter out of date with config.ts)`);
    const parts: NdArray[] = [];
    src.names.forEach((n, k) => {
      const t = sd[n];
      const want = src.shapes[k]!;
      if (!t) problems.push(`"${n}" is missing (shape ${shapeText(want)}, for ${spec.name})`);
      else {
        used.add(n);
        if (t.shape.length !== want.length || t.shape.some((v, j) => v !== want[j])) problems.push(`"${n}" has shape ${shapeText(t.shape)}, expected ${shapeText(want)} (for ${spec.name})${extraHint(n, config.patchSize)}`);
        else parts.push(t);
      }
    });
    if (parts.length === src.names.length) arrays[spec.name] = { dtype: 'float32', shape: [...spec.shape], data: src.build(parts) };
  }
  for (const [name, t] of Object.entries(sd)) {
    if (used.has(name)) continue;
    if (opts.allowExtra) ignored.push(name);
    else problems.push(`"${name}" ${shapeText(t.shape)} is not a PPG-GPT weight${extraHint(name, config.patchSize)}`);
  }
  if (problems.length) throw new CheckpointMappingError(source, problems);
  return { arrays, config, ignored, notes };
}
