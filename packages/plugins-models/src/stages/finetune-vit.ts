/**
 * train.finetune on a ViT backbone and image samples: binary classification with BCE on one
 * logit (a fresh one-logit head), the same loop, strategies and PEFT masks as PPG-GPT, seeded
 * flip/translation augmentation of training batches, checkpoint selection on validation
 * worst-group AUC by default (validation AUC without groups; `selection: 'last'` keeps the last
 * epoch as the seed code does), and the wasm32 memory guard before anything is allocated.
 */
import { FairtuneError, type JsonObject, type KindArtifact, type StageEmitter, type TrainingStrategyPlugin } from '@fairtune/core/plugin';
import type { FinetuneConfig, TrainerEvents } from '../train/finetune.js';
import { createStrategy } from './train-params.js';
import { trainRows } from '../train/subsample.js';

export interface VitFinetuneParams extends Omit<FinetuneConfig, 'task' | 'seed' | 'trainIndices' | 'validationIndices' | 'auxWeight'> {
  readonly trainSplit: string;
  readonly trainFraction?: number;
  readonly validationSplit: string;
  readonly augment?: boolean;
  readonly strategy: { name: string; params: JsonObject };
  readonly auxWeight?: number;
  readonly backend?: string;
}

export async function finetuneVit(backbone: KindArtifact<'backbone'>, samples: KindArtifact<'samples'>, p: VitFinetuneParams, seed: number, plugin: TrainingStrategyPlugin, emit: StageEmitter, record: JsonObject, events: TrainerEvents): Promise<void> {
  const { loadVit, vitArtifact } = await import('./vit-common.js');
  const { readImageSamples, vitFinetuneModel } = await import('../vit/data.js');
  const { splitIndices, trainSplitRows } = await import('../train/data.js');
  const { finetune } = await import('../train/finetune.js');
  const { resolveMask } = await import('../train/peft.js');
  const { checkTrainingMemory } = await import('../vit/memory.js');
  const { tensorBackend } = await import('../engine/backend.js');
  const { predictionArtifacts } = await import('./prediction-artifacts.js');
  const { vitSpecs } = await import('../vit/config.js');
  if (p.auxWeight) throw new FairtuneError('FT_PARAM_INVALID', 'auxWeight applies to PPG-GPT (its Logit-Laplace term); the ViT has no auxiliary loss', { param: 'auxWeight' });
  // The memory check comes before the model is built: ViT-B/16 at batch 32 must fail here, not at 4 GiB.
  const stored = backbone.meta.config as unknown as import('./vit-common.js').StoredVitConfig;
  const planned = { ...stored, numClasses: 1 };
  const mask = resolveMask(p.mask, vitSpecs(planned), planned.depth);
  checkTrainingMemory(planned, p.batchSize, mask.trainableCount, tensorBackend(), `train.finetune (batchSize ${p.batchSize})`);
  const { model } = loadVit(backbone, 'backbone');
  try {
    const data = readImageSamples(samples, model.config);
    if (data.meta.task !== 'classification') throw new FairtuneError('FT_INPUT_CONTENT', `samples "${data.meta.name}" have task "${data.meta.task}"; the ViT fine-tunes binary classification`, { port: 'samples' });
    const split = trainSplitRows(data, p.trainSplit, p.validationSplit, p.selection);
    if (split.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', `samples "${data.meta.name}" have no samples in the training split "${p.trainSplit}" (splits: ${data.meta.splits?.join(', ') ?? 'none'})`, { port: 'samples', param: 'trainSplit' });
    const val = splitIndices(data, p.validationSplit);
    if (val.length === 0) emit.log('warn', `no samples in validation split "${p.validationSplit}": the last epoch is kept and early stopping uses the training loss`);
    model.replaceHead(1, seed);
    const groupNames = data.meta.groups?.names ?? [];
    const train = trainRows(split, data, groupNames, p.trainFraction, seed, emit);
    const selectionMetric = p.selectionMetric === 'auto' ? (groupNames.length >= 2 ? 'worst-group-auc' : 'auc') : p.selectionMetric;
    const strategy = createStrategy(plugin, p, train, data.group, groupNames, seed, emit);
    const fm = vitFinetuneModel(model, data, { augment: p.augment ?? true, seed });
    const result = await finetune(fm, data, { ...p, task: 'classification', selectionMetric, auxWeight: 0, seed, trainIndices: train, validationIndices: val }, strategy, groupNames, events);
    emit.artifact(
      'model',
      vitArtifact('model', model, { mask: p.mask, selection: p.selection ?? 'best' }, {
        task: 'classification',
        trainable: result.mask.trainableCount,
        info: { method: plugin.name, training: record, history: result.history, bestEpoch: result.bestEpoch, selectionMetric: result.metricName, ...(result.strategyState ? { strategyState: result.strategyState } : {}) },
        trainedOn: data.meta,
      }),
    );
    const out = predictionArtifacts(fm, data, 'classification', { mean: 0, std: 1 }, p.evalBatchSize, plugin.name);
    emit.artifact('predictions', out.predictions);
    emit.artifact('embeddings', out.embeddings);
  } finally {
    model.dispose();
  }
}
