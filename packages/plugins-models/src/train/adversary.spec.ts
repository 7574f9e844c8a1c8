/**
 * The adversarial term as the trainer applies it, end to end through `finetune`: the encoder
 * must move to INCREASE the adversary's loss (gradient reversal: −λ∇L_A; projection: −α∇L_A),
 * while the adversary itself descends it. With the task loss weighted out (lossWeights 0) and the
 * adversary frozen (learning rate 0), the adversary's loss on the same full batch can then only
 * go up from step to step; deleting the reversal makes the encoder help the adversary and it
 * goes down. `adversary_loss` is the per-step metric: L_A on the batch before the update.
 */
import type { AdversarySpec, LogLevel, TrainingStrategy } from '@fairtune/core';
import { initEngine } from '../engine/backend.js';
import { PRESETS, type PpgGptConfig } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';
import { readSamples, splitIndices } from './data.js';
import { finetune, type FinetuneConfig } from './finetune.js';
import { makeSamples } from '../test-utils/fixtures.js';

const TINY: PpgGptConfig = { ...PRESETS.tiny, windowLength: 80, patchSize: 20, dModel: 16, nHeads: 2, nLayers: 2, dropout: 0, attentionDropout: 0 };

beforeAll(async () => {
  await initEngine();
});

/** Runs `steps` full-batch steps and returns the adversary loss seen at each step. */
async function adversaryLosses(mode: AdversarySpec['mode'], encoderLr: number, adversaryLr: number, steps: number): Promise<number[]> {
  const data = readSamples(makeSamples({ n: 24, seed: 3 }), TINY);
  const train = splitIndices(data, 'train');
  const model = PpgGpt.create(TINY, 5);
  model.addTaskHead('mean', 6);
  const cfg: FinetuneConfig = {
    task: 'regression', pooling: 'mean', mask: 'full', optimizer: 'adam',
    // Constant learning rate (min = max), no decay, clipping or auxiliary term: the encoder's update comes from the adversary alone.
    learningRate: encoderLr, minLearningRate: encoderLr, weightDecay: 0, warmupSteps: 0, gradClipNorm: 0, auxWeight: 0, auxSchedule: 'constant',
    epochs: steps, batchSize: train.length, patience: 0, selectionMetric: 'auto', standardizeTarget: true, seed: 1,
    trainIndices: train, validationIndices: new Int32Array(0), evalBatchSize: 16,
  };
  const strategy: TrainingStrategy = {
    lossWeights: (b) => new Float32Array(b.indices.length), // the task term contributes no gradient
    adversary: { mode, hiddenUnits: 8, learningRate: adversaryLr, lambda: () => 1 },
  };
  const losses: number[] = [];
  const events = {
    progress: () => {},
    checkpoint: async () => {},
    log: (_l: LogLevel, _m: string) => {},
    metric: (name: string, value: number) => {
      if (name === 'adversary_loss') losses.push(value);
    },
  };
  await finetune(model, data, cfg, strategy, ['female', 'male'], events);
  model.dispose();
  expect(losses).toHaveLength(steps);
  expect(losses.every(Number.isFinite)).toBe(true);
  return losses;
}

const increasing = (v: number[]) => v.slice(1).every((x, i) => x > v[i]!);
const decreasing = (v: number[]) => v.slice(1).every((x, i) => x < v[i]!);

describe.each(['gradient-reversal', 'projection'] as const)('adversarial term (%s)', (mode) => {
  it('the encoder update from the adversary increases the (frozen) adversary’s loss', async () => {
    const l = await adversaryLosses(mode, 1e-3, 0, 4);
    expect(increasing(l)).toBe(true);
    expect(l[3]! - l[0]!).toBeGreaterThan(1e-3);
  });

  it('the adversary’s own update decreases its loss (encoder frozen)', async () => {
    const l = await adversaryLosses(mode, 0, 3e-3, 4);
    expect(decreasing(l)).toBe(true);
    expect(l[0]! - l[3]!).toBeGreaterThan(1e-3);
  });
});
