/**
 * The pruner nested plugins (kind `pruner`, token PRUNER): a search stage selects one by name,
 * e.g. `"pruner": { "name": "successive-halving", "params": { "reductionFactor": 3 } }`; params are
 * checked against these schemas, with Optuna's defaults filled in, when the pipeline is validated.
 */
import type { Pruner, PrunerPlugin } from '@fairtune/core/plugin';
import { HYPERBAND_DEFAULTS, HyperbandPruner, type HyperbandOptions } from './hyperband.js';
import { MEDIAN_DEFAULTS, MedianPruner, type MedianOptions } from './median.js';
import { SUCCESSIVE_HALVING_DEFAULTS, SuccessiveHalvingPruner, type SuccessiveHalvingOptions } from './successive-halving.js';

const resource = (description: string, auto: boolean) =>
  auto ? { oneOf: [{ const: 'auto' }, { type: 'integer', minimum: 1 }], description } : { type: 'integer', minimum: 1, description };

export const successiveHalvingPruner: PrunerPlugin = {
  name: 'successive-halving',
  version: '1',
  description: "Optuna's SuccessiveHalvingPruner (asynchronous successive halving): at rung k, ending at step minResource·reductionFactor^(minEarlyStoppingRate+k), a trial goes on only if its value is within the best ⌊n/reductionFactor⌋ of the n trials that reached that rung.",
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      minResource: {
        ...resource("Steps (epochs) of rung 0; 'auto': ⌊last step of the longest completed trial / 100⌋, at least 1, nothing pruned before a trial completes.", true),
        default: SUCCESSIVE_HALVING_DEFAULTS.minResource,
      },
      reductionFactor: { type: 'integer', minimum: 2, default: SUCCESSIVE_HALVING_DEFAULTS.reductionFactor, description: 'η: rungs are η times longer each, and 1/η of the trials reaching a rung go on.' },
      minEarlyStoppingRate: { type: 'integer', minimum: 0, default: SUCCESSIVE_HALVING_DEFAULTS.minEarlyStoppingRate, description: 's: rung 0 ends at step minResource·η^s.' },
      bootstrapCount: { type: 'integer', minimum: 0, default: SUCCESSIVE_HALVING_DEFAULTS.bootstrapCount, description: 'Trials pruned at a rung until more than this many have reached it (needs a numeric minResource).' },
    },
    if: { properties: { minResource: { const: 'auto' } } },
    then: { properties: { bootstrapCount: { const: 0 } } },
  },
  create: (params): Pruner => new SuccessiveHalvingPruner(params as Partial<SuccessiveHalvingOptions>),
};

export const hyperbandPruner: PrunerPlugin = {
  name: 'hyperband',
  version: '1',
  description: "Optuna's HyperbandPruner: trials are spread over brackets by a hash of the study name and trial number; each bracket is successive halving with its own early-stopping rate, over its own trials.",
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      minResource: { ...resource('Steps (epochs) of the first rung of the most aggressive bracket.', false), default: HYPERBAND_DEFAULTS.minResource },
      maxResource: {
        ...resource("Steps of a full trial; 'auto': the last step of the first completed trial + 1, nothing pruned before.", true),
        default: HYPERBAND_DEFAULTS.maxResource,
      },
      reductionFactor: { type: 'integer', minimum: 2, default: HYPERBAND_DEFAULTS.reductionFactor, description: 'η of every bracket.' },
      bootstrapCount: { type: 'integer', minimum: 0, default: HYPERBAND_DEFAULTS.bootstrapCount, description: 'As in successive-halving (needs a numeric maxResource).' },
    },
    if: { properties: { maxResource: { const: 'auto' } } },
    then: { properties: { bootstrapCount: { const: 0 } } },
  },
  create: (params): Pruner => new HyperbandPruner(params as Partial<HyperbandOptions>),
};

export const medianPruner: PrunerPlugin = {
  name: 'median',
  version: '1',
  description: "Optuna's MedianPruner: a trial is pruned when its best value so far is worse than the median of the completed trials' values at the same step.",
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      nStartupTrials: { type: 'integer', minimum: 0, default: MEDIAN_DEFAULTS.nStartupTrials, description: 'No pruning until this many trials are complete.' },
      nWarmupSteps: { type: 'integer', minimum: 0, default: MEDIAN_DEFAULTS.nWarmupSteps, description: 'No pruning of a trial before this step.' },
      intervalSteps: { type: 'integer', minimum: 1, default: MEDIAN_DEFAULTS.intervalSteps, description: 'Pruning checked at every intervalSteps-th step after the warm-up.' },
      nMinTrials: { type: 'integer', minimum: 1, default: MEDIAN_DEFAULTS.nMinTrials, description: 'No pruning at a step fewer completed trials reported at.' },
    },
  },
  create: (params): Pruner => new MedianPruner(params as Partial<MedianOptions>),
};

export const nonePruner: PrunerPlugin = {
  name: 'none',
  version: '1',
  description: "Never prunes (Optuna's NopPruner).",
  paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
  create: (): Pruner => ({ shouldPrune: () => false }),
};

export const prunerPlugins: readonly PrunerPlugin[] = [successiveHalvingPruner, hyperbandPruner, medianPruner, nonePruner];
