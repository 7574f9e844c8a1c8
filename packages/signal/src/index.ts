/**
 * Public surface of @fairtune/signal: the signal processing shared by the data plugins (which
 * preprocess datasets) and the model plugins (which bring another dataset to a model's input).
 * A library, not a plugin: it registers no stage types.
 */
export { butterBandpass, filtfiltWithGaps, sosfilt, sosfiltfilt, sosResponse, type Sos } from './butterworth.js';
export { rationalRatio, resamplePoly } from './resample.js';
export { detectRPeaks } from './rpeaks.js';
export { alignLabel, clippingFraction, flatFraction, normaliseWindow, windowStarts, type AlignLabelOptions, type LabelTiming, type Normalisation } from './window.js';
export { channelCount, channelOf, fromChannels } from './channels.js';
export { compactSubjects, filterSamples } from './samples.js';
export { qualityMask, type QualityResult } from './quality.js';
export { applyProcessingStep, describeStep, remainingSteps, sameStep, type DatasetArrays, type LoopHooks } from './processing.js';
export { extendSignal, windowDataset, type ShortRecordings, type WindowingOptions, type WindowingResult } from './windowing.js';
