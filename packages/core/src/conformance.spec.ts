import { describe, expect, it } from '@jest/globals';
import { artifact, ndarray, type Artifact } from './contracts/artifact.js';
import type { StagePlugin } from './contracts/stage-plugin.js';
import type { TrainingStrategyPlugin } from './contracts/training-strategy.js';
import { demoStages } from './builtin/demo-stages.js';
import { runAsync } from './observable.js';
import { checkNestedConformance, checkStageConformance, expectConformance } from './testing.js';

const byType = (t: string) => demoStages.find((p) => p.type === t)!;
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
      const input = ctx.inputs['series'] as Artifact | undefined;
      if (!input) throw new Error('input series is missing');
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
    const wrongKind = { ...good, run: () => runAsync(new AbortController().signal, async (emit) => emit.artifact('series', artifact('samples', {}, {}))) };
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

  it('fails a stage whose missing input ends in a TypeError', async () => {
    const careless = { ...good, run: good.run.bind(null), };
    careless.run = (ctx) => runAsync(ctx.signal, async (emit) => emit.artifact('series', artifact('demo-series', {}, { values: (ctx.inputs['series'] as Artifact).arrays['values']! })));
    expect((await checkStageConformance(careless, sample)).failures.join('\n')).toMatch(/errors name what they are about: without its inputs it fails with a TypeError/);
  });

  it('over the built-in demo stages', async () => {
    await expectConformance(checkStageConformance(byType('demo.numbers'), { params: { count: 20 } }));
    // Known: demo.transform and demo.stats read its input without checking it is there (the executor never
    // runs it without one, but the contract asks errors to name what they are about).
    for (const type of ['demo.transform', 'demo.stats']) {
      expect((await checkStageConformance(byType(type), { inputs: { series: series() } })).failures).toEqual([
        "errors name what they are about: without its inputs it fails with a TypeError: Cannot read properties of undefined (reading 'arrays')",
      ]);
    }
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
