/**
 * Training strategies (bias mitigations) plug into the fine-tuning trainer through these
 * hooks, without importing the trainer or any tensor library. The trainer owns the model,
 * the optimiser and the tensors; a strategy only decides weights, schedules and updates.
 *
 * Per step the trainer computes the per-sample loss ℓ_i of the batch, asks
 * `lossWeights` for weights w_i (default 1/B) and minimises Σ_i w_i·ℓ_i; weights can depend on
 * the detached losses, which is how GroupDRO's q-update is expressed.
 */
import type { ServiceIdentifier } from 'inversify';
import type { JsonObject } from './artifact.js';
import type { NestedPlugin, NestedPluginKind } from './nested-plugin.js';

export interface StrategyInit {
  /** The strategy's params, checked against its `paramsSchema` with defaults filled in (at pipeline validation). */
  readonly params: JsonObject;
  /** Group id of every training sample (−1 = unknown group). */
  readonly trainGroups: Int32Array;
  readonly groupNames: readonly string[];
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  readonly seed: number;
  log(message: string): void;
}

export interface BatchInfo {
  readonly epoch: number;
  /** Global step (0-based, across epochs). */
  readonly step: number;
  readonly totalSteps: number;
  /** Indices of the batch samples in the training set. */
  readonly indices: Int32Array;
  readonly groups: Int32Array;
  /** Detached per-sample loss of the task head. */
  readonly losses: Float32Array;
}

export interface EpochInfo {
  readonly epoch: number;
  readonly trainLoss: number;
  /** Mean training loss per group over the epoch (NaN for a group with no samples). */
  readonly trainGroupLoss: Float64Array;
  readonly validation?: { readonly loss: number; readonly metric: number; readonly groupLoss: Float64Array };
}

/**
 * An adversary predicting the group from the penultimate embedding, trained jointly. The
 * trainer builds the head (hidden layer of `hiddenUnits`, softmax over the groups) and its
 * own optimiser; `mode` picks how the encoder is pushed away from group information.
 */
export interface AdversarySpec {
  readonly mode: 'gradient-reversal' | 'projection';
  readonly hiddenUnits: number;
  readonly learningRate: number;
  /** Weight λ of the adversarial term at a point of training (progress in [0, 1]). */
  lambda(progress: number, epoch: number): number;
}

export interface TrainingStrategy {
  /**
   * Weights for drawing this epoch's training samples with replacement (length = number of
   * training samples), or undefined for a plain seeded shuffle.
   */
  samplingWeights?(epoch: number): Float64Array | undefined;
  /** Weights w_i of the batch's per-sample losses; the trainer minimises Σ w_i·ℓ_i. Default 1/B. */
  lossWeights?(batch: BatchInfo): Float32Array;
  readonly adversary?: AdversarySpec;
  afterStep?(batch: BatchInfo): void;
  afterEpoch?(info: EpochInfo): void;
  /** JSON state for logs and run records (e.g. GroupDRO's q). */
  state?(): JsonObject;
}

/**
 * A nested plugin of kind `training-strategy`: `name` is used in pipelines (`erm`,
 * `inverse-frequency`, `group-dro`, `group-reweight`, `adversarial`); its params are validated
 * and defaulted against `paramsSchema` before `create` is called, and `version` joins the cache
 * key of every fine-tuning stage that uses it.
 */
export interface TrainingStrategyPlugin extends NestedPlugin {
  create(init: StrategyInit): TrainingStrategy;
}

export const TRAINING_STRATEGY: ServiceIdentifier<TrainingStrategyPlugin> = Symbol.for('@fairtune/core:TrainingStrategy');

/** The `training-strategy` kind: stages select one with `nestedPluginParam(TRAINING_STRATEGY_KIND.kind)`. */
export const TRAINING_STRATEGY_KIND: NestedPluginKind<TrainingStrategyPlugin> = {
  kind: 'training-strategy',
  token: TRAINING_STRATEGY,
  description: 'Training strategies (bias mitigations) the fine-tuning trainer calls.',
};
