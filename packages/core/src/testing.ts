/**
 * Run one stage plugin outside a pipeline: params are validated and defaulted against its
 * schema exactly as in a pipeline run (nested plugins, such as a training strategy, resolved
 * against the plugins given in `nested`), events are collected, and outputs are checked against
 * the declared ports. Meant for plugin authors' unit tests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { lastValueFrom, toArray } from 'rxjs';
import { isKind, type Artifact, type JsonObject, type KindArtifact } from './contracts/artifact.js';
import { FairtuneError } from './contracts/errors.js';
import type { NestedPlugin } from './contracts/nested-plugin.js';
import type { StageEvent, StagePlugin } from './contracts/stage-plugin.js';
import type { TrialRunner } from './contracts/trials.js';
import { compileSchema, describeAjvError } from './pipeline/ajv.js';
import { nestedPluginSlots, resolveNestedPlugins } from './pipeline/nested-plugins.js';
import { acceptOutput, missingOutputs } from './executor/outputs.js';

export { checkStageConformance, checkNestedConformance, expectConformance, junkFor, type ConformanceCheck, type ConformanceReport, type StageSample, type NestedSample } from './conformance.js';

export interface StandaloneRunOptions {
  params?: JsonObject;
  inputs?: Record<string, Artifact | Artifact[]>;
  /** The stage seed, as the executor passes it: the stage's `seed`, else the pipeline seed (default 0). */
  seed?: number;
  workDir?: string;
  signal?: AbortSignal;
  /**
   * Nested plugins by kind (e.g. `{ 'training-strategy': [ermStrategy, myStrategy] }`), the
   * stand-in for the registry: required for every kind the stage's params schema marks.
   */
  nested?: Readonly<Record<string, readonly NestedPlugin[]>>;
  /** The trial subgraph, as `ctx.trials`, for a stage type with `runsTrials` (a stub runner in a test). */
  trials?: TrialRunner;
}

export interface StandaloneRunResult {
  outputs: Record<string, Artifact>;
  events: StageEvent[];
  params: JsonObject;
}

/**
 * Validates params (applying defaults) or throws an error listing every problem with its JSON
 * path. Nested plugins in the params are left as given (`runStandalone` resolves them).
 */
export function resolveParams(plugin: StagePlugin, params: JsonObject = {}): JsonObject {
  const copy = structuredClone(params);
  const validate = compileSchema(plugin.paramsSchema);
  if (!validate(copy)) {
    const lines = (validate.errors ?? []).map((e) => `  params${e.instancePath || ''}: ${describeAjvError(e)}`);
    const first = validate.errors?.[0]?.instancePath;
    throw new FairtuneError('FT_PIPELINE_INVALID', `invalid params for ${plugin.type}:\n${lines.join('\n')}`, { pointer: `/params${first ?? ''}` });
  }
  return copy;
}

export async function runStandalone(plugin: StagePlugin, options: StandaloneRunOptions = {}): Promise<StandaloneRunResult> {
  const params = resolveParams(plugin, options.params);
  const undeclared = [...new Set(nestedPluginSlots(plugin.paramsSchema).map((s) => s.kind))].filter((kind) => !options.nested?.[kind]);
  if (undeclared.length) {
    throw new Error(`${plugin.type} selects nested plugins of kind ${undeclared.join(', ')} in its params: pass them to runStandalone as \`nested: { '${undeclared[0]}': [ … ] }\``);
  }
  const nested = resolveNestedPlugins(plugin.paramsSchema, params, (kind) => options.nested?.[kind]);
  if (nested.errors.length) throw new FairtuneError('FT_PIPELINE_INVALID', `invalid params for ${plugin.type}:\n${nested.errors.map((e) => `  params${e.path}: ${e.message}`).join('\n')}`, { pointer: `/params${nested.errors[0]!.path}` });
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), `fairtune-${plugin.type}-`));
  const events = await lastValueFrom(
    plugin
      .run({
        pipelineName: 'standalone',
        stageId: plugin.type.replace(/[^a-z0-9-]/gi, '-'),
        params,
        inputs: options.inputs ?? {},
        seed: options.seed ?? 0,
        workDir,
        runDir: workDir,
        signal: options.signal ?? new AbortController().signal,
        ...(options.trials ? { trials: options.trials } : {}),
      })
      .pipe(toArray()),
  );
  const outputs: Record<string, Artifact> = {};
  for (const e of events) {
    if (e.type !== 'artifact') continue;
    const problem = acceptOutput(plugin, outputs, e.port, e.artifact);
    if (problem) throw new FairtuneError('FT_OUTPUT_CONTRACT', `${plugin.type} ${problem}`, { port: e.port });
  }
  const missing = missingOutputs(plugin, outputs);
  if (missing) throw new FairtuneError('FT_OUTPUT_CONTRACT', `${plugin.type} ${missing}`);
  return { outputs, events, params };
}

/**
 * Output `port` of a standalone run, checked to be of `kind` and typed by it (`outputOf(r,
 * 'samples', 'samples').meta` is a SamplesMeta); an absent output or another kind is an error
 * naming the port.
 */
export function outputOf<const K extends string>(result: Pick<StandaloneRunResult, 'outputs'>, port: string, kind: K | readonly K[]): KindArtifact<K> {
  const a = result.outputs[port];
  if (!a) throw new FairtuneError('FT_OUTPUT_CONTRACT', `the run has no output "${port}" (outputs: ${Object.keys(result.outputs).join(', ') || 'none'})`, { port });
  if (!isKind(a, kind)) throw new FairtuneError('FT_OUTPUT_CONTRACT', `output "${port}" is a ${a.kind} artifact, expected ${[kind].flat().join(' or ')}`, { port });
  return a;
}

export interface CliRunResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Runs the `fairtune` command line in process, as a test would run the bin: its exit code and
 * what it printed on stdout and stderr (no TTY display). `env` replaces the process environment.
 */
export async function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRunResult> {
  const { main } = await import('./cli-main.js');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, { cwd: options.cwd ?? process.cwd(), stdout, stderr, env: { ...(options.env ?? {}) }, tty: false });
  return { code, out, err };
}
