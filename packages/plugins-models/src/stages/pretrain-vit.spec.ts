import { outputOf, runStandalone, type Artifact, type KindArtifact, type StageEvent } from '@fairtune/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VitModelStage } from './model-vit.js';
import { PretrainStage } from './pretrain.js';
import { FinetuneStage } from './finetune.js';
import { makeSamples, runFinetune, TINY_PARAMS } from '../test-utils/fixtures.js';
import { PpgGptModelStage } from './model-ppg-gpt.js';
import { makeImageSamples } from '../test-utils/image-fixtures.js';
import { writeSafetensors } from '../io/safetensors.js';
import { VIT_PRESETS } from '../vit/config.js';
import { Vit } from '../vit/model.js';

const metrics = (events: StageEvent[], name: string) => events.flatMap((e) => (e.type === 'metric' && e.name === name ? [e.value] : []));
const logs = (events: StageEvent[]) => events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
const same = (a: Artifact, b: Artifact, k: string) => Array.from(a.arrays[k]!.data).every((v, i) => v === b.arrays[k]!.data[i]);

/** A separate cohort (another seed, no split array), as the pipelines feed the other dataset. */
function unsplit(a: KindArtifact<'samples'>): KindArtifact<'samples'> {
  const { split: _s, group: _g, ...arrays } = a.arrays;
  const { splits: _sp, groups: _gr, ...meta } = a.meta;
  return { ...a, meta: { ...meta, name: 'other-cohort' }, arrays };
}

const PT = { epochs: 8, batchSize: 16, learningRate: 2e-3, warmupSteps: 5, seed: 5 } as const;
let random: Artifact;
let pretrained: KindArtifact<'backbone'>;
let pretrainEvents: StageEvent[];

beforeAll(async () => {
  random = (await runStandalone(new VitModelStage(), { params: { preset: 'tiny', seed: 1 } })).outputs['backbone']!;
  const r = await runStandalone(new PretrainStage(), { inputs: { backbone: random, samples: unsplit(makeImageSamples({ n: 128, seed: 9 })) }, params: PT });
  pretrained = outputOf(r, 'backbone', 'backbone');
  pretrainEvents = r.events;
}, 120_000);

