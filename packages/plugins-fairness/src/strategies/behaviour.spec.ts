/**
 * Behaviour of each mitigation strategy on a tiny problem whose answer is known in advance,
 * with the strategy's hooks driving a minimal training loop that follows the trainer's contract
 * (core `TrainingStrategy`; the real trainer is `@fairtune/plugins-models` finetune.ts):
 * `samplingWeights(epoch)` draws the epoch's samples with replacement (core's Rng, as the
 * trainer), `lossWeights(batch)` weights the detached per-sample losses (default 1/B),
 * `afterStep`, and `afterEpoch` gets each group's mean training loss over the epoch.
 *
 * The problem: 1-D linear regression ŷ = a·x + c, squared loss, a majority group (180 samples,
 * y = x) and a minority group (20 samples, y = −x + ½ with irreducible noise ±½). One line cannot
 * fit both. The answers are computed in advance from the training samples alone, as the
 * least-squares line for group masses (1 − p, p): ERM is p = 0.1 (the minority's risk ≈ 1.5),
 * inverse frequency is the balanced p = ½, and GroupDRO's target is the minimax line, the p* > ½
 * at which both groups' risks are equal (the minority's noise makes p* ≈ 0.56).
 */
import { Rng, TRAINING_STRATEGY_KIND, resolveNestedParams, type BatchInfo, type JsonObject, type TrainingStrategy, type TrainingStrategyPlugin } from '@fairtune/core';
import { adversarialStrategy } from './adversarial.js';
import { groupDroStrategy } from './group-dro.js';
import { groupReweightStrategy } from './group-reweight.js';
import { inverseFrequencyStrategy } from './inverse-frequency.js';

interface Cohort {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly g: Int32Array;
}

const N0 = 180;
const N1 = 20;

function cohort(seed: number): Cohort {
  const rng = new Rng(seed);
  const n = N0 + N1;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const g = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    // Minority samples interleaved so every batch of a plain shuffle can hold some.
    g[i] = i % 10 === 9 ? 1 : 0;
    if (g[i] === 0) {
      x[i] = rng.uniform(-1, 1);
      y[i] = x[i]! + rng.normal(0, 0.05);
    } else {
      // Evenly spaced x and noise (+, −, −, +)·½ per 4 consecutive points: orthogonal to 1 and x, so
      // the minority's own least-squares line is exactly y = −x + ½, with residual variance ¼.
      x[i] = -0.95 + 0.1 * k;
      y[i] = -x[i]! + 0.5 + 0.5 * [1, -1, -1, 1][k % 4]!;
      k++;
    }
  }
  return { x, y, g };
}

/** Mean squared error of the line (a, c) on each group's training samples. */
function groupRisk(d: Cohort, a: number, c: number): [number, number] {
  const sum = [0, 0];
  const cnt = [0, 0];
  d.g.forEach((g, i) => {
    sum[g]! += (a * d.x[i]! + c - d.y[i]!) ** 2;
    cnt[g]!++;
  });
  return [sum[0]! / cnt[0]!, sum[1]! / cnt[1]!];
}

/** The line minimising (1 − p)·risk_0 + p·risk_1 on the training samples (exact 2×2 normal equations). */
function massFit(d: Cohort, p: number): { a: number; c: number; risk: [number, number] } {
  let sxx = 0;
  let sx = 0;
  let s1 = 0;
  let sxy = 0;
  let sy = 0;
  const count = [N0, N1];
  d.g.forEach((g, i) => {
    const w = (g === 0 ? 1 - p : p) / count[g]!;
    sxx += w * d.x[i]! ** 2;
    sx += w * d.x[i]!;
    s1 += w;
    sxy += w * d.x[i]! * d.y[i]!;
    sy += w * d.y[i]!;
  });
  const det = sxx * s1 - sx * sx;
  const a = (sxy * s1 - sx * sy) / det;
  const c = (sxx * sy - sx * sxy) / det;
  return { a, c, risk: groupRisk(d, a, c) };
}

/** GroupDRO's target, the minimax line: the mass p* at which both groups' risks are equal (bisection). */
function minimaxFit(d: Cohort): { p: number; risk: [number, number] } {
  let lo = 0;
  let hi = 1;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    const r = massFit(d, mid).risk;
    if (r[1] > r[0]) lo = mid;
    else hi = mid;
  }
  return { p: lo, risk: massFit(d, lo).risk };
}

