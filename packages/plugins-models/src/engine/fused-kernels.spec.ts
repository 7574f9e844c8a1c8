import * as tf from '@tensorflow/tfjs';
import { initEngine } from './backend.js';
import { attention, attentionReference, columnSum, dropout, dropoutMultipliers, fusedKernelsActive, setFusedKernelsEnabled, type AttentionOptions } from './fused-kernels.js';
import { PRESETS, type PpgGptConfig } from '../ppg-gpt/config.js';
import { rmsNorm } from './ops.js';
import { PpgGpt } from '../ppg-gpt/model.js';

beforeAll(async () => {
  await initEngine('wasm');
});

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('fused attention kernel (wasm)', () => {
  it('is active on wasm', () => {
    expect(fusedKernelsActive()).toBe(true);
  });

  // Shapes cover: head dims 8/16/32, sequence lengths not divisible by 4, a score row longer than
  // one 32-column block (T = 37), causal and full attention, with and without dropout.
  const cases: Array<[number, number, number, number, boolean, number]> = [
    [2, 5, 2, 8, false, 0],
    [3, 31, 4, 16, true, 0],
    [2, 31, 4, 32, false, 0.1],
    [2, 37, 2, 8, true, 0.3],
  ];
  it.each(cases)('B=%i T=%i H=%i dh=%i causal=%s dropout=%f: output and qkv gradient match the tfjs formulation', (B, T, H, dh, causal, rate) => {
    const o: AttentionOptions = { batch: B, seq: T, heads: H, ropeTheta: 10000, causal, dropout: rate, seed: 4242 };
    const qkv = tf.randomNormal([B * T, 3 * H * dh], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([B * T, H * dh], 0, 1, 'float32', 2);
    const fused = attention(qkv, o);
    const ref = attentionReference(qkv, o);
    expect(maxAbs(fused, ref)).toBeLessThan(1e-5);
    const g1 = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(attention(x as tf.Tensor2D, o), w)))(qkv);
    const g2 = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(attentionReference(x as tf.Tensor2D, o), w)))(qkv);
    // Gradients are O(1) here; agreement to ~1e-5 means the same math, not just the same shape.
    expect(tf.max(tf.abs(g2)).dataSync()[0]).toBeGreaterThan(0.5);
    expect(maxAbs(g1, g2)).toBeLessThan(1e-5);
    tf.dispose([qkv, w, fused, ref, g1, g2]);
  });

  it('keeps causal outputs independent of later tokens', () => {
    const o: AttentionOptions = { batch: 1, seq: 6, heads: 2, ropeTheta: 10000, causal: true, dropout: 0, seed: 0 };
    const a = tf.randomNormal([6, 48], 0, 1, 'float32', 3) as tf.Tensor2D;
    const b = tf.concat([tf.slice(a, [0, 0], [5, 48]), tf.randomNormal([1, 48], 0, 1, 'float32', 4)]) as tf.Tensor2D;
    expect(maxAbs(tf.slice(attention(a, o), [0, 0], [5, 16]), tf.slice(attention(b, o), [0, 0], [5, 16]))).toBe(0);
    expect(maxAbs(tf.slice(attention(a, o), [5, 0], [1, 16]), tf.slice(attention(b, o), [5, 0], [1, 16]))).toBeGreaterThan(1e-3);
  });
});

describe('hash dropout', () => {
  it('applies the documented multipliers, keeps ≈ 1 − rate, and its gradient uses the same mask', () => {
    const x = tf.randomNormal([500, 8], 0, 1, 'float32', 5);
    const u = tf.randomNormal([500, 8], 0, 1, 'float32', 6);
    const m = tf.tensor(dropoutMultipliers(77, 0.25, 4000), [500, 8]);
    expect(maxAbs(dropout(x, 0.25, 77), tf.mul(x, m))).toBe(0);
    const kept = tf.mean(tf.cast(tf.notEqual(m, 0), 'float32')).dataSync()[0]!;
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.03);
    const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(dropout(z, 0.25, 77), u)))(x);
    expect(maxAbs(g, tf.mul(u, m))).toBe(0);
    // Lengths that are not a multiple of 4 take the scalar tail of the SIMD loop.
    const odd = tf.randomNormal([7, 3], 0, 1, 'float32', 8);
    expect(maxAbs(dropout(odd, 0.5, 3), tf.mul(odd, tf.tensor(dropoutMultipliers(3, 0.5, 21), [7, 3])))).toBe(0);
    // Different seeds give different masks.
    expect(maxAbs(m, tf.tensor(dropoutMultipliers(78, 0.25, 4000), [500, 8]))).toBeGreaterThan(0);
  });
});

