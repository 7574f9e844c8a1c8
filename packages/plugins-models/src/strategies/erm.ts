/** Empirical risk minimisation: the trainer's defaults (plain shuffle, weights 1/B, no adversary). */
import type { TrainingStrategyPlugin } from '@fairtune/core/plugin';

export const ermStrategy: TrainingStrategyPlugin = {
  name: 'erm',
  version: '1',
  description: 'Empirical risk minimisation: uniform sample weights, seeded shuffling, no adversary.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
  create: () => ({}),
};
