/**
 * The PPG-Distill → PPG-GPT converter on small checkpoints written here: a state dict arranged
 * by hand from one of our models (transposed Linear weights, q/k/v split, `sep` as a vector,
 * rotary frequencies as rotary_embedding_torch stores them) must convert back to a model whose
 * outputs equal the original's; every problem of a bad checkpoint is listed by name. The
 * PyTorch forward itself is checked by the opt-in oracle (convert-oracle.spec.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, runStandalone, type NdArray } from '@fairtune/core';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { initEngine } from '../engine/backend.js';
import { PRESETS, backboneSpecs, type PpgGptConfig } from './config.js';
import { CheckpointMappingError, convertPpgDistill } from './convert.js';
import { PpgGpt } from './model.js';
import { readSafetensors, writeSafetensors } from './weights.js';
import { ModelsCommand } from '../cli/models-command.js';
import { PpgGptModelStage } from '../stages/model-ppg-gpt.js';

// d 16, 2 heads of width 8 (4 rotary dims: 2 frequencies), 2 layers, patch 4, 5 tokens.
const C: PpgGptConfig = { ...PRESETS.tiny, windowLength: 16, patchSize: 4, dModel: 16, nHeads: 2, nLayers: 2, dropout: 0.1, attentionDropout: 0.1 };

beforeAll(async () => {
  await initEngine();
});

/** Every variable random, norms around 1 and biases non-zero, so any misplaced value shows in the outputs. */
function ourWeights(c: PpgGptConfig, seed: number): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  for (const s of backboneSpecs(c)) {
    const rng = Rng.derive(seed, s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    const base = s.init === 'ones' ? 1 : 0;
    const std = s.init === 'ones' ? 0.2 : s.isBias ? 0.1 : 1 / Math.sqrt(s.shape[0]!);
    out[s.name] = { dtype: 'float32', shape: [...s.shape], data: Float32Array.from({ length: n }, () => base + rng.normal(0, std)) };
  }
  return out;
}

const t = (shape: number[], data: Float32Array): NdArray => ({ dtype: 'float32', shape, data });

/** [rows, cols] → [cols, rows], written out separately from the converter's. */
function torchLinear(w: NdArray, cols?: [number, number]): NdArray {
  const [inDim, outDim] = w.shape as [number, number];
  const [c0, c1] = cols ?? [0, outDim];
  const src = w.data as Float32Array;
  const out = new Float32Array((c1 - c0) * inDim);
  for (let o = c0; o < c1; o++) for (let i = 0; i < inDim; i++) out[(o - c0) * inDim + i] = src[i * outDim + o]!;
  return t([c1 - c0, inDim], out);
}

/** The PPG-Distill `GPT` state dict holding the same weights, as torch would save it. */
function ppgDistillStateDict(w: Record<string, NdArray>, c: PpgGptConfig): Record<string, NdArray> {
  const d = c.dModel;
  const a = (n: string) => w[n]!;
  const sd: Record<string, NdArray> = {
    'patch_embedding.linear.weight': torchLinear(a('embedding.patch.w')),
    'patch_embedding.linear.bias': a('embedding.patch.b'),
    'patch_embedding.sep': t([d], a('embedding.start').data as Float32Array),
    'head.weight': torchLinear(a('head.lm.w')),
    'head.bias': a('head.lm.b'),
  };
  const r = d / c.nHeads / 2;
  const freqs = Float32Array.from({ length: r / 2 }, (_, i) => Math.pow(c.ropeTheta, (-2 * i) / r));
  for (let i = 0; i < c.nLayers; i++) {
    const g = `gpt_layers.${i}`;
    const b = `blocks.${i}`;
    const bqkv = a(`${b}.attention.bqkv`).data as Float32Array;
    ['w_q', 'w_k', 'w_v'].forEach((name, x) => {
      sd[`${g}.attn.${name}.weight`] = torchLinear(a(`${b}.attention.wqkv`), [x * d, (x + 1) * d]);
      sd[`${g}.attn.${name}.bias`] = t([d], bqkv.slice(x * d, (x + 1) * d));
    });
    sd[`${g}.attn.w_concat.weight`] = torchLinear(a(`${b}.attention.wo`));
    sd[`${g}.attn.w_concat.bias`] = a(`${b}.attention.bo`);
    sd[`${g}.norm_1.scale`] = a(`${b}.norm.attn`);
    sd[`${g}.norm_2.scale`] = a(`${b}.norm.mlp`);
    sd[`${g}.ffn.linear1.weight`] = torchLinear(a(`${b}.mlp.w1`));
    sd[`${g}.ffn.linear1.bias`] = a(`${b}.mlp.b1`);
    sd[`${g}.ffn.linear2.weight`] = torchLinear(a(`${b}.mlp.w2`));
    sd[`${g}.ffn.linear2.bias`] = a(`${b}.mlp.b2`);
    sd[`${g}.attn.attention.rotary_embed.freqs`] = t([r / 2], freqs);
  }
  return sd;
}

