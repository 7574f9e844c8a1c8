/**
 * The fine-tuning loop: PEFT-masked PPG-GPT with a regression or binary-classification head,
 * Adam/AdamW with linear warmup + cosine decay, gradient clipping, early stopping and
 * best-checkpoint selection, and every hook of the TrainingStrategy contract:
 *  - samplingWeights(epoch): draw the epoch's samples with replacement, else seeded shuffle;
 *  - lossWeights(batch): weights of the detached per-sample task losses, loss = Σ w_i ℓ_i;
 *  - adversary: group classifier on the penultimate embedding with its own Adam, either through
 *    a gradient-reversal layer or Zhang et al.'s projection update (its loss on each batch,
 *    before the update, is the per-step metric `adversary_loss`);
 *  - afterStep / afterEpoch (with per-group losses) and state() (logged every epoch).
 */
import * as tf from '@tensorflow/tfjs';
import { FairtuneError, Rng, deriveSeed, type JsonObject, type TaskKind, type TrainingStrategy, type BatchInfo, type LogLevel } from '@fairtune/core/plugin';
import type { PpgGpt } from '../ppg-gpt/model.js';
import type { Pooling } from '../ppg-gpt/config.js';
import { requireFiniteTargets, type SampleSet } from './data.js';
import { bceWithLogitsPerSample, l1PerSample, softmaxCrossEntropyPerSample } from './losses.js';
import { isFinetuneModel, ppgFinetuneModel, type FinetuneModel } from './finetune-model.js';
import { Adam, clipByGlobalNorm, warmupCosine, type OptimiserSettings } from './optimizer.js';
import { resolveMask, type ResolvedMask } from './peft.js';
import { mae, rocAuc } from './metrics.js';
import { linear } from '../engine/ops.js';

export interface FinetuneConfig extends OptimiserSettings {
  readonly task: TaskKind;
  readonly pooling: Pooling;
  readonly mask: string;
  /** Epochs without improvement before stopping; 0 disables early stopping. */
  readonly patience: number;
  /** `worst-group-auc`: the smallest per-group AUC on validation (FairTune's objective). */
  readonly selectionMetric: 'auto' | 'loss' | 'mae' | 'auc' | 'worst-group-auc';
  /** `best` (default): restore the best validation checkpoint; `last`: keep the last epoch's weights (the seed code's choice). */
  readonly selection?: 'best' | 'last';
  /** Weight λ of the Logit-Laplace term; `anneal` multiplies by (1 − (epoch+1)/epochs). */
  readonly auxWeight: number;
  readonly auxSchedule: 'anneal' | 'constant';
  readonly standardizeTarget: boolean;
  readonly seed: number;
  readonly trainIndices: Int32Array;
  readonly validationIndices: Int32Array;
  readonly evalBatchSize: number;
}

export interface TrainerEvents {
  progress(done: number, total: number): void;
  metric(name: string, value: number, at: { step?: number; epoch?: number }): void;
  log(level: LogLevel, message: string): void;
  /** Awaited once per step: yields to the event loop and throws when cancelled. */
  checkpoint(): Promise<void>;
}

export interface TargetScaling {
  readonly mean: number;
  readonly std: number;
}

export interface FinetuneResult {
  readonly mask: ResolvedMask;
  readonly scaling: TargetScaling;
  readonly bestEpoch: number;
  readonly epochsRun: number;
  readonly bestMetric: number;
  /** Selection metric actually used: the configured one, or `loss` after a non-finite metric fallback. */
  readonly metricName: string;
  readonly strategyState?: JsonObject;
  /** Per-epoch training curves (train loss; validation loss and metric when there is a validation split). */
  readonly history: JsonObject[];
}

/** Gradient reversal: identity forward, −λ·dy backward (Ganin & Lempitsky). Exported for tests. */
export function gradientReversal(x: tf.Tensor, lambda: number): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const t = args[0] as tf.Tensor;
    return { value: tf.clone(t), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.mul(dy as tf.Tensor, -lambda) };
  });
  return f(x);
}

