/** Pure metric functions (regression, classification, fairness, representation, uncertainty). */
export * from './common.js';
export * from './regression.js';
export * from './classification.js';
export * from './representation.js';
export * from './bootstrap.js';
export * from './summary.js';
export * from './evaluate.js';
export * from './agreement.js';
export * from './stratified.js';
