/**
 * The Parzen estimator's pieces on cases small enough to compute by hand (Optuna's rules,
 * algorithms.md §7.1), and the normal/truncated-normal functions against SciPy's values.
 */
import { Rng, type Distribution } from '@fairtune/core';
import {
  buildParzenEstimator,
  categoricalKernels,
  defaultGamma,
  defaultWeights,
  kernelLogPdf,
  logPdfParzen,
  mixtureWeights,
  numericalKernels,
  sampleParzen,
  type ParzenParameters,
} from './parzen.js';
import { erf, erfc, logGaussMass, logNdtr, ndtr, ndtriExp, truncnormLogPdf, truncnormPpf } from './truncnorm.js';

const P: ParzenParameters = { priorWeight: 1, considerPrior: true, considerMagicClip: true, considerEndpoints: false, multivariate: false };
const float = (low: number, high: number, log = false): Distribution => ({ type: 'float', low, high, log });
const int = (low: number, high: number, step = 1, log = false): Distribution => ({ type: 'int', low, high, log, step });
const numerical = (d: Distribution) => d as Exclude<Distribution, { type: 'categorical' }>;
const expectArray = (got: ArrayLike<number>, want: number[], digits = 12) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

describe('γ(n) = min(⌈0.1 n⌉, 25)', () => {
  it('rounds up and caps at 25', () => {
    expect([0, 1, 9, 10, 11, 19, 20, 21, 100, 241, 250, 251, 1000].map(defaultGamma)).toEqual([0, 1, 1, 1, 2, 2, 2, 3, 10, 25, 25, 25, 25]);
  });
  it('is ⌈n/10⌉ exactly up to the cap (no floating-point surprise from 0.1·n)', () => {
    for (let n = 0; n <= 300; n++) expect(defaultGamma(n)).toBe(Math.min(Math.floor((n + 9) / 10), 25));
  });
});

describe('defaultWeights: flat for the 25 newest, ramped for older', () => {
  it('is flat below 25 observations and at 25', () => {
    expect(Array.from(defaultWeights(0))).toEqual([]);
    expect(Array.from(defaultWeights(24))).toEqual(new Array(24).fill(1));
    expect(Array.from(defaultWeights(25))).toEqual(new Array(25).fill(1));
  });
  it('ramps linearly from 1/n to 1 over the n − 25 oldest (numpy linspace)', () => {
    expectArray(defaultWeights(26), [1 / 26, ...new Array(25).fill(1)]);
    const w = defaultWeights(30);
    expectArray(w.subarray(0, 5), [1 / 30, 1 / 30 + (29 / 30) / 4, 1 / 30 + (29 / 30) / 2, 1 / 30 + (3 * 29) / 30 / 4, 1]);
    expectArray(w.subarray(5), new Array(25).fill(1));
  });
  it('gives the oldest observation (first in trial order) the smallest mixture weight, the prior last', () => {
    const w = mixtureWeights(30, P);
    const total = defaultWeights(30).reduce((a, b) => a + b, 0) + 1;
    expect(w.length).toBe(31);
    expect(w[0]).toBeCloseTo(1 / 30 / total, 15);
    expect(w[29]).toBeCloseTo(1 / total, 15);
    expect(w[30]).toBeCloseTo(1 / total, 15); // prior weight 1
    for (let i = 1; i < 30; i++) expect(w[i]!).toBeGreaterThanOrEqual(w[i - 1]!);
    expectArray(mixtureWeights(0, P), [1]);
    expectArray(mixtureWeights(3, { ...P, priorWeight: 2 }), [0.2, 0.2, 0.2, 0.4]);
  });
});

