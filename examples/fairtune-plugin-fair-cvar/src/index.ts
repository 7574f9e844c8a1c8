/**
 * fairtune-plugin-fair-cvar: a fairness method outside the built-in packages. A training
 * strategy (`cvar-dro`, selected in `train.finetune`'s `strategy`) and a post-processing stage
 * over predictions (`cvar.recalibrate`). Depends on @fairtune/core's contracts only.
 */
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN, TRAINING_STRATEGY } from '@fairtune/core/plugin';
import { cvarStrategy } from './cvar.js';
import { recalibrateStage } from './recalibrate.js';

export { cvarStrategy, cvarWeights, CvarGroupDro, type CvarParams } from './cvar.js';
export { recalibrateStage, fitLine, type RecalibrateParams, type LinearFit } from './recalibrate.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(TRAINING_STRATEGY).toConstantValue(cvarStrategy);
  options.bind(STAGE_PLUGIN).toConstantValue(recalibrateStage);
});
