/**
 * `--kind strategy`: a training strategy (a bias mitigation the fine-tuning trainer calls) against
 * core's TrainingStrategyPlugin contract. The one written weights each group by its running mean
 * loss raised to a power γ: γ = 0 is group-balanced risk, γ = 1 weighs a group by its loss, and a
 * large γ approaches worst-group risk. It keeps state (running losses) and exposes it as JSON,
 * which is what the conformance suite's determinism and state checks exercise.
 */
import { packageJson, readme, type TemplateContext, type TemplateFile } from './common.js';

const strategyName = (ctx: TemplateContext) => `${ctx.ns}-loss-power`;

/** The module header (the method, documented), params type and the weight formula. */
function strategyHelpersSource(ctx: TemplateContext): string {
  return `/**
 * \`${strategyName(ctx)}\`: group weights proportional to each group's running mean loss raised to
 * a power γ. Per step, with L_g the running mean loss of group g (an exponential moving average
 * of the batch's group means, decay \`ema\`), the groups present in the batch get
 * q_g = L_g^γ / Σ_h L_h^γ, and the trainer is given w_i = q_{g_i} / n_{g_i} (n: the group's rows
 * in the batch), so it minimises Σ_g q_g · (mean loss of g in the batch).
 * γ = 0: every group present weighs the same (group-balanced risk); γ = 1: a group weighs by its
 * loss; γ → ∞: the worst group takes all the weight. Samples of unknown group (−1) get weight 0
 * (a batch of unknown groups only falls back to 1/B each).
 */
import { FairtuneError, type BatchInfo, type JsonObject, type StrategyInit, type TrainingStrategy, type TrainingStrategyPlugin } from '@fairtune/core/plugin';

export interface LossPowerParams {
  gamma: number;
  ema: number;
}

/** q_g ∝ loss_g^γ over the groups \`present\` selects (others 0); uniform over them when every power is 0. */
export function lossPowerWeights(losses: Float64Array, gamma: number, present: (g: number) => boolean): Float64Array {
  const q = new Float64Array(losses.length);
  let total = 0;
  for (let g = 0; g < losses.length; g++) if (present(g)) total += q[g] = Math.pow(losses[g]!, gamma);
  const count = [...losses.keys()].filter(present).length;
  for (let g = 0; g < losses.length; g++) if (present(g)) q[g] = total > 0 ? q[g]! / total : 1 / count;
  return q;
}

`;
}

/** The stateful strategy the trainer calls, and the plugin object that creates it. */
function strategyClassSource(ctx: TemplateContext): string {
  return `export class LossPowerStrategy implements TrainingStrategy {
  readonly #loss: Float64Array;
  #lastStep = -1;
  #lastWeights = new Float32Array(0);

  constructor(
    readonly groupNames: readonly string[],
    readonly params: LossPowerParams,
  ) {
    if (groupNames.length < 1) throw new FairtuneError('FT_INPUT_CONTENT', '${strategyName(ctx)}: the training samples have no groups (group them, e.g. with split.groups)', { port: 'samples' });
    this.#loss = new Float64Array(groupNames.length).fill(Number.NaN);
  }

  lossWeights(batch: BatchInfo): Float32Array {
    // The trainer may ask twice for one step: the same answer, and the running losses move once.
    if (batch.step === this.#lastStep) return this.#lastWeights.slice();
    const groups = this.groupNames.length;
    const sum = new Float64Array(groups);
    const n = new Float64Array(groups);
    batch.groups.forEach((g, i) => {
      if (g < 0) return;
      if (g >= groups) throw new Error('${strategyName(ctx)}: batch sample ' + batch.indices[i] + ' has group ' + g + ', but there are ' + groups + ' groups');
      sum[g] += batch.losses[i]!;
      n[g]++;
    });
    for (let g = 0; g < groups; g++) {
      if (!n[g]) continue;
      const mean = sum[g]! / n[g]!;
      this.#loss[g] = Number.isNaN(this.#loss[g]!) ? mean : this.params.ema * this.#loss[g]! + (1 - this.params.ema) * mean;
    }
    const q = lossPowerWeights(this.#loss, this.params.gamma, (g) => n[g]! > 0);
    const known = n.reduce((a, b) => a + b, 0);
    const w = Float32Array.from(batch.groups, (g) => (known === 0 ? 1 / batch.groups.length : g >= 0 ? q[g]! / n[g]! : 0));
    this.#lastStep = batch.step;
    this.#lastWeights = w;
    return w.slice();
  }

  /** The running group losses (null: not seen yet) and the weights they give over all seen groups. */
  state(): JsonObject {
    const q = lossPowerWeights(this.#loss, this.params.gamma, (g) => !Number.isNaN(this.#loss[g]!));
    return { groupLoss: Array.from(this.#loss, (x) => (Number.isNaN(x) ? null : x)), q: Array.from(q) };
  }
}

export const lossPowerStrategy: TrainingStrategyPlugin = {
  name: '${strategyName(ctx)}',
  // Bump when the weights change for the same params: the version joins the cache key of every fine-tune using it.
  version: '1.0.0',
  description: 'Weights each group by its running mean loss raised to the power gamma (0: group-balanced; large: worst group).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      gamma: { type: 'number', minimum: 0, maximum: 50, default: 1, description: 'Power of the running group loss (0: every group alike; larger: more weight on the worst groups).' },
      ema: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.5, description: 'Decay of the running group losses (0: this batch only).' },
    },
  },
  // Params arrive checked against paramsSchema with the defaults filled in (at pipeline validation).
  create: (init: StrategyInit) => new LossPowerStrategy(init.groupNames, init.params as unknown as LossPowerParams),
};
`;
}

