/**
 * Toy stages for `pipelines/demo.json`: they exercise every runtime feature (params with
 * defaults, seeds, concurrency, progress, metrics, reports, caching) in milliseconds, so the
 * runtime is testable without the ML plugins.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { artifact, ndarray, requireArray, type Artifact, type JsonObject } from '../contracts/artifact.js';
import { STAGE_PLUGIN, type StagePlugin } from '../contracts/stage-plugin.js';
import { runAsync } from '../observable.js';
import { Rng } from '../rng.js';

const SERIES = 'demo-series';

const numbers: StagePlugin<{ count: number; mean: number; std: number }> = {
  type: 'demo.numbers',
  version: '1',
  description: 'Draws `count` seeded normal numbers.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 1000, description: 'How many numbers.' },
      mean: { type: 'number', default: 0 },
      std: { type: 'number', exclusiveMinimum: 0, default: 1, errorMessage: 'std must be a number > 0' },
    },
  },
  inputs: {},
  outputs: { series: { kind: SERIES, description: 'The numbers.' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const rng = new Rng(ctx.seed);
      const values = new Float64Array(ctx.params.count);
      for (let i = 0; i < values.length; i++) values[i] = rng.normal(ctx.params.mean, ctx.params.std);
      emit.artifact('series', artifact(SERIES, { source: 'normal', seed: ctx.seed }, { values: ndarray(values) }));
    }),
};

const transform: StagePlugin<{ scale: number; offset: number; steps: number; stepDelayMs: number }> = {
  type: 'demo.transform',
  version: '1',
  description: 'Computes scale·x + offset in `steps` chunks, sleeping `stepDelayMs` per chunk to simulate work.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      scale: { type: 'number', default: 1 },
      offset: { type: 'number', default: 0 },
      steps: { type: 'integer', minimum: 1, default: 10 },
      stepDelayMs: { type: 'integer', minimum: 0, default: 0 },
    },
  },
  inputs: { series: { kind: SERIES } },
  outputs: { series: { kind: SERIES } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit, signal) => {
      const input = requireArray(ctx.inputs['series'] as Artifact, 'values').data;
      const out = new Float64Array(input.length);
      const chunk = Math.ceil(input.length / ctx.params.steps);
      for (let step = 0; step < ctx.params.steps; step++) {
        for (let i = step * chunk; i < Math.min(input.length, (step + 1) * chunk); i++) out[i] = ctx.params.scale * input[i]! + ctx.params.offset;
        if (ctx.params.stepDelayMs) await sleep(ctx.params.stepDelayMs, signal);
        emit.progress(step + 1, ctx.params.steps, undefined, 'steps');
        await emit.checkpoint();
      }
      emit.artifact('series', artifact(SERIES, { transform: `${ctx.params.scale}*x+${ctx.params.offset}` }, { values: ndarray(out) }));
    }),
};

const stats: StagePlugin<{ label?: string }> = {
  type: 'demo.stats',
  version: '1',
  description: 'Mean, standard deviation, minimum and maximum of a series.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: { label: { type: 'string' } } },
  inputs: { series: { kind: SERIES } },
  outputs: { metrics: { kind: 'metrics' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const v = requireArray(ctx.inputs['series'] as Artifact, 'values').data;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      for (const x of v) {
        sum += x;
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      const mean = sum / v.length;
      let ss = 0;
      for (const x of v) ss += (x - mean) ** 2;
      const result = { n: v.length, mean, std: Math.sqrt(ss / Math.max(1, v.length - 1)), min, max };
      for (const [k, x] of Object.entries(result)) emit.metric(k, x);
      emit.artifact('metrics', artifact('metrics', { label: ctx.params.label ?? ctx.stageId, ...result }));
    }),
};

const report: StagePlugin<{ title: string }> = {
  type: 'demo.report',
  version: '1',
  description: 'A Markdown and JSON table of several metrics artifacts.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: { title: { type: 'string', default: 'Demo report' } } },
  inputs: { metrics: { kind: 'metrics', multiple: true } },
  outputs: { report: { kind: 'report' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const rows = (ctx.inputs['metrics'] as Artifact[]).map((a) => a.meta as JsonObject);
      const keys = ['label', 'n', 'mean', 'std', 'min', 'max'];
      const fmt = (x: unknown) => (typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toFixed(4)) : String(x));
      const md = [
        `# ${ctx.params.title}`,
        '',
        `| ${keys.join(' | ')} |`,
        `|${keys.map(() => '---').join('|')}|`,
        ...rows.map((r) => `| ${keys.map((k) => fmt(r[k])).join(' | ')} |`),
        '',
      ].join('\n');
      writeFileSync(join(ctx.workDir, 'report.md'), md);
      writeFileSync(join(ctx.workDir, 'report.json'), JSON.stringify({ title: ctx.params.title, rows }, null, 2));
      emit.log('info', `report with ${rows.length} rows`);
      emit.artifact('report', artifact('report', { title: ctx.params.title }, {}, { 'report.md': join(ctx.workDir, 'report.md'), 'report.json': join(ctx.workDir, 'report.json') }));
    }),
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const demoStages: readonly StagePlugin[] = [numbers, transform, stats, report] as StagePlugin[];

/** Core's own built-in stages. */
export const demoStagesModule = new ContainerModule((options) => {
  for (const plugin of demoStages) options.bind(STAGE_PLUGIN).toConstantValue(plugin);
});