function create(plugin: TrainingStrategyPlugin, params: JsonObject, trainGroups: Int32Array, epochs: number, batchSize: number): TrainingStrategy {
  return plugin.create({
    params: resolveNestedParams(TRAINING_STRATEGY_KIND.kind, plugin, params),
    trainGroups,
    groupNames: ['majority', 'minority'],
    epochs,
    stepsPerEpoch: Math.ceil(trainGroups.length / batchSize),
    batchSize,
    seed: 1,
    log: () => {},
  });
}

interface Trace {
  readonly batch: BatchInfo;
  readonly weights: Float32Array;
  readonly stateBefore?: JsonObject;
  readonly stateAfter?: JsonObject;
}

interface Fit {
  readonly a: number;
  readonly c: number;
  readonly risk: [number, number];
  /** How many times each group was drawn over all epochs. */
  readonly drawn: [number, number];
  readonly steps: Trace[];
  readonly epochs: Array<{ groupLoss: Float64Array; state?: JsonObject }>;
}

/** Mini-batch SGD on ŷ = a·x + c with the strategy's hooks, as the trainer calls them. */
function trainLine(strategy: TrainingStrategy, data: Cohort, opts: { epochs?: number; batchSize?: number; lr?: number; seed?: number } = {}): Fit {
  const { epochs = 40, batchSize = 20, lr = 0.1, seed = 3 } = opts;
  const n = data.g.length;
  const rng = new Rng(seed);
  let a = 0;
  let c = 0;
  let step = 0;
  const totalSteps = epochs * Math.ceil(n / batchSize);
  const drawn: [number, number] = [0, 0];
  const steps: Trace[] = [];
  const epochLog: Fit['epochs'] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const sw = strategy.samplingWeights?.(epoch);
    const order = sw ? rng.weightedIndices(sw, n) : Int32Array.from(rng.shuffle(Array.from({ length: n }, (_, i) => i)));
    const sum = [0, 0];
    const cnt = [0, 0];
    for (let s = 0; s < n; s += batchSize) {
      const indices = order.subarray(s, Math.min(n, s + batchSize));
      const B = indices.length;
      const groups = Int32Array.from(indices, (i) => data.g[i]!);
      const residual = Array.from(indices, (i) => a * data.x[i]! + c - data.y[i]!);
      const losses = Float32Array.from(residual, (r) => r * r);
      const batch: BatchInfo = { epoch, step, totalSteps, indices: Int32Array.from(indices), groups, losses };
      const stateBefore = strategy.state?.();
      const weights = strategy.lossWeights?.(batch) ?? new Float32Array(B).fill(1 / B);
      steps.push({ batch, weights, stateBefore, stateAfter: strategy.state?.() });
      let ga = 0;
      let gc = 0;
      for (let k = 0; k < B; k++) {
        ga += weights[k]! * 2 * residual[k]! * data.x[indices[k]!]!;
        gc += weights[k]! * 2 * residual[k]!;
        sum[groups[k]!]! += losses[k]!;
        cnt[groups[k]!]!++;
        drawn[groups[k]! as 0 | 1]++;
      }
      // Cosine decay to 0, as the trainer's default schedule, so the last iterate settles.
      const rate = 0.5 * lr * (1 + Math.cos((Math.PI * step) / totalSteps));
      a -= rate * ga;
      c -= rate * gc;
      strategy.afterStep?.(batch);
      step++;
    }
    const groupLoss = Float64Array.from(sum, (v, g) => (cnt[g]! > 0 ? v / cnt[g]! : Number.NaN));
    strategy.afterEpoch?.({ epoch, trainLoss: (sum[0]! + sum[1]!) / (cnt[0]! + cnt[1]!), trainGroupLoss: groupLoss });
    epochLog.push({ groupLoss, state: strategy.state?.() });
  }
  return { a, c, risk: groupRisk(data, a, c), drawn, steps, epochs: epochLog };
}

const data = cohort(11);
const erm = trainLine({}, data);
// The answers, computed in advance from the training samples alone (no strategy involved).
const ermLine = massFit(data, N1 / (N0 + N1));
const balanced = massFit(data, 0.5);
const minimax = minimaxFit(data);
const worst = (r: [number, number]) => Math.max(...r);
const gap = (r: [number, number]) => Math.abs(r[1] - r[0]);

