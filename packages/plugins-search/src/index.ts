/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { SAMPLER, STAGE_PLUGIN } from '@fairtune/core';
import { samplerPlugins } from './samplers/index.js';
import { FairTuneSearchStage, SearchStage } from './stages/search.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).to(SearchStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(FairTuneSearchStage).inSingletonScope();
  for (const sampler of samplerPlugins) options.bind(SAMPLER).toConstantValue(sampler);
  // Samplers (SAMPLER) and pruners (PRUNER) are bound below as they are implemented.
});
