/** Small synthetic inputs for tests: sinusoid "PPG" windows whose frequency is the regression target. */
import { artifact, Rng, type Artifact, type JsonObject, type SamplesMeta } from '@fairtune/core';

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
export function makeSamples(opts: SamplesOptions = {}): Artifact {
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
  return artifact('samples', meta as unknown as JsonObject, {
    x: { dtype: 'float32', shape: [n, L], data: x },
    y: { dtype: 'float32', shape: [n], data: y },
    subject: { dtype: 'int32', shape: [n], data: subject },
    split: { dtype: 'int8', shape: [n], data: split },
    group: { dtype: 'int32', shape: [n], data: group },
  });
}