describe('the toy problem (ERM through the same loop)', () => {
  it('the known answers: ERM serves the minority badly, balancing and minimax help it', () => {
    expect(ermLine.risk[0]).toBeLessThan(0.05);
    expect(ermLine.risk[1]).toBeGreaterThan(1.3);
    expect(worst(balanced.risk)).toBeLessThan(0.6);
    // The minority's irreducible noise makes the minimax line give it more than half the mass.
    expect(minimax.p).toBeGreaterThan(0.53);
    expect(worst(minimax.risk)).toBeLessThan(worst(balanced.risk) - 0.05);
  });

  it('the loop with no strategy reaches the ERM line', () => {
    expect(Math.abs(erm.a - ermLine.a)).toBeLessThan(0.02);
    expect(Math.abs(erm.c - ermLine.c)).toBeLessThan(0.02);
  });
});

describe('inverse-frequency', () => {
  it('sampling: each group is drawn with equal expected frequency, and the fit is the group-balanced line', () => {
    const fit = trainLine(create(inverseFrequencyStrategy, {}, data.g, 40, 20), data);
    const total = fit.drawn[0] + fit.drawn[1];
    // 8000 draws with p = ½: standard deviation of the share ≈ 0.0056.
    expect(Math.abs(fit.drawn[1] / total - 0.5)).toBeLessThan(0.025);
    fit.risk.forEach((r, g) => expect(Math.abs(r - balanced.risk[g]!)).toBeLessThan(0.05));
    expect(fit.risk[1]).toBeLessThan(erm.risk[1] - 0.8);
  });

  it('loss weights: per-group weight ∝ 1/n_g, batch sums as specified, and the same balanced fit', () => {
    for (const lossNormalization of ['batch-size', 'weight-sum'] as const) {
      const fit = trainLine(create(inverseFrequencyStrategy, { mode: 'loss', lossNormalization }, data.g, 40, 20), data);
      let err = 0;
      for (const { batch, weights } of fit.steps) {
        // Raw weights N/(G·n_g): 200/360 for the majority, 200/40 for the minority (ratio n_0/n_1 = 9).
        const raw = Array.from(batch.groups, (g) => (g === 0 ? 200 / 360 : 200 / 40));
        const denom = lossNormalization === 'batch-size' ? batch.indices.length : raw.reduce((acc, v) => acc + v, 0);
        weights.forEach((w, k) => (err = Math.max(err, Math.abs(w - raw[k]! / denom))));
        if (lossNormalization === 'weight-sum') err = Math.max(err, Math.abs(weights.reduce((acc, v) => acc + v, 0) - 1));
      }
      expect(err).toBeLessThan(1e-6);
      if (lossNormalization === 'batch-size') {
        // Σ w_i ℓ_i / B is an unbiased estimate of the group-balanced risk: the balanced line.
        fit.risk.forEach((r, g) => expect(Math.abs(r - balanced.risk[g]!)).toBeLessThan(0.05));
      } else {
        // The per-batch weighted mean is a ratio estimator (a batch without minority samples gives
        // the majority all the weight): close to the balanced line, far from ERM.
        fit.risk.forEach((r, g) => expect(Math.abs(r - balanced.risk[g]!)).toBeLessThan(0.15));
      }
      expect(fit.risk[1]).toBeLessThan(erm.risk[1] - 0.8);
    }
  });
});

describe('group-dro', () => {
  const fit = trainLine(create(groupDroStrategy, {}, data.g, 40, 20), data);
  const q1 = fit.steps.map((s) => (s.stateAfter!['q'] as number[])[1]!);

  it('keeps q on the simplex and moves mass toward the group with the higher batch loss, every step', () => {
    for (const { batch, stateBefore, stateAfter } of fit.steps) {
      const before = stateBefore!['q'] as number[];
      const after = stateAfter!['q'] as number[];
      expect(Math.abs(after[0]! + after[1]! - 1)).toBeLessThan(1e-12);
      // Batch mean loss per group (0 for an absent group, as in the reference code).
      const mean = [0, 1].map((g) => {
        const l = Array.from(batch.losses).filter((_, k) => batch.groups[k] === g);
        return l.length ? l.reduce((acc, v) => acc + v, 0) / l.length : 0;
      });
      // q_1/q_0 is multiplied by exp(η(ℓ_1 − ℓ_0)), η = 0.01.
      const change = Math.log(after[1]! / after[0]!) - Math.log(before[1]! / before[0]!);
      expect(Math.abs(change - 0.01 * (mean[1]! - mean[0]!))).toBeLessThan(1e-9);
    }
  });

  it('q settles at the minimax mass and the worst-group risk drops below the balanced line’s', () => {
    const late = q1.slice(-100).reduce((acc, v) => acc + v, 0) / 100;
    expect(Math.abs(late - minimax.p)).toBeLessThan(0.04);
    expect(worst(fit.risk)).toBeLessThan(worst(balanced.risk));
    expect(worst(fit.risk)).toBeLessThan(worst(erm.risk) - 0.8);
    expect(gap(fit.risk)).toBeLessThan(gap(balanced.risk));
  });
});

