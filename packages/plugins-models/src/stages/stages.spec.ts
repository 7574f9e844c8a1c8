import * as tf from '@tensorflow/tfjs';
import { outputOf, runStandalone, type Artifact, type KindArtifact, type StageEvent, type TrainingStrategyPlugin, type BatchInfo, type EpochInfo } from '@fairtune/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PpgGptModelStage } from './model-ppg-gpt.js';
import { PretrainStage } from './pretrain.js';
import { FinetuneStage } from './finetune.js';
import { PredictStage } from './predict.js';
import { TINY_PARAMS, makeSamples, runFinetune } from '../test-utils/fixtures.js';
import { writeSafetensors } from '../ppg-gpt/weights.js';

const metrics = (events: StageEvent[], name: string) => events.filter((e): e is Extract<StageEvent, { type: 'metric' }> => e.type === 'metric' && e.name === name);

let backbone: KindArtifact<'backbone'>;
const samples = makeSamples({ n: 24 });

beforeAll(async () => {
  const r = await runStandalone(new PpgGptModelStage(), { params: { ...TINY_PARAMS, seed: 1 } });
  backbone = outputOf(r, 'backbone', 'backbone');
  expect(r.events).toContainEqual({ type: 'environment', key: 'tensorBackend', value: 'wasm' });
});

const FT = { epochs: 2, batchSize: 8, learningRate: 3e-3, pooling: 'mean', warmupSteps: 1 } as const;

describe('model.ppg-gpt', () => {
  it('stores one float32 array per variable and ModelMeta', () => {
    const meta = backbone.meta;
    expect(meta.architecture).toBe('ppg-gpt');
    expect(meta.inputSpec).toEqual({ modality: 'ppg', fs: 40, length: 80, channels: 1 });
    const total = Object.values(backbone.arrays).reduce((n, a) => n + a.data.length, 0);
    expect(meta.parameterCount).toBe(total);
    expect(backbone.arrays['blocks.1.attention.wqkv']!.shape).toEqual([16, 48]);
  });

  it('loads a safetensors weights file, taking sizes from its metadata', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'w-')), 'w.safetensors');
    const { preset: _preset, ...sizes } = TINY_PARAMS;
    writeSafetensors(file, backbone.arrays, { config: JSON.stringify({ ...sizes, ffnMultiplier: 4, ropeTheta: 10000 }) });
    const r = await runStandalone(new PpgGptModelStage(), { params: { weights: file } });
    const loaded = r.outputs['backbone']!;
    expect(Array.from(loaded.arrays['blocks.0.mlp.w1']!.data)).toEqual(Array.from(backbone.arrays['blocks.0.mlp.w1']!.data));
    await expect(runStandalone(new PpgGptModelStage(), { params: { weights: join(tmpdir(), 'missing.safetensors') } })).rejects.toThrow(/missing.safetensors: cannot read/);
  });

  it('refuses 1b on WebAssembly before allocating it (4 GB of weights alone), naming tfjs-node', async () => {
    await expect(runStandalone(new PpgGptModelStage(), { params: { preset: '1b', backend: 'wasm' } })).rejects.toThrow(/preset "1b".*1007\.3M parameters.*@tensorflow\/tfjs-node/);
  });
});

describe('train.pretrain', () => {
  it('lowers the next-patch Logit-Laplace NLL', async () => {
    const r = await runStandalone(new PretrainStage(), { inputs: { backbone, samples }, params: { epochs: 6, batchSize: 8, learningRate: 3e-3, weightDecay: 0, seed: 2 } });
    const losses = metrics(r.events, 'train_loss').map((e) => e.value);
    expect(losses).toHaveLength(6);
    expect(losses[5]!).toBeLessThan(losses[0]!);
    expect(r.outputs['backbone']!.kind).toBe('backbone');
  });

  it('uses only the training split by default (no validation/test windows); every window when there is no split array', async () => {
    const run = async (s: Artifact, split?: string) => {
      const r = await runStandalone(new PretrainStage(), { inputs: { backbone, samples: s }, params: { epochs: 1, batchSize: 8, seed: 2, ...(split ? { split } : {}) } });
      const done = r.events.find((e): e is Extract<StageEvent, { type: 'log' }> => e.type === 'log' && e.message.startsWith('pretraining done'))!;
      return { windows: Number(/on (\d+) windows/.exec(done.message)![1]), steps: r.events.filter((e) => e.type === 'progress').length, logs: r.events.flatMap((e) => (e.type === 'log' ? [e.message] : [])) };
    };
    const byDefault = await run(samples);
    expect([byDefault.windows, byDefault.steps]).toEqual([15, 2]); // 15 of 24 windows are in "train"
    expect((await run(samples, 'test')).windows).toBe(3);
    const { split: _split, ...noSplit } = samples.arrays;
    const unsplit = await run({ ...samples, arrays: noSplit });
    expect([unsplit.windows, unsplit.steps]).toEqual([24, 3]);
    expect(unsplit.logs.some((m) => /no split array.*all 24 windows/.test(m))).toBe(true);
    await expect(run({ ...samples, arrays: noSplit }, 'validation')).rejects.toThrow(/no split array, so split "validation" cannot be selected/);
  });
});

