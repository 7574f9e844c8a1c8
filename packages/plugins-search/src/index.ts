/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN } from '@fairtune/core';
import { FairTuneSearchStage, SearchStage } from './stages/search.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).to(SearchStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(FairTuneSearchStage).inSingletonScope();
  // Samplers (SAMPLER) and pruners (PRUNER) are bound below as they are implemented.
});
