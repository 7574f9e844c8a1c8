/**
 * train.pretrain on a ViT backbone: supervised pretraining (BCE on the samples' binary label,
 * every weight trainable, the last epoch kept) on an image set, as the stand-in for the
 * ImageNet weights the FairTune paper starts from when no weights file is given.
 *
 * Why supervised and not a masked autoencoder: it reuses the fine-tuning loop (tested BCE,
 * optimiser, seeded augmentation), and at the CPU sizes of the out-of-the-box run (32², a few
 * epochs) an MAE decoder would cost more than the pretraining it buys. The pipelines feed it the
 * *other* dataset's cohort (HAM10000 for Fitzpatrick17k and vice versa), so no image, subject or
 * label of the downstream dataset reaches the backbone; see docs/imaging.md#pipelines for what
 * that does and does not leak.
 *
 * A backbone whose weights came from a file (model.vit `weights`) is passed through unchanged
 * unless `onWeights: 'pretrain'`: one pipeline serves both the out-of-the-box run and the
 * paper's run from timm weights, switched by one environment variable.
 */
import { FairtuneError, type JsonObject, type KindArtifact, type ModelMeta, type StageEmitter } from '@fairtune/core/plugin';
import type { SplitRows } from '../train/data.js';
import type { TrainerEvents } from '../train/finetune.js';
import type { OptimiserSettings } from '../train/optimizer.js';

export interface VitPretrainParams extends OptimiserSettings {
  readonly split?: string;
  readonly onWeights?: 'skip' | 'pretrain';
}

/** What model.vit records in the backbone's meta when it loaded a weights file. */
export interface VitWeightsSource {
  readonly file: string;
}

export function weightsSource(backbone: KindArtifact<'backbone' | 'model'>): VitWeightsSource | undefined {
  const w = backbone.meta.weights;
  return w && typeof w.file === 'string' ? w : undefined;
}

/** Rows to pretrain on: `split` (default "train") when the samples are split, else every image (a separate cohort). */
export function pretrainRows(data: { n: number; split?: Int8Array; meta: { name: string; splits?: readonly string[] } }, split: string | undefined, log: (m: string) => void, splitIndices: (d: SplitRows, s: string) => Int32Array): Int32Array {
  if (!data.split) {
    if (split !== undefined) throw new FairtuneError('FT_PARAM_INVALID', `params.split: samples "${data.meta.name}" have no split array, so split "${split}" cannot be selected (add a split stage or drop the param)`, { param: 'split', port: 'samples' });
    log(`samples "${data.meta.name}" have no split array: pretraining on all ${data.n} images (a cohort kept apart from the fine-tuning data)`);
    return Int32Array.from({ length: data.n }, (_, i) => i);
  }
  // Default "train": pretraining on the downstream validation/test images would leak them into the backbone.
  const s = split ?? 'train';
  const idx = splitIndices(data, s);
  if (idx.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', `params.split: samples "${data.meta.name}" have no samples in split "${s}" (splits: ${data.meta.splits?.join(', ') ?? 'none'})`, { port: 'samples', param: 'split' });
  return idx;
}

/** Both classes must be present, or BCE pretraining learns a constant. */
function requireBothClasses(y: Float32Array, rows: Int32Array, name: string): { positives: number } {
  let positives = 0;
  for (const i of rows) if (y[i] === 1) positives++;
  if (positives === 0 || positives === rows.length) throw new FairtuneError('FT_INPUT_CONTENT', `samples "${name}": the ${rows.length} pretraining images are all ${positives === 0 ? 0 : 1}; supervised pretraining needs both classes`, { port: 'samples' });
  return { positives };
}

function withoutGroups<T extends { group?: Int32Array }>(d: T): T {
  const { group: _g, ...rest } = d;
  return rest as T;
}

export async function pretrainVit(backbone: KindArtifact<'backbone'>, samples: KindArtifact<'samples'>, p: VitPretrainParams, seed: number, emit: StageEmitter, events: TrainerEvents): Promise<void> {
  const source = weightsSource(backbone);
  if (source && (p.onWeights ?? 'skip') === 'skip') {
    emit.log('info', `backbone weights come from ${source.file}: pretraining skipped, backbone passed through unchanged (onWeights: 'pretrain' pretrains on top of them)`);
    emit.artifact('backbone', backbone);
    return;
  }
  const { loadVit, vitArtifact } = await import('./vit-common.js');
  const { readImageSamples, vitFinetuneModel } = await import('../vit/data.js');
  const { splitIndices } = await import('../train/data.js');
  const { finetune } = await import('../train/finetune.js');
  const { checkTrainingMemory } = await import('../vit/memory.js');
  const { vitParameterCount } = await import('../vit/config.js');
  const { tensorBackend } = await import('../engine/backend.js');
  const { ermStrategy } = await import('../strategies/erm.js');
  const { model, stored } = loadVit(backbone, 'backbone');
  try {
    checkTrainingMemory({ ...model.config, numClasses: 1 }, p.batchSize, vitParameterCount({ ...model.config, numClasses: 1 }), tensorBackend(), `train.pretrain (batchSize ${p.batchSize})`);
    const data = readImageSamples(samples, model.config);
    if (data.meta.task !== 'classification') throw new FairtuneError('FT_INPUT_CONTENT', `samples "${data.meta.name}" have task "${data.meta.task}"; ViT pretraining is supervised binary classification`, { port: 'samples' });
    const rows = pretrainRows(data, p.split, (m) => emit.log('info', m), splitIndices);
    const { positives } = requireBothClasses(data.y, rows, data.meta.name);
    model.replaceHead(1, seed);
    const fm = vitFinetuneModel(model, data, { augment: true, seed });
    // Groups play no part in pretraining (no selection, no strategy): the loop sees one group.
    const result = await finetune(
      fm,
      withoutGroups(data),
      {
        ...p,
        task: 'classification',
        pooling: 'flatten',
        mask: 'full',
        patience: 0,
        selectionMetric: 'loss',
        selection: 'last',
        auxWeight: 0,
        auxSchedule: 'constant',
        standardizeTarget: false,
        seed,
        trainIndices: rows,
        validationIndices: new Int32Array(0),
        evalBatchSize: 128,
      },
      ermStrategy.create({ params: {}, trainGroups: new Int32Array(rows.length).fill(-1), groupNames: [], epochs: p.epochs, stepsPerEpoch: Math.ceil(rows.length / p.batchSize), batchSize: p.batchSize, seed, log: () => undefined }),
      [],
      events,
    );
    const last = result.history[result.history.length - 1] as { trainLoss: number } | undefined;
    emit.log('info', `pretraining done: ${rows.length} images of "${data.meta.name}" (${positives} positive), ${result.epochsRun} epochs, final train BCE ${last?.trainLoss.toFixed(4) ?? 'n/a'}`);
    const record: JsonObject = {
      objective: 'supervised-bce',
      samples: data.meta.name,
      target: data.meta.target?.name ?? 'y',
      images: rows.length,
      positives,
      split: data.split ? (p.split ?? 'train') : null,
      epochs: result.epochsRun,
      finalTrainLoss: last?.trainLoss ?? null,
      seed,
      ...(source ? { startedFrom: source as unknown as JsonObject } : {}),
    };
    emit.artifact('backbone', vitArtifact('backbone', model, { ...(stored.preset ? { preset: stored.preset } : {}) }, { info: { pretraining: record, history: result.history } }));
  } finally {
    model.dispose();
  }
}

/** ModelMeta as the pretraining stage records it (for readers such as tests and model cards). */
export type PretrainedVitMeta = ModelMeta & { pretraining?: JsonObject; weights?: VitWeightsSource };
