import { computeTaskMetrics, flattenMetrics } from './summary.js';

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
  it('leaves subject counts out, like sample counts', () => {
    expect(flattenMetrics({ overall: {}, groups: { a: { n: 4, subjects: 2, mae: 1 } } })).toEqual({ 'groups.a.mae': 1 });
  });
  it('leaves representation keys out when there is no representation', () => {
    expect(Object.keys(flattenMetrics({ overall: { auc: 0.5 }, groups: {} }))).toEqual(['overall.auc']);
  });
});

describe('computeTaskMetrics gaps over eligible groups', () => {
  it('regression: maeGap and subjectMaeGap only over gapGroups, null-worthy (NaN) with one left', () => {
    // group MAEs: 0 → 1, 1 → 3, 2 → 10
    const input = { task: 'regression' as const, yTrue: [0, 0, 0], yPred: [1, 3, 10], group: [0, 1, 2], groupNames: ['a', 'b', 'c'], subject: [0, 1, 2] };
    expect(computeTaskMetrics(input).overall['maeGap']).toBe(9);
    const two = computeTaskMetrics({ ...input, gapGroups: new Set([0, 1]) });
    expect(two.overall['maeGap']).toBe(2);
    expect(two.overall['subjectMaeGap']).toBe(2);
    expect(two.overall['worstGroupMae']).toBe(10); // worst group still over every group
    expect(two.groups['c']).toMatchObject({ n: 1, subjects: 1, mae: 10, bias: 10 });
    expect(computeTaskMetrics({ ...input, gapGroups: new Set([2]) }).overall['maeGap']).toBeNaN();
  });

  it('classification: AUC gap, demographic parity and equalized odds differences over gapGroups', () => {
    // group 0: TPR 1, FPR 0, SR 1/2; group 1: TPR 0, FPR 1, SR 1/2; group 2: TPR 1, FPR 1, SR 1
    const yTrue = [1, 0, 1, 0, 1, 0];
    const score = [0.9, 0.1, 0.1, 0.9, 0.9, 0.9];
    const group = [0, 0, 1, 1, 2, 2];
    const all = computeTaskMetrics({ task: 'classification', yTrue, yPred: score, group, groupNames: [] });
    expect(all.overall['demographicParityDifference']).toBe(0.5);
    expect(all.overall['equalizedOddsDifference']).toBe(1);
    const some = computeTaskMetrics({ task: 'classification', yTrue, yPred: score, group, groupNames: [], gapGroups: new Set([0, 2]) });
    expect(some.overall['demographicParityDifference']).toBe(0.5);
    expect(some.overall['equalizedOddsDifference']).toBe(1); // FPR 0 vs 1
    expect(some.overall['aucGap']).toBe(0.5); // AUC 1 vs 0.5 (tied scores)
    const one = computeTaskMetrics({ task: 'classification', yTrue, yPred: score, group, groupNames: [], gapGroups: new Set([1]) });
    expect(one.overall['demographicParityDifference']).toBeNaN();
    expect(one.overall['equalizedOddsDifference']).toBeNaN();
  });
});