describe('numerical kernels: centres, bandwidths, magic clip', () => {
  it('takes the larger gap to a neighbour among the sorted observations and the prior mean', () => {
    // [0, 10], observations 1, 4, 9, prior mean 5: sorted 1 4 5 9 between the ends 0 and 10.
    // 1 → max(1, 3) = 3; 4 → max(3, 1) = 3; 9 → max(4, 1) = 4, but without endpoints the outermost
    // take their inner gap: 1 → 3, 9 → 4. Clip [10/min(100, 1+3+1), 10] = [2, 10].
    const k = numericalKernels([1, 4, 9], numerical(float(0, 10)), P);
    expectArray(k.mus, [1, 4, 9, 5]);
    expectArray(k.sigmas, [3, 3, 4, 10]);
    expect([k.low, k.high]).toEqual([0, 10]);
  });
  it('uses the range ends as neighbours only with considerEndpoints, then clips', () => {
    // Observations 3 and 4, prior 5, ends 0 and 10: gaps 3|1 and 1|1.
    expectArray(numericalKernels([3, 4], numerical(float(0, 10)), { ...P, considerMagicClip: false }).sigmas, [1, 1, 10]);
    expectArray(numericalKernels([3, 4], numerical(float(0, 10)), { ...P, considerMagicClip: false, considerEndpoints: true }).sigmas, [3, 1, 10]);
    // Magic clip: at least range/min(100, 1 + kernels) = 10/4.
    expectArray(numericalKernels([3, 4], numerical(float(0, 10)), P).sigmas, [2.5, 2.5, 10]);
    // With many observations the floor is range/100.
    const many = numericalKernels(Array.from({ length: 200 }, (_, i) => 5 + i * 1e-6), numerical(float(0, 10)), P);
    expect(Math.min(...many.sigmas)).toBeCloseTo(0.1, 12);
  });
  it('works in log space for log params', () => {
    // log-uniform on [1, e⁴] is [0, 4] in log space; e and e³ sit at 1 and 3, the prior at 2.
    const k = numericalKernels([Math.E, Math.E ** 3], numerical(float(1, Math.E ** 4, true)), P);
    expectArray(k.mus, [1, 3, 2]);
    expectArray(k.sigmas, [1, 1, 4]); // gaps 1, clip floor 4/4 = 1, prior σ = range
    expect(k.low).toBeCloseTo(0, 12);
    expect(k.high).toBeCloseTo(4, 12);
    // A log int widens by ½ before the log: [log 0.5, log 8.5].
    const li = numericalKernels([2], numerical(int(1, 8, 1, true)), P);
    expect(li.low).toBeCloseTo(Math.log(0.5), 12);
    expect(li.high).toBeCloseTo(Math.log(8.5), 12);
    expect(li.mus[0]).toBeCloseTo(Math.log(2), 12);
  });
  it('widens an int (mask bit) range by step/2 and keeps tied observations in trial order', () => {
    // int [0, 1] → [−0.5, 1.5], prior 0.5; observations 0, 0, 1.
    // Sorted 0 0 .5 1: the first 0 (oldest) gets the gap to the second (0), the second 0.5,
    // 1 gets 0.5; clip floor 2/min(100, 5) = 0.4.
    const k = numericalKernels([0, 0, 1], numerical(int(0, 1)), P);
    expectArray(k.mus, [0, 0, 1, 0.5]);
    expectArray(k.sigmas, [0.4, 0.5, 0.5, 2]);
    expect([k.low, k.high]).toEqual([-0.5, 1.5]);
  });
  it('uses Scott\'s rule 0.2·n^(−1/(d+4))·range when multivariate', () => {
    // n = 64, d = 2: 0.2·64^(−1/6) = 0.1 of the range.
    const obs = Array.from({ length: 64 }, (_, i) => i / 7);
    const k = numericalKernels(obs, numerical(float(0, 10)), { ...P, multivariate: true }, 2);
    expect(k.sigmas[0]).toBeCloseTo(1, 12);
    expect(k.sigmas[63]).toBeCloseTo(1, 12);
    expect(k.sigmas[64]).toBe(10);
  });
  it('is just the prior without observations', () => {
    const k = numericalKernels([], numerical(float(-2, 6)), P);
    expectArray(k.mus, [2]);
    expectArray(k.sigmas, [8]);
  });
});

