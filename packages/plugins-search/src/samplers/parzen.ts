/**
 * TPE's Parzen estimator, after Optuna (`samplers/_tpe/parzen_estimator.py` and
 * `probability_distributions.py`, 3.2 to 5.0; the parameters equal 3.1's with the defaults; the
 * continuous kernels' density is 3.5's unless `kernelScaleTerm` is false, see below).
 *
 * A mixture with one kernel per observation plus a prior kernel, weighted by `defaultWeights`
 * and the prior weight. Per param (a product across params within a kernel when multivariate):
 * - numerical: a normal kernel truncated to the range, in the transformed space (log for log
 *   params; the range widened by step/2 for int and stepped params). Univariate bandwidth: the
 *   larger gap to the neighbours among the sorted observations and the prior mean, clipped by the
 *   "magic clip" to [range/min(100, 1 + kernels), range]; multivariate: Scott's rule
 *   0.2·n^(−1/(d+4))·range. The prior kernel is centred with σ = range. Stepped params are
 *   discretised: the mass of [x − step/2, x + step/2] (in log space for log ints);
 * - categorical: each kernel puts prior_weight/kernels on every choice and 1 more on its own,
 *   normalised; the prior kernel is uniform.
 */
import type { Distribution, Rng } from '@fairtune/core/plugin';
import { roundHalfEven, stepOf } from './space.js';
import { logGaussMass, normLogPdf, truncnormLogPdf, truncnormPpf } from './truncnorm.js';

export interface ParzenParameters {
  readonly priorWeight: number;
  /** Optuna ≤ 4.x's `consider_prior` (always on from 5.0). */
  readonly considerPrior: boolean;
  readonly considerMagicClip: boolean;
  readonly considerEndpoints: boolean;
  readonly multivariate: boolean;
  /**
   * Whether a continuous kernel's log density includes its −log σ (a normalised truncated normal,
   * Optuna ≥ 3.5, optuna/optuna#5110). false: Optuna 3.1–3.4, whose `_truncnorm.logpdf` left it out
   * (optuna/optuna#5109), so every kernel peaks at about the same height whatever its width: narrow
   * kernels count for less than when normalised and proposals stay nearer the "below" points.
   * Absent: true. Discrete (stepped, int) and categorical kernels are unaffected.
   */
  readonly kernelScaleTerm?: boolean;
}

const EPS = 1e-12;
// Bound once: global lookups are slow in some hosts (jest's vm contexts) and these run in TPE's inner loops.
const { exp, log, max, min, ceil } = Math;
const INF = Number.POSITIVE_INFINITY;
const isNaN_ = Number.isNaN;

/** γ(n) = min(⌈0.1·n⌉, 25): how many of n finished trials go "below". */
export function defaultGamma(n: number): number {
  return min(ceil(0.1 * n), 25);
}

/**
 * Weights of n observations in trial order (oldest first): flat below 25, else a linear ramp from
 * 1/n up to 1 over the n − 25 oldest followed by 25 ones (numpy's linspace, same arithmetic).
 */
export function defaultWeights(n: number): Float64Array {
  const w = new Float64Array(n).fill(1);
  if (n < 25) return w;
  const num = n - 25;
  const start = 1 / n;
  if (num === 1) w[0] = start;
  else if (num > 1) {
    const step = (1 - start) / (num - 1);
    for (let i = 0; i < num; i++) w[i] = i * step + start;
    w[num - 1] = 1;
  }
  return w;
}

export interface NumericalKernels {
  readonly kind: 'numerical';
  readonly dist: Exclude<Distribution, { type: 'categorical' }>;
  /** Kernel centres in the transformed space (the prior's last when there is one). */
  readonly mus: Float64Array;
  readonly sigmas: Float64Array;
  /** Truncation bounds in the transformed space (range ± step/2, then log). */
  readonly low: number;
  readonly high: number;
  /** ParzenParameters.kernelScaleTerm (true when absent there). */
  readonly scaleTerm: boolean;
}

