/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';
import { CLI_COMMAND, STAGE_PLUGIN, TRAINING_STRATEGY } from '@fairtune/core/plugin';
import { PpgGptModelStage } from './stages/model-ppg-gpt.js';
import { VitModelStage } from './stages/model-vit.js';
import { PretrainStage } from './stages/pretrain.js';
import { FinetuneStage } from './stages/finetune.js';
import { PredictStage } from './stages/predict.js';
import { ermStrategy } from './strategies/erm.js';
import { ModelsCommand } from './cli/models-command.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).to(PpgGptModelStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(VitModelStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(PretrainStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(FinetuneStage).inSingletonScope();
  options.bind(STAGE_PLUGIN).to(PredictStage).inSingletonScope();
  options.bind(TRAINING_STRATEGY).toConstantValue(ermStrategy);
  options.bind(CLI_COMMAND).toConstantValue(new ModelsCommand());
});
