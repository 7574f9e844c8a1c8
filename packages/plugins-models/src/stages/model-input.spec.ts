import { artifact, ndarray, runStandalone, subjectGroups, type Artifact, type DatasetMeta, type JsonObject, type ModelMeta, type StageEvent } from '@fairtune/core';
import { applyProcessingStep, windowDataset, type DatasetArrays } from '@fairtune/signal';
import { PpgGptModelStage } from './model-ppg-gpt.js';
import { FinetuneStage } from './finetune.js';
import { PredictStage } from './predict.js';
import { TINY_PARAMS, makeDataset } from '../test-utils/fixtures.js';

const BANDPASS = { op: 'bandpass', low: 0.5, high: 8, order: 2, signals: ['ppg'] } as const;
const RESAMPLE = { op: 'resample', fs: 40, signals: ['ppg'] } as const;
const logs = (events: StageEvent[]) => events.filter((e): e is Extract<StageEvent, { type: 'log' }> => e.type === 'log').map((e) => e.message);

/** What the data plugins' stages would make of the raw dataset: band-pass, 40 Hz, 2-s windows, split, groups by sex. */
async function trainingSamples(raw: Artifact): Promise<Artifact> {
  let d: DatasetArrays = { meta: raw.meta as unknown as DatasetMeta, arrays: raw.arrays };
  d = await applyProcessingStep(d, BANDPASS);
  d = await applyProcessingStep(d, RESAMPLE);
  const w = await windowDataset(d, { windowSeconds: 2, shiftSeconds: 2, signals: ['ppg'], target: 'hr', normalisation: 'none', short: 'drop' });
  const subject = w.arrays['subject']!.data;
  const { names, perSubject } = subjectGroups(w.meta.subjectAttributes, w.meta.subjects.length, ['sex']);
  const split = Int8Array.from(subject, (s) => (s < 4 ? 0 : s === 4 ? 1 : 2));
  const group = Int32Array.from(subject, (s) => names.indexOf(perSubject[s]!));
  const meta = { ...w.meta, splits: ['train', 'validation', 'test'], groups: { attributes: ['sex'], names } };
  return artifact('samples', meta as unknown as JsonObject, { ...w.arrays, split: ndarray(split), group: ndarray(group) });
}

let raw: Artifact;
let samples: Artifact;
let model: Artifact;
let trained: Float32Array;

beforeAll(async () => {
  raw = makeDataset();
  samples = await trainingSamples(raw);
  const backbone = (await runStandalone(new PpgGptModelStage(), { params: { ...TINY_PARAMS, seed: 1 } })).outputs['backbone']!;
  const r = await runStandalone(new FinetuneStage(), { inputs: { backbone, samples }, params: { epochs: 1, batchSize: 8, learningRate: 3e-3, pooling: 'mean', warmupSteps: 1, seed: 2 } });
  model = r.outputs['model']!;
  trained = r.outputs['predictions']!.arrays['yPred']!.data as Float32Array;
});

describe('eval.predict on a dataset', () => {
  it("records the training data's processing, signals, target and groups in the model", () => {
    const meta = model.meta as unknown as ModelMeta;
    expect(meta.inputSpec).toEqual({ modality: 'ppg', fs: 40, length: 80, channels: 1, signals: ['ppg'], processing: [BANDPASS, RESAMPLE], normalisation: 'none', shiftSeconds: 2 });
    expect(meta.target).toEqual({ name: 'hr', units: 'bpm' });
    expect(meta.groups).toEqual({ attributes: ['sex'], names: ['female', 'male'] });
  });

  it('replays the processing on the raw dataset and reproduces the predictions on the training windows', async () => {
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { dropLowQuality: false } });
    const pred = p.outputs['predictions']!;
    expect(Array.from(pred.arrays['yPred']!.data)).toEqual(Array.from(trained));
    expect(Array.from(pred.arrays['group']!.data)).toEqual(Array.from(samples.arrays['group']!.data));
    expect((pred.meta as unknown as { groups: unknown }).groups).toEqual({ attributes: ['sex'], names: ['female', 'male'] });
    expect(logs(p.events)).toEqual(expect.arrayContaining([expect.stringMatching(/bandpass 0.5–8 Hz \(order 2\) on ppg/), expect.stringMatching(/resample to 40 Hz on ppg/)]));
  });

  it('skips the steps a dataset already went through, and refuses one processed differently', async () => {
    const half = await applyProcessingStep({ meta: raw.meta as unknown as DatasetMeta, arrays: raw.arrays }, BANDPASS);
    const filtered = artifact('dataset', half.meta as unknown as JsonObject, half.arrays);
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: filtered }, params: { dropLowQuality: false } });
    expect(Array.from(p.outputs['predictions']!.arrays['yPred']!.data)).toEqual(Array.from(trained));
    expect(logs(p.events).some((m) => m.includes('bandpass'))).toBe(false);
    const other = await applyProcessingStep({ meta: raw.meta as unknown as DatasetMeta, arrays: raw.arrays }, RESAMPLE);
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: artifact('dataset', other.meta as unknown as JsonObject, other.arrays) } })).rejects.toThrow(
      /dataset "sines-raw"\) was processed with \[resample to 40 Hz on ppg\] but the model's training data with \[bandpass 0.5–8 Hz \(order 2\) on ppg; resample to 40 Hz on ppg\]/,
    );
  });

  it('drops windows annotated as poor quality by default', async () => {
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: raw } });
    const subject = p.outputs['predictions']!.arrays['subject']!.data;
    expect(subject.length).toBe(trained.length - 6);
    expect(Array.from(subject).includes(5)).toBe(false);
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/6 of 36 window\(s\) annotated as poor quality dropped/));
  });

  it('tiles recordings shorter than the model window (default), or drops them', async () => {
    const short = makeDataset({ seconds: 1.5, fs: 30 });
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: short }, params: { dropLowQuality: false } });
    expect(p.outputs['predictions']!.arrays['yPred']!.data.length).toBe(6);
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/6 recording\(s\) shorter than the model's 2-s input extended with 'tile'/));
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: short }, params: { short: 'drop' } })).rejects.toThrow(/input "data" \(dataset "sines-raw"\): windowing produced no windows from 6 recording\(s\)/);
  });

  it('groups by other attributes on request, naming a missing one', async () => {
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { groups: ['sex', 'age'], ageThreshold: 50, dropLowQuality: false } });
    const meta = p.outputs['predictions']!.meta as unknown as { groups: { names: string[] } };
    expect(meta.groups.names).toEqual(['female|<=50', 'female|>50', 'male|<=50', 'male|>50']);
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/did not occur in the model's training data/));
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { groups: ['skinType'] } })).rejects.toThrow(/cannot group subjects by skinType: "skinType" is not a subject attribute \(have sex, age\)/);
  });
});
