/**
 * Next-patch alignment of the pretraining objective (and of fine-tuning's auxiliary term, which
 * uses the same pairs), checked on a hand-built sequence: the prediction made at token position
 * t — which holds the start token (t = 0) or patch t − 1 — is scored against patch t, and under
 * causal attention that prediction cannot see patch t. Shifting the target by one patch either
 * way (copying patch t − 1, or predicting patch t + 1) must fail here.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../engine/backend.js';
import { PRESETS, type PpgGptConfig } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';
import { nextPatchLoss, nextPatchNll, nextPatchPairs } from './pretrain.js';

// 16-sample windows of 4 patches of 4 samples; T = 5 tokens (start + 4 patches); d = 8.
const HAND: PpgGptConfig = { ...PRESETS.tiny, windowLength: 16, patchSize: 4, dModel: 8, nHeads: 2, nLayers: 1, dropout: 0, attentionDropout: 0 };
const P = 4;
const N = 4;

beforeAll(async () => {
  await initEngine();
});

/** Patch k holds 0.2 + 0.1·k + 0.01·j at sample j: every value in the window is distinct. */
const patch = (k: number): number[] => Array.from({ length: P }, (_, j) => 0.2 + 0.1 * k + 0.01 * j);
const START = [0.11, 0.12, 0.13, 0.14];
const window = Float32Array.from(Array.from({ length: N }, (_, k) => patch(k)).flat());

/** Logit-Laplace NLL of one value, written out in float64 (PPG-Distill LogitLaplaceLoss). */
function nll(x: number, mu: number, s: number): number {
  const xc = Math.min(Math.max(x, 1e-5), 1 - 1e-5);
  const b = Math.max(Math.exp(Math.min(s, 20)), 1e-4);
  const f = Math.max(Math.exp(-Math.abs(Math.log(xc / (1 - xc)) - mu) / b) / (2 * b * xc * (1 - xc)), 1e-10);
  return -Math.log(f + 1e-5);
}

/**
 * A transparent model: every block's projections are zero (the residual stream is the token
 * embedding), the patch embedding copies a patch into dims 0–3 (start token: START), and
 * head.lm reads μ from dims 0–3 with log b = 0. So μ at position t is exactly the content of
 * token t, which shows which token each prediction comes from.
 */
function transparentModel(): PpgGpt {
  const m = PpgGpt.create(HAND, 1);
  for (const [name, v] of m.vars) if (/^blocks\.\d+\.(attention|mlp)\./.test(name)) v.assign(tf.zerosLike(v));
  const eye = (rows: number, cols: number) => tf.tidy(() => tf.pad(tf.eye(P), [[0, rows - P], [0, cols - P]]));
  m.v('embedding.patch.w').assign(eye(P, 8));
  m.v('embedding.patch.b').assign(tf.zeros([8]));
  m.v('embedding.start').assign(tf.tensor2d([[...START, 0, 0, 0, 0]]));
  m.v('head.lm.w').assign(eye(8, 2 * P));
  m.v('head.lm.b').assign(tf.zeros([2 * P]));
  return m;
}

const rows3 = (t: tf.Tensor3D): number[][] => (t.arraySync() as number[][][])[0]!;

describe('next-patch alignment (pretraining target)', () => {
  it('scores the prediction made from patch t − 1 (the start token for t = 0) against patch t', () => {
    const m = transparentModel();
    tf.tidy(() => {
      const x = tf.tensor2d(window, [1, 16]);
      const { target, mu, logScale } = nextPatchPairs(m, m.encode(x, { causal: true, training: false }), x);
      expect(target.shape).toEqual([1, N, P]);
      const tg = rows3(target);
      const pred = rows3(mu);
      for (let t = 0; t < N; t++) {
        // target at position t is patch t: not patch t − 1 (copying), not patch t + 1
        tg[t]!.forEach((v, j) => expect(v).toBeCloseTo(patch(t)[j]!, 6));
        // the prediction at position t comes from the token holding patch t − 1
        const source = t === 0 ? START : patch(t - 1);
        pred[t]!.forEach((v, j) => expect(v).toBeCloseTo(source[j]!, 6));
      }
      expect(rows3(logScale).flat().every((v) => Math.abs(v) < 1e-7)).toBe(true);
    });
    m.dispose();
  });

  it('pretraining loss = mean NLL of (prediction from token t, patch t), computed by hand', () => {
    const m = transparentModel();
    const loss = tf.tidy(() => nextPatchLoss(m, tf.tensor2d(window, [1, 16]), false, 0).dataSync()[0]!);
    const byShift = (shift: number) => {
      // shift 0: the model's pairing; −1: the prediction is scored against the patch it was made from
      // (copying); +1: against the patch after next.
      let sum = 0;
      let n = 0;
      for (let t = 0; t < N; t++) {
        const k = t + shift;
        if (k < 0 || k >= N) continue;
        const source = t === 0 ? START : patch(t - 1);
        for (let j = 0; j < P; j++, n++) sum += nll(patch(k)[j]!, source[j]!, 0);
      }
      return sum / n;
    };
    expect(Math.abs(loss - byShift(0))).toBeLessThan(1e-5);
    // The hand values are far apart, so the comparison above pins the alignment.
    expect(Math.abs(byShift(-1) - byShift(0))).toBeGreaterThan(1e-2);
    expect(Math.abs(byShift(1) - byShift(0))).toBeGreaterThan(1e-2);
    m.dispose();
  });

  it('the prediction scored against patch k never sees patch k or later (random model, causal encoder in the loss)', () => {
    const m = PpgGpt.create({ ...HAND, nLayers: 2 }, 7);
    const x = tf.tensor2d(window, [1, 16]);
    const pairs = (values: Float32Array): [number[][], number[][]] => {
      let out: [number[][], number[][]] = [[], []];
      tf.tidy(() => {
        const w = tf.tensor2d(values, [1, 16]);
        const { mu, logScale } = nextPatchPairs(m, m.encode(w, { causal: true, training: false }), w);
        out = [rows3(mu), rows3(logScale)];
      });
      return out;
    };
    const [mu0, s0] = pairs(window);
    for (let k = 0; k < N; k++) {
      // Change patch k only.
      const changed = Float32Array.from(window, (v, i) => (Math.floor(i / P) === k ? 0.9 - (v - 0.2) : v));
      const [mu1, s1] = pairs(changed);
      const diff = (t: number) => Math.max(...mu0[t]!.map((v, j) => Math.abs(v - mu1[t]![j]!)), ...s0[t]!.map((v, j) => Math.abs(v - s1[t]![j]!)));
      // Predictions of patches 0 … k (including the target patch k itself) are untouched...
      for (let t = 0; t <= k; t++) expect(diff(t)).toBeLessThan(1e-6);
      // ...and the next prediction, made from patch k, does change.
      if (k + 1 < N) expect(diff(k + 1)).toBeGreaterThan(1e-4);
    }
    // The pretraining loss runs the encoder causally (with full attention position t would see patch t).
    const [loss, causal, full] = tf.tidy(() => [
      nextPatchLoss(m, x, false, 0).dataSync()[0]!,
      tf.mean(nextPatchNll(m, m.encode(x, { causal: true, training: false }), x)).dataSync()[0]!,
      tf.mean(nextPatchNll(m, m.encode(x, { causal: false, training: false }), x)).dataSync()[0]!,
    ]);
    expect(Math.abs(loss - causal)).toBeLessThan(1e-6);
    expect(Math.abs(loss - full)).toBeGreaterThan(1e-5);
    x.dispose();
    m.dispose();
  });
});