/** Encoder output (full and causal attention) and the Logit-Laplace head, flattened. */
function outputs(m: PpgGpt, x: Float32Array, n: number): number[] {
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, [n, m.config.windowLength]);
    const full = m.encode(xt, { causal: false, training: false });
    const causal = m.encode(xt, { causal: true, training: false });
    const { mu, logScale } = m.lmHead(causal, n);
    return [...full.dataSync(), ...mu.dataSync(), ...logScale.dataSync()];
  });
}

function maxDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof CheckpointMappingError) return err.problems;
    throw err;
  }
  throw new Error('expected a CheckpointMappingError');
}

const rng = new Rng(3);
const X = Float32Array.from({ length: 3 * C.windowLength }, () => rng.uniform(0.1, 0.9));
const W = ourWeights(C, 7);

describe('convertPpgDistill', () => {
  it('a checkpoint written through safetensors converts to a model whose outputs equal ours on the same weights', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ppgd-')), 'ckpt.safetensors');
    writeSafetensors(file, ppgDistillStateDict(W, C));
    const res = convertPpgDistill(readSafetensors(file).tensors, { windowLength: C.windowLength, source: file });
    // Heads and θ are read from the rotary frequencies (no --heads given; the default 8 would be wrong here).
    expect(res.config).toEqual({ ...C, windowLength: 16 });
    expect(res.ignored).toEqual(['gpt_layers.0.attn.attention.rotary_embed.freqs', 'gpt_layers.1.attn.attention.rotary_embed.freqs']);
    const ours = PpgGpt.fromArrays(C, W, undefined, 'hand');
    const converted = PpgGpt.fromArrays(res.config, res.arrays, undefined, 'converted');
    try {
      const want = outputs(ours, X, 3);
      expect(maxDiff(outputs(converted, X, 3), want)).toBe(0);
      // The comparison can fail: the same weights with q and k exchanged give other outputs.
      const swapped = ppgDistillStateDict(W, C);
      [swapped['gpt_layers.0.attn.w_q.weight'], swapped['gpt_layers.0.attn.w_k.weight']] = [swapped['gpt_layers.0.attn.w_k.weight']!, swapped['gpt_layers.0.attn.w_q.weight']!];
      const wrong = PpgGpt.fromArrays(C, convertPpgDistill(swapped, { windowLength: 16 }).arrays, undefined, 'swapped');
      expect(maxDiff(outputs(wrong, X, 3), want)).toBeGreaterThan(1e-3);
      wrong.dispose();
    } finally {
      ours.dispose();
      converted.dispose();
    }
  });

  it('removes module. / _orig_mod. / gpt. prefixes, and reports two names that strip to one', () => {
    const sd = ppgDistillStateDict(W, C);
    const prefixed = Object.fromEntries(Object.entries(sd).map(([k, v], i) => [(i % 3 === 0 ? 'module._orig_mod.' : i % 3 === 1 ? 'gpt.' : '_orig_mod.gpt.') + k, v]));
    const res = convertPpgDistill(prefixed, { windowLength: 16 });
    for (const [name, a] of Object.entries(convertPpgDistill(sd, { windowLength: 16 }).arrays)) expect(Array.from(res.arrays[name]!.data)).toEqual(Array.from(a.data));
    const problems = problemsOf(() => convertPpgDistill({ ...sd, 'module.head.bias': sd['head.bias']! }, { windowLength: 16 }));
    expect(problems).toEqual(['"module.head.bias" and "head.bias" both name "head.bias" once wrapper prefixes (module., _orig_mod., gpt.) are removed']);
  });

  it('lists every problem at once: a missing, a wrong-shaped and an unexpected tensor, each by name', () => {
    const sd = ppgDistillStateDict(W, C);
    delete sd['gpt_layers.1.attn.w_k.bias'];
    sd['gpt_layers.0.ffn.linear1.weight'] = t([16, 64], new Float32Array(16 * 64));
    sd['gpt_layers.0.conv.weight'] = t([16, 16, 3], new Float32Array(16 * 16 * 3));
    const problems = problemsOf(() => convertPpgDistill(sd, { windowLength: 16 }));
    expect(problems).toEqual([
      '"gpt_layers.0.ffn.linear1.weight" has shape [16, 64], expected [64, 16] (for blocks.0.mlp.w1)',
      '"gpt_layers.1.attn.w_k.bias" is missing (shape [16], for blocks.1.attention.bqkv)',
      '"gpt_layers.0.conv.weight" [16, 16, 3] is not a PPG-GPT weight (a with_conv=True model: its causal convolution has no counterpart in PPG-GPT)',
    ]);
    const err = (() => {
      try {
        convertPpgDistill(sd, { windowLength: 16, source: 'checkpoint x.safetensors' });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toMatch(/^checkpoint x\.safetensors: 3 problem\(s\)/);
  });

  it('a missing layer in the middle is reported tensor by tensor; an "mse" head by its width', () => {
    const sd = ppgDistillStateDict(W, { ...C });
    for (const k of Object.keys(sd)) if (k.startsWith('gpt_layers.0.') && !k.includes('rotary')) delete sd[k];
    sd['head.weight'] = t([4, 16], new Float32Array(64));
    const problems = problemsOf(() => convertPpgDistill(sd, { windowLength: 16 }));
    expect(problems).toHaveLength(15); // 14 tensors of layer 0 and the head
    expect(problems).toContain('"gpt_layers.0.attn.w_q.weight" is missing (shape [16, 16], for blocks.0.attention.wqkv)');
    expect(problems).toContain('"head.weight" has shape [4, 16], expected [8, 16] (for head.lm.w) (PPG-GPT\'s Logit-Laplace head has 2·patch_size = 8 outputs, μ then log b; a checkpoint trained with loss "mse" has 4)');
  });

  it('an unexpected extra tensor fails the conversion, or is listed as ignored with allowExtra', () => {
    const sd = { ...ppgDistillStateDict(W, C), 'linear.weight': t([1, 80], new Float32Array(80)) };
    expect(problemsOf(() => convertPpgDistill(sd, { windowLength: 16 }))).toEqual([
      '"linear.weight" [1, 80] is not a PPG-GPT weight (a fine-tuning head of GPT_with_linearOutput; pass --allow-extra to import the backbone alone)',
    ]);
    expect(convertPpgDistill(sd, { windowLength: 16, allowExtra: true }).ignored).toContain('linear.weight');
  });

  it('heads: from --heads (default 8) without rotary frequencies, checked against them when present', () => {
    const sd = ppgDistillStateDict(W, C);
    const noFreqs = Object.fromEntries(Object.entries(sd).filter(([k]) => !k.includes('rotary')));
    expect(convertPpgDistill(noFreqs, { windowLength: 16, heads: 2 }).config.nHeads).toBe(2);
    // Default 8 heads of d 16 = width 2, too narrow for RoPE on half of each head.
    expect(problemsOf(() => convertPpgDistill(noFreqs, { windowLength: 16 }))).toEqual(['inferred config: head dimension 2 must be a multiple of 4 (RoPE rotates pairs on half of it)']);
    expect(problemsOf(() => convertPpgDistill(noFreqs, { windowLength: 16, heads: 3 }))).toEqual(['inferred config: dModel 16 is not divisible by nHeads 3 (pass --heads with a divisor of d_model)']);
    expect(problemsOf(() => convertPpgDistill(sd, { windowLength: 16, heads: 4 }))).toEqual(['--heads 4 disagrees with the checkpoint: its rotary frequencies (2 per head) imply 2 heads of width 8']);
    expect(problemsOf(() => convertPpgDistill(sd, { windowLength: 18 }))).toEqual(['inferred config: windowLength 18 is not a multiple of patchSize 4']);
  });
});

function cli(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b) => (out += String(b)));
  stderr.on('data', (b) => (err += String(b)));
  return new ModelsCommand().run(argv, { cwd, stdout, stderr, env: {} }).then((code) => ({ code, out, err }));
}