export interface CategoricalKernels {
  readonly kind: 'categorical';
  readonly dist: Extract<Distribution, { type: 'categorical' }>;
  /** One row of choice probabilities per kernel (the prior's last when there is one). */
  readonly rows: Float64Array[];
}

export type Kernels = NumericalKernels | CategoricalKernels;

export interface ParzenEstimator {
  readonly names: readonly string[];
  /** Mixture weights, normalised (the prior's last). */
  readonly weights: Float64Array;
  /** Per name, in `names` order. */
  readonly kernels: readonly Kernels[];
}

/** Truncation bounds of a numerical param in the transformed space. */
export function transformedRange(d: Exclude<Distribution, { type: 'categorical' }>): [number, number] {
  const step = stepOf(d);
  let low = d.low;
  let high = d.high;
  if (step !== undefined) {
    low -= step / 2;
    high += step / 2;
  }
  return d.log ? [log(low), log(high)] : [low, high];
}

/** Mixture weights for n observations: defaultWeights, then the prior's; normalised. */
export function mixtureWeights(n: number, p: ParzenParameters): Float64Array {
  if (n === 0) return Float64Array.of(1);
  const w = defaultWeights(n);
  const out = new Float64Array(p.considerPrior ? n + 1 : n);
  out.set(w);
  if (p.considerPrior) out[n] = p.priorWeight;
  let total = 0;
  for (const v of out) total += v;
  for (let i = 0; i < out.length; i++) out[i]! /= total;
  return out;
}

/**
 * Centres and bandwidths of a numerical param's kernels. `values` are the observations as the
 * user sees them (log is applied here); `dims` is the number of params of a multivariate estimator.
 */
export function numericalKernels(values: ArrayLike<number>, d: Exclude<Distribution, { type: 'categorical' }>, p: ParzenParameters, dims = 1): NumericalKernels {
  const [low, high] = transformedRange(d);
  const n = values.length;
  const range = high - low;
  const priorMu = 0.5 * (low + high);
  const obs = new Float64Array(n);
  for (let i = 0; i < n; i++) obs[i] = d.log ? log(values[i]!) : values[i]!;
  const sigmas = new Float64Array(n);
  if (p.multivariate) {
    sigmas.fill(0.2 * max(n, 1) ** (-1 / (dims + 4)) * range);
  } else if (n > 0) {
    // Sort the observations with the prior mean (always, as Optuna ≥ 3.2); ties keep trial order.
    const withPrior = Float64Array.of(...obs, priorMu);
    const order = Array.from(withPrior.keys()).sort((a, b) => withPrior[a]! - withPrior[b]! || a - b);
    const m = order.length;
    const ends = new Float64Array(m + 2);
    ends[0] = low;
    for (let k = 0; k < m; k++) ends[k + 1] = withPrior[order[k]!]!;
    ends[m + 1] = high;
    const sorted = new Float64Array(m);
    for (let k = 0; k < m; k++) sorted[k] = max(ends[k + 1]! - ends[k]!, ends[k + 2]! - ends[k + 1]!);
    if (!p.considerEndpoints && ends.length >= 4) {
      sorted[0] = ends[2]! - ends[1]!;
      sorted[m - 1] = ends[m]! - ends[m - 1]!;
    }
    for (let k = 0; k < m; k++) if (order[k]! < n) sigmas[order[k]!] = sorted[k]!;
  }
  const maxSigma = range;
  const minSigma = p.considerMagicClip ? range / min(100, 1 + n + (p.considerPrior ? 1 : 0)) : EPS;
  for (let i = 0; i < n; i++) sigmas[i] = min(maxSigma, max(minSigma, sigmas[i]!));
  const scaleTerm = p.kernelScaleTerm ?? true;
  if (p.considerPrior || n === 0) {
    return { kind: 'numerical', dist: d, low, high, scaleTerm, mus: Float64Array.of(...obs, priorMu), sigmas: Float64Array.of(...sigmas, range) };
  }
  return { kind: 'numerical', dist: d, low, high, scaleTerm, mus: obs, sigmas };
}

