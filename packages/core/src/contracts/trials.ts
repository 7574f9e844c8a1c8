/**
 * Trial subgraphs: how a stage (an optimiser, such as FairTune's outer search loop) runs a part of
 * its own pipeline many times with different values bound in.
 *
 * In the pipeline a trial subgraph is a group with `trials` instead of `matrix`:
 *
 *   "groups": { "trial": { "stages": ["finetune", "metrics"], "trials": { "lr": 0.001, "mask": "full" } } },
 *   "stages": { "search": { "type": "search.optimise", "trials": "trial", … },
 *               "finetune": { …, "params": { "learningRate": "%{lr}", "mask": "%{mask}" } }, … }
 *
 * A matrix group and a trial group are one construct, a group of stages repeated with values bound
 * into `%{…}`: a matrix binds every combination when the pipeline is read, a trial group binds what
 * its optimiser asks for while the pipeline runs. Trial copies are named like matrix copies, with
 * the group as the axis and the trial number as the label (`finetune[trial=3]`), are cached like
 * any stage (a trial repeated with the same values is a cache hit), appear in the run record and
 * progress output under those ids, and take slots of the pipeline's concurrency limit; the stage
 * waiting on its trials holds none. Stages of a trial group never run on their own.
 *
 * A stage type that runs trials says so with `StagePlugin.runsTrials`; its StageContext then
 * carries `trials`. Third-party optimisers use the same contract.
 */
import type { Artifact, JsonObject, JsonValue } from './artifact.js';
import type { StageEvent } from './stage-plugin.js';

export type TrialStatus = 'completed' | 'pruned' | 'failed';

/** What happens inside a trial, as it happens. `stage` is the stage's id in the file (`finetune`). */
export type TrialEvent =
  | { readonly type: 'stage-start'; readonly trial: number; readonly stage: string; readonly stageId: string }
  | { readonly type: 'stage-event'; readonly trial: number; readonly stage: string; readonly stageId: string; readonly event: StageEvent }
  | { readonly type: 'stage-end'; readonly trial: number; readonly stage: string; readonly stageId: string; readonly status: 'executed' | 'cached' | 'failed' | 'skipped' };

export interface TrialOptions {
  /** Called for every event of the trial's stages (metrics per epoch, progress, starts and ends). */
  readonly onEvent?: (event: TrialEvent) => void;
  /**
   * Aborting it stops the trial early (a pruner's decision): its running stage is cancelled and
   * not cached, its remaining stages are skipped, and the result's status is `pruned`.
   */
  readonly signal?: AbortSignal;
}

export interface TrialResult {
  /** 0, 1, 2, … in the order `run` was called by this stage. */
  readonly number: number;
  readonly status: TrialStatus;
  /** The values bound (defaults filled in). */
  readonly values: Readonly<Record<string, JsonValue>>;
  /** Why the trial was pruned or failed. */
  readonly reason?: string;
  /** Expanded id of each of the trial's stages (`finetune` → `finetune[trial=3]`). */
  readonly stageIds: Readonly<Record<string, string>>;
  /** Scalar metrics each stage emitted (the last value of each name), by stage id in the file. */
  readonly metrics: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** True when every stage of the trial came from the cache. */
  readonly cached: boolean;
  /** Loads an output of a completed stage of the trial (`output('metrics', 'metrics')`). */
  output(stage: string, port: string): Artifact;
}

export interface TrialRunner {
  /** The trial group's name. */
  readonly group: string;
  /** The names a trial binds, with their default values. */
  readonly defaults: Readonly<Record<string, JsonValue>>;
  /** The group's stages, as written in the file. */
  readonly stages: readonly string[];
  /**
   * Runs one trial with `values` bound (unnamed ones take their defaults). Resolves when the
   * trial completes, is pruned or fails; rejects only when the run itself is cancelled. Several
   * trials may run at once (they share the pipeline's concurrency limit).
   */
  run(values: Readonly<Record<string, JsonValue>>, options?: TrialOptions): Promise<TrialResult>;
}

/** Recorded per trial in the optimiser's outputs, if it wishes; also what `TrialResult` carries, as JSON. */
export function trialSummary(r: TrialResult): JsonObject {
  return { number: r.number, status: r.status, values: { ...r.values }, ...(r.reason ? { reason: r.reason } : {}), metrics: structuredClone(r.metrics) as JsonObject, cached: r.cached };
}
