import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../engine/backend.js';
import { bceWithLogitsPerSample, l1PerSample, logitLaplacePerSample } from './losses.js';

beforeAll(async () => {
  await initEngine();
});

/** The PPG-Distill formula written out in plain arithmetic. */
function logitLaplaceRef(x: number, mu: number, s: number): number {
  const xc = Math.min(Math.max(x, 1e-5), 1 - 1e-5);
  const b = Math.max(Math.exp(Math.min(s, 20)), 1e-4);
  const density = Math.max((1 / (2 * b * xc * (1 - xc))) * Math.exp(-Math.abs(Math.log(xc / (1 - xc)) - mu) / b), 1e-10);
  return -Math.log(density + 1e-5);
}

describe('losses', () => {
  it('Logit-Laplace matches hand-computed values, averaged per sample', () => {
    // x = 0.5, μ = 0, b = 1: density = 1/(2·0.25) = 2 → −log(2.00001).
    expect(logitLaplaceRef(0.5, 0, 0)).toBeCloseTo(-Math.log(2.00001), 10);
    const x = [0.5, 0.2, 0.9, 0.1];
    const mu = [0, -1, 2, 0.3];
    const s = [0, 0.5, -1, 25];
    const got = tf.tidy(() => logitLaplacePerSample(tf.tensor2d(x, [2, 2]), tf.tensor2d(mu, [2, 2]), tf.tensor2d(s, [2, 2])).arraySync());
    const want = [(logitLaplaceRef(0.5, 0, 0) + logitLaplaceRef(0.2, -1, 0.5)) / 2, (logitLaplaceRef(0.9, 2, -1) + logitLaplaceRef(0.1, 0.3, 25)) / 2];
    expect(got[0]).toBeCloseTo(want[0]!, 4);
    expect(got[1]).toBeCloseTo(want[1]!, 4);
    // log b is capped at 20: s = 25 behaves like s = 20.
    const capped = tf.tidy(() => logitLaplacePerSample(tf.tensor2d([0.1], [1, 1]), tf.tensor2d([0.3], [1, 1]), tf.tensor2d([20], [1, 1])).arraySync());
    const unc = tf.tidy(() => logitLaplacePerSample(tf.tensor2d([0.1], [1, 1]), tf.tensor2d([0.3], [1, 1]), tf.tensor2d([25], [1, 1])).arraySync());
    expect(unc[0]).toBeCloseTo(capped[0]!, 6);
  });

  it('L1 and BCE match hand-computed values', () => {
    const l1 = tf.tidy(() => l1PerSample(tf.tensor1d([1, -2, 3]), tf.tensor1d([0.5, 1, 3])).arraySync());
    expect(l1).toEqual([0.5, 3, 0]);
    const z = [0, 2, -3, 40];
    const y = [1, 0, 0, 1];
    const bce = tf.tidy(() => bceWithLogitsPerSample(tf.tensor1d(z), tf.tensor1d(y)).arraySync());
    const ref = z.map((zi, i) => {
      const p = 1 / (1 + Math.exp(-zi));
      return -(y[i]! * Math.log(p) + (1 - y[i]!) * Math.log(1 - p));
    });
    expect(bce[0]).toBeCloseTo(Math.log(2), 5);
    for (let i = 0; i < 3; i++) expect(bce[i]).toBeCloseTo(ref[i]!, 5);
    expect(bce[3]).toBeCloseTo(0, 5); // stable for large logits (no log(0))
  });
});