/** Choice probabilities of a categorical param's kernels; `indices` are the observed choices. */
export function categoricalKernels(indices: ArrayLike<number>, d: Extract<Distribution, { type: 'categorical' }>, p: ParzenParameters): CategoricalKernels {
  const c = d.choices.length;
  const n = indices.length;
  if (n === 0) return { kind: 'categorical', dist: d, rows: [new Float64Array(c).fill(1 / c)] };
  const kernels = n + (p.considerPrior ? 1 : 0);
  const rows: Float64Array[] = [];
  for (let k = 0; k < kernels; k++) {
    const row = new Float64Array(c).fill(p.priorWeight / kernels);
    if (k < n) row[indices[k]!]! += 1;
    let total = 0;
    for (const v of row) total += v;
    for (let j = 0; j < c; j++) row[j]! /= total === 0 ? 1 : total;
    rows.push(row);
  }
  return { kind: 'categorical', dist: d, rows };
}

/**
 * The estimator of `names` (a univariate one when there is a single name) from observations in
 * trial order: numbers for numerical params, choice indices for categorical ones.
 */
export function buildParzenEstimator(
  names: readonly string[],
  space: Readonly<Record<string, Distribution>>,
  observations: Readonly<Record<string, ArrayLike<number>>>,
  p: ParzenParameters,
): ParzenEstimator {
  const n = names.length ? observations[names[0]!]!.length : 0;
  const kernels = names.map((name): Kernels => {
    const d = space[name]!;
    const obs = observations[name]!;
    return d.type === 'categorical' ? categoricalKernels(obs, d, p) : numericalKernels(obs, d, p, names.length);
  });
  return { names, weights: mixtureWeights(n, p), kernels };
}

/**
 * `count` draws from the mixture: per name, the values (numbers; categorical choice indices).
 * A kernel is picked by weight, then each param is drawn from that kernel's factor.
 */
export function sampleParzen(pe: ParzenEstimator, rng: Rng, count: number): Float64Array[] {
  const active = rng.weightedIndices(pe.weights, count);
  return pe.kernels.map((k) => {
    const out = new Float64Array(count);
    if (k.kind === 'categorical') {
      for (let s = 0; s < count; s++) {
        const row = k.rows[active[s]!]!;
        const u = rng.next();
        let cum = 0;
        let idx = 0;
        // Optuna: the number of cumulative probabilities below u (the last one forced to 1).
        for (let j = 0; j < row.length - 1; j++) {
          cum += row[j]!;
          if (cum < u) idx = j + 1;
          else break;
        }
        out[s] = idx;
      }
      return out;
    }
    const step = stepOf(k.dist);
    for (let s = 0; s < count; s++) {
      const mu = k.mus[active[s]!]!;
      const sigma = k.sigmas[active[s]!]!;
      let v = truncnormPpf(rng.next(), (k.low - mu) / sigma, (k.high - mu) / sigma) * sigma + mu;
      v = min(k.high, max(k.low, v));
      if (k.dist.log) v = exp(v);
      if (step !== undefined) {
        const { low, high } = k.dist;
        v = min(high, max(low, low + roundHalfEven((v - low) / step) * step));
      } else {
        v = min(k.dist.high, max(k.dist.low, v));
      }
      out[s] = v;
    }
    return out;
  });
}

