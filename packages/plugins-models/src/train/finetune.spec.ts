import * as tf from '@tensorflow/tfjs';
import { Rng, type LogLevel } from '@fairtune/core';
import { initEngine } from '../engine/backend.js';
import { PRESETS, type PpgGptConfig } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';
import { readSamples, splitIndices } from './data.js';
import { finetune, gradientReversal, zhangProjection, type FinetuneConfig } from './finetune.js';
import { makeSamples } from '../test-utils/fixtures.js';

const TINY: PpgGptConfig = { ...PRESETS.tiny, windowLength: 80, patchSize: 20, dModel: 16, nHeads: 2, nLayers: 2, dropout: 0, attentionDropout: 0 };

beforeAll(async () => {
  await initEngine();
});

const baseConfig = (train: Int32Array, validation: Int32Array): FinetuneConfig => ({
  task: 'regression', pooling: 'mean', mask: 'full', optimizer: 'adam', learningRate: 1e-2, minLearningRate: 0, weightDecay: 0,
  warmupSteps: 0, epochs: 1, batchSize: 8, gradClipNorm: 1, patience: 0, selectionMetric: 'auto', auxWeight: 0,
  auxSchedule: 'anneal', standardizeTarget: true, seed: 1, trainIndices: train, validationIndices: validation, evalBatchSize: 8,
});

function recorder() {
  const logs: Array<[LogLevel, string]> = [];
  return { logs, events: { progress: () => {}, metric: () => {}, checkpoint: async () => {}, log: (l: LogLevel, m: string) => logs.push([l, m]) } };
}

describe('checkpoint selection', () => {
  it('falls back to validation loss (with one warning) when the validation AUC is undefined', async () => {
    const data = readSamples(makeSamples({ n: 24, task: 'classification', seed: 9 }), TINY);
    const train = splitIndices(data, 'train');
    // A validation split with a single class: AUC is NaN every epoch.
    const val = Int32Array.from(splitIndices(data, 'validation').filter((i) => data.y[i] === 0));
    expect(val.length).toBeGreaterThan(1);
    const model = PpgGpt.create(TINY, 3);
    model.addTaskHead('mean', 4);
    const { logs, events } = recorder();
    const result = await finetune(model, data, { ...baseConfig(train, val), task: 'classification', epochs: 4, learningRate: 3e-3 }, {}, ['female', 'male'], events);
    const valLoss = result.history.map((h) => h['valLoss'] as number);
    expect(valLoss.every(Number.isFinite)).toBe(true);
    expect(result.metricName).toBe('loss');
    expect(result.bestMetric).toBe(Math.min(...valLoss));
    expect(result.bestEpoch).toBe(valLoss.indexOf(Math.min(...valLoss)));
    const warnings = logs.filter(([l]) => l === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![1]).toMatch(/validation auc is NaN.*single class.*validation loss/);
    model.dispose();
  });
});

describe('regression targets', () => {
  const samples = makeSamples({ n: 24 });
  it.each([
    ['train', 0, NaN],
    ['validation', 3, Infinity],
  ])('a non-finite y in the %s split is rejected naming the sample, subject and split', async (split, index, value) => {
    const a = { ...samples, arrays: { ...samples.arrays, y: { ...samples.arrays['y']!, data: Float32Array.from(samples.arrays['y']!.data) } } };
    (a.arrays['y'].data as Float32Array)[index] = value;
    const data = readSamples(a, TINY);
    const model = PpgGpt.create(TINY, 3);
    model.addTaskHead('mean', 4);
    await expect(finetune(model, data, baseConfig(splitIndices(data, 'train'), splitIndices(data, 'validation')), {}, ['female', 'male'], recorder().events)).rejects.toThrow(
      new RegExp(`y\\[${index}\\] = ${value}.*subject "s${index % 6}".*split "${split}"`),
    );
    model.dispose();
  });

  it('a non-finite y outside the training/validation rows (test split) is allowed', async () => {
    const a = { ...samples, arrays: { ...samples.arrays, y: { ...samples.arrays['y']!, data: Float32Array.from(samples.arrays['y']!.data) } } };
    (a.arrays['y'].data as Float32Array)[2] = NaN; // index 2 is in the test split
    const data = readSamples(a, TINY);
    expect(data.meta.splits![data.split![2]!]).toBe('test');
    const model = PpgGpt.create(TINY, 3);
    model.addTaskHead('mean', 4);
    const r = await finetune(model, data, baseConfig(splitIndices(data, 'train'), splitIndices(data, 'validation')), {}, ['female', 'male'], recorder().events);
    expect(Number.isFinite(r.history[0]!['trainLoss'] as number)).toBe(true);
    model.dispose();
  });
});

