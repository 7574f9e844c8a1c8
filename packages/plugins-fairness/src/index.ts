/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { CLI_COMMAND, STAGE_PLUGIN, TRAINING_STRATEGY } from '@fairtune/core';
import { MetricsCommand } from './cli/metrics-command.js';
import { adversarialStrategy, ermStrategy, groupDroStrategy, groupReweightStrategy, inverseFrequencyStrategy } from './strategies/index.js';

export const containerModule = new ContainerModule((options) => {
  for (const strategy of [ermStrategy, inverseFrequencyStrategy, groupDroStrategy, groupReweightStrategy, adversarialStrategy]) {
    options.bind(TRAINING_STRATEGY).toConstantValue(strategy);
  }
  options.bind(CLI_COMMAND).toConstantValue(new MetricsCommand());
});
