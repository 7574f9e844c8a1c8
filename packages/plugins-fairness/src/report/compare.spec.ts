import { holmAdjust, signFlipTest } from '../metrics/paired.js';
import { compareMethods, tradeoff, type CompareRun, type ComparisonSpec } from './compare.js';

/** A regression run with two groups: overall MAE = mean of the group MAEs (equal group sizes). */
function run(method: string, seed: number | null, female: number, male: number, evalSet = 'dalia test split'): CompareRun {
  return {
    method,
    evalSet,
    seed,
    n: 100,
    values: {
      'overall.mae': (female + male) / 2,
      'overall.maeGap': Math.abs(female - male),
      'overall.worstGroupMae': Math.max(female, male),
      'groups.female.mae': female,
      'groups.male.mae': male,
    },
  };
}

const spec: ComparisonSpec = {
  baseline: 'erm',
  keys: ['overall.mae', 'overall.maeGap', 'overall.worstGroupMae', 'groups.female.mae', 'groups.male.mae'],
  groupKeys: { female: 'groups.female.mae', male: 'groups.male.mae' },
  gapKey: 'overall.maeGap',
  higherIsBetter: false,
  seed: 0,
  replicates: 500,
  alpha: 0.05,
  tolerance: 0,
  overallKey: 'overall.mae',
  harmMargin: 1,
};

describe('compareMethods: what is compared', () => {
  it('pairs runs by seed within an evaluation set, never across evaluation sets', () => {
    const runs = [
      run('erm', 7, 5, 3),
      run('erm', 11, 6, 3),
      run('if', 7, 4, 3),
      run('if', 11, 4.5, 3.5),
      run('if', 19, 1, 1), // no erm run with seed 19
      run('erm', 7, 50, 30, 'but-ppg all samples'),
      run('if', 7, 40, 30, 'but-ppg all samples'),
    ];
    const { sets, warnings } = compareMethods(runs, spec);
    expect(sets.map((s) => s.evalSet)).toEqual(['dalia test split', 'but-ppg all samples']);
    const dalia = sets[0]!.methods[0]!;
    expect(dalia.seeds).toEqual([7, 11]);
    // gap: erm 2, 3; if 1, 1 → d = −1, −2
    expect(dalia.metrics['overall.maeGap']!.mean).toBe(-1.5);
    expect(dalia.metrics['overall.maeGap']!.n).toBe(2);
    const butppg = sets[1]!.methods[0]!;
    expect(butppg.metrics['overall.maeGap']!.mean).toBe(-10);
    expect(butppg.metrics['overall.maeGap']!.relativePercent).toBe(-50);
    expect(warnings).toEqual([expect.stringMatching(/if on dalia test split: seed 19 has no erm run/)]);
  });

  it('computes nothing for a single method per evaluation set (one method on DaLiA and on BUT-PPG)', () => {
    const runs = [run('group-dro · DaLiA test', 7, 5, 3), run('group-dro · BUT-PPG transfer', 7, 50, 30, 'but-ppg all samples')];
    const { sets } = compareMethods(runs, { ...spec, baseline: 'group-dro · DaLiA test' });
    expect(sets).toEqual([]);
  });

  it('warns about a method that shares no seed with the baseline and about duplicate seeds', () => {
    const { sets, warnings } = compareMethods([run('erm', 1, 5, 3), run('erm', 1, 5, 3), run('if', 2, 4, 3)], spec);
    expect(sets).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/erm on .*: two runs with seed 1/), expect.stringMatching(/if on .*: no run with the seed of a erm run/)]);
  });

  it('Holm-adjusts each metric across the methods compared on it', () => {
    const seeds = [1, 2, 3, 4, 5, 6];
    const runs = [
      ...seeds.map((s) => run('erm', s, 5 + s / 10, 3)),
      ...seeds.map((s) => run('a', s, 4 + s / 7, 3)), // female lower on every seed
      ...seeds.map((s) => run('b', s, 5 + s / 10 + (s % 2 ? 0.3 : -0.2), 3)),
    ];
    const { sets } = compareMethods(runs, spec);
    const [a, b] = sets[0]!.methods;
    const key = 'groups.female.mae';
    const raw = [a!.metrics[key]!.signFlip.p, b!.metrics[key]!.signFlip.p];
    expect(raw[0]).toBeCloseTo(2 / 64, 15);
    expect([a!.metrics[key]!.signFlipHolm, b!.metrics[key]!.signFlipHolm]).toEqual(holmAdjust(raw));
    expect(a!.metrics[key]!.signFlipHolm).toBeCloseTo(4 / 64, 15);
    // male MAE never changes: p = 1 (all-zero differences), Wilcoxon undefined
    expect(a!.metrics['groups.male.mae']!.signFlip.p).toBe(1);
    expect(Number.isNaN(a!.metrics['groups.male.mae']!.wilcoxonHolm)).toBe(true);
    expect(a!.metrics[key]!.signFlip.p).toBe(signFlipTest(seeds.map((s) => 4 + s / 7 - (5 + s / 10))).p);
  });
});