/** log of one kernel's factor at x (a user-space value, or a choice index). */
export function kernelLogPdf(k: Kernels, j: number, x: number): number {
  if (k.kind === 'categorical') return log(k.rows[j]![x]!);
  const mu = k.mus[j]!;
  const sigma = k.sigmas[j]!;
  const a = (k.low - mu) / sigma;
  const b = (k.high - mu) / sigma;
  const step = stepOf(k.dist);
  if (step === undefined) return truncnormLogPdf(k.dist.log ? log(x) : x, a, b, mu, sigma) + (k.scaleTerm ? 0 : log(sigma));
  const left = k.dist.log ? log(x - step / 2) : x - step / 2;
  const right = k.dist.log ? log(x + step / 2) : x + step / 2;
  return logGaussMass((left - mu) / sigma, (right - mu) / sigma) - logGaussMass(a, b);
}

/**
 * log factor of every kernel at every point of one param: rows[s][j]. The same as kernelLogPdf,
 * with each kernel's normalisation computed once and repeated values (ints, choices) once.
 */
function factorLogPdfs(k: Kernels, xs: ArrayLike<number>): Float64Array[] {
  const count = xs.length;
  const memo = new Map<number, Float64Array>();
  if (k.kind === 'categorical') {
    const nk = k.rows.length;
    return Array.from({ length: count }, (_, s) => {
      const x = xs[s]!;
      let row = memo.get(x);
      if (!row) {
        row = new Float64Array(nk);
        for (let j = 0; j < nk; j++) row[j] = log(k.rows[j]![x]!);
        memo.set(x, row);
      }
      return row;
    });
  }
  const nk = k.mus.length;
  // log Z_j = log mass of kernel j on the truncation range
  const logZ = new Float64Array(nk);
  for (let j = 0; j < nk; j++) logZ[j] = logGaussMass((k.low - k.mus[j]!) / k.sigmas[j]!, (k.high - k.mus[j]!) / k.sigmas[j]!);
  const step = stepOf(k.dist);
  const isLog = k.dist.log;
  const scaleTerm = k.scaleTerm;
  return Array.from({ length: count }, (_, s) => {
    const x = xs[s]!;
    let row = step !== undefined ? memo.get(x) : undefined;
    if (row) return row;
    row = new Float64Array(nk);
    if (step === undefined) {
      const t = isLog ? log(x) : x;
      for (let j = 0; j < nk; j++) {
        const mu = k.mus[j]!;
        const sigma = k.sigmas[j]!;
        const z = (t - mu) / sigma;
        row[j] = t < k.low || t > k.high ? -INF : normLogPdf(z) - logZ[j]! - (scaleTerm ? log(sigma) : 0);
      }
    } else {
      const left = isLog ? log(x - step / 2) : x - step / 2;
      const right = isLog ? log(x + step / 2) : x + step / 2;
      for (let j = 0; j < nk; j++) {
        const mu = k.mus[j]!;
        const sigma = k.sigmas[j]!;
        row[j] = logGaussMass((left - mu) / sigma, (right - mu) / sigma) - logZ[j]!;
      }
      memo.set(x, row);
    }
    return row;
  });
}

/** log density (mass, for discrete params) of the mixture at each of the points. */
export function logPdfParzen(pe: ParzenEstimator, points: readonly ArrayLike<number>[]): Float64Array {
  const count = points.length ? points[0]!.length : 0;
  const nk = pe.weights.length;
  const out = new Float64Array(count);
  const factors = pe.kernels.map((k, i) => factorLogPdfs(k, points[i]!));
  const logW = pe.weights.map(log);
  const terms = new Float64Array(nk);
  for (let s = 0; s < count; s++) {
    let max = -INF;
    for (let j = 0; j < nk; j++) {
      let t = logW[j]!;
      for (let i = 0; i < factors.length; i++) t += factors[i]![s]![j]!;
      terms[j] = t;
      if (t > max) max = t;
    }
    if (max === -INF || isNaN_(max)) {
      out[s] = max;
      continue;
    }
    let sum = 0;
    for (let j = 0; j < nk; j++) sum += exp(terms[j]! - max);
    out[s] = log(sum) + max;
  }
  return out;
}