describe('kernelScaleTerm: the −log σ of a continuous kernel (Optuna ≥ 3.5) or not (Optuna 3.1–3.4)', () => {
  it('adds log σ to each continuous kernel without it, and leaves stepped kernels alone', () => {
    const d = float(0, 10);
    const on = numericalKernels([2, 3, 7], numerical(d), P);
    const off = numericalKernels([2, 3, 7], numerical(d), { ...P, kernelScaleTerm: false });
    for (let j = 0; j < on.mus.length; j++) {
      for (const x of [0.5, 2.5, 9]) expect(kernelLogPdf(off, j, x)).toBeCloseTo(kernelLogPdf(on, j, x) + Math.log(on.sigmas[j]!), 12);
    }
    // Optuna 3.1's own value for one kernel: the standard normal log density of z, less log Z, no log σ.
    const sigma = off.sigmas[0]!;
    const z = (2.5 - 2) / sigma;
    const logZ = logGaussMass((0 - 2) / sigma, (10 - 2) / sigma);
    expect(kernelLogPdf(off, 0, 2.5)).toBeCloseTo(-0.5 * z * z - 0.5 * Math.log(2 * Math.PI) - logZ, 12);
    const mask = int(0, 1);
    const onInt = numericalKernels([0, 1, 1], numerical(mask), P);
    const offInt = numericalKernels([0, 1, 1], numerical(mask), { ...P, kernelScaleTerm: false });
    for (let j = 0; j < onInt.mus.length; j++) expect(kernelLogPdf(offInt, j, 1)).toBe(kernelLogPdf(onInt, j, 1));
  });
  it('reaches the mixture: the batched log density agrees with the kernel-by-kernel one either way', () => {
    for (const kernelScaleTerm of [true, false]) {
      const q = { ...P, kernelScaleTerm };
      const pe = buildParzenEstimator(['x'], { x: float(0, 10) }, { x: [2, 3, 7] }, q);
      const xs = [0.5, 2.5, 9];
      const batched = logPdfParzen(pe, [xs]);
      const k = pe.kernels[0]!;
      xs.forEach((x, i) => {
        const byKernel = Array.from(pe.weights, (w, j) => w * Math.exp(kernelLogPdf(k, j, x))).reduce((a, b) => a + b, 0);
        expect(batched[i]).toBeCloseTo(Math.log(byKernel), 12);
      });
    }
  });
});

describe('categorical kernels', () => {
  const d = { type: 'categorical', choices: ['a', 'b', 'c'] } as const;
  it('puts prior_weight/(n+1) on every choice and 1 more on the observed one, row-normalised; the prior row uniform', () => {
    const k = categoricalKernels([0, 2], d, P);
    expectArray(k.rows[0]!, [2 / 3, 1 / 6, 1 / 6]);
    expectArray(k.rows[1]!, [1 / 6, 1 / 6, 2 / 3]);
    expectArray(k.rows[2]!, [1 / 3, 1 / 3, 1 / 3]);
    // prior weight 2, one observation: 2/2 on each choice, +1 on the observed: [2, 1, 1]/4.
    expectArray(categoricalKernels([0], d, { ...P, priorWeight: 2 }).rows[0]!, [1 / 2, 1 / 4, 1 / 4]);
  });
  it('gives the mixture probability of each choice', () => {
    const pe = buildParzenEstimator(['c'], { c: d }, { c: [0, 2] }, P);
    const lp = logPdfParzen(pe, [[0, 1, 2]]);
    expectArray(Array.from(lp, Math.exp), [7 / 18, 2 / 9, 7 / 18]);
  });
});

