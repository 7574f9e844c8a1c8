/**
 * The runtime API used by the CLI and by tests: open (read + validate) a pipeline with its
 * plugins, then run it with the executor, a run record and the cache.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import type { JsonObject, JsonValue } from './contracts/artifact.js';
import { ArtifactCache } from './cache/artifact-cache.js';
import { demoStagesModule } from './builtin/demo-stages.js';
import { executePipeline, type ExecutorEvent, type RunStatus } from './executor/executor.js';
import { computeFingerprints, computeStageKeys } from './executor/stage-keys.js';
import { PipelineError, type PipelineIssue } from './pipeline/issues.js';
import { expandPipeline, issuesToTemplates, readComposedPipeline, selectStages, type StageOrigin } from './pipeline/compose.js';
import { applyOverrides, substituteEnv } from './pipeline/load.js';
import { attachSubgraphs, bindTrialDefaults } from './pipeline/subgraphs.js';
import { validatePipeline, type ResolvedPipeline } from './pipeline/validate.js';
import { BUILTIN_PLUGIN_PACKAGES, PluginLoadError, StageRegistry } from './registry.js';
import { RunRecorder, type RunSummary } from './run/run-record.js';

export interface RegistryOptions {
  /** Load the built-in plugin packages that are installed (default true). */
  readonly builtins?: boolean;
  /** Extra plugin packages (npm names or paths relative to `baseDir`). */
  readonly plugins?: readonly string[];
  readonly baseDir?: string;
}

export async function createRegistry(options: RegistryOptions = {}): Promise<StageRegistry> {
  const registry = new StageRegistry();
  registry.loadModule(demoStagesModule, '@fairtune/core');
  const baseDir = options.baseDir ?? process.cwd();
  if (options.builtins ?? true) await registry.loadPackages(BUILTIN_PLUGIN_PACKAGES, baseDir, { optional: true });
  if (options.plugins?.length) await registry.loadPackages(options.plugins, baseDir);
  return registry;
}

export interface OpenOptions extends RegistryOptions {
  /** `stage.param=value` overrides. */
  readonly sets?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Use this registry instead of building one (its packages must already be loaded). */
  readonly registry?: StageRegistry;
}

export interface OpenedPipeline {
  readonly file: string;
  readonly registry: StageRegistry;
  readonly pipeline: ResolvedPipeline;
  readonly warnings: readonly PipelineIssue[];
  /** The pipeline as expanded (no `extends`, `groups` or `matrix`), before defaults are applied. */
  readonly expanded: JsonObject;
  /** Expanded stage id → its template in the file and its matrix bindings. */
  readonly origins: ReadonlyMap<string, StageOrigin>;
}

/**
 * Reads the file and its `extends` chain, substitutes environment references, applies `--set`
 * to templates (`stage.param`, every copy) then expands matrices and applies `--set` to copies
 * (`stage[axis=value].param`), loads plugins and validates; throws PipelineError listing every
 * problem, pointing into the file (a copy's problem points at its template).
 */