describe('group-reweight', () => {
  it('after each epoch samples with w_g = 1 + η·L̂_g (mean-normalised), favouring the group with the higher loss', () => {
    const fit = trainLine(create(groupReweightStrategy, {}, data.g, 40, 20), data);
    for (const { groupLoss, state } of fit.epochs) {
      const mean = (groupLoss[0]! + groupLoss[1]!) / 2;
      const w = state!['groupWeights'] as number[];
      w.forEach((v, g) => expect(v).toBeCloseTo(1 + groupLoss[g]! / mean, 10));
      expect(w[1]! > w[0]!).toBe(groupLoss[1]! > groupLoss[0]!);
    }
    // With balance 'none' the minority's share of the draws grows above its 10 %, bounded by
    // 3·20/(180 + 3·20) = 25 % (w_g ≤ 3 with mean-normalised losses), and its risk falls.
    const share = fit.drawn[1] / (fit.drawn[0] + fit.drawn[1]);
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.25);
    expect(fit.risk[1]).toBeLessThan(erm.risk[1] - 0.2);
    expect(fit.risk[0]).toBeGreaterThan(erm.risk[0]);
  });

  it("with balance 'size' the group masses are ∝ w_g: more than half to the higher-loss minority", () => {
    const fit = trainLine(create(groupReweightStrategy, { balance: 'size' }, data.g, 40, 20), data);
    expect(fit.drawn[1] / (fit.drawn[0] + fit.drawn[1])).toBeGreaterThan(0.5);
    expect(worst(fit.risk)).toBeLessThan(worst(balanced.risk));
    expect(gap(fit.risk)).toBeLessThan(gap(balanced.risk));
  });
});

/**
 * Adversarial debiasing on a scalar embedding z = u·x of x = (s, group cue), predictor
 * ŷ = a·z + b, target y = s + ½·(2g − 1) (so ERM puts weight on the group cue), and a logistic
 * adversary σ(e·z + f) trained with Adam at the spec's learning rate. The encoder gets the task
 * gradient plus the adversarial term as the spec says (gradient reversal: −λ∇_u L_A; projection:
 * ∇L_P − proj_{∇L_A}∇L_P − α∇L_A); λ = spec.lambda(progress). Known effect: the embedding
 * carries much less group information than ERM's (|corr(z, g)|).
 */
const ADV_N = 400;
const ADV_GROUPS = Int32Array.from({ length: ADV_N }, (_, i) => i % 2);

