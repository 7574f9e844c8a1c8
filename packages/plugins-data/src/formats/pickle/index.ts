export { openPickle, parsePickleBuffer, parsePickleSource, isNdArray, pyString, PickleError, PickledNdArray, type PickleDocument } from './load.js';
export { PickledDtype, type NumericArray } from './numpy.js';
export { ByteRef, LAZY_THRESHOLD, unescapePy2, bufferSource, fileSource, type ByteSource } from './stream-reader.js';
export * from './writer.js';
