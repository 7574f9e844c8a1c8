/**
 * `eval.predict`: predictions and embeddings of a fine-tuned model on another dataset (e.g.
 * cross-dataset transfer) — either a raw `dataset`, brought to the model's input here, or
 * `samples` already windowed to it.
 */
import { injectable } from 'inversify';
import { FairtuneError, optionalInput, requireInput, runAsync, type KindArtifact, type ModelMeta, type SignalProcessingStep, type StageContext, type StageEmitter, type StagePlugin } from '@fairtune/core/plugin';
import { describeStep, remainingSteps } from '@fairtune/signal';
import { backendParam } from './params.js';

interface Params {
  batchSize: number;
  method?: string;
  backend?: string;
  shiftSeconds?: number;
  short: 'as-training' | 'drop' | 'pad-edge' | 'tile';
  quality: 'as-training' | 'flag' | 'none';
  groups?: string[];
  ageThreshold?: number;
}

/** What the "data" port takes: a raw dataset (brought to the model's input here) or samples. */
const DATA_KINDS = ['dataset', 'samples'] as const;
type DataKind = (typeof DATA_KINDS)[number];

@injectable()
export class PredictStage implements StagePlugin<Params> {
  readonly type = 'eval.predict';
  // 6: predictions carry the samples' aux/<label> arrays (e.g. aux/activity). Still 6 with
  // short 'as-training': the new default changes the resolved params, and so the cache key, by itself.
  readonly version = '6';
  readonly description =
    "Runs a fine-tuned PPG-GPT model on another dataset (cross-dataset transfer). A dataset is brought to the model's input: the training data's filters and resampling are replayed, then it is windowed to the model's length, poor-quality windows dropped and subjects grouped as in training.";
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      batchSize: { type: 'integer', minimum: 1, default: 128 },
      method: { type: 'string', description: 'Label stored in the predictions meta (default: the training strategy recorded in the model, else "transfer").' },
      backend: backendParam,
      shiftSeconds: { type: 'number', exclusiveMinimum: 0, description: "Dataset input: window shift in seconds (default: the model's window length, i.e. non-overlapping windows)." },
      short: {
        enum: ['as-training', 'drop', 'pad-edge', 'tile'],
        default: 'as-training',
        description:
          "Dataset input: recordings shorter than the model's window (e.g. 10-s BUT-PPG records under a 30-s input). as-training (default): the rule the training windows were made with (the model's inputSpec.short, e.g. preprocess.window short: 'pad-edge'), else tile; or tile, pad with the edge value, drop.",
      },
      quality: {
        enum: ['as-training', 'flag', 'none'],
        default: 'as-training',
        description:
          "Dataset input: window quality checks. as-training: those the training windows passed (quality flag, flat lines, clipping, target range; the flag alone when the model records none); flag: only windows whose quality label is 0 (BUT-PPG annotations) are dropped; none: every window is kept.",
      },
      groups: { type: 'array', items: { type: 'string' }, minItems: 1, description: "Dataset input: group attributes (default: those of the model's training samples)." },
      ageThreshold: { type: 'number', description: "Dataset input: age cut for age groups (default: the training samples')." },
    },
  };
  readonly inputs = {
    model: { kind: 'model', description: 'Fine-tuned model (train.finetune)' },
    data: { kind: DATA_KINDS, description: "A dataset (from a loader; brought to the model's input here) or samples already matching the model's inputSpec" },
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
      const { isVitArtifact } = await import('./vit-common.js');
      const modelInput = requireInput(ctx.inputs, 'model', 'model');
      if (isVitArtifact(modelInput)) {
        await predictVit(modelInput, optionalInput(ctx.inputs, 'data', DATA_KINDS), ctx.params, emit);
        return;
      }
      const { samplesFromDataset } = await import('./model-input.js');
      const { model, stored, meta } = loadModel(modelInput, 'model');
      try {
        if (!meta.task) throw new FairtuneError('FT_INPUT_CONTENT', 'input "model": the model artifact has no task (was it produced by train.finetune?)', { port: 'model' });
        const p = ctx.params;
        const input = optionalInput(ctx.inputs, 'data', DATA_KINDS);
        if (!input) throw new FairtuneError('FT_INPUT_MISSING', `input "data" is required: a dataset (from a loader) or samples matching the model's input` + ('samples' in ctx.inputs ? ' (the port was called "samples" up to eval.predict version 2)' : ''), { port: 'data' });
        if (input.kind === 'samples') warnSamplesMismatch(input, meta, p, emit);
        const samples = input.kind === 'dataset' ? await samplesFromDataset(input, meta, p, emit, ctx.signal) : input;
        const data = readSamples(samples, model.config, 'data');
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

/** Samples are used as they are: say where they differ from the model's training windows, and which params do not apply. */
function warnSamplesMismatch(samples: KindArtifact<'samples'>, model: ModelMeta, p: Params, emit: StageEmitter): void {
  const unused = (['shiftSeconds', 'groups', 'ageThreshold'] as const).filter((k) => p[k] !== undefined);
  if (unused.length) emit.log('warn', `params ${unused.join(', ')} apply to a dataset input; the samples are used as they are`);
  const signal = samples.meta.signal;
  const spec = model.inputSpec;
  if (!signal) return;
  const chain = (steps: readonly SignalProcessingStep[]) => `[${steps.map(describeStep).join('; ')}]`;
  if (spec.processing && signal.processing && remainingSteps(signal.processing, spec.processing)?.length !== 0) {
    emit.log('warn', `the samples were processed with ${chain(signal.processing)} but the model's training data with ${chain(spec.processing)}; connect the raw dataset to have eval.predict replay the model's processing`);
  }
  if (spec.normalisation && signal.normalisation && spec.normalisation !== signal.normalisation) {
    emit.log('warn', `the samples are normalised with "${signal.normalisation}" but the model's training windows with "${spec.normalisation}"`);
  }
}

/** A ViT on image samples: probabilities (sigmoid of the logit) and class-token embeddings. */
async function predictVit(modelArtifact: KindArtifact<'model'>, input: KindArtifact<DataKind> | undefined, p: Params, emit: StageEmitter): Promise<void> {
  const { loadVit } = await import('./vit-common.js');
  const { readImageSamples, vitFinetuneModel } = await import('../vit/data.js');
  const { predictionArtifacts } = await import('./prediction-artifacts.js');
  if (!input || input.kind !== 'samples') throw new FairtuneError(input ? 'FT_INPUT_KIND' : 'FT_INPUT_MISSING', `input "data": a ViT model needs image samples (from an image loader), got ${input ? `a ${input.kind} artifact` : 'nothing'}`, { port: 'data' });
  const { model, meta } = loadVit(modelArtifact, 'model');
  try {
    if (!meta.task) throw new FairtuneError('FT_INPUT_CONTENT', 'input "model": the model artifact has no task (was it produced by train.finetune?)', { port: 'model' });
    const data = readImageSamples(input, model.config, 'data');
    const want = meta.inputSpec.image;
    const got = data.image;
    if (want && (want.mean.some((v, i) => v !== got.mean[i]) || want.std.some((v, i) => v !== got.std[i]) || want.resize !== got.resize)) {
      emit.log('warn', `the images were resized/normalised differently (resize ${got.resize}, mean ${got.mean.join('/')}, std ${got.std.join('/')}) from the model's training images (resize ${want.resize}, mean ${want.mean.join('/')}, std ${want.std.join('/')}); they are normalised with their own spec`);
    }
    const out = predictionArtifacts(vitFinetuneModel(model, data, { augment: false, seed: 0 }), data, meta.task, { mean: 0, std: 1 }, p.batchSize, p.method ?? meta.method ?? 'transfer');
    emit.artifact('predictions', out.predictions);
    emit.artifact('embeddings', out.embeddings);
  } finally {
    model.dispose();
  }
}
