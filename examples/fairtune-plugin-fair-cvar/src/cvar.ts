/**
 * CVaR group DRO (Duchi & Namkoong's CVaR objective taken over groups, as in Zhang et al.,
 * "Coping with label shift via distributionally robust optimisation", ICLR 2021): minimise the
 * mean loss of the worst α-fraction of groups, each group weighing 1/G.
 *
 * Per training step, with the running group losses L_g (an exponential moving average of the
 * batch's mean loss of each group present; decay `ema`), the adversary's distribution is the
 * CVaR_α maximiser over the uniform group distribution: groups sorted by L_g, worst first, each
 * get q_g = min(1/(αG), what is left of the unit mass) until it is spent. The batch's loss is
 * Σ_g q_g ℓ_g, given to the trainer as w_i = q_{g_i} / n_{g_i, batch}. α = 1 is group-balanced
 * risk; α = 1/G is worst-group risk. Samples of unknown group (−1) get weight 0.
 */
import { FairtuneError, type BatchInfo, type JsonObject, type StrategyInit, type TrainingStrategy, type TrainingStrategyPlugin } from '@fairtune/core/plugin';

export interface CvarParams {
  alpha: number;
  ema: number;
}

/** The CVaR_α weights of G groups (uniform base mass) given their losses; NaN losses sort last. */
export function cvarWeights(losses: Float64Array, alpha: number): Float64Array {
  const g = losses.length;
  const cap = 1 / (alpha * g);
  const order = [...losses.keys()].sort((a, b) => (Number.isNaN(losses[a]!) ? 1 : 0) - (Number.isNaN(losses[b]!) ? 1 : 0) || losses[b]! - losses[a]! || a - b);
  const q = new Float64Array(g);
  let left = 1;
  for (const i of order) {
    q[i] = Math.min(cap, left);
    left -= q[i]!;
    if (left <= 1e-12) break;
  }
  return q;
}

export class CvarGroupDro implements TrainingStrategy {
  readonly #groups: number;
  readonly #loss: Float64Array;
  #q: Float64Array;
  #lastStep = -1;
  #lastWeights = new Float32Array(0);

  constructor(
    groupNames: readonly string[],
    readonly params: CvarParams,
  ) {
    if (groupNames.length < 1) throw new FairtuneError('FT_INPUT_CONTENT', 'cvar-dro: the training samples have no groups (set groups on the samples, e.g. with split.groups)', { port: 'samples' });
    this.#groups = groupNames.length;
    this.#loss = new Float64Array(this.#groups).fill(Number.NaN);
    this.#q = new Float64Array(this.#groups).fill(1 / this.#groups);
  }

  lossWeights(batch: BatchInfo): Float32Array {
    // The trainer may ask twice for one step (e.g. a retried batch): same answer, one update.
    if (batch.step === this.#lastStep) return this.#lastWeights.slice();
    const sum = new Float64Array(this.#groups);
    const n = new Float64Array(this.#groups);
    batch.groups.forEach((g, i) => {
      if (g < 0) return;
      if (g >= this.#groups) throw new Error(`cvar-dro: batch sample ${batch.indices[i]} has group ${g}, but there are ${this.#groups} groups`);
      sum[g] += batch.losses[i]!;
      n[g]++;
    });
    for (let g = 0; g < this.#groups; g++) {
      if (!n[g]) continue;
      const mean = sum[g]! / n[g]!;
      this.#loss[g] = Number.isNaN(this.#loss[g]!) ? mean : this.params.ema * this.#loss[g]! + (1 - this.params.ema) * mean;
    }
    this.#q = cvarWeights(this.#loss, this.params.alpha);
    const w = new Float32Array(batch.groups.length);
    batch.groups.forEach((g, i) => {
      if (g >= 0) w[i] = this.#q[g]! / n[g]!;
    });
    this.#lastStep = batch.step;
    this.#lastWeights = w;
    return w.slice();
  }

  state(): JsonObject {
    return { q: Array.from(this.#q), groupLoss: Array.from(this.#loss, (x) => (Number.isNaN(x) ? null : x)) };
  }
}

export const cvarStrategy: TrainingStrategyPlugin = {
  name: 'cvar-dro',
  version: '1.0.0',
  description: 'CVaR group DRO: minimises the mean loss of the worst α-fraction of groups (α = 1: group-balanced, α = 1/G: worst group).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5, description: 'Fraction of the (uniformly weighted) groups whose mean loss is minimised.' },
      ema: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.5, description: 'Decay of the running group losses (0: this batch only).' },
    },
  },
  create: (init: StrategyInit) => new CvarGroupDro(init.groupNames, init.params as unknown as CvarParams),
};
