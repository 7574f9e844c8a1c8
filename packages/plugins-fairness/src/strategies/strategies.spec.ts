import { TRAINING_STRATEGY_KIND, resolveNestedParams, type JsonObject, type StrategyInit, type TrainingStrategyPlugin } from '@fairtune/core';
import { adversarialStrategy, dannRamp } from './adversarial.js';
import { GroupDro, groupDroStrategy } from './group-dro.js';
import { groupReweightStrategy, reweightGroupWeights } from './group-reweight.js';
import { inverseFrequencyStrategy, inverseFrequencyWeights } from './inverse-frequency.js';

/** What the trainer gives `create`: the params as validation resolves them (checked, defaults filled in). */
function init(plugin: TrainingStrategyPlugin, params: JsonObject, trainGroups: number[], groupNames = ['f', 'm']): StrategyInit & { logs: string[] } {
  const logs: string[] = [];
  return {
    params: resolveNestedParams(TRAINING_STRATEGY_KIND.kind, plugin, params),
    trainGroups: Int32Array.from(trainGroups),
    groupNames,
    epochs: 3,
    stepsPerEpoch: 2,
    batchSize: 3,
    seed: 1,
    log: (m) => logs.push(m),
    logs,
  };
}

function batch(step: number, indices: number[], groups: number[], losses: number[]) {
  return { epoch: 0, step, totalSteps: 10, indices: Int32Array.from(indices), groups: Int32Array.from(groups), losses: Float32Array.from(losses) };
}

describe('inverse-frequency', () => {
  it('gives w = N/(G·n_g), mean 1 over known samples, weight 1 for unknown group', () => {
    // counts 3 and 1, N = 4, G = 2 → w_0 = 4/6, w_1 = 4/2
    const { sample, group } = inverseFrequencyWeights(Int32Array.from([0, 0, 0, 1, -1]), 2);
    expect(Array.from(group)).toEqual([4 / 6, 2]);
    expect(Array.from(sample)).toEqual([4 / 6, 4 / 6, 4 / 6, 2, 1]);
    // as sampling probabilities every group gets mass 1/G
    const known = Array.from(sample).slice(0, 4);
    const total = known.reduce((a, b) => a + b, 0);
    expect(total / 4).toBeCloseTo(1, 12);
    expect((3 * sample[0]!) / total).toBeCloseTo(0.5, 12);
  });

  it('counts only groups present in training (G = 2 of 3 names)', () => {
    const { group } = inverseFrequencyWeights(Int32Array.from([0, 2, 2, 2]), 3);
    expect(Array.from(group)).toEqual([2, 0, 4 / 6]);
    expect(() => inverseFrequencyWeights(Int32Array.from([-1, -1]), 2)).toThrow(/no training sample has a known group/);
    expect(() => inverseFrequencyWeights(Int32Array.from([-1, -1]), 2)).toThrow(expect.objectContaining({ code: 'FT_INPUT_CONTENT' }));
  });

  it('returns the same sampling weights each epoch by default', () => {
    const s = inverseFrequencyStrategy.create(init(inverseFrequencyStrategy, {}, [0, 0, 0, 1]));
    expect(s.lossWeights).toBeUndefined();
    expect(Array.from(s.samplingWeights!(0)!)).toEqual([4 / 6, 4 / 6, 4 / 6, 2]);
    expect(s.samplingWeights!(5)).toEqual(s.samplingWeights!(0));
  });

  it('gives loss weights w_i/B or w_i/Σw in loss mode', () => {
    const a = inverseFrequencyStrategy.create(init(inverseFrequencyStrategy, { mode: 'loss' }, [0, 0, 0, 1]));
    expect(a.samplingWeights).toBeUndefined();
    const wa = a.lossWeights!(batch(0, [0, 3], [0, 1], [1, 1]));
    expect(wa[0]).toBeCloseTo(1 / 3, 6);
    expect(wa[1]).toBeCloseTo(1, 6);
    const b = inverseFrequencyStrategy.create(init(inverseFrequencyStrategy, { mode: 'loss', lossNormalization: 'weight-sum' }, [0, 0, 0, 1]));
    const wb = b.lossWeights!(batch(0, [0, 3], [0, 1], [1, 1]));
    expect(wb[0]).toBeCloseTo(0.25, 6);
    expect(wb[1]).toBeCloseTo(0.75, 6);
    // Params are checked against the schema once, by core, before `create` (at pipeline validation).
    expect(() => init(inverseFrequencyStrategy, { mode: 'both' }, [0])).toThrow('params/mode: must be one of "sampling", "loss" (training-strategy inverse-frequency)');
  });
});

