/**
 * Inverse-frequency (IF) weighting of the PPG FairTune paper: every training sample of group g
 * gets w_i = 1/(G·f_g) with f_g = n_g/N, i.e. N/(G·n_g) (N/(2 n_g) for two groups), sklearn's
 * compute_class_weight('balanced'). The weights average 1 over the training set and, used as
 * sampling probabilities p_i = w_i/Σw = 1/(G·n_g), give every group the mass 1/G.
 *
 * G counts the groups that occur in the training set (a named group without training samples
 * would get an infinite weight); N counts the samples of known group. Samples of unknown group
 * (−1) get weight 1, the mean weight, so they keep their natural share.
 *
 * mode 'sampling' (default, as in the paper): weighted random sampling with replacement each
 * epoch. mode 'loss': the trainer minimises Σ_i w_i ℓ_i / B ('batch-size' normalisation, an
 * unbiased estimate of the group-balanced risk Σ_g ℓ_g/G) or Σ_i w_i ℓ_i / Σ_i w_i
 * ('weight-sum', PyTorch's weighted-mean reduction).
 */
import { FairtuneError, type TrainingStrategy, type TrainingStrategyPlugin } from '@fairtune/core/plugin';
import { groupCounts } from './params.js';

/** Per-sample IF weights and the weight of each group (0 for groups absent from training). */
export function inverseFrequencyWeights(groups: Int32Array, G: number): { sample: Float64Array; group: Float64Array } {
  const counts = groupCounts(groups, G);
  let present = 0;
  let known = 0;
  for (const c of counts) {
    if (c > 0) present++;
    known += c;
  }
  if (present === 0) throw new FairtuneError('FT_INPUT_CONTENT', 'inverse-frequency: no training sample has a known group (all group ids are −1)');
  const group = Float64Array.from(counts, (c) => (c > 0 ? known / (present * c) : 0));
  const sample = Float64Array.from(groups, (g) => (g >= 0 ? group[g]! : 1));
  return { sample, group };
}

/** Params as resolved at validation against the schema below (defaults filled in). */
interface InverseFrequencyParams {
  readonly mode: 'sampling' | 'loss';
  readonly lossNormalization: 'batch-size' | 'weight-sum';
}

export const inverseFrequencyStrategy: TrainingStrategyPlugin = {
  name: 'inverse-frequency',
  version: '1',
  description: 'Inverse group frequency weights 1/(G·f_g): weighted random sampling each epoch (default) or loss weights.',
  paramsSchema: {
    type: 'object',
    properties: {
      mode: { enum: ['sampling', 'loss'], default: 'sampling', description: 'Use the weights for sampling with replacement or as loss weights.' },
      lossNormalization: {
        enum: ['batch-size', 'weight-sum'],
        default: 'batch-size',
        description: "mode 'loss' only: divide Σ w_i ℓ_i by the batch size or by Σ w_i.",
      },
    },
    additionalProperties: false,
  },
  create(init): TrainingStrategy {
    const { mode, lossNormalization: normalization } = init.params as unknown as InverseFrequencyParams;
    const { sample, group } = inverseFrequencyWeights(init.trainGroups, init.groupNames.length);
    init.log(`inverse-frequency (${mode}): group weights ${init.groupNames.map((n, g) => `${n}=${group[g]!.toFixed(4)}`).join(', ')}`);
    const state = () => ({ strategy: 'inverse-frequency', mode, groupWeights: Array.from(group) });
    if (mode === 'sampling') return { samplingWeights: () => sample, state };
    return {
      lossWeights(batch) {
        const w = new Float32Array(batch.indices.length);
        let sum = 0;
        for (let k = 0; k < w.length; k++) {
          w[k] = sample[batch.indices[k]!]!;
          sum += w[k]!;
        }
        const denom = normalization === 'batch-size' ? w.length : sum;
        for (let k = 0; k < w.length; k++) w[k]! /= denom;
        return w;
      },
      state,
    };
  },
};
