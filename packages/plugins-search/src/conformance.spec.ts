/**
 * Every stage, sampler and pruner this package registers passes core's conformance suite
 * (issue 15). Cases are keyed by stage type / plugin name and compared with what
 * `containerModule` registers, so a new one without a case fails here. The search stages run a
 * stub trial group (core's `trials` sample option): a trial reports its objective for three
 * steps and keeps a model, predictions and embeddings for search.fairtune to pass on.
 */
import { describe, expect, it } from '@jest/globals';
import { artifact, ndarray, PRUNER_KIND, SAMPLER_KIND, StageRegistry, type JsonValue, type StagePlugin, type TrialResult, type TrialRunner } from '@fairtune/core';
import { checkNestedConformance, checkStageConformance, expectConformance, type NestedSample, type StageSample } from '@fairtune/core/testing';
import { containerModule } from './index.js';

const registry = new StageRegistry();
registry.loadModule(containerModule, '@fairtune/plugins-search');
const plugin = (type: string): StagePlugin => {
  const found = registry.get(type);
  if (!found) throw new Error(`no stage type ${type} is registered`);
  return found.plugin;
};
const nestedOf = (kind: string) => (registry.nested(kind) ?? []).map((r) => r.plugin);
const nested = () => ({ [SAMPLER_KIND.kind]: nestedOf(SAMPLER_KIND.kind), [PRUNER_KIND.kind]: nestedOf(PRUNER_KIND.kind) });

/** A trial group binding `offset`, whose stage `train` reports `loss` = |offset − 3| + 1/(step+1) for 3 steps. */
function stubTrials(): TrialRunner {
  let number = 0;
  return {
    group: 'trial',
    defaults: { offset: 0 },
    stages: ['train'],
    run: async (values, options) => {
      const n = number++;
      const offset = Number(values['offset'] ?? 0);
      let loss = 0;
      for (let step = 0; step < 3; step++) {
        if (options?.signal?.aborted) break;
        loss = Math.abs(offset - 3) + 1 / (step + 1);
        options?.onEvent?.({ type: 'stage-event', trial: n, stage: 'train', stageId: `train[trial=${n}]`, event: { type: 'metric', name: 'loss', value: loss, epoch: step } });
      }
      const pruned = options?.signal?.aborted === true;
      const outputs: Record<string, ReturnType<typeof artifact>> = {
        model: artifact('model' as string, { offset }),
        predictions: artifact('predictions' as string, { offset }, { yPred: ndarray(Float32Array.of(offset)) }),
        embeddings: artifact('embeddings' as string, { offset }, { z: ndarray(Float32Array.of(offset, 1), [1, 2]) }),
      };
      const result: TrialResult = {
        number: n,
        status: pruned ? 'pruned' : 'completed',
        values: { offset } as Record<string, JsonValue>,
        ...(pruned ? { reason: 'pruned' } : {}),
        stageIds: { train: `train[trial=${n}]` },
        metrics: pruned ? {} : { train: { loss } },
        cached: false,
        output: (stage, port) => {
          const a = stage === 'train' ? outputs[port] : undefined;
          if (!a) throw new Error(`the stub trial group has no output ${stage}.${port}`);
          return a;
        },
      };
      return result;
    },
  };
}

const SEARCH = { objective: { stage: 'train', metric: 'loss' }, space: { offset: { type: 'float', low: 0, high: 6 } }, trials: 4, storage: 'memory', sampler: { name: 'random' } };

const stageCases: Record<string, () => StageSample> = {
  'search.optimise': () => ({ params: SEARCH, trials: stubTrials, nested: nested(), seed: 3 }),
  'search.fairtune': () => ({ params: SEARCH, trials: stubTrials, nested: nested(), seed: 3 }),
};

const samplerCases: Record<string, NestedSample> = { tpe: {}, random: {}, grid: { params: { searchSpace: { offset: [1, 3, 5] } } } };
const prunerCases: Record<string, NestedSample> = { 'successive-halving': {}, hyperband: {}, median: {}, none: {} };

describe('plugins-search stages, samplers and pruners conform', () => {
  it('has a conformance case for every stage type, sampler and pruner the package registers', () => {
    expect(Object.keys(stageCases).sort()).toEqual(registry.types().sort());
    expect(Object.keys(samplerCases).sort()).toEqual(nestedOf(SAMPLER_KIND.kind).map((p) => p.name).sort());
    expect(Object.keys(prunerCases).sort()).toEqual(nestedOf(PRUNER_KIND.kind).map((p) => p.name).sort());
  });

  for (const [type, sample] of Object.entries(stageCases)) {
    it(type, async () => {
      await expectConformance(checkStageConformance(plugin(type), sample()));
    });
  }

  for (const [kind, cases] of [[SAMPLER_KIND.kind, samplerCases], [PRUNER_KIND.kind, prunerCases]] as const) {
    for (const [name, sample] of Object.entries(cases)) {
      it(`${kind} ${name}`, () => {
        expect(checkNestedConformance(kind, nestedOf(kind).find((p) => p.name === name)!, sample).failures).toEqual([]);
      });
    }
  }
});
