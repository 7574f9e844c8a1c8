import { assignSubjectSplits, type SplitParams } from './sample-stages.js';

const base: SplitParams = { train: 0.5, validation: 0.2, test: 0.3, stratifyBy: 'sex' };
const sexes = (f: number, m: number) => [...Array<string>(f).fill('female'), ...Array<string>(m).fill('male')];
const count = (split: Int8Array, attr: string[], k: number, v: string) => [...split.keys()].filter((s) => split[s] === k && attr[s] === v).length;

describe('assignSubjectSplits', () => {
  it('deals every stratum into every split (stratified, seeded)', () => {
    const attr = sexes(10, 10);
    const split = assignSubjectSplits(attr, base, 3);
    expect([0, 1, 2].map((k) => count(split, attr, k, 'female') + count(split, attr, k, 'male'))).toEqual([10, 4, 6]);
    for (const k of [0, 1, 2]) for (const v of ['female', 'male']) expect(count(split, attr, k, v)).toBeGreaterThan(0);
    expect(assignSubjectSplits(attr, base, 3)).toEqual(split);
  });

  it('groupShare caps one stratum in training and moves its surplus to test', () => {
    const attr = sexes(24, 24);
    const plain = assignSubjectSplits(attr, base, 7);
    const split = assignSubjectSplits(attr, { ...base, groupShare: { value: 'female', train: 0.25 } }, 7);
    const trainF = count(split, attr, 0, 'female');
    const trainM = count(split, attr, 0, 'male');
    expect(trainM).toBe(count(plain, attr, 0, 'male'));
    // Largest k with k/(k + males) ≤ 0.25.
    expect(trainF).toBe(Math.floor(trainM / 3));
    expect(trainF / (trainF + trainM)).toBeLessThanOrEqual(0.25);
    // Validation is untouched; the moved subjects are all in test.
    for (let s = 0; s < attr.length; s++) {
      if (plain[s] === 1) expect(split[s]).toBe(1);
      if (split[s] !== plain[s]) expect([plain[s], split[s], attr[s]]).toEqual([0, 2, 'female']);
    }
    expect(count(split, attr, 2, 'female')).toBe(count(plain, attr, 2, 'female') + count(plain, attr, 0, 'female') - trainF);
  });

  it('keeps at least one training subject of the stratum and names bad groupShare settings', () => {
    const attr = sexes(6, 6);
    const split = assignSubjectSplits(attr, { ...base, groupShare: { value: 'female', train: 0.05 } }, 1);
    expect(count(split, attr, 0, 'female')).toBe(1);
    expect(() => assignSubjectSplits(attr, { ...base, groupShare: { value: 'Female', train: 0.3 } }, 1)).toThrow(/groupShare.value "Female" has no training subject \(sex values: female, male\)/);
    expect(() => assignSubjectSplits(attr, { ...base, stratifyBy: null, groupShare: { value: 'female', train: 0.3 } }, 1)).toThrow(/groupShare needs stratifyBy/);
  });
});

describe('assignSubjectSplits: proportions, folds and numeric strata', () => {
  it('allocates each stratum in proportion to its size, even a small one', () => {
    const attr = sexes(10, 2);
    const split = assignSubjectSplits(attr, { ...base, train: 0.7, validation: 0.15, test: 0.15 }, 1);
    // 12 subjects: test 2, validation 2, train 8; the 2 males cannot both be used up by test/validation.
    expect(count(split, attr, 0, 'male')).toBeGreaterThan(0);
    expect(count(split, attr, 0, 'female')).toBeGreaterThanOrEqual(6);
  });

  it('spreads every stratum over the folds (K a multiple of the number of strata)', () => {
    const attr = sexes(4, 4);
    for (const K of [2, 4]) {
      for (let k = 0; k < K; k++) {
        const split = assignSubjectSplits(attr, { ...base, validation: 0, folds: K, fold: k }, 5);
        expect(count(split, attr, 2, 'female')).toBe(4 / K);
        expect(count(split, attr, 2, 'male')).toBe(4 / K);
      }
    }
  });

  it('binarises age for stratification, follows the seed, and refuses other numeric attributes', () => {
    const ages = [21, 24, 25, 26, 30, 35, 62, 65, 70, 72, 75, 80];
    const a = assignSubjectSplits(ages, { ...base, stratifyBy: 'age' }, 1);
    const b = assignSubjectSplits(ages, { ...base, stratifyBy: 'age' }, 2);
    expect(a).not.toEqual(b);
    const old = (s: Int8Array, k: number) => ages.filter((x, i) => s[i] === k && x > 60).length;
    for (const k of [0, 1, 2]) expect(old(a, k)).toBeGreaterThan(0);
    expect(() => assignSubjectSplits([1.7, 1.8], { ...base, stratifyBy: 'height' }, 1)).toThrow(/stratifyBy "height" is numeric/);
  });
});
