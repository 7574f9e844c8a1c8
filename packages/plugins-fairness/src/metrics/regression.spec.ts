import { meanAbsoluteError, regressionMetrics, rootMeanSquaredError } from './regression.js';

describe('regression metrics', () => {
  // errors |y − ŷ| = 1, 0, 2, 4 ; squared 1, 0, 4, 16
  const yTrue = [1, 2, 3, 4];
  const yPred = [2, 2, 5, 0];

  it('computes MAE and RMSE by hand', () => {
    expect(meanAbsoluteError(yTrue, yPred)).toBeCloseTo(7 / 4, 12);
    expect(rootMeanSquaredError(yTrue, yPred)).toBeCloseTo(Math.sqrt(21 / 4), 12);
  });

  it('computes per-group MAE, gap |MAE_a − MAE_b| and worst group', () => {
    const r = regressionMetrics(yTrue, yPred, [0, 0, 1, 1]);
    expect(r.groups.map((g) => [g.group, g.n, g.mae])).toEqual([
      [0, 2, 0.5],
      [1, 2, 3],
    ]);
    expect(r.groups[1]!.rmse).toBeCloseTo(Math.sqrt(10), 12);
    expect(r.maeGap).toBeCloseTo(2.5, 12);
    expect(r.worstGroupMae).toBe(3);
  });

  it('uses max − min for more than two groups and skips unknown (−1) samples in groups only', () => {
    const r = regressionMetrics([0, 0, 0, 0, 0], [1, 2, 3, 10, 7], [0, 1, 2, -1, 2]);
    expect(r.groups.map((g) => g.mae)).toEqual([1, 2, 5]);
    expect(r.maeGap).toBe(4);
    expect(r.worstGroupMae).toBe(5);
    expect(r.mae).toBeCloseTo(23 / 5, 12); // the unknown-group sample counts overall
  });

  it('gives gap 0 for one group and NaN for none or empty input', () => {
    expect(regressionMetrics([1, 2], [2, 2], [3, 3]).maeGap).toBe(0);
    const none = regressionMetrics([1, 2], [2, 2], [-1, -1]);
    expect(none.maeGap).toBeNaN();
    expect(none.worstGroupMae).toBeNaN();
    expect(meanAbsoluteError([], [])).toBeNaN();
  });

  it('rejects mismatched lengths, non-finite values and bad group ids, naming them', () => {
    expect(() => meanAbsoluteError([1, 2], [1])).toThrow(/yTrue=2, yPred=1/);
    expect(() => meanAbsoluteError([1, Number.NaN], [1, 1])).toThrow(/yTrue\[1\] is NaN/);
    expect(() => regressionMetrics([1], [1], [-2])).toThrow(/groups\[0\] is -2/);
  });
  it('validates the full arrays, naming the index in the caller\'s arrays', () => {
    expect(() => regressionMetrics([1, 2, 3, Number.NaN], [1, 2, 3, 4], [0, 1, 0, 1])).toThrow(/yTrue\[3\] is NaN/);
    expect(() => regressionMetrics([1, 2, 3, 4], [1, 2, 3, Number.POSITIVE_INFINITY], [0, 1, 0, 1])).toThrow(/yPred\[3\] is Infinity/);
  });
});
