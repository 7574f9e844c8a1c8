import { describe, expect, it } from '@jest/globals';
import { ndarray, type SamplesMeta } from '@fairtune/core';
import { compactSubjects, filterSamples } from './samples.js';
import { qualityMask } from './quality.js';
import { kaiserSincFilter, resamplePoly } from './resample.js';

const L = 40;
function windows(): { meta: SamplesMeta; arrays: Record<string, ReturnType<typeof ndarray>> } {
  // 6 windows of 3 subjects: a sine, a flat line, a clipped square wave, a sine with HR 250,
  // a sine flagged 0, a sine.
  const sine = (k: number) => Array.from({ length: L }, (_, i) => Math.sin((2 * Math.PI * i) / 13.7 + k));
  const rows = [sine(0), new Array(L).fill(1), Array.from({ length: L }, (_, i) => (i % 10 < 5 ? 1 : -1)), sine(1), sine(2), sine(3)];
  const meta: SamplesMeta = {
    name: 't', synthetic: true, modality: 'ppg', task: 'regression', target: { name: 'hr' },
    subjects: ['a', 'b', 'c'], subjectAttributes: { sex: ['female', 'male', 'female'] },
  };
  return {
    meta,
    arrays: {
      x: ndarray(Float32Array.from(rows.flat()), [6, L]),
      y: ndarray(Float32Array.from([70, 70, 70, 250, 70, 70])),
      subject: ndarray(Int32Array.from([0, 1, 1, 1, 2, 0])),
      'aux/quality': ndarray(Float32Array.from([1, 1, 1, 1, 0, 1])),
    },
  };
}

describe('qualityMask', () => {
  it('drops flagged, flat, clipped and implausible-target windows, counting each under its first failed check', () => {
    const { arrays } = windows();
    const r = qualityMask(arrays, { useQualityFlag: true, maxFlatFraction: 0.25, maxClippingFraction: 0.2, targetRange: [30, 220] });
    expect(r.keep).toEqual([true, false, false, false, false, true]);
    expect(r.dropped).toEqual({ flag: 1, flat: 1, clipping: 1, target: 1 });
    expect(r.kept).toBe(2);
    const loose = qualityMask(arrays, { useQualityFlag: false, maxFlatFraction: 1, maxClippingFraction: 1, targetRange: [30, 300] });
    expect(loose.kept).toBe(6);
    const { x: _x, ...noX } = arrays;
    expect(() => qualityMask(noX, { useQualityFlag: true, maxFlatFraction: 0.25, maxClippingFraction: 0.2, targetRange: [30, 220] })).toThrow(expect.objectContaining({ code: 'FT_ARRAY_MISSING' }));
  });
});

describe('compactSubjects', () => {
  it('removes subjects without windows and renumbers the subject array', () => {
    const { meta, arrays } = windows();
    const kept = filterSamples(arrays, [true, false, false, false, true, true]);
    const c = compactSubjects(meta, kept);
    expect(c.removed).toEqual(['b']);
    expect(c.meta.subjects).toEqual(['a', 'c']);
    expect(c.meta.subjectAttributes).toEqual({ sex: ['female', 'female'] });
    expect(Array.from(c.arrays['subject']!.data)).toEqual([0, 1, 0]);
    expect(c.arrays['x']).toBe(kept['x']);
    const same = compactSubjects(meta, arrays);
    expect(same.removed).toEqual([]);
    expect(same.meta).toBe(meta);
    const { subject: _s, ...noSubject } = arrays;
    expect(() => compactSubjects(meta, noSubject)).toThrow(expect.objectContaining({ code: 'FT_ARRAY_MISSING' }));
  });
});

describe('resamplePoly gain', () => {
  it('has unit DC gain, as scipy firwin: the taps sum to up, a constant keeps its mean', () => {
    for (const [up, down] of [[5, 8], [4, 3], [1, 2], [8, 25]] as const) expect(kaiserSincFilter(up, down).reduce((a, b) => a + b, 0)).toBeCloseTo(up, 12);
    // Each polyphase branch ripples around 1 (as in SciPy); over a whole cycle of the 5 branches
    // used at 64 → 40 Hz the gain is exactly 1, which the unnormalised window missed by ~1e-3.
    const y = resamplePoly(new Float64Array(640).fill(3), 64, 40);
    const interior = y.slice(100, 300);
    expect(Math.abs(interior.reduce((a, b) => a + b, 0) / interior.length - 3)).toBeLessThan(1e-12);
  });
});
