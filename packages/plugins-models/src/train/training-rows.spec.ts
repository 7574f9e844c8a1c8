import { describe, expect, it } from '@jest/globals';
import { trainSplitRows } from './data.js';
import { subsampleBySubject, trainRows } from './subsample.js';

/** 3 rows per subject; subjects 0–19 in group 0 ("female"), 20–29 in group 1 ("male"), 30–33 of unknown group. */
function cohort() {
  const subjects = 34;
  const subject = Int32Array.from({ length: subjects * 3 }, (_, i) => Math.floor(i / 3));
  const group = Int32Array.from(subject, (s) => (s < 20 ? 0 : s < 30 ? 1 : -1));
  const rows = Int32Array.from({ length: subject.length }, (_, i) => i);
  return { subject, group, rows };
}

describe('subsampleBySubject (FairTune searches on a group-stratified 10 %)', () => {
  it("keeps round(fraction × n) subjects of each group, at least one, with all of each kept subject's rows", () => {
    const { subject, group, rows } = cohort();
    const s = subsampleBySubject(rows, subject, group, ['female', 'male'], 0.1, 7);
    expect(s.byGroup).toEqual({ unknown: { kept: 1, of: 4 }, female: { kept: 2, of: 20 }, male: { kept: 1, of: 10 } });
    expect(s.subjects).toEqual({ kept: 4, of: 34 });
    const kept = new Set(Array.from(s.rows, (r) => subject[r]!));
    expect(kept.size).toBe(4);
    // Every row of a kept subject, and only those, in the original order.
    expect(Array.from(s.rows)).toEqual(Array.from(rows).filter((r) => kept.has(subject[r]!)));
    const perGroup = (g: number) => [...kept].filter((k) => group[k * 3] === g).length;
    expect([perGroup(0), perGroup(1), perGroup(-1)]).toEqual([2, 1, 1]);
  });

  it('is a function of the seed: the same seed keeps the same subjects, another seed others', () => {
    const { subject, group, rows } = cohort();
    const a = subsampleBySubject(rows, subject, group, ['female', 'male'], 0.5, 3);
    const b = subsampleBySubject(rows, subject, group, ['female', 'male'], 0.5, 3);
    const c = subsampleBySubject(rows, subject, group, ['female', 'male'], 0.5, 4);
    expect(Array.from(a.rows)).toEqual(Array.from(b.rows));
    expect(Array.from(a.rows)).not.toEqual(Array.from(c.rows));
    // Every subject is kept by some seed: the draw is not a fixed prefix of the sorted ids.
    const ever = new Set<number>();
    for (let seed = 0; seed < 40; seed++) for (const r of subsampleBySubject(rows, subject, group, [], 0.1, seed).rows) ever.add(subject[r]!);
    expect(ever.size).toBe(34);
  });

  it('uses only the rows it is given (the training split), and all of them for fraction 1 or none', () => {
    const { subject, group } = cohort();
    const train = Int32Array.from({ length: 60 }, (_, i) => i); // subjects 0–19, group 0 only
    const s = subsampleBySubject(train, subject, group, ['female', 'male'], 0.25, 1);
    expect(s.byGroup).toEqual({ female: { kept: 5, of: 20 } });
    const logs: string[] = [];
    const emit = { log: (_l: string, m: string) => logs.push(m), metric: () => undefined };
    expect(trainRows(train, { subject, group }, ['female', 'male'], undefined, 1, emit)).toBe(train);
    expect(trainRows(train, { subject, group }, ['female', 'male'], 1, 1, emit)).toBe(train);
    expect(logs).toEqual([]);
    expect(trainRows(train, { subject, group }, ['female', 'male'], 0.25, 1, emit)).toHaveLength(15);
    expect(logs).toEqual(['trainFraction 0.25: training on 5 of 20 training subjects (female 5/20), 15 of 60 rows']);
  });
});

describe('trainSplitRows (trainSplit "train+validation")', () => {
  // Rows 0–9 alternate train (0), validation (1), test (2).
  const set = { n: 10, split: Int8Array.from({ length: 10 }, (_, i) => i % 3), meta: { splits: ['train', 'validation', 'test'] } };

  it('joins the named splits in row order, and reads one name as before', () => {
    expect(Array.from(trainSplitRows(set, 'train+validation', 'validation', 'last'))).toEqual([0, 1, 3, 4, 6, 7, 9]);
    expect(Array.from(trainSplitRows(set, 'train', 'validation', undefined))).toEqual([0, 3, 6, 9]);
    expect(Array.from(trainSplitRows(set, 'validation+train', 'test', undefined))).toEqual([0, 1, 3, 4, 6, 7, 9]);
  });

  it('refuses to select the best epoch on rows it trains on, and names a split the samples lack', () => {
    expect(() => trainSplitRows(set, 'train+validation', 'validation', undefined)).toThrow(
      expect.objectContaining({ code: 'FT_PARAM_INVALID', message: 'trainSplit "train+validation" trains on the validation split "validation", which then cannot choose the best epoch: set selection to "last"' }),
    );
    expect(() => trainSplitRows(set, 'train+val', 'validation', 'last')).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', message: 'trainSplit "train+val": the samples have no split "val" (splits: train, validation, test)' }));
  });
});
