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

/**
 * This process is a trial worker of another process's optimiser stage (started there by
 * `TrialRunner.startWorkers`): it runs the same pipeline, on the same cache, up to this stage, and
 * the stage runs trials of the shared study until it is done, then completes *without outputs*
 * (the process that started it passes the results on). Core allows that only in a worker, never
 * caches the stage there, and runs none of its dependents.
 */
export interface TrialWorkerRole {
  /** 1 … count, as numbered by `startWorkers`. */
  readonly index: number;
  /** What the optimiser passed to `startWorkers` (e.g. its effective parallelism). */
  readonly data: Readonly<JsonObject>;
}

/** How a worker process ended. */
export interface TrialWorkerExit {
  readonly index: number;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** It exited with code 0: its stage completed (the study was done), not a crash or a kill. */
  readonly finished: boolean;
  /** The end of its stderr, for the report of a crash. */
  readonly stderr: string;
}

export interface TrialWorkerOptions {
  /** Passed to each worker as `TrialRunner.worker.data`. */
  readonly data?: JsonObject;
  /** Called once per worker when it exits, before `wait` resolves. */
  readonly onExit?: (exit: TrialWorkerExit) => void;
}

/** The worker processes of one optimiser stage; all are killed when the stage's process exits. */
export interface TrialWorkers {
  readonly pids: readonly number[];
  /** Resolves when every worker has exited. */
  wait(): Promise<readonly TrialWorkerExit[]>;
  /** Kills every worker at once (SIGKILL), synchronously: safe in an abort listener or at exit. */
  kill(): void;
  /** SIGTERM, SIGKILL after `graceMs` (default 2 s), then waits for them and cleans up. */
  close(graceMs?: number): Promise<void>;
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
  /** The run's concurrency limit (`--concurrency`): trial stages beyond it wait for a slot. Unset in a stub. */
  readonly concurrency?: number;
  /** Set when this process is a trial worker of this stage (see TrialWorkerRole). */
  readonly worker?: TrialWorkerRole;
  /**
   * Starts `count` trial workers of this stage: copies of this run in other processes on the same
   * machine, pipeline and cache, each running one trial at a time (their earlier stages come from
   * the cache) with `worker` set. Used to run trials in parallel, since a process's model work runs
   * on one thread. Absent when the run cannot be repeated in another process (it was not started
   * by `fairtune run` on a pipeline file: a programmatic run, a test, or a worker itself).
   */
  readonly startWorkers?: (count: number, options?: TrialWorkerOptions) => TrialWorkers;
}

/** Recorded per trial in the optimiser's outputs, if it wishes; also what `TrialResult` carries, as JSON. */
export function trialSummary(r: TrialResult): JsonObject {
  return { number: r.number, status: r.status, values: { ...r.values }, ...(r.reason ? { reason: r.reason } : {}), metrics: structuredClone(r.metrics) as JsonObject, cached: r.cached };
}
