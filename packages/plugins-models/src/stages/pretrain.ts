/** `train.pretrain`: GPT next-patch pretraining of a PPG-GPT backbone with the Logit-Laplace likelihood. */
import { injectable } from 'inversify';
import { runAsync, type Artifact, type StageContext, type StagePlugin } from '@fairtune/core';
import { backendParam, seedParam } from './params.js';
import { optimiserParams, type OptimiserParams } from './train-params.js';

interface Params extends OptimiserParams {
  split?: string;
  seed?: number;
  backend?: string;
}

@injectable()
export class PretrainStage implements StagePlugin<Params> {
  readonly type = 'train.pretrain';
  readonly version = '3';
  readonly description = 'GPT-style next-patch pretraining (causal attention, Logit-Laplace likelihood) of a PPG-GPT backbone.';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...optimiserParams,
      split: {
        type: 'string',
        description:
          'Train only on the windows of this split (labels are not used). Default: "train", so validation/test subjects are never seen (no transductive leakage); samples without a split array use every window (logged).',
      },
      seed: seedParam,
      backend: backendParam,
    },
  };
  readonly inputs = {
    backbone: { kind: 'backbone', description: 'Backbone to start from (model.ppg-gpt)' },
    samples: { kind: 'samples', description: 'PPG windows matching the backbone inputSpec' },
  };
  readonly outputs = { backbone: { kind: 'backbone', description: 'Pretrained backbone' } };

  run(ctx: StageContext<Params>) {
    return runAsync(ctx.signal, async (emit) => {
      // Tensor code loads here, on first use (one import at a time: jest's ESM linker fails on concurrent ones).
      const { loadModel, modelArtifact, startEngine } = await import('./common.js');
      const { readSamples, splitIndices } = await import('../train/data.js');
      const { pretrain } = await import('../train/pretrain.js');
      await startEngine(emit, ctx.params.backend);
      const { model, stored } = loadModel(ctx.inputs['backbone'] as Artifact, 'backbone');
      try {
        const data = readSamples(ctx.inputs['samples'] as Artifact, model.config);
        // Default "train" rather than every window: pretraining on validation/test subjects
        // would leak them into the backbone. Not a schema default, so an explicit split can be
        // told apart: only the default falls back to every window when the samples are unsplit.
        const split = ctx.params.split ?? 'train';
        let idx: Int32Array;
        if (!data.split) {
          if (ctx.params.split !== undefined) throw new Error(`params.split: samples "${data.meta.name}" have no split array, so split "${split}" cannot be selected (add a split stage or drop the param)`);
          idx = Int32Array.from({ length: data.n }, (_, i) => i);
          emit.log('info', `samples "${data.meta.name}" have no split array: pretraining on all ${data.n} windows`);
        } else {
          idx = splitIndices(data, split);
          if (idx.length === 0) throw new Error(`params.split: samples "${data.meta.name}" have no samples in split "${split}" (splits: ${data.meta.splits?.join(', ') ?? 'none'})`);
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
