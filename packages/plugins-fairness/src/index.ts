/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { CLI_COMMAND, STAGE_PLUGIN, TRAINING_STRATEGY } from '@fairtune/core/plugin';
import { MetricsCommand } from './cli/metrics-command.js';
import { evalMetricsStage } from './stages/eval-metrics.js';
import { modelCardStage } from './stages/model-card.js';
import { reportCompareStage } from './stages/report-compare.js';
import { adversarialStrategy, groupDroStrategy, groupReweightStrategy, inverseFrequencyStrategy } from './strategies/index.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).toConstantValue(evalMetricsStage);
  options.bind(STAGE_PLUGIN).toConstantValue(reportCompareStage);
  options.bind(STAGE_PLUGIN).toConstantValue(modelCardStage);
  // `erm` (no mitigation) ships with the trainer in @fairtune/plugins-models.
  for (const strategy of [inverseFrequencyStrategy, groupDroStrategy, groupReweightStrategy, adversarialStrategy]) {
    options.bind(TRAINING_STRATEGY).toConstantValue(strategy);
  }
  options.bind(CLI_COMMAND).toConstantValue(new MetricsCommand());
});
