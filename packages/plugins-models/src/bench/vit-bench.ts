/**
 * bench:vit — ms per ViT training step (full fine-tuning, BCE on one logit, Adam) on the wasm
 * backend with the fused kernels, against PyTorch (bench/vit_torch_bench.py, /usr/bin/python3,
 * 1 thread) on the same shapes. ViT-S/16 at batch 32 exceeds the wasm32 heap (memory guard), so
 * it runs at the largest batch the guard allows and prints that batch.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../engine/backend.js';
import { Adam } from '../train/optimizer.js';
import { VIT_PRESETS, patchValues, vitParameterCount, vitTokens, type VitPresetName } from '../vit/config.js';
import { maxBatch } from '../vit/memory.js';
import { Vit } from '../vit/model.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'vit_torch_bench.py');

function tfjsStep(preset: VitPresetName, batch: number, warmup: number, steps: number): number {
  const c = VIT_PRESETS[preset];
  const m = Vit.create(c, 1);
  const tok = tf.randomNormal([batch * vitTokens(c), patchValues(c) + 1]) as tf.Tensor2D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 2));
  const opt = new Adam({ weightDecay: 0, decoupled: false });
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(y, tf.reshape(m.forward(tok, batch).logits, [batch])) as tf.Scalar, [...m.vars.values()]);
    value.dataSync();
    value.dispose();
    const named: Record<string, tf.Tensor> = {};
    for (const [k, v] of m.vars) named[k] = grads[v.name]!;
    opt.apply(m.vars, named, 1e-4);
    for (const g of Object.values(grads)) g.dispose();
    if (i >= warmup) times.push(performance.now() - t0);
  }
  m.dispose();
  opt.dispose();
  tok.dispose();
  y.dispose();
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  const info = await initEngine(process.env['FAIRTUNE_BACKEND'] ?? 'wasm');
  console.log(`backend: ${info.detail}; PyTorch: ${SCRIPT} (1 thread)`);
  console.log('| preset | batch | tfjs ms/step | torch ms/step | tfjs / torch |\n|---|---:|---:|---:|---:|');
  for (const [preset, warmup, steps] of [['tiny', 2, 5], ['vit-s16', 1, 2]] as const) {
    const c = VIT_PRESETS[preset];
    const batch = Math.min(32, maxBatch(c, vitParameterCount(c)));
    const ours = tfjsStep(preset, batch, warmup, steps);
    const torch = Number(execFileSync('/usr/bin/python3', [SCRIPT, ...[c.imageSize, c.patchSize, c.dim, c.depth, c.heads, batch, warmup, steps].map(String)], { encoding: 'utf8' }).trim());
    console.log(`| ${preset} | ${batch}${batch < 32 ? ' (32 exceeds the wasm32 heap)' : ''} | ${ours.toFixed(0)} | ${torch.toFixed(0)} | ${(ours / torch).toFixed(2)}× |`);
  }
}

await main();
