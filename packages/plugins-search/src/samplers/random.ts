/**
 * `random`: each param drawn uniformly and independently, as Optuna's RandomSampler (uniform in
 * the transformed space: log-uniform for log params, integers and stepped floats uniform over
 * their grid points, categorical choices uniform).
 *
 * Each draw comes from a generator derived from (seed, trial number, param name), so a trial's
 * params depend on the seed and its number only: a resumed or re-ordered study gets the same
 * values, and adding a param does not change the others. TPE's start-up trials are these same
 * draws, as Optuna's TPESampler delegates to a RandomSampler with its seed.
 */
import { Rng, type FrozenTrial, type ParamValue, type Sampler, type SamplerPlugin, type SearchSpace, type StudyView } from '@fairtune/core/plugin';
import { checkDistribution, sampleUniform, sortedNames } from './space.js';

/** The generator of one param of one trial (shared with TPE's start-up and fallback draws). */
export function paramRng(seed: number, trialNumber: number, name: string): Rng {
  return Rng.derive(seed, `random/${trialNumber}/${name}`);
}

/** Uniform draws for `names` of `space` in trial `trialNumber`. */
export function sampleRandomParams(seed: number, trialNumber: number, space: SearchSpace, names: readonly string[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const name of names) out[name] = sampleUniform(space[name]!, paramRng(seed, trialNumber, name));
  return out;
}

/** The trial's own params (an enqueued configuration) for names of the space, kept as they are. */
export function fixedParams(trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const name of sortedNames(space)) if (Object.hasOwn(trial.params, name) && trial.params[name] !== undefined) out[name] = trial.params[name]!;
  return out;
}

/** Params in sorted-name order: fixed ones and then drawn ones merged. */
export function ordered(space: SearchSpace, ...parts: Record<string, ParamValue>[]): Record<string, ParamValue> {
  const merged = Object.assign({}, ...parts) as Record<string, ParamValue>;
  const out: Record<string, ParamValue> = {};
  for (const name of sortedNames(space)) if (Object.hasOwn(merged, name)) out[name] = merged[name]!;
  return out;
}

export class RandomSampler implements Sampler {
  constructor(readonly seed: number) {}

  sample(_study: StudyView, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    for (const name of sortedNames(space)) checkDistribution(name, space[name]!);
    const fixed = fixedParams(trial, space);
    const free = sortedNames(space).filter((n) => !Object.hasOwn(fixed, n));
    return ordered(space, fixed, sampleRandomParams(this.seed, trial.number, space, free));
  }
}

export const randomSamplerPlugin: SamplerPlugin = {
  name: 'random',
  version: '1',
  description: 'Uniform random search (log-uniform for log params, uniform over the steps of int and stepped params, uniform choices); Optuna\'s RandomSampler.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
  create: (_params, seed) => new RandomSampler(seed),
};
