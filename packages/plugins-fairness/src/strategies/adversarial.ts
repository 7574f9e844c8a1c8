/**
 * Adversarial debiasing (ADV): an adversary head predicts the group from the penultimate
 * embedding and is trained jointly by the trainer with its own optimiser. This strategy only
 * specifies it (AdversarySpec); the trainer implements the update:
 *
 * - 'gradient-reversal' (default; Ganin & Lempitsky 2015): the encoder receives −λ·∇L_adv
 *   through a gradient-reversal layer; λ follows the DANN ramp
 *   λ(p) = λ_max · (2 / (1 + exp(−γ·p)) − 1), γ = 10, p = training progress in [0, 1].
 * - 'projection' (Zhang, Lemoine & Mitchell 2018): encoder gradient
 *   ∇L_P − proj_{∇L_A} ∇L_P − α ∇L_A (Frobenius inner product), α = λ(p); the schedule
 *   defaults to 'constant' (α = λ_max) as in the paper, fairlearn and AIF360.
 */
import { FairtuneError, type AdversarySpec, type TrainingStrategy, type TrainingStrategyPlugin } from '@fairtune/core/plugin';

/** DANN ramp: 2/(1 + exp(−γ·p)) − 1 for p clamped to [0, 1]; 0 at p = 0, → 1 as p → 1 (0.9999 for γ = 10). */
export function dannRamp(progress: number, gamma = 10): number {
  const p = Math.min(1, Math.max(0, progress));
  return 2 / (1 + Math.exp(-gamma * p)) - 1;
}

/** Params as resolved at validation against the schema below (defaults filled in; `schedule` has none). */
interface AdversarialParams {
  readonly mode: 'gradient-reversal' | 'projection';
  readonly maxLambda: number;
  readonly schedule?: 'dann' | 'constant';
  readonly gamma: number;
  readonly hiddenUnits: number;
  readonly learningRate: number;
}

export const adversarialStrategy: TrainingStrategyPlugin = {
  name: 'adversarial',
  version: '1',
  description: 'Adversary head predicting the group from the embedding: gradient reversal with the DANN λ ramp (default) or Zhang et al. projection.',
  paramsSchema: {
    type: 'object',
    properties: {
      mode: { enum: ['gradient-reversal', 'projection'], default: 'gradient-reversal' },
      maxLambda: { type: 'number', minimum: 0, default: 1, description: 'λ_max (GRL weight) or α (projection).' },
      schedule: { enum: ['dann', 'constant'], description: "Default 'dann' for gradient-reversal, 'constant' for projection." },
      gamma: { type: 'number', exclusiveMinimum: 0, default: 10, description: 'Steepness γ of the DANN ramp.' },
      hiddenUnits: { type: 'integer', minimum: 1, default: 64, description: 'Hidden units of the adversary head.' },
      learningRate: { type: 'number', exclusiveMinimum: 0, default: 0.001, description: "Learning rate of the adversary's own optimiser." },
    },
    additionalProperties: false,
  },
  create(init): TrainingStrategy {
    const p = init.params as unknown as AdversarialParams;
    const { mode, maxLambda, gamma, hiddenUnits, learningRate } = p;
    // The schedule's default depends on the mode, so the schema leaves it open.
    const schedule = p.schedule ?? (mode === 'projection' ? 'constant' : 'dann');
    if (init.groupNames.length < 2) throw new FairtuneError('FT_INPUT_CONTENT', `strategy adversarial: needs at least 2 groups to predict, got ${init.groupNames.length}`);
    const adversary: AdversarySpec = {
      mode,
      hiddenUnits,
      learningRate,
      lambda: (progress) => (schedule === 'constant' ? maxLambda : maxLambda * dannRamp(progress, gamma)),
    };
    return {
      adversary,
      state: () => ({ strategy: 'adversarial', mode, schedule, maxLambda, gamma, hiddenUnits, learningRate }),
    };
  },
};
