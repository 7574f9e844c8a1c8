/**
 * What pruners read of a trial, and how they record what they decided.
 *
 * Optuna's successive halving writes each rung a trial passes into the study
 * (`study._storage.set_trial_system_attr(trial_id, "completed_rung_<k>", value)`), and reads the
 * other trials' rungs back from there. The core's `StudyView` is read-only, so a view that can
 * record offers `setTrialSystemAttr` as well (`JournalStudy.view()` does, writing to the journal);
 * a pruner given a plain view keeps what it recorded in memory instead, which gives the same
 * decisions for as long as the pruner lives.
 */
import type { FrozenTrial, StudyView } from '@fairtune/core/plugin';

export interface WritableStudyView extends StudyView {
  setTrialSystemAttr(trialNumber: number, key: string, value: unknown): void;
}

export function isWritable(study: StudyView): study is WritableStudyView {
  return typeof (study as Partial<WritableStudyView>).setTrialSystemAttr === 'function';
}

/** Optuna's `FrozenTrial.last_step`: the largest step reported, or undefined. */
export function lastStep(trial: FrozenTrial): number | undefined {
  let last: number | undefined;
  for (const step of trial.intermediateValues.keys()) if (last === undefined || step > last) last = step;
  return last;
}
