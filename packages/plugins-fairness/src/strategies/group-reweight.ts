/**
 * The PPG FairTune paper's loss-proportional resampling ("GroupDRO" in its text, named
 * `group-reweight` here because it is not Sagawa et al.'s algorithm): after each epoch, with the
 * mean training loss L_g of each group over that epoch,
 *
 *   L̂_g = L_g / mean_h L_h  (normalize 'mean', default) | L_g / Σ_h L_h ('sum') | L_g ('none')
 *   w_g = 1 + η · L̂_g        (η default 1)
 *
 * and the next epoch draws samples with replacement with p_i ∝ w_{g_i} (balance 'none', the
 * paper's description; group mass then also scales with group size) or p_i ∝ w_{g_i}/n_{g_i}
 * (balance 'size': group mass ∝ w_g). Before the first epoch has finished no loss is known
 * (L̂ = 0, w_g = 1): plain shuffle for 'none', group-balanced sampling for 'size'. A group with
 * no loss in the previous epoch (NaN) and samples of unknown group get w = 1.
 */
import type { TrainingStrategy, TrainingStrategyPlugin } from '@fairtune/core/plugin';
import { groupCounts } from './params.js';

export type LossNormalization = 'mean' | 'sum' | 'none';

/** w_g = 1 + η·L̂_g from per-group losses (NaN losses give w_g = 1). */
export function reweightGroupWeights(groupLoss: ArrayLike<number>, eta: number, normalize: LossNormalization): Float64Array {
  const finite = Array.from(groupLoss).filter((v) => Number.isFinite(v));
  const total = finite.reduce((a, b) => a + b, 0);
  const scale = normalize === 'none' ? 1 : normalize === 'sum' ? total : total / Math.max(finite.length, 1);
  return Float64Array.from(groupLoss, (l) => {
    if (!Number.isFinite(l) || !(scale > 0)) return 1;
    return 1 + eta * (l / scale);
  });
}

/** Params as resolved at validation against the schema below (defaults filled in). */
interface GroupReweightParams {
  readonly eta: number;
  readonly normalize: LossNormalization;
  readonly balance: 'none' | 'size';
}

export const groupReweightStrategy: TrainingStrategyPlugin = {
  name: 'group-reweight',
  version: '1',
  description: "PPG FairTune's loss-proportional resampling w_g = 1 + η·L̂_g from the previous epoch's per-group loss.",
  paramsSchema: {
    type: 'object',
    properties: {
      eta: { type: 'number', minimum: 0, default: 1, description: 'η in w_g = 1 + η·L̂_g.' },
      normalize: { enum: ['mean', 'sum', 'none'], default: 'mean', description: 'How the per-group losses are normalised into L̂_g.' },
      balance: { enum: ['none', 'size'], default: 'none', description: "'size' divides sample weights by the group's training count." },
    },
    additionalProperties: false,
  },
  create(init): TrainingStrategy {
    const { eta, normalize, balance } = init.params as unknown as GroupReweightParams;
    const G = init.groupNames.length;
    const counts = groupCounts(init.trainGroups, G);
    let groupWeights: Float64Array = new Float64Array(G).fill(1);
    let lossSeen = false;
    return {
      samplingWeights(): Float64Array | undefined {
        if (!lossSeen && balance === 'none') return undefined;
        return Float64Array.from(init.trainGroups, (g) => {
          if (g < 0) return 1;
          return balance === 'size' ? groupWeights[g]! / counts[g]! : groupWeights[g]!;
        });
      },
      afterEpoch(info) {
        if (info.trainGroupLoss.length !== G) {
          throw new RangeError(`group-reweight: epoch ${info.epoch} reports ${info.trainGroupLoss.length} group losses for ${G} groups`);
        }
        groupWeights = reweightGroupWeights(info.trainGroupLoss, eta, normalize);
        lossSeen = true;
        init.log(`group-reweight after epoch ${info.epoch}: w = [${Array.from(groupWeights, (w, g) => `${init.groupNames[g]}=${w.toFixed(4)}`).join(', ')}]`);
      },
      state: () => ({ strategy: 'group-reweight', groupWeights: Array.from(groupWeights), eta, normalize, balance }),
    };
  },
};
