/** JSON-schema fragments shared by the training stages. */
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