describe('train.pretrain on a ViT (supervised)', () => {
  it('trains every weight on the whole separate cohort, lowers the BCE, and records what it saw', () => {
    const losses = metrics(pretrainEvents, 'train_loss');
    expect(losses).toHaveLength(8);
    expect(losses[7]!).toBeLessThan(losses[0]! - 0.2);
    for (const k of ['patch_embed.proj.weight', 'pos_embed', 'cls_token', 'blocks.0.attn.qkv.weight', 'blocks.3.mlp.fc2.weight', 'norm.weight']) expect(same(pretrained, random, k)).toBe(false);
    const meta = pretrained.meta;
    expect(meta.architecture).toBe('vit');
    expect((meta.config as { preset: string }).preset).toBe('tiny');
    expect(meta.pretraining).toMatchObject({ objective: 'supervised-bce', samples: 'other-cohort', images: 128, positives: 64, split: null, epochs: 8 });
    expect(logs(pretrainEvents).join('\n')).toMatch(/no split array: pretraining on all 128 images/);
  });

  it('transfers: a linear readout on new data learns more from the pretrained backbone than from the random one', async () => {
    // Downstream images from another seed; only the head trains, so the features decide.
    const samples = makeImageSamples({ n: 48, seed: 1 });
    const readout = (backbone: Artifact) =>
      runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { epochs: 3, batchSize: 8, learningRate: 1e-2, evalBatchSize: 16, seed: 3, mask: 'linear-readout', selection: 'last' } });
    const fromPretrained = await readout(pretrained);
    const fromRandom = await readout(random);
    const lastLoss = (r: { events: StageEvent[] }) => metrics(r.events, 'train_loss').at(-1)!;
    // Measured: 0.06 vs 0.68 train BCE, validation AUC 1 vs 0.56.
    expect(lastLoss(fromPretrained)).toBeLessThan(lastLoss(fromRandom) - 0.3);
    expect(metrics(fromPretrained.events, 'val_auc').at(-1)!).toBeGreaterThan(metrics(fromRandom.events, 'val_auc').at(-1)! + 0.2);
  }, 120_000);

  it('pretrains on the training split only when the samples are split: validation and test images do not reach the backbone', async () => {
    const samples = makeImageSamples({ n: 48, seed: 2 });
    const split = samples.arrays['split']!.data as Int8Array;
    // The same samples with every validation/test image replaced by noise and its label flipped.
    const x = Uint8Array.from(samples.arrays['x']!.data as Uint8Array);
    const y = Float32Array.from(samples.arrays['y']!.data as Float32Array);
    const px = x.length / 48;
    for (let i = 0; i < 48; i++) if (split[i] !== 0) {
      for (let k = 0; k < px; k++) x[i * px + k] = (k * 37 + i * 11) % 256;
      y[i] = 1 - y[i]!;
    }
    const tampered: Artifact = { ...samples, arrays: { ...samples.arrays, x: { ...samples.arrays['x']!, data: x }, y: { ...samples.arrays['y']!, data: y } } };
    const run = (s: Artifact) => runStandalone(new PretrainStage(), { inputs: { backbone: random, samples: s }, params: { ...PT, epochs: 1 } });
    const a = await run(samples);
    const b = await run(tampered);
    const train = Array.from(split).filter((s) => s === 0).length;
    expect(outputOf(a, 'backbone', 'backbone').meta.pretraining).toMatchObject({ images: train, split: 'train' });
    for (const k of ['blocks.0.attn.qkv.weight', 'patch_embed.proj.weight', 'head.weight']) expect(same(a.outputs['backbone']!, b.outputs['backbone']!, k)).toBe(true);
  }, 120_000);

  it('passes a backbone loaded from a weights file through unchanged (onWeights skip, the default), pretrains it with onWeights pretrain', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vit-pt-')), 'timm.safetensors');
    const src = Vit.create({ ...VIT_PRESETS.tiny, numClasses: 1000 }, 4);
    writeSafetensors(file, src.toArrays());
    src.dispose();
    const loaded = outputOf(await runStandalone(new VitModelStage(), { params: { preset: 'tiny', weights: file, seed: 2 } }), 'backbone', 'backbone');
    expect(loaded.meta.weights!.file).toBe(file);
    const samples = unsplit(makeImageSamples({ n: 32, seed: 9 }));
    const skip = await runStandalone(new PretrainStage(), { inputs: { backbone: loaded, samples }, params: PT });
    expect(logs(skip.events).join('\n')).toMatch(/weights come from .*timm\.safetensors: pretraining skipped/);
    expect(metrics(skip.events, 'train_loss')).toHaveLength(0);
    for (const k of Object.keys(loaded.arrays)) expect(same(skip.outputs['backbone']!, loaded, k)).toBe(true);
    const on = await runStandalone(new PretrainStage(), { inputs: { backbone: loaded, samples }, params: { ...PT, epochs: 1, onWeights: 'pretrain' } });
    expect(same(on.outputs['backbone']!, loaded, 'blocks.0.attn.qkv.weight')).toBe(false);
    expect((outputOf(on, 'backbone', 'backbone').meta.pretraining!['startedFrom'] as { file: string }).file).toBe(file);
  }, 120_000);

  it('model.vit takes weights "" (an unset ${FAIRTUNE_VIT_WEIGHTS:-}) as no file', async () => {
    const r = await runStandalone(new VitModelStage(), { params: { preset: 'tiny', weights: '', seed: 1 } });
    const b = outputOf(r, 'backbone', 'backbone');
    expect(b.meta.weights).toBeUndefined();
    expect(same(b, random, 'blocks.2.mlp.fc1.weight')).toBe(true);
  });

  it('refuses a single-class pretraining set and a split the samples lack', async () => {
    const s = unsplit(makeImageSamples({ n: 16, seed: 9 }));
    const ones: Artifact = { ...s, arrays: { ...s.arrays, y: { ...s.arrays['y']!, data: new Float32Array(16).fill(1) } } };
    await expect(runStandalone(new PretrainStage(), { inputs: { backbone: random, samples: ones }, params: PT })).rejects.toThrow(/the 16 pretraining images are all 1; supervised pretraining needs both classes/);
    await expect(runStandalone(new PretrainStage(), { inputs: { backbone: random, samples: s }, params: { ...PT, split: 'train' } })).rejects.toThrow(/params\.split: samples "other-cohort" have no split array/);
  });

  it('PPG-GPT: a backbone loaded from a weights file passes through (onWeights skip, the default); a seeded one is pretrained whatever onWeights says', async () => {
    const seeded = outputOf(await runStandalone(new PpgGptModelStage(), { params: { ...TINY_PARAMS, seed: 1 } }), 'backbone', 'backbone');
    expect(seeded.meta.weights).toBeUndefined();
    const samples = makeSamples();
    const trained = await runStandalone(new PretrainStage(), { inputs: { backbone: seeded, samples }, params: { epochs: 1, onWeights: 'skip' } });
    expect(metrics(trained.events, 'train_step_loss').length).toBeGreaterThan(0);
    expect(same(trained.outputs['backbone']!, seeded, 'blocks.0.attention.wqkv')).toBe(false);

    const file = join(mkdtempSync(join(tmpdir(), 'ppg-pt-')), 'ppg.safetensors');
    writeSafetensors(file, seeded.arrays, { config: JSON.stringify({ ...TINY_PARAMS, preset: undefined }) });
    const model = new PpgGptModelStage();
    const loaded = outputOf(await runStandalone(model, { params: { ...TINY_PARAMS, weights: file } }), 'backbone', 'backbone');
    expect(loaded.meta.weights!.file).toBe(file);
    // The record joined the key: a backbone cached before it existed is not reused.
    expect(await model.fingerprint({ ...TINY_PARAMS, weights: file } as never)).toMatch(/^recorded\u0000/);
    const skip = await runStandalone(new PretrainStage(), { inputs: { backbone: loaded, samples }, params: { epochs: 1 } });
    expect(logs(skip.events).join('\n')).toMatch(/weights come from .*ppg\.safetensors: pretraining skipped/);
    for (const k of Object.keys(loaded.arrays)) expect(same(skip.outputs['backbone']!, loaded, k)).toBe(true);
    const on = await runStandalone(new PretrainStage(), { inputs: { backbone: loaded, samples }, params: { epochs: 1, onWeights: 'pretrain' } });
    expect(same(on.outputs['backbone']!, loaded, 'blocks.0.attention.wqkv')).toBe(false);
  }, 120_000);
});
