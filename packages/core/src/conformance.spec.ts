import { describe, expect, it } from '@jest/globals';
import { artifact, ndarray, requireInput, type Artifact, type JsonValue } from './contracts/artifact.js';
import type { StagePlugin } from './contracts/stage-plugin.js';
import type { TrainingStrategyPlugin } from './contracts/training-strategy.js';
import type { TrialResult, TrialRunner } from './contracts/trials.js';
import { demoStagesModule } from './builtin/demo-stages.js';
import { StageRegistry } from './registry.js';
import { runAsync } from './observable.js';
import { checkNestedConformance, checkStageConformance, expectConformance, type StageSample } from './testing.js';

const series = (n = 50): Artifact => artifact('demo-series', {}, { values: ndarray(Float64Array.from({ length: n }, (_, i) => Math.sin(i))) });

/** A well-behaved stage, then one mutation of it per contract clause the suite checks. */
const good: StagePlugin<{ scale: number }> = {
  type: 'test.scale',
  version: '1',
  description: 'scales a series',
  paramsSchema: { type: 'object', additionalProperties: false, properties: { scale: { type: 'number', default: 2 } } },
  inputs: { series: { kind: 'demo-series' } },
  outputs: { series: { kind: 'demo-series' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const input = requireInput(ctx.inputs, 'series', 'demo-series');
      const x = input.arrays['values']!.data;
      emit.artifact('series', artifact('demo-series', {}, { values: ndarray(Float64Array.from(x, (v) => v * ctx.params.scale)) }));
    }),
};
const sample = { inputs: { series: series() } };

describe('the conformance suite', () => {
  it('passes a well-behaved stage', async () => {
    await expectConformance(checkStageConformance(good, sample));
  });

  it('fails a schema that accepts junk', async () => {
    const r = await checkStageConformance({ ...good, paramsSchema: { type: 'object', properties: { scale: { default: 2 } } } }, sample);
    expect(r.failures).toEqual(['junk params are rejected with a JSON pointer: params {"scale":{"junk":true}} were accepted']);
  });

  it('fails an output emitted twice and an output of the wrong kind', async () => {
    const twice = { ...good, run: () => runAsync(new AbortController().signal, async (emit) => { emit.artifact('series', series()); emit.artifact('series', series()); }) };
    expect((await checkStageConformance(twice, sample)).failures.join('\n')).toMatch(/every declared output is emitted once with its kind: the sample run failed: .*series/);
    const wrongKind = { ...good, run: () => runAsync(new AbortController().signal, async (emit) => emit.artifact('series', artifact('samples' as string, {}, {}))) };
    expect((await checkStageConformance(wrongKind, sample)).failures.join('\n')).toMatch(/every declared output is emitted once with its kind: the sample run failed/);
  });

  it('fails a stage whose outputs differ between two runs', async () => {
    let calls = 0;
    const drifting = { ...good, run: () => runAsync(new AbortController().signal, async (emit) => emit.artifact('series', artifact('demo-series', { call: calls++ }, {}))) };
    expect((await checkStageConformance(drifting, sample)).failures).toContain('the same params and inputs give byte-identical outputs: output(s) series differ between two runs');
  });

  it('fails a stage that ignores an abort for over a second', async () => {
    const stubborn = {
      ...good,
      run: () =>
        runAsync(new AbortController().signal, async (emit) => {
          await new Promise((r) => setTimeout(r, 1500));
          emit.artifact('series', series());
        }),
    };
    const r = await checkStageConformance(stubborn, sample);
    expect(r.failures.filter((f) => f.startsWith('an abort'))).toEqual([expect.stringMatching(/^an abort stops the stage within a second: it ran 1\d{3} ms after the abort$/)]);
  });

  it('says the abort was not tested when the sample run finished before it was due', async () => {
    const r = await checkStageConformance(good, { ...sample, abortAfterMs: 200 });
    const abort = r.checks.find((c) => c.name.startsWith('an abort'));
    expect(abort).toMatchObject({ ok: true, skipped: expect.stringMatching(/^the sample run finished in \d+ ms, before the abort was due/) });
  });

  it('fails a stage whose missing input ends in a TypeError', async () => {
    const careless = { ...good, run: good.run.bind(null), };
    careless.run = (ctx) => runAsync(ctx.signal, async (emit) => emit.artifact('series', artifact('demo-series', {}, { values: (ctx.inputs['series'] as Artifact).arrays['values']! })));
    expect((await checkStageConformance(careless, sample)).failures.join('\n')).toMatch(/errors name what they are about: without its inputs it fails with a TypeError/);
  });

  it('fails a stage whose missing-input error names the port but has no FT_ code', async () => {
    const uncoded = { ...good, run: (ctx: { signal: AbortSignal; inputs: Record<string, unknown> }) => runAsync(ctx.signal, async () => {
      if (!ctx.inputs['series']) throw new Error('input series is missing');
    }) } as unknown as StagePlugin;
    expect((await checkStageConformance(uncoded, sample)).failures.join('\n')).toMatch(/errors name what they are about: without its inputs the error has no FT_ code/);
  });

  it('checks a training strategy: schema, defaults, deterministic weights', () => {
    const strategy: TrainingStrategyPlugin = {
      name: 'test-up',
      version: '1',
      description: 'weights group 0 up',
      paramsSchema: { type: 'object', additionalProperties: false, properties: { factor: { type: 'number', minimum: 1, default: 2 } } },
      create: (init) => ({ lossWeights: (b) => Float32Array.from(b.groups, (g) => (g === 0 ? (init.params['factor'] as number) : 1) / b.groups.length) }),
    };
    expect(checkNestedConformance('training-strategy', strategy).failures).toEqual([]);
    let n = 0;
    const random: TrainingStrategyPlugin = { ...strategy, create: () => ({ lossWeights: (b) => new Float32Array(b.groups.length).fill(++n) }) };
    expect(checkNestedConformance('training-strategy', random).failures).toEqual(['the same init and batches give the same loss weights: two strategies created with the same init gave different weights or state']);
    const lax: TrainingStrategyPlugin = { ...strategy, paramsSchema: { type: 'object' } };
    expect(checkNestedConformance('training-strategy', lax).checks.find((c) => c.name.startsWith('junk'))?.skipped).toMatch(/accepts any object/);
  });
});

