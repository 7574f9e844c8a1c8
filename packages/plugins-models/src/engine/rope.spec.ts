/**
 * RoPE checked against rotations computed here, independently of `ropeTables` (which the fused
 * kernel and its tfjs reference share, so comparing those two cannot catch a wrong frequency or
 * pairing). The convention is the one PPG-GPT inherits from GPT-PPG / PPG-Distill
 * (algorithms.md §2.2): `rotary_embedding_torch.RotaryEmbedding(d_head // 2)` on q and k, i.e.
 *  - rotary dims r = dh/2 (the first half of each head; the second half passes unchanged);
 *  - frequencies f_i = θ^(−2i/r), i = 0 … r/2 − 1 (`1 / θ^(arange(0, r, 2) / r)`), each used
 *    for one pair (`repeat '... n -> ... (n r)', r = 2`);
 *  - interleaved pairs (x_{2i}, x_{2i+1}) rotated by the angle t·f_i at position t = 0, 1, …:
 *    (x_{2i} cos − x_{2i+1} sin, x_{2i+1} cos + x_{2i} sin) (`rotate_half` on interleaved pairs).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@fairtune/core';
import { initEngine } from './backend.js';
import { attention, attentionReference, fusedKernelsActive, type AttentionOptions } from './fused-kernels.js';

beforeAll(async () => {
  await initEngine('wasm');
});

/** One head's vector x rotated for position t, straight from the formula above (float64). */
function rotate(x: readonly number[], t: number, theta: number): number[] {
  const dh = x.length;
  const r = dh / 2;
  const out = x.slice();
  for (let i = 0; i < r / 2; i++) {
    const angle = t * Math.pow(theta, (-2 * i) / r);
    const [a, b] = [x[2 * i]!, x[2 * i + 1]!];
    out[2 * i] = a * Math.cos(angle) - b * Math.sin(angle);
    out[2 * i + 1] = b * Math.cos(angle) + a * Math.sin(angle);
  }
  return out;
}

/** Multi-head attention on qkv rows [B·T, 3·H·dh] in float64, RoPE by `rotate`. */
function attentionJs(qkv: Float32Array, B: number, T: number, H: number, dh: number, theta: number, causal: boolean): Float64Array {
  const d = H * dh;
  const out = new Float64Array(B * T * d);
  const part = (b: number, t: number, which: number, h: number) => Array.from(qkv.subarray((b * T + t) * 3 * d + which * d + h * dh, (b * T + t) * 3 * d + which * d + (h + 1) * dh));
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const q = Array.from({ length: T }, (_, t) => rotate(part(b, t, 0, h), t, theta));
      const k = Array.from({ length: T }, (_, t) => rotate(part(b, t, 1, h), t, theta));
      const v = Array.from({ length: T }, (_, t) => part(b, t, 2, h));
      for (let t = 0; t < T; t++) {
        const last = causal ? t : T - 1;
        const s = Array.from({ length: last + 1 }, (_, u) => q[t]!.reduce((acc, qi, i) => acc + qi * k[u]![i]!, 0) / Math.sqrt(dh));
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let u = 0; u <= last; u++) for (let i = 0; i < dh; i++) out[(b * T + t) * d + h * dh + i] += (e[u]! / z) * v[u]![i]!;
      }
    }
  }
  return out;
}

const implementations: Array<[string, (qkv: tf.Tensor2D, o: AttentionOptions) => tf.Tensor2D]> = [
  ['attention (fused wasm kernel)', attention],
  ['attentionReference (tfjs ops)', attentionReference],
];

/**
 * Reads the rotated query of one head out of the attention op: in batch sample j the key at
 * position 0 is e_j (position 0 is never rotated) and every other key is 0, and v selects
 * position 0, so output[t, 0] = p = e^a / (e^a + T − 1) with a = q_rot(t)_j / √dh. Returns
 * q_rot [T][dh] recovered as a = log(p (T − 1) / (1 − p)).
 */
function rotatedQueries(impl: (qkv: tf.Tensor2D, o: AttentionOptions) => tf.Tensor2D, q: number[][], theta: number): number[][] {
  const T = q.length;
  const dh = q[0]!.length;
  const rows = new Float32Array(dh * T * 3 * dh);
  for (let j = 0; j < dh; j++) {
    for (let t = 0; t < T; t++) {
      const o = (j * T + t) * 3 * dh;
      rows.set(q[t]!, o);
      if (t === 0) {
        rows[o + dh + j] = 1; // k(0) = e_j
        rows[o + 2 * dh] = 1; // v(0) = e_0
      }
    }
  }
  const out = tf.tidy(() => impl(tf.tensor2d(rows, [dh * T, 3 * dh]), { batch: dh, seq: T, heads: 1, ropeTheta: theta, causal: false, dropout: 0, seed: 0 }).dataSync());
  return Array.from({ length: T }, (_, t) =>
    Array.from({ length: dh }, (_, j) => {
      const p = out[(j * T + t) * dh]!;
      return Math.log((p * (T - 1)) / (1 - p)) * Math.sqrt(dh);
    }),
  );
}

/**
 * The rotated keys, read the other way round: q(0) = e_j, every key k(s) given, v(s) = e_s, so
 * output[0, s] = softmax_s(k_rot(s)_j / √dh); log-ratios against position 0 (unrotated) give
 * k_rot(s)_j = k(0)_j + √dh · log(p_s / p_0). Needs T ≤ dh.
 */
