import { outputOf, runStandalone, type Artifact, type KindArtifact, type StageEvent } from '@fairtune/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VitModelStage } from './model-vit.js';
import { FinetuneStage } from './finetune.js';
import { PredictStage } from './predict.js';
import { runFinetune } from '../test-utils/fixtures.js';
import { makeImageSamples } from '../test-utils/image-fixtures.js';
import { writeSafetensors } from '../io/safetensors.js';
import { VIT_PRESETS } from '../vit/config.js';
import { Vit } from '../vit/model.js';

const metrics = (events: StageEvent[], name: string) => events.filter((e): e is Extract<StageEvent, { type: 'metric' }> => e.type === 'metric' && e.name === name);
const logs = (events: StageEvent[]) => events.flatMap((e) => (e.type === 'log' ? [e.message] : []));

let backbone: KindArtifact<'backbone'>;
const samples = makeImageSamples({ n: 48 });
const FT = { epochs: 3, batchSize: 8, learningRate: 1e-3, evalBatchSize: 16, seed: 3 } as const;

beforeAll(async () => {
  const r = await runStandalone(new VitModelStage(), { params: { preset: 'tiny', seed: 1 } });
  backbone = outputOf(r, 'backbone', 'backbone');
});

describe('model.vit', () => {
  it("emits a backbone with timm's names and shapes and the ViT meta", () => {
    const meta = backbone.meta;
    expect(meta.architecture).toBe('vit');
    expect((meta.config as { nLayers: number }).nLayers).toBe(4);
    expect(backbone.arrays['blocks.3.attn.qkv.weight']!.shape).toEqual([192, 64]);
    expect(backbone.arrays['patch_embed.proj.weight']!.shape).toEqual([64, 3, 8, 8]);
    expect(meta.parameterCount).toBe(Object.values(backbone.arrays).reduce((n, a) => n + a.data.length, 0));
  });

  it('imports a timm-style file at another image size: pos_embed resampled, 1000-class head replaced, extras reported', async () => {
    const big = Vit.create({ ...VIT_PRESETS.tiny, imageSize: 64, numClasses: 1000 }, 5);
    const file = join(mkdtempSync(join(tmpdir(), 'vit-')), 'w.safetensors');
    writeSafetensors(file, { ...big.toArrays(), 'fc_norm.weight': big.toArrays()['norm.weight']! });
    const r = await runStandalone(new VitModelStage(), { params: { preset: 'tiny', weights: file, seed: 2 } });
    const out = r.outputs['backbone']!;
    expect(out.arrays['pos_embed']!.shape).toEqual([1, 17, 64]);
    expect(out.arrays['head.weight']!.shape).toEqual([1, 64]);
    expect(Array.from(out.arrays['blocks.0.mlp.fc1.weight']!.data)).toEqual(Array.from(big.toArrays()['blocks.0.mlp.fc1.weight']!.data));
    const l = logs(r.events).join('\n');
    expect(l).toMatch(/not used by the model: fc_norm\.weight/);
    expect(l).toMatch(/resampled from a 8² to a 4² patch grid/);
    expect(l).toMatch(/new head/);
    big.dispose();
  });
});

describe('train.finetune + eval.predict on a ViT', () => {
  it('learns the synthetic lesions, reports val_worst_group_auc per epoch, selects on it, and predicts probabilities', async () => {
    const r = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { ...FT, mask: 'full' } });
    const worst = metrics(r.events, 'val_worst_group_auc');
    expect(worst).toHaveLength(3);
    expect(worst.map((e) => e.epoch)).toEqual([0, 1, 2]);
    const model = outputOf(r, 'model', 'model');
    const meta = model.meta;
    expect(meta.architecture).toBe('vit');
    expect(meta.selectionMetric).toBe('worst-group-auc');
    const best = Math.max(...worst.map((e) => e.value));
    expect(worst[meta.bestEpoch!]!.value).toBe(best);
    expect(meta.inputSpec.image?.mean).toEqual([0.485, 0.456, 0.406]);
    const losses = metrics(r.events, 'train_loss').map((e) => e.value);
    expect(losses[2]!).toBeLessThan(losses[0]!);
    const pred = r.outputs['predictions']!.arrays['yPred']!.data;
    expect(Array.from(pred).every((p) => p > 0 && p < 1)).toBe(true);
    expect(r.outputs['embeddings']!.arrays['z']!.shape).toEqual([48, 64]);
    const p = await runStandalone(new PredictStage(), { inputs: { model, data: samples }, params: {} });
    expect(Array.from(p.outputs['predictions']!.arrays['yPred']!.data)).toEqual(Array.from(pred));
  }, 120_000);

  it('masks freeze what they should; selection last keeps the last epoch; augmentation is seeded', async () => {
    const bits = '000' + '010' + '000' + '000';
    const run = (extra: object) => runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { ...FT, epochs: 2, ...extra } });
    const a = await run({ mask: bits, selection: 'last' });
    const m = outputOf(a, 'model', 'model');
    const same = (k: string) => Array.from(m.arrays[k]!.data).every((v, i) => v === backbone.arrays[k]!.data[i]);
    expect(same('blocks.1.attn.qkv.weight')).toBe(false);
    for (const k of ['blocks.0.attn.qkv.weight', 'blocks.1.norm1.weight', 'blocks.1.mlp.fc1.weight', 'pos_embed', 'cls_token', 'patch_embed.proj.weight', 'norm.weight']) expect(same(k)).toBe(true);
    expect(m.meta.bestEpoch).toBe(1);
    expect(metrics(a.events, 'parameters_trainable')[0]!.value).toBe(3 * 64 * 64 + 3 * 64 + 64 * 64 + 64 + 65);
    const b = await run({ mask: bits, selection: 'last' });
    expect(Array.from(b.outputs['model']!.arrays['blocks.1.attn.qkv.weight']!.data)).toEqual(Array.from(m.arrays['blocks.1.attn.qkv.weight']!.data));
    const c = await run({ mask: bits, selection: 'last', augment: false });
    expect(Array.from(c.outputs['model']!.arrays['blocks.1.attn.qkv.weight']!.data)).not.toEqual(Array.from(m.arrays['blocks.1.attn.qkv.weight']!.data));
  }, 120_000);

  it('fails early with the memory message for ViT-B/16 at batch 32 on wasm, before building it', async () => {
    // A backbone artifact that only declares ViT-B/16: the guard must throw before any array is read.
    const fake: Artifact = { ...backbone, meta: { ...backbone.meta, config: { ...VIT_PRESETS['vit-b16'], nLayers: 12 } }, arrays: {} };
    await expect(runFinetune(new FinetuneStage(), { inputs: { backbone: fake, samples }, params: { ...FT, batchSize: 32 } })).rejects.toThrow(/4 GiB wasm32 heap.*@tensorflow\/tfjs-node/);
  });
});
