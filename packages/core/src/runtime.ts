/**
 * The runtime API used by the CLI and by tests: open (read + validate) a pipeline with its
 * plugins, then run it with the executor, a run record and the cache.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import type { JsonObject, JsonValue } from './contracts/artifact.js';
import { ArtifactCache } from './cache/artifact-cache.js';
import { fsReason } from './cache/lease.js';
import { demoStagesModule } from './builtin/demo-stages.js';
import { executePipeline, type ExecutorEvent, type RunStatus } from './executor/executor.js';
import { TRIAL_WORKER_ENV, trialWorkerRole, watchParent, type WorkerLaunch, type WorkerRoleSpec } from './executor/trial-workers.js';
import { computeStageKeys, fingerprintStages } from './executor/stage-keys.js';
import { PipelineError, type PipelineIssue } from './pipeline/issues.js';
import type { PipelineSpec } from './pipeline/spec.js';
import { escapeLiterals, expandPipeline, issuesToTemplates, readComposedPipeline, selectStages, type StageOrigin } from './pipeline/compose.js';
import { applyOverrides, escapePointer, substituteEnv } from './pipeline/load.js';
import { Redactor, REDACTED, redactAt, secretValues } from './pipeline/secrets.js';
import { attachSubgraphs, bindTrialDefaults } from './pipeline/subgraphs.js';
import { validatePipeline, type ResolvedPipeline, type ResolvedStage } from './pipeline/validate.js';
import { BUILTIN_PLUGIN_PACKAGES, PluginLoadError, StageRegistry, type PathPlugin } from './registry.js';
import { RunRecorder, type RunSummary } from './run/run-record.js';
import { FairtuneError } from './contracts/errors.js';

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
  /** Plugins named by a path (in "plugins" or --plugin), with the file imported for each: their code ran. */
  readonly pathPlugins: readonly PathPlugin[];
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
  const pathPlugins = registry.pathPlugins();
  const expansion = expandPipeline(templated, issues, { multiplePort: (type, port) => (known.get(type) ? !!known.get(type)!.plugin.inputs[port]?.multiple : undefined) });
  const spec = applyOverrides(expansion.spec, sets.filter(addressesCopies), issues, (stage, ids) => selectStages(stage, ids, expansion.origins));
  // Trial groups' stages are validated with their default values, then set apart for their optimiser.
  const result = validatePipeline(bindTrialDefaults(spec), registry);
  // Composition and validation may both see one bad reference: report each problem once, and
  // drop what validation says at a place composition already explained (it saw the unresolved text).
  const composed = new Set(issues.map((i) => i.path).filter((p) => p.startsWith('/stages/') && p.includes('/inputs/')));
  const validated = issuesToTemplates(result.errors, expansion.origins).filter((i) => !composed.has(i.path));
  const errors = [...new Map([...issues, ...validated].map((i) => [`${i.path}\u0000${i.message}`, i])).values()];
  const attached = result.pipeline ? attachSubgraphs(spec, result.pipeline, registry, errors) : undefined;
  // The pipeline as written for trial stages: their values are bound per trial, not with the defaults.
  const pipeline = attached?.subgraphs ? { ...attached, spec: withTrialTemplates(attached.spec, spec as JsonObject, attached) } : attached;
  const warnings = issuesToTemplates(pipeline?.warnings ?? result.warnings, expansion.origins);
  if (errors.length || !pipeline) throw new PipelineError(file, errors, warnings, pathPlugins);
  return { file, registry, pipeline: { ...pipeline, warnings }, warnings, expanded: spec as JsonObject, origins: expansion.origins, pathPlugins };
}

function withTrialTemplates(validated: PipelineSpec, expanded: JsonObject, p: ResolvedPipeline): PipelineSpec {
  const stages = { ...validated.stages } as Record<string, unknown>;
  const written = expanded['stages'] as JsonObject;
  for (const sg of p.subgraphs?.values() ?? []) for (const id of sg.stages) stages[id] = written[id];
  return { ...validated, stages: stages as PipelineSpec['stages'] };
}

