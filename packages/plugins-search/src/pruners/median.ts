/**
 * Optuna's MedianPruner (a PercentilePruner at 50, `optuna/pruners/_percentile.py`).
 *
 * Once `nStartupTrials` trials are COMPLETE, a trial that reports at step ≥ `nWarmupSteps`, the
 * first report of its interval (`intervalSteps`), is pruned when its best intermediate value so far
 * (NaNs ignored; all NaN prunes) is worse than the median of the COMPLETE trials' values at that
 * same step. Nothing is decided while fewer than `nMinTrials` complete trials reported at that step.
 * The median is numpy's `nanpercentile` (linear interpolation, numpy's own lerp, so a median with
 * an infinite value is NaN and prunes nothing, as in Optuna).
 */
import { FairtuneError, type FrozenTrial, type Pruner, type StudyDirection, type StudyView } from '@fairtune/core/plugin';
import { lastStep } from './study-view.js';

export interface MedianOptions {
  readonly nStartupTrials: number;
  readonly nWarmupSteps: number;
  readonly intervalSteps: number;
  readonly nMinTrials: number;
}

export const MEDIAN_DEFAULTS: MedianOptions = { nStartupTrials: 5, nWarmupSteps: 0, intervalSteps: 1, nMinTrials: 1 };

export class PercentilePruner implements Pruner {
  readonly options: MedianOptions;

  constructor(
    readonly percentile: number,
    options: Partial<MedianOptions> = {},
  ) {
    const o = { ...MEDIAN_DEFAULTS, ...options };
    if (!(percentile >= 0 && percentile <= 100)) throw new FairtuneError('FT_PARAM_INVALID', `percentile must be between 0 and 100 (got ${percentile})`, { param: 'pruner.params.percentile' });
    if (!(Number.isInteger(o.nStartupTrials) && o.nStartupTrials >= 0)) throw new FairtuneError('FT_PARAM_INVALID', `nStartupTrials must be an integer ≥ 0 (got ${o.nStartupTrials})`, { param: 'pruner.params.nStartupTrials' });
    if (!(Number.isInteger(o.nWarmupSteps) && o.nWarmupSteps >= 0)) throw new FairtuneError('FT_PARAM_INVALID', `nWarmupSteps must be an integer ≥ 0 (got ${o.nWarmupSteps})`, { param: 'pruner.params.nWarmupSteps' });
    if (!(Number.isInteger(o.intervalSteps) && o.intervalSteps >= 1)) throw new FairtuneError('FT_PARAM_INVALID', `intervalSteps must be an integer ≥ 1 (got ${o.intervalSteps})`, { param: 'pruner.params.intervalSteps' });
    if (!(Number.isInteger(o.nMinTrials) && o.nMinTrials >= 1)) throw new FairtuneError('FT_PARAM_INVALID', `nMinTrials must be an integer ≥ 1 (got ${o.nMinTrials})`, { param: 'pruner.params.nMinTrials' });
    this.options = o;
  }

  shouldPrune(study: StudyView, trial: FrozenTrial): boolean {
    const completed = study.trials.filter((t) => t.state === 'COMPLETE');
    if (completed.length === 0 || completed.length < this.options.nStartupTrials) return false;
    const step = lastStep(trial);
    if (step === undefined) return false;
    const warmup = this.options.nWarmupSteps;
    if (step < warmup) return false;
    if (!isFirstInIntervalStep(step, trial.intermediateValues.keys(), warmup, this.options.intervalSteps)) return false;
    const best = bestIntermediateValue(trial, study.direction);
    if (Number.isNaN(best)) return true;
    const p = percentileOverTrials(completed, study.direction, step, this.percentile, this.options.nMinTrials);
    if (Number.isNaN(p)) return false;
    return study.direction === 'maximize' ? best < p : best > p;
  }
}

export class MedianPruner extends PercentilePruner {
  constructor(options: Partial<MedianOptions> = {}) {
    super(50, options);
  }
}

/** `_is_first_in_interval_step`: no earlier report since the last pruning step of the interval grid. */
export function isFirstInIntervalStep(step: number, steps: Iterable<number>, warmup: number, interval: number): boolean {
  const nearestLowerPruningStep = Math.floor((step - warmup) / interval) * interval + warmup;
  let secondLast = -1;
  for (const s of steps) if (s > secondLast && s !== step) secondLast = s;
  return secondLast < nearestLowerPruningStep;
}

/** numpy's nanmax / nanmin over the trial's intermediate values (NaN when all are NaN). */
export function bestIntermediateValue(trial: FrozenTrial, direction: StudyDirection): number {
  let best = NaN;
  for (const v of trial.intermediateValues.values()) {
    if (Number.isNaN(v)) continue;
    if (Number.isNaN(best) || (direction === 'maximize' ? v > best : v < best)) best = v;
  }
  return best;
}

export function percentileOverTrials(completed: readonly FrozenTrial[], direction: StudyDirection, step: number, percentile: number, nMinTrials: number): number {
  const values: number[] = [];
  for (const t of completed) {
    const v = t.intermediateValues.get(step);
    if (v !== undefined) values.push(v);
  }
  if (values.length < nMinTrials) return NaN;
  return nanPercentile(values, direction === 'maximize' ? 100 - percentile : percentile);
}

/** numpy 1.22+ `nanpercentile(values, q)` with the default linear method, bit for bit. */
export function nanPercentile(values: readonly number[], q: number): number {
  const arr = values.filter((v) => !Number.isNaN(v)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = arr.length;
  if (n === 0) return NaN;
  const virtual = (n - 1) * (q / 100);
  let prev = Math.floor(virtual);
  let next = prev + 1;
  if (virtual >= n - 1) prev = next = -1; // numpy: the last element, and gamma from index -1
  if (virtual < 0) prev = next = 0;
  const gamma = virtual - prev;
  const a = arr.at(prev)!;
  const b = arr.at(next)!;
  // numpy's _lerp: a + (b−a)·t, or b − (b−a)·(1−t) when t ≥ 0.5.
  const diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}
