import { Rng } from '@fairtune/core';
import { matrixFromRows, mmd2Rbf, RepresentationAnalysis, silhouetteScore } from './representation.js';

const col = (v: number[]) => matrixFromRows(v.map((x) => [x]));

describe('MMD² (unbiased, RBF)', () => {
  it('matches a hand computation with a fixed bandwidth', () => {
    const { mmd2 } = mmd2Rbf(col([0, 1]), col([3, 4]), 1);
    const e = Math.exp;
    const expected = 2 * e(-0.5) - (2 * (2 * e(-4.5) + e(-8) + e(-2))) / 4;
    expect(mmd2).toBeCloseTo(expected, 12);
  });
  it('uses the median pairwise distance of the pooled sample as σ', () => {
    // pooled {0,1,3,4}: distances 1 1 2 3 3 4 → median 2.5
    expect(mmd2Rbf(col([0, 1]), col([3, 4])).sigma).toBe(2.5);
  });
  it('is near 0 (possibly negative) for samples of the same distribution', () => {
    const rng = new Rng(1);
    const draw = () => matrixFromRows(Array.from({ length: 60 }, () => [rng.normal(), rng.normal()]));
    const same = mmd2Rbf(draw(), draw()).mmd2;
    expect(Math.abs(same)).toBeLessThan(0.05);
    const shifted = matrixFromRows(Array.from({ length: 60 }, () => [rng.normal(3), rng.normal()]));
    expect(mmd2Rbf(draw(), shifted).mmd2).toBeGreaterThan(0.3);
  });
  it('is NaN when a group has fewer than two points', () => {
    expect(mmd2Rbf(col([0]), col([3, 4]), 1).mmd2).toBeNaN();
  });
});

describe('silhouette (sklearn semantics)', () => {
  it('matches a hand computation', () => {
    expect(silhouetteScore(col([0, 1, 4, 5]), [0, 0, 1, 1])).toBeCloseTo((7 / 9 + 5 / 7) / 2, 12);
  });
  it('gives singleton clusters s_i = 0', () => {
    expect(silhouetteScore(col([0, 1, 5]), [0, 0, 1])).toBeCloseTo((0.8 + 0.75 + 0) / 3, 12);
  });
  it('gives 0 for identical points (0/0) and throws outside 2 ≤ labels ≤ n − 1', () => {
    expect(silhouetteScore(col([2, 2, 2, 2]), [0, 0, 1, 1])).toBe(0);
    expect(() => silhouetteScore(col([0, 1, 2]), [0, 0, 0])).toThrow(/number of labels is 1/);
    expect(() => silhouetteScore(col([0, 1, 2]), [0, 1, 2])).toThrow(/number of labels is 3/);
  });
});

describe('RepresentationAnalysis', () => {
  it('agrees with the direct functions, reports all pairs and takes the max for > 2 groups', () => {
    const z = col([0, 1, 3, 4, 10, 11]);
    const a = new RepresentationAnalysis(z, [0, 0, 1, 1, 2, 2], { sigma: 1 });
    const r = a.compute();
    expect(r.pairs.map((p) => [p.a, p.b])).toEqual([[0, 1], [0, 2], [1, 2]]);
    expect(r.pairs[0]!.mmd2).toBeCloseTo(mmd2Rbf(col([0, 1]), col([3, 4]), 1).mmd2, 12);
    expect(r.mmd2).toBe(Math.max(...r.pairs.map((p) => p.mmd2)));
    expect(r.silhouette).toBeCloseTo(silhouetteScore(z, [0, 0, 1, 1, 2, 2]), 12);
  });
  it('ignores unknown groups, subsamples with a seed and reports undefined metrics as warnings', () => {
    const z = col([0, 1, 2, 3, 4, 5, 6, 7]);
    const a = new RepresentationAnalysis(z, [0, 0, 0, 0, -1, -1, -1, -1], { maxSamples: 3, seed: 5 });
    expect(a.rows.length).toBe(3);
    expect(Array.from(a.rows).every((r) => r < 4)).toBe(true);
    const r = a.compute();
    expect(r.mmd2).toBeNaN();
    expect(r.silhouette).toBeNaN();
    expect(r.warnings.join('\n')).toMatch(/two groups/);
  });
  it('rejects a non-positive fixed bandwidth in mmd2Rbf and RepresentationAnalysis alike', () => {
    expect(() => mmd2Rbf(col([0, 1]), col([3, 4]), 0)).toThrow(/bandwidth σ must be a positive number, got 0/);
    expect(() => new RepresentationAnalysis(col([0, 1, 3, 4]), [0, 0, 1, 1], { sigma: 0 })).toThrow(/bandwidth σ must be a positive number, got 0/);
  });
});