/**
 * The expanded stage ids named by `--force` arguments: a stage id, a template (every copy) or a
 * selector (`finetune[seed=7]`, `finetune[method=*,seed=7]`). Throws a sentence for one that names nothing.
 */
export function selectForced(opened: OpenedPipeline, names: readonly string[]): Set<string> {
  // A stage of a trial group is named by its id in the file: it is recomputed in every trial.
  const ids = [...opened.pipeline.stages.map((s) => s.id), ...[...(opened.pipeline.subgraphs?.values() ?? [])].flatMap((sg) => sg.stages)];
  const out = new Set<string>();
  for (const name of names) {
    const found = selectStages(name, ids, opened.origins);
    if (typeof found === 'string') throw new FairtuneError('FT_USAGE', `--force "${name}": ${found}`);
    for (const id of found) out.add(id);
  }
  return out;
}

/**
 * The pipeline as it runs: defaults filled in, overrides and environment references applied;
 * secret params (x-fairtune-secret) are `[redacted]`, and so is their text anywhere else in it.
 */
export function resolvedPipelineJson(p: ResolvedPipeline): JsonObject {
  const stages: JsonObject = {};
  const resolved = new Map(p.stages.map((s) => [s.id, s]));
  // In file order; stages of trial groups as written (their values are bound per trial).
  for (const [id, original] of Object.entries(p.spec.stages)) {
    const s = resolved.get(id);
    const value = s ? { ...(original as unknown as JsonObject), params: redactAt(s.params, s.secrets ?? []), seed: s.seed } : (original as unknown as JsonObject);
    Object.defineProperty(stages, id, { value, enumerable: true, writable: true, configurable: true });
  }
  return escapeLiterals(pipelineRedactor(p).json({ ...(p.spec as unknown as JsonObject), stages }));
}

/** Every stage of a pipeline, its trial groups' stages included. */
function allStages(p: ResolvedPipeline): ResolvedStage[] {
  return [...p.stages, ...[...(p.subgraphs?.values() ?? [])].flatMap((sg) => sg.resolvedDefaults)];
}

/** Replaces the text of the pipeline's secret params wherever it appears (pipeline/secrets.ts). */
export function pipelineRedactor(p: ResolvedPipeline): Redactor {
  return new Redactor(allStages(p).flatMap((s) => secretValues(s.params, s.secrets ?? [])));
}

/** The expanded pipeline (`validate --expanded`) with secret params `[redacted]`. */
export function redactedExpanded(opened: OpenedPipeline): JsonObject {
  const secret = allStages(opened.pipeline).filter((s) => s.secrets?.length);
  if (!secret.length) return escapeLiterals(opened.expanded);
  const pointers = secret.flatMap((s) => s.secrets!.map((p) => `/stages/${escapePointer(s.id)}/params${p}`));
  return escapeLiterals(pipelineRedactor(opened.pipeline).json(redactAt(opened.expanded, pointers)));
}

/**
 * Command-line arguments with secrets replaced: a `--set` whose param path leads to, or into, a
 * secret param has its value `[redacted]`; the secrets' text is replaced anywhere else.
 */
export function redactArgv(argv: readonly string[], p: ResolvedPipeline, redactor = pipelineRedactor(p)): string[] {
  const pointers = [...new Set(allStages(p).flatMap((s) => s.secrets ?? []))];
  return argv.map((arg) => {
    const body = arg.startsWith('--set=') ? arg.slice('--set='.length) : arg;
    const close = body.indexOf(']');
    const eq = body.indexOf('=', close + 1);
    const dot = eq > 0 ? body.indexOf('.', close + 1) : -1;
    if (pointers.length && eq > 0 && dot > 0 && dot < eq) {
      const pointer = '/' + body.slice(dot + 1, eq).split('.').map(escapePointer).join('/');
      if (pointers.some((sp) => sp === pointer || sp.startsWith(`${pointer}/`) || pointer.startsWith(`${sp}/`))) return `${arg.slice(0, arg.length - body.length)}${body.slice(0, eq + 1)}${REDACTED}`;
    }
    return redactor.text(arg);
  });
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
  /**
   * How to start this run again in another process (the CLI's `run` gives it): with it, stages
   * that run trials can start trial workers (`TrialRunner.startWorkers`). A process whose env has
   * FAIRTUNE_TRIAL_WORKER is itself such a worker and runs only that stage and what it reads.
   */
  readonly launch?: WorkerLaunch;
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

/**
 * The run cannot start: the cache or runs folder cannot be used (a file in its place, no
 * permission). The message is one line naming the folder; the CLI exits 2. No run record exists.
 */
export class RunSetupError extends FairtuneError {
  override readonly name = 'RunSetupError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_RUN_SETUP', message, {}, options);
  }
}

