/** The samplers of this package (nested plugins of kind `sampler`) and their building blocks. */
import type { SamplerPlugin } from '@fairtune/core/plugin';
import { gridSamplerPlugin } from './grid.js';
import { randomSamplerPlugin } from './random.js';
import { tpeSamplerPlugin } from './tpe.js';

export { GridSampler, gridSamplerPlugin, type GridSpace } from './grid.js';
export { RandomSampler, randomSamplerPlugin } from './random.js';
export { TpeSampler, tpeSamplerPlugin, TPE_DEFAULTS, splitTrials, historyTrials, fitEstimators, relativeGroups, type TpeOptions, type TpeFit, type Split } from './tpe.js';
export { defaultGamma, defaultWeights, buildParzenEstimator, type ParzenEstimator, type ParzenParameters } from './parzen.js';

export const samplerPlugins: readonly SamplerPlugin[] = [tpeSamplerPlugin, randomSamplerPlugin, gridSamplerPlugin];