describe('normal and truncated-normal functions', () => {
  it('erf, erfc, Φ and log Φ match SciPy', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(1)).toBeCloseTo(0.8427007929497148, 15);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 15);
    expect(erfc(3) / 2.2090496998585445e-5).toBeCloseTo(1, 13);
    expect(erfc(10) / 2.0884875837625446e-45).toBeCloseTo(1, 13);
    expect(erfc(-1.5)).toBeCloseTo(1.9661051464753108, 15);
    expect(ndtr(-1)).toBeCloseTo(0.15865525393145707, 15);
    expect(logNdtr(-30)).toBeCloseTo(-454.32124395634327, 10);
    expect(logNdtr(-5)).toBeCloseTo(-15.064998393988727, 12);
    expect(logNdtr(8) / -6.220960574271743e-16).toBeCloseTo(1, 6);
  });
  it('truncated-normal log density: log φ(z) − log Z − log σ, −∞ outside', () => {
    const z1 = 0.6826894921370859; // Φ(1) − Φ(−1)
    expect(truncnormLogPdf(0, -1, 1, 0, 1)).toBeCloseTo(-0.5 * Math.log(2 * Math.PI) - Math.log(z1), 14);
    expect(truncnormLogPdf(3, -1, 1, 3, 2)).toBeCloseTo(-0.5 * Math.log(2 * Math.PI) - Math.log(z1) - Math.log(2), 14);
    expect(truncnormLogPdf(0, 0, Infinity, 0, 1)).toBeCloseTo(Math.log(Math.sqrt(2 / Math.PI)), 14); // half-normal
    expect(truncnormLogPdf(0.3, -1, 2, 0, 1)).toBeCloseTo(-0.7637722388802101, 14);
    expect(truncnormLogPdf(3.5, -1, 1, 0, 1 + 1e-9)).toBe(-Infinity);
    expect(Math.exp(logGaussMass(-1, 1))).toBeCloseTo(z1, 15);
    expect(Math.exp(logGaussMass(1, 3))).toBeCloseTo(ndtr(3) - ndtr(1), 15);
  });
  it('a discrete kernel gives the mass of the value\'s cell over the mass of the widened range', () => {
    // Mask bit: μ = 0, σ = 0.5 on [−0.5, 1.5]: P(0) = (Φ(1) − Φ(−1)) / (Φ(3) − Φ(−1)).
    const k = numericalKernels([0, 1], numerical(int(0, 1)), P);
    const j = 0;
    const custom = { ...k, mus: Float64Array.of(0), sigmas: Float64Array.of(0.5) };
    expect(Math.exp(kernelLogPdf(custom, j, 0))).toBeCloseTo(0.8127305705892682, 14);
    expect(Math.exp(kernelLogPdf(custom, j, 0)) + Math.exp(kernelLogPdf(custom, j, 1))).toBeCloseTo(1, 14);
  });
  it('the quantile function inverts the truncated CDF, in both tails', () => {
    expect(truncnormPpf(0.3, -1, 2)).toBeCloseTo(-0.24240381788922707, 12);
    expect(truncnormPpf(0.7, 3, 8)).toBeCloseTo(3.3493757211571182, 12);
    expect(truncnormPpf(0.25, -40, -35)).toBeCloseTo(-35.03955384202062, 10);
    expect(truncnormPpf(0, -1, 2)).toBe(-1);
    expect(ndtriExp(Math.log(0.975))).toBeCloseTo(1.959963984540054, 12);
  });
  it('the mixture is a density: it integrates to 1 (continuous, in the log space of log params) and sums to 1 (discrete)', () => {
    // Kernels of very different widths: a missing −log σ would break the normalisation.
    const cont = buildParzenEstimator(['x'], { x: float(0, 10) }, { x: [1, 1.2, 9.9] }, P);
    const logp = buildParzenEstimator(['lr'], { lr: float(1e-5, 1e-1, true) }, { lr: [1e-4, 2e-4, 5e-2] }, P);
    const integrate = (pe: typeof cont, lo: number, hi: number, toX: (t: number) => number) => {
      const n = 20000;
      const h = (hi - lo) / n;
      const ts = Array.from({ length: n }, (_, i) => lo + (i + 0.5) * h);
      return logPdfParzen(pe, [ts.map(toX)]).reduce((s, v) => s + Math.exp(v) * h, 0);
    };
    expect(integrate(cont, 0, 10, (t) => t)).toBeCloseTo(1, 4);
    expect(integrate(logp, Math.log(1e-5), Math.log(1e-1), Math.exp)).toBeCloseTo(1, 4);
    const disc = buildParzenEstimator(['k', 'u'], { k: int(1, 9, 2), u: int(1, 50, 1, true) }, { k: [1, 3, 3], u: [2, 40, 3] }, { ...P, multivariate: true });
    let total = 0;
    for (const k of [1, 3, 5, 7, 9]) for (let u = 1; u <= 50; u++) total += Math.exp(logPdfParzen(disc, [[k], [u]])[0]!);
    expect(total).toBeCloseTo(1, 12);
  });
  it('sampling stays in range and on the grid of stepped params', () => {
    const space: Record<string, Distribution> = { b: int(0, 1), d: { type: 'float', low: 0, high: 0.5, log: false, step: 0.1 }, lr: float(1e-5, 1e-2, true) };
    const pe = buildParzenEstimator(['b', 'd', 'lr'], space, { b: [0, 1, 1], d: [0.1, 0.2, 0.5], lr: [1e-4, 3e-4, 1e-3] }, { ...P, multivariate: true });
    const draws = sampleParzen(pe, new Rng(1), 500);
    for (const v of draws[0]!) expect([0, 1]).toContain(v);
    for (const v of draws[1]!) expect(Math.abs(v * 10 - Math.round(v * 10))).toBeLessThan(1e-9);
    for (const v of draws[2]!) expect(v >= 1e-5 && v <= 1e-2).toBe(true);
  });
});
