/**
 * Every stage and training strategy this package registers passes core's conformance suite
 * (issue 15). Cases are keyed by stage type / strategy name and compared with what
 * `containerModule` registers, so a new one without a case fails here.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { artifact, ndarray, runStandalone, StageRegistry, TRAINING_STRATEGY_KIND, type Artifact, type JsonObject, type ModelMeta, type PredictionsMeta, type StagePlugin } from '@fairtune/core';
import { checkNestedConformance, checkStageConformance, expectConformance, type NestedSample, type StageSample } from '@fairtune/core/testing';
import { containerModule } from './index.js';

const registry = new StageRegistry();
registry.loadModule(containerModule, '@fairtune/plugins-fairness');
const plugin = (type: string): StagePlugin => {
  const found = registry.get(type);
  if (!found) throw new Error(`no stage type ${type} is registered`);
  return found.plugin;
};
const strategies = () => registry.nested(TRAINING_STRATEGY_KIND.kind)!.map((r) => r.plugin);

/** 12 subjects (female 0–5, male 6–11), 4 windows each; subjects 4, 5, 10, 11 are test. */
function predictions(method: string, bias: number): Artifact {
  const cols = { yTrue: [] as number[], yPred: [] as number[], subject: [] as number[], group: [] as number[], split: [] as number[] };
  for (let s = 0; s < 12; s++) {
    const g = s < 6 ? 0 : 1;
    for (let w = 0; w < 4; w++) {
      const y = 60 + 12 * w + s;
      cols.yTrue.push(y);
      cols.yPred.push(y + (g ? -bias : bias) + (((s * 7 + w * 3) % 5) - 2));
      cols.subject.push(s);
      cols.group.push(g);
      cols.split.push(s % 6 >= 4 ? 1 : 0);
    }
  }
  const meta: PredictionsMeta = {
    task: 'regression',
    target: { name: 'hr', units: 'bpm' },
    dataset: 'dalia',
    synthetic: true,
    subjects: Array.from({ length: 12 }, (_, s) => `S${s + 1}`),
    splits: ['train', 'test'],
    groups: { attributes: ['sex'], names: ['female', 'male'] },
    method,
  };
  return artifact('predictions', meta, {
    yTrue: ndarray(Float32Array.from(cols.yTrue)),
    yPred: ndarray(Float32Array.from(cols.yPred)),
    subject: ndarray(Int32Array.from(cols.subject)),
    group: ndarray(Int32Array.from(cols.group)),
    split: ndarray(Int8Array.from(cols.split)),
  });
}

const modelMeta: ModelMeta & { training: JsonObject } = {
  architecture: 'ppg-gpt',
  config: { preset: 'tiny', windowLength: 80, fs: 40, dModel: 16, nLayers: 2 },
  inputSpec: { modality: 'ppg', fs: 40, length: 80, channels: 1, signals: ['ppg'], processing: [] },
  task: 'regression',
  target: { name: 'hr', units: 'bpm' },
  groups: { attributes: ['sex'], names: ['female', 'male'] },
  parameterCount: 1000,
  trainableParameterCount: 1000,
  method: 'group-dro',
  training: { strategy: { name: 'group-dro', params: {} }, epochs: 1, batchSize: 8, learningRate: 0.001, seed: 7 },
};

const METRICS = { bootstrap: { replicates: 5 }, minSubjects: 2 };
let erm: Artifact;
let dro: Artifact;
const predErm = predictions('erm', 3);
const predDro = predictions('group-dro', 1);

beforeAll(async () => {
  erm = (await runStandalone(plugin('eval.metrics'), { params: METRICS, inputs: { predictions: predErm }, seed: 5 })).outputs['metrics']!;
  dro = (await runStandalone(plugin('eval.metrics'), { params: METRICS, inputs: { predictions: predDro }, seed: 5 })).outputs['metrics']!;
});

const stageCases: Record<string, () => StageSample> = {
  'eval.metrics': () => ({ params: METRICS, inputs: { predictions: predErm }, seed: 5 }),
  'report.compare': () => ({ params: { baseline: 'erm' }, inputs: { metrics: [erm, dro] } }),
  'report.model-card': () => ({ inputs: { model: artifact('model', modelMeta), metrics: [dro], predictions: predDro } }),
};

const strategyCases: Record<string, NestedSample> = {
  'inverse-frequency': {},
  'group-dro': {},
  'group-reweight': {},
  adversarial: {},
};

describe('plugins-fairness stages and training strategies conform', () => {
  it('has a conformance case for every stage type and strategy the package registers', () => {
    expect(Object.keys(stageCases).sort()).toEqual(registry.types().sort());
    expect(Object.keys(strategyCases).sort()).toEqual(strategies().map((s) => s.name).sort());
  });

  for (const [type, sample] of Object.entries(stageCases)) {
    it(type, async () => {
      await expectConformance(checkStageConformance(plugin(type), sample()));
    });
  }

  for (const [name, sample] of Object.entries(strategyCases)) {
    it(`training strategy ${name}`, () => {
      expect(checkNestedConformance(TRAINING_STRATEGY_KIND.kind, strategies().find((s) => s.name === name)!, sample).failures).toEqual([]);
    });
  }
});
