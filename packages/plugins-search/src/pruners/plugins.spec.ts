/** The pruner plugins as a pipeline selects them: bound by the package, params checked and defaulted at validation. */
import { Container } from 'inversify';
import { PRUNER, PRUNER_KIND, resolveNestedParams, type PrunerPlugin } from '@fairtune/core';
import { containerModule } from '../index.js';
import { HyperbandPruner } from './hyperband.js';
import { MedianPruner } from './median.js';
import { hyperbandPruner, medianPruner, nonePruner, prunerPlugins, successiveHalvingPruner } from './plugins.js';
import { SuccessiveHalvingPruner } from './successive-halving.js';

describe('pruner plugins', () => {
  it('the package binds successive-halving, hyperband, median and none to PRUNER', async () => {
    const c = new Container();
    await c.load(containerModule);
    expect(c.getAll<PrunerPlugin>(PRUNER).map((p) => p.name)).toEqual(expect.arrayContaining(['successive-halving', 'hyperband', 'median', 'none']));
  });

  it("fills in Optuna's defaults", () => {
    expect(resolveNestedParams(PRUNER_KIND.kind, successiveHalvingPruner)).toEqual({ minResource: 'auto', reductionFactor: 4, minEarlyStoppingRate: 0, bootstrapCount: 0 });
    expect(resolveNestedParams(PRUNER_KIND.kind, hyperbandPruner)).toEqual({ minResource: 1, maxResource: 'auto', reductionFactor: 3, bootstrapCount: 0 });
    expect(resolveNestedParams(PRUNER_KIND.kind, medianPruner)).toEqual({ nStartupTrials: 5, nWarmupSteps: 0, intervalSteps: 1, nMinTrials: 1 });
    expect(resolveNestedParams(PRUNER_KIND.kind, nonePruner)).toEqual({});
  });

  it('refuses what Optuna refuses, at validation', () => {
    expect(() => resolveNestedParams(PRUNER_KIND.kind, successiveHalvingPruner, { bootstrapCount: 2 })).toThrow(/bootstrapCount/);
    expect(() => resolveNestedParams(PRUNER_KIND.kind, successiveHalvingPruner, { reductionFactor: 1 })).toThrow(/reductionFactor/);
    expect(() => resolveNestedParams(PRUNER_KIND.kind, successiveHalvingPruner, { minResource: 'often' })).toThrow(/minResource/);
    expect(() => resolveNestedParams(PRUNER_KIND.kind, hyperbandPruner, { bootstrapCount: 1 })).toThrow(/bootstrapCount/);
    expect(() => resolveNestedParams(PRUNER_KIND.kind, medianPruner, { intervalSteps: 0 })).toThrow(/intervalSteps/);
    expect(resolveNestedParams(PRUNER_KIND.kind, successiveHalvingPruner, { minResource: 2, bootstrapCount: 2 })).toMatchObject({ minResource: 2, bootstrapCount: 2 });
  });

  it('create() builds the pruner from resolved params', () => {
    const sh = successiveHalvingPruner.create(resolveNestedParams(PRUNER_KIND.kind, successiveHalvingPruner, { reductionFactor: 3 }));
    expect(sh).toBeInstanceOf(SuccessiveHalvingPruner);
    expect((sh as SuccessiveHalvingPruner).reductionFactor).toBe(3);
    expect(hyperbandPruner.create(resolveNestedParams(PRUNER_KIND.kind, hyperbandPruner))).toBeInstanceOf(HyperbandPruner);
    expect(medianPruner.create(resolveNestedParams(PRUNER_KIND.kind, medianPruner))).toBeInstanceOf(MedianPruner);
    const none = nonePruner.create({});
    expect(none.shouldPrune({ name: 's', direction: 'minimize', trials: [] }, { number: 0, state: 'RUNNING', params: {}, distributions: {}, intermediateValues: new Map([[0, NaN]]), userAttrs: {}, systemAttrs: {} })).toBe(false);
    expect(new Set(prunerPlugins.map((p) => p.name)).size).toBe(prunerPlugins.length);
  });
});
