/**
 * Optuna's HyperbandPruner (`optuna/pruners/_hyperband.py`, unchanged from 3.0 to 5.0; algorithms.md §7.4).
 *
 * Brackets: with R = max resource, r = min resource and η the reduction factor, there are
 * n_b = ⌊log_η(R/r)⌋ + 1 brackets (computed with CPython's `math.log`, last bit included), and
 * bracket b (s = n_b − 1 − b) gets the trial-allocation budget ⌈n_b·η^s / (s + 1)⌉. A trial goes
 * to the bracket where `crc32("<study name>_<trial number>") mod (total budget)` falls among the
 * cumulative budgets. Bracket b is a successive-halving pruner with min resource r, reduction
 * factor η and min early-stopping rate b, which sees only the trials of its bracket.
 *
 * With `maxResource: 'auto'`, R = (largest last step of the COMPLETE trials) + 1, fixed when the
 * first trial completes; nothing is pruned before.
 *
 * Optuna also shows TPE only the trial's bracket (`optuna.pruners._filter_study`):
 * `bracketStudy(study, trial)` is that view, for a search stage to hand its sampler.
 */
import { FairtuneError, type FrozenTrial, type Pruner, type StudyView } from '@fairtune/core/plugin';
import { crc32, pyLog } from './python-math.js';
import { SuccessiveHalvingPruner } from './successive-halving.js';
import { isWritable, lastStep, type WritableStudyView } from './study-view.js';

export interface HyperbandOptions {
  readonly minResource: number;
  readonly maxResource: number | 'auto';
  readonly reductionFactor: number;
  readonly bootstrapCount: number;
}

export const HYPERBAND_DEFAULTS: HyperbandOptions = { minResource: 1, maxResource: 'auto', reductionFactor: 3, bootstrapCount: 0 };

export class HyperbandPruner implements Pruner {
  readonly minResource: number;
  readonly reductionFactor: number;
  readonly bootstrapCount: number;
  #maxResource: number | 'auto';
  #nBrackets: number | undefined;
  readonly #budgets: number[] = [];
  #totalBudget = 0;
  readonly #pruners: SuccessiveHalvingPruner[] = [];

  constructor(options: Partial<HyperbandOptions> = {}) {
    const o = { ...HYPERBAND_DEFAULTS, ...options };
    if (o.maxResource !== 'auto' && !Number.isInteger(o.maxResource)) throw new FairtuneError('FT_PARAM_INVALID', `hyperband: maxResource must be an integer or 'auto' (got ${String(o.maxResource)})`, { param: 'pruner.params.maxResource' });
    if (o.bootstrapCount > 0 && o.maxResource === 'auto') {
      throw new FairtuneError('FT_PARAM_INVALID', `hyperband: bootstrapCount > 0 and maxResource 'auto' are mutually incompatible (bootstrapCount is ${o.bootstrapCount})`, { param: 'pruner.params.bootstrapCount' });
    }
    // Optuna checks these when it builds the brackets' pruners; checked here at once.
    new SuccessiveHalvingPruner({ minResource: o.minResource, reductionFactor: o.reductionFactor, minEarlyStoppingRate: 0, bootstrapCount: o.bootstrapCount });
    this.minResource = o.minResource;
    this.#maxResource = o.maxResource;
    this.reductionFactor = o.reductionFactor;
    this.bootstrapCount = o.bootstrapCount;
  }

  /** R, once known. */
  get maxResource(): number | undefined {
    return this.#maxResource === 'auto' ? undefined : this.#maxResource;
  }

  /** n_b, once R is known. */
  get nBrackets(): number | undefined {
    return this.#nBrackets;
  }

  /** Each bracket's trial-allocation budget, once R is known. */
  get budgets(): readonly number[] {
    return this.#budgets;
  }

  shouldPrune(study: StudyView, trial: FrozenTrial): boolean {
    if (this.#pruners.length === 0) {
      this.#initialise(study);
      if (this.#pruners.length === 0) return false;
    }
    const bracket = this.bracketOf(study.name, trial.number);
    return this.#pruners[bracket]!.shouldPrune(this.#bracketView(study, bracket), trial);
  }

  /** Optuna's `_get_bracket_id`: 0 until the brackets exist. */
  bracketOf(studyName: string, trialNumber: number): number {
    if (this.#pruners.length === 0) return 0;
    let n = crc32(`${studyName}_${trialNumber}`) % this.#totalBudget;
    for (let b = 0; b < this.#nBrackets!; b++) {
      n -= this.#budgets[b]!;
      if (n < 0) return b;
    }
    throw new Error('hyperband: unreachable bracket');
  }

  /** The study as `trial`'s bracket sees it (Optuna's `_BracketStudy`): the trials of that bracket only. */
  bracketStudy(study: StudyView, trial: FrozenTrial): StudyView {
    return this.#bracketView(study, this.bracketOf(study.name, trial.number));
  }

  #bracketView(study: StudyView, bracket: number): StudyView | WritableStudyView {
    const trials = study.trials.filter((t) => this.bracketOf(study.name, t.number) === bracket);
    const view: StudyView = { name: study.name, direction: study.direction, trials };
    return isWritable(study) ? { ...view, setTrialSystemAttr: (n, k, v) => study.setTrialSystemAttr(n, k, v) } : view;
  }

  #initialise(study: StudyView): void {
    if (this.#maxResource === 'auto') {
      let max: number | undefined;
      for (const t of study.trials) {
        if (t.state !== 'COMPLETE') continue;
        const s = lastStep(t);
        if (s !== undefined && (max === undefined || s > max)) max = s;
      }
      if (max === undefined) return;
      this.#maxResource = max + 1;
    }
    this.#nBrackets ??= Math.floor(pyLog(this.#maxResource / this.minResource, this.reductionFactor)) + 1;
    for (let b = 0; b < this.#nBrackets; b++) {
      const budget = bracketBudget(this.#nBrackets, this.reductionFactor, b);
      this.#totalBudget += budget;
      this.#budgets.push(budget);
      this.#pruners.push(new SuccessiveHalvingPruner({ minResource: this.minResource, reductionFactor: this.reductionFactor, minEarlyStoppingRate: b, bootstrapCount: this.bootstrapCount }));
    }
  }
}

/** `_calculate_trial_allocation_budget`: ⌈n_b·η^s / (s + 1)⌉ with s = n_b − 1 − bracket. */
export function bracketBudget(nBrackets: number, reductionFactor: number, bracket: number): number {
  const s = nBrackets - 1 - bracket;
  return Math.ceil((nBrackets * reductionFactor ** s) / (s + 1));
}
