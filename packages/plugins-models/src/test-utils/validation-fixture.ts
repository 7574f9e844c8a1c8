/**
 * A plugin package for validation tests of train.finetune: a `test.samples` source stage and a
 * `dro-test` training strategy with GroupDRO's params. Loaded by path, as a user's package is.
 */
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN, TRAINING_STRATEGY, type StagePlugin, type TrainingStrategyPlugin } from '@fairtune/core/plugin';
import { makeSamples } from './fixtures.js';
import { of } from 'rxjs';

export function droTestStrategy(version = '1'): TrainingStrategyPlugin {
  return {
    name: 'dro-test',
    version,
    description: 'Test strategy with GroupDRO-like params.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { stepSize: { type: 'number', exclusiveMinimum: 0, default: 0.01 }, normalizeLoss: { type: 'boolean', default: false } },
    },
    create: () => ({}),
  };
}

const samplesStage: StagePlugin = {
  type: 'test.samples',
  version: '1',
  description: 'Synthetic samples.',
  paramsSchema: { type: 'object', properties: {} },
  inputs: {},
  outputs: { samples: { kind: 'samples' } },
  run: () => of({ type: 'artifact', port: 'samples', artifact: makeSamples() }),
};

export function validationTestModule(version = '1'): ContainerModule {
  return new ContainerModule((options) => {
    options.bind(STAGE_PLUGIN).toConstantValue(samplesStage);
    options.bind(TRAINING_STRATEGY).toConstantValue(droTestStrategy(version));
  });
}

export const containerModule = validationTestModule();
