import { worstGroupMetric } from './finetune.js';

describe('worst-group validation metric (the search objective)', () => {
  it('is the largest group MAE for regression, ignoring unknown groups', () => {
    // group 0: |1|,|1| → 1; group 1: |3|,|-3| → 3; the unknown group's error of 10 does not count.
    expect(worstGroupMetric('regression', [0, 0, 0, 0, 0], [1, 1, 3, -3, 10], [0, 0, 1, 1, -1], 2)).toBe(3);
  });

  it('is the smallest group AUC for classification, leaving out a group with one class', () => {
    const y = [0, 1, 0, 1, 1, 1];
    const p = [0.1, 0.9, 0.8, 0.2, 0.5, 0.6];
    // group 0 perfectly ranked (AUC 1), group 1 inverted (AUC 0), group 2 has only positives.
    expect(worstGroupMetric('classification', y, p, [0, 0, 1, 1, 2, 2], 3)).toBe(0);
    expect(worstGroupMetric('classification', [0, 1], [0.2, 0.7], [0, 0], 1)).toBe(1);
  });

  it('is undefined without groups', () => {
    expect(worstGroupMetric('regression', [1, 2], [1, 2], [-1, -1], 0)).toBeUndefined();
  });
});