function strategySource(ctx: TemplateContext): string {
  return strategyHelpersSource(ctx) + strategyClassSource(ctx);
}

function indexSource(): string {
  return `/**
 * The package's entry point: FairTune imports it and loads \`containerModule\`, which binds the
 * strategy to core's TRAINING_STRATEGY token; \`train.finetune\` then finds it by name.
 */
import { ContainerModule } from 'inversify';
import { TRAINING_STRATEGY } from '@fairtune/core/plugin';
import { lossPowerStrategy } from './loss-power.js';

export { lossPowerStrategy, lossPowerWeights, LossPowerStrategy, type LossPowerParams } from './loss-power.js';

export const containerModule = new ContainerModule((options) => {
  // A block body: inversify 8 rejects a callback that returns a value.
  options.bind(TRAINING_STRATEGY).toConstantValue(lossPowerStrategy);
});
`;
}

function specSource(ctx: TemplateContext): string {
  return `import { describe, expect, it } from '@jest/globals';
import { resolveNestedParams, type BatchInfo } from '@fairtune/core/plugin';
import { checkNestedConformance, expectConformance } from '@fairtune/core/testing';
import { lossPowerStrategy } from './loss-power.js';

/** A strategy as train.finetune creates it: params resolved against the schema, two groups. */
const create = (params: Record<string, number>) =>
  lossPowerStrategy.create({
    params: resolveNestedParams('training-strategy', lossPowerStrategy, params),
    trainGroups: Int32Array.of(0, 0, 1),
    groupNames: ['a', 'b'],
    epochs: 1,
    stepsPerEpoch: 1,
    batchSize: 4,
    seed: 0,
    log: () => {},
  });

// Group a: two rows of loss 1; group b: one row of loss 4; one row of unknown group.
const batch: BatchInfo = { epoch: 0, step: 0, totalSteps: 1, indices: Int32Array.of(0, 1, 2, 3), groups: Int32Array.of(0, 0, 1, -1), losses: Float32Array.of(1, 1, 4, 9) };

describe('${strategyName(ctx)}', () => {
  it('conforms to the training-strategy contract', async () => {
    await expectConformance(checkNestedConformance('training-strategy', lossPowerStrategy, { params: { gamma: 2 } }));
  });

  it('weighs groups by loss^gamma: gamma 1 gives a 1 : 4 split, gamma 0 an even one', () => {
    const w1 = Array.from(create({ gamma: 1 }).lossWeights!(batch));
    // q = (1, 4) / 5, shared among each group's rows; the unknown-group row gets 0.
    [0.1, 0.1, 0.8, 0].forEach((w, i) => expect(w1[i]).toBeCloseTo(w, 6));
    const w0 = Array.from(create({ gamma: 0 }).lossWeights!(batch));
    [0.25, 0.25, 0.5, 0].forEach((w, i) => expect(w0[i]).toBeCloseTo(w, 6));
  });

  it('names a group beyond the group names', () => {
    expect(() => create({}).lossWeights!({ ...batch, groups: Int32Array.of(0, 0, 5, -1) })).toThrow(/batch sample 2 has group 5, but there are 2 groups/);
  });
});
`;
}

export function strategyFiles(ctx: TemplateContext): TemplateFile[] {
  const name = strategyName(ctx);
  const section = `## Training strategy \`${name}\`

A bias mitigation for \`train.finetune\`: each group present in a batch weighs
q_g = L_g^γ / Σ_h L_h^γ, where L_g is the group's running mean loss (an exponential moving average
of its batch means, decay \`ema\`); the trainer minimises Σ_g q_g · (mean loss of g in the batch).
\`gamma\` = 0 is group-balanced risk, 1 weighs a group by its loss, and a large \`gamma\` approaches
worst-group risk (GroupDRO's objective). Samples of unknown group get weight 0. The strategy
never touches tensors: it returns per-sample loss weights from the batch's detached losses.`;
  const snippet = `{
  "plugins": ["${ctx.name}"],
  "stages": {
    "finetune": { "type": "train.finetune",
      "params": { "strategy": { "name": "${name}", "params": { "gamma": 1, "ema": 0.5 } } } }
  }
}`;
  return [
    packageJson(ctx, `FairTune-TS plugin: ${name}, a training strategy weighting groups by their running loss to a power`),
    { path: 'src/loss-power.ts', text: strategySource(ctx) },
    { path: 'src/index.ts', text: indexSource() },
    { path: 'src/loss-power.spec.ts', text: specSource(ctx) },
    readme(ctx, `A training-strategy plugin: \`${name}\`, group weights proportional to each group's running mean loss to the power γ.`, section, snippet),
  ];
}