export async function openPipeline(file: string, options: OpenOptions = {}): Promise<OpenedPipeline> {
  const issues: PipelineIssue[] = [];
  const raw = readComposedPipeline(file, issues);
  const withEnv = substituteEnv(raw, options.env ?? process.env, issues);
  const sets = options.sets ?? [];
  const addressesCopies = (set: string) => /^[^.=]*\[/.test(set);
  const templated = applyOverrides(withEnv, sets.filter((s) => !addressesCopies(s)), issues);
  const declared = isObject(templated) && Array.isArray(templated['plugins']) ? (templated['plugins'] as JsonValue[]).filter((p): p is string => typeof p === 'string') : [];
  let registry = options.registry;
  if (!registry) {
    try {
      registry = await createRegistry({ builtins: options.builtins, baseDir: dirname(resolve(file)), plugins: [...declared, ...(options.plugins ?? [])] });
    } catch (err) {
      if (err instanceof PluginLoadError) throw new PipelineError(file, [...issues, { path: '/plugins', message: err.message }]);
      throw err;
    }
  }
  const known = registry;
  const expansion = expandPipeline(templated, issues, { multiplePort: (type, port) => (known.get(type) ? !!known.get(type)!.plugin.inputs[port]?.multiple : undefined) });
  const spec = applyOverrides(expansion.spec, sets.filter(addressesCopies), issues, (stage, ids) => selectStages(stage, ids, expansion.origins));
  // Trial groups' stages are validated with their default values, then set apart for their optimiser.
  const result = validatePipeline(bindTrialDefaults(spec), registry);
  const errors = [...issues, ...issuesToTemplates(result.errors, expansion.origins)];
  const pipeline = result.pipeline ? attachSubgraphs(spec, result.pipeline, registry, errors) : undefined;
  const warnings = issuesToTemplates(pipeline?.warnings ?? result.warnings, expansion.origins);
  if (errors.length || !pipeline) throw new PipelineError(file, errors, warnings);
  return { file, registry, pipeline: { ...pipeline, warnings }, warnings, expanded: spec as JsonObject, origins: expansion.origins };
}

/**
 * The expanded stage ids named by `--force` arguments: a stage id, a template (every copy) or a
 * selector (`finetune[seed=7]`, `finetune[method=*,seed=7]`). Throws a sentence for one that names nothing.
 */
export function selectForced(opened: OpenedPipeline, names: readonly string[]): Set<string> {
  const ids = opened.pipeline.stages.map((s) => s.id);
  const out = new Set<string>();
  for (const name of names) {
    const found = selectStages(name, ids, opened.origins);
    if (typeof found === 'string') throw new Error(`--force "${name}": ${found}`);
    for (const id of found) out.add(id);
  }
  return out;
}

/** The pipeline as it runs: defaults filled in, overrides and environment references applied. */
export function resolvedPipelineJson(p: ResolvedPipeline): JsonObject {
  const stages: JsonObject = {};
  for (const s of p.stages) {
    const original = p.spec.stages[s.id]!;
    stages[s.id] = { ...(original as unknown as JsonObject), params: s.params, seed: s.seed };
  }
  return { ...(p.spec as unknown as JsonObject), stages };
}

export interface RunOptions {
  readonly cacheDir?: string;
  readonly runsDir?: string;
  readonly concurrency?: number;
  readonly force?: boolean | ReadonlySet<string>;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: ExecutorEvent) => void;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly runId?: string;
}

export interface RunResult {
  readonly runDir: string;
  readonly status: RunStatus;
  readonly summary: RunSummary;
}

export function defaultCacheDir(cwd: string, env: NodeJS.ProcessEnv): string {
  return resolve(cwd, env['FAIRTUNE_CACHE_DIR'] || '.fairtune/cache');
}

export function defaultRunsDir(cwd: string, env: NodeJS.ProcessEnv): string {
  return resolve(cwd, env['FAIRTUNE_RUNS_DIR'] || 'runs');
}

export async function runPipeline(opened: OpenedPipeline, options: RunOptions = {}): Promise<RunResult> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const cache = new ArtifactCache(options.cacheDir ?? defaultCacheDir(cwd, env));
  const { pipeline } = opened;
  const fingerprints = await computeFingerprints(pipeline);
  const keys = computeStageKeys(pipeline, fingerprints);
  const recorder = new RunRecorder(
    options.runsDir ?? defaultRunsDir(cwd, env),
    pipeline.spec.name,
    resolvedPipelineJson(pipeline),
    environmentInfo(opened),
    pipeline.stages.map((s) => ({ id: s.id, type: s.plugin.type, key: keys.get(s.id)! })),
    options.runId,
  );
  await lastValueFrom(
    executePipeline(pipeline, { cache, runDir: recorder.runDir, concurrency: options.concurrency, force: options.force, signal: options.signal, fingerprints }).pipe(
      tap((e) => {
        recorder.handle(e);
        options.onEvent?.(e);
      }),
    ),
  );
  return { runDir: recorder.runDir, status: recorder.summary.status as RunStatus, summary: recorder.summary };
}

function environmentInfo(opened: OpenedPipeline): JsonObject {
  const packages: JsonObject = {};
  const names = new Set(['@fairtune/core', ...opened.registry.all().map((p) => p.packageName)]);
  for (const name of names) packages[name] = packageVersion(name, dirname(resolve(opened.file)));
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    packages,
    // Stages that use tensors report the backend that ran (`environment` events) and overwrite this.
    tensorBackend: 'none (no tensor stage executed in this run)',
    argv: process.argv.slice(2),
  };
}

function packageVersion(name: string, baseDir: string): string {
  for (const from of [baseDir, process.cwd(), dirname(new URL(import.meta.url).pathname)]) {
    try {
      const path = name.startsWith('.') || name.startsWith('/') ? join(resolve(baseDir, name), 'package.json') : createRequire(join(from, 'noop.js')).resolve(`${name}/package.json`);
      return (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      // next base
    }
  }
  return 'unknown';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