/**
 * Zhang, Lemoine & Mitchell (2018) predictor gradient for one variable:
 * g = ∇L_P − proj_{∇L_A} ∇L_P − α ∇L_A, with the Frobenius product (algorithms.md §5.1; not
 * fairlearn's row-summed `torch.inner`). Exported for tests.
 */
export function zhangProjection(gP: tf.Tensor, gA: tf.Tensor, alpha: number): tf.Tensor {
  return tf.tidy(() => {
    const unit = tf.div(gA, tf.add(tf.norm(gA), 1e-12));
    const proj = tf.mul(tf.sum(tf.mul(gP, unit)), unit);
    return tf.sub(tf.sub(gP, proj), tf.mul(gA, alpha));
  });
}

let adversaryCounter = 0;

class AdversaryHead {
  readonly vars = new Map<string, tf.Variable>();
  readonly optimizer = new Adam();
  constructor(inputWidth: number, hidden: number, classes: number, seed: number) {
    const make = (name: string, shape: number[], std: number) => {
      const rng = Rng.derive(seed, name);
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (std > 0) for (let i = 0; i < size; i++) data[i] = rng.normal(0, std);
      const init = tf.tensor(data, shape);
      this.vars.set(name, tf.variable(init, true, `adversary-${seed}-${name}-${++adversaryCounter}`));
      init.dispose();
    };
    make('w1', [inputWidth, hidden], Math.sqrt(2 / inputWidth));
    make('b1', [hidden], 0);
    make('w2', [hidden, classes], Math.sqrt(1 / hidden));
    make('b2', [classes], 0);
  }
  logits(z: tf.Tensor2D): tf.Tensor2D {
    const v = (n: string) => this.vars.get(n)!;
    const h = linear(z, v('w1') as tf.Variable<tf.Rank.R2>, v('b1') as tf.Variable<tf.Rank.R1>, 'relu');
    return linear(h, v('w2') as tf.Variable<tf.Rank.R2>, v('b2') as tf.Variable<tf.Rank.R1>);
  }
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.optimizer.dispose();
  }
}

export interface Evaluation {
  /** Prediction in target units (regression) or probability (classification). */
  readonly pred: Float32Array;
  /** Per-sample task loss (same units as training). */
  readonly loss: Float32Array;
  readonly embedding?: Float32Array;
  readonly embeddingWidth: number;
}

/** Samples as the loop reads them: labels and groups; the model adapter reads the inputs. */
export type LabelledSet = Omit<SampleSet, 'x'>;

/** Runs the model without dropout over the given rows of `data` (a PPG-GPT reads `data.x`). */
export function evaluate(
  model: PpgGpt | FinetuneModel,
  data: { x?: Float32Array; y?: Float32Array },
  indices: ArrayLike<number>,
  task: TaskKind,
  scaling: TargetScaling,
  batchSize: number,
  withEmbeddings: boolean,
): Evaluation {
  const fm = isFinetuneModel(model) ? model : ppgFinetuneModel(model, data.x!, model.pooling ?? 'flatten');
  const n = indices.length;
  const pred = new Float32Array(n);
  const loss = new Float32Array(n);
  let embedding: Float32Array | undefined;
  let width = 0;
  for (let s = 0; s < n; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - s) }, (_, k) => indices[s + k]!);
    const B = idx.length;
    tf.tidy(() => {
      const xb = fm.input(idx);
      const { output, embedding: z } = fm.forward(xb, B, { training: false, seed: 0 });
      const out = output.dataSync();
      for (let k = 0; k < B; k++) pred[s + k] = task === 'classification' ? 1 / (1 + Math.exp(-out[k]!)) : out[k]! * scaling.std + scaling.mean;
      if (data.y) {
        const yb = tf.tensor1d(idx.map((i) => (task === 'classification' ? data.y![i]! : (data.y![i]! - scaling.mean) / scaling.std)));
        const l = (task === 'classification' ? bceWithLogitsPerSample(output, yb) : l1PerSample(output, yb)).dataSync();
        loss.set(l, s);
      }
      if (withEmbeddings) {
        width = z.shape[1];
        embedding ??= new Float32Array(n * width);
        embedding.set(z.dataSync(), s * width);
      }
    });
  }
  return { pred, loss, embedding, embeddingWidth: width };
}

