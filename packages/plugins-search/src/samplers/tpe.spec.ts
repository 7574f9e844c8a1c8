/** TPE: the below/above split, start-up, determinism, enqueued params, constant liar, and search quality. */
import type { Distribution, FrozenTrial, ParamValue, SearchSpace, StudyView } from '@fairtune/core';
import { RandomSampler } from './random.js';
import { frozen, maskLrProblem, braninProblem, runStudy, studyOf, withRunning, type Problem, type TrialInit } from './test-utils/study.js';
import { bestCandidate, historyTrials, relativeGroups, splitTrials, TpeSampler } from './tpe.js';

const numbers = (ts: readonly FrozenTrial[]) => ts.map((t) => t.number);
const x01: SearchSpace = { x: { type: 'float', low: 0, high: 1, log: false } };

describe('below/above split', () => {
  // Ranks: COMPLETE by value; PRUNED by last step reached (deeper first), then its value, NaN worst,
  // no reports last.
  const trials: TrialInit[] = [
    { state: 'COMPLETE', value: 5 }, // 0
    { state: 'PRUNED', intermediate: { 0: 1, 1: 0.5 } }, // 1: step 1, 0.5
    { state: 'PRUNED', intermediate: { 0: 0.1 } }, // 2: step 0, 0.1
    { state: 'PRUNED', intermediate: { 0: 2, 1: 3, 2: 9 } }, // 3: step 2, 9
    { state: 'PRUNED' }, // 4: never reported
    { state: 'PRUNED', intermediate: { 0: 1, 1: Number.NaN } }, // 5: step 1, NaN
    { state: 'PRUNED', intermediate: { 0: 1, 1: 0.2 } }, // 6: step 1, 0.2
    { state: 'COMPLETE', value: 7 }, // 7
    { state: 'FAIL' }, // 8: takes no part
  ];
  it('ranks COMPLETE trials first, then PRUNED ones by depth and value (minimize)', () => {
    const study = studyOf(trials, 'minimize');
    const history = historyTrials(study, 99, false);
    expect(numbers(history)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Order: 0 (5), 7 (7), 3 (step 2), 6 (step 1, 0.2), 1 (step 1, 0.5), 5 (step 1, NaN), 2 (step 0), 4 (none).
    const take = (k: number) => splitTrials(history, 'minimize', () => k);
    expect(numbers(take(1).below)).toEqual([0]);
    expect(numbers(take(2).below)).toEqual([0, 7]);
    expect(numbers(take(3).below)).toEqual([0, 3, 7]);
    expect(numbers(take(4).below)).toEqual([0, 3, 6, 7]);
    expect(numbers(take(5).below)).toEqual([0, 1, 3, 6, 7]);
    expect(numbers(take(6).below)).toEqual([0, 1, 3, 5, 6, 7]);
    expect(numbers(take(7).below)).toEqual([0, 1, 2, 3, 5, 6, 7]);
    expect(numbers(take(5).above)).toEqual([2, 4, 5]);
  });
  it('flips values for maximize, NaN still worst', () => {
    const history = historyTrials(studyOf(trials, 'maximize'), 99, false);
    // Order: 7 (7), 0 (5), 3, 1 (0.5 beats 0.2), 6, 5 (NaN), 2, 4.
    const take = (k: number) => numbers(splitTrials(history, 'maximize', () => k).below);
    expect(take(1)).toEqual([7]);
    expect(take(4)).toEqual([0, 1, 3, 7]);
    expect(take(6)).toEqual([0, 1, 3, 5, 6, 7]);
  });
  it('puts γ(n) of the n finished trials below, the best ones, ties in trial order', () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6]; // 21 trials: γ = 3
    const study = studyOf(values.map((value) => ({ value })));
    const split = splitTrials(historyTrials(study, 99, false), 'minimize');
    expect([split.n, split.nBelow]).toEqual([21, 3]);
    expect(numbers(split.below)).toEqual([1, 3, 6]); // 1, 1, then the first of the 2s
    expect(split.above.length).toBe(18);
  });
  it('with the constant liar, RUNNING trials go above and do not count in n; the current trial is left out', () => {
    const done = Array.from({ length: 20 }, (_, i) => ({ value: i }));
    const study = studyOf([...done, { state: 'RUNNING', params: { x: 0.5 } }, { state: 'RUNNING', params: { x: 0.6 } }, { state: 'RUNNING' }]);
    const liar = historyTrials(study, 22, true);
    expect(numbers(liar)).toEqual([...Array(20).keys(), 20, 21]);
    const split = splitTrials(liar, 'minimize');
    expect([split.n, split.nBelow]).toEqual([20, 2]);
    expect(numbers(split.below)).toEqual([0, 1]);
    expect(numbers(split.above).slice(-2)).toEqual([20, 21]);
    expect(numbers(historyTrials(study, 22, false))).toEqual([...Array(20).keys()]);
  });
});

