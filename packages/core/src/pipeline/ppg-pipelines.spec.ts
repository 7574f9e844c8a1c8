import { describe, expect, it } from '@jest/globals';
import { resolve } from 'node:path';
import { createRegistry, openPipeline } from '../runtime.js';
import type { StageRegistry } from '../registry.js';
import type { ResolvedStage } from './validate.js';

// The PPG paper's pipelines (pipelines/ppg-*.json) validated with the installed plugins: the
// matrix expands to the stages the paper needs and shares every stage it can.
const root = resolve(process.cwd(), '../..');
let registry: StageRegistry | undefined;
const open = async (name: string, env: NodeJS.ProcessEnv = {}) => {
  registry ??= await createRegistry({ baseDir: root });
  return openPipeline(resolve(root, 'pipelines', `${name}.json`), { registry, env });
};
const byType = (stages: readonly ResolvedStage[]) => {
  const out: Record<string, number> = {};
  for (const s of stages) out[s.plugin.type] = (out[s.plugin.type] ?? 0) + 1;
  return out;
};
const sourcesOf = (s: ResolvedStage, port: string) => (s.inputs.find((b) => b.port === port)?.sources ?? []).map((x) => x.stage);

describe('pipelines/ppg-transfer-matrix.json', () => {
  it('expands to 3 sources x 5 methods x 3 targets with each dataset loaded once and one pretrained backbone', async () => {
    const { pipeline, warnings } = await open('ppg-transfer-matrix');
    expect(warnings).toEqual([]);
    expect(byType(pipeline.stages)).toEqual({
      'data.dalia': 1,
      'data.but-ppg': 1,
      'data.mimic': 1,
      'preprocess.bandpass': 3,
      'preprocess.resample': 3,
      'preprocess.window': 3,
      'preprocess.quality': 3,
      'split.subjects': 3,
      'groups.attributes': 3,
      'model.ppg-gpt': 1,
      'train.pretrain': 1,
      'train.finetune': 15,
      'eval.predict': 30,
      'eval.metrics': 45,
      'report.compare': 1,
    });
    expect(pipeline.stages).toHaveLength(114);
    const stage = (id: string) => {
      const s = pipeline.stages.find((x) => x.id === id);
      if (!s) throw new Error(`no stage ${id} (have ${pipeline.stages.map((x) => x.id).join(', ')})`);
      return s;
    };
    const from = (id: string, port: string) => sourcesOf(stage(id), port);
    // Pretrained once, on the MIMIC-format cohort's training subjects, and shared by every fine-tune.
    expect(from('pretrain', 'samples')).toEqual(['groups[source=mimic]']);
    const finetunes = pipeline.stages.filter((s) => s.plugin.type === 'train.finetune');
    expect(new Set(finetunes.flatMap((s) => sourcesOf(s, 'backbone')))).toEqual(new Set(['pretrain']));
    expect(from('finetune[source=but-ppg,method=group-dro]', 'samples')).toEqual(['groups[source=but-ppg]']);
    expect(stage('finetune[source=but-ppg,method=group-dro]').params['strategy']).toMatchObject({ name: 'group-dro' });
    // Each loader feeds its own preprocessing chain and the transfers to it, nothing else.
    expect(from('filter[source=but-ppg]', 'dataset')).toEqual(['but-ppg']);
    expect(stage('windows[source=but-ppg]').params['short']).toBe('tile');
    expect(stage('windows[source=dalia]').params['short']).toBe('drop');
    const readers = (id: string) => pipeline.stages.filter((s) => s.dependsOn.includes(id)).map((s) => s.id);
    expect(readers('but-ppg').sort()).toEqual(['filter[source=but-ppg]', ...['erm', 'if-sampling', 'group-dro', 'group-reweight', 'adversarial'].flatMap((m) => [`to-but-ppg[method=${m},source=dalia]`, `to-but-ppg[method=${m},source=mimic]`])].sort());
    // Six cross-dataset transfers per method, never a model evaluated by eval.predict on its own source.
    for (const s of pipeline.stages.filter((x) => x.plugin.type === 'eval.predict')) {
      const [model] = from(s.id, 'model');
      const [data] = from(s.id, 'data');
      expect(model).toMatch(/^finetune\[source=([a-z-]+),method=[a-z-]+\]$/);
      expect(model!.includes(`source=${data}`)).toBe(false);
      expect(s.id.startsWith(`to-${data}[`)).toBe(true);
    }
    expect(stage('metrics-to-mimic[method=adversarial,source=but-ppg]').params).toMatchObject({ split: null, label: 'adversarial', trainedOn: 'but-ppg' });
    expect(stage('metrics-test[source=mimic,method=erm]').params).toMatchObject({ split: 'test', label: 'erm', trainedOn: 'mimic' });
    expect(from('report', 'metrics')).toHaveLength(45);
  });
});

describe('pipelines/ppg-scaling.json', () => {
  it('repeats the MIMIC -> DaLiA pair over tiny, small and 19m: one backbone and pretraining per size, each dataset loaded once', async () => {
    const { pipeline, warnings } = await open('ppg-scaling');
    expect(warnings).toEqual([]);
    expect(byType(pipeline.stages)).toEqual({
      'data.dalia': 1,
      'data.mimic': 1,
      'preprocess.bandpass': 1,
      'preprocess.resample': 1,
      'preprocess.window': 1,
      'preprocess.quality': 1,
      'split.subjects': 1,
      'groups.attributes': 1,
      'model.ppg-gpt': 3,
      'train.pretrain': 3,
      'train.finetune': 3,
      'eval.predict': 3,
      'eval.metrics': 6,
      'report.compare': 1,
    });
    const presets = pipeline.stages.filter((s) => s.plugin.type === 'model.ppg-gpt').map((s) => [s.id, s.params['preset']]);
    expect(presets).toEqual([['backbone[size=tiny]', 'tiny'], ['backbone[size=small]', 'small'], ['backbone[size=19m]', '19m']]);
    const finetune = pipeline.stages.find((s) => s.id === 'finetune[source=mimic,size=19m]')!;
    expect(sourcesOf(finetune, 'backbone')).toEqual(['pretrain[size=19m]']);
    expect(sourcesOf(pipeline.stages.find((s) => s.id === 'to-dalia[size=19m,source=mimic]')!, 'data')).toEqual(['dalia']);
    expect(sourcesOf(pipeline.stages.find((s) => s.id === 'report')!, 'metrics')).toHaveLength(6);
  });
});