/**
 * Runs an opened pipeline and records it. Whatever happens after the run record is created, the
 * record ends finished: a stage whose external inputs cannot be fingerprinted (a data root that
 * is a file, a dangling link) fails the run before any stage starts, and an executor that cannot
 * go on (the cache cannot hold the run's lease) ends it failed with the reason. A cache or runs
 * folder that cannot be used throws RunSetupError before any record is written.
 */
export async function runPipeline(opened: OpenedPipeline, options: RunOptions = {}): Promise<RunResult> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const role = workerRole(opened.pipeline, env);
  const pipeline = role ? workerPipeline(opened.pipeline, role.stage) : opened.pipeline;
  const redactor = pipelineRedactor(pipeline);
  const cacheDir = options.cacheDir ?? defaultCacheDir(cwd, env);
  const runsDir = options.runsDir ?? defaultRunsDir(cwd, env);
  const cache = new ArtifactCache(cacheDir, { redactor });
  usableFolder(cacheDir, 'cache folder', () => cache.ensureMarker());
  usableFolder(runsDir, 'runs folder', () => mkdirSync(runsDir, { recursive: true }));
  const { fingerprints, failures } = await fingerprintStages(pipeline);
  const keys = computeStageKeys(pipeline, fingerprints);
  // Keys that depend on a fingerprint that failed are unknown.
  const unknown = new Set(failures.map((f) => f.stageId));
  for (const s of pipeline.stages) if (s.dependsOn.some((d) => unknown.has(d))) unknown.add(s.id);
  let recorder: RunRecorder;
  try {
    recorder = new RunRecorder(
      runsDir,
      pipeline.spec.name,
      resolvedPipelineJson(pipeline),
      environmentInfo(opened, redactor),
      pipeline.stages.map((s) => ({ id: s.id, type: s.plugin.type, key: unknown.has(s.id) ? '' : keys.get(s.id)! })),
      options.runId,
    );
  } catch (err) {
    throw new RunSetupError(`cannot write the run record under ${join(runsDir, pipeline.spec.name)}: ${fsReason(err)}`);
  }
  const record = (e: ExecutorEvent) => {
    const shown = redactor.json(e);
    recorder.handle(shown);
    options.onEvent?.(shown);
  };
  const endRun = (reason: string, failed: ReadonlyMap<string, string>, failedStage?: string) => {
    const now = Date.now();
    for (const s of pipeline.stages) {
      const status = recorder.summary.stages[s.id]?.status;
      if (status !== 'pending' && status !== 'running' && status !== undefined) continue;
      const why = failed.get(s.id);
      record({ type: 'stage-end', stageId: s.id, status: why ? 'failed' : 'skipped', key: unknown.has(s.id) ? '' : keys.get(s.id)!, pluginType: s.plugin.type, seconds: 0, metrics: {}, reason: why ?? `not run: ${reason}`, time: now });
    }
    record({ type: 'run-end', status: 'failed', ...(failedStage ? { failedStage } : {}), reason, time: now });
  };
  if (failures.length) {
    endRun(failures[0]!.message, new Map(failures.map((f) => [f.stageId, f.message])), failures[0]!.stageId);
    return { runDir: recorder.runDir, status: 'failed', summary: recorder.summary };
  }
  // The executor offers `startWorkers` only where there is a launch and no role (a worker starts none).
  const trialWorkers = { ...(options.launch ? { launch: options.launch } : {}), ...(role ? { role } : {}), cwd, env };
  const unwatch = role ? watchParent(role.parent) : undefined;
  try {
    await lastValueFrom(
      executePipeline(pipeline, { cache, runDir: recorder.runDir, concurrency: options.concurrency, force: role ? workerForce(role) : options.force, signal: options.signal, fingerprints, trialWorkers }).pipe(tap(record)),
    );
  } catch (err) {
    // The executor broke off (the cache cannot hold the run's lease, …): the record ends failed, never "running".
    if (recorder.summary.status === 'running') endRun(`the run could not go on: ${fsReason(err)}`, new Map());
    // A file-system problem is the run's failure; anything else is a bug, which the CLI reports as one.
    if (!isEnvironmentError(err)) throw err;
  } finally {
    unwatch?.();
  }
  return { runDir: recorder.runDir, status: recorder.summary.status as RunStatus, summary: recorder.summary };
}

