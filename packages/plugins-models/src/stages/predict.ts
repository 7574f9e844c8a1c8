/** `eval.predict`: predictions and embeddings of a fine-tuned model on any samples (e.g. another dataset). */
import { injectable } from 'inversify';
import { runAsync, type Artifact, type StageContext, type StagePlugin } from '@fairtune/core';
import { backendParam } from './params.js';

interface Params {
  batchSize: number;
  method?: string;
  backend?: string;
}

@injectable()
export class PredictStage implements StagePlugin<Params> {
  readonly type = 'eval.predict';
  readonly version = '2';
  readonly description = 'Runs a fine-tuned PPG-GPT model on samples (e.g. another dataset for cross-dataset transfer).';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      batchSize: { type: 'integer', minimum: 1, default: 128 },
      method: { type: 'string', description: 'Label stored in the predictions meta (default: the training strategy recorded in the model, else "transfer").' },
      backend: backendParam,
    },
  };
  readonly inputs = {
    model: { kind: 'model', description: 'Fine-tuned model (train.finetune)' },
    samples: { kind: 'samples', description: "Windows matching the model's inputSpec" },
  };
  readonly outputs = {
    predictions: { kind: 'predictions', description: 'Predictions on every sample' },
    embeddings: { kind: 'embeddings', description: 'Penultimate-layer embeddings of every sample' },
  };

  run(ctx: StageContext<Params>) {
    return runAsync(ctx.signal, async (emit) => {
      // Tensor code loads here, on first use (one import at a time: jest's ESM linker fails on concurrent ones).
      const { loadModel, startEngine } = await import('./common.js');
      const { readSamples } = await import('../train/data.js');
      const { predictionArtifacts } = await import('./prediction-artifacts.js');
      await startEngine(emit, ctx.params.backend);
      const { model, stored, meta } = loadModel(ctx.inputs['model'] as Artifact, 'model');
      try {
        if (!meta.task) throw new Error('input "model": the model artifact has no task (was it produced by train.finetune?)');
        const data = readSamples(ctx.inputs['samples'] as Artifact, model.config);
        if (data.meta.task !== meta.task) emit.log('warn', `samples task "${data.meta.task}" differs from the model task "${meta.task}"`);
        const out = predictionArtifacts(model, data, meta.task, { mean: stored.targetMean ?? 0, std: stored.targetStd ?? 1 }, ctx.params.batchSize, ctx.params.method ?? meta.method ?? 'transfer');
        emit.artifact('predictions', out.predictions);
        emit.artifact('embeddings', out.embeddings);
      } finally {
        model.dispose();
      }
    });
  }
}
