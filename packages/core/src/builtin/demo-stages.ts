/**
 * Toy stages for `pipelines/demo.json`: they exercise every runtime feature (params with
 * defaults, seeds, concurrency, progress, metrics, reports, caching) in milliseconds, so the
 * runtime is testable without the ML plugins.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { artifact, ndarray, requireArray, requireInput, requireInputs, type JsonObject } from '../contracts/artifact.js';
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
      const input = requireArray(requireInput(ctx.inputs, 'series'), 'values').data;
      const out = new Float64Array(input.length);
      const chunk = Math.ceil(input.length / ctx.params.steps);
      for (let step = 0; step < ctx.params.steps; step++) {
        for (let i = step * chunk; i < Math.min(input.length, (step + 1) * chunk); i++) out[i] = ctx.params.scale * input[i]! + ctx.params.offset;
        if (ctx.params.stepDelayMs) await sleep(ctx.params.stepDelayMs, signal);
        // An intermediate result per step, as a trainer reports a validation metric per epoch.
        const done = Math.min(input.length, (step + 1) * chunk);
        let sum = 0;
        for (let i = 0; i < done; i++) sum += out[i]!;
        emit.metric('running-mean', done ? sum / done : 0, { step });
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
      const v = requireArray(requireInput(ctx.inputs, 'series'), 'values').data;
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
      const rows = requireInputs(ctx.inputs, 'metrics', 'metrics').map((a) => a.meta);
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

interface SearchParams {
  param: string;
  values: number[];
  metric: { stage: string; name: string };
  prune: boolean;
}

/**
 * A toy optimiser over a trial subgraph (contracts/trials.ts): tries each value of one bound
 * name in turn, minimising a metric that a trial stage reports per step, and prunes a trial (by
 * aborting it) as soon as its metric at some step is worse than the best finished trial's at
 * the same step — the median/successive-halving idea in its simplest form.
 */
const search: StagePlugin<SearchParams> = {
  type: 'demo.search',
  version: '1',
  description: 'Toy optimiser: tries values of one trial binding in turn, minimising a per-step metric of a trial stage, pruning a trial whose metric falls behind the best finished one at the same step.',
  runsTrials: true,
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['param', 'values', 'metric'],
    properties: {
      param: { type: 'string', description: 'The trial binding to search.' },
      values: { type: 'array', minItems: 1, items: { type: 'number' }, description: 'Values tried, in order.' },
      metric: {
        type: 'object',
        additionalProperties: false,
        required: ['stage', 'name'],
        properties: { stage: { type: 'string' }, name: { type: 'string' } },
        description: 'The metric to minimise: a stage of the trial group and the name of a metric it emits with a step.',
      },
      prune: { type: 'boolean', default: true },
    },
  },
  inputs: {},
  outputs: { result: { kind: 'metrics', description: 'The best value and every trial with its status.' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const trials = ctx.trials!;
      const { param, values, metric } = ctx.params;
      let best: { value: number; curve: number[]; param: number } | undefined;
      const rows: JsonObject[] = [];
      for (const [i, v] of values.entries()) {
        const curve: number[] = [];
        const prune = new AbortController();
        const result = await trials.run(
          { [param]: v },
          {
            signal: prune.signal,
            onEvent: (e) => {
              if (e.type !== 'stage-event' || e.stage !== metric.stage || e.event.type !== 'metric' || e.event.name !== metric.name) return;
              const step = e.event.step ?? curve.length;
              curve[step] = e.event.value;
              const ref = best?.curve[step];
              if (ctx.params.prune && ref !== undefined && e.event.value > ref && !prune.signal.aborted) prune.abort(new Error(`${metric.name} ${e.event.value.toFixed(4)} > ${ref.toFixed(4)} at step ${step}`));
            },
          },
        );
        // A cached trial replays no per-step events: its stage's last reported value stands.
        const final = curve.length ? curve[curve.length - 1] : result.metrics[metric.stage]?.[metric.name];
        rows.push({ trial: result.number, [param]: v, status: result.status, ...(final !== undefined ? { [metric.name]: final } : {}), ...(result.reason ? { reason: result.reason } : {}) });
        if (result.status === 'completed' && final !== undefined && (!best || final < best.value)) best = { value: final, curve: curve.length ? curve : best?.curve ?? [], param: v };
        emit.log('info', `trial ${result.number} (${param} = ${v}): ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
        emit.progress(i + 1, values.length, undefined, 'trials');
      }
      if (!best) throw new Error('no trial completed');
      emit.metric('best', best.value);
      emit.artifact('result', artifact('metrics', { label: `best ${param} = ${best.param}`, best: best.value, [param]: best.param, trials: rows }));
    }),
};

export const demoStages: readonly StagePlugin[] = [numbers, transform, stats, report, search] as StagePlugin[];

/** Core's own built-in stages. */
export const demoStagesModule = new ContainerModule((options) => {
  for (const plugin of demoStages) options.bind(STAGE_PLUGIN).toConstantValue(plugin);
});
