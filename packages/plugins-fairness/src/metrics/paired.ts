/**
 * Statistics of paired differences d_s = method_s − baseline_s over seeds s (one pair per seed:
 * same evaluation set, split and initialisation). Confidence intervals and effect sizes are the
 * primary result, tests secondary:
 *
 * - mean difference d̄ with a seeded percentile bootstrap CI that resamples PAIRS (seeds) with
 *   replacement, so the within-seed correlation of the two arms is kept;
 * - effect size d_z = d̄ / SD(d) (Cohen's d for paired data, SD with ddof = 1);
 * - an exact two-sided sign-flip permutation test of the mean difference (all 2^n sign patterns
 *   for n ≤ 20, a seeded Monte-Carlo sample above), p = #{patterns: |Σ ±d_s| ≥ |Σ d_s|} / 2^n;
 * - the Wilcoxon signed-rank test as scipy.stats.wilcoxon's defaults define it (zero_method
 *   'wilcox': zero differences are dropped; mid-ranks for tied |d|), with the exact null
 *   distribution of W+ over the 2^n' sign patterns of the (mid-)ranks, computed by dynamic
 *   programming (equal to scipy's `method='exact'` when there are no ties or zeros);
 * - Holm's step-down adjustment across a family of p-values (methods, per metric).
 *
 * With n non-zero differences no exact two-sided test of either kind can give p < 2/2^n
 * (0.0625 for n = 5): `minAttainableP` says so, and the report prints it next to the p.
 */
import { Rng } from '@fairtune/core/plugin';
import { quantileSorted } from './common.js';

/** Largest n for which the sign-flip test enumerates every sign pattern (2^20 ≈ 1e6). */
export const SIGN_FLIP_EXACT_MAX = 20;
/** Largest number of non-zero differences for which the exact Wilcoxon null is computed (O(n³)). */
export const WILCOXON_EXACT_MAX = 200;

const sum = (v: readonly number[]) => v.reduce((a, b) => a + b, 0);

/** Smallest two-sided p an exact sign test of n non-zero differences can give: 2/2^n (1 for n = 0). */
export function minAttainablePairedP(nonzero: number): number {
  return nonzero < 1 ? 1 : Math.min(1, 2 ** (1 - nonzero));
}

export interface SignFlipResult {
  /** Two-sided p-value; 1 when every difference is 0, NaN with no differences. */
  readonly p: number;
  /** True when every sign pattern was enumerated; false for the Monte-Carlo sample (n > exactMax). */
  readonly exact: boolean;
  /** Sign patterns counted (2^n, or the Monte-Carlo sample size). */
  readonly patterns: number;
  readonly n: number;
  readonly nonzero: number;
  /** 2/2^nonzero: no data with this many non-zero differences can give a smaller p. */
  readonly minAttainableP: number;
}

export interface SignFlipOptions {
  /** Enumerate all 2^n patterns up to this n (default 20, at most 26). */
  readonly exactMax?: number;
  /** Monte-Carlo sign patterns above exactMax (default 100 000). */
  readonly resamples?: number;
  /** Seed of the Monte-Carlo sample (default 0). */
  readonly seed?: number;
}

/**
 * Exact two-sided sign-flip (paired permutation) test of H0: the differences are symmetric
 * about 0. The statistic is |Σ d_s|; under H0 every sign pattern is equally likely. A pattern
 * counts as at least as extreme when |Σ ±d_s| ≥ |Σ d_s| − 1e-12·Σ|d_s| (ties in exact
 * arithmetic must not be lost to rounding). Above `exactMax` the p-value is (1 + k)/(1 + B)
 * from B seeded random patterns (as scipy.stats.permutation_test does when it samples).
 */
