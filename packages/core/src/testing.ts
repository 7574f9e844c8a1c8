/**
 * Run one stage plugin outside a pipeline: params are validated and defaulted against its
 * schema exactly as in a pipeline run, events are collected, and outputs are checked against
 * the declared ports. Meant for plugin authors' unit tests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import type { Artifact, JsonObject } from './contracts/artifact.js';
import type { StageEvent, StagePlugin } from './contracts/stage-plugin.js';
import { compileSchema, describeAjvError } from './pipeline/ajv.js';
import { acceptOutput, missingOutputs } from './executor/outputs.js';

export interface StandaloneRunOptions {
  params?: JsonObject;
  inputs?: Record<string, Artifact | Artifact[]>;
  /** The stage seed, as the executor passes it: the stage's `seed`, else the pipeline seed (default 0). */
  seed?: number;
  workDir?: string;
  signal?: AbortSignal;
}

export interface StandaloneRunResult {
  outputs: Record<string, Artifact>;
  events: StageEvent[];
  params: JsonObject;
}

/** Validates params (applying defaults) or throws an error listing every problem with its JSON path. */
export function resolveParams(plugin: StagePlugin, params: JsonObject = {}): JsonObject {
  const copy = structuredClone(params);
  const validate = compileSchema(plugin.paramsSchema);
  if (!validate(copy)) {
    const lines = (validate.errors ?? []).map((e) => `  params${e.instancePath || ''}: ${describeAjvError(e)}`);
    throw new Error(`invalid params for ${plugin.type}:\n${lines.join('\n')}`);
  }
  return copy;
}

export async function runStandalone(plugin: StagePlugin, options: StandaloneRunOptions = {}): Promise<StandaloneRunResult> {
  const params = resolveParams(plugin, options.params);
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
      })
      .pipe(toArray()),
  );
  const outputs: Record<string, Artifact> = {};
  for (const e of events) {
    if (e.type !== 'artifact') continue;
    const problem = acceptOutput(plugin, outputs, e.port, e.artifact);
    if (problem) throw new Error(`${plugin.type} ${problem}`);
  }
  const missing = missingOutputs(plugin, outputs);
  if (missing) throw new Error(`${plugin.type} ${missing}`);
  return { outputs, events, params };
}
