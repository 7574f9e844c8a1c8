import { describe, expect, it } from '@jest/globals';
import { Rng, resolveNestedParams, type TrainingStrategy } from '@fairtune/core';
import { cvarStrategy, cvarWeights } from './cvar.js';

describe('cvarWeights', () => {
  it('puts 1/(αG) on the worst groups until the unit mass is spent', () => {
    expect(Array.from(cvarWeights(Float64Array.of(1, 3, 2), 1))).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(Array.from(cvarWeights(Float64Array.of(1, 3, 2), 1 / 3))).toEqual([0, 1, 0]);
    const q = Array.from(cvarWeights(Float64Array.of(1, 3, 2, 0), 0.5)); // cap 1/2: the two worst
    expect(q).toEqual([0, 0.5, 0.5, 0]);
    const partial = Array.from(cvarWeights(Float64Array.of(1, 3, 2), 0.5)); // cap 2/3: worst 2/3, next 1/3
    expect(partial[1]).toBeCloseTo(2 / 3, 12);
    expect(partial[2]).toBeCloseTo(1 / 3, 12);
    expect(partial[0]).toBe(0);
  });
});

/**
 * A tiny problem with a known answer: fit one constant b to three groups whose targets are
 * 0 (80 % of the samples), 1 (15 %) and 4 (5 %) under squared loss, by SGD through the
 * strategy's hooks exactly as the trainer calls them. ERM's answer is the sample mean 0.35;
 * group-balanced risk (α = 1) gives the mean of the group targets, 5/3; worst-group risk
 * (α = 1/3) gives the minimax point 2, where groups 0 and 2 have equal loss.
 */
function fitConstant(strategy: TrainingStrategy | undefined, seed = 3): number {
  const targets = [0, 1, 4];
  const n = 400;
  const groups = Int32Array.from({ length: n }, (_, i) => (i < 320 ? 0 : i < 380 ? 1 : 2));
  const rng = new Rng(seed);
  let b = 0;
  // Batches large enough that every group is in each (the smallest is absent from a batch of
  // 200 with probability 0.95^200 ≈ 4e-5): an absent group's mass is dropped for that step.
  const batchSize = 200;
  const steps = 1500;
  for (let step = 0; step < steps; step++) {
    const indices = Int32Array.from({ length: batchSize }, () => Math.floor(rng.next() * n));
    const g = indices.map((i) => groups[i]!);
    const losses = Float32Array.from(g, (k) => (b - targets[k]!) ** 2);
    const w = strategy?.lossWeights?.({ epoch: 0, step, totalSteps: steps, indices, groups: g, losses }) ?? new Float32Array(batchSize).fill(1 / batchSize);
    let grad = 0;
    g.forEach((k, i) => (grad += w[i]! * 2 * (b - targets[k]!)));
    b -= (step < steps / 2 ? 0.05 : 0.005) * grad;
  }
  return b;
}

const create = (params: Record<string, unknown>) =>
  cvarStrategy.create({
    params: resolveNestedParams('training-strategy', cvarStrategy, params as never),
    trainGroups: new Int32Array(0),
    groupNames: ['a', 'b', 'c'],
    epochs: 1,
    stepsPerEpoch: 1,
    batchSize: 40,
    seed: 0,
    log: () => {},
  });

describe('cvar-dro on a problem with a known answer', () => {
  it('ERM (no strategy) lands on the sample mean 0.35', () => {
    expect(fitConstant(undefined)).toBeCloseTo(0.35, 1);
  });
  it('α = 1 lands on the group-balanced answer 5/3', () => {
    expect(fitConstant(create({ alpha: 1 }))).toBeCloseTo(5 / 3, 1);
  });
  it('α = 1/3 lands on the worst-group answer 2', () => {
    expect(fitConstant(create({ alpha: 1 / 3, ema: 0 }))).toBeCloseTo(2, 1);
  });
  it('gives unknown-group samples weight 0, the same weights twice for one step, and its state', () => {
    const s = create({});
    const batch = { epoch: 0, step: 0, totalSteps: 1, indices: Int32Array.of(0, 1, 2), groups: Int32Array.of(0, -1, 2), losses: Float32Array.of(1, 9, 2) };
    const w = s.lossWeights!(batch);
    // α = 0.5 of 3 groups: the worst (group 2) gets the cap 1/(αG) = 2/3, the next the 1/3 left; one sample each.
    expect(Array.from(w)).toEqual([Math.fround(1 / 3), 0, Math.fround(2 / 3)]);
    expect(Array.from(s.lossWeights!(batch))).toEqual(Array.from(w));
    const state = s.state!() as { q: number[]; groupLoss: (number | null)[] };
    expect(state.groupLoss).toEqual([1, null, 2]);
    state.q.forEach((q, g) => expect(q).toBeCloseTo([1 / 3, 0, 2 / 3][g]!, 12));
  });
  it('rejects a group index beyond the group names, naming the sample', () => {
    const s = create({});
    expect(() => s.lossWeights!({ epoch: 0, step: 0, totalSteps: 1, indices: Int32Array.of(7), groups: Int32Array.of(5), losses: Float32Array.of(1) })).toThrow(/sample 7 has group 5, but there are 3 groups/);
  });
});
