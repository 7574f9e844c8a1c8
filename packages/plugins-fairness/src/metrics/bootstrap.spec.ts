import { Rng } from '@fairtune/core';
import { aggregateSeeds, bootstrapBySubject, percentileInterval, SubjectResampler } from './bootstrap.js';

describe('subject bootstrap', () => {
  // subjects 0,1 in group 0 (3 and 2 windows), subjects 2,3,4 in group 1 (1 window each)
  const subject = [0, 0, 0, 1, 1, 2, 3, 4];
  const group = [0, 0, 0, 0, 0, 1, 1, 1];

  it('draws whole subjects, stratified by group', () => {
    const r = new SubjectResampler(subject, group);
    expect(r.subjectCount).toBe(5);
    const rng = new Rng(3);
    for (let k = 0; k < 20; k++) {
      const rep = r.draw(rng);
      const drawn = Array.from(rep.subjects);
      expect(drawn.filter((s) => s <= 1)).toHaveLength(2);
      expect(drawn.filter((s) => s >= 2)).toHaveLength(3);
      // windows = all windows of each drawn subject
      const expected = drawn.flatMap((s) => r.samplesOf(s));
      expect(Array.from(rep.samples)).toEqual(expected);
      // each window carries the index of its draw: a subject drawn twice is two draws
      expect(Array.from(rep.draws)).toEqual(drawn.flatMap((s, d) => r.samplesOf(s).map(() => d)));
    }
  });

  it('is reproducible for a seed and skips undefined replicate values', async () => {
    const r = new SubjectResampler(subject, group);
    const values = [1, 2, 3, 4, 5, 6, 7, 8];
    const compute = (rep: { samples: Int32Array }) => {
      const v = Array.from(rep.samples, (i) => values[i]!);
      return { mean: v.reduce((a, b) => a + b, 0) / v.length, undefinedAlways: Number.NaN };
    };
    const a = await bootstrapBySubject(r, compute, { seed: 9, replicates: 50 });
    const b = await bootstrapBySubject(r, compute, { seed: 9, replicates: 50 });
    expect(a).toEqual(b);
    expect(a.mean!.valid).toBe(50);
    expect(a.mean!.lo).toBeLessThan(a.mean!.hi);
    expect(a.undefinedAlways).toEqual({ lo: Number.NaN, hi: Number.NaN, valid: 0 });
  });

  it('takes percentiles with linear interpolation', () => {
    expect(percentileInterval([5, 1, 3, 2, 4], 0.5)).toEqual({ lo: 2, hi: 4, valid: 5 });
    expect(percentileInterval([1, 2], 0.5)).toEqual({ lo: 1.25, hi: 1.75, valid: 2 });
  });
});

describe('aggregateSeeds', () => {
  it('returns mean and sample std per metric, skipping NaN', () => {
    const agg = aggregateSeeds([{ mae: 1, gap: 0.5 }, { mae: 2, gap: Number.NaN }, { mae: 3, gap: 1.5 }]);
    expect(agg.mae).toEqual({ mean: 2, std: 1, n: 3 });
    expect(agg.gap!.mean).toBe(1);
    expect(agg.gap!.std).toBeCloseTo(Math.SQRT1_2, 12);
    expect(aggregateSeeds([{ x: 4 }]).x).toEqual({ mean: 4, std: Number.NaN, n: 1 });
  });
});
