import { describe, expect, it } from '@jest/globals';
import { ndarray, type DatasetMeta } from '@fairtune/core';
import { applyProcessingStep, describeStep, remainingSteps, sameStep, type DatasetArrays } from './processing.js';
import { windowDataset } from './windowing.js';

const fs = 64;
function dataset(): DatasetArrays {
  const n = 10 * fs;
  const ppg = Float32Array.from({ length: n }, (_, t) => Math.sin((2 * Math.PI * 1.5 * t) / fs) + 2);
  const acc = Float32Array.from({ length: n * 3 }, (_, i) => i % 3);
  const meta: DatasetMeta = {
    name: 'd',
    synthetic: true,
    source: { root: '(test)' },
    recordings: [
      {
        id: 'r0',
        subject: 's0',
        attributes: { sex: 'female' },
        signals: { ppg: { array: 'r0/ppg', fs }, acc: { array: 'r0/acc', fs: 32, channels: ['x', 'y', 'z'] } },
        labels: { hr: { array: 'r0/hr', windowSeconds: 2, shiftSeconds: 2 } },
      },
    ],
  };
  return { meta, arrays: { 'r0/ppg': ndarray(ppg), 'r0/acc': ndarray(acc, [n, 3]), 'r0/hr': ndarray(Float32Array.from([90, 90, 90, 90, 90])) } };
}

describe('applyProcessingStep', () => {
  it('processes only the named signals and records the step in order', async () => {
    const d = dataset();
    const a = await applyProcessingStep(d, { op: 'bandpass', low: 0.5, high: 8, order: 2, signals: ['ppg'] });
    const b = await applyProcessingStep(a, { op: 'resample', fs: 40, signals: ['ppg'] });
    expect(b.meta.processing).toEqual([
      { op: 'bandpass', low: 0.5, high: 8, order: 2, signals: ['ppg'] },
      { op: 'resample', fs: 40, signals: ['ppg'] },
    ]);
    expect(d.meta.processing).toBeUndefined();
    const rec = b.meta.recordings[0]!;
    expect(rec.signals['ppg']!.fs).toBe(40);
    expect(b.arrays['r0/ppg']!.shape).toEqual([400]);
    // The band-pass removed the DC offset of 2; the untouched signal is the same array.
    const mid = Array.from(b.arrays['r0/ppg']!.data.slice(100, 300));
    expect(Math.abs(mid.reduce((s, v) => s + v, 0) / mid.length)).toBeLessThan(0.05);
    expect(b.arrays['r0/acc']).toBe(d.arrays['r0/acc']);
    expect(rec.signals['acc']!.fs).toBe(32);
  });

  it('processes every signal and channel without a signal list, and names the recording on errors', async () => {
    const all = await applyProcessingStep(dataset(), { op: 'resample', fs: 16 });
    expect(all.meta.recordings[0]!.signals['acc']!.fs).toBe(16);
    expect(all.arrays['r0/acc']!.shape).toEqual([320, 3]);
    await expect(applyProcessingStep(dataset(), { op: 'bandpass', low: 0.5, high: 20, order: 2 })).rejects.toThrow(/high edge 20 Hz is not below the Nyquist rate of r0\/acc \(16 Hz\)/);
    await expect(applyProcessingStep(dataset(), { op: 'fft' } as never)).rejects.toThrow(/unknown signal-processing step \{"op":"fft"\}; known ops: bandpass, resample/);
  });

  it('codes the errors a user can act on (docs/errors.md)', async () => {
    await expect(applyProcessingStep(dataset(), { op: 'bandpass', low: 0.5, high: 20, order: 2 })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'high' } });
    // The filter design's RangeError on a band it cannot take keeps its message and gets the code.
    await expect(applyProcessingStep(dataset(), { op: 'bandpass', low: 8, high: 4, order: 2 })).rejects.toMatchObject({
      code: 'FT_PARAM_INVALID',
      about: { param: 'low' },
      message: 'band [8, 4] Hz must satisfy 0 < low < high < Nyquist (32 Hz)',
    });
    await expect(applyProcessingStep(dataset(), { op: 'fft' } as never)).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT' });
    const noArray = dataset();
    await expect(applyProcessingStep({ meta: noArray.meta, arrays: {} }, { op: 'resample', fs: 16 })).rejects.toMatchObject({ code: 'FT_ARRAY_MISSING' });
  });
});

describe('remainingSteps', () => {
  const bp = { op: 'bandpass', low: 0.5, high: 8, order: 2, signals: ['ppg'] } as const;
  const rs = { op: 'resample', fs: 40, signals: ['ppg'] } as const;
  it('returns what is left after a matching prefix, null when the paths differ', () => {
    expect(remainingSteps([], [bp, rs])).toEqual([bp, rs]);
    expect(remainingSteps([bp], [bp, rs])).toEqual([rs]);
    expect(remainingSteps([{ signals: ['ppg'], order: 2, high: 8, low: 0.5, op: 'bandpass' }], [bp, rs])).toEqual([rs]);
    expect(remainingSteps([rs], [bp, rs])).toBeNull();
    expect(remainingSteps([bp, rs, rs], [bp, rs])).toBeNull();
    expect(sameStep(bp, { ...bp, order: 4 })).toBe(false);
    expect(describeStep(bp)).toBe('bandpass 0.5–8 Hz (order 2) on ppg');
    expect(describeStep({ op: 'resample', fs: 40 })).toBe('resample to 40 Hz');
  });
});

describe('windowDataset', () => {
  it('records the signals and processing the windows were made from', async () => {
    const a = await applyProcessingStep(dataset(), { op: 'resample', fs: 40, signals: ['ppg'] });
    const w = await windowDataset(a, { windowSeconds: 2, shiftSeconds: 2, signals: ['ppg'], target: 'hr', normalisation: 'none', short: 'drop' });
    expect(w.meta.signal).toEqual({ fs: 40, length: 80, channels: ['ppg'], windowSeconds: 2, shiftSeconds: 2, normalisation: 'none', signals: ['ppg'], processing: [{ op: 'resample', fs: 40, signals: ['ppg'] }] });
    expect(w.arrays['x']!.shape).toEqual([5, 80]);
    expect(Array.from(w.arrays['y']!.data)).toEqual([90, 90, 90, 90, 90]);
  });

  it('codes a dataset it cannot window as FT_INPUT_CONTENT, a missing array as FT_ARRAY_MISSING', async () => {
    const opts = { windowSeconds: 2, shiftSeconds: 2, signals: ['ppg'], target: 'hr', normalisation: 'none', short: 'drop' } as const;
    await expect(windowDataset(dataset(), { ...opts, signals: ['ecg'] })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', message: 'recording r0 has no signal "ecg" (has ppg, acc)' });
    await expect(windowDataset(dataset(), { ...opts, signals: ['ppg', 'acc'] })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT' });
    await expect(windowDataset(dataset(), { ...opts, windowSeconds: 30 })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT' });
    const d = dataset();
    await expect(windowDataset({ meta: d.meta, arrays: { 'r0/ppg': d.arrays['r0/ppg']! } }, opts)).rejects.toMatchObject({ code: 'FT_ARRAY_MISSING', message: expect.stringMatching(/label "hr" points at array "r0\/hr"/) });
    await expect(windowDataset({ meta: d.meta, arrays: { 'r0/hr': d.arrays['r0/hr']! } }, opts)).rejects.toMatchObject({ code: 'FT_ARRAY_MISSING', message: 'dataset has no array "r0/ppg"' });
  });
});