describe('TpeSampler', () => {
  const space: SearchSpace = {
    lr: { type: 'float', low: 1e-5, high: 1e-2, log: true },
    units: { type: 'int', low: 16, high: 256, log: true, step: 1 },
    depth: { type: 'int', low: 1, high: 9, log: false, step: 2 },
    drop: { type: 'float', low: 0, high: 0.5, log: false, step: 0.1 },
    opt: { type: 'categorical', choices: ['adamw', 'sgd', null, true, 3] },
    fixedByRange: { type: 'int', low: 4, high: 4, log: false, step: 1 },
  };
  const objective = (p: Readonly<Record<string, ParamValue>>) =>
    (Math.log10(Number(p['lr'])) + 3) ** 2 + Math.abs(Number(p['units']) - 64) / 64 + Number(p['depth']) / 9 + Number(p['drop']) + (p['opt'] === 'sgd' ? 0 : 1);
  const problem: Problem = { name: 'mixed', space, direction: 'minimize', optimum: 0, evaluate: objective };

  it('draws the random sampler\'s values until 10 trials are COMPLETE or PRUNED', () => {
    const nine: TrialInit[] = [...Array.from({ length: 7 }, (_, i) => ({ value: i, params: { x: i / 10 } })), { state: 'PRUNED', params: { x: 0.9 }, intermediate: { 0: 1 } }, { state: 'PRUNED', params: { x: 0.8 } }, { state: 'FAIL', params: { x: 0.1 } }, { state: 'RUNNING', params: { x: 0.2 } }];
    const { study, trial } = withRunning(studyOf(nine, 'minimize', x01));
    expect(new TpeSampler(3).sample(study, trial, x01)).toEqual(new RandomSampler(3).sample(study, trial, x01));
    const ten = [...nine.slice(0, 9), { value: 0.5, params: { x: 0.5 } }];
    const after = withRunning(studyOf(ten, 'minimize', x01));
    expect(new TpeSampler(3).sample(after.study, after.trial, x01)).not.toEqual(new RandomSampler(3).sample(after.study, after.trial, x01));
    expect(new TpeSampler(3, { nStartupTrials: 11 }).sample(after.study, after.trial, x01)).toEqual(new RandomSampler(3).sample(after.study, after.trial, x01));
  });

  it('is deterministic given the seed and the history, whatever the order of the space\'s keys', () => {
    const a = runStudy(new TpeSampler(7), problem, 30).study;
    const b = runStudy(new TpeSampler(7), problem, 30).study;
    expect(a.trials.map((t) => t.params)).toEqual(b.trials.map((t) => t.params));
    const c = runStudy(new TpeSampler(8), problem, 30).study;
    expect(c.trials.slice(10).map((t) => t.params)).not.toEqual(a.trials.slice(10).map((t) => t.params));
    // The same history asked again (a resumed study) gives the same proposal, keys in any order.
    const reversed = Object.fromEntries(Object.entries(space).reverse()) as SearchSpace;
    const { study, trial } = withRunning({ ...a, trials: a.trials.slice(0, 25) });
    const p1 = new TpeSampler(7).sample(study, trial, space);
    expect(p1).toEqual(a.trials[25]!.params);
    expect(new TpeSampler(7).sample(study, trial, reversed)).toEqual(p1);
    expect(Object.keys(p1)).toEqual(Object.keys(space).sort());
  });

  it('keeps params of an enqueued trial and fills in the rest (univariate and multivariate)', () => {
    const history = runStudy(new TpeSampler(1), problem, 15).study;
    for (const sampler of [new TpeSampler(1), new TpeSampler(1, { multivariate: true }), new TpeSampler(1, { multivariate: true, group: true })]) {
      const { study, trial } = withRunning(history, { lr: 0.005, opt: null }, space);
      const p = sampler.sample(study, trial, space);
      expect(p['lr']).toBe(0.005);
      expect(p['opt']).toBe(null);
      expect(Object.keys(p)).toEqual(Object.keys(space).sort());
      expect(p['fixedByRange']).toBe(4);
      const free = sampler.sample(...(Object.values(withRunning(history)) as [StudyView, FrozenTrial]), space);
      expect(p['units']).toBe(free['units']); // the other params as without the enqueued ones
    }
    // During start-up too.
    const early = withRunning(studyOf([]), { depth: 7 }, space);
    expect(new TpeSampler(1).sample(early.study, early.trial, space)['depth']).toBe(7);
  });

  it('proposes valid values of every kind of param', () => {
    const { study } = runStudy(new TpeSampler(2), problem, 40);
    for (const t of study.trials) {
      const p = t.params;
      expect(Number(p['lr'])).toBeGreaterThanOrEqual(1e-5);
      expect(Number(p['lr'])).toBeLessThanOrEqual(1e-2);
      expect(Number.isInteger(p['units']) && Number(p['units']) >= 16 && Number(p['units']) <= 256).toBe(true);
      expect([1, 3, 5, 7, 9]).toContain(p['depth']);
      expect(Math.abs(Number(p['drop']) * 10 - Math.round(Number(p['drop']) * 10))).toBeLessThan(1e-9);
      expect(['adamw', 'sgd', null, true, 3]).toContain(p['opt']);
      expect(p['fixedByRange']).toBe(4);
    }
    // TPE picked up the best choice and the scale of lr.
    const late = study.trials.slice(-15);
    expect(late.filter((t) => t.params['opt'] === 'sgd').length).toBeGreaterThan(7);
    const meanLog = late.reduce((s, t) => s + Math.log10(Number(t.params['lr'])), 0) / late.length;
    expect(Math.abs(meanLog + 3)).toBeLessThan(0.8);
  });

  it('with the constant liar, running trials push the next proposal away from them', () => {
    // 1-D: the best values so far are near x = 0.3; four trials are running right there.
    const f = (x: number) => (x - 0.3) ** 2;
    const done: TrialInit[] = Array.from({ length: 20 }, (_, i) => ({ params: { x: (i * 0.37) % 1 }, value: f((i * 0.37) % 1) }));
    const running: TrialInit[] = [0.29, 0.3, 0.31, 0.32].map((x) => ({ state: 'RUNNING', params: { x } }));
    const base = studyOf([...done, ...running], 'minimize', x01);
    let moved = 0;
    let farther = 0;
    for (let seed = 0; seed < 10; seed++) {
      const { study, trial } = withRunning(base);
      const honest = Number(new TpeSampler(seed).sample(study, trial, x01)['x']);
      const liar = Number(new TpeSampler(seed, { constantLiar: true }).sample(study, trial, x01)['x']);
      if (honest !== liar) moved++;
      const gap = (x: number) => Math.min(...[0.29, 0.3, 0.31, 0.32].map((r) => Math.abs(x - r)));
      if (gap(liar) >= gap(honest)) farther++;
    }
    expect(moved).toBeGreaterThanOrEqual(5);
    expect(farther).toBeGreaterThanOrEqual(8);
    // Without running trials the liar changes nothing.
    const { study, trial } = withRunning(studyOf(done, 'minimize', x01));
    expect(new TpeSampler(4, { constantLiar: true }).sample(study, trial, x01)).toEqual(new TpeSampler(4).sample(study, trial, x01));
  });

  it('draws candidates from l(x) and keeps the one with the largest log l(x) − log g(x)', () => {
    expect(bestCandidate([-1, 0, 2, 2], [0, -1, 0, 0])).toBe(2); // scores −1, 1, 2, 2: the first best
    expect(bestCandidate([Number.NEGATIVE_INFINITY, -3], [Number.NEGATIVE_INFINITY, 0])).toBe(1); // NaN loses
    // With one candidate the proposal is a draw from l(x): the ten best of 100 trials sit near 0.1
    // (kernel widths ≥ 1/12 by the magic clip), the others above 0.3, so most draws fall below 0.2
    // (draws from g(x) would rarely do).
    const done: TrialInit[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? { params: { x: 0.05 + 0.01 * i }, value: i } : { params: { x: 0.3 + (0.7 * i) / 100 }, value: 10 + i }));
    const { study, trial } = withRunning(studyOf(done, 'minimize', x01));
    const near = Array.from({ length: 60 }, (_, seed) => Number(new TpeSampler(seed, { nEiCandidates: 1 }).sample(study, trial, x01)['x'])).filter((x) => x < 0.2).length;
    expect(near).toBeGreaterThan(30); // 39 of 60
  });

  it('beats random search on problems with a known optimum (mean best of 10 seeds, 60 trials)', () => {
    const meanBest = (make: (seed: number) => TpeSampler | RandomSampler, p: Problem) => {
      let sum = 0;
      for (let seed = 0; seed < 10; seed++) sum += runStudy(make(seed), p, 60).best.at(-1)!;
      return sum / 10;
    };
    for (const p of [maskLrProblem, braninProblem]) {
      const tpe = meanBest((s) => new TpeSampler(s), p);
      const random = meanBest((s) => new RandomSampler(s), p);
      expect({ problem: p.name, better: tpe < 0.9 * random, tpe, random }).toMatchObject({ better: true });
      expect(tpe - p.optimum).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('multivariate and group', () => {
  const f = { type: 'float', low: 0, high: 1, log: false } as const;
  const trials = [
    frozen(0, { params: { a: 0.1, b: 0.2 }, value: 1 }, { a: f, b: f }),
    frozen(1, { params: { a: 0.3, b: 0.1, c: 0.5 }, value: 2 }, { a: f, b: f, c: f }),
    frozen(2, { state: 'PRUNED', params: { a: 0.3, c: 0.5, d: 0.5 } }, { a: f, c: f, d: f }),
  ];
  const space: SearchSpace = { a: f, b: f, c: f, d: f, e: f };
  it('models jointly the params every finished trial has (intersection)', () => {
    expect(relativeGroups(trials.slice(0, 2), space, false)).toEqual([['a', 'b']]);
    expect(relativeGroups(trials, space, false)).toEqual([['a']]);
    // A param whose distribution changed is sampled on its own.
    expect(relativeGroups(trials.slice(0, 2), { ...space, b: { ...f, high: 2 } }, false)).toEqual([['a']]);
  });
  it('with group, splits them into params that always occur together', () => {
    // {a,b} then {a,b,c} then {a,c,d}: groups {a}, {b}, {c}, {d}
    expect(relativeGroups(trials.slice(0, 2), space, true)).toEqual([['a', 'b'], ['c']]);
    expect(relativeGroups(trials, space, true)).toEqual([['a'], ['b'], ['c'], ['d']]);
  });
  it('needs multivariate for group', () => {
    expect(() => new TpeSampler(0, { group: true })).toThrow(/multivariate/);
  });
  it('samples jointly and deterministically', () => {
    const a = runStudy(new TpeSampler(3, { multivariate: true }), braninProblem, 25).study.trials.map((t) => t.params);
    const b = runStudy(new TpeSampler(3, { multivariate: true }), braninProblem, 25).study.trials.map((t) => t.params);
    const u = runStudy(new TpeSampler(3), braninProblem, 25).study.trials.map((t) => t.params);
    expect(a).toEqual(b);
    expect(a.slice(10)).not.toEqual(u.slice(10));
    expect(a.slice(0, 10)).toEqual(u.slice(0, 10));
  });
});

describe('bad input', () => {
  it('rejects malformed distributions with the param\'s name', () => {
    const { study, trial } = withRunning(studyOf([]));
    expect(() => new TpeSampler(0).sample(study, trial, { lr: { type: 'float', low: 0, high: 1, log: true } as Distribution })).toThrow(/"lr".*low > 0/);
    expect(() => new TpeSampler(0).sample(study, trial, { k: { type: 'categorical', choices: [] } })).toThrow(/"k"/);
    expect(() => new TpeSampler(0).sample(study, trial, { k: { type: 'categorical', choices: [] } })).toThrow(expect.objectContaining({ code: 'FT_SEARCH_SPACE' }));
    expect(() => new TpeSampler(0, { nEiCandidates: 0 })).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'sampler.params.nEiCandidates' } }));
    expect(() => new TpeSampler(0, { nEiCandidates: 0 })).toThrow(/nEiCandidates/);
  });
});

