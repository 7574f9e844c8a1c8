/**
 * Optuna's SuccessiveHalvingPruner (asynchronous successive halving, `optuna/pruners/_successive_halving.py`,
 * the same logic from 3.1 to 5.0; algorithms.md §7.2).
 *
 * With r = min resource, η = reduction factor, s = min early-stopping rate, rung k ends at step
 * r·η^(s+k). When a trial reports at a step that reaches the end of its next rung, the value it
 * just reported is recorded as the trial's system attr `completed_rung_<k>`, and the trial goes on
 * only if that value is among the best ⌊n/η⌋ (at least 1) of the n values recorded at rung k so
 * far, its own included; else it is pruned. A late report can pass several rungs at once. A NaN
 * report at a rung's end prunes. With `minResource: 'auto'`, r = max(⌊last step of the longest
 * COMPLETE trial / 100⌋, 1), fixed once the first trial completes (nothing is pruned before).
 */
import { FairtuneError, type FrozenTrial, type Pruner, type StudyDirection, type StudyView } from '@fairtune/core/plugin';
import { isWritable, lastStep } from './study-view.js';

export interface SuccessiveHalvingOptions {
  readonly minResource: number | 'auto';
  readonly reductionFactor: number;
  readonly minEarlyStoppingRate: number;
  readonly bootstrapCount: number;
}

export const SUCCESSIVE_HALVING_DEFAULTS: SuccessiveHalvingOptions = { minResource: 'auto', reductionFactor: 4, minEarlyStoppingRate: 0, bootstrapCount: 0 };

export function completedRungKey(rung: number): string {
  return `completed_rung_${rung}`;
}

export class SuccessiveHalvingPruner implements Pruner {
  readonly reductionFactor: number;
  readonly minEarlyStoppingRate: number;
  readonly bootstrapCount: number;
  #minResource: number | undefined;
  /** Rung values this pruner recorded: trial number → key → value (what a read-only view cannot hold). */
  readonly #recorded = new Map<number, Map<string, number>>();

  constructor(options: Partial<SuccessiveHalvingOptions> = {}) {
    const o = { ...SUCCESSIVE_HALVING_DEFAULTS, ...options };
    if (o.minResource !== 'auto' && !(Number.isInteger(o.minResource) && o.minResource >= 1)) {
      throw new FairtuneError('FT_PARAM_INVALID', `successive-halving: minResource must be 'auto' or an integer ≥ 1 (got ${String(o.minResource)})`, { param: 'pruner.params.minResource' });
    }
    if (!(Number.isInteger(o.reductionFactor) && o.reductionFactor >= 2)) throw new FairtuneError('FT_PARAM_INVALID', `successive-halving: reductionFactor must be an integer ≥ 2 (got ${o.reductionFactor})`, { param: 'pruner.params.reductionFactor' });
    if (!(Number.isInteger(o.minEarlyStoppingRate) && o.minEarlyStoppingRate >= 0)) {
      throw new FairtuneError('FT_PARAM_INVALID', `successive-halving: minEarlyStoppingRate must be an integer ≥ 0 (got ${o.minEarlyStoppingRate})`, { param: 'pruner.params.minEarlyStoppingRate' });
    }
    if (!(Number.isInteger(o.bootstrapCount) && o.bootstrapCount >= 0)) throw new FairtuneError('FT_PARAM_INVALID', `successive-halving: bootstrapCount must be an integer ≥ 0 (got ${o.bootstrapCount})`, { param: 'pruner.params.bootstrapCount' });
    if (o.bootstrapCount > 0 && o.minResource === 'auto') {
      throw new FairtuneError('FT_PARAM_INVALID', `successive-halving: bootstrapCount > 0 and minResource 'auto' are mutually incompatible (bootstrapCount is ${o.bootstrapCount})`, { param: 'pruner.params.bootstrapCount' });
    }
    this.#minResource = o.minResource === 'auto' ? undefined : o.minResource;
    this.reductionFactor = o.reductionFactor;
    this.minEarlyStoppingRate = o.minEarlyStoppingRate;
    this.bootstrapCount = o.bootstrapCount;
  }

  /** r, once known (given, or estimated from the first completed trial). */
  get minResource(): number | undefined {
    return this.#minResource;
  }

  shouldPrune(study: StudyView, trial: FrozenTrial): boolean {
    const step = lastStep(trial);
    if (step === undefined) return false;
    let rung = 0;
    while (this.#rungValue(trial, completedRungKey(rung)) !== undefined) rung++;
    const value = trial.intermediateValues.get(step)!;
    let trials: readonly FrozenTrial[] | undefined;
    for (;;) {
      if (this.#minResource === undefined) {
        trials ??= study.trials;
        this.#minResource = estimateMinResource(trials);
        if (this.#minResource === undefined) return false;
      }
      const rungPromotionStep = this.#minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung);
      if (step < rungPromotionStep) return false;
      if (Number.isNaN(value)) return true;
      trials ??= study.trials;
      const key = completedRungKey(rung);
      this.#record(study, trial.number, key, value);
      // `trials` was read before this rung was recorded: this trial is in it without the key (as in Optuna).
      const competing: number[] = [];
      for (const t of trials) {
        if (t.number === trial.number) continue;
        const v = this.#rungValue(t, key);
        if (v !== undefined) competing.push(v);
      }
      competing.push(value);
      if (competing.length <= this.bootstrapCount) return true;
      if (!isPromotable(value, competing, this.reductionFactor, study.direction)) return true;
      rung++;
    }
  }

  #rungValue(t: FrozenTrial, key: string): number | undefined {
    const v = t.systemAttrs[key];
    if (v !== undefined) return v as number;
    return this.#recorded.get(t.number)?.get(key);
  }

  #record(study: StudyView, trialNumber: number, key: string, value: number): void {
    let m = this.#recorded.get(trialNumber);
    if (!m) this.#recorded.set(trialNumber, (m = new Map()));
    m.set(key, value);
    if (isWritable(study)) study.setTrialSystemAttr(trialNumber, key, value);
  }
}

/** `_estimate_min_resource`: max(⌊largest last step of COMPLETE trials / 100⌋, 1); undefined while no trial is complete. */
export function estimateMinResource(trials: readonly FrozenTrial[]): number | undefined {
  let max: number | undefined;
  for (const t of trials) {
    if (t.state !== 'COMPLETE') continue;
    const s = lastStep(t);
    if (s !== undefined && (max === undefined || s > max)) max = s;
  }
  return max === undefined ? undefined : Math.max(Math.floor(max / 100), 1);
}

/**
 * `_is_trial_promotable_to_next_rung`: the value is within the best ⌊n/η⌋ of the n competing
 * values (the best one while n < η).
 */
export function isPromotable(value: number, competing: number[], reductionFactor: number, direction: StudyDirection): boolean {
  let idx = Math.floor(competing.length / reductionFactor) - 1;
  if (idx === -1) idx = 0;
  competing.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (direction === 'maximize') return value >= competing[competing.length - (idx + 1)]!;
  return value <= competing[idx]!;
}