describe('compareMethods: works, levelling down, harm', () => {
  // erm: female (≈5) worse served than male (≈3), gap ≈ 2. Each method's (Δfemale, Δmale) per seed.
  const erm = [run('erm', 1, 5, 3), run('erm', 2, 5.2, 3.1), run('erm', 3, 4.8, 2.9)];
  const method = (name: string, changes: [number, number][]) => changes.map(([df, dm], i) => run(name, erm[i]!.seed, erm[i]!.values['groups.female.mae']! + df, erm[i]!.values['groups.male.mae']! + dm));
  const runs = [
    ...erm,
    ...method('level-down', [[0, 1], [-0.1, 1.1], [0, 0.7]]), // gap closes, male worse, female unchanged
    ...method('works', [[-1.5, -0.1], [-1.6, -0.1], [-1.4, -0.1]]), // gap closes, female better
    ...method('wider', [[1, 0], [0.8, 0], [1, 0]]), // gap widens
    ...method('noise', [[0.2, 0], [-0.3, 0], [0.1, 0]]), // gap CI includes 0
    ...method('unclear', [[0.2, 0.6], [-0.6, -0.2], [0, 0.4]]), // Δgap = −0.4 on every seed, neither group's CI clear of 0
    ...method('worse-overall', [[2.5, 3.5], [2.5, 3.5], [2.5, 3.5]]), // gap closes, both worse, overall MAE +3
  ];
  const by = Object.fromEntries(compareMethods(runs, spec).sets[0]!.methods.map((m) => [m.method, m.levellingDown!]));

  it('classifies each method from the CIs of the gap and of both groups', () => {
    expect(Object.fromEntries(Object.entries(by).map(([k, v]) => [k, v.verdict]))).toEqual({
      'level-down': 'levelling down',
      works: 'works',
      wider: 'harm',
      noise: 'no detectable effect',
      unclear: 'gap closes, mechanism unclear',
      'worse-overall': 'levelling down',
    });
    expect(Object.entries(by).filter(([, v]) => v.overallHarm).map(([k]) => k)).toEqual(['worse-overall']);
  });

  it('shows both groups, fixed from the baseline, with the changes and CIs of the statistics', () => {
    const ld = by['level-down']!;
    expect([ld.worseGroup, ld.betterGroup]).toEqual(['female', 'male']);
    expect(ld.better.mean).toBeCloseTo((1 + 1.1 + 0.7) / 3, 12);
    expect(ld.worse.mean).toBeCloseTo(-0.1 / 3, 12);
    expect(ld.gap.mean).toBeCloseTo((-1 - 1.2 - 0.7) / 3, 12);
    expect(ld.better.ci.lo).toBeGreaterThan(0);
    expect(ld.basis).toBe('ci');
    expect(ld.flaggedSeeds).toBe(3);
    expect(ld.flagged).toBe(true);
    expect(by['works']!.flaggedSeeds).toBe(0);
  });

  it('requires the better-served CI to clear the tolerance', () => {
    const strict = compareMethods(runs, { ...spec, tolerance: 0.8 }).sets[0]!.methods.find((m) => m.method === 'level-down')!.levellingDown!;
    expect(strict.verdict).toBe('gap closes, mechanism unclear');
  });

  it("takes the groups from the baseline's runs, also when the method swaps them", () => {
    // erm: male better served (3 vs 5). The method: female 3, male 4 — female improved by 2 and
    // male got 1 bpm worse: by the rules this works (the worse-served group improved), and the
    // seed is still counted as one where the gap shrank while the better-served group got worse.
    const l = compareMethods([run('erm', 1, 5, 3), run('m', 1, 3, 4)], spec).sets[0]!.methods[0]!.levellingDown!;
    expect([l.worseGroup, l.betterGroup]).toEqual(['female', 'male']);
    expect([l.worse.mean, l.better.mean]).toEqual([-2, 1]);
    expect(l.basis).toBe('point estimate');
    expect(l.verdict).toBe('works');
    expect(l.flaggedSeeds).toBe(1);
  });

  it('for a score (AUC) the better-served group is the highest and getting worse means falling', () => {
    const auc = (method: string, seed: number, a: number, b: number): CompareRun => ({
      method, evalSet: 'x', seed, values: { 'overall.auc': (a + b) / 2, 'overall.aucGap': Math.abs(a - b), 'groups.a.auc': a, 'groups.b.auc': b },
    });
    const s: ComparisonSpec = { ...spec, keys: ['overall.aucGap'], groupKeys: { a: 'groups.a.auc', b: 'groups.b.auc' }, gapKey: 'overall.aucGap', overallKey: 'overall.auc', harmMargin: 0.06, higherIsBetter: true };
    const down = compareMethods([auc('erm', 1, 0.9, 0.7), auc('m', 1, 0.8, 0.7)], s).sets[0]!.methods[0]!.levellingDown!;
    expect([down.worseGroup, down.betterGroup]).toEqual(['b', 'a']);
    expect(down.verdict).toBe('levelling down');
    expect(down.overallHarm).toBe(false);
    const up = compareMethods([auc('erm', 1, 0.9, 0.7), auc('m', 1, 0.9, 0.8)], s).sets[0]!.methods[0]!.levellingDown!;
    expect(up.verdict).toBe('works');
    const bad = compareMethods([auc('erm', 1, 0.9, 0.7), auc('m', 1, 0.75, 0.7)], s).sets[0]!.methods[0]!.levellingDown!;
    expect(bad.overallHarm).toBe(true); // overall AUC −0.075 < −0.06
  });
});

describe('tradeoff', () => {
  it('gives one point per run, method means and the Pareto front of the means per evaluation set', () => {
    const runs = [
      run('erm', 1, 5, 3), // mae 4, gap 2
      run('erm', 2, 5, 3),
      run('a', 1, 4, 3.5), // mae 3.75, gap 0.5 → dominates erm
      run('a', 2, 4, 3.5),
      run('b', 1, 2.5, 5.5), // mae 4, gap 3 → dominated
      run('c', 1, 3, 2), // mae 2.5, gap 1 → on the front with a
      run('erm', 1, 9, 3, 'other'),
    ];
    const t = tradeoff(runs, (v) => v['overall.mae']!, 'overall.maeGap');
    expect(t.points).toHaveLength(7);
    const front = t.means.filter((m) => m.onFront).map((m) => `${m.evalSet}:${m.method}`);
    expect(front).toEqual(['dalia test split:a', 'dalia test split:c', 'other:erm']);
    expect(t.means.find((m) => m.method === 'erm' && m.evalSet === 'dalia test split')).toMatchObject({ error: 4, gap: 2, runs: 2 });
  });
});