/** This process's trial-worker role (FAIRTUNE_TRIAL_WORKER), checked against the pipeline; a RunSetupError when it does not fit. */
function workerRole(pipeline: ResolvedPipeline, env: NodeJS.ProcessEnv): WorkerRoleSpec | undefined {
  let role: WorkerRoleSpec | undefined;
  try {
    role = trialWorkerRole(env);
  } catch (e) {
    throw new RunSetupError((e as Error).message);
  }
  if (!role) return undefined;
  const runsTrials = [...(pipeline.subgraphs?.values() ?? [])].some((sg) => sg.users.includes(role.stage));
  const named = `${TRIAL_WORKER_ENV} names stage "${role.stage}" of pipeline "${role.pipeline}"`;
  if (role.pipeline !== pipeline.spec.name) throw new RunSetupError(`${named}, but this is pipeline "${pipeline.spec.name}"`);
  if (!runsTrials) throw new RunSetupError(`${named}, and no stage of that id runs trials here`);
  return role;
}

/** What a worker recomputes: the trial stages its parent recomputes (the rest the parent has already recomputed and cached). */
function workerForce(role: WorkerRoleSpec): ReadonlySet<string> | undefined {
  return role.force.length ? new Set(role.force) : undefined;
}

/** A worker's pipeline: its optimiser stage and the stages it reads, directly or not (its dependents do not run in a worker). */
function workerPipeline(pipeline: ResolvedPipeline, stage: string): ResolvedPipeline {
  const byId = new Map(pipeline.stages.map((s) => [s.id, s]));
  const keep = new Set<string>();
  const todo = [stage];
  while (todo.length) {
    const id = todo.pop()!;
    if (keep.has(id)) continue;
    keep.add(id);
    todo.push(...(byId.get(id)?.dependsOn ?? []));
  }
  return { ...pipeline, stages: pipeline.stages.filter((s) => keep.has(s.id)) };
}

/** Creates or checks a folder the run needs; a RunSetupError naming it when it cannot be used. */
function usableFolder(dir: string, what: string, make: () => void): void {
  try {
    make();
  } catch (err) {
    let isFile = false;
    try {
      isFile = !statSync(dir).isDirectory();
    } catch {
      /* not there at all: the reason says why */
    }
    throw new RunSetupError(`cannot use ${dir} as the ${what}: ${isFile ? 'it is a file, not a folder' : fsReason(err)}`);
  }
}

/** An error of the file system (it has a code, or its cause does), not of FairTune's logic. */
function isEnvironmentError(err: unknown): boolean {
  const codeOf = (e: unknown) => (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined);
  return !!(codeOf(err) ?? codeOf((err as { cause?: unknown })?.cause));
}

function environmentInfo(opened: OpenedPipeline, redactor: Redactor): JsonObject {
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
    argv: redactArgv(process.argv.slice(2), opened.pipeline, redactor),
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