export function signFlipTest(d: readonly number[], options: SignFlipOptions = {}): SignFlipResult {
  const n = d.length;
  for (const [i, x] of d.entries()) if (!Number.isFinite(x)) throw new RangeError(`signFlipTest: d[${i}] is ${x}, expected a finite number`);
  const nonzero = d.filter((x) => x !== 0).length;
  const minAttainableP = minAttainablePairedP(nonzero);
  if (n === 0) return { p: Number.NaN, exact: true, patterns: 0, n, nonzero, minAttainableP };
  const exactMax = Math.min(options.exactMax ?? SIGN_FLIP_EXACT_MAX, 26);
  const scale = sum(d.map(Math.abs));
  const observed = Math.abs(sum(d));
  const threshold = observed - 1e-12 * scale;
  if (nonzero === 0) return { p: 1, exact: true, patterns: 2 ** n, n, nonzero, minAttainableP };
  if (n <= exactMax) {
    // Meet in the middle: every pattern's sum is one addition of two half sums, each built
    // from its own sub-pattern, so no rounding error accumulates along the enumeration.
    const half = n >> 1;
    const halfSums = (part: readonly number[]) => {
      const out = new Float64Array(1 << part.length);
      for (let mask = 0; mask < out.length; mask++) {
        let s = 0;
        for (let j = 0; j < part.length; j++) s += mask & (1 << j) ? -part[j]! : part[j]!;
        out[mask] = s;
      }
      return out;
    };
    const a = halfSums(d.slice(0, half));
    const b = halfSums(d.slice(half));
    let count = 0;
    for (let i = 0; i < a.length; i++) {
      const ai = a[i]!;
      for (let j = 0; j < b.length; j++) if (Math.abs(ai + b[j]!) >= threshold) count++;
    }
    const patterns = a.length * b.length;
    return { p: count / patterns, exact: true, patterns, n, nonzero, minAttainableP };
  }
  const B = options.resamples ?? 100_000;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`signFlipTest: resamples must be a positive integer, got ${B}`);
  const rng = new Rng(options.seed ?? 0);
  let count = 0;
  for (let r = 0; r < B; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rng.next() < 0.5 ? -d[i]! : d[i]!;
    if (Math.abs(s) >= threshold) count++;
  }
  return { p: (count + 1) / (B + 1), exact: false, patterns: B, n, nonzero, minAttainableP: Math.max(minAttainableP, 1 / (B + 1)) };
}

/** Mid-ranks (1-based; ties get the mean of their positions), as scipy.stats.rankdata. */
export function midRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = r;
    i = j + 1;
  }
  return ranks;
}

export interface WilcoxonResult {
  /** min(W+, W−), scipy's two-sided statistic; NaN without non-zero differences. */
  readonly statistic: number;
  /** Sum of the ranks of the positive differences. */
  readonly wPlus: number;
  /** Two-sided p-value from the exact null of W+; NaN with no non-zero difference or above WILCOXON_EXACT_MAX. */
  readonly p: number;
  readonly n: number;
  /** Differences left after dropping zeros (zero_method 'wilcox'). */
  readonly nonzero: number;
  /** Some |d| tie (mid-ranks used; the exact null is then conditional on those ranks). */
  readonly ties: boolean;
  readonly minAttainableP: number;
}

/**
 * Wilcoxon signed-rank test, two-sided, with scipy's default zero handling ('wilcox': zeros are
 * dropped before ranking). The null distribution of W+ = Σ_{d>0} rank(|d|) is exact: each
 * (mid-)rank enters with probability 1/2, convolved by dynamic programming over doubled ranks
 * (integers), and p = P(|W+ − μ| ≥ |w+ − μ|), μ = Σ ranks / 2; this is scipy's
 * 2·min(P(W ≤ w), P(W ≥ w)) for a distribution symmetric about μ, and scipy's exact p when there
 * are no ties or zeros (scipy switches to its normal approximation when there are).
 */
