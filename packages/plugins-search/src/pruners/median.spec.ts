/** Optuna's MedianPruner on hand-worked histories; medians as numpy's nanpercentile computes them (values printed by numpy 1.24). */
import { MedianPruner, isFirstInIntervalStep, nanPercentile } from './median.js';
import { trial } from './test-utils/study.js';
import type { FrozenTrial, StudyDirection } from '@fairtune/core';

const completed = (values: number[], step = 2) => values.map((v, i) => trial(i, 'COMPLETE', [[0, 100], [step, v]]));
const ask = (pruner: MedianPruner, trials: FrozenTrial[], me: FrozenTrial, direction: StudyDirection = 'minimize') =>
  pruner.shouldPrune({ name: 's', direction, trials: [...trials, me] }, me);

describe('median', () => {
  it('prunes a trial whose best value so far is worse than the median of the completed trials at its step', () => {
    const done = completed([1, 2, 3, 4, 5]); // median 3 at step 2
    const p = new MedianPruner();
    expect(ask(p, done, trial(9, 'RUNNING', [[2, 3.5]]))).toBe(true);
    expect(ask(p, done, trial(9, 'RUNNING', [[2, 3]]))).toBe(false);
    // best over steps: an earlier 2.9 keeps a trial reporting 3.5 now
    expect(ask(p, done, trial(9, 'RUNNING', [[1, 2.9], [2, 3.5]]))).toBe(false);
    expect(ask(p, done, trial(9, 'RUNNING', [[2, 2.9]]), 'maximize')).toBe(true);
  });

  it('waits for 5 completed trials (nStartupTrials), and decides nothing at a step no completed trial reported', () => {
    const p = new MedianPruner();
    expect(ask(p, completed([1, 2, 3, 4]), trial(9, 'RUNNING', [[2, 99]]))).toBe(false);
    expect(ask(p, completed([1, 2, 3, 4, 5]), trial(9, 'RUNNING', [[3, 99]]))).toBe(false);
    expect(ask(new MedianPruner({ nStartupTrials: 0 }), [], trial(9, 'RUNNING', [[2, 99]]))).toBe(false); // no completed trial at all
  });

  it('warm-up steps, interval steps and nMinTrials', () => {
    const done = [0, 1, 2, 3, 4].map((i) => trial(i, 'COMPLETE', Array.from({ length: 10 }, (_, s) => [s, i] as const))); // median 2 at every step
    const bad = (steps: number[]) => trial(9, 'RUNNING', steps.map((s) => [s, 50] as const));
    expect(ask(new MedianPruner({ nWarmupSteps: 3 }), done, bad([2]))).toBe(false);
    expect(ask(new MedianPruner({ nWarmupSteps: 3 }), done, bad([3]))).toBe(true);
    // interval 3 after warm-up 1: pruning steps 1, 4, 7; the first report at or after each counts once.
    const p = new MedianPruner({ nWarmupSteps: 1, intervalSteps: 3 });
    expect(ask(p, done, bad([1]))).toBe(true);
    expect(ask(p, done, bad([1, 2]))).toBe(false);
    expect(ask(p, done, bad([1, 2, 3]))).toBe(false);
    expect(ask(p, done, bad([1, 2, 3, 5]))).toBe(true); // first report since step 4
    expect(ask(new MedianPruner({ nMinTrials: 6 }), done, bad([4]))).toBe(false);
    expect(isFirstInIntervalStep(7, [7, 1, 4], 1, 3)).toBe(true);
    expect(isFirstInIntervalStep(8, [7, 8], 1, 3)).toBe(false);
  });

  it('NaN: a trial with only NaN values is pruned; NaN values of completed trials are ignored', () => {
    const p = new MedianPruner();
    expect(ask(p, completed([1, 2, 3, 4, 5]), trial(9, 'RUNNING', [[2, NaN]]))).toBe(true);
    expect(ask(p, completed([NaN, NaN, NaN, 1, 5]), trial(9, 'RUNNING', [[2, 3.5]]))).toBe(true); // median of [1, 5] is 3
    expect(ask(p, completed([NaN, NaN, NaN, 1, 5]), trial(9, 'RUNNING', [[2, 2.5]]))).toBe(false);
    expect(ask(p, completed([NaN, NaN, NaN, NaN, NaN]), trial(9, 'RUNNING', [[2, 3.5]]))).toBe(false);
  });

  it("numpy's percentile, lerp and all: [0.1, 0.7] → 0.39999999999999997, a median with an infinity → NaN", () => {
    expect(nanPercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(nanPercentile([0.1, 0.2, 0.7], 50)).toBe(0.2);
    expect(nanPercentile([0.1, 0.2], 50)).toBe(0.15000000000000002);
    expect(nanPercentile([0.7, 0.1], 50)).toBe(0.39999999999999997);
    expect(nanPercentile([1, 2, Infinity], 50)).toBeNaN();
    expect(nanPercentile([Infinity], 50)).toBeNaN();
    expect(nanPercentile([1], 50)).toBe(1);
    expect(nanPercentile([-Infinity, 1, 2], 50)).toBe(1);
    // So a median next to an infinite completed value prunes nothing, as in Optuna (numpy: [1 2 3 inf inf] → nan; [1 2 3 4 inf] → 3).
    expect(ask(new MedianPruner(), completed([1, 2, 3, Infinity, Infinity]), trial(9, 'RUNNING', [[2, 100]]))).toBe(false);
    expect(ask(new MedianPruner(), completed([1, 2, 3, 4, Infinity]), trial(9, 'RUNNING', [[2, 100]]))).toBe(true);
  });
});
