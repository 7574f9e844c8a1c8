/** Image `samples` artifacts (uint8 [N, H, W, 3] + ImageSpec) for the ViT, checked against its input. */
import * as tf from '@tensorflow/tfjs';
import { FairtuneError, requireArray, type ImageSpec, type KindArtifact } from '@fairtune/core/plugin';
import type { LabelledSet } from '../train/finetune.js';
import type { FinetuneModel } from '../train/finetune-model.js';
import { patchValues, vitTokens, type VitConfig } from './config.js';
import { defaultMaxShift, drawAugmentations, imageTokens } from './images.js';
import type { Vit } from './model.js';

export interface ImageSampleSet extends LabelledSet {
  /** uint8 RGB [n, S, S, 3]. */
  readonly x: Uint8Array;
  readonly image: ImageSpec;
}

export function readImageSamples(a: KindArtifact<'samples'>, c: VitConfig, port = 'samples'): ImageSampleSet {
  if (a.kind !== 'samples') throw new FairtuneError('FT_INPUT_KIND', `input "${port}" is a ${a.kind as string} artifact, expected samples`, { port });
  const meta = a.meta;
  const where = `samples "${meta.name}"`;
  if (meta.modality !== 'image' || !meta.image) throw new FairtuneError('FT_INPUT_CONTENT', `${where} have modality "${meta.modality}"${meta.image ? '' : ' and no image spec'}; the ViT needs image samples (meta.image)`, { port });
  const x = requireArray(a, 'x', 'uint8');
  const [n = 0, h, w, ch] = x.shape;
  if (x.shape.length !== 4 || ch !== 3) throw new FairtuneError('FT_ARRAY_MISSING', `${where}: x has shape [${x.shape.join(', ')}], expected uint8 RGB images [N, H, W, 3]`, { port });
  if (h !== c.imageSize || w !== c.imageSize) throw new FairtuneError('FT_INPUT_CONTENT', `${where}: images are ${h}×${w} but the model takes ${c.imageSize}×${c.imageSize}; set the image loader's size to ${c.imageSize} or build the model with imageSize ${h}`, { port });
  if (n === 0) throw new FairtuneError('FT_INPUT_CONTENT', `${where} contain no samples`, { port });
  const y = requireArray(a, 'y', 'float32').data as Float32Array;
  const subject = requireArray(a, 'subject', 'int32').data as Int32Array;
  if (y.length !== n || subject.length !== n) throw new FairtuneError('FT_ARRAY_MISSING', `${where}: y (${y.length}) and subject (${subject.length}) must have one entry per image (${n})`, { port });
  const split = a.arrays['split'] ? (requireArray(a, 'split', 'int8').data as Int8Array) : undefined;
  const group = a.arrays['group'] ? (requireArray(a, 'group', 'int32').data as Int32Array) : undefined;
  if (split && split.length !== n) throw new FairtuneError('FT_ARRAY_MISSING', `${where}: split has ${split.length} entries, expected ${n}`, { port });
  if (group && group.length !== n) throw new FairtuneError('FT_ARRAY_MISSING', `${where}: group has ${group.length} entries, expected ${n}`, { port });
  if (meta.task === 'classification') for (let i = 0; i < n; i++) if (y[i] !== 0 && y[i] !== 1) throw new FairtuneError('FT_INPUT_CONTENT', `${where}: classification target y[${i}] = ${y[i]}, expected 0 or 1`, { port });
  const aux: Record<string, Float32Array> = {};
  for (const [name, arr] of Object.entries(a.arrays)) {
    if (name.startsWith('aux/') && arr.shape.length === 1 && arr.data.length === n) aux[name] = Float32Array.from(arr.data as ArrayLike<number>);
  }
  return { meta, n, x: x.data as Uint8Array, image: meta.image, y, subject, split, group, aux };
}

export interface VitFinetuneOptions {
  /** Seeded flip + translation of training batches (evaluation batches are never augmented). */
  readonly augment: boolean;
  readonly seed: number;
}

/** The ViT with a one-logit head as the fine-tuning loop's model: batches converted from uint8 per batch. */
export function vitFinetuneModel(model: Vit, data: ImageSampleSet, o: VitFinetuneOptions): FinetuneModel {
  const c = model.config;
  if (c.numClasses !== 1) throw new Error(`the ViT head has ${c.numClasses} outputs; fine-tuning for binary classification needs 1 (replaceHead(1))`);
  const width = patchValues(c) + 1;
  const T = vitTokens(c);
  const shift = defaultMaxShift(c);
  return {
    kind: 'finetune-model',
    specs: model.specs,
    vars: model.vars,
    nLayers: c.depth,
    embeddingWidth: c.dim,
    input(rows, train) {
      const aug = train && o.augment ? drawAugmentations(o.seed, train.epoch, train.step, rows.length, shift) : undefined;
      return tf.tensor2d(imageTokens(data.x, rows, c, data.image, aug), [rows.length * T, width]);
    },
    forward(x, batch) {
      const { logits, embedding } = model.forward(x as tf.Tensor2D, batch);
      return { output: tf.reshape(logits, [batch]) as tf.Tensor1D, embedding };
    },
  };
}
