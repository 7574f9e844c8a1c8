/**
 * `@fairtune/core/plugin`: what a plugin package needs and nothing of the runtime. Contracts
 * (stage plugins, artifacts and their kinds' metas, training strategies, nested plugins,
 * samplers/pruners and the search model, the trial runner, dataset inspectors, CLI commands),
 * the helpers a stage calls (`artifact`, `ndarray`, `requireInput`…, `runAsync`, `Rng`, group
 * keys), and the errors a plugin throws. The executor, cache, registry, run records, pipeline
 * loading and the CLI stay behind `@fairtune/core`, so a plugin that imports only from here
 * cannot come to depend on them by accident (core's plugin-boundary.spec.ts checks both this
 * list and the built-in plugins' imports). Tests use `@fairtune/core/testing`.
 *
 * Everything here is re-exported from the same modules `@fairtune/core` uses, so the two entries
 * share one instance of each class and symbol (`instanceof UsageError`, `STAGE_PLUGIN`).
 */
export * from './contracts/artifact.js';
export * from './contracts/artifact-kinds.js';
export * from './contracts/groups.js';
export * from './contracts/stage-plugin.js';
export * from './contracts/trials.js';
export * from './contracts/search.js';
export * from './contracts/cli-command.js';
export * from './contracts/dataset-inspector.js';
export * from './contracts/training-strategy.js';
export * from './contracts/nested-plugin.js';
export { Rng, deriveSeed } from './rng.js';
export { runAsync, type StageEmitter } from './observable.js';
// A nested plugin's params with defaults applied, exactly as pipeline validation gives them:
// for a plugin that builds its own nested plugins (plugins-search's Optuna-flag sampler) and for
// authors' tests of a strategy's `create`.
export { resolveNestedParams } from './pipeline/nested-plugins.js';
// The `.owner.json` convention: a plugin that writes a shared folder in steps (plugins-data's
// synthetic cohorts) names its process there, so that core's cache maintenance and other
// processes can tell a live writer from an abandoned one.
export { processOwner, type ProcessOwner } from './cache/liveness.js';
// Errors with stable FT_ codes (docs/errors.md).
export * from './contracts/errors.js';
