/** Pruners of a search stage (docs/search.md, "Pruners"). */
export { HYPERBAND_DEFAULTS, HyperbandPruner, bracketBudget, type HyperbandOptions } from './hyperband.js';
export { MEDIAN_DEFAULTS, MedianPruner, PercentilePruner, nanPercentile, type MedianOptions } from './median.js';
export { hyperbandPruner, medianPruner, nonePruner, prunerPlugins, successiveHalvingPruner } from './plugins.js';
export { SUCCESSIVE_HALVING_DEFAULTS, SuccessiveHalvingPruner, completedRungKey, estimateMinResource, isPromotable, type SuccessiveHalvingOptions } from './successive-halving.js';
export { isWritable, lastStep, type WritableStudyView } from './study-view.js';
export { correctlyRoundedLog, crc32, pyLog } from './python-math.js';
