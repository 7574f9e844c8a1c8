/**
 * Opt-in oracle (FAIRTUNE_TORCH_ORACLE=1, `npm run oracle:ppg-import`): a PPG-GPT built in plain
 * PyTorch with PPG-Distill's module names (oracle/ppg_distill_reference.py, Debian python3-torch at
 * /usr/bin/python3) saves a `.pt` checkpoint; the documented path converts it (scripts/
 * pt_to_safetensors.py, then `fairtune models import`) and the loaded model's encoder outputs
 * (full attention as in fine-tuning, causal as in pretraining) and Logit-Laplace head (μ, log b)
 * must equal PyTorch's to 1e-5.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@fairtune/core';
import { initEngine } from '../engine/backend.js';
import { ModelsCommand, PT_SCRIPT } from '../cli/models-command.js';
import { readSafetensors } from './weights.js';
import { PpgGpt, preprocessWindows } from './model.js';
import type { PpgGptConfig } from './config.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'oracle', 'ppg_distill_reference.py');
const wanted = process.env['FAIRTUNE_TORCH_ORACLE'] === '1';
const torchOk = wanted && spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
if (!wanted) console.warn('PPG-Distill import oracle skipped: set FAIRTUNE_TORCH_ORACLE=1 (npm run oracle:ppg-import)');
else if (!torchOk) console.warn(`PPG-Distill import oracle SKIPPED: ${PYTHON} cannot import torch and numpy (apt-get install python3-torch)`);
const maybe = torchOk ? describe : describe.skip;

interface Reference {
  full: number[];
  causal: number[];
  mu: number[];
  logb: number[];
}

interface Case {
  n: number;
  d: number;
  heads: number;
  layers: number;
}
const PATCH = 40;
const WINDOW = 1200; // GPT-PPG's input: 30 patches of 40 samples

/** Raw windows (PPG-like pulse at varying rate, offset and noise), min-max scaled by both sides. */
function windows(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * WINDOW);
  for (let i = 0; i < n; i++) {
    const hz = rng.uniform(0.8, 2.5);
    const offset = rng.uniform(-50, 50);
    for (let j = 0; j < WINDOW; j++) out[i * WINDOW + j] = offset + 3 * Math.sin((2 * Math.PI * hz * j) / 40) + Math.sin((4 * Math.PI * hz * j) / 40 + 1) + 0.3 * rng.normal();
  }
  return out;
}

async function importCheckpoint(dir: string, c: Case, rope: 'interleaved' | 'halves'): Promise<{ ref: Reference; model: PpgGpt; x: Float32Array }> {
  const x = windows(c.n, 17);
  writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer));
  const ref = JSON.parse(
    execFileSync(PYTHON, [SCRIPT, dir, join(dir, 'x.f32'), String(c.n), String(c.d), String(c.heads), String(c.layers), String(PATCH), '5', ...(rope === 'halves' ? ['halves'] : [])], { encoding: 'utf8', maxBuffer: 1 << 28 }),
  ) as Reference;
  execFileSync(PYTHON, [PT_SCRIPT, join(dir, 'ckpt.pt'), join(dir, 'ckpt.safetensors')], { encoding: 'utf8' });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (b) => (err += String(b)));
  // No --heads: the count comes from the rotary frequencies in the checkpoint.
  const code = await new ModelsCommand().run(['import', 'ckpt.safetensors', '--out', 'ppg.safetensors'], { cwd: dir, stdout, stderr, env: {} });
  expect(err).toBe('');
  expect(code).toBe(0);
  const file = readSafetensors(join(dir, 'ppg.safetensors'));
  const config = JSON.parse(file.metadata['config']!) as PpgGptConfig;
  expect([config.dModel, config.nHeads, config.nLayers, config.patchSize, config.windowLength]).toEqual([c.d, c.heads, c.layers, PATCH, WINDOW]);
  return { ref, model: PpgGpt.fromArrays(config, file.tensors, undefined, 'converted'), x };
}

function diffs(model: PpgGpt, x: Float32Array, n: number, ref: Reference): Record<keyof Reference, number> {
  const got = tf.tidy(() => {
    const xt = tf.tensor2d(preprocessWindows(x, n, WINDOW), [n, WINDOW]);
    const full = model.encode(xt, { causal: false, training: false });
    const causal = model.encode(xt, { causal: true, training: false });
    const { mu, logScale } = model.lmHead(causal, n);
    return { full: full.dataSync(), causal: causal.dataSync(), mu: mu.dataSync(), logb: logScale.dataSync() };
  });
  const out = {} as Record<keyof Reference, number>;
  for (const k of ['full', 'causal', 'mu', 'logb'] as const) {
    expect(got[k].length).toBe(ref[k].length);
    out[k] = ref[k].reduce((m, v, i) => Math.max(m, Math.abs(v - got[k][i]!)), 0);
  }
  return out;
}

maybe('PPG-Distill checkpoint → fairtune models import → PPG-GPT, against PyTorch (opt-in oracle)', () => {
  beforeAll(async () => {
    await initEngine();
  });

  it.each([
    ['small: d 64, 4 heads, 2 layers, 4 windows', { n: 4, d: 64, heads: 4, layers: 2 }],
    ['19M shape: d 512, 8 heads, 6 layers, 2 windows', { n: 2, d: 512, heads: 8, layers: 6 }],
  ] as const)('encoder (full and causal) and μ / log b agree to 1e-5 (%s)', async (name, c: Case) => {
    const { ref, model, x } = await importCheckpoint(mkdtempSync(join(tmpdir(), 'ppgd-oracle-')), c, 'interleaved');
    try {
      const d = diffs(model, x, c.n, ref);
      console.log(`PPG-Distill import oracle (${name}): max |Δ| full ${d.full.toExponential(2)}, causal ${d.causal.toExponential(2)}, μ ${d.mu.toExponential(2)}, log b ${d.logb.toExponential(2)}`);
      for (const v of Object.values(d)) expect(v).toBeLessThan(1e-5);
    } finally {
      model.dispose();
    }
  }, 300_000);

  it('tells RoPE pairings apart: a reference rotating (first half, second half) pairs does not match', async () => {
    const c = { n: 2, d: 64, heads: 4, layers: 2 };
    const { ref, model, x } = await importCheckpoint(mkdtempSync(join(tmpdir(), 'ppgd-oracle-')), c, 'halves');
    try {
      const d = diffs(model, x, c.n, ref);
      console.log(`PPG-Distill import oracle, reference with half-split RoPE: max |Δ| full ${d.full.toExponential(2)}, causal ${d.causal.toExponential(2)}`);
      expect(d.full).toBeGreaterThan(1e-3);
    } finally {
      model.dispose();
    }
  }, 300_000);
});
