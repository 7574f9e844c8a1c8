import { expect, it } from '@jest/globals';
import { artifact, ndarray } from '@fairtune/core';
import { checkNestedConformance, checkStageConformance, expectConformance } from '@fairtune/core/testing';
import { cvarStrategy } from './cvar.js';
import { recalibrateStage } from './recalibrate.js';

it('cvar-dro conforms to the training-strategy contract', () => {
  expect(checkNestedConformance('training-strategy', cvarStrategy, { params: { alpha: 0.5 } }).failures).toEqual([]);
});

it('cvar.recalibrate conforms to the stage contract', async () => {
  const n = 60;
  const y = Float32Array.from({ length: n }, (_, i) => 60 + i);
  const predictions = artifact(
    'predictions',
    { task: 'regression', target: { name: 'hr' }, dataset: 'd', synthetic: true, subjects: ['s'], splits: ['train', 'val', 'test'], groups: { attributes: ['sex'], names: ['female', 'male'] } },
    { yTrue: ndarray(y), yPred: ndarray(y.map((v, i) => v * (i % 2 ? 1 : 0.5) + 3)), group: ndarray(Int32Array.from({ length: n }, (_, i) => i % 2)), split: ndarray(Int8Array.from({ length: n }, (_, i) => i % 3)), subject: ndarray(new Int32Array(n)) },
  );
  await expectConformance(checkStageConformance(recalibrateStage, { params: { minSamples: 5 }, inputs: { predictions } }));
});
