/**
 * A plugin package for validation tests of the strategies: `test.train` selects a training
 * strategy the way train.finetune does (`params.strategy`). Loaded by path, as a user's package is.
 */
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN, TRAINING_STRATEGY_KIND, artifact, nestedPluginParam, type StagePlugin } from '@fairtune/core/plugin';
import { of } from 'rxjs';

export const trainStage: StagePlugin = {
  type: 'test.train',
  version: '1',
  description: 'Reports the strategy it was given.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: { strategy: nestedPluginParam(TRAINING_STRATEGY_KIND.kind, { default: 'group-dro' }) } },
  inputs: {},
  outputs: { report: { kind: 'report' } },
  run: (ctx) => of({ type: 'artifact', port: 'report', artifact: artifact('report', { strategy: ctx.params['strategy'] }) }),
};

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).toConstantValue(trainStage);
});
