/** Small synthetic inputs for tests: sinusoid "PPG" windows whose frequency is the regression target. */
import { artifact, ndarray, Rng, TRAINING_STRATEGY_KIND, type DatasetMeta, type KindArtifact, type NdArray, type RecordingRecord, type SamplesMeta } from '@fairtune/core/plugin';
import { runStandalone, type StandaloneRunOptions, type StandaloneRunResult } from '@fairtune/core/testing';
import type { FinetuneStage } from '../stages/finetune.js';

/**
 * runStandalone for train.finetune: its `strategy` is resolved (name known, params checked and
 * defaulted) against the stage's own strategies, as a pipeline's registry resolves it.
 */
export function runFinetune(stage: FinetuneStage, options: StandaloneRunOptions): Promise<StandaloneRunResult> {
  return runStandalone(stage, { ...options, nested: { [TRAINING_STRATEGY_KIND.kind]: stage.strategies } });
}

/** Tiny architecture: 80-sample windows, 20-sample patches (5 tokens), d 16, 2 heads, 2 layers. */
export const TINY_PARAMS = { preset: 'tiny', windowLength: 80, fs: 40, patchSize: 20, dModel: 16, nHeads: 2, nLayers: 2, dropout: 0, attentionDropout: 0 } as const;

export interface SamplesOptions {
  n?: number;
  length?: number;
  fs?: number;
  task?: 'regression' | 'classification';
  seed?: number;
}

/** n windows; y = beats per minute (regression) or fast/slow (classification); two groups; splits train/val/test. */
export function makeSamples(opts: SamplesOptions = {}): KindArtifact<'samples'> {
  const n = opts.n ?? 24;
  const L = opts.length ?? 80;
  const fs = opts.fs ?? 40;
  const rng = new Rng(opts.seed ?? 1);
  const x = new Float32Array(n * L);
  const y = new Float32Array(n);
  const subject = new Int32Array(n);
  const split = new Int8Array(n);
  const group = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const bpm = 50 + 100 * rng.next();
    const phase = 2 * Math.PI * rng.next();
    for (let t = 0; t < L; t++) x[i * L + t] = Math.sin(phase + (2 * Math.PI * bpm * t) / (60 * fs)) + 0.05 * rng.normal();
    y[i] = opts.task === 'classification' ? (bpm > 100 ? 1 : 0) : bpm;
    subject[i] = i % 6;
    group[i] = i % 2;
    split[i] = i % 4 === 3 ? 1 : i % 8 === 2 ? 2 : 0;
  }
  const meta: SamplesMeta = {
    name: 'synthetic-sines',
    synthetic: true,
    modality: 'ppg',
    task: opts.task ?? 'regression',
    target: { name: 'hr', units: 'bpm' },
    signal: { fs, length: L, channels: ['ppg'], windowSeconds: L / fs, shiftSeconds: L / fs },
    subjects: ['s0', 's1', 's2', 's3', 's4', 's5'],
    subjectAttributes: { sex: ['female', 'male', 'female', 'male', 'female', 'male'] },
    splits: ['train', 'validation', 'test'],
    groups: { attributes: ['sex'], names: ['female', 'male'] },
  };
  return artifact('samples', meta, {
    x: { dtype: 'float32', shape: [n, L], data: x },
    y: { dtype: 'float32', shape: [n], data: y },
    subject: { dtype: 'int32', shape: [n], data: subject },
    split: { dtype: 'int8', shape: [n], data: split },
    group: { dtype: 'int32', shape: [n], data: group },
  });
}

/**
 * A raw `dataset` artifact as a loader emits it: `subjects` recordings of `seconds` s of a
 * sinusoidal "PPG" at `fs` Hz (plus a slow baseline drift a band-pass removes), an `hr` label
 * and a `quality` label (0 for the last recording) every 2 s, and alternating sex.
 */
export function makeDataset(opts: { subjects?: number; seconds?: number; fs?: number; seed?: number } = {}): KindArtifact<'dataset'> {
  const nSub = opts.subjects ?? 6;
  const seconds = opts.seconds ?? 12;
  const fs = opts.fs ?? 64;
  const rng = new Rng(opts.seed ?? 5);
  const arrays: Record<string, NdArray> = {};
  const recordings: RecordingRecord[] = [];
  for (let s = 0; s < nSub; s++) {
    const bpm = 55 + 90 * rng.next();
    const n = Math.round(seconds * fs);
    const x = new Float32Array(n);
    for (let t = 0; t < n; t++) x[t] = Math.sin((2 * Math.PI * bpm * t) / (60 * fs)) + 0.8 * Math.sin((2 * Math.PI * 0.05 * t) / fs) + 0.05 * rng.normal();
    const k = Math.max(1, Math.floor(seconds / 2));
    arrays[`r${s}/ppg`] = ndarray(x);
    arrays[`r${s}/hr`] = ndarray(Float32Array.from({ length: k }, () => bpm));
    arrays[`r${s}/quality`] = ndarray(Float32Array.from({ length: k }, () => (s === nSub - 1 ? 0 : 1)));
    recordings.push({
      id: `r${s}`,
      subject: `p${s}`,
      attributes: { sex: s % 2 ? 'male' : 'female', age: 30 + 10 * s },
      signals: { ppg: { array: `r${s}/ppg`, fs } },
      labels: {
        hr: { array: `r${s}/hr`, units: 'bpm', windowSeconds: 2, shiftSeconds: 2 },
        quality: { array: `r${s}/quality`, categorical: true, windowSeconds: 2, shiftSeconds: 2 },
      },
    });
  }
  const meta: DatasetMeta = { name: 'sines-raw', synthetic: true, source: { root: '(test)' }, recordings };
  return artifact('dataset', meta, arrays);
}