describe('train.finetune', () => {
  it('trainFraction trains on a group-stratified subsample of the training subjects, and records it', async () => {
    const r = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { ...FT, mask: 'attention', trainFraction: 0.5 } });
    // 6 subjects, 3 per group, all in the training split: 2 per group kept (round(1.5)), 10 of 15 rows.
    const logs = r.events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
    expect(logs).toContain('trainFraction 0.5: training on 4 of 6 training subjects (female 2/3, male 2/3), 10 of 15 rows');
    expect(metrics(r.events, 'train_subjects').map((e) => e.value)).toEqual([4]);
    expect(outputOf(r, 'model', 'model').meta.training).toMatchObject({ trainFraction: 0.5 });
  });

  it('emits progress per step, metrics per epoch and all outputs with split/group/subject', async () => {
    const r = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { ...FT, mask: 'attention' } });
    const progress = r.events.filter((e) => e.type === 'progress');
    expect(progress).toHaveLength(2 * 2); // 15 train samples / batch 8 × 2 epochs
    for (const name of ['train_loss', 'val_loss', 'val_mae']) expect(metrics(r.events, name).map((e) => e.epoch)).toEqual([0, 1]);
    const meta = outputOf(r, 'model', 'model').meta;
    expect(meta.task).toBe('regression');
    expect(meta.trainableParameterCount).toBe(metrics(r.events, 'parameters_trainable')[0]!.value);
    expect(meta.trainableParameterCount!).toBeLessThan(meta.parameterCount);
    const pred = r.outputs['predictions']!;
    expect(pred.arrays['yPred']!.shape).toEqual([24]);
    expect(Array.from(pred.arrays['split']!.data)).toEqual(Array.from(samples.arrays['split']!.data));
    expect(Array.from(pred.arrays['group']!.data)).toEqual(Array.from(samples.arrays['group']!.data));
    expect(r.outputs['embeddings']!.arrays['z']!.shape).toEqual([24, 16]);
    // Regression predictions come back in target units (bpm), not standardised.
    const yp = Array.from(pred.arrays['yPred']!.data);
    expect(yp.reduce((a, b) => a + b, 0) / yp.length).toBeGreaterThan(40);
  });

  it('overfits a tiny batch', async () => {
    const tiny = makeSamples({ n: 8, seed: 4 });
    (tiny.arrays['split']!.data as Int8Array).fill(0);
    const r = await runFinetune(new FinetuneStage(), {
      inputs: { backbone, samples: tiny },
      params: { epochs: 60, batchSize: 8, learningRate: 1e-2, pooling: 'flatten', auxWeight: 0, weightDecay: 0, gradClipNorm: 0 },
    });
    const losses = metrics(r.events, 'train_loss').map((e) => e.value);
    expect(losses[losses.length - 1]!).toBeLessThan(0.15 * losses[0]!);
  });

  it('is deterministic for a seed', async () => {
    const run = async (seed: number) => (await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { ...FT, seed } })).outputs['predictions']!.arrays['yPred']!.data;
    expect(Array.from(await run(3))).toEqual(Array.from(await run(3)));
    expect(Array.from(await run(3))).not.toEqual(Array.from(await run(4)));
  });

  it('classification with BCE, and eval.predict reproduces the predictions from the saved model', async () => {
    const cls = makeSamples({ n: 24, task: 'classification', seed: 9 });
    const r = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples: cls }, params: { ...FT, patience: 1 } });
    expect(metrics(r.events, 'val_auc').length).toBeGreaterThan(0);
    const p = await runStandalone(new PredictStage(), { inputs: { model: r.outputs['model']!, data: cls } });
    expect(Array.from(p.outputs['predictions']!.arrays['yPred']!.data)).toEqual(Array.from(r.outputs['predictions']!.arrays['yPred']!.data));
    for (const v of p.outputs['predictions']!.arrays['yPred']!.data) expect(v >= 0 && v <= 1).toBe(true);
    const wrong = makeSamples({ n: 4, length: 120, fs: 60 });
    await expect(runStandalone(new PredictStage(), { inputs: { model: r.outputs['model']!, data: wrong } })).rejects.toThrow(/120 samples at 60 Hz but the model expects 80 samples at 40 Hz/);
  });

  it('applies every strategy hook (sampling weights, loss weights, callbacks, state)', async () => {
    const seen = { sampling: [] as number[], batches: [] as BatchInfo[], after: 0, epochs: [] as EpochInfo[] };
    const probe: TrainingStrategyPlugin = {
      name: 'probe',
      version: '1',
      description: 'test-only',
      paramsSchema: { type: 'object', additionalProperties: false, properties: { only: { type: 'integer', default: 0 } } },
      create: (init) => {
        expect(init.trainGroups).toHaveLength(15);
        expect(init.groupNames).toEqual(['female', 'male']);
        const only = init.params['only'] as number;
        return {
          samplingWeights: (epoch) => {
            seen.sampling.push(epoch);
            // All weight on one training sample: every drawn index must be it.
            return Float64Array.from({ length: 15 }, (_, i) => (i === only ? 1 : 0));
          },
          lossWeights: (b) => {
            seen.batches.push(b);
            return Float32Array.from(b.losses, (_, k) => (k === 0 ? 1 : 0));
          },
          afterStep: () => {
            seen.after++;
          },
          afterEpoch: (e) => {
            seen.epochs.push(e);
          },
          state: () => ({ calls: seen.after }),
        };
      },
    };
    const stage = new FinetuneStage([probe]);
    const r = await runFinetune(stage, { inputs: { backbone, samples }, params: { ...FT, strategy: { name: 'probe', params: { only: 5 } } } });
    expect(seen.sampling).toEqual([0, 1]);
    expect(seen.after).toBe(4);
    for (const b of seen.batches) {
      expect(Array.from(b.indices).every((i) => i === 5)).toBe(true);
      expect(b.losses).toHaveLength(b.indices.length);
    }
    expect(seen.epochs).toHaveLength(2);
    expect(seen.epochs[0]!.trainGroupLoss).toHaveLength(2);
    expect(seen.epochs[0]!.validation!.groupLoss).toHaveLength(2);
    expect(r.events.some((e) => e.type === 'log' && e.message.includes('strategy state: {"calls":2}'))).toBe(true);
    expect(r.outputs['predictions']!.meta).toMatchObject({ method: 'probe' });
    // Strategy names and params are checked before the stage runs (at validation; here by runStandalone), once, by core.
    await expect(runFinetune(stage, { inputs: { backbone, samples }, params: { ...FT, strategy: { name: 'probe', params: { only: 'x' } } } })).rejects.toThrow(
      'invalid params for train.finetune:\n  params/strategy/params/only: must be of type integer (training-strategy probe)',
    );
    await expect(runFinetune(stage, { inputs: { backbone, samples }, params: { ...FT, strategy: { name: 'nope', params: {} } } })).rejects.toThrow(
      'params/strategy/name: unknown training-strategy "nope"; known training-strategy plugins: erm, probe',
    );
  });

  it('lossWeights: all weight on one sample gives the same update as training on that sample alone', async () => {
    const k = 4; // position of the weighted sample in the training split
    const train = Array.from(samples.arrays['split']!.data).flatMap((s, i) => (s === 0 ? [i] : []));
    const batches: BatchInfo[] = [];
    const oneHot: TrainingStrategyPlugin = {
      name: 'one-hot',
      version: '1',
      description: 'test-only',
      paramsSchema: { type: 'object' },
      create: () => ({
        lossWeights: (b) => {
          batches.push(b);
          return Float32Array.from(b.indices, (i) => (i === k ? 1 : 0));
        },
      }),
    };
    // One step over the whole training split; no clipping, decay or auxiliary term, so the update depends on the task gradient only.
    const params = { epochs: 1, batchSize: 15, learningRate: 1e-2, pooling: 'mean', mask: 'linear-readout', auxWeight: 0, weightDecay: 0, gradClipNorm: 0, standardizeTarget: false } as const;
    const weighted = await runFinetune(new FinetuneStage([oneHot]), { inputs: { backbone, samples }, params: { ...params, strategy: { name: 'one-hot', params: {} } } });
    expect(batches).toHaveLength(1);
    expect(batches[0]!.indices).toHaveLength(15);
    const at = Array.from(batches[0]!.indices).indexOf(k);
    // The reported loss is that sample's loss, not the batch mean.
    expect(metrics(weighted.events, 'train_step_loss')[0]!.value).toBeCloseTo(batches[0]!.losses[at]!, 5);
    // Reference: a training split holding only that sample (ERM weight 1/B = 1); the others move to "test".
    const split = Int8Array.from(samples.arrays['split']!.data as Int8Array, (s, i) => (s === 0 && i !== train[k] ? 2 : s));
    const alone = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples: { ...samples, arrays: { ...samples.arrays, split: { ...samples.arrays['split']!, data: split } } } }, params });
    const a = weighted.outputs['model']!.arrays;
    const b = alone.outputs['model']!.arrays;
    const start = backbone.arrays;
    for (const name of Object.keys(b)) {
      b[name]!.data.forEach((v, i) => {
        const diff = Math.abs(a[name]!.data[i]! - v);
        if (diff > 1e-6 + 1e-5 * Math.abs(v)) throw new Error(`${name}[${i}]: one-hot weighted step gives ${a[name]!.data[i]}, single-sample step ${v}`);
      });
    }
    // The task head did move (the comparison is not between two untouched models).
    expect(b['head.task.b']!.data[0]).not.toBe(0);
    expect(Array.from(a['blocks.0.mlp.w1']!.data)).toEqual(Array.from(start['blocks.0.mlp.w1']!.data));
  });

  it('trains an adversary in gradient-reversal and projection modes', async () => {
    for (const mode of ['gradient-reversal', 'projection'] as const) {
      const lambdas: number[] = [];
      const adv: TrainingStrategyPlugin = {
        name: 'adv',
        version: '1',
        description: 'test-only',
        paramsSchema: { type: 'object' },
        create: () => ({ adversary: { mode, hiddenUnits: 8, learningRate: 1e-2, lambda: (p) => (lambdas.push(p), 0.5) } }),
      };
      const r = await runFinetune(new FinetuneStage([adv]), { inputs: { backbone, samples }, params: { ...FT, strategy: { name: 'adv', params: {} } } });
      expect(lambdas).toHaveLength(4);
      expect(lambdas[0]).toBe(0);
      expect(lambdas[3]).toBe(1);
      for (const e of metrics(r.events, 'train_step_loss')) expect(Number.isFinite(e.value)).toBe(true);
      // The adversary pushes the encoder differently than ERM does.
      const erm = await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: FT });
      expect(Array.from(r.outputs['predictions']!.arrays['yPred']!.data)).not.toEqual(Array.from(erm.outputs['predictions']!.arrays['yPred']!.data));
    }
  });

  it('keeps tf.memory().numTensors flat over many steps', async () => {
    const before: number[] = [];
    const r = await runFinetune(new FinetuneStage(), {
      inputs: { backbone, samples },
      params: { ...FT, epochs: 12, batchSize: 4, auxWeight: 1 },
    });
    // Sampled through the per-step metric stream: the trainer emits learning_rate after each update.
    expect(metrics(r.events, 'learning_rate')).toHaveLength(48);
    before.push(tf.memory().numTensors);
    await runFinetune(new FinetuneStage(), { inputs: { backbone, samples }, params: { ...FT, epochs: 24, batchSize: 4, auxWeight: 1 } });
    expect(tf.memory().numTensors).toBe(before[0]);
  });
});
