/** `train.finetune`: supervised fine-tuning of a PPG-GPT backbone with PEFT masks and pluggable training strategies. */
import { injectable, multiInject, optional } from 'inversify';
import {
  FairtuneError,
  TRAINING_STRATEGY,
  TRAINING_STRATEGY_KIND,
  nestedPluginParam,
  requireInput,
  runAsync,
  type JsonObject,
  type NestedPluginRef,
  type StageContext,
  type StagePlugin,
  type TaskKind,
  type TrainingStrategyPlugin,
} from '@fairtune/core/plugin';
import { backendParam, seedParam } from './params.js';
import { createStrategy, optimiserParams, type OptimiserParams } from './train-params.js';
import { MASK_PATTERN, MASK_PRESETS } from '../train/peft.js';
import { trainRows } from '../train/subsample.js';
import { ermStrategy } from '../strategies/erm.js';
import type { Pooling } from '../ppg-gpt/config.js';

interface Params extends OptimiserParams {
  task: 'auto' | TaskKind;
  pooling: Pooling;
  mask: string;
  patience: number;
  selectionMetric: 'auto' | 'loss' | 'mae' | 'auc' | 'worst-group-auc';
  selection?: 'best' | 'last';
  augment?: boolean;
  auxWeight?: number;
  auxSchedule: 'anneal' | 'constant';
  standardizeTarget: boolean;
  trainSplit: string;
  trainFraction?: number;
  validationSplit: string;
  evalBatchSize: number;
  /** Resolved at validation: a known strategy, its params checked and defaulted against its schema. */
  strategy: NestedPluginRef;
  seed?: number;
  backend?: string;
}

/** The fine-tune's settings as the model records them (`meta.training`): resolved params without the backend and evaluation batch size, with the seed used. */
function trainingRecord(p: Params, seed: number): JsonObject {
  const { backend: _backend, evalBatchSize: _evalBatchSize, seed: _seed, ...settings } = p;
  return { ...(settings as unknown as JsonObject), seed };
}

@injectable()
export class FinetuneStage implements StagePlugin<Params> {
  readonly type = 'train.finetune';
  // 4: the strategy's version and its defaulted params join the cache key (resolved at validation).
  // 5: the model records its training settings (meta.training); predictions carry the samples' aux/<label> arrays.
  readonly version = '5';
  readonly description = 'Fine-tunes a PPG-GPT backbone (regression or binary classification) or a ViT backbone (binary image classification) with a PEFT mask and a training strategy.';
  readonly #strategies: readonly TrainingStrategyPlugin[];

  constructor(@multiInject(TRAINING_STRATEGY) @optional() strategies?: TrainingStrategyPlugin[]) {
    const list = strategies ?? [];
    this.#strategies = list.some((s) => s.name === 'erm') ? list : [ermStrategy, ...list];
  }

