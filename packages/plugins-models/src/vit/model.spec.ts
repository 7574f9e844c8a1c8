import * as tf from '@tensorflow/tfjs';
import { Rng } from '@fairtune/core';
import { initEngine } from '../engine/backend.js';
import { setFusedKernelsEnabled } from '../engine/fused-kernels.js';
import { geluErf, layerNormVit } from '../engine/vit-ops.js';
import { countParameters } from '../ppg-gpt/config.js';
import { VIT_PRESETS, vitParameterCount, vitSpecs, vitTokens, type VitConfig } from './config.js';
import { imageTokens, drawAugmentations } from './images.js';
import { Vit, toInternal, toTimm } from './model.js';

const CFG: VitConfig = { ...VIT_PRESETS.tiny, imageSize: 16, patchSize: 4, dim: 16, depth: 2, heads: 2, numClasses: 3 };
const NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

function images(n: number, size: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n * size * size * 3 }, () => rng.int(256));
}

beforeAll(async () => {
  await initEngine();
});

describe('ViT config', () => {
  it('counts parameters analytically: vit-b16 with a 1000-class head has 86,567,656 (timm vit_base_patch16_224)', () => {
    const b16 = { ...VIT_PRESETS['vit-b16'], numClasses: 1000 };
    expect(vitParameterCount(b16)).toBe(86_567_656);
    expect(countParameters(vitSpecs(b16))).toBe(86_567_656);
    // timm vit_small_patch16_224: 22,050,664 with its 1000-class head.
    const s16 = { ...VIT_PRESETS['vit-s16'], numClasses: 1000 };
    expect(vitParameterCount(s16)).toBe(22_050_664);
    expect(countParameters(vitSpecs(s16))).toBe(22_050_664);
  });

  it('names and shapes the variables as timm state dicts do', () => {
    const specs = vitSpecs(VIT_PRESETS['vit-b16']);
    const byName = new Map(specs.map((s) => [s.name, s.shape]));
    expect(byName.get('cls_token')).toEqual([1, 1, 768]);
    expect(byName.get('pos_embed')).toEqual([1, 197, 768]);
    expect(byName.get('patch_embed.proj.weight')).toEqual([768, 3, 16, 16]);
    expect(byName.get('blocks.11.attn.qkv.weight')).toEqual([2304, 768]);
    expect(byName.get('blocks.0.mlp.fc1.weight')).toEqual([3072, 768]);
    expect(byName.get('blocks.0.mlp.fc2.weight')).toEqual([768, 3072]);
    expect(byName.get('head.weight')).toEqual([1, 768]);
    expect(specs).toHaveLength(4 + 12 * 12 + 4);
  });
});

