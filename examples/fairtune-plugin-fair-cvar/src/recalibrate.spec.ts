import { describe, expect, it } from '@jest/globals';
import { artifact, ndarray, outputOf, Rng, runStandalone, type Artifact, type PredictionsMeta } from '@fairtune/core';
import { recalibrateStage } from './recalibrate.js';

/**
 * Predictions with a known miscalibration: group "female" is predicted as 0.5·y + 40 (+ small
 * noise), group "male" exactly (+ the same noise). Splits alternate train/val/test by row.
 */
function predictions(options: { task?: 'regression' | 'classification'; n?: number } = {}): Artifact<PredictionsMeta> {
  const n = options.n ?? 300;
  const rng = new Rng(5);
  const yTrue = new Float32Array(n);
  const yPred = new Float32Array(n);
  const group = new Int32Array(n);
  const split = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    yTrue[i] = 60 + 40 * rng.next();
    group[i] = i % 2;
    split[i] = i % 3;
    yPred[i] = (group[i] === 0 ? 0.5 * yTrue[i]! + 40 : yTrue[i]!) + 0.1 * rng.normal(0, 1);
  }
  const meta: PredictionsMeta = {
    task: options.task ?? 'regression',
    target: { name: 'hr', units: 'bpm' },
    dataset: 'synthetic',
    synthetic: true,
    subjects: ['s0'],
    splits: ['train', 'val', 'test'],
    groups: { attributes: ['sex'], names: ['female', 'male'] },
    method: 'erm',
  };
  return artifact('predictions', meta, { yTrue: ndarray(yTrue), yPred: ndarray(yPred), group: ndarray(group), split: ndarray(split), subject: ndarray(new Int32Array(n)) });
}

const mae = (a: Artifact, g: number, s: number) => {
  const y = a.arrays['yTrue']!.data;
  const p = a.arrays['yPred']!.data;
  const gr = a.arrays['group']!.data;
  const sp = a.arrays['split']!.data;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) if (gr[i] === g && sp[i] === s) (sum += Math.abs(y[i]! - p[i]!)), n++;
  return sum / n;
};

describe('cvar.recalibrate', () => {
  it('removes a group\'s known linear miscalibration on the test split, fitted on validation only', async () => {
    const input = predictions();
    expect(mae(input, 0, 2)).toBeGreaterThan(3); // |40 − y/2| over y in [60, 100]: about 5
    const { outputs, events } = await runStandalone(recalibrateStage, { inputs: { predictions: input } });
    const out = outputOf({ outputs }, 'predictions', 'predictions');
    expect(mae(out, 0, 2)).toBeLessThan(0.5); // noise 0.1 · 2 after undoing the slope 0.5
    expect(mae(out, 1, 2)).toBeLessThan(0.15);
    const metric = (name: string) => events.find((e) => e.type === 'metric' && e.name === name) as { value: number };
    expect(metric('slope/female').value).toBeCloseTo(2, 1);
    expect(metric('intercept/female').value).toBeCloseTo(-80, 0);
    expect(metric('slope/male').value).toBeCloseTo(1, 1);
    expect(out.meta.method).toBe('erm+group-recalibration');
    expect(out.arrays['yTrue']).toBe(input.arrays['yTrue']);
  });

  it('fits on the split it is given: fitting on a split without the miscalibrated rows changes nothing for them', async () => {
    const input = predictions();
    // Corrupt the validation rows of "female" only: a fit on val then learns the corruption.
    const p = input.arrays['yPred']!.data;
    for (let i = 0; i < p.length; i++) if (i % 3 === 1 && i % 2 === 0) p[i] = p[i]! + 30;
    const onTrain = await runStandalone(recalibrateStage, { params: { fitSplit: 'train' }, inputs: { predictions: input } });
    expect(mae(onTrain.outputs['predictions']!, 0, 2)).toBeLessThan(0.5);
    const onVal = await runStandalone(recalibrateStage, { params: { fitSplit: 'val' }, inputs: { predictions: input } });
    expect(mae(onVal.outputs['predictions']!, 0, 2)).toBeGreaterThan(10);
  });

  it('falls back to the all-groups correction for a small group, with a warning naming it', async () => {
    const { events } = await runStandalone(recalibrateStage, { params: { minSamples: 60 }, inputs: { predictions: predictions({ n: 300 }) } });
    const warnings = events.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e as { message: string }).message);
    expect(warnings).toEqual([
      'group female: 50 fit rows in split val (minSamples 60); using the correction fitted on all groups',
      'group male: 50 fit rows in split val (minSamples 60); using the correction fitted on all groups',
    ]);
  });

  it('names what is wrong: a classification task, an unknown split', async () => {
    await expect(runStandalone(recalibrateStage, { inputs: { predictions: predictions({ task: 'classification' }) } })).rejects.toThrow(/task is "classification"; cvar\.recalibrate corrects regression outputs only/);
    await expect(runStandalone(recalibrateStage, { params: { fitSplit: 'dev' }, inputs: { predictions: predictions() } })).rejects.toThrow(/params\.fitSplit: "dev" is not a split of the predictions \(splits: train, val, test\)/);
    await expect(runStandalone(recalibrateStage, { params: { fitSplit: 'dev' }, inputs: { predictions: predictions() } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'fitSplit' } });
    await expect(runStandalone(recalibrateStage, { inputs: { predictions: predictions({ task: 'classification' }) } })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', about: { port: 'predictions' } });
  });
});
