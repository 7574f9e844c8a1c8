/**
 * Every stage and training strategy this package registers passes core's conformance suite
 * (issue 15). Cases are keyed by stage type / strategy name and compared with what
 * `containerModule` registers, so a new one without a case fails here. Models are the tiny
 * architecture, trained for 1 epoch on 24 windows (the suite runs each stage at least 3 times).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { runStandalone, StageRegistry, TRAINING_STRATEGY_KIND, type Artifact, type StagePlugin } from '@fairtune/core';
import { checkNestedConformance, checkStageConformance, expectConformance, type NestedSample, type StageSample } from '@fairtune/core/testing';
import { containerModule } from './index.js';
import { makeSamples, TINY_PARAMS } from './test-utils/fixtures.js';
import { makeImageSamples } from './test-utils/image-fixtures.js';

const registry = new StageRegistry();
registry.loadModule(containerModule, '@fairtune/plugins-models');
const plugin = (type: string): StagePlugin => {
  const found = registry.get(type);
  if (!found) throw new Error(`no stage type ${type} is registered`);
  return found.plugin;
};
const strategies = () => registry.nested(TRAINING_STRATEGY_KIND.kind)!.map((r) => r.plugin);
const nested = () => ({ [TRAINING_STRATEGY_KIND.kind]: strategies() });

const FT = { epochs: 1, batchSize: 8, learningRate: 3e-3, pooling: 'mean', warmupSteps: 1, seed: 3 } as const;
const VIT_FT = { epochs: 1, batchSize: 8, learningRate: 1e-3, evalBatchSize: 16, seed: 3 } as const;
const samples = makeSamples({ n: 24, seed: 2 });
const images = makeImageSamples({ n: 16 });
let backbone: Artifact;
let model: Artifact;
let vit: Artifact;
let vitModel: Artifact;

beforeAll(async () => {
  backbone = (await runStandalone(plugin('model.ppg-gpt'), { params: { ...TINY_PARAMS, seed: 1 } })).outputs['backbone']!;
  model = (await runStandalone(plugin('train.finetune'), { inputs: { backbone, samples }, params: FT, nested: nested() })).outputs['model']!;
  vit = (await runStandalone(plugin('model.vit'), { params: { preset: 'tiny', seed: 1 } })).outputs['backbone']!;
  vitModel = (await runStandalone(plugin('train.finetune'), { inputs: { backbone: vit, samples: images }, params: VIT_FT, nested: nested() })).outputs['model']!;
});

/** One sample per code path: the training and prediction stages run a PPG-GPT and a ViT path. */
const stageCases: Record<string, () => StageSample[]> = {
  'model.ppg-gpt': () => [{ params: { ...TINY_PARAMS, seed: 1 } }],
  'model.vit': () => [{ params: { preset: 'tiny', seed: 1 } }],
  'train.pretrain': () => [
    { params: { epochs: 1, batchSize: 8, seed: 2 }, inputs: { backbone, samples } },
    { params: { epochs: 1, batchSize: 8, seed: 2 }, inputs: { backbone: vit, samples: images } },
  ],
  'train.finetune': () => [
    { params: FT, inputs: { backbone, samples }, nested: nested() },
    { params: VIT_FT, inputs: { backbone: vit, samples: images }, nested: nested() },
  ],
  'eval.predict': () => [{ inputs: { model, data: samples } }, { params: { batchSize: 16 }, inputs: { model: vitModel, data: images } }],
};

const strategyCases: Record<string, NestedSample> = {
  erm: {},
};

describe('plugins-models stages and training strategies conform', () => {
  it('has a conformance case for every stage type and strategy the package registers', () => {
    expect(Object.keys(stageCases).sort()).toEqual(registry.types().sort());
    expect(Object.keys(strategyCases).sort()).toEqual(strategies().map((s) => s.name).sort());
  });

  for (const [type, samplesOf] of Object.entries(stageCases)) {
    it(type, async () => {
      for (const sample of samplesOf()) await expectConformance(checkStageConformance(plugin(type), sample));
    });
  }

  for (const [name, sample] of Object.entries(strategyCases)) {
    it(`training strategy ${name}`, async () => {
      await expectConformance(checkNestedConformance(TRAINING_STRATEGY_KIND.kind, strategies().find((s) => s.name === name)!, sample));
    });
  }
});