/**
 * Every stage core registers passes the suite (issue 15). The cases are keyed by stage type and
 * compared with the registered types, so a new built-in stage without a case fails here.
 */
const metrics = (label: string, mean: number): Artifact => artifact('metrics', { label, n: 10, mean, std: 1, min: -2, max: 2 });

/** A stand-in trial group for demo.search: each trial reports a per-step metric that depends on the bound value. */
function stubTrials(): TrialRunner {
  let number = 0;
  return {
    group: 'g',
    defaults: { scale: 1 },
    stages: ['transform'],
    run: async (values, options) => {
      const scale = values['scale'] as number;
      const n = number++;
      for (let step = 0; step < 3; step++) {
        options?.onEvent?.({ type: 'stage-event', trial: n, stage: 'transform', stageId: `transform[trial=${n}]`, event: { type: 'metric', name: 'running-mean', value: scale * (3 - step), step } });
      }
      const result: TrialResult = {
        number: n,
        status: 'completed',
        values: { ...values } as Record<string, JsonValue>,
        stageIds: { transform: `transform[trial=${n}]` },
        metrics: { transform: { 'running-mean': scale } },
        cached: false,
        output: () => {
          throw new Error('the stub trial group keeps no outputs');
        },
      };
      return result;
    },
  };
}

const cases: Record<string, StageSample> = {
  'demo.numbers': { params: { count: 20 } },
  'demo.transform': { params: { steps: 3 }, inputs: { series: series() } },
  'demo.stats': { inputs: { series: series() } },
  'demo.report': { params: { title: 'T' }, inputs: { metrics: [metrics('a', 0.1), metrics('b', 0.2)] } },
  'demo.search': { params: { param: 'scale', values: [2, 1, 3], metric: { stage: 'transform', name: 'running-mean' } }, trials: stubTrials },
};

describe('core built-in stages conform', () => {
  const registry = new StageRegistry();
  registry.loadModule(demoStagesModule, '@fairtune/core');

  it('has a conformance case for every stage type core registers', () => {
    expect(Object.keys(cases).sort()).toEqual(registry.types().sort());
  });

  for (const [type, sample] of Object.entries(cases)) {
    it(type, async () => {
      await expectConformance(checkStageConformance(registry.get(type)!.plugin, sample));
    });
  }
});
