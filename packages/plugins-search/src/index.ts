/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { CLI_COMMAND, PRUNER, SAMPLER, STAGE_PLUGIN } from '@fairtune/core/plugin';
import { samplerPlugins } from './samplers/index.js';
import { FairTuneSearchStage, SearchStage } from './stages/search.js';
import { StudyCommand } from './cli/study-command.js';
import { prunerPlugins } from './pruners/plugins.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).to(SearchStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(FairTuneSearchStage).inSingletonScope();
  options.bind(CLI_COMMAND).toConstantValue(new StudyCommand());
  for (const sampler of samplerPlugins) options.bind(SAMPLER).toConstantValue(sampler);
  for (const pruner of prunerPlugins) options.bind(PRUNER).toConstantValue(pruner);
});
