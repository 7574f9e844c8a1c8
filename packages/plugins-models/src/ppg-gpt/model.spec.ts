import * as tf from '@tensorflow/tfjs';
import { initEngine, tensorBackend } from '../engine/backend.js';
import { linear } from '../engine/ops.js';
import { PRESETS, backboneSpecs, countParameters, taskHeadSpecs, type PpgGptConfig } from './config.js';
import { PpgGpt, preprocessWindows } from './model.js';
import { readSafetensors, writeSafetensors } from './weights.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TINY: PpgGptConfig = { ...PRESETS.tiny, windowLength: 80, patchSize: 20, dModel: 16, nHeads: 2, nLayers: 2, dropout: 0.1, attentionDropout: 0.1 };

beforeAll(async () => {
  await initEngine();
});

function input(b: number, seed = 3): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.mul(tf.randomUniform([b, TINY.windowLength], 0, 1, 'float32', seed), 0.8), 0.1) as tf.Tensor2D);
}

describe('PPG-GPT', () => {
  it('runs on the wasm backend by default (no native packages installed)', () => {
    expect(tensorBackend()).toBe('wasm');
  });

  it('counts parameters of the presets (19m ≈ 18.9M as in the paper)', () => {
    const n19 = countParameters(backboneSpecs(PRESETS['19m']));
    expect(n19).toBeGreaterThan(18.9e6);
    expect(n19).toBeLessThan(19.1e6);
    // 12·d²·L + embedding + norms/biases + Logit-Laplace head, by hand for d = 64, L = 2.
    const d = 64;
    const perBlock = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d);
    expect(countParameters(backboneSpecs(PRESETS.tiny))).toBe(40 * d + d + d + 2 * perBlock + d * 80 + 80);
  });

  it('preprocesses windows to [0.1, 0.9] per window', () => {
    const out = preprocessWindows(Float32Array.from([2, 4, 6, 5, 5, 5]), 2, 3);
    expect(Array.from(out)).toEqual([0.1, 0.5, 0.9, 0.5, 0.5, 0.5].map((v) => Math.fround(v)));
  });

  it('produces the documented shapes and is causal in pretraining mode', () => {
    const m = PpgGpt.create(TINY, 1);
    m.addTaskHead('flatten', 2);
    tf.tidy(() => {
      const x = input(3);
      const h = m.encode(x, { causal: true, training: false });
      expect(h.shape).toEqual([3 * 5, 16]);
      const { mu, logScale } = m.lmHead(h, 3);
      expect(mu.shape).toEqual([3, 4, 20]);
      expect(logScale.shape).toEqual([3, 4, 20]);
      const { embedding, output } = m.taskHead(h, 3);
      expect(embedding.shape).toEqual([3, 5 * 16]);
      expect(output.shape).toEqual([3]);
      // Changing the last patch must not change causal outputs at earlier positions.
      const x2 = tf.concat([tf.slice(x, [0, 0], [3, 60]), tf.fill([3, 20], 0.5)], 1) as tf.Tensor2D;
      const a = tf.slice(tf.reshape(h, [3, 5, 16]), [0, 0, 0], [3, 4, 16]);
      const b = tf.slice(tf.reshape(m.encode(x2, { causal: true, training: false }), [3, 5, 16]), [0, 0, 0], [3, 4, 16]);
      expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
      // ...while full attention lets it leak back.
      const fa = tf.reshape(m.encode(x, { causal: false, training: false }), [3, 5, 16]);
      const fb = tf.reshape(m.encode(x2, { causal: false, training: false }), [3, 5, 16]);
      expect(tf.max(tf.abs(tf.sub(fa, fb))).dataSync()[0]).toBeGreaterThan(1e-4);
    });
    m.dispose();
  });

  it('embeds the start token and the patches (start, then patch·W + b per token)', () => {
    const m = PpgGpt.create(TINY, 21);
    // Zero every block projection: each residual branch then adds exactly 0, so encode() returns the embedding.
    for (const [name, v] of m.vars) if (/^blocks\.\d+\.(attention|mlp)\./.test(name)) v.assign(tf.zerosLike(v));
    // A non-zero patch bias, so a start row that forgot to cancel it would show.
    m.v('embedding.patch.b').assign(tf.randomNormal([16], 0, 1, 'float32', 5));
    tf.tidy(() => {
      const x = input(2);
      const h = tf.reshape(m.encode(x, { causal: false, training: false }), [2, 5, 16]);
      const patches = tf.add(tf.matMul(tf.reshape(x, [8, 20]), m.v('embedding.patch.w') as tf.Tensor2D), m.v('embedding.patch.b'));
      const want = tf.concat([tf.tile(tf.reshape(m.v('embedding.start'), [1, 1, 16]), [2, 1, 1]), tf.reshape(patches, [2, 4, 16])], 1);
      expect(tf.max(tf.abs(tf.sub(h, want))).dataSync()[0]).toBeLessThan(1e-6);
    });
    m.dispose();
  });

  it('is deterministic for a seed (initialisation and dropout)', () => {
    const run = (seed: number) => {
      const m = PpgGpt.create(TINY, seed);
      const out = tf.tidy(() => m.encode(input(2), { causal: false, training: true, seed: 7 }).dataSync());
      m.dispose();
      return out;
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  it('round-trips weights through artifact arrays and safetensors with identical outputs', () => {
    const m = PpgGpt.create(TINY, 11);
    m.addTaskHead('mean', 12);
    const arrays = m.toArrays();
    const file = join(mkdtempSync(join(tmpdir(), 'ppg-gpt-')), 'w.safetensors');
    writeSafetensors(file, arrays, { config: JSON.stringify(TINY) });
    const loaded = readSafetensors(file);
    expect(JSON.parse(loaded.metadata['config']!)).toEqual(TINY);
    const m2 = PpgGpt.fromArrays(TINY, loaded.tensors, 'mean', 'test');
    const [a, b] = tf.tidy(() => {
      const x = input(4);
      return [m.taskHead(m.encode(x, { causal: false, training: false }), 4).output.dataSync(), m2.taskHead(m2.encode(x, { causal: false, training: false }), 4).output.dataSync()];
    });
    expect(Array.from(b!)).toEqual(Array.from(a!));
    expect(m2.parameterCount).toBe(countParameters([...backboneSpecs(TINY), ...taskHeadSpecs(TINY, 'mean')]));
    delete (loaded.tensors as Record<string, unknown>)['blocks.1.mlp.w2'];
    expect(() => PpgGpt.fromArrays(TINY, loaded.tensors, 'mean', 'file x')).toThrow(/file x: missing weight "blocks.1.mlp.w2"/);
    // A weights file that does not map onto the model, or an artifact that lacks an array.
    expect(() => PpgGpt.fromArrays(TINY, loaded.tensors, 'mean', 'weights file x', { file: 'x' })).toThrow(expect.objectContaining({ code: 'FT_CHECKPOINT_MAPPING', about: { file: 'x' } }));
    expect(() => PpgGpt.fromArrays(TINY, loaded.tensors, 'mean', 'input "backbone" (model)', { port: 'backbone' })).toThrow(expect.objectContaining({ code: 'FT_ARRAY_MISSING', about: { port: 'backbone' } }));
    m.dispose();
    m2.dispose();
  });

  it('fused linear layer gradients match the plain matMul formulation', () => {
    const x = tf.randomNormal([5, 7], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([7, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, 'float32', 3) as tf.Tensor1D;
    for (const act of ['linear', 'relu'] as const) {
      const f1 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, act)));
      const f2 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
        const y = tf.add(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb);
        return tf.sum(tf.square(act === 'relu' ? tf.relu(y) : y));
      };
      const g1 = tf.grads(f1)([x, w, b]);
      const g2 = tf.grads(f2)([x, w, b]);
      for (let i = 0; i < 3; i++) expect(tf.max(tf.abs(tf.sub(g1[i]!, g2[i]!))).dataSync()[0]).toBeLessThan(1e-4);
      tf.dispose([...g1, ...g2]);
    }
    // Batched matmul with transposes goes through the re-registered gradient.
    const a3 = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 4);
    const b3 = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 5);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D, false, true)))([a3, b3]);
    // d/dA sum(A Bᵀ) = 1·B summed over rows; check against the closed form.
    const wantA = tf.tile(tf.sum(b3, 1, true), [1, 4, 1]);
    const wantB = tf.tile(tf.sum(a3, 1, true), [1, 5, 1]);
    expect(tf.max(tf.abs(tf.sub(ga!, wantA))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(gb!, wantB))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, w, b, a3, b3, ga!, gb!, wantA, wantB]);
  });
});
