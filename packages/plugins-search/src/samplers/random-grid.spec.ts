/** The random and grid samplers, and the package's sampler plugins as the registry sees them. */
import { resolveNestedParams, SAMPLER_KIND, StageRegistry, type ParamValue, type SearchSpace } from '@fairtune/core';
import { containerModule } from '../index.js';
import { GridSampler, gridSamplerPlugin } from './grid.js';
import { RandomSampler, randomSamplerPlugin } from './random.js';
import { frozen, studyOf, withRunning } from './test-utils/study.js';
import { TPE_DEFAULTS, tpeSamplerPlugin } from './tpe.js';

describe('random', () => {
  const space: SearchSpace = {
    lr: { type: 'float', low: 1e-5, high: 1e-1, log: true },
    x: { type: 'float', low: -1, high: 1, log: false },
    k: { type: 'int', low: 0, high: 10, log: false, step: 5 },
    n: { type: 'int', low: 1, high: 1000, log: true, step: 1 },
    d: { type: 'float', low: 0, high: 1, log: false, step: 0.25 },
    c: { type: 'categorical', choices: ['a', 'b', 'c'] },
  };
  const draws = (seed: number, count: number) => Array.from({ length: count }, (_, i) => new RandomSampler(seed).sample(studyOf([]), frozen(i, { state: 'RUNNING' }), space));

  it('draws uniformly in the transformed space: log-uniform, steps, choices', () => {
    const ps = draws(1, 4000);
    const frac = (f: (p: Record<string, ParamValue>) => boolean) => ps.filter(f).length / ps.length;
    // log-uniform over 4 decades: a quarter in each
    expect(frac((p) => Number(p['lr']) < 1e-4)).toBeCloseTo(0.25, 1);
    expect(frac((p) => Number(p['lr']) > 1e-2)).toBeCloseTo(0.25, 1);
    expect(frac((p) => Number(p['x']) < 0)).toBeCloseTo(0.5, 1);
    for (const v of [0, 5, 10]) expect(frac((p) => p['k'] === v)).toBeCloseTo(1 / 3, 1);
    expect(ps.every((p) => [0, 5, 10].includes(p['k'] as number))).toBe(true);
    expect(ps.every((p) => Number.isInteger(p['n']) && Number(p['n']) >= 1 && Number(p['n']) <= 1000)).toBe(true);
    expect(frac((p) => Number(p['n']) <= 31)).toBeCloseTo(0.5, 1); // log-uniform int: √1000 ≈ 31.6 splits it in half
    for (const v of [0, 0.25, 0.5, 0.75, 1]) expect(frac((p) => p['d'] === v)).toBeCloseTo(0.2, 1);
    for (const v of ['a', 'b', 'c']) expect(frac((p) => p['c'] === v)).toBeCloseTo(1 / 3, 1);
  });
  it('depends on the seed and the trial number only, keeps enqueued params', () => {
    expect(draws(5, 20)).toEqual(draws(5, 20));
    expect(draws(6, 20)).not.toEqual(draws(5, 20));
    const { study, trial } = withRunning(studyOf([{ value: 1 }]), { c: 'b', n: 7 });
    const p = new RandomSampler(5).sample(study, trial, space);
    expect([p['c'], p['n']]).toEqual(['b', 7]);
    expect(p['lr']).toBe(new RandomSampler(5).sample(study, { ...trial, params: {} }, space)['lr']);
  });
});