describe('group-dro', () => {
  const e = Math.exp;

  it('updates q step by step as q_g ← q_g·exp(η ℓ_g)/Z and weights w_i = q_g/n_g', () => {
    const dro = new GroupDro(2, Int32Array.from([0, 0, 0, 1]), { stepSize: 0.1, adjustment: new Float64Array(2), normalizeLoss: false });
    // step 0: ℓ = (mean(1,3), 2) = (2, 2) → q stays uniform
    const w0 = dro.step(batch(0, [0, 1, 3], [0, 0, 1], [1, 3, 2]));
    expect(Array.from(dro.q)).toEqual([0.5, 0.5]);
    expect(Array.from(w0)).toEqual([0.25, 0.25, 0.5]);
    expect(dro.robustLoss).toBeCloseTo(2, 12);
    // step 1: ℓ = (4, mean(0,2)=1) → q ∝ (e^0.4, e^0.1)
    const w1 = dro.step(batch(1, [0, 3, 3], [0, 1, 1], [4, 0, 2]));
    const q0 = e(0.4) / (e(0.4) + e(0.1));
    expect(dro.q[0]).toBeCloseTo(q0, 12);
    expect(w1[0]).toBeCloseTo(q0, 6);
    expect(w1[1]).toBeCloseTo((1 - q0) / 2, 6);
    // Σ w_i ℓ_i equals the robust loss Σ q_g ℓ_g
    expect(4 * w1[0]! + 0 * w1[1]! + 2 * w1[2]!).toBeCloseTo(q0 * 4 + (1 - q0) * 1, 6);
    // step 2: group 0 absent → ℓ_0 = 0, so q_0 decays relatively; q is cumulative
    dro.step(batch(2, [3, 3], [1, 1], [3, 5]));
    expect(dro.q[0]).toBeCloseTo(e(0.4) / (e(0.4) + e(0.1 + 0.4)), 12);
  });

  it('is idempotent within a step and gives unknown-group samples weight 0', () => {
    const dro = new GroupDro(2, Int32Array.from([0, 1]), { stepSize: 0.5, adjustment: new Float64Array(2), normalizeLoss: false });
    const a = dro.step(batch(7, [0, 1, 1], [0, 1, -1], [1, 2, 9]));
    const q = dro.q;
    const b = dro.step(batch(7, [0, 1, 1], [0, 1, -1], [1, 2, 9]));
    expect(b).toEqual(a);
    expect(dro.q).toEqual(q);
    expect(a[2]).toBe(0);
    expect(dro.q[1]).toBeCloseTo(e(1) / (e(0.5) + e(1)), 12); // the −1 sample's loss 9 is ignored
  });

  it('adds C/√n_g and normalises the losses when asked', () => {
    // n = (4, 1); ℓ = (1, 1); adjusted = (1 + 2/2, 1 + 2/1) = (2, 3)
    const adj = new GroupDro(2, Int32Array.from([0, 0, 0, 0, 1]), { stepSize: 1, adjustment: Float64Array.from([2, 2]), normalizeLoss: false });
    adj.step(batch(0, [0, 4], [0, 1], [1, 1]));
    expect(adj.q[0]).toBeCloseTo(e(2) / (e(2) + e(3)), 12);
    const norm = new GroupDro(2, Int32Array.from([0, 1]), { stepSize: 1, adjustment: new Float64Array(2), normalizeLoss: true });
    norm.step(batch(0, [0, 1], [0, 1], [1, 3])); // (1, 3)/4
    expect(norm.q[0]).toBeCloseTo(e(0.25) / (e(0.25) + e(0.75)), 12);
  });

  it('matches the naive reference update over many steps (log-space update is exact)', () => {
    const G = 3;
    const eta = 0.05;
    const dro = new GroupDro(G, Int32Array.from([0, 1, 2]), { stepSize: eta, adjustment: new Float64Array(G), normalizeLoss: false });
    let q = [1 / 3, 1 / 3, 1 / 3];
    for (let t = 0; t < 60; t++) {
      const groups = [t % 3, (t * 7) % 3, 1];
      const losses = groups.map((g, i) => Math.fround(1 + g + ((t + i) % 5) * 0.3)); // the trainer passes float32
      dro.step(batch(t, [0, 1, 2], groups, losses));
      const l = [0, 1, 2].map((g) => {
        const ls = losses.filter((_, i) => groups[i] === g);
        return ls.length ? ls.reduce((a, b) => a + b, 0) / ls.length : 0;
      });
      q = q.map((v, g) => v * e(eta * l[g]!));
      const z = q.reduce((a, b) => a + b, 0);
      q = q.map((v) => v / z);
    }
    Array.from(dro.q).forEach((v, g) => expect(v).toBeCloseTo(q[g]!, 12));
  });

  it('plugs into the trainer hooks with defaults and reports q', () => {
    const i = init(groupDroStrategy, {}, [0, 1]);
    const s = groupDroStrategy.create(i);
    s.lossWeights!(batch(0, [0, 1], [0, 1], [10, 0]));
    const state = s.state!();
    expect((state.q as number[])[0]).toBeCloseTo(e(0.1) / (e(0.1) + 1), 12); // η = 0.01 default
    s.afterEpoch!({ epoch: 0, trainLoss: 5, trainGroupLoss: Float64Array.from([10, 0]) });
    expect(i.logs[0]).toMatch(/q = \[f=0\.5250, m=0\.4750\]/);
    expect(() => groupDroStrategy.create(init(groupDroStrategy, { adjustment: [1] }, [0, 1]))).toThrow('param "adjustment" has 1 values but the samples define 2 groups (f, m)');
    expect(() => groupDroStrategy.create(init(groupDroStrategy, { adjustment: [1] }, [0, 1]))).toThrow(
      expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'strategy.params.adjustment' } }),
    );
    expect(() => groupDroStrategy.create(init(groupDroStrategy, {}, [], []))).toThrow(expect.objectContaining({ code: 'FT_INPUT_CONTENT', message: 'group-dro: needs at least one group name' }));
    expect(() => init(groupDroStrategy, { adjustment: [1, -1] }, [0, 1])).toThrow('params/adjustment');
    expect(() => init(groupDroStrategy, { stepSizee: 0.01 }, [0, 1])).toThrow('params/stepSizee: unknown parameter "stepSizee" (training-strategy group-dro)');
  });
});

