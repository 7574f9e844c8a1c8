/** Helpers for core's tests: temp dirs, pipeline files and small inline plugins. */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  return new ContainerModule((options) => {
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
