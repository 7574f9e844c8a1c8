/**
 * GPT-style pretraining: causal attention, next-patch prediction with the Logit-Laplace
 * likelihood (head.lm predicts μ and log b for every sample of the next patch).
 */
import * as tf from '@tensorflow/tfjs';
import { FairtuneError, Rng, deriveSeed } from '@fairtune/core/plugin';
import type { PpgGpt } from '../ppg-gpt/model.js';
import { sequenceLength } from '../ppg-gpt/config.js';
import { gatherRows } from './data.js';
import { logitLaplacePerSample } from './losses.js';
import { Adam, clipByGlobalNorm, warmupCosine, type OptimiserSettings } from './optimizer.js';
import type { TrainerEvents } from './finetune.js';

export interface PretrainConfig extends OptimiserSettings {
  readonly seed: number;
}

/**
 * The next-patch pairs of the Logit-Laplace objective, from the encoder output h [B·T, d] of
 * windows xb [B, L]: the prediction at token position t (start token, then patch t − 1) is
 * scored against patch t, for t = 0 … N − 1 (the last token's prediction has no target). Under
 * causal attention position t sees only the start token and patches 0 … t − 1, so this is
 * next-patch prediction, not copying. Returns target (the input patches), mu and logScale, each [B, N, patch].
 */
export function nextPatchPairs(model: PpgGpt, h: tf.Tensor2D, xb: tf.Tensor2D): { target: tf.Tensor3D; mu: tf.Tensor3D; logScale: tf.Tensor3D } {
  const B = xb.shape[0];
  const N = sequenceLength(model.config) - 1;
  const { mu, logScale } = model.lmHead(h, B);
  return { target: tf.reshape(xb, [B, N, model.config.patchSize]), mu, logScale };
}

/** Per-sample mean Logit-Laplace NLL of the next-patch pairs (pretraining, and fine-tuning's auxiliary term). */
export function nextPatchNll(model: PpgGpt, h: tf.Tensor2D, xb: tf.Tensor2D): tf.Tensor1D {
  const { target, mu, logScale } = nextPatchPairs(model, h, xb);
  return logitLaplacePerSample(target, mu, logScale);
}

/** Mean Logit-Laplace NLL of next-patch prediction, causal attention; `training` toggles dropout. */
export function nextPatchLoss(model: PpgGpt, xb: tf.Tensor2D, training: boolean, seed: number): tf.Scalar {
  const h = model.encode(xb, { causal: true, training, seed });
  return tf.mean(nextPatchNll(model, h, xb));
}

export async function pretrain(model: PpgGpt, x: Float32Array, indices: Int32Array, cfg: PretrainConfig, events: TrainerEvents): Promise<{ finalLoss: number }> {
  const L = model.config.windowLength;
  if (indices.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', 'no samples to pretrain on');
  const vars = [...model.vars.entries()].filter(([k]) => !k.startsWith('head.task'));
  const byId = new Map(vars.map(([k, v]) => [v.name, k]));
  const varMap = new Map(vars);
  const optimizer = new Adam({ weightDecay: cfg.weightDecay, decoupled: cfg.optimizer === 'adamw' });
  const stepsPerEpoch = Math.ceil(indices.length / cfg.batchSize);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const rng = Rng.derive(cfg.seed, 'order');
  const dropoutBase = deriveSeed(cfg.seed, 'dropout') >>> 1;
  let step = 0;
  let finalLoss = NaN;
  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      const order = rng.shuffle(Array.from(indices));
      let sum = 0;
      let count = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const rows = order.slice(s * cfg.batchSize, (s + 1) * cfg.batchSize);
        const lr = warmupCosine(step, totalSteps, cfg.learningRate, cfg.warmupSteps, cfg.minLearningRate);
        const xb = tf.tensor2d(gatherRows(x, L, rows), [rows.length, L]);
        const { value, grads } = tf.variableGrads(() => nextPatchLoss(model, xb, true, (dropoutBase + step * 104729) % 2147483647), vars.map(([, v]) => v));
        xb.dispose();
        const loss = value.dataSync()[0]!;
        value.dispose();
        const named: Record<string, tf.Tensor> = {};
        for (const [id, g] of Object.entries(grads)) named[byId.get(id)!] = g;
        if (!Number.isFinite(loss)) {
          for (const g of Object.values(named)) g.dispose();
          throw new FairtuneError('FT_TRAINING_DIVERGED', `pretraining diverged: loss is ${loss} at epoch ${epoch}, step ${step}`, { param: 'learningRate' });
        }
        const norm = clipByGlobalNorm(named, cfg.gradClipNorm);
        optimizer.apply(varMap, named, lr);
        for (const g of Object.values(named)) g.dispose();
        sum += loss * rows.length;
        count += rows.length;
        events.metric('train_step_loss', loss, { step });
        events.metric('learning_rate', lr, { step });
        events.metric('grad_norm', norm, { step });
        step++;
        events.progress(step, totalSteps);
        await events.checkpoint();
      }
      finalLoss = sum / count;
      events.metric('train_loss', finalLoss, { epoch });
      events.log('info', `pretrain epoch ${epoch + 1}/${cfg.epochs}: Logit-Laplace NLL ${finalLoss.toFixed(4)}`);
    }
  } finally {
    optimizer.dispose();
  }
  return { finalLoss };
}
