import { blandAltman, LOA_Z, meanSignedError, subjectWeightedMae } from './agreement.js';
import { eligibleSpread } from './common.js';
import { regressionMetrics } from './regression.js';

describe('bias and Bland–Altman agreement', () => {
  // d = ŷ − y = 2, −1, 3, 0: mean 1; deviations 1, −2, 2, −1 → Σ 10, SD = √(10/3) with ddof 1
  const yTrue = [10, 20, 30, 40];
  const yPred = [12, 19, 33, 40];

  it('takes the signed error as prediction minus reference (over-estimation is positive)', () => {
    expect(meanSignedError([100, 80], [110, 86])).toBe(8);
    expect(meanSignedError(yTrue, yPred)).toBe(1);
  });

  it('computes the mean difference, the sample SD (ddof 1) and bias ± 1.96·SD by hand', () => {
    const a = blandAltman(yTrue, yPred);
    const sd = Math.sqrt(10 / 3);
    expect(a.n).toBe(4);
    expect(a.bias).toBe(1);
    expect(a.sd).toBeCloseTo(sd, 12);
    expect(LOA_Z).toBe(1.96);
    expect(a.loaLower).toBeCloseTo(1 - 1.96 * sd, 12);
    expect(a.loaUpper).toBeCloseTo(1 + 1.96 * sd, 12);
    // another z on request
    expect(blandAltman(yTrue, yPred, 2).loaUpper).toBeCloseTo(1 + 2 * sd, 12);
  });

  it('is NaN where undefined: no samples, or an SD from one sample', () => {
    const one = blandAltman([70], [72]);
    expect(one.bias).toBe(2);
    expect(one.sd).toBeNaN();
    expect(one.loaLower).toBeNaN();
    const none = blandAltman([], []);
    expect(none.bias).toBeNaN();
    expect(none.sd).toBeNaN();
  });

  it('rejects non-finite values and mismatched lengths', () => {
    expect(() => blandAltman([1, Number.NaN], [1, 1])).toThrow(/yTrue\[1\] is NaN/);
    expect(() => meanSignedError([1, 2], [1])).toThrow(/yTrue=2, yPred=1/);
  });
});

describe('subject-weighted MAE', () => {
  it('averages per-subject MAEs, so a subject with many windows counts once', () => {
    // subject 0: three windows with |error| 1; subject 1: one window with |error| 5
    const yTrue = [60, 60, 60, 60];
    const yPred = [61, 59, 61, 65];
    const subject = [0, 0, 0, 1];
    expect(subjectWeightedMae(yTrue, yPred, subject)).toBe(3); // (1 + 5) / 2
    expect(regressionMetrics(yTrue, yPred, [0, 0, 0, 0]).mae).toBe(2); // window-weighted: 8 / 4
    expect(subjectWeightedMae([], [], [])).toBeNaN();
  });

  it('adds subjects, subject-weighted MAE per group and its gap to regressionMetrics, next to the window-weighted ones', () => {
    // group 0: subject 0 (|e| 1, 1, 1), subject 1 (|e| 3); group 1: subject 2 (|e| 2, 6); unknown: subject 3
    const yTrue = [0, 0, 0, 0, 0, 0, 0];
    const yPred = [1, -1, 1, 3, 2, -6, 9];
    const group = [0, 0, 0, 0, 1, 1, -1];
    const subject = [0, 0, 0, 1, 2, 2, 3];
    const r = regressionMetrics(yTrue, yPred, group, { subject });
    expect(r.groups.map((g) => [g.subjects, g.mae, g.subjectMae])).toEqual([
      [2, 6 / 4, 2], // windows: (1+1+1+3)/4; subjects: (1 + 3)/2
      [1, 4, 4],
    ]);
    expect(r.subjectMae).toBe((1 + 3 + 4 + 9) / 4);
    expect(r.subjectMaeGap).toBe(2);
    expect(r.maeGap).toBe(4 - 1.5);
    expect(r.groups[0]!.bias).toBe(1); // (1 − 1 + 1 + 3) / 4
    expect(regressionMetrics(yTrue, yPred, group).subjectMae).toBeUndefined();
  });
});

describe('gaps over eligible groups', () => {
  it('is the plain max − min when every group takes part, and needs two eligible groups otherwise', () => {
    const values = [1, 5, 3];
    const ids = [0, 1, 2];
    expect(eligibleSpread(values, ids)).toBe(4);
    expect(eligibleSpread(values, ids, new Set([0, 1, 2]))).toBe(4);
    expect(eligibleSpread(values, ids, new Set([0, 2]))).toBe(2);
    expect(eligibleSpread(values, ids, new Set([0]))).toBeNaN(); // one group left: no gap, not 0
    expect(eligibleSpread([7], [4], new Set([4]))).toBe(0); // a single group, none left out: 0 as before
    expect(eligibleSpread([1, Number.NaN, 3], ids, new Set([0, 1]))).toBeNaN();
  });
});