/**
 * The worst per-group metric over the groups present: the largest group MAE (regression) or the
 * smallest group AUC (classification; a group with one class has no AUC and is left out).
 * Undefined without groups.
 */
export function worstGroupMetric(task: TaskKind, yTrue: readonly number[], pred: ArrayLike<number>, groups: readonly number[], nGroups: number): number | undefined {
  let worst: number | undefined;
  for (let g = 0; g < nGroups; g++) {
    const idx = groups.flatMap((x, i) => (x === g ? [i] : []));
    if (!idx.length) continue;
    const y = idx.map((i) => yTrue[i]!);
    const p = idx.map((i) => pred[i]!);
    const m = task === 'classification' ? rocAuc(y, p) : mae(y, p);
    if (!Number.isFinite(m)) continue;
    if (worst === undefined || (task === 'classification' ? m < worst : m > worst)) worst = m;
  }
  return worst;
}

function groupMeans(values: ArrayLike<number>, groups: ArrayLike<number> | undefined, nGroups: number): Float64Array {
  const sum = new Float64Array(nGroups);
  const cnt = new Float64Array(nGroups);
  if (groups) {
    for (let i = 0; i < values.length; i++) {
      const g = groups[i]!;
      if (g >= 0 && g < nGroups) {
        sum[g] += values[i]!;
        cnt[g]++;
      }
    }
  }
  return sum.map((s, g) => (cnt[g]! > 0 ? s / cnt[g]! : NaN));
}

