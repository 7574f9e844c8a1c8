/**
 * Opt-in oracle (FAIRTUNE_TORCH_ORACLE=1, `npm run oracle:vit`): the same weights, written as
 * safetensors here, through a plain-PyTorch ViT (oracle/vit_reference.py, Debian python3-torch
 * at /usr/bin/python3); logits, embeddings and resampled position embeddings must agree.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Rng, type NdArray } from '@fairtune/core';
import { initEngine } from '../engine/backend.js';
import { writeSafetensors } from '../io/safetensors.js';
import { vitSpecs, vitTokens, type VitConfig } from './config.js';
import { imageTokens } from './images.js';
import { Vit } from './model.js';
import { resamplePosEmbed } from './weights.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'oracle', 'vit_reference.py');
const wanted = process.env['FAIRTUNE_TORCH_ORACLE'] === '1';
const torchOk = wanted && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!wanted) console.warn('ViT torch oracle skipped: set FAIRTUNE_TORCH_ORACLE=1 (npm run oracle:vit)');
else if (!torchOk) console.warn(`ViT torch oracle SKIPPED: ${PYTHON} cannot import torch (apt-get install python3-torch)`);
const maybe = torchOk ? describe : describe.skip;

const NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

/** Weights with a spread large enough that every LayerNorm/GELU/softmax detail shows in the logits. */
function randomWeights(c: VitConfig, seed: number): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  for (const s of vitSpecs(c)) {
    const rng = Rng.derive(seed, s.name);
    const n = s.shape.reduce((a, b) => a * b, 1);
    const std = s.name.includes('norm') ? 0.3 : s.name.endsWith('bias') ? 0.1 : 1 / Math.sqrt(s.shape[s.shape.length === 4 ? 1 : s.shape.length - 1]! * (s.shape.length === 4 ? s.shape[2]! ** 2 : 1));
    const base = s.name.includes('norm') && s.name.endsWith('weight') ? 1 : 0;
    out[s.name] = { dtype: 'float32', shape: [...s.shape], data: Float32Array.from({ length: n }, () => base + rng.normal(0, std)) };
  }
  return out;
}

function python(args: string[]): { logits?: number[][]; embedding?: number[][]; resampled?: number[] } {
  return JSON.parse(execFileSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 })) as never;
}

maybe('ViT against a plain-PyTorch reference (opt-in oracle)', () => {
  beforeAll(async () => {
    await initEngine();
  });

  it.each([
    ['tiny-like, 2 blocks', { imageSize: 32, patchSize: 8, dim: 64, depth: 2, heads: 4, mlpRatio: 4, numClasses: 3, layerNormEps: 1e-6 }],
    ['ViT-S/16 head layout at 64², 3 blocks', { imageSize: 64, patchSize: 16, dim: 384, depth: 3, heads: 6, mlpRatio: 4, numClasses: 2, layerNormEps: 1e-6 }],
  ] as const)('logits and embeddings agree (%s)', (_name, c: VitConfig) => {
    const dir = mkdtempSync(join(tmpdir(), 'vit-oracle-'));
    const weights = randomWeights(c, 11);
    writeSafetensors(join(dir, 'w.safetensors'), weights);
    const n = 4;
    const rng = new Rng(5);
    const img = Uint8Array.from({ length: n * c.imageSize ** 2 * 3 }, () => rng.int(256));
    writeFileSync(join(dir, 'x.u8'), img);
    const ref = python([join(dir, 'w.safetensors'), join(dir, 'x.u8'), String(n), String(c.imageSize), String(c.patchSize), String(c.dim), String(c.depth), String(c.heads), NORM.mean.join(','), NORM.std.join(',')]);
    const m = Vit.fromArrays(c, weights, 'oracle weights');
    try {
      const T = vitTokens(c);
      const out = tf.tidy(() => {
        const tok = tf.tensor2d(imageTokens(img, [0, 1, 2, 3], c, NORM), [n * T, 3 * c.patchSize ** 2 + 1]);
        const { logits, embedding } = m.forward(tok, n);
        return { logits: logits.arraySync(), embedding: embedding.arraySync() };
      });
      let maxLogit = 0;
      let maxEmb = 0;
      let scale = 0;
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < c.numClasses; k++) {
          maxLogit = Math.max(maxLogit, Math.abs(out.logits[i]![k]! - ref.logits![i]![k]!));
          scale = Math.max(scale, Math.abs(ref.logits![i]![k]!));
        }
        for (let k = 0; k < c.dim; k++) maxEmb = Math.max(maxEmb, Math.abs(out.embedding[i]![k]! - ref.embedding![i]![k]!));
      }
      console.log(`ViT oracle (${_name}): max |logit diff| ${maxLogit.toExponential(2)} (logits up to ${scale.toFixed(2)}), max |embedding diff| ${maxEmb.toExponential(2)}`);
      expect(scale).toBeGreaterThan(0.1);
      // Tight on purpose: the tanh GELU gives 4e-4 and LayerNorm eps 1e-5 instead of 1e-6 gives 8e-5 / 3e-4 here.
      expect(maxLogit).toBeLessThan(3e-5);
      expect(maxEmb).toBeLessThan(3e-5);
    } finally {
      m.dispose();
    }
  });

  it.each([
    [2, 5],
    [7, 4],
    [14, 4],
  ])('position embeddings resampled %i² → %i² as F.interpolate(bicubic, antialias) does', (from, to) => {
    const dir = mkdtempSync(join(tmpdir(), 'vit-oracle-'));
    const dim = 8;
    const rng = new Rng(from * 31 + to);
    const pos = Float32Array.from({ length: (1 + from * from) * dim }, () => rng.normal());
    const c: VitConfig = { imageSize: from * 4, patchSize: 4, dim, depth: 1, heads: 2, mlpRatio: 4, numClasses: 1, layerNormEps: 1e-6 };
    const w = randomWeights(c, 1);
    w['pos_embed'] = { dtype: 'float32', shape: [1, 1 + from * from, dim], data: pos };
    writeSafetensors(join(dir, 'w.safetensors'), w);
    writeFileSync(join(dir, 'x.u8'), new Uint8Array(c.imageSize ** 2 * 3));
    const ref = python([join(dir, 'w.safetensors'), join(dir, 'x.u8'), '1', String(c.imageSize), '4', String(dim), '1', '2', '0,0,0', '1,1,1', String(from), String(to)]).resampled!;
    const ours = resamplePosEmbed(pos, from, to, dim);
    let maxd = 0;
    for (let i = 0; i < ref.length; i++) maxd = Math.max(maxd, Math.abs(ours[i]! - ref[i]!));
    console.log(`pos_embed ${from}² → ${to}²: max |diff| ${maxd.toExponential(2)}`);
    expect(ours.length).toBe(ref.length);
    expect(maxd).toBeLessThan(1e-5);
  });
});