function trainAdversarial(strategy: TrainingStrategy | undefined, seed = 5): { corr: number; mse: number } {
  const rng = new Rng(seed);
  const n = ADV_N;
  const s = Float64Array.from({ length: n }, () => rng.normal());
  const g = ADV_GROUPS;
  const cue = Float64Array.from(g, (v) => 2 * v - 1 + 0.5 * rng.normal());
  const y = Float64Array.from(s, (v, i) => v + 0.5 * (2 * g[i]! - 1));
  // Parameters: encoder u (2), predictor a, b; adversary e, f. Adam per parameter.
  const p = { u0: 0.3, u1: 0.3, a: 1, b: 0, e: 0, f: 0 };
  type Key = keyof typeof p;
  const m: Record<string, number> = {};
  const v: Record<string, number> = {};
  let t = 0;
  const adam = (grads: Partial<Record<Key, number>>, lr: number) => {
    for (const [k, gk] of Object.entries(grads) as Array<[Key, number]>) {
      m[k] = 0.9 * (m[k] ?? 0) + 0.1 * gk;
      v[k] = 0.999 * (v[k] ?? 0) + 0.001 * gk * gk;
      p[k] -= (lr * (m[k]! / (1 - 0.9 ** t))) / (Math.sqrt(v[k]! / (1 - 0.999 ** t)) + 1e-8);
    }
  };
  const spec = strategy?.adversary;
  const epochs = 60;
  const B = 50;
  const total = epochs * (n / B);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    for (let k0 = 0; k0 < n; k0 += B) {
      const idx = order.slice(k0, k0 + B);
      t++;
      const gP = [0, 0];
      const gA = [0, 0];
      let ga = 0;
      let gb = 0;
      let ge = 0;
      let gf = 0;
      for (const i of idx) {
        const z = p.u0 * s[i]! + p.u1 * cue[i]!;
        const r = p.a * z + p.b - y[i]!;
        gP[0] += (2 * r * p.a * s[i]!) / B;
        gP[1] += (2 * r * p.a * cue[i]!) / B;
        ga += (2 * r * z) / B;
        gb += (2 * r) / B;
        const q = 1 / (1 + Math.exp(-(p.e * z + p.f)));
        const d = q - g[i]!;
        gA[0] += (d * p.e * s[i]!) / B;
        gA[1] += (d * p.e * cue[i]!) / B;
        ge += (d * z) / B;
        gf += d / B;
      }
      let gu = gP;
      if (spec) {
        const lambda = spec.lambda(step / Math.max(1, total - 1), epoch);
        if (spec.mode === 'gradient-reversal') gu = [gP[0]! - lambda * gA[0]!, gP[1]! - lambda * gA[1]!];
        else {
          const nA = Math.hypot(gA[0]!, gA[1]!) + 1e-12;
          const proj = (gP[0]! * gA[0]! + gP[1]! * gA[1]!) / nA;
          gu = [0, 1].map((j) => gP[j]! - (proj * gA[j]!) / nA - lambda * gA[j]!);
        }
      }
      adam({ u0: gu[0]!, u1: gu[1]!, a: ga, b: gb }, 0.01);
      adam({ e: ge, f: gf }, spec?.learningRate ?? 0.01);
      step++;
    }
  }
  const z = Array.from(s, (si, i) => p.u0 * si + p.u1 * cue[i]!);
  const mz = z.reduce((acc, x) => acc + x, 0) / n;
  const mg = 0.5;
  let cov = 0;
  let vz = 0;
  let mse = 0;
  z.forEach((zi, i) => {
    cov += (zi - mz) * (g[i]! - mg);
    vz += (zi - mz) ** 2;
    mse += (p.a * zi + p.b - y[i]!) ** 2 / n;
  });
  return { corr: Math.abs(cov / Math.sqrt(vz * n * 0.25)), mse };
}

describe('adversarial', () => {
  const base = trainAdversarial(undefined);

  it('ERM puts group information in the embedding (known optimum: weight 0.4 on the cue, |corr| ≈ 0.37)', () => {
    expect(base.corr).toBeGreaterThan(0.3);
  });

  it('gradient reversal (DANN ramp) takes group information out of the embedding, more so for a larger λ_max', () => {
    const one = trainAdversarial(create(adversarialStrategy, { learningRate: 0.01 }, ADV_GROUPS, 60, 50));
    const three = trainAdversarial(create(adversarialStrategy, { learningRate: 0.01, maxLambda: 3 }, ADV_GROUPS, 60, 50));
    // A scalar embedding and a task that needs the group cue settle at a compromise, not at 0.
    expect(one.corr).toBeLessThan(0.85 * base.corr);
    expect(three.corr).toBeLessThan(0.6 * base.corr);
    expect(three.corr).toBeLessThan(one.corr);
    // at a price in task loss (the group part of y is no longer predictable)
    expect(one.mse).toBeGreaterThan(base.mse);
    expect(three.mse).toBeGreaterThan(one.mse);
  });

  it('projection (constant α) removes most of the group information from the embedding', () => {
    const fit = trainAdversarial(create(adversarialStrategy, { mode: 'projection', learningRate: 0.01 }, ADV_GROUPS, 60, 50));
    expect(fit.corr).toBeLessThan(0.1);
    expect(fit.corr).toBeLessThan(base.corr / 3);
    expect(fit.mse).toBeGreaterThan(base.mse);
  });
});
