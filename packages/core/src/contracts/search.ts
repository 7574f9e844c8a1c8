/**
 * Hyper-parameter search: the study model, and the sampler and pruner nested-plugin kinds (see
 * nested-plugin.ts) that a search stage selects by name, e.g.
 * `"sampler": { "name": "tpe", "params": { "nStartupTrials": 10 } }`.
 *
 * The model follows Optuna's (algorithms.md §7), so a study can be written in Optuna's journal
 * format and a sampler behaves as Optuna's does on the same history: trials are numbered from 0
 * in creation order, their params are kept with their distributions, a trial reports intermediate
 * values by step, and COMPLETE, PRUNED and FAIL are final states. Single objective only.
 *
 * Core holds these contracts because samplers and pruners are plugins of their own: a package can
 * add one without depending on the package that holds the search stage.
 */
import type { ServiceIdentifier } from 'inversify';
import type { NestedPlugin, NestedPluginKind } from './nested-plugin.js';

export type StudyDirection = 'minimize' | 'maximize';

/** Optuna's FloatDistribution, IntDistribution and CategoricalDistribution (same fields). */
export type Distribution =
  | { readonly type: 'float'; readonly low: number; readonly high: number; readonly log: boolean; readonly step?: number }
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly log: boolean; readonly step: number }
  | { readonly type: 'categorical'; readonly choices: readonly CategoricalChoice[] };

export type CategoricalChoice = string | number | boolean | null;

/** A param's value as the user sees it (a categorical's choice itself, not its index). */
export type ParamValue = number | CategoricalChoice;

/** Param name → distribution, the space a sampler draws a trial's params from. */
export type SearchSpace = Readonly<Record<string, Distribution>>;

/** Optuna's TrialState names. */
export type TrialState = 'RUNNING' | 'COMPLETE' | 'PRUNED' | 'FAIL' | 'WAITING';

export interface FrozenTrial {
  /** 0, 1, 2, … in the order trials were created in the study (across every worker). */
  readonly number: number;
  readonly state: TrialState;
  /** Params set so far (all of them once the trial runs). */
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  /** The objective, for COMPLETE trials (NaN never: a NaN objective makes a trial FAIL). */
  readonly value?: number;
  /** Intermediate objective values reported by step (epoch), for pruners and TPE's pruned-trial ranking. */
  readonly intermediateValues: ReadonlyMap<number, number>;
  readonly datetimeStart?: string;
  readonly datetimeComplete?: string;
  readonly userAttrs: Readonly<Record<string, unknown>>;
  readonly systemAttrs: Readonly<Record<string, unknown>>;
}

/** What samplers and pruners see of a study: its direction and every trial, running ones included. */
export interface StudyView {
  readonly name: string;
  readonly direction: StudyDirection;
  readonly trials: readonly FrozenTrial[];
}

export interface Sampler {
  /**
   * Params for the trial `trial` (already created, RUNNING, possibly with params fixed by an
   * enqueued configuration: keep those) over `space`. Deterministic given the sampler's seed and
   * the study's history.
   */
  sample(study: StudyView, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue>;
}

export interface SamplerPlugin extends NestedPlugin {
  /** A sampler with resolved params (defaults filled in) and a seed. */
  create(params: Readonly<Record<string, unknown>>, seed: number): Sampler;
}

export interface Pruner {
  /** Whether `trial` (RUNNING, having just reported an intermediate value) should stop now. */
  shouldPrune(study: StudyView, trial: FrozenTrial): boolean;
}

export interface PrunerPlugin extends NestedPlugin {
  create(params: Readonly<Record<string, unknown>>): Pruner;
}

export const SAMPLER: ServiceIdentifier<SamplerPlugin> = Symbol.for('@fairtune/core:Sampler');
export const PRUNER: ServiceIdentifier<PrunerPlugin> = Symbol.for('@fairtune/core:Pruner');

/** The `sampler` kind: a search stage selects one with `nestedPluginParam(SAMPLER_KIND.kind)`. */
export const SAMPLER_KIND: NestedPluginKind<SamplerPlugin> = {
  kind: 'sampler',
  token: SAMPLER,
  description: 'Samplers of a search stage: they propose each trial\'s params from the study so far (tpe, random, grid).',
};

/** The `pruner` kind: a search stage selects one with `nestedPluginParam(PRUNER_KIND.kind)`. */
export const PRUNER_KIND: NestedPluginKind<PrunerPlugin> = {
  kind: 'pruner',
  token: PRUNER,
  description: 'Pruners of a search stage: they stop an unpromising trial after an intermediate report (successive-halving, hyperband, median, none).',
};
