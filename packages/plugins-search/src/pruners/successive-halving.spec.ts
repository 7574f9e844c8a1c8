/**
 * Successive halving on hand-worked histories (Optuna's rules, algorithms.md §7.2). With
 * minResource r = 1 and η = 4 rungs end at steps 1, 4, 16, 64; a trial passes a rung when its value
 * is within the best max(1, ⌊n/4⌋) of the n values recorded there.
 */
import { SuccessiveHalvingPruner, estimateMinResource, isPromotable } from './successive-halving.js';
import { FakeStudy, trial } from './test-utils/study.js';

/** Reports `value` at `step` for trial `n` and asks the pruner, as a search stage does. */
function step(pruner: SuccessiveHalvingPruner, study: FakeStudy, n: number, s: number, value: number): boolean {
  const t = study.report(n, s, value);
  return pruner.shouldPrune(study.view(), t);
}

describe('successive-halving', () => {
  it('rung k ends at r·η^k: nothing is recorded before step 1, rung 0 at 1, rung 1 at 4 (r = 1, η = 4)', () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    const n = study.add('RUNNING');
    expect(step(pruner, study, n, 0, 5)).toBe(false);
    expect(study.rungs(n)).toEqual({});
    expect(step(pruner, study, n, 1, 5)).toBe(false);
    expect(study.rungs(n)).toEqual({ completed_rung_0: 5 });
    for (const s of [2, 3]) expect(step(pruner, study, n, s, 4)).toBe(false);
    expect(study.rungs(n)).toEqual({ completed_rung_0: 5 });
    expect(step(pruner, study, n, 4, 3)).toBe(false);
    expect(study.rungs(n)).toEqual({ completed_rung_0: 5, completed_rung_1: 3 });
    for (const s of [5, 15]) expect(step(pruner, study, n, s, 3)).toBe(false);
    expect(step(pruner, study, n, 16, 2)).toBe(false);
    expect(study.rungs(n)).toEqual({ completed_rung_0: 5, completed_rung_1: 3, completed_rung_2: 2 });
  });

  it('promotes the best max(1, ⌊n/η⌋) of the n values at a rung, its own value included (minimize)', () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    // n = 1: alone, promoted.                         values at rung 0 so far → kept if ≤ sorted[idx]
    const a = study.add('RUNNING');
    expect(step(pruner, study, a, 1, 5)).toBe(false); //  [5]           idx 0 → 5 ≤ 5
    const b = study.add('RUNNING');
    expect(step(pruner, study, b, 1, 6)).toBe(true); //   [5 6]         idx 0 → 6 > 5: pruned
    const c = study.add('RUNNING');
    expect(step(pruner, study, c, 1, 4)).toBe(false); //  [4 5 6]       idx 0 → 4 ≤ 4
    const d = study.add('RUNNING');
    expect(step(pruner, study, d, 1, 4.5)).toBe(true); // [4 4.5 5 6]   idx ⌊4/4⌋−1 = 0 → 4.5 > 4
    for (const v of [7, 8, 9]) expect(step(pruner, study, study.add('RUNNING'), 1, v)).toBe(true);
    // n = 8 → idx ⌊8/4⌋−1 = 1: the second best passes.  [4 4.5 4.6 5 6 7 8 9]
    const e = study.add('RUNNING');
    expect(step(pruner, study, e, 1, 4.6)).toBe(true); // sorted[1] = 4.5 < 4.6
    const f = study.add('RUNNING');
    expect(step(pruner, study, f, 1, 4.5)).toBe(false); // n = 9, [4 4.5 4.5 4.6 …], sorted[1] = 4.5
    // Pruned trials keep their rung value: it competes for later trials.
    expect(study.rungs(b)).toEqual({ completed_rung_0: 6 });
  });

  it('maximize keeps the largest values: value ≥ sorted[n − 1 − idx]', () => {
    const study = new FakeStudy('maximize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    for (const v of [0.5, 0.7, 0.6, 0.9, 0.8, 0.1, 0.2]) study.add('RUNNING', [[1, v]]);
    for (const t of study.trials) expect(pruner.shouldPrune(study.view(), study.trials[t.number]!)).toBe(![0.5, 0.7, 0.9].includes(study.trials[t.number]!.intermediateValues.get(1)!));
    // 8th value: n = 8, idx 1 → must reach the second largest (0.8).
    const n = study.add('RUNNING');
    expect(step(pruner, study, n, 1, 0.75)).toBe(true);
    const m = study.add('RUNNING');
    expect(step(pruner, study, m, 1, 0.85)).toBe(false); // n = 9: [… 0.8 0.85 0.9], second largest 0.85
  });

  it('a late report passes several rungs at once, recording each, and stops at the first it fails', () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    const early = study.add('RUNNING');
    step(pruner, study, early, 1, 3);
    step(pruner, study, early, 4, 2);
    const late = study.add('RUNNING');
    // First report at step 16: rung 0 ([3, 1] → best), rung 1 ([2, 1] → best), rung 2 ([1]), rung 3 at 64 not reached.
    expect(step(pruner, study, late, 16, 1)).toBe(false);
    expect(study.rungs(late)).toEqual({ completed_rung_0: 1, completed_rung_1: 1, completed_rung_2: 1 });
    const worse = study.add('RUNNING');
    // Rung 0: [3, 1, 2.5] → best is 1: pruned at rung 0; rung 1 is not reached.
    expect(step(pruner, study, worse, 16, 2.5)).toBe(true);
    expect(study.rungs(worse)).toEqual({ completed_rung_0: 2.5 });
  });

  it('a NaN at a rung end prunes without recording; NaN before the rung end does not', () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 2 });
    const n = study.add('RUNNING');
    expect(step(pruner, study, n, 1, NaN)).toBe(false);
    expect(step(pruner, study, n, 2, NaN)).toBe(true);
    expect(study.rungs(n)).toEqual({});
  });

  it("minResource 'auto': nothing is pruned before a trial completes; then r = max(⌊longest last step / 100⌋, 1), fixed", () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner();
    const first = study.add('RUNNING');
    for (let s = 0; s < 300; s++) expect(step(pruner, study, first, s, 10 - s / 100)).toBe(false);
    expect(study.rungs(first)).toEqual({});
    expect(pruner.minResource).toBeUndefined();
    study.complete(first); // last step 299 → r = 2
    const second = study.add('RUNNING');
    expect(step(pruner, study, second, 1, 100)).toBe(false);
    expect(pruner.minResource).toBe(2);
    expect(step(pruner, study, second, 2, 100)).toBe(false); // alone at rung 0 (the completed trial never recorded one)
    expect(study.rungs(second)).toEqual({ completed_rung_0: 100 });
    expect(step(pruner, study, second, 7, 100)).toBe(false); // rung 1 ends at 2·4 = 8
    expect(step(pruner, study, second, 8, 100)).toBe(false);
    expect(study.rungs(second)).toEqual({ completed_rung_0: 100, completed_rung_1: 100 });
    // A longer completed trial later does not change r (Optuna caches it).
    const third = study.add('COMPLETE', [[999, 1]]);
    expect(third).toBe(2);
    expect(step(pruner, study, study.add('RUNNING'), 1, 1)).toBe(false);
    expect(pruner.minResource).toBe(2);
  });

  it('minEarlyStoppingRate s moves rung 0 to r·η^s', () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3, minEarlyStoppingRate: 2 });
    const n = study.add('RUNNING');
    expect(step(pruner, study, n, 8, 1)).toBe(false);
    expect(study.rungs(n)).toEqual({});
    expect(step(pruner, study, n, 9, 1)).toBe(false);
    expect(study.rungs(n)).toEqual({ completed_rung_0: 1 });
    expect(step(pruner, study, n, 27, 1)).toBe(false);
    expect(study.rungs(n)).toEqual({ completed_rung_0: 1, completed_rung_1: 1 });
  });

  it('bootstrapCount prunes while n ≤ bootstrapCount at a rung', () => {
    const study = new FakeStudy('minimize');
    const pruner = new SuccessiveHalvingPruner({ minResource: 1, bootstrapCount: 2 });
    expect(step(pruner, study, study.add('RUNNING'), 1, 1)).toBe(true);
    expect(step(pruner, study, study.add('RUNNING'), 1, 1)).toBe(true);
    expect(step(pruner, study, study.add('RUNNING'), 1, 1)).toBe(false);
  });

  it('given a read-only view it remembers its rungs itself and decides the same', () => {
    const values = [5, 6, 4, 4.5, 7, 3, 3.5, 8, 2];
    const decide = (writable: boolean) => {
      const study = new FakeStudy('minimize', 's', writable);
      const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
      return values.map((v) => {
        const n = study.add('RUNNING');
        return [step(pruner, study, n, 1, v), step(pruner, study, n, 4, v - 1), step(pruner, study, n, 4, v - 1)];
      });
    };
    expect(decide(false)).toEqual(decide(true));
  });

  it('rungs recorded by other workers (system attrs in the study) compete; its own rung is never counted twice', () => {
    const others = [trial(0, 'COMPLETE', [[1, 1]], { completed_rung_0: 1 }), trial(1, 'PRUNED', [[1, 2]], { completed_rung_0: 2 })];
    const me = trial(2, 'RUNNING', [[1, 1.5]]);
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    expect(pruner.shouldPrune({ name: 's', direction: 'minimize', trials: [...others, me] }, me)).toBe(true); // [1 1.5 2], idx 0
    // The same trial seen again with its rung 0 recorded is at rung 1 (ends at 4): no decision at step 1.
    const again = trial(2, 'RUNNING', [[1, 1.5]], { completed_rung_0: 1.5 });
    expect(new SuccessiveHalvingPruner({ minResource: 1 }).shouldPrune({ name: 's', direction: 'minimize', trials: [...others, again] }, again)).toBe(false);
  });

  it('checks its params as Optuna does', () => {
    expect(() => new SuccessiveHalvingPruner({ reductionFactor: 1 })).toThrow(/reductionFactor/);
    expect(() => new SuccessiveHalvingPruner({ reductionFactor: 1 })).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'pruner.params.reductionFactor' } }));
    expect(() => new SuccessiveHalvingPruner({ minResource: 0 })).toThrow(/minResource/);
    expect(() => new SuccessiveHalvingPruner({ minEarlyStoppingRate: -1 })).toThrow(/minEarlyStoppingRate/);
    expect(() => new SuccessiveHalvingPruner({ bootstrapCount: 1 })).toThrow(/incompatible/);
    expect(() => new SuccessiveHalvingPruner({ minResource: 1, bootstrapCount: 1 })).not.toThrow();
  });

  it('helpers: estimateMinResource and isPromotable', () => {
    expect(estimateMinResource([trial(0, 'RUNNING', [[500, 1]])])).toBeUndefined();
    expect(estimateMinResource([trial(0, 'COMPLETE', [[99, 1]])])).toBe(1);
    expect(estimateMinResource([trial(0, 'COMPLETE', [[199, 1]]), trial(1, 'COMPLETE', [[350, 1]]), trial(2, 'PRUNED', [[900, 1]])])).toBe(3);
    expect(isPromotable(Infinity, [1, Infinity, 2], 4, 'maximize')).toBe(true);
    expect(isPromotable(-Infinity, [1, -Infinity, 2], 4, 'maximize')).toBe(false);
  });
});
