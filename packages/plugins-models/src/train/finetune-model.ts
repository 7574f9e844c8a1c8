/**
 * What the fine-tuning loop needs from a backbone with a one-output task head, so the same loop
 * (strategies, PEFT masks, selection) trains PPG-GPT on windows and the ViT on images:
 * variables and their specs (for masks), how to build a batch from sample rows (with training
 * augmentation where the model has one), and a forward pass to the per-sample output and the
 * penultimate embedding (for adversaries and embeddings artifacts).
 */
import * as tf from '@tensorflow/tfjs';
import type { VariableSpec } from '../ppg-gpt/config.js';
import { pooledWidth, type Pooling } from '../ppg-gpt/config.js';
import type { PpgGpt } from '../ppg-gpt/model.js';
import { gatherRows } from './data.js';
import { nextPatchNll } from './pretrain.js';

export interface BatchContext {
  readonly epoch: number;
  readonly step: number;
}

export interface FinetuneForward {
  /** Head output per sample [B] (a logit for classification). */
  readonly output: tf.Tensor1D;
  readonly embedding: tf.Tensor2D;
  /** The model's auxiliary loss on this batch, when it has one (PPG-GPT's Logit-Laplace term). */
  readonly aux?: () => tf.Scalar;
}

export interface FinetuneModel {
  readonly kind: 'finetune-model';
  readonly specs: readonly VariableSpec[];
  readonly vars: ReadonlyMap<string, tf.Variable>;
  /** Blocks (the bit-mask length is 3 × this). */
  readonly nLayers: number;
  readonly embeddingWidth: number;
  /** The batch for these sample rows; `train` given during training (augmentation, if any, keys on it). */
  input(rows: readonly number[], train?: BatchContext): tf.Tensor;
  forward(x: tf.Tensor, batch: number, o: { training: boolean; seed: number }): FinetuneForward;
}

export function isFinetuneModel(m: unknown): m is FinetuneModel {
  return (m as FinetuneModel | undefined)?.kind === 'finetune-model';
}

/** PPG-GPT with its task head on preprocessed windows x [n, windowLength] (the loop's behaviour before the ViT, unchanged). */
export function ppgFinetuneModel(model: PpgGpt, x: Float32Array, pooling: Pooling): FinetuneModel {
  const L = model.config.windowLength;
  return {
    kind: 'finetune-model',
    specs: model.specs,
    vars: model.vars,
    nLayers: model.config.nLayers,
    embeddingWidth: pooledWidth(model.config, model.pooling ?? pooling),
    input: (rows) => tf.tensor2d(gatherRows(x, L, rows), [rows.length, L]),
    forward(xb, batch, o) {
      const h = model.encode(xb as tf.Tensor2D, { causal: false, training: o.training, ...(o.training ? { seed: o.seed } : {}) });
      const { output, embedding } = model.taskHead(h, batch);
      return { output, embedding, aux: () => tf.mean<tf.Scalar>(nextPatchNll(model, h, xb as tf.Tensor2D)) };
    },
  };
}
