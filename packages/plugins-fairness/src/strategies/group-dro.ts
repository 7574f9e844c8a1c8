/**
 * Online GroupDRO (Sagawa et al., ICLR 2020), following the reference implementation
 * kohpangwei/group_DRO loss.py (docs/fairness.md §group-dro). Per training step, with the
 * batch's mean loss ℓ_g of each group present (ℓ_g = 0 for an absent group):
 *
 *   a_g = ℓ_g + C_g/√n_g          (optional generalisation adjustment, n_g = training count)
 *   a   = a / Σ_h a_h             (only with normalizeLoss)
 *   q_g ← q_g · exp(η · a_g),  q ← q / Σ_h q_h        (q starts uniform, persists across epochs)
 *   loss = Σ_g q_g ℓ_g  — expressed to the trainer as w_i = q_{g_i} / n_{g_i, batch}
 *
 * q is updated before it weights the loss (as in the code). Samples of unknown group (−1) get
 * weight 0. The exponentiated update is done on log q (mathematically identical, no overflow).
 * q only changes in lossWeights, which the trainer calls on training steps only, so it stays
 * frozen during evaluation; a second call for the same step returns the same weights.
 */
import { FairtuneError, type BatchInfo, type TrainingStrategy, type TrainingStrategyPlugin } from '@fairtune/core/plugin';
import { groupCounts } from './params.js';

export interface GroupDroOptions {
  readonly stepSize: number;
  /** C_g per group (0 = no adjustment). */
  readonly adjustment: Float64Array;
  readonly normalizeLoss: boolean;
}

/** The GroupDRO state machine, separate from the plugin wrapper so it can be stepped in tests. */
export class GroupDro {
  readonly #logQ: Float64Array;
  readonly #counts: Float64Array;
  #lastStep = -1;
  #lastWeights = new Float32Array(0);
  #lastGroupLoss: Float64Array;
  #robustLoss = Number.NaN;

  constructor(
    readonly groups: number,
    trainGroups: Int32Array,
    readonly options: GroupDroOptions,
  ) {
    if (groups < 1) throw new FairtuneError('FT_INPUT_CONTENT', 'group-dro: needs at least one group name');
    this.#logQ = new Float64Array(groups).fill(-Math.log(groups));
    this.#counts = groupCounts(trainGroups, groups);
    this.#lastGroupLoss = new Float64Array(groups);
  }

  get q(): Float64Array {
    return this.#logQ.map(Math.exp);
  }

  get robustLoss(): number {
    return this.#robustLoss;
  }

  get lastGroupLoss(): Float64Array {
    return this.#lastGroupLoss.slice();
  }

  /** Updates q with the batch's detached losses and returns w_i = q_{g_i}/n_{g_i,batch}. */
  step(batch: Pick<BatchInfo, 'step' | 'groups' | 'losses'>): Float32Array {
    if (batch.step === this.#lastStep) return this.#lastWeights.slice();
    const G = this.groups;
    const n = batch.groups.length;
    if (batch.losses.length !== n) throw new RangeError(`group-dro: batch has ${n} group ids but ${batch.losses.length} losses`);
    const sum = new Float64Array(G);
    const cnt = new Float64Array(G);
    for (let i = 0; i < n; i++) {
      const g = batch.groups[i]!;
      if (g < 0) continue;
      if (g >= G) throw new RangeError(`group-dro: batch sample ${i} has group id ${g} but there are only ${G} groups`);
      sum[g]! += batch.losses[i]!;
      cnt[g]! += 1;
    }
    const loss = Float64Array.from(sum, (s, g) => (cnt[g]! > 0 ? s / cnt[g]! : 0));
    const adjusted = loss.slice();
    for (let g = 0; g < G; g++) {
      if (this.options.adjustment[g]! > 0 && this.#counts[g]! > 0) adjusted[g]! += this.options.adjustment[g]! / Math.sqrt(this.#counts[g]!);
    }
    if (this.options.normalizeLoss) {
      const total = adjusted.reduce((a, b) => a + b, 0);
      if (total > 0) for (let g = 0; g < G; g++) adjusted[g]! /= total;
    }
    for (let g = 0; g < G; g++) this.#logQ[g]! += this.options.stepSize * adjusted[g]!;
    // Renormalise in log space: log q_g − log Σ_h exp(log q_h).
    const max = Math.max(...this.#logQ);
    let z = 0;
    for (let g = 0; g < G; g++) z += Math.exp(this.#logQ[g]! - max);
    const logZ = max + Math.log(z);
    for (let g = 0; g < G; g++) this.#logQ[g]! -= logZ;
    const q = this.q;
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const g = batch.groups[i]!;
      w[i] = g >= 0 ? q[g]! / cnt[g]! : 0;
    }
    this.#robustLoss = loss.reduce((acc, l, g) => acc + q[g]! * l, 0);
    this.#lastGroupLoss = loss;
    this.#lastStep = batch.step;
    this.#lastWeights = w;
    return w.slice();
  }
}

/** Params as resolved at validation against the schema below (defaults filled in). */
interface GroupDroParams {
  readonly stepSize: number;
  readonly adjustment: number | readonly number[];
  readonly normalizeLoss: boolean;
}

export const groupDroStrategy: TrainingStrategyPlugin = {
  name: 'group-dro',
  version: '1',
  description: 'Online GroupDRO (Sagawa et al. 2020): exponentiated-gradient group weights q, loss Σ q_g ℓ_g.',
  paramsSchema: {
    type: 'object',
    properties: {
      stepSize: { type: 'number', exclusiveMinimum: 0, default: 0.01, description: 'η_q of the exponentiated-gradient update.' },
      adjustment: {
        oneOf: [{ type: 'number', minimum: 0 }, { type: 'array', items: { type: 'number', minimum: 0 } }],
        default: 0,
        description: 'Generalisation adjustment C (one value or one per group); adds C/√n_g to group losses in the q-update.',
      },
      normalizeLoss: { type: 'boolean', default: false, description: 'Divide the (adjusted) group losses by their sum before the q-update.' },
    },
    additionalProperties: false,
  },
  create(init): TrainingStrategy {
    const p = init.params as unknown as GroupDroParams;
    const G = init.groupNames.length;
    // The schema allows one value or a list; only the data tells how many groups there are.
    if (typeof p.adjustment !== 'number' && p.adjustment.length !== G) {
      throw new FairtuneError('FT_PARAM_INVALID', `strategy group-dro: param "adjustment" has ${p.adjustment.length} values but the samples define ${G} groups (${init.groupNames.join(', ')}); give one value or one per group`, { param: 'strategy.params.adjustment' });
    }
    const dro = new GroupDro(G, init.trainGroups, {
      stepSize: p.stepSize,
      adjustment: typeof p.adjustment === 'number' ? new Float64Array(G).fill(p.adjustment) : Float64Array.from(p.adjustment),
      normalizeLoss: p.normalizeLoss,
    });
    return {
      lossWeights: (batch) => dro.step(batch),
      afterEpoch: (info) => {
        init.log(`group-dro epoch ${info.epoch}: q = [${Array.from(dro.q, (v, g) => `${init.groupNames[g]}=${v.toFixed(4)}`).join(', ')}]`);
      },
      state: () => ({
        strategy: 'group-dro',
        q: Array.from(dro.q),
        groupNames: [...init.groupNames],
        lastGroupLoss: Array.from(dro.lastGroupLoss),
        robustLoss: Number.isFinite(dro.robustLoss) ? dro.robustLoss : null,
      }),
    };
  },
};
