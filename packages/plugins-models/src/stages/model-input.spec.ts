import { artifact, ndarray, outputOf, runStandalone, subjectGroups, type Artifact, type JsonObject, type KindArtifact, type QualityChecks, type StageEvent } from '@fairtune/core';
import { applyProcessingStep, compactSubjects, filterSamples, qualityMask, windowDataset, type DatasetArrays } from '@fairtune/signal';
import { PpgGptModelStage } from './model-ppg-gpt.js';
import { FinetuneStage } from './finetune.js';
import { PredictStage } from './predict.js';
import { TINY_PARAMS, makeDataset, runFinetune } from '../test-utils/fixtures.js';

const BANDPASS = { op: 'bandpass', low: 0.5, high: 8, order: 2, signals: ['ppg'] } as const;
const RESAMPLE = { op: 'resample', fs: 40, signals: ['ppg'] } as const;
const logs = (events: StageEvent[]) => events.filter((e): e is Extract<StageEvent, { type: 'log' }> => e.type === 'log').map((e) => e.message);

const QUALITY: QualityChecks = { useQualityFlag: true, maxFlatFraction: 0.25, maxClippingFraction: 0.2, targetRange: [30, 220] };

/**
 * What the data plugins' stages would make of the raw dataset: band-pass, 40 Hz, 2-s windows,
 * quality checks (the last subject's windows are flagged and go), split, groups by sex.
 */
async function trainingSamples(raw: KindArtifact<'dataset'>): Promise<KindArtifact<'samples'>> {
  let d: DatasetArrays = { meta: raw.meta, arrays: raw.arrays };
  d = await applyProcessingStep(d, BANDPASS);
  d = await applyProcessingStep(d, RESAMPLE);
  const w = await windowDataset(d, { windowSeconds: 2, shiftSeconds: 2, signals: ['ppg'], target: 'hr', normalisation: 'none', short: 'drop' });
  const q = compactSubjects({ ...w.meta, quality: QUALITY }, filterSamples(w.arrays, qualityMask(w.arrays, QUALITY).keep));
  expect(q.removed).toEqual(['p5']);
  const subject = q.arrays['subject']!.data;
  const { names, perSubject } = subjectGroups(q.meta.subjectAttributes, q.meta.subjects.length, ['sex']);
  const split = Int8Array.from(subject, (s) => (s < 3 ? 0 : s === 3 ? 1 : 2));
  const group = Int32Array.from(subject, (s) => names.indexOf(perSubject[s]!));
  const meta = { ...q.meta, splits: ['train', 'validation', 'test'], groups: { attributes: ['sex'], names } };
  return artifact('samples', meta, { ...q.arrays, split: ndarray(split), group: ndarray(group) });
}

let raw: KindArtifact<'dataset'>;
let samples: KindArtifact<'samples'>;
let model: KindArtifact<'model'>;
let trained: Float32Array;

beforeAll(async () => {
  raw = makeDataset();
  samples = await trainingSamples(raw);
  const backbone = (await runStandalone(new PpgGptModelStage(), { params: { ...TINY_PARAMS, seed: 1 } })).outputs['backbone']!;
  const r = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { epochs: 1, batchSize: 8, learningRate: 3e-3, pooling: 'mean', warmupSteps: 1, seed: 2 } });
  model = outputOf(r, 'model', 'model');
  trained = r.outputs['predictions']!.arrays['yPred']!.data as Float32Array;
});