function rotatedKeys(impl: (qkv: tf.Tensor2D, o: AttentionOptions) => tf.Tensor2D, k: number[][], theta: number): number[][] {
  const T = k.length;
  const dh = k[0]!.length;
  const rows = new Float32Array(dh * T * 3 * dh);
  for (let j = 0; j < dh; j++) {
    for (let t = 0; t < T; t++) {
      const o = (j * T + t) * 3 * dh;
      if (t === 0) rows[o + j] = 1; // q(0) = e_j
      rows.set(k[t]!, o + dh);
      rows[o + 2 * dh + t] = 1; // v(t) = e_t
    }
  }
  const out = tf.tidy(() => impl(tf.tensor2d(rows, [dh * T, 3 * dh]), { batch: dh, seq: T, heads: 1, ropeTheta: theta, causal: false, dropout: 0, seed: 0 }).dataSync());
  return Array.from({ length: T }, (_, s) =>
    Array.from({ length: dh }, (_, j) => k[0]![j]! + Math.sqrt(dh) * Math.log(out[j * T * dh + s]! / out[j * T * dh]!)),
  );
}

describe('RoPE against rotations computed by hand', () => {
  it('uses the fused kernel on wasm (so both implementations are exercised)', () => {
    expect(fusedKernelsActive()).toBe(true);
  });

  // Head dim 8: rotary dims 0–3 as the pairs (0, 1) at frequency θ^0 = 1 and (2, 3) at
  // θ^(−2/4) = 1/100 for θ = 10000; dims 4–7 unchanged. Positions 0 … 3.
  const x = [0.9, -0.4, 0.7, 0.3, -0.5, 0.8, 0.2, -0.6];
  const handRotated = (t: number): number[] => {
    const [c1, s1, c2, s2] = [Math.cos(t), Math.sin(t), Math.cos(t / 100), Math.sin(t / 100)];
    return [0.9 * c1 + 0.4 * s1, -0.4 * c1 + 0.9 * s1, 0.7 * c2 - 0.3 * s2, 0.3 * c2 + 0.7 * s2, -0.5, 0.8, 0.2, -0.6];
  };

  it('the independent rotation agrees with the hand-written one (d_head 8, θ 10000)', () => {
    for (let t = 0; t < 4; t++) rotate(x, t, 10000).forEach((v, i) => expect(v).toBeCloseTo(handRotated(t)[i]!, 12));
  });

  it.each(implementations)('%s rotates q by t·θ^(−2i/r) on interleaved pairs of the first half (d_head 8, positions 0–3)', (_, impl) => {
    const got = rotatedQueries(impl, [x, x, x, x], 10000);
    for (let t = 0; t < 4; t++) {
      const want = handRotated(t);
      got[t]!.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(2e-4));
    }
  });

  it.each(implementations)('%s rotates k the same way (d_head 8, positions 0–3)', (_, impl) => {
    const got = rotatedKeys(impl, [x, x, x, x], 10000);
    for (let t = 0; t < 4; t++) {
      const want = handRotated(t);
      got[t]!.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(2e-4));
    }
  });

  it.each(implementations)('%s follows the base θ and every frequency of a wider head (d_head 16, θ 10000 and 50)', (_, impl) => {
    // Four pairs at 1, θ^(−1/4), θ^(−1/2), θ^(−3/4): a wrong exponent (2i/dh), base or pairing moves some of them.
    const rng = new Rng(5);
    const q = Array.from({ length: 6 }, () => Array.from({ length: 16 }, () => rng.uniform(-1, 1)));
    for (const theta of [10000, 50]) {
      const got = rotatedQueries(impl, q, theta);
      for (let t = 0; t < 6; t++) {
        const want = rotate(q[t]!, t, theta);
        got[t]!.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(2e-4));
      }
    }
  });

  it.each(implementations)('%s equals float64 attention with independent RoPE (2 heads, d_head 16, causal and full)', (_, impl) => {
    const [B, T, H, dh] = [2, 7, 2, 16];
    const rng = new Rng(9);
    // Large enough q/k that the scores (and so the output) depend strongly on the angles.
    const qkv = Float32Array.from({ length: B * T * 3 * H * dh }, () => rng.normal(0, 1.5));
    for (const causal of [false, true]) {
      const want = attentionJs(qkv, B, T, H, dh, 10000, causal);
      const got = tf.tidy(() => impl(tf.tensor2d(qkv, [B * T, 3 * H * dh]), { batch: B, seq: T, heads: H, ropeTheta: 10000, causal, dropout: 0, seed: 0 }).dataSync());
      let worst = 0;
      got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[i]!))));
      expect(worst).toBeLessThan(1e-4);
    }
    // With θ = ∞ only the first pair rotates; the outputs then differ clearly, so the check above is
    // sensitive to the slow frequencies, not only to the attention arithmetic.
    const unrotated = attentionJs(qkv, B, T, H, dh, Number.POSITIVE_INFINITY, false);
    const rotated = attentionJs(qkv, B, T, H, dh, 10000, false);
    expect(Math.max(...unrotated.map((v, i) => Math.abs(v - rotated[i]!)))).toBeGreaterThan(0.05);
  });
});