  /** The strategies this stage can run (what `runStandalone` resolves `strategy` against in tests). */
  get strategies(): readonly TrainingStrategyPlugin[] {
    return this.#strategies;
  }

  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      task: { type: 'string', enum: ['auto', 'regression', 'classification'], default: 'auto', description: 'auto: the samples artifact task.' },
      pooling: { type: 'string', enum: ['flatten', 'mean', 'last'], default: 'flatten', description: 'Token pooling before the head; flatten is the reference (GPT_with_linearOutput).' },
      mask: {
        type: 'string',
        default: 'full',
        pattern: MASK_PATTERN,
        errorMessage: `must be a PEFT preset (${MASK_PRESETS.join(', ')}), a bitstring of 3 bits per block (norm, attention, mlp), or <components>:<one bit per block> (components attention, layernorm, mlp joined by +, or block)`,
      },
      ...optimiserParams,
      patience: { type: 'integer', minimum: 0, default: 0, description: 'Early stopping after this many epochs without improvement; 0 = off.' },
      selectionMetric: {
        type: 'string',
        enum: ['auto', 'loss', 'mae', 'auc', 'worst-group-auc'],
        default: 'auto',
        description: 'Validation metric for best-checkpoint selection (auto: MAE for regression, AUC for PPG classification, worst-group AUC for a ViT on grouped images, AUC without groups).',
      },
      // No defaults on the two below: a default would change every existing fine-tune's cache key.
      selection: { type: 'string', enum: ['best', 'last'], description: "Which weights the model keeps: 'best' (default) validation checkpoint, or the 'last' epoch's (the FairTune seed code's choice)." },
      augment: { type: 'boolean', description: 'ViT: seeded random horizontal flip and translation of training images (default true); ignored for PPG-GPT.' },
      auxWeight: { type: 'number', minimum: 0, description: 'Weight of the Logit-Laplace term; default 10 for regression, 0 for classification.' },
      auxSchedule: { type: 'string', enum: ['anneal', 'constant'], default: 'anneal', description: 'anneal: weight·(1 − (epoch+1)/epochs) (PPG-Distill).' },
      standardizeTarget: { type: 'boolean', default: true, description: 'Regression: train on (y − mean)/std of the training split; predictions are in target units.' },
      trainSplit: { type: 'string', minLength: 1, default: 'train', description: 'Split to train on, or several joined by "+" (train+validation, with selection "last", for a final model trained on all but the test split).' },
      // No default: a default would change every existing fine-tune's cache key.
      trainFraction: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        description: "Fine-tune on this fraction of the training split's subjects, drawn per group (at least one of each) with the stage seed: FairTune's search fine-tunes its trials on 10 % (0.1). Default: every training subject.",
      },
      validationSplit: { type: 'string', default: 'validation', description: 'Split used for early stopping and best-checkpoint selection (split.subjects names it "validation").' },
      evalBatchSize: { type: 'integer', minimum: 1, default: 128 },
      strategy: nestedPluginParam(TRAINING_STRATEGY_KIND.kind, {
        default: 'erm',
        description: 'Training strategy (bias mitigation) as { "name", "params" }: any installed training-strategy (listed by `fairtune plugins`); its params are checked against that strategy\'s schema and defaulted at validation.',
      }),
      seed: seedParam,
      backend: backendParam,
    },
  };
  readonly inputs = {
    backbone: { kind: ['backbone', 'model'], description: 'Pretrained backbone (a model artifact is fine-tuned again with a new head)' },
    samples: { kind: 'samples', description: 'Windows with y, subject, split (train/val/test) and optionally group' },
  };
  readonly outputs = {
    model: { kind: 'model', description: 'Fine-tuned model (best validation checkpoint)' },
    predictions: { kind: 'predictions', description: 'Predictions on every sample, with split/group/subject' },
    embeddings: { kind: 'embeddings', description: 'Penultimate-layer embeddings of every sample' },
  };

  run(ctx: StageContext<Params>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      // Name and params were resolved at validation (or by runStandalone): the strategy is known and its params complete.
      const plugin = this.#strategies.find((s) => s.name === p.strategy.name);
      if (!plugin) throw new Error(`training strategy "${p.strategy.name}" was resolved at validation but is not bound in this stage's container`);
      // Tensor code loads here, on first use (one import at a time: jest's ESM linker fails on concurrent ones).
      const { loadModel, modelArtifact, startEngine } = await import('./common.js');
      const { isVitArtifact } = await import('./vit-common.js');
      const seedUsed = p.seed ?? ctx.seed;
      const backbone = requireInput(ctx.inputs, 'backbone', 'backbone');
      const samples = requireInput(ctx.inputs, 'samples', 'samples');
      const events = (): import('../train/finetune.js').TrainerEvents => ({ progress: (d, t) => emit.progress(d, t, undefined, 'steps'), metric: (n, v, at) => emit.metric(n, v, at), log: (l, m) => emit.log(l, m), checkpoint: () => emit.checkpoint() });
      if (isVitArtifact(backbone)) {
        const { finetuneVit } = await import('./finetune-vit.js');
        await startEngine(emit, p.backend);
        await finetuneVit(backbone, samples, p, seedUsed, plugin, emit, trainingRecord(p, seedUsed), events());
        return;
      }
      const { readSamples, splitIndices, trainSplitRows } = await import('../train/data.js');
      const { finetune } = await import('../train/finetune.js');
      const { predictionArtifacts } = await import('./prediction-artifacts.js');
      await startEngine(emit, p.backend);
      const { model } = loadModel(backbone, 'backbone');
      try {
        const data = readSamples(samples, model.config);
        const task: TaskKind = p.task === 'auto' ? data.meta.task : p.task;
        if (task !== 'regression' && task !== 'classification') throw new FairtuneError('FT_INPUT_CONTENT', `samples "${data.meta.name}" have task "${String(task)}"; expected regression or classification`, { port: 'samples' });
        const split = trainSplitRows(data, p.trainSplit, p.validationSplit, p.selection);
        if (split.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', `samples "${data.meta.name}" have no samples in the training split "${p.trainSplit}" (splits: ${data.meta.splits?.join(', ') ?? 'none; add a split stage'})`, { port: 'samples', param: 'trainSplit' });
        const val = splitIndices(data, p.validationSplit);
        if (val.length === 0) emit.log('warn', `no samples in validation split "${p.validationSplit}": the last epoch is kept and early stopping uses the training loss`);
        const seed = p.seed ?? ctx.seed;
        const groupNames = data.meta.groups?.names ?? [];
        const train = trainRows(split, data, groupNames, p.trainFraction, seed, emit);
        model.addTaskHead(p.pooling, seed);
        const strategy = createStrategy(plugin, p, train, data.group, groupNames, seed, emit);
        const result = await finetune(
          model,
          data,
          {
            ...p,
            task,
            auxWeight: p.auxWeight ?? (task === 'regression' ? 10 : 0),
            seed,
            trainIndices: train,
            validationIndices: val,
          },
          strategy,
          groupNames,
          { progress: (d, t) => emit.progress(d, t, undefined, 'steps'), metric: (n, v, at) => emit.metric(n, v, at), log: (l, m) => emit.log(l, m), checkpoint: () => emit.checkpoint() },
        );
        if (result.strategyState) emit.log('info', `final strategy state: ${JSON.stringify(result.strategyState)}`);
        emit.artifact(
          'model',
          modelArtifact('model', model, { pooling: p.pooling, targetMean: result.scaling.mean, targetStd: result.scaling.std, mask: p.mask }, task, result.mask.trainableCount, {
            method: plugin.name,
            // what the model card reports as "method and its params": the resolved params (strategy included), the seed used, not the backend
            training: trainingRecord(p, seed),
            history: result.history,
            bestEpoch: result.bestEpoch,
            ...(result.strategyState ? { strategyState: result.strategyState } : {}),
          }, data.meta),
        );
        const out = predictionArtifacts(model, data, task, result.scaling, p.evalBatchSize, plugin.name);
        emit.artifact('predictions', out.predictions);
        emit.artifact('embeddings', out.embeddings);
      } finally {
        model.dispose();
      }
    });
  }
}