describe('eval.predict on a dataset', () => {
  it("records the training data's processing, signals, target and groups in the model", () => {
    const meta = model.meta;
    expect(meta.inputSpec).toEqual({ modality: 'ppg', fs: 40, length: 80, channels: 1, signals: ['ppg'], processing: [BANDPASS, RESAMPLE], normalisation: 'none', quality: QUALITY });
    expect(meta.target).toEqual({ name: 'hr', units: 'bpm' });
    expect(meta.groups).toEqual({ attributes: ['sex'], names: ['female', 'male'] });
  });

  it('replays the processing and quality checks on the raw dataset and reproduces the predictions on the training windows', async () => {
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: raw } });
    const pred = outputOf(p, 'predictions', 'predictions');
    expect(Array.from(pred.arrays['yPred']!.data)).toEqual(Array.from(trained));
    expect(Array.from(pred.arrays['subject']!.data)).toEqual(Array.from(samples.arrays['subject']!.data));
    expect(Array.from(pred.arrays['group']!.data)).toEqual(Array.from(samples.arrays['group']!.data));
    expect(pred.meta.subjects).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(pred.meta.groups).toEqual({ attributes: ['sex'], names: ['female', 'male'] });
    expect(logs(p.events)).toEqual(expect.arrayContaining([expect.stringMatching(/bandpass 0.5–8 Hz \(order 2\) on ppg/), expect.stringMatching(/resample to 40 Hz on ppg/)]));
  });

  it('skips the steps a dataset already went through, and refuses one processed differently', async () => {
    const half = await applyProcessingStep({ meta: raw.meta, arrays: raw.arrays }, BANDPASS);
    const filtered = artifact('dataset', half.meta, half.arrays);
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: filtered } });
    expect(Array.from(p.outputs['predictions']!.arrays['yPred']!.data)).toEqual(Array.from(trained));
    expect(logs(p.events).some((m) => m.includes('bandpass'))).toBe(false);
    const other = await applyProcessingStep({ meta: raw.meta, arrays: raw.arrays }, RESAMPLE);
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: artifact('dataset', other.meta, other.arrays) } })).rejects.toThrow(
      /dataset "sines-raw"\) was processed with \[resample to 40 Hz on ppg\] but the model's training data with \[bandpass 0.5–8 Hz \(order 2\) on ppg; resample to 40 Hz on ppg\]/,
    );
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: artifact('dataset', other.meta, other.arrays) } })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', about: { port: 'data' } });
  });

  it('keeps every window with quality none, drops the flagged subject with quality flag', async () => {
    const all = await runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { quality: 'none' } });
    expect(all.outputs['predictions']!.arrays['subject']!.data.length).toBe(36);
    expect(outputOf(all, 'predictions', 'predictions').meta.subjects).toHaveLength(6);
    const flag = await runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { quality: 'flag' } });
    expect(flag.outputs['predictions']!.arrays['subject']!.data.length).toBe(30);
    expect(logs(flag.events)).toContainEqual(expect.stringMatching(/quality \(flag\) kept 30\/36 windows \(dropped: flag 6, flat 0, clipping 0, target 0\)/));
    expect(logs(flag.events)).toContainEqual(expect.stringMatching(/1 subject\(s\) without windows left: p5/));
  });

  it("falls back to resampling only, with a warning, for a model that does not record its processing", async () => {
    const meta = model.meta;
    const { processing: _p, ...inputSpec } = meta.inputSpec;
    const old = { ...model, meta: { ...meta, inputSpec } };
    const p = await runStandalone(new PredictStage(), { inputs: { model: old, data: raw } });
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/the model does not record its training data's processing/));
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/resample 64 Hz to the model's 40 Hz/));
    expect(Array.from(p.outputs['predictions']!.arrays['yPred']!.data)).not.toEqual(Array.from(trained));
  });

  it('warns when given samples processed differently from the training data', async () => {
    const other = await applyProcessingStep({ meta: raw.meta, arrays: raw.arrays }, RESAMPLE);
    const w = await windowDataset(other, { windowSeconds: 2, shiftSeconds: 2, signals: ['ppg'], target: 'hr', normalisation: 'none', short: 'drop' });
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: artifact('samples', w.meta, w.arrays) }, params: { groups: ['sex'] } });
    expect(logs(p.events)).toContainEqual(
      "the samples were processed with [resample to 40 Hz on ppg] but the model's training data with [bandpass 0.5–8 Hz (order 2) on ppg; resample to 40 Hz on ppg]; connect the raw dataset to have eval.predict replay the model's processing",
    );
    expect(logs(p.events)).toContainEqual('params groups apply to a dataset input; the samples are used as they are');
    const same = await runStandalone(new PredictStage(), { inputs: { model, data: samples } });
    expect(logs(same.events).some((m) => m.includes('processed with'))).toBe(false);
  });

  it('names the missing input', async () => {
    await expect(runStandalone(new PredictStage(), { inputs: { model, samples } })).rejects.toThrow(/input "data" is required: a dataset \(from a loader\) or samples matching the model's input \(the port was called "samples" up to eval.predict version 2\)/);
    await expect(runStandalone(new PredictStage(), { inputs: { model, samples } })).rejects.toMatchObject({ code: 'FT_INPUT_MISSING', about: { port: 'data' } });
    // A ViT model takes image samples only: a dataset is the wrong kind, nothing is a missing input (checked before the weights are read).
    const vit = artifact('model', { ...model.meta, architecture: 'vit' }, model.arrays);
    await expect(runStandalone(new PredictStage(), { inputs: { model: vit, data: raw } })).rejects.toMatchObject({ code: 'FT_INPUT_KIND', about: { port: 'data' }, message: 'input "data": a ViT model needs image samples (from an image loader), got a dataset artifact' });
    await expect(runStandalone(new PredictStage(), { inputs: { model: vit } })).rejects.toMatchObject({ code: 'FT_INPUT_MISSING', about: { port: 'data' }, message: expect.stringMatching(/needs image samples .*got nothing$/) });
  });

  it('tiles recordings shorter than the model window (default), or drops them', async () => {
    const short = makeDataset({ seconds: 1.5, fs: 30 });
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: short }, params: { quality: 'none' } });
    expect(p.outputs['predictions']!.arrays['yPred']!.data.length).toBe(6);
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/6 recording\(s\) shorter than the model's 2-s input extended with 'tile'/));
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: short }, params: { short: 'drop' } })).rejects.toThrow(/input "data" \(dataset "sines-raw"\): windowing produced no windows from 6 recording\(s\)/);
  });

  it("replays the short rule the training windows were made with (inputSpec.short); an explicit short overrides it", async () => {
    const short = makeDataset({ seconds: 1.5, fs: 30 });
    const yPred = async (m: Artifact, params: JsonObject) => {
      const r = await runStandalone(new PredictStage(), { inputs: { model: m, data: short }, params: { quality: 'none', ...params } });
      return { y: Array.from(r.outputs['predictions']!.arrays['yPred']!.data), logs: logs(r.events) };
    };
    const meta = model.meta;
    const padded = artifact('model', { ...meta, inputSpec: { ...meta.inputSpec, short: 'pad-edge' } }, model.arrays);
    const replayed = await yPred(padded, {});
    expect(replayed.logs).toContainEqual(expect.stringMatching(/6 recording\(s\) shorter than the model's 2-s input extended with 'pad-edge' \(as the model's training windows\)/));
    expect(replayed.y).toEqual((await yPred(model, { short: 'pad-edge' })).y);
    const tiled = await yPred(padded, { short: 'tile' });
    expect(tiled.y).toEqual((await yPred(model, {})).y);
    expect(tiled.y).not.toEqual(replayed.y);
    const dropped = artifact('model', { ...meta, inputSpec: { ...meta.inputSpec, short: 'drop' } }, model.arrays);
    await expect(yPred(dropped, {})).rejects.toThrow(/windowing produced no windows from 6 recording\(s\)/);
  });

  it('records the training windows\' short rule in the model (finetune and pretrain outputs)', async () => {
    const { inputSpecOf } = await import('./common.js');
    const config = { fs: 40, windowLength: 80 } as never;
    const m = samples.meta;
    expect(inputSpecOf(config, { ...m, signal: { ...m.signal!, short: 'tile' } }).short).toBe('tile');
    expect(inputSpecOf(config, m)).not.toHaveProperty('short');
  });

  it('groups by other attributes on request, naming a missing one', async () => {
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { groups: ['sex', 'age'], ageThreshold: 50, quality: 'none' } });
    const meta = outputOf(p, 'predictions', 'predictions').meta;
    expect(meta.groups!.names).toEqual(['female|<=50', 'female|>50', 'male|<=50', 'male|>50']);
    expect(logs(p.events)).toContainEqual(expect.stringMatching(/did not occur in the model's training data/));
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { groups: ['skinType'] } })).rejects.toThrow(/cannot group subjects by skinType: "skinType" is not a subject attribute \(have sex, age\)/);
    // core's code for the missing attribute survives the message naming the input
    await expect(runStandalone(new PredictStage(), { inputs: { model, data: raw }, params: { groups: ['skinType'] } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { port: 'data', param: 'groups' } });
  });
});
