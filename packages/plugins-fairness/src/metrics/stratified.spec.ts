import { binIndex, binLabels, categoryStrata, flattenStratified, stratifiedErrors, stratifiedJson, stratumGaps } from './stratified.js';

describe('bins of the true value', () => {
  const edges = [60, 80, 100, 120];

  it('puts a value on an edge in the bin above it (lower edge inclusive)', () => {
    expect(Array.from(binIndex([10, 59.99, 60, 79.99, 80, 100, 119.99, 120, 200], edges))).toEqual([0, 0, 1, 1, 2, 3, 3, 4, 4]);
  });

  it('names the bins <60, 60–80, 80–100, 100–120, ≥120', () => {
    expect(binLabels(edges)).toEqual(['<60', '60–80', '80–100', '100–120', '≥120']);
    expect(binLabels([70])).toEqual(['<70', '≥70']);
  });

  it('rejects edges that do not increase strictly', () => {
    expect(() => binIndex([1], [60, 60])).toThrow(/increase strictly/);
    expect(() => binLabels([])).toThrow(/at least one edge/);
  });
});

describe('categorical strata', () => {
  it('makes one stratum per code in ascending order, named when a name is given', () => {
    const s = categoryStrata([7, 1, Number.NaN, 7, 3], { '1': 'sitting', '7': 'walking' });
    expect(s.codes).toEqual([1, 3, 7]);
    expect(s.names).toEqual(['sitting', '3', 'walking']);
    expect(Array.from(s.stratum)).toEqual([2, 0, -1, 2, 1]);
  });
});

describe('errors per group within strata', () => {
  // stratum 0: group 0 subjects 0, 1 (|e| 1, 3), group 1 subject 2 (|e| 2, signed −2)
  // stratum 1: group 0 subject 0 (|e| 4), group 1 subjects 2, 3 (|e| 1, 1); one unknown-group window (|e| 10)
  const yTrue = [100, 100, 100, 100, 100, 100, 100];
  const yPred = [101, 103, 98, 104, 101, 99, 110];
  const stratum = [0, 0, 0, 1, 1, 1, 1];
  const group = [0, 0, 1, 0, 1, 1, -1];
  const subject = [0, 1, 2, 0, 2, 3, 4];
  const s = stratifiedErrors(yTrue, yPred, stratum, ['low', 'high'], group, subject);

  it('counts windows and subjects and takes MAE and bias per cell by hand', () => {
    expect(s.groups.get(0)).toEqual([
      { n: 2, subjects: 2, mae: 2, bias: 2 },
      { n: 1, subjects: 1, mae: 4, bias: 4 },
    ]);
    expect(s.groups.get(1)).toEqual([
      { n: 1, subjects: 1, mae: 2, bias: -2 },
      { n: 2, subjects: 2, mae: 1, bias: 0 },
    ]);
    // overall includes the unknown-group window
    expect(s.overall[1]).toEqual({ n: 4, subjects: 4, mae: 16 / 4, bias: (4 + 1 - 1 + 10) / 4 });
  });

  it('takes each stratum gap over the eligible cells, NaN with fewer than two', () => {
    expect(stratumGaps(s)).toEqual([0, 3]);
    // cells need two subjects (as eval.metrics' minSubjects would ask): only stratum 0 / group 0 and stratum 1 / group 1 qualify
    const twoSubjects = (g: number, k: number) => s.groups.get(g)![k]!.subjects >= 2;
    const gaps = stratumGaps(s, twoSubjects);
    expect(gaps[0]).toBeNaN();
    expect(gaps[1]).toBeNaN();
    expect(stratumGaps(s, (g) => g === 0)).toEqual([Number.NaN, Number.NaN]);
  });

  it('writes cells by name and flat keys for bootstrap CIs', () => {
    const json = stratifiedJson(s, stratumGaps(s), ['female', 'male']);
    expect(json.groups['male']!['high']).toEqual({ n: 2, subjects: 2, mae: 1, bias: 0 });
    expect(json.maeGap).toEqual({ low: 0, high: 3 });
    const flat = flattenStratified('byTargetBin', s, stratumGaps(s), ['female', 'male']);
    expect(flat['byTargetBin.groups.female.high.mae']).toBe(4);
    expect(flat['byTargetBin.maeGap.high']).toBe(3);
    expect(flat['byTargetBin.overall.low.bias']).toBe(2 / 3);
  });
});
