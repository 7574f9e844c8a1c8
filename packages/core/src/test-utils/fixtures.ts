/** Helpers for core's tests: temp dirs, pipeline files and small inline plugins. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ContainerModule } from 'inversify';
import { artifact, ndarray, requireArray, type Artifact } from '../contracts/artifact.js';
import { STAGE_PLUGIN, type StagePlugin } from '../contracts/stage-plugin.js';
import { runAsync } from '../observable.js';
import { StageRegistry } from '../registry.js';
import { demoStagesModule } from '../builtin/demo-stages.js';

export function tempDir(prefix = 'fairtune-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writePipeline(dir: string, spec: object, name = 'pipeline.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}

/** Records which stages executed and how many ran at once. */
export class Probe {
  running = 0;
  maxRunning = 0;
  readonly executed: string[] = [];
}

/** `test.sleep`: passes a demo-series through after `ms`; `test.fail`: throws. */
export function testModule(probe: Probe): ContainerModule {
  const sleep: StagePlugin<{ ms: number; tag: string }> = {
    type: 'test.sleep',
    version: '1',
    description: 'Sleeps, then passes its input through.',
    paramsSchema: { type: 'object', additionalProperties: false, properties: { ms: { type: 'integer', default: 50 }, tag: { type: 'string', default: '' } } },
    inputs: { series: { kind: 'demo-series', optional: true } },
    outputs: { series: { kind: 'demo-series' } },
    run: (ctx) =>
      runAsync(ctx.signal, async (emit, signal) => {
        probe.running++;
        probe.maxRunning = Math.max(probe.maxRunning, probe.running);
        probe.executed.push(ctx.stageId);
        try {
          const end = Date.now() + ctx.params.ms;
          while (Date.now() < end) {
            await new Promise((r) => setTimeout(r, 5));
            signal.throwIfAborted();
          }
          const input = ctx.inputs['series'] as Artifact | undefined;
          const values = input ? requireArray(input, 'values').data : new Float64Array([ctx.seed]);
          emit.artifact('series', artifact('demo-series', { tag: ctx.params.tag }, { values: ndarray(Float64Array.from(values)) }));
        } finally {
          probe.running--;
        }
      }),
  };
  const fail: StagePlugin<{ message: string; ms: number }> = {
    type: 'test.fail',
    version: '1',
    description: 'Fails after `ms`.',
    paramsSchema: { type: 'object', additionalProperties: false, properties: { message: { type: 'string', default: 'boom' }, ms: { type: 'integer', default: 0 } } },
    inputs: { series: { kind: 'demo-series', optional: true } },
    outputs: { series: { kind: 'demo-series' } },
    run: (ctx) =>
      runAsync(ctx.signal, async () => {
        probe.executed.push(ctx.stageId);
        await new Promise((r) => setTimeout(r, ctx.params.ms));
        throw new Error(ctx.params.message);
      }),
  };
  const pair: StagePlugin = {
    type: 'test.pair',
    version: '1',
    description: 'Splits a series into its first and second half.',
    paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
    inputs: { series: { kind: 'demo-series' } },
    outputs: { left: { kind: 'demo-series' }, right: { kind: 'demo-series' } },
    run: (ctx) =>
      runAsync(ctx.signal, async (emit) => {
        const v = requireArray(ctx.inputs['series'] as Artifact, 'values').data;
        const h = Math.floor(v.length / 2);
        emit.artifact('left', artifact('demo-series', {}, { values: ndarray(Float64Array.from(v.subarray(0, h))) }));
        emit.artifact('right', artifact('demo-series', {}, { values: ndarray(Float64Array.from(v.subarray(h))) }));
      }),
  };
  const file: StagePlugin<{ path: string }> = {
    type: 'test.file',
    version: '1',
    description: 'Reads the bytes of a file outside the pipeline.',
    paramsSchema: { type: 'object', required: ['path'], properties: { path: { type: 'string' } } },
    inputs: {},
    outputs: { series: { kind: 'demo-series' } },
    fingerprint: (p) => {
      const st = statSync(p.path);
      return `${st.size}:${st.mtimeMs}`;
    },
    run: (ctx) =>
      runAsync(ctx.signal, async (emit) => {
        probe.executed.push(ctx.stageId);
        emit.artifact('series', artifact('demo-series', {}, { values: ndarray(Float64Array.from(readFileSync(ctx.params.path))) }));
      }),
  };
  const workfile: StagePlugin<{ ms: number }> = {
    type: 'test.workfile',
    version: '1',
    description: 'Writes a file into its workDir, sleeps, then emits its input (or its seed) with that file.',
    paramsSchema: { type: 'object', additionalProperties: false, properties: { ms: { type: 'integer', default: 0 } } },
    inputs: { series: { kind: 'demo-series', optional: true }, after: { kind: 'demo-series', optional: true } },
    outputs: { series: { kind: 'demo-series' } },
    run: (ctx) =>
      runAsync(ctx.signal, async (emit, signal) => {
        probe.executed.push(ctx.stageId);
        const note = join(ctx.workDir, 'note.txt');
        writeFileSync(note, `written by ${ctx.stageId}`);
        const end = Date.now() + ctx.params.ms;
        while (Date.now() < end) {
          await new Promise((r) => setTimeout(r, 5));
          signal.throwIfAborted();
        }
        const input = ctx.inputs['series'] as Artifact | undefined;
        const values = input ? requireArray(input, 'values').data : new Float64Array([ctx.seed]);
        emit.artifact('series', artifact('demo-series', {}, { values: ndarray(Float64Array.from(values)) }, { 'note.txt': note }));
      }),
  };
  return new ContainerModule((options) => {
    options.bind(STAGE_PLUGIN).toConstantValue(workfile as StagePlugin);
    options.bind(STAGE_PLUGIN).toConstantValue(file as StagePlugin);
    options.bind(STAGE_PLUGIN).toConstantValue(pair);
    options.bind(STAGE_PLUGIN).toConstantValue(sleep as StagePlugin);
    options.bind(STAGE_PLUGIN).toConstantValue(fail as StagePlugin);
  });
}

export function testRegistry(probe = new Probe()): StageRegistry {
  const registry = new StageRegistry();
  registry.loadModule(demoStagesModule, '@fairtune/core');
  registry.loadModule(testModule(probe), 'test');
  return registry;
}

/** The repository root (jest runs with a package folder as cwd). */
export const repoRoot = resolve(process.cwd(), '../..');

/** A process id that no longer runs (a child that has exited), for stale leases and records. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

export const thisHost = hostname();

/**
 * Runs a TypeScript file (or the CLI source) in a separate node process, compiled on the fly
 * by @swc-node, with the packages resolved to their sources: tests need no build.
 */
export function spawnTs(script: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ...options.env };
  delete env['NODE_OPTIONS'];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--conditions=@fairtune/source', '--import', '@swc-node/register/esm-register', script, ...args], { cwd: options.cwd ?? repoRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}
