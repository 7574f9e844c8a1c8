import type { TrainingStrategy, TrainingStrategyPlugin } from '@fairtune/core';
import { StrategyParams } from './params.js';

/** Empirical risk minimisation: the trainer's defaults (seeded shuffle, weights 1/B). The PPG paper's "unbalanced". */
export const ermStrategy: TrainingStrategyPlugin = {
  name: 'erm',
  version: '1',
  description: 'Plain empirical risk minimisation (no mitigation): seeded shuffle, mean loss over the batch.',
  paramsSchema: { type: 'object', properties: {}, additionalProperties: false },
  create(init): TrainingStrategy {
    new StrategyParams('erm', init.params, []);
    return { state: () => ({ strategy: 'erm' }) };
  },
};