export function wilcoxonSignedRank(d: readonly number[]): WilcoxonResult {
  const n = d.length;
  for (const [i, x] of d.entries()) if (!Number.isFinite(x)) throw new RangeError(`wilcoxonSignedRank: d[${i}] is ${x}, expected a finite number`);
  const nz = d.filter((x) => x !== 0);
  const m = nz.length;
  const minAttainableP = minAttainablePairedP(m);
  if (m === 0) return { statistic: Number.NaN, wPlus: Number.NaN, p: Number.NaN, n, nonzero: 0, ties: false, minAttainableP };
  const ranks = midRanks(nz.map(Math.abs));
  const ties = new Set(ranks).size < m;
  const wPlus = sum(ranks.filter((_, i) => nz[i]! > 0));
  const total = (m * (m + 1)) / 2;
  const statistic = Math.min(wPlus, total - wPlus);
  if (m > WILCOXON_EXACT_MAX) return { statistic, wPlus, p: Number.NaN, n, nonzero: m, ties, minAttainableP };
  // Doubled ranks are integers; dist[s] = P(2·W+ = s).
  const r2 = ranks.map((r) => Math.round(2 * r));
  const T2 = m * (m + 1);
  let dist = new Float64Array(T2 + 1);
  dist[0] = 1;
  let reach = 0;
  for (const r of r2) {
    const next = new Float64Array(T2 + 1);
    for (let s = 0; s <= reach; s++) {
      const q = dist[s]!;
      if (q === 0) continue;
      next[s] += 0.5 * q;
      next[s + r] += 0.5 * q;
    }
    reach += r;
    dist = next;
  }
  const obs = Math.abs(Math.round(2 * wPlus) * 2 - T2); // |2·(2W+) − T2| = 4|W+ − μ|, integer
  let p = 0;
  for (let s = 0; s <= T2; s++) if (Math.abs(2 * s - T2) >= obs) p += dist[s]!;
  return { statistic, wPlus, p: Math.min(1, p), n, nonzero: m, ties, minAttainableP };
}

/**
 * Holm's step-down adjustment: with the k defined p-values sorted ascending p_(1) ≤ … ≤ p_(k),
 * p̃_(i) = min(1, max_{j ≤ i} (k − j + 1)·p_(j)). NaN entries stay NaN and are not counted in k.
 * Returned in the input order.
 */
export function holmAdjust(p: readonly number[]): number[] {
  const idx = p.map((_, i) => i).filter((i) => Number.isFinite(p[i]!));
  idx.sort((a, b) => p[a]! - p[b]! || a - b);
  const k = idx.length;
  const out = p.map(() => Number.NaN);
  let running = 0;
  idx.forEach((i, j) => {
    running = Math.max(running, Math.min(1, (k - j) * p[i]!));
    out[i] = running;
  });
  return out;
}

export interface PairedBootstrapOptions {
  readonly seed: number;
  /** Replicates B (default 10 000). */
  readonly replicates?: number;
  /** Two-sided level: the interval covers 1 − α (default 0.05). */
  readonly alpha?: number;
  /** Receives each replicate's drawn pair indices (for cross-checks). */
  readonly onReplicate?: (pairs: Int32Array) => void;
}

export interface MeanInterval {
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly replicates: number;
}

/**
 * Percentile bootstrap CI of the mean paired difference mean(x − y): each replicate draws n pair
 * indices with replacement and takes the mean of x_i − y_i over them (both arms of a pair stay
 * together); interval [q_{α/2}, q_{1−α/2}] with numpy's linear interpolation. NaN bounds for
 * fewer than two pairs.
 */
