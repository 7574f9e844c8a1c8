/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { CLI_COMMAND, DATASET_INSPECTOR, STAGE_PLUGIN } from '@fairtune/core/plugin';
import { DaliaLoader } from './loaders/dalia.js';
import { ButPpgLoader } from './loaders/but-ppg.js';
import { MimicLoader } from './loaders/mimic.js';
import { Fitzpatrick17kLoader } from './loaders/fitzpatrick17k.js';
import { Ham10000Loader } from './loaders/ham10000.js';
import { BandpassStage, ResampleStage } from './stages/signal-stages.js';
import { WindowStage } from './stages/window-stage.js';
import { GroupAttributesStage, QualityStage, SplitSubjectsStage } from './stages/sample-stages.js';
import { BUILTIN_INSPECTORS, DataCommand } from './cli/inspect.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).to(DaliaLoader).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(ButPpgLoader).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(MimicLoader).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(Fitzpatrick17kLoader).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(Ham10000Loader).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(ResampleStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(BandpassStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(WindowStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(QualityStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(SplitSubjectsStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(GroupAttributesStage).inSingletonScope();
  options.bind(CLI_COMMAND).to(DataCommand).inSingletonScope();
  for (const inspector of BUILTIN_INSPECTORS) options.bind(DATASET_INSPECTOR).toConstantValue(inspector);
});
