import {
  accuracy,
  binarize,
  classificationMetrics,
  demographicParityDifference,
  equalizedOddsDifference,
  expectedCalibrationError,
  rates,
  rocAuc,
} from './classification.js';

describe('rocAuc (Mann–Whitney with mid-ranks)', () => {
  it('matches the sklearn documentation example', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
  });
  it('counts tied positive/negative pairs as 1/2', () => {
    // pairs (pos, neg): (0.5,0.2)=1 (0.5,0.5)=½ (0.9,0.2)=1 (0.9,0.5)=1 → 3.5/4
    expect(rocAuc([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.9])).toBeCloseTo(0.875, 12);
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });
  it('is 0 for perfectly inverted scores and NaN with one class', () => {
    expect(rocAuc([1, 1, 0], [0.1, 0.2, 0.3])).toBe(0);
    expect(rocAuc([1, 1, 1], [0.1, 0.2, 0.3])).toBeNaN();
    expect(rocAuc([], [])).toBeNaN();
  });
  it('rejects non-binary labels', () => {
    expect(() => rocAuc([0, 2], [0.1, 0.2])).toThrow(/yTrue\[1\] is 2, expected 0 or 1/);
  });
});

describe('threshold metrics with fairlearn semantics', () => {
  // group 0: y 1 1 0 0, ŷ 1 0 1 0 → TPR ½, FPR ½, SR ½
  // group 1: y 1 1 1 0, ŷ 1 1 1 0 → TPR 1, FPR 0, SR ¾
  const y = [1, 1, 0, 0, 1, 1, 1, 0];
  const yHat = [1, 0, 1, 0, 1, 1, 1, 0];
  const g = [0, 0, 0, 0, 1, 1, 1, 1];

  it('computes rates, DPD and EOD by hand', () => {
    expect(rates([1, 1, 0, 0], [1, 0, 1, 0])).toEqual({ n: 4, tpr: 0.5, fpr: 0.5, selectionRate: 0.5 });
    expect(demographicParityDifference(y, yHat, g)).toBeCloseTo(0.25, 12);
    expect(equalizedOddsDifference(y, yHat, g)).toBeCloseTo(0.5, 12);
    expect(accuracy(y, yHat)).toBeCloseTo(6 / 8, 12); // group 0 has two errors
  });

  it('treats a 0/0 rate as 0 (group without negatives has FPR 0)', () => {
    expect(rates([1, 1], [1, 1])).toEqual({ n: 2, tpr: 1, fpr: 0, selectionRate: 1 });
    expect(rates([0, 0], [1, 0]).tpr).toBe(0);
    // group 1 has no negatives → FPR_1 = 0 (not undefined); group 0 FPR = 1 → EOD = 1
    expect(equalizedOddsDifference([0, 1, 1], [1, 1, 1], [0, 1, 1])).toBe(1);
  });

  it('returns 0 with a single observed group and NaN with none', () => {
    expect(demographicParityDifference(y, yHat, y.map(() => 7))).toBe(0);
    expect(equalizedOddsDifference(y, yHat, y.map(() => 7))).toBe(0);
    expect(equalizedOddsDifference(y, yHat, y.map(() => -1))).toBeNaN();
  });

  it('binarizes with ŷ = [p ≥ t]', () => {
    expect(Array.from(binarize([0.2, 0.5, 0.7], 0.5))).toEqual([0, 1, 1]);
  });
});

describe('expectedCalibrationError (top-label, bins (lo, hi])', () => {
  it('matches a hand computation', () => {
    // conf 0.9 ✓, 0.8 ✗, 0.7 ✓ (p=0.3 predicts 0), 0.6 ✗ — one sample per bin with 10 bins
    expect(expectedCalibrationError([1, 0, 0, 0], [0.9, 0.8, 0.3, 0.6], 10)).toBeCloseTo((0.1 + 0.8 + 0.3 + 0.6) / 4, 12);
    // one bin: |acc − mean conf| = |0.5 − 0.75|
    expect(expectedCalibrationError([1, 0, 0, 0], [0.9, 0.8, 0.3, 0.6], 1)).toBeCloseTo(0.25, 12);
  });
  it('is 0 for a perfectly calibrated bin, NaN when empty, and rejects non-probabilities', () => {
    expect(expectedCalibrationError([1, 0], [0.5, 0.5], 15)).toBe(0);
    expect(expectedCalibrationError([], [])).toBeNaN();
    expect(() => expectedCalibrationError([1], [1.5])).toThrow(/prob\[0\] is 1.5/);
  });
});

describe('classificationMetrics', () => {
  it('excludes a one-class group from minAuc/aucGap and warns', () => {
    const r = classificationMetrics(
      [0, 1, 0, 1, 1, 1, 0, 1],
      [0.1, 0.9, 0.6, 0.4, 0.8, 0.7, 0.2, 0.3],
      [0, 0, 1, 1, 2, 2, 3, 3],
      { groupNames: ['a', 'b', 'c', 'd'] },
    );
    expect(r.groups.map((x) => x.auc)).toEqual([1, 0, Number.NaN, 1]);
    expect(r.minAuc).toBe(0);
    expect(r.aucGap).toBe(1);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/group "c" has only one class \(positive\)/);
  });
  it('reports ECE as NaN with a warning for scores outside [0, 1]', () => {
    const r = classificationMetrics([0, 1], [-2, 3], [0, 0], { threshold: 0 });
    expect(r.ece).toBeNaN();
    expect(r.auc).toBe(1);
    expect(r.accuracy).toBe(1);
    expect(r.warnings.join()).toMatch(/ECE is undefined/);
  });
  it('validates the full arrays, so errors name the index in the caller\'s arrays (not within a group)', () => {
    // index 3 is in group 1, where it is the 2nd sample: a per-group check would say "yTrue[1]"
    expect(() => classificationMetrics([0, 1, 0, 2], [0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])).toThrow(/yTrue\[3\] is 2, expected 0 or 1/);
    expect(() => classificationMetrics([0, 1, 0, 1], [0.1, 0.2, 0.3, Number.NaN], [0, 1, 0, 1])).toThrow(/score\[3\] is NaN, expected a finite number/);
  });
});