describe('fairtune models import', () => {
  it('writes PPG-GPT weights with the sizes in __metadata__.config, which model.ppg-gpt picks up over an explicit preset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ppgd-cli-'));
    writeSafetensors(join(dir, 'ckpt.safetensors'), Object.fromEntries(Object.entries(ppgDistillStateDict(W, C)).map(([k, v]) => [`_orig_mod.${k}`, v])));
    const r = await cli(['import', 'ckpt.safetensors', '--out', 'ppg.safetensors', '--window-length', '16'], dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/PPG-GPT d 16, 2 heads, 2 layers, patch 4, window 16 at 40 Hz/);
    const file = readSafetensors(join(dir, 'ppg.safetensors'));
    expect(JSON.parse(file.metadata['config']!)).toEqual(C);
    // The shipped pipelines pass a preset; the file's sizes must still win.
    const stage = await runStandalone(new PpgGptModelStage(), { params: { preset: 'tiny', weights: join(dir, 'ppg.safetensors') } });
    for (const s of backboneSpecs(C)) expect(Array.from(stage.outputs['backbone']!.arrays[s.name]!.data)).toEqual(Array.from(W[s.name]!.data));
  });

  it('exits 2 naming the problem: a PyTorch zip, an unmappable checkpoint, bad flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ppgd-cli-'));
    writeFileSync(join(dir, 'gpt_19M.pt'), Buffer.from('PK\u0003\u0004rest-of-zip'));
    const pt = await cli(['import', 'gpt_19M.pt', '--out', 'x.safetensors'], dir);
    expect(pt.code).toBe(2);
    expect(pt.err).toMatch(/gpt_19M\.pt is a PyTorch pickle \(zip archive\), not safetensors.*\n.*pt_to_safetensors\.py gpt_19M\.pt gpt_19M\.safetensors/);
    const sd = ppgDistillStateDict(W, C);
    delete sd['head.bias'];
    writeSafetensors(join(dir, 'bad.safetensors'), sd);
    const bad = await cli(['import', 'bad.safetensors', '--out', 'x.safetensors', '--window-length', '16'], dir);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('"head.bias" is missing (shape [8], for head.lm.b)')]);
    expect((await cli(['import', 'bad.safetensors'], dir)).err).toMatch(/--out <weights.safetensors> is required/);
    expect((await cli(['import', 'bad.safetensors', '--out', 'x', '--heads', '0'], dir)).err).toMatch(/--heads must be a positive integer, got "0"/);
    expect((await cli(['import', 'bad.safetensors', '--out', 'x', '--layout', 'timm'], dir)).err).toMatch(/--layout must be "ppg-distill"/);
    expect((await cli(['export'], dir)).err).toMatch(/unknown subcommand "export"/);
  });
});
