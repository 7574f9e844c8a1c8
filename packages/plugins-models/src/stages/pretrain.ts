/**
 * `train.pretrain`: GPT next-patch pretraining of a PPG-GPT backbone with the Logit-Laplace
 * likelihood, or supervised pretraining of a ViT backbone on an image set (stages/pretrain-vit.ts).
 */
import { injectable } from 'inversify';
import { FairtuneError, requireInput, runAsync, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { backendParam, seedParam } from './params.js';
import { optimiserParams, type OptimiserParams } from './train-params.js';

interface Params extends OptimiserParams {
  split?: string;
  onWeights?: 'skip' | 'pretrain';
  seed?: number;
  backend?: string;
}

@injectable()
export class PretrainStage implements StagePlugin<Params> {
  readonly type = 'train.pretrain';
  readonly version = '3';
  // Still 3: the ViT path and `onWeights` (no schema default) leave every recipe, and so its cache key, as it was. A PPG-GPT
  // backbone loaded from a weights file is passed through (onWeights 'skip'): its key changed with model.ppg-gpt's fingerprint.
  readonly description = 'GPT-style next-patch pretraining (causal attention, Logit-Laplace likelihood) of a PPG-GPT backbone; supervised pretraining (BCE on the binary label) of a ViT backbone on an image set.';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...optimiserParams,
      split: {
        type: 'string',
        description:
          'Train only on the windows/images of this split (PPG-GPT uses no labels; the ViT uses the binary label). Default: "train", so validation/test subjects are never seen (no transductive leakage); samples without a split array (e.g. a separate cohort) use every sample (logged).',
      },
      // No default: a default would change every existing PPG-GPT pretraining's cache key.
      onWeights: {
        type: 'string',
        enum: ['skip', 'pretrain'],
        description: "What to do with a backbone whose weights came from a file (model.ppg-gpt or model.vit `weights`): 'skip' (default) passes it through unchanged, 'pretrain' trains on top. A backbone initialised from a seed is always pretrained.",
      },
      seed: seedParam,
      backend: backendParam,
    },
  };
  readonly inputs = {
    backbone: { kind: 'backbone', description: 'Backbone to start from (model.ppg-gpt or model.vit)' },
    samples: { kind: 'samples', description: 'PPG windows matching the backbone inputSpec, or labelled images at the ViT input size' },
  };
  readonly outputs = { backbone: { kind: 'backbone', description: 'Pretrained backbone' } };

  run(ctx: StageContext<Params>) {
    return runAsync(ctx.signal, async (emit) => {
      // Tensor code loads here, on first use (one import at a time: jest's ESM linker fails on concurrent ones).
      const { loadModel, modelArtifact, startEngine } = await import('./common.js');
      const { isVitArtifact } = await import('./vit-common.js');
      const backbone = requireInput(ctx.inputs, 'backbone', 'backbone');
      const samples = requireInput(ctx.inputs, 'samples', 'samples');
      if (isVitArtifact(backbone)) {
        const { pretrainVit } = await import('./pretrain-vit.js');
        await startEngine(emit, ctx.params.backend);
        const { backend: _b, seed: _s, ...p } = ctx.params;
        await pretrainVit(backbone, samples, p, ctx.params.seed ?? ctx.seed, emit, {
          progress: (d, t) => emit.progress(d, t, undefined, 'steps'),
          metric: (n, v, at) => emit.metric(n, v, at),
          log: (l, m) => emit.log(l, m),
          checkpoint: () => emit.checkpoint(),
        });
        return;
      }
      const source = backbone.meta.weights;
      if (source && (ctx.params.onWeights ?? 'skip') === 'skip') {
        emit.log('info', `backbone weights come from ${source.file}: pretraining skipped, backbone passed through unchanged (onWeights: 'pretrain' pretrains on top of them)`);
        emit.artifact('backbone', backbone);
        return;
      }
      const { readSamples, splitIndices } = await import('../train/data.js');
      const { pretrain } = await import('../train/pretrain.js');
      await startEngine(emit, ctx.params.backend);
      const { model, stored } = loadModel(backbone, 'backbone');
      try {
        const data = readSamples(samples, model.config);
        // Default "train" rather than every window: pretraining on validation/test subjects
        // would leak them into the backbone. Not a schema default, so an explicit split can be
        // told apart: only the default falls back to every window when the samples are unsplit.
        const split = ctx.params.split ?? 'train';
        let idx: Int32Array;
        if (!data.split) {
          if (ctx.params.split !== undefined) throw new FairtuneError('FT_PARAM_INVALID', `params.split: samples "${data.meta.name}" have no split array, so split "${split}" cannot be selected (add a split stage or drop the param)`, { param: 'split', port: 'samples' });
          idx = Int32Array.from({ length: data.n }, (_, i) => i);
          emit.log('info', `samples "${data.meta.name}" have no split array: pretraining on all ${data.n} windows`);
        } else {
          idx = splitIndices(data, split);
          if (idx.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', `params.split: samples "${data.meta.name}" have no samples in split "${split}" (splits: ${data.meta.splits?.join(', ') ?? 'none'})`, { port: 'samples', param: 'split' });
        }
        const p = ctx.params;
        const { finalLoss } = await pretrain(model, data.x, idx, { ...p, seed: p.seed ?? ctx.seed }, {
          progress: (d, t) => emit.progress(d, t, undefined, 'steps'),
          metric: (n, v, at) => emit.metric(n, v, at),
          log: (l, m) => emit.log(l, m),
          checkpoint: () => emit.checkpoint(),
        });
        emit.log('info', `pretraining done: final epoch NLL ${finalLoss.toFixed(4)} on ${idx.length} windows`);
        emit.artifact('backbone', modelArtifact('backbone', model, { preset: stored.preset }, undefined, undefined, {}, data.meta));
      } finally {
        model.dispose();
      }
    });
  }
}
