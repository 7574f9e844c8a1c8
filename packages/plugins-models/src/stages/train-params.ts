/** JSON-schema fragments and helpers shared by the training stages. */
import type { JsonObject, StageEmitter, TrainingStrategy, TrainingStrategyPlugin } from '@fairtune/core/plugin';
export const optimiserParams = {
  optimizer: { type: 'string', enum: ['adam', 'adamw'], default: 'adam', description: 'adam: L2 added to the gradient (torch Adam); adamw: decoupled weight decay.' },
  learningRate: { type: 'number', exclusiveMinimum: 0, default: 1e-4, description: 'Peak learning rate (after warmup).' },
  minLearningRate: { type: 'number', minimum: 0, default: 0, description: 'Learning rate at the end of the cosine decay.' },
  weightDecay: { type: 'number', minimum: 0, default: 0.01 },
  warmupSteps: { type: 'integer', minimum: 0, default: 0, description: 'Linear warmup steps before cosine decay.' },
  epochs: { type: 'integer', minimum: 1, default: 10 },
  batchSize: { type: 'integer', minimum: 1, default: 32 },
  gradClipNorm: { type: 'number', minimum: 0, default: 1, description: 'Max global gradient L2 norm; 0 disables clipping.' },
} as const;

export type { OptimiserSettings as OptimiserParams } from '../train/optimizer.js';

/** One training strategy instance for a fine-tune, the same for PPG-GPT and the ViT. */
export function createStrategy(
  plugin: TrainingStrategyPlugin,
  p: { readonly strategy: { readonly params: JsonObject }; readonly epochs: number; readonly batchSize: number },
  train: ArrayLike<number>,
  group: ArrayLike<number> | undefined,
  groupNames: readonly string[],
  seed: number,
  emit: StageEmitter,
): TrainingStrategy {
  return plugin.create({
    params: p.strategy.params,
    trainGroups: Int32Array.from(train, (i) => group?.[i] ?? -1),
    groupNames,
    epochs: p.epochs,
    stepsPerEpoch: Math.ceil(train.length / p.batchSize),
    batchSize: p.batchSize,
    seed,
    log: (m) => emit.log('info', `[${plugin.name}] ${m}`),
  });
}