describe('grid', () => {
  const grid = { lr: [1e-4, 1e-3], opt: ['sgd', 'adamw', null], bits: [0, 1] };
  const space: SearchSpace = {
    lr: { type: 'float', low: 1e-5, high: 1e-2, log: true },
    opt: { type: 'categorical', choices: ['sgd', 'adamw', null] },
    bits: { type: 'int', low: 0, high: 1, log: false, step: 1 },
  };
  const key = (p: Readonly<Record<string, ParamValue>>) => JSON.stringify([p['bits'], p['lr'], p['opt']]);
  function walk(sampler: GridSampler, n: number) {
    const trials = [] as ReturnType<typeof frozen>[];
    for (let i = 0; i < n; i++) {
      const { study, trial } = withRunning({ name: 'g', direction: 'minimize', trials });
      trials.push(frozen(i, { params: sampler.sample(study, trial, space), value: i }, space));
    }
    return trials.map((t) => t.params);
  }

  it('visits every point once, in a seeded order, before repeating', () => {
    const ps = walk(new GridSampler(grid, 3), 12);
    expect(new Set(ps.slice(0, 12).map(key)).size).toBe(12);
    expect(walk(new GridSampler(grid, 3), 12)).toEqual(ps);
    expect(walk(new GridSampler(grid, 4), 12).map(key)).not.toEqual(ps.map(key));
    // Exhausted: points come round again.
    expect(new Set(walk(new GridSampler(grid, 3), 15).map(key)).size).toBe(12);
  });
  it('skips points that running trials hold, and counts enqueued trials on the grid', () => {
    const sampler = new GridSampler(grid, 1);
    const first = walk(sampler, 1)[0]!;
    const running = { state: 'RUNNING' as const, params: first };
    const { study, trial } = withRunning(studyOf([running], 'minimize', space));
    expect(key(sampler.sample(study, trial, space))).not.toBe(key(first));
    // An enqueued trial keeps its values and takes a matching unvisited point for the rest.
    const q = withRunning(studyOf([{ params: { bits: 1, lr: 1e-3, opt: 'sgd' }, value: 0 }], 'minimize', space), { bits: 1, lr: 1e-3 }, space);
    const p = sampler.sample(q.study, q.trial, space);
    expect([p['bits'], p['lr']]).toEqual([1, 1e-3]);
    expect(p['opt']).not.toBe('sgd');
  });
  it('refuses params missing from the grid and values outside the distribution', () => {
    const { study, trial } = withRunning(studyOf([]));
    expect(() => new GridSampler(grid, 0).sample(study, trial, { ...space, other: { type: 'categorical', choices: [1, 2] } })).toThrow(/"other" is not in the grid/);
    const bad = new GridSampler({ bits: [2] }, 0);
    expect(() => bad.sample(study, trial, { bits: space['bits']! })).toThrow(/outside its distribution/);
    expect(() => bad.sample(study, trial, { bits: space['bits']! })).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'sampler.params.searchSpace.bits' } }));
  });
});

describe('sampler plugins', () => {
  it('are bound as nested plugins of kind sampler by the package', () => {
    const registry = new StageRegistry();
    registry.loadModule(containerModule, '@fairtune/plugins-search');
    const names = (registry.nested(SAMPLER_KIND.kind) ?? []).map((p) => p.plugin.name);
    expect(names).toEqual(['grid', 'random', 'tpe']);
  });
  it('fill in Optuna\'s defaults and check params', () => {
    // kernelScaleTerm has no schema default (existing searches keep their cache keys): the sampler fills it in.
    const { kernelScaleTerm: _k, ...schemaDefaults } = TPE_DEFAULTS;
    expect(resolveNestedParams('sampler', tpeSamplerPlugin, {})).toEqual(schemaDefaults);
    expect(resolveNestedParams('sampler', tpeSamplerPlugin, { multivariate: true })).toMatchObject({ multivariate: true, nStartupTrials: 10, nEiCandidates: 24 });
    expect(() => resolveNestedParams('sampler', tpeSamplerPlugin, { nStartupTrial: 3 })).toThrow();
    expect(() => resolveNestedParams('sampler', gridSamplerPlugin, {})).toThrow(/searchSpace/);
    expect(resolveNestedParams('sampler', randomSamplerPlugin, {})).toEqual({});
    expect(() => tpeSamplerPlugin.create({ ...TPE_DEFAULTS, group: true }, 0)).toThrow(/multivariate/);
    expect(gridSamplerPlugin.create({ searchSpace: { a: [1, 2] } }, 0)).toBeInstanceOf(GridSampler);
  });
});