describe('PPG-GPT with and without fused kernels', () => {
  it('gives the same loss and gradients for every variable (dropout on, causal)', () => {
    const cfg: PpgGptConfig = { ...PRESETS.tiny, windowLength: 120, patchSize: 20, dModel: 32, nHeads: 2, nLayers: 2 };
    const m = PpgGpt.create(cfg, 3);
    m.addTaskHead('mean', 4);
    const x = tf.randomUniform([3, 120], 0.1, 0.9, 'float32', 7) as tf.Tensor2D;
    const vars = [...m.vars.values()];
    const run = () =>
      tf.variableGrads(() => {
        const h = m.encode(x, { causal: true, training: true, seed: 9 });
        return tf.sum(tf.square(m.taskHead(h, 3).output)) as tf.Scalar;
      }, vars);
    const fused = run();
    setFusedKernelsEnabled(false);
    let ref: ReturnType<typeof run>;
    try {
      ref = run();
    } finally {
      setFusedKernelsEnabled(true);
    }
    expect(Math.abs(fused.value.dataSync()[0]! - ref.value.dataSync()[0]!)).toBeLessThan(1e-5);
    let compared = 0;
    for (const v of vars) {
      const a = fused.grads[v.name];
      const b = ref.grads[v.name];
      // The Logit-Laplace head is not on this loss's path: no gradient either way.
      expect(a == null).toBe(b == null);
      if (!a || !b) continue;
      compared++;
      const scale = Math.max(1e-3, tf.max(tf.abs(b)).dataSync()[0]!);
      expect(maxAbs(a, b) / scale).toBeLessThan(1e-4);
    }
    expect(compared).toBe(vars.length - 2);
    tf.dispose([x, fused.value, ref.value, ...Object.values(fused.grads).filter((g) => g), ...Object.values(ref.grads).filter((g) => g)]);
    m.dispose();
  });
});

describe('fused RMSNorm', () => {
  it('matches the plain-ops formulation, with gradients for x and scale', () => {
    const x = tf.randomNormal([37, 24], 0, 2, 'float32', 11) as tf.Tensor2D;
    const s = tf.randomNormal([24], 1, 0.3, 'float32', 12) as tf.Tensor1D;
    const w = tf.randomNormal([37, 24], 0, 1, 'float32', 13);
    const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a as tf.Tensor2D, b as tf.Tensor1D), w));
    const y1 = rmsNorm(x, s);
    const g1 = tf.grads(loss)([x, s]);
    setFusedKernelsEnabled(false);
    let y2: tf.Tensor;
    let g2: tf.Tensor[];
    try {
      y2 = rmsNorm(x, s);
      g2 = tf.grads(loss)([x, s]);
    } finally {
      setFusedKernelsEnabled(true);
    }
    expect(maxAbs(y1, y2)).toBeLessThan(1e-5);
    expect(maxAbs(g1[0]!, g2[0]!)).toBeLessThan(1e-5);
    expect(maxAbs(g1[1]!, g2[1]!)).toBeLessThan(1e-4);
    expect(tf.max(tf.abs(g2[1]!)).dataSync()[0]).toBeGreaterThan(0.5);
    tf.dispose([x, s, w, y1, y2, ...g1, ...g2]);
  });
});

describe('column sum', () => {
  it('matches tf.sum over rows, including widths that are not a multiple of 4', () => {
    for (const [m, n] of [[37, 16], [5, 7], [1984, 3]] as const) {
      const x = tf.randomNormal([m, n], 0, 1, 'float32', m + n) as tf.Tensor2D;
      const got = columnSum(x);
      expect(got.shape).toEqual([n]);
      expect(maxAbs(got, tf.sum(x, 0))).toBeLessThan(1e-4);
      tf.dispose([x, got]);
    }
  });
});

describe('wasm Identity shares the buffer', () => {
  it('clones without copying and without changing values or leaking', () => {
    const before = tf.memory().numTensors;
    const a = tf.tensor([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