describe('group-reweight', () => {
  it('computes w_g = 1 + η·L̂_g for each normalisation', () => {
    expect(Array.from(reweightGroupWeights([2, 4], 1, 'mean'))).toEqual([1 + 2 / 3, 1 + 4 / 3]);
    expect(Array.from(reweightGroupWeights([2, 4], 1, 'sum'))).toEqual([1 + 1 / 3, 1 + 2 / 3]);
    expect(Array.from(reweightGroupWeights([2, 4], 0.5, 'none'))).toEqual([2, 3]);
    expect(Array.from(reweightGroupWeights([Number.NaN, 4], 1, 'mean'))).toEqual([1, 2]);
  });

  it('samples by the previous epoch’s group losses', () => {
    const s = groupReweightStrategy.create(init(groupReweightStrategy, {}, [0, 0, 1, -1]));
    expect(s.samplingWeights!(0)).toBeUndefined(); // no loss seen yet: plain shuffle
    s.afterEpoch!({ epoch: 0, trainLoss: 3, trainGroupLoss: Float64Array.from([2, 4]) });
    const w = Array.from(s.samplingWeights!(1)!);
    [5 / 3, 5 / 3, 7 / 3, 1].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 12));
    const sized = groupReweightStrategy.create(init(groupReweightStrategy, { balance: 'size', eta: 2, normalize: 'none' }, [0, 0, 1]));
    expect(Array.from(sized.samplingWeights!(0)!)).toEqual([0.5, 0.5, 1]);
    sized.afterEpoch!({ epoch: 0, trainLoss: 1, trainGroupLoss: Float64Array.from([1, 0.5]) });
    expect(Array.from(sized.samplingWeights!(1)!)).toEqual([1.5, 1.5, 2]);
  });
});

describe('adversarial', () => {
  it('ramps λ with the DANN schedule by default', () => {
    expect(dannRamp(0)).toBe(0);
    expect(dannRamp(0.5)).toBeCloseTo(2 / (1 + Math.exp(-5)) - 1, 12);
    expect(dannRamp(2)).toBeCloseTo(2 / (1 + Math.exp(-10)) - 1, 12);
    const s = adversarialStrategy.create(init(adversarialStrategy, { maxLambda: 0.5 }, [0, 1]));
    expect(s.adversary!.mode).toBe('gradient-reversal');
    expect(s.adversary!.hiddenUnits).toBe(64);
    expect(s.adversary!.learningRate).toBe(0.001);
    expect(s.adversary!.lambda(0, 0)).toBe(0);
    expect(s.adversary!.lambda(0.25, 1)).toBeCloseTo(0.5 * (2 / (1 + Math.exp(-2.5)) - 1), 12);
  });

  it('uses a constant α for projection unless a schedule is given', () => {
    const s = adversarialStrategy.create(init(adversarialStrategy, { mode: 'projection', maxLambda: 0.1, hiddenUnits: 8, learningRate: 0.01 }, [0, 1]));
    expect(s.adversary!.mode).toBe('projection');
    expect(s.adversary!.lambda(0, 0)).toBe(0.1);
    const r = adversarialStrategy.create(init(adversarialStrategy, { mode: 'projection', schedule: 'dann' }, [0, 1]));
    expect(r.adversary!.lambda(0, 0)).toBe(0);
    expect(() => init(adversarialStrategy, { hiddenUnits: 2.5 }, [0, 1])).toThrow('params/hiddenUnits: must be of type integer (training-strategy adversarial)');
    expect(() => adversarialStrategy.create(init(adversarialStrategy, {}, [0, 0], ['only']))).toThrow(/at least 2 groups/);
    expect(() => adversarialStrategy.create(init(adversarialStrategy, {}, [0, 0], ['only']))).toThrow(expect.objectContaining({ code: 'FT_INPUT_CONTENT' }));
  });
});
