import { artifact, ndarray, runStandalone, type SamplesMeta } from '@fairtune/core';
import { assignSubjectSplits, GroupAttributesStage, QualityStage, SplitSubjectsStage, subjectStrata, type SplitParams } from './sample-stages.js';

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
    expect(() => assignSubjectSplits(attr, { ...base, groupShare: { value: 'Female', train: 0.3 } }, 1)).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'groupShare.value' } }));
    expect(() => assignSubjectSplits(attr, { ...base, folds: 20 }, 1)).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'folds' } }));
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

describe('split.subjects: joint strata (label × attribute) and lesion-level splits', () => {
  /** Samples with `lesions` subjects, `views[s]` images each, per-subject label and skin type. */
  const samples = (labels: number[], skin: string[], views: number[] = labels.map(() => 1), task: 'classification' | 'regression' = 'classification') => {
    const subject = labels.flatMap((_, s) => Array<number>(views[s]!).fill(s));
    const meta: SamplesMeta = { name: 't', synthetic: true, modality: 'image', task, target: { name: 'malignant' }, subjects: labels.map((_, s) => `L${s}`), subjectAttributes: { skinType: skin, sex: skin.map((_, s) => (s % 2 ? 'male' : 'female')) } };
    return artifact('samples', meta, { y: ndarray(Float32Array.from(subject, (s) => labels[s]!)), subject: ndarray(Int32Array.from(subject)) });
  };
  const strata = (sizes: Record<string, number>) => {
    const labels: number[] = [];
    const skin: string[] = [];
    for (const [k, n] of Object.entries(sizes)) {
      const [l, s] = k.split('|');
      for (let i = 0; i < n; i++) {
        labels.push(Number(l));
        skin.push(s!);
      }
    }
    return { labels, skin };
  };

  it('allocates every label × skin-type stratum 80/10/10 (within one subject)', async () => {
    const sizes = { '0|I-III': 100, '1|I-III': 40, '0|IV-VI': 50, '1|IV-VI': 10 };
    const { labels, skin } = strata(sizes);
    const { outputs } = await runStandalone(new SplitSubjectsStage(), { params: { train: 0.8, validation: 0.1, test: 0.1, stratifyBy: ['label', 'skinType'] }, inputs: { samples: samples(labels, skin) } });
    const split = outputs['samples']!.arrays['split']!.data;
    for (const [key, n] of Object.entries(sizes)) {
      const members = labels.map((l, s) => s).filter((s) => `${labels[s]}|${skin[s]}` === key);
      for (const [k, share] of [[0, 0.8], [1, 0.1], [2, 0.1]] as const) {
        expect(Math.abs(members.filter((s) => split[s] === k).length - share * n)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('keeps every image of a lesion in one split, and derives the lesion label from its images', async () => {
    const labels = Array.from({ length: 60 }, (_, s) => (s % 5 === 0 ? 1 : 0));
    const skin = labels.map((_, s) => (s % 3 === 0 ? 'IV-VI' : 'I-III'));
    const views = labels.map((_, s) => 1 + (s % 3));
    const input = samples(labels, skin, views);
    const { outputs } = await runStandalone(new SplitSubjectsStage(), { params: { train: 0.8, validation: 0.1, test: 0.1, stratifyBy: ['label', 'sex'] }, inputs: { samples: input } });
    const split = outputs['samples']!.arrays['split']!.data;
    const subject = input.arrays['subject']!.data;
    const byLesion = new Map<number, Set<number>>();
    subject.forEach((s, i) => byLesion.set(s, (byLesion.get(s) ?? new Set()).add(split[i]!)));
    expect([...byLesion.values()].every((set) => set.size === 1)).toBe(true);
    expect(new Set(split)).toEqual(new Set([0, 1, 2]));
    // One positive image makes the lesion positive: the strata see 12 positive lesions.
    const meta = input.meta;
    const mixedY = Float32Array.from(subject, (s, i) => (s === 1 && i === subject.indexOf(1) ? 1 : labels[s]!));
    expect(subjectStrata(meta, ndarray(mixedY), subject, ['label', 'skinType'], 60).slice(0, 3)).toEqual(['1|IV-VI', '1|I-III', '0|I-III']);
  });

  it('a one-element list stratifies as the plain attribute did (existing pipelines keep their splits)', () => {
    const attr = sexes(13, 9);
    expect(assignSubjectSplits(attr, { ...base, stratifyBy: ['sex'] }, 4)).toEqual(assignSubjectSplits(attr, base, 4));
  });

  it('names an unknown attribute and refuses label on a regression task', async () => {
    const { labels, skin } = strata({ '0|I-III': 5, '1|IV-VI': 5 });
    await expect(runStandalone(new SplitSubjectsStage(), { params: { stratifyBy: ['label', 'skin'] }, inputs: { samples: samples(labels, skin) } })).rejects.toThrow(/stratifyBy "skin" is not a subject attribute \(have label, skinType, sex\)/);
    await expect(runStandalone(new SplitSubjectsStage(), { params: { stratifyBy: ['label'] }, inputs: { samples: samples(labels, skin, undefined, 'regression') } })).rejects.toThrow(/"label" needs a classification task/);
    await expect(runStandalone(new SplitSubjectsStage(), { params: { stratifyBy: ['label', 'skin'] }, inputs: { samples: samples(labels, skin) } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'stratifyBy' } });
    // Samples without y cannot be stratified by label: the producer does not write what this stage reads.
    const { y: _y, ...noY } = samples(labels, skin).arrays;
    const withoutY = artifact('samples', samples(labels, skin).meta, noY);
    await expect(runStandalone(new SplitSubjectsStage(), { params: { stratifyBy: ['label'] }, inputs: { samples: withoutY } })).rejects.toThrow(/the samples have no "y" array/);
    await expect(runStandalone(new SplitSubjectsStage(), { params: { stratifyBy: ['label'] }, inputs: { samples: withoutY } })).rejects.toMatchObject({ code: 'FT_ARRAY_MISSING', about: { port: 'samples' } });
  });

  it('preprocess.quality refuses to drop every window; groups.attributes names an unknown attribute', async () => {
    const { labels, skin } = strata({ '0|I-III': 3, '1|IV-VI': 3 });
    const s = samples(labels, skin);
    const n = s.arrays['y']!.data.length;
    const x = ndarray(Float32Array.from({ length: n * 16 }, (_, i) => Math.sin(i)), [n, 16]);
    // Every target (0 or 1) lies outside the HR range [30, 220].
    const windows = artifact('samples', s.meta, { ...s.arrays, x });
    await expect(runStandalone(new QualityStage(), { inputs: { samples: windows } })).rejects.toThrow(`preprocess.quality dropped all ${n} windows`);
    await expect(runStandalone(new QualityStage(), { inputs: { samples: windows } })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', about: { port: 'samples' } });
    await expect(runStandalone(new GroupAttributesStage(), { params: { attributes: ['skin'] }, inputs: { samples: s } })).rejects.toThrow(/^groups\.attributes: "skin" is not a subject attribute/);
    await expect(runStandalone(new GroupAttributesStage(), { params: { attributes: ['skin'] }, inputs: { samples: s } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'attributes' } });
  });
});
