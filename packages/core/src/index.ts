/** Public surface of @fairtune/core: contracts for plugin authors and the runtime API. */
export * from './contracts/artifact.js';
export * from './contracts/artifact-kinds.js';
export * from './contracts/stage-plugin.js';
export { Rng, deriveSeed } from './rng.js';
export { runAsync, type StageEmitter } from './observable.js';
export { runStandalone, resolveParams, type StandaloneRunOptions, type StandaloneRunResult } from './testing.js';
export * from './contracts/cli-command.js';
export * from './contracts/training-strategy.js';
