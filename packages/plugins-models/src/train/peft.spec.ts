import { initEngine } from '../engine/backend.js';
import { PRESETS, backboneSpecs, countParameters, taskHeadSpecs, type PpgGptConfig } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';
import { readSamples, splitIndices } from './data.js';
import { finetune, type FinetuneConfig } from './finetune.js';
import { resolveMask } from './peft.js';
import { makeSamples } from '../test-utils/fixtures.js';

const TINY: PpgGptConfig = { ...PRESETS.tiny, windowLength: 80, patchSize: 20, dModel: 16, nHeads: 2, nLayers: 2, dropout: 0, attentionDropout: 0 };

beforeAll(async () => {
  await initEngine();
});

describe('PEFT masks', () => {
  const specs = backboneSpecs(PRESETS.small);

  it('resolves presets and the FairTune bitstring layout', () => {
    const names = (m: string) => [...resolveMask(m, specs, 4).trainable].sort();
    // The Logit-Laplace head `head.lm` trains only with the auxiliary term (FairTune: task head only).
    expect(names('linear-readout')).toEqual([]);
    expect([...resolveMask('linear-readout', specs, 4, { auxiliary: true }).trainable].sort()).toEqual(['head.lm.b', 'head.lm.w']);
    expect(names('layernorm').filter((n) => !n.startsWith('head'))).toEqual(['blocks.0.norm.attn', 'blocks.0.norm.mlp', 'blocks.1.norm.attn', 'blocks.1.norm.mlp', 'blocks.2.norm.attn', 'blocks.2.norm.mlp', 'blocks.3.norm.attn', 'blocks.3.norm.mlp']);
    expect(names('bitfit').every((n) => n.startsWith('head') || /\.(b|b1|b2|bqkv|bo)$/.test(n))).toBe(true);
    expect(names('attention').filter((n) => !n.startsWith('head')).every((n) => n.includes('.attention.'))).toBe(true);
    // bits: block 0 mlp (bit 2), block 2 norm (bit 6), block 3 attention (bit 10).
    expect(names('001000100010').filter((n) => !n.startsWith('head'))).toEqual([
      'blocks.0.mlp.b1', 'blocks.0.mlp.b2', 'blocks.0.mlp.w1', 'blocks.0.mlp.w2',
      'blocks.2.norm.attn', 'blocks.2.norm.mlp',
      'blocks.3.attention.bo', 'blocks.3.attention.bqkv', 'blocks.3.attention.wo', 'blocks.3.attention.wqkv',
    ]);
    const full = resolveMask('full', specs, 4);
    expect(full.trainableCount + countParameters(specs.filter((s) => s.name.startsWith('head.lm')))).toBe(full.totalCount);
    expect(() => resolveMask('0101', specs, 4)).toThrow(/needs 3·4 = 12 bits/);
    expect(() => resolveMask('half', specs, 4)).toThrow(/neither a preset/);
    expect(() => resolveMask('0101', specs, 4)).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'mask' } }));
    expect(() => resolveMask('attention:101', specs, 4)).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'mask' } }));
  });

  it('counts the task head as trainable and the auxiliary head.lm separately', () => {
    const withTask = [...specs, ...taskHeadSpecs(PRESETS.small, 'mean')];
    const taskHead = countParameters(taskHeadSpecs(PRESETS.small, 'mean'));
    const lm = countParameters(specs.filter((s) => s.name.startsWith('head.lm')));
    const plain = resolveMask('linear-readout', withTask, 4);
    expect([plain.trainableCount, plain.auxiliaryCount, plain.totalCount]).toEqual([taskHead, 0, countParameters(withTask)]);
    const aux = resolveMask('linear-readout', withTask, 4, { auxiliary: true });
    expect([aux.trainableCount, aux.auxiliaryCount]).toEqual([taskHead, lm]);
    const full = resolveMask('full', withTask, 4, { auxiliary: true });
    expect(full.trainableCount + full.auxiliaryCount).toBe(full.totalCount);
  });

  it.each([
    ['linear-readout', (n: string) => n.startsWith('head.task')],
    ['010001', (n: string) => n.startsWith('head.task') || n.startsWith('blocks.0.attention') || n.startsWith('blocks.1.mlp')],
    ['bitfit', (n: string) => n.startsWith('head.task') || (/\.(b|b1|b2|bqkv|bo)$/.test(n) && !n.startsWith('head.lm'))],
  ])('mask %s: exactly the trainable variables change, frozen ones get no optimiser state', async (mask, shouldChange) => {
    // 15 training samples → batches of 8 and 7: an odd batch keeps the L1 bias gradient (a sign count) non-zero.
    const data = readSamples(makeSamples({ n: 24 }), TINY);
    const model = PpgGpt.create(TINY, 3);
    model.addTaskHead('mean', 4);
    const before = model.toArrays();
    const events: Array<[string, number]> = [];
    const cfg: FinetuneConfig = {
      task: 'regression', pooling: 'mean', mask, optimizer: 'adam', learningRate: 1e-2, minLearningRate: 0, weightDecay: 0.01,
      warmupSteps: 0, epochs: 1, batchSize: 8, gradClipNorm: 1, patience: 0, selectionMetric: 'auto', auxWeight: 0,
      auxSchedule: 'anneal', standardizeTarget: true, seed: 1, trainIndices: splitIndices(data, 'train'), validationIndices: new Int32Array(0), evalBatchSize: 8,
    };
    const result = await finetune(model, data, cfg, {}, ['female', 'male'], {
      progress: () => {}, log: () => {}, checkpoint: async () => {},
      metric: (name, value) => events.push([name, value]),
    });
    const after = model.toArrays();
    for (const name of Object.keys(before)) {
      const changed = before[name]!.data.some((v, i) => v !== after[name]!.data[i]);
      expect([name, changed]).toEqual([name, shouldChange(name)]);
    }
    // auxWeight 0: head.lm is frozen, so every trainable variable gets a gradient and optimiser state.
    expect([...result.mask.trainable].some((n) => n.startsWith('head.lm'))).toBe(false);
    expect(events.find(([n]) => n === 'optimizer_state_variables')![1]).toBe(result.mask.trainable.size);
    expect(events.find(([n]) => n === 'parameters_trainable')![1]).toBe(result.mask.trainableCount);
    expect(events.find(([n]) => n === 'parameters_trainable_auxiliary')![1]).toBe(0);
    model.dispose();
  });

  it('with the auxiliary Logit-Laplace term, head.lm trains too and is reported separately', async () => {
    const data = readSamples(makeSamples({ n: 24 }), TINY);
    const model = PpgGpt.create(TINY, 3);
    model.addTaskHead('mean', 4);
    const before = model.toArrays();
    const events: Array<[string, number]> = [];
    const cfg: FinetuneConfig = {
      task: 'regression', pooling: 'mean', mask: 'linear-readout', optimizer: 'adam', learningRate: 1e-2, minLearningRate: 0, weightDecay: 0,
      warmupSteps: 0, epochs: 1, batchSize: 8, gradClipNorm: 1, patience: 0, selectionMetric: 'auto', auxWeight: 1,
      auxSchedule: 'constant', standardizeTarget: true, seed: 1, trainIndices: splitIndices(data, 'train'), validationIndices: new Int32Array(0), evalBatchSize: 8,
    };
    const result = await finetune(model, data, cfg, {}, ['female', 'male'], {
      progress: () => {}, log: () => {}, checkpoint: async () => {},
      metric: (name, value) => events.push([name, value]),
    });
    const after = model.toArrays();
    for (const name of Object.keys(before)) {
      const changed = before[name]!.data.some((v, i) => v !== after[name]!.data[i]);
      expect([name, changed]).toEqual([name, name.startsWith('head.')]);
    }
    const lm = before['head.lm.w']!.data.length + before['head.lm.b']!.data.length;
    const task = Object.keys(before).filter((n) => n.startsWith('head.task')).reduce((k, n) => k + before[n]!.data.length, 0);
    expect(events.find(([n]) => n === 'parameters_trainable')![1]).toBe(task);
    expect(events.find(([n]) => n === 'parameters_trainable_auxiliary')![1]).toBe(lm);
    expect(result.mask.trainableCount).toBe(task);
    // `anneal` over one epoch gives the auxiliary term weight 0 throughout: head.lm stays frozen.
    const annealed: Array<[string, number]> = [];
    await finetune(model, data, { ...cfg, auxSchedule: 'anneal' }, {}, ['female', 'male'], {
      progress: () => {}, log: () => {}, checkpoint: async () => {},
      metric: (name, value) => annealed.push([name, value]),
    });
    expect(annealed.find(([n]) => n === 'parameters_trainable_auxiliary')![1]).toBe(0);
    model.dispose();
  });
});