export function pairedBootstrapMeanCI(x: readonly number[], y: readonly number[], options: PairedBootstrapOptions): MeanInterval {
  if (x.length !== y.length) throw new RangeError(`pairedBootstrapMeanCI: ${x.length} method values but ${y.length} baseline values`);
  const B = options.replicates ?? 10_000;
  const alpha = options.alpha ?? 0.05;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`pairedBootstrapMeanCI: replicates must be a positive integer, got ${B}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`pairedBootstrapMeanCI: alpha must be in (0, 1), got ${alpha}`);
  const n = x.length;
  const level = 1 - alpha;
  if (n < 2) return { lo: Number.NaN, hi: Number.NaN, level, replicates: 0 };
  const rng = new Rng(options.seed);
  const means = new Float64Array(B);
  const idx = new Int32Array(n);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let k = 0; k < n; k++) {
      const i = rng.int(n);
      idx[k] = i;
      s += x[i]! - y[i]!;
    }
    means[b] = s / n;
    options.onReplicate?.(idx.slice());
  }
  means.sort();
  return { lo: quantileSorted(means, alpha / 2), hi: quantileSorted(means, 1 - alpha / 2), level, replicates: B };
}

export interface PairedComparison {
  /** Pairs with both values defined. */
  readonly n: number;
  /** Mean of the baseline values over those pairs. */
  readonly baselineMean: number;
  /** Mean difference method − baseline (in the metric's units). */
  readonly mean: number;
  /** Sample SD of the differences (ddof = 1); NaN for n < 2. */
  readonly std: number;
  /** 100 · mean / |baselineMean|; NaN when the baseline mean is 0. */
  readonly relativePercent: number;
  /** Bootstrap CI of the mean difference. */
  readonly ci: MeanInterval;
  /** Cohen's d_z = mean / std; NaN for n < 2 or std = 0. */
  readonly dz: number;
  /** Pairs where the method is lower / higher than the baseline. */
  readonly lower: number;
  readonly higher: number;
  readonly signFlip: SignFlipResult;
  readonly wilcoxon: WilcoxonResult;
}

export interface PairedComparisonOptions extends SignFlipOptions {
  readonly seed: number;
  readonly replicates?: number;
  readonly alpha?: number;
}

/** Everything above for one metric: `method[i]` and `baseline[i]` are one pair (one seed); pairs with a non-finite value are dropped. */
export function comparePaired(method: readonly number[], baseline: readonly number[], options: PairedComparisonOptions): PairedComparison {
  if (method.length !== baseline.length) throw new RangeError(`comparePaired: ${method.length} method values but ${baseline.length} baseline values`);
  const keep = method.map((_, i) => i).filter((i) => Number.isFinite(method[i]!) && Number.isFinite(baseline[i]!));
  const x = keep.map((i) => method[i]!);
  const y = keep.map((i) => baseline[i]!);
  const d = x.map((v, i) => v - y[i]!);
  const n = d.length;
  const mean = n ? sum(d) / n : Number.NaN;
  const std = n > 1 ? Math.sqrt(d.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const baselineMean = n ? sum(y) / n : Number.NaN;
  return {
    n,
    baselineMean,
    mean,
    std,
    relativePercent: baselineMean !== 0 ? (100 * mean) / Math.abs(baselineMean) : Number.NaN,
    ci: pairedBootstrapMeanCI(x, y, { seed: options.seed, replicates: options.replicates, alpha: options.alpha }),
    dz: n > 1 && std > 0 ? mean / std : Number.NaN,
    lower: d.filter((v) => v < 0).length,
    higher: d.filter((v) => v > 0).length,
    signFlip: signFlipTest(d, { exactMax: options.exactMax, resamples: options.resamples, seed: options.seed }),
    wilcoxon: wilcoxonSignedRank(d),
  };
}

/**
 * Indices of the points on the lower-left Pareto front (both coordinates to be minimised): a
 * point is on the front unless another point is ≤ in both and < in one. Sorted by x, then y.
 * Points with a non-finite coordinate take no part.
 */
export function paretoFront(points: readonly { readonly x: number; readonly y: number }[]): number[] {
  const ok = points.map((_, i) => i).filter((i) => Number.isFinite(points[i]!.x) && Number.isFinite(points[i]!.y));
  const front = ok.filter((i) => {
    const p = points[i]!;
    return !ok.some((j) => {
      const q = points[j]!;
      return j !== i && q.x <= p.x && q.y <= p.y && (q.x < p.x || q.y < p.y);
    });
  });
  return front.sort((a, b) => points[a]!.x - points[b]!.x || points[a]!.y - points[b]!.y || a - b);
}
