/** Public surface of @fairtune/core: the runtime API, and (for backwards compatibility) everything of `@fairtune/core/plugin`, which is where plugins should import from. */
// The plugin surface first, derived rather than listed twice; the runtime's own exports follow.
export * from './plugin.js';
export { runStandalone, resolveParams, runCli, outputOf, type StandaloneRunOptions, type StandaloneRunResult, type CliRunResult } from './testing.js';
export { StageRegistry, BUILTIN_PLUGIN_PACKAGES, BUILTIN_NESTED_PLUGIN_KINDS, PluginLoadError, type RegisteredPlugin, type RegisteredNestedPlugin, type PathPlugin } from './registry.js';
export { resolveNestedParams, nestedPluginSlots, type NestedPluginSlot } from './pipeline/nested-plugins.js';
export { PipelineError, formatIssue, type PipelineIssue } from './pipeline/issues.js';
export type { PipelineSpec, StageSpec } from './pipeline/spec.js';
export { pipelineEnvelopeSchema } from './pipeline/spec.js';
export type { ResolvedPipeline, ResolvedStage, InputBinding } from './pipeline/validate.js';
export { publishedPipelineSchema } from './pipeline/published-schema.js';
export { graphText, graphMermaid } from './pipeline/graph.js';
export { ArtifactCache, type EntryInfo } from './cache/artifact-cache.js';
export { processOwner, processAlive, ownerAlive, type ProcessOwner } from './cache/liveness.js';
export { executePipeline, type ExecutorEvent, type StageStatus, type RunStatus, type ExecuteOptions } from './executor/executor.js';
export type { RunSummary, StageSummary } from './run/run-record.js';
export { createRegistry, openPipeline, runPipeline, resolvedPipelineJson, RunSetupError, type OpenOptions, type OpenedPipeline, type RunOptions, type RunResult } from './runtime.js';
export { stageRecipe } from './executor/stage-keys.js';
export { REDACTED } from './pipeline/secrets.js';
export { MAX_JSON_DEPTH, RESERVED_KEYS } from './pipeline/strict-json.js';
export { main, type MainIO } from './cli-main.js';
export { demoStages } from './builtin/demo-stages.js';
