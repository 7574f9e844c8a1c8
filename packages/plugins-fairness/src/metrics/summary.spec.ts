import { flattenMetrics } from './summary.js';

describe('flattenMetrics', () => {
  it('flattens overall, per-group (without n) and representation values, reading JSON nulls as NaN', () => {
    const flat = flattenMetrics({
      overall: { mae: 3, maeGap: null },
      groups: { female: { n: 10, mae: 2 }, male: { n: 8, mae: null } },
      representation: { mmd2: 0.25, silhouette: null },
    });
    expect(flat).toEqual({
      'overall.mae': 3,
      'overall.maeGap': Number.NaN,
      'groups.female.mae': 2,
      'groups.male.mae': Number.NaN,
      'representation.mmd2': 0.25,
      'representation.silhouette': Number.NaN,
    });
  });
  it('leaves representation keys out when there is no representation', () => {
    expect(Object.keys(flattenMetrics({ overall: { auc: 0.5 }, groups: {} }))).toEqual(['overall.auc']);
  });
});