describe('kernelScaleTerm reaches the sampler', () => {
  it('changes the proposals made from one history (the density itself is tested in parzen.spec.ts)', () => {
    const dims = ['a', 'b', 'c'];
    const space: SearchSpace = Object.fromEntries(dims.map((d) => [d, { type: 'float', low: 0, high: 1, log: false }]));
    const rng = new RandomSampler(11);
    const trials: TrialInit[] = [];
    for (let i = 0; i < 30; i++) {
      const p = rng.sample(studyOf(trials, 'minimize', space), frozen(i, { state: 'RUNNING' }, space), space) as Record<string, number>;
      trials.push({ params: p, value: dims.reduce((acc, d) => acc + (p[d]! - 0.3) ** 2, 0), distributions: space });
    }
    const study = studyOf(trials, 'minimize', space);
    let differ = 0;
    for (let k = 0; k < 20; k++) {
      const { study: s, trial } = withRunning(study, {}, space);
      const t = { ...trial, number: 30 + k };
      if (JSON.stringify(new TpeSampler(5).sample(s, t, space)) !== JSON.stringify(new TpeSampler(5, { kernelScaleTerm: false }).sample(s, t, space))) differ++;
    }
    // Same candidates, scored by two densities: for some trials the best candidate differs.
    expect(differ).toBeGreaterThan(0);
  });
});