export async function finetune(
  model: PpgGpt | FinetuneModel,
  data: SampleSet | LabelledSet,
  cfg: FinetuneConfig,
  strategy: TrainingStrategy,
  groupNames: readonly string[],
  events: TrainerEvents,
): Promise<FinetuneResult> {
  // A PPG-GPT is adapted here (windows in data.x); other models come as adapters (e.g. the ViT on images).
  const fm = isFinetuneModel(model) ? model : ppgFinetuneModel(model, (data as SampleSet).x, cfg.pooling);
  const train = cfg.trainIndices;
  const val = cfg.validationIndices;
  if (train.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', 'the training split is empty', { param: 'trainSplit' });
  // A NaN/Inf target would otherwise surface as "training diverged" (train) or an Inf MAE (validation).
  requireFiniteTargets(data, train);
  requireFiniteTargets(data, val);
  const nGroups = groupNames.length;

  // Target scaling from the training split only (no validation/test leakage).
  let scaling: TargetScaling = { mean: 0, std: 1 };
  if (cfg.task === 'regression' && cfg.standardizeTarget) {
    let m = 0;
    for (const i of train) m += data.y[i]!;
    m /= train.length;
    let v = 0;
    for (const i of train) v += (data.y[i]! - m) ** 2;
    const std = Math.sqrt(v / train.length);
    scaling = { mean: m, std: std > 1e-8 ? std : 1 };
  }
  const target = (i: number) => (cfg.task === 'classification' ? data.y[i]! : (data.y[i]! - scaling.mean) / scaling.std);

  // head.lm (Logit-Laplace reconstruction head) trains only when the auxiliary term is on in some
  // epoch (`anneal` over a single epoch gives weight 0 throughout); it is counted apart from the
  // FairTune trainable share (mask + task head).
  const auxActive = cfg.auxWeight > 0 && (cfg.auxSchedule === 'constant' || cfg.epochs > 1);
  const mask = resolveMask(cfg.mask, fm.specs, fm.nLayers, { auxiliary: auxActive });
  const trainableVars = [...fm.vars.entries()].filter(([k]) => mask.trainable.has(k));
  const trainableMap = new Map(trainableVars);
  events.metric('parameters_total', mask.totalCount, {});
  events.metric('parameters_trainable', mask.trainableCount, {});
  events.metric('parameters_trainable_auxiliary', mask.auxiliaryCount, {});
  events.log(
    'info',
    `PEFT mask "${mask.spec}": ${mask.trainableCount} of ${mask.totalCount} parameters trainable (${((100 * mask.trainableCount) / mask.totalCount).toFixed(2)}%)` +
      (mask.auxiliaryCount > 0 ? ` + ${mask.auxiliaryCount} of the auxiliary Logit-Laplace head head.lm` : ''),
  );

  const optimizer = new Adam({ weightDecay: cfg.weightDecay, decoupled: cfg.optimizer === 'adamw' });
  const stepsPerEpoch = Math.ceil(train.length / cfg.batchSize);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const trainGroups = Int32Array.from(train, (i) => data.group?.[i] ?? -1);
  const adversarySpec = strategy.adversary;
  if (adversarySpec && nGroups < 2) throw new FairtuneError('FT_INPUT_CONTENT', 'the strategy needs an adversary but the samples define fewer than 2 groups');
  let adversary: AdversaryHead | undefined;
  const orderRng = Rng.derive(cfg.seed, 'order');
  const dropoutBase = deriveSeed(cfg.seed, 'dropout') >>> 1;
  const higherIsBetter = (metric: string) => metric === 'auc' || metric === 'worst-group-auc';
  const metricName = cfg.selectionMetric === 'auto' ? (cfg.task === 'classification' ? 'auc' : 'mae') : cfg.selectionMetric;
  if ((metricName === 'auc' || metricName === 'worst-group-auc') && cfg.task !== 'classification') throw new FairtuneError('FT_PARAM_INVALID', `selectionMetric "${metricName}" needs a classification task`, { param: 'selectionMetric' });
  if (metricName === 'worst-group-auc' && nGroups < 2) throw new FairtuneError('FT_PARAM_INVALID', 'selectionMetric "worst-group-auc" needs samples with groups (at least 2)', { param: 'selectionMetric' });
  if (metricName === 'mae' && cfg.task !== 'regression') throw new FairtuneError('FT_PARAM_INVALID', 'selectionMetric "mae" needs a regression task', { param: 'selectionMetric' });

  // Selection switches to validation loss (for the rest of the run, so values stay comparable)
  // when the chosen metric is not finite, e.g. AUC on a single-class validation split.
  let selectionName: string = metricName;
  let best = { epoch: -1, metric: NaN, valLoss: NaN, weights: undefined as Map<string, Float32Array> | undefined };
  let sinceBest = 0;
  let lastSelection = NaN;
  let step = 0;
  let epochsRun = 0;
  const history: JsonObject[] = [];
  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      const auxW = cfg.auxWeight * (cfg.auxSchedule === 'anneal' ? 1 - (epoch + 1) / cfg.epochs : 1);
      const sw = strategy.samplingWeights?.(epoch);
      let order: Int32Array;
      if (sw) {
        if (sw.length !== train.length) throw new Error(`strategy samplingWeights returned ${sw.length} weights for ${train.length} training samples`);
        order = orderRng.weightedIndices(sw, train.length);
      } else {
        order = Int32Array.from(orderRng.shuffle(Array.from({ length: train.length }, (_, k) => k)));
      }
      const epochLoss = new Float64Array(train.length);
      const epochGroup = new Int32Array(train.length);
      let seen = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const local = order.subarray(s * cfg.batchSize, Math.min((s + 1) * cfg.batchSize, order.length));
        const B = local.length;
        const rows = Array.from(local, (k) => train[k]!);
        const groups = Int32Array.from(local, (k) => trainGroups[k]!);
        const lr = warmupCosine(step, totalSteps, cfg.learningRate, cfg.warmupSteps, cfg.minLearningRate);
        const stepSeed = (dropoutBase + step * 104729) % 2147483647;
        let losses: Float32Array = new Float32Array(B);
        const xb = fm.input(rows, { epoch, step });
        const yb = tf.tensor1d(rows.map(target));
        const lam = adversarySpec ? adversarySpec.lambda(step / Math.max(1, totalSteps - 1), epoch) : 0;
        if (adversarySpec && !adversary) {
          adversary = new AdversaryHead(fm.embeddingWidth, adversarySpec.hiddenUnits, nGroups, deriveSeed(cfg.seed, 'adversary'));
        }
        const forward = () => {
          const { output, embedding, aux: auxLoss } = fm.forward(xb, B, { training: true, seed: stepSeed });
          const task = cfg.task === 'classification' ? bceWithLogitsPerSample(output, yb) : l1PerSample(output, yb);
          let aux: tf.Scalar | undefined;
          if (auxW > 0) {
            if (!auxLoss) throw new FairtuneError('FT_PARAM_INVALID', 'auxWeight > 0 but this model has no auxiliary loss (set auxWeight 0)', { param: 'auxWeight' });
            aux = auxLoss();
          }
          return { task, embedding, aux };
        };
        const taskLoss = (task: tf.Tensor1D, aux: tf.Scalar | undefined): tf.Scalar => {
          losses = task.dataSync() as Float32Array; // detached copy for the strategy
          const info: BatchInfo = { epoch, step, totalSteps, indices: Int32Array.from(local), groups, losses };
          const w = strategy.lossWeights?.(info);
          if (w && w.length !== B) throw new Error(`strategy lossWeights returned ${w.length} weights for a batch of ${B}`);
          let l = tf.sum(tf.mul(task, w ? tf.tensor1d(w) : tf.fill([B], 1 / B))) as tf.Scalar;
          if (aux) l = tf.add(l, tf.mul(aux, auxW));
          return l;
        };
        const advLoss = (embedding: tf.Tensor2D): tf.Scalar => {
          const { loss, mask: m } = softmaxCrossEntropyPerSample(adversary!.logits(embedding), groups, nGroups);
          return tf.div(tf.sum(loss), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
        };

        let mainGrads: Record<string, tf.Tensor>;
        let advGrads: Record<string, tf.Tensor> | undefined;
        let lossValue: number;
        // The adversary's loss on this batch before the update (its cross-entropy on the groups).
        let advValue = Number.NaN;
        if (!adversarySpec || adversarySpec.mode === 'gradient-reversal') {
          const advVars = adversary ? [...adversary.vars.values()] : [];
          const { value, grads } = tf.variableGrads(() => {
            const { task, embedding, aux } = forward();
            let l = taskLoss(task, aux);
            if (adversary) {
              const a = advLoss(gradientReversal(embedding, lam) as tf.Tensor2D);
              advValue = a.dataSync()[0]!;
              l = tf.add(l, a);
            }
            return l;
          }, [...trainableVars.map(([, v]) => v), ...advVars]);
          lossValue = value.dataSync()[0]!;
          value.dispose();
          mainGrads = {};
          advGrads = adversary ? {} : undefined;
          const byId = new Map<string, string>(trainableVars.map(([k, v]) => [v.name, k]));
          const advById = new Map<string, string>(adversary ? [...adversary.vars.entries()].map(([k, v]) => [v.name, k]) : []);
          for (const [id, g] of Object.entries(grads)) {
            if (byId.has(id)) mainGrads[byId.get(id)!] = g;
            else if (advById.has(id)) advGrads![advById.get(id)!] = g;
            else g.dispose();
          }
        } else {
          // Zhang et al.: g = ∇L_P − proj_{∇L_A} ∇L_P − α ∇L_A per predictor variable; U ← U − η ∇_U L_A.
          const p = tf.variableGrads(() => {
            const { task, aux } = forward();
            return taskLoss(task, aux);
          }, trainableVars.map(([, v]) => v));
          lossValue = p.value.dataSync()[0]!;
          p.value.dispose();
          const a = tf.variableGrads(() => advLoss(forward().embedding), [...trainableVars.map(([, v]) => v), ...adversary!.vars.values()]);
          advValue = a.value.dataSync()[0]!;
          a.value.dispose();
          const byId = new Map<string, string>(trainableVars.map(([k, v]) => [v.name, k]));
          const advById = new Map<string, string>([...adversary!.vars.entries()].map(([k, v]) => [v.name, k]));
          mainGrads = {};
          advGrads = {};
          for (const [id, gP] of Object.entries(p.grads)) {
            const gA = a.grads[id];
            mainGrads[byId.get(id)!] = gA ? zhangProjection(gP, gA, lam) : tf.clone(gP);
            gP.dispose();
          }
          for (const [id, g] of Object.entries(a.grads)) {
            if (advById.has(id)) advGrads[advById.get(id)!] = g;
            else g.dispose();
          }
        }
        xb.dispose();
        yb.dispose();
        if (!Number.isFinite(lossValue)) {
          for (const g of [...Object.values(mainGrads), ...Object.values(advGrads ?? {})]) g.dispose();
          throw new FairtuneError('FT_TRAINING_DIVERGED', `training diverged: loss is ${lossValue} at epoch ${epoch}, step ${step} (lower the learning rate or enable gradient clipping)`, { param: 'learningRate' });
        }
        const gradNorm = clipByGlobalNorm(mainGrads, cfg.gradClipNorm);
        optimizer.apply(trainableMap, mainGrads, lr);
        if (step === 0) events.metric('optimizer_state_variables', optimizer.stateSize, { step });
        for (const g of Object.values(mainGrads)) g.dispose();
        if (adversary && advGrads) {
          adversary.optimizer.apply(adversary.vars, advGrads, adversarySpec!.learningRate);
          for (const g of Object.values(advGrads)) g.dispose();
        }
        for (let k = 0; k < B; k++) {
          epochLoss[seen + k] = losses[k]!;
          epochGroup[seen + k] = groups[k]!;
        }
        seen += B;
        strategy.afterStep?.({ epoch, step, totalSteps, indices: Int32Array.from(local), groups, losses });
        events.metric('train_step_loss', lossValue, { step });
        events.metric('learning_rate', lr, { step });
        events.metric('grad_norm', gradNorm, { step });
        if (adversary) events.metric('adversary_loss', advValue, { step });
        step++;
        events.progress(step, totalSteps);
        await events.checkpoint();
      }
      epochsRun = epoch + 1;
      const trainLoss = epochLoss.reduce((a, b) => a + b, 0) / seen;
      const trainGroupLoss = groupMeans(epochLoss, epochGroup, nGroups);
      events.metric('train_loss', trainLoss, { epoch });
      events.metric('aux_weight', auxW, { epoch });
      let validation: { loss: number; metric: number; groupLoss: Float64Array } | undefined;
      let selection: number;
      if (val.length > 0) {
        const ev = evaluate(fm, data, val, cfg.task, scaling, cfg.evalBatchSize, false);
        const vLoss = ev.loss.reduce((a, b) => a + b, 0) / val.length;
        const yTrue = Array.from(val, (i) => data.y[i]!);
        const metric = cfg.task === 'classification' ? rocAuc(yTrue, ev.pred) : mae(yTrue, ev.pred);
        validation = { loss: vLoss, metric, groupLoss: groupMeans(ev.loss, Array.from(val, (i) => data.group?.[i] ?? -1), nGroups) };
        events.metric('val_loss', vLoss, { epoch });
        events.metric(`val_${cfg.task === 'classification' ? 'auc' : 'mae'}`, metric, { epoch });
        // The worst group on the whole validation split after every epoch: FairTune's search
        // objective (worst-group AUC; worst-group MAE for regression), reported to its pruner per epoch.
        const worst = worstGroupMetric(cfg.task, yTrue, ev.pred, Array.from(val, (i) => data.group?.[i] ?? -1), nGroups);
        if (worst !== undefined) events.metric(`val_worst_group_${cfg.task === 'classification' ? 'auc' : 'mae'}`, worst, { epoch });
        const selectedValue = metricName === 'worst-group-auc' ? (worst ?? NaN) : metric;
        if (selectionName !== 'loss' && !Number.isFinite(selectedValue)) {
          // Otherwise epoch 0 would win (nothing beats NaN) and early stopping would restore it silently.
          const positives = yTrue.reduce((k, y) => k + (y === 1 ? 1 : 0), 0);
          const why =
            metricName === 'worst-group-auc' && worst === undefined
              ? 'no validation group has both classes'
              : metricName !== 'mae' && (positives === 0 || positives === yTrue.length)
              ? `the validation split has a single class: all ${yTrue.length} samples are ${positives === 0 ? 0 : 1}`
              : 'the validation predictions are not finite';
          events.log('warn', `validation ${metricName} is ${selectedValue} at epoch ${epoch + 1} (${why}); selecting checkpoints and early stopping by validation loss instead`);
          selectionName = 'loss';
          if (best.epoch >= 0) best.metric = best.valLoss;
        }
        selection = selectionName === 'loss' ? vLoss : selectedValue;
      } else {
        selection = trainLoss;
      }
      lastSelection = selection;
      history.push({ epoch, trainLoss, ...(validation ? { valLoss: validation.loss, [`val${cfg.task === 'classification' ? 'Auc' : 'Mae'}`]: validation.metric } : {}) });
      strategy.afterEpoch?.({ epoch, trainLoss, trainGroupLoss, validation });
      const state = strategy.state?.();
      if (state) events.log('info', `epoch ${epoch} strategy state: ${JSON.stringify(state)}`);
      const improved =
        best.epoch < 0 || (Number.isFinite(selection) && (!Number.isFinite(best.metric) || (higherIsBetter(selectionName) ? selection > best.metric : selection < best.metric)));
      if (improved) {
        // Only trainable variables change, so only they need a snapshot.
        best = { epoch, metric: selection, valLoss: validation?.loss ?? NaN, weights: new Map(trainableVars.map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()])) };
        sinceBest = 0;
      } else sinceBest++;
      events.log('info', `epoch ${epoch + 1}/${cfg.epochs}: train loss ${trainLoss.toFixed(4)}` + (validation ? `, val loss ${validation.loss.toFixed(4)}, val ${cfg.task === 'classification' ? 'AUC' : 'MAE'} ${validation.metric.toFixed(4)}` : '') + (improved ? ' (best)' : ''));
      if (cfg.patience > 0 && sinceBest >= cfg.patience) {
        events.log('info', `early stopping after epoch ${epoch + 1}: no improvement in ${val.length > 0 ? `validation ${selectionName}` : 'train loss'} for ${cfg.patience} epochs`);
        break;
      }
    }
    if (cfg.selection === 'last') {
      best = { ...best, epoch: epochsRun - 1, metric: lastSelection };
      events.log('info', `kept the last epoch's weights (selection: last)`);
    } else if (best.weights && best.epoch !== epochsRun - 1) {
      for (const [k, w] of best.weights) {
        const v = trainableMap.get(k)!;
        const t = tf.tensor(w, v.shape);
        v.assign(t);
        t.dispose();
      }
      events.log('info', `restored the best checkpoint from epoch ${best.epoch + 1} (${val.length > 0 ? `validation ${selectionName}` : 'train loss'} ${best.metric.toFixed(4)})`);
    }
  } finally {
    optimizer.dispose();
    adversary?.dispose();
  }
  return {
    mask,
    scaling,
    bestEpoch: best.epoch,
    epochsRun,
    bestMetric: best.metric,
    metricName: val.length > 0 ? selectionName : 'train_loss',
    strategyState: strategy.state?.(),
    history,
  };
}