describe('ViT model', () => {
  it('keeps timm layout outside and a transposed layout inside (round trip exact)', () => {
    const m = Vit.create(CFG, 4);
    try {
      const a = m.toArrays();
      const w = m.v('blocks.0.attn.qkv.weight');
      expect(w.shape).toEqual([16, 48]);
      // timm [out, in]: element (o, i) is internal (i, o).
      const internal = w.arraySync() as number[][];
      expect(a['blocks.0.attn.qkv.weight']!.data[5 * 16 + 3]).toBe(internal[3]![5]);
      const pe = vitSpecs(CFG).find((s) => s.name === 'patch_embed.proj.weight')!;
      expect(m.v(pe.name).shape).toEqual([48, 16]);
      const back = Vit.fromArrays(CFG, a, 'test');
      for (const s of vitSpecs(CFG)) expect(Array.from(back.toArrays()[s.name]!.data)).toEqual(Array.from(a[s.name]!.data));
      back.dispose();
      const raw = Float32Array.from({ length: 16 * 48 }, (_, i) => i);
      expect(Array.from(toTimm(pe, toInternal(pe, raw).data))).toEqual(Array.from(raw));
    } finally {
      m.dispose();
    }
  });

  it('patchifies in (channel, row, column) order with a class-token row first', () => {
    const c = { ...CFG, imageSize: 8, patchSize: 4 };
    const x = new Uint8Array(8 * 8 * 3);
    // pixel (y=1, x=6) of channel 2 = 255 → patch (0, 1), index (2·4 + 1)·4 + 2
    x[(1 * 8 + 6) * 3 + 2] = 255;
    const t = imageTokens(x, [0], c, { mean: [0, 0, 0], std: [1, 1, 1] });
    const width = 49;
    expect(t.length).toBe(5 * width);
    expect(t[48]).toBe(1); // class-token indicator
    expect(Array.from(t.subarray(0, 48)).every((v) => v === 0)).toBe(true);
    const patch1 = t.subarray(2 * width, 3 * width);
    expect(patch1[(2 * 4 + 1) * 4 + 2]).toBe(1);
    expect(Array.from(patch1).reduce((a, b) => a + b, 0)).toBe(1);
    // flip mirrors the column: x=6 → x=1 → patch (0, 0), column 1
    const f = imageTokens(x, [0], c, { mean: [0, 0, 0], std: [1, 1, 1] }, [{ flip: true, dx: 0, dy: 0 }]);
    expect(f.subarray(width, 2 * width)[(2 * 4 + 1) * 4 + 1]).toBe(1);
    // a shift by dy = 1 moves row 1 to row 2
    const s = imageTokens(x, [0], c, { mean: [0, 0, 0], std: [1, 1, 1] }, [{ flip: false, dx: 0, dy: 1 }]);
    expect(s.subarray(2 * width, 3 * width)[(2 * 4 + 2) * 4 + 2]).toBe(1);
    // augmentations are a function of (seed, epoch, step)
    expect(drawAugmentations(3, 1, 2, 8, 2)).toEqual(drawAugmentations(3, 1, 2, 8, 2));
    expect(drawAugmentations(3, 1, 2, 8, 2)).not.toEqual(drawAugmentations(3, 2, 2, 8, 2));
  });

  it('forward gives logits [B, C] and the class-token embedding; fused and reference attention agree, gradients included', () => {
    const m = Vit.create(CFG, 7);
    try {
      const B = 3;
      const tok = tf.tensor2d(imageTokens(images(B, 16), [0, 1, 2], CFG, NORM), [B * vitTokens(CFG), 49]);
      const run = () => {
        const vars = [...m.vars.values()];
        const { value, grads } = tf.variableGrads(() => {
          const { logits, embedding } = m.forward(tok, B);
          expect(logits.shape).toEqual([B, 3]);
          expect(embedding.shape).toEqual([B, 16]);
          return tf.sum(tf.mul(logits, tf.tensor2d([[1, -2, 0.5]]))) as tf.Scalar;
        }, vars);
        const out = { value: value.dataSync()[0]!, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync().slice()])) };
        value.dispose();
        for (const g of Object.values(grads)) g.dispose();
        return out;
      };
      const fused = run();
      setFusedKernelsEnabled(false);
      const ref = run();
      setFusedKernelsEnabled(true);
      expect(Math.abs(fused.value - ref.value)).toBeLessThan(1e-4);
      for (const k of Object.keys(ref.grads)) {
        const a = fused.grads[k]!;
        const b = ref.grads[k]!;
        let maxd = 0;
        let maxv = 0;
        for (let i = 0; i < a.length; i++) {
          maxd = Math.max(maxd, Math.abs(a[i]! - b[i]!));
          maxv = Math.max(maxv, Math.abs(b[i]!));
        }
        expect(maxd).toBeLessThanOrEqual(1e-4 * Math.max(1, maxv));
      }
      // every variable gets a gradient (nothing disconnected), and some are non-zero
      expect(Object.keys(fused.grads)).toHaveLength(vitSpecs(CFG).length);
      tok.dispose();
    } finally {
      setFusedKernelsEnabled(true);
      m.dispose();
    }
  });

  it('exact GELU and LayerNorm match their definitions, gradients against finite differences', () => {
    const xs = [-3, -1, -0.5, 0, 0.3, 1, 2.5];
    // x·Φ(x) for x = 1: 0.8413447460685429 (tanh approximation gives 0.841192)
    const y = geluErf(tf.tensor1d(xs)).dataSync();
    expect(y[5]).toBeCloseTo(0.8413447, 6);
    expect(y[0]).toBeCloseTo(-0.00404951, 6);
    const g = tf.grad((x: tf.Tensor) => tf.sum(geluErf(x)))(tf.tensor1d(xs)).dataSync();
    const h = 1e-2;
    const num = xs.map((x) => {
      const [a, b] = geluErf(tf.tensor1d([x + h, x - h])).dataSync();
      return (a! - b!) / (2 * h);
    });
    for (let i = 0; i < xs.length; i++) expect(g[i]).toBeCloseTo(num[i]!, 3);

    const x = tf.tensor2d([[1, 2, 4, -1], [0.5, 0.5, 3, 2]]);
    const gamma = tf.tensor1d([1, 2, 0.5, -1]);
    const beta = tf.tensor1d([0, 1, 0, 0.25]);
    const out = layerNormVit(x, gamma, beta, 1e-6).arraySync();
    const row = [1, 2, 4, -1];
    const mu = 1.5;
    const sd = Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / 4 + 1e-6);
    expect(out[0]![1]).toBeCloseTo(((2 - mu) / sd) * 2 + 1, 5);
    // custom gradient against tfjs autodiff of the plain formula
    const w = tf.tensor2d([[0.3, -1, 2, 0.1], [1, 0.2, -0.7, 0.5]]);
    const plain = (xx: tf.Tensor2D, gg: tf.Tensor1D, bb: tf.Tensor1D) => {
      const m = tf.mean(xx, -1, true);
      const v = tf.mean(tf.square(tf.sub(xx, m)), -1, true);
      return tf.sum(tf.mul(tf.add(tf.mul(tf.div(tf.sub(xx, m), tf.sqrt(tf.add(v, 1e-6))), gg), bb), w)) as tf.Scalar;
    };
    const custom = (xx: tf.Tensor2D, gg: tf.Tensor1D, bb: tf.Tensor1D) => tf.sum(tf.mul(layerNormVit(xx, gg, bb, 1e-6), w)) as tf.Scalar;
    const ga = tf.grads(plain as never)([x, gamma, beta]);
    const gb = tf.grads(custom as never)([x, gamma, beta]);
    for (let i = 0; i < 3; i++) {
      const a = ga[i]!.dataSync();
      const b = gb[i]!.dataSync();
      for (let j = 0; j < a.length; j++) expect(b[j]).toBeCloseTo(a[j]!, 4);
    }
  });

  it('runs the fused attention at ViT-S/16 size (197 tokens, head dim 64) and agrees with the reference ops', () => {
    // The generated kernel for dh 64 and 197 tokens once overflowed the call stack while being assembled.
    const c: VitConfig = { ...VIT_PRESETS['vit-s16'], depth: 1 };
    const m = Vit.create(c, 2);
    try {
      const tok = tf.tensor2d(imageTokens(images(1, 224, 3), [0], c, NORM), [197, 769]);
      const a = tf.tidy(() => m.forward(tok, 1).embedding.dataSync());
      setFusedKernelsEnabled(false);
      const b = tf.tidy(() => m.forward(tok, 1).embedding.dataSync());
      setFusedKernelsEnabled(true);
      let maxd = 0;
      for (let i = 0; i < a.length; i++) maxd = Math.max(maxd, Math.abs(a[i]! - b[i]!));
      expect(maxd).toBeLessThan(1e-4);
      tok.dispose();
    } finally {
      setFusedKernelsEnabled(true);
      m.dispose();
    }
  });
});