describe('adversary gradients', () => {
  const rng = new Rng(11);
  const rand = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);

  it('gradient reversal: identity forward, the encoder gets −λ times the adversary gradient', () => {
    const x = rand([3, 4]);
    const w = rand([4, 2]);
    // A non-linear "adversary loss" of an embedding.
    const adv = (z: tf.Tensor) => tf.sum(tf.square(tf.tanh(tf.matMul(z as tf.Tensor2D, w as tf.Tensor2D))));
    for (const lambda of [0.5, 2]) {
      expect(Array.from(gradientReversal(x, lambda).dataSync())).toEqual(Array.from(x.dataSync()));
      const plain = tf.grad(adv)(x).dataSync();
      const reversed = tf.grad((z: tf.Tensor) => adv(gradientReversal(z, lambda)))(x).dataSync();
      expect(plain.some((v) => Math.abs(v) > 1e-3)).toBe(true);
      reversed.forEach((g, i) => expect(g).toBeCloseTo(-lambda * plain[i]!, 5));
    }
  });

  it('Zhang et al. projection: no component along the adversary gradient, then −α∇L_A', () => {
    for (const shape of [[5], [3, 4]]) {
      const gP = rand(shape);
      const gA = rand(shape);
      const dot = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(a, b)).dataSync()[0]!;
      const normA2 = dot(gA, gA);
      // Without the α term the update is orthogonal to ∇L_A (Frobenius product per variable)...
      const g0 = zhangProjection(gP, gA, 0);
      expect(Math.abs(dot(gP, gA))).toBeGreaterThan(1e-2);
      expect(dot(g0, gA)).toBeCloseTo(0, 5);
      // ...and it removes only that component: gP = g0 + (gP·û)û.
      const back = tf.add(g0, tf.mul(gA, dot(gP, gA) / normA2)).dataSync();
      gP.dataSync().forEach((v, i) => expect(back[i]).toBeCloseTo(v, 5));
      // With α the update moves against the adversary: g·∇L_A = −α‖∇L_A‖².
      expect(dot(zhangProjection(gP, gA, 0.3), gA)).toBeCloseTo(-0.3 * normA2, 4);
      // A zero adversary gradient leaves the predictor gradient unchanged.
      expect(Array.from(zhangProjection(gP, tf.zerosLike(gA), 0.3).dataSync())).toEqual(Array.from(gP.dataSync()));
    }
  });
});

describe('divergence', () => {
  it('stops with FT_TRAINING_DIVERGED, naming epoch and step, when the loss becomes non-finite', async () => {
    const data = readSamples(makeSamples({ n: 24, seed: 5 }), TINY);
    const model = PpgGpt.create(TINY, 3);
    model.addTaskHead('mean', 4);
    // No clipping and an absurd step: the weights overflow within a few steps.
    const config = { ...baseConfig(splitIndices(data, 'train'), splitIndices(data, 'validation')), learningRate: 1e30, gradClipNorm: 0, epochs: 3 };
    try {
      await expect(finetune(model, data, config, {}, ['female', 'male'], recorder().events)).rejects.toMatchObject({
        code: 'FT_TRAINING_DIVERGED',
        about: { param: 'learningRate' },
        message: expect.stringMatching(/^training diverged: loss is (NaN|-?Infinity) at epoch \d+, step \d+/),
      });
    } finally {
      model.dispose();
    }
  });
});
