/**
 * Representation metrics of embeddings labelled by group (docs/fairness.md §Representation):
 *
 * - MMD² with the RBF kernel k(a, b) = exp(−‖a − b‖² / (2σ²)) and the unbiased estimator
 *   MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j) − 2/(nm) Σ_{i,j} k(x_i, y_j)
 *   (Gretton et al. 2012, eq. 3; it can be slightly negative). σ defaults to the median
 *   heuristic: the median of the Euclidean distances ‖a − b‖ over all pairs i < j of the pooled
 *   sample (all groups together, so every pair of groups is measured with the same kernel).
 *   A group with fewer than 2 samples makes the estimator undefined (NaN). More than two
 *   groups: MMD² of every pair; the headline value is the maximum over pairs (the most
 *   separated pair, in the spirit of the max − min gaps), the mean is reported as well.
 * - Silhouette (scikit-learn's silhouette_score, Euclidean): a_i = Σ_{j∈C(i), j≠i} d(i,j)/(|C(i)|−1),
 *   b_i = min_{C ≠ C(i)} mean_{j∈C} d(i,j), s_i = (b_i − a_i)/max(a_i, b_i), s_i = 0 for a
 *   singleton cluster and for 0/0; score = mean_i s_i. Like sklearn it throws unless
 *   2 ≤ number of labels ≤ n − 1.
 *
 * Both are O(n²·D); `RepresentationAnalysis` computes the distance matrix once (on a seeded
 * subsample when there are more than `maxSamples` embeddings) so that bootstrap replicates
 * only index into it.
 */
import { Rng } from '@fairtune/core/plugin';
import { median } from './common.js';

/** Row-major matrix of embeddings: `rows` × `dim`. */
export interface Matrix {
  readonly data: ArrayLike<number>;
  readonly rows: number;
  readonly dim: number;
}

export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const dim = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new RangeError(`row ${i} has ${r.length} values, expected ${dim}`);
    data.set(r, i * dim);
  });
  return { data, rows: rows.length, dim };
}

/** Squared Euclidean distances between the listed rows, as an m×m row-major matrix. */
export function squaredDistanceMatrix(x: Matrix, rowIds: ArrayLike<number>): Float64Array {
  const m = rowIds.length;
  const d = x.dim;
  const out = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    const oa = rowIds[a]! * d;
    for (let b = a + 1; b < m; b++) {
      const ob = rowIds[b]! * d;
      let s = 0;
      // Direct differences, not ‖a‖² + ‖b‖² − 2a·b, which cancels badly for close points.
      for (let k = 0; k < d; k++) {
        const diff = x.data[oa + k]! - x.data[ob + k]!;
        s += diff * diff;
      }
      out[a * m + b] = s;
      out[b * m + a] = s;
    }
  }
  return out;
}

/** Median heuristic σ = median of ‖a − b‖ over pairs a < b of an m×m squared-distance matrix. */
export function medianBandwidth(sqDist: Float64Array, m: number): number {
  const pairs = new Float64Array((m * (m - 1)) / 2);
  let k = 0;
  for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++) pairs[k++] = Math.sqrt(sqDist[a * m + b]!);
  return median(pairs);
}

/** RBF kernel matrix exp(−d² / (2σ²)) from squared distances. */
export function rbfKernel(sqDist: Float64Array, sigma: number): Float64Array {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`RBF bandwidth σ must be a positive number, got ${sigma}`);
  const g = 1 / (2 * sigma * sigma);
  const out = new Float64Array(sqDist.length);
  for (let i = 0; i < sqDist.length; i++) out[i] = Math.exp(-sqDist[i]! * g);
  return out;
}

/**
 * Unbiased MMD² between the points at positions `xs` and `ys` of an m×m kernel matrix.
 * Positions may repeat (bootstrap multisets); pairs are taken over list positions i ≠ j.
 */
export function mmd2UnbiasedFromKernel(kernel: Float64Array, m: number, xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  const n = xs.length;
  const l = ys.length;
  if (n < 2 || l < 2) return Number.NaN;
  let kxx = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) kxx += kernel[xs[i]! * m + xs[j]!]!;
  let kyy = 0;
  for (let i = 0; i < l; i++) for (let j = i + 1; j < l; j++) kyy += kernel[ys[i]! * m + ys[j]!]!;
  let kxy = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < l; j++) kxy += kernel[xs[i]! * m + ys[j]!]!;
  // Each unordered pair was summed once: Σ_{i≠j} = 2·Σ_{i<j}.
  return (2 * kxx) / (n * (n - 1)) + (2 * kyy) / (l * (l - 1)) - (2 * kxy) / (n * l);
}

/**
 * Unbiased RBF MMD² between two point sets; σ by the median heuristic on the pooled sample
 * unless given. The same code path as `RepresentationAnalysis` (two groups, no subsample).
 */
export function mmd2Rbf(x: Matrix, y: Matrix, sigma?: number): { mmd2: number; sigma: number } {
  if (x.dim !== y.dim) throw new RangeError(`mmd2Rbf: dimensions differ (${x.dim} vs ${y.dim})`);
  const data = new Float64Array((x.rows + y.rows) * x.dim);
  data.set(x.data, 0);
  data.set(y.data, x.rows * x.dim);
  const groups = new Int32Array(x.rows + y.rows).fill(1, x.rows);
  const analysis = new RepresentationAnalysis({ data, rows: x.rows + y.rows, dim: x.dim }, groups, {
    maxSamples: x.rows + y.rows,
    ...(sigma === undefined ? {} : { sigma }),
  });
  // An empty set leaves a single group and no pair: MMD² is undefined.
  const pair = analysis.mmd2Pairs().find((p) => p.a === 0 && p.b === 1);
  return { mmd2: pair?.mmd2 ?? Number.NaN, sigma: analysis.sigma };
}

/**
 * sklearn silhouette_score on a precomputed m×m Euclidean distance matrix, for the points at
 * `positions` (may repeat) with `labels` (one per position).
 */
export function silhouetteFromDistances(dist: Float64Array, m: number, positions: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = positions.length;
  if (labels.length !== n) throw new RangeError(`silhouette: ${n} positions but ${labels.length} labels`);
  const labelIds = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const L = labelIds.length;
  if (L < 2 || L > n - 1) {
    throw new RangeError(`silhouette: number of labels is ${L}; valid values are 2 to n_samples − 1 (${n - 1}) inclusive`);
  }
  const slot = new Map(labelIds.map((g, i) => [g, i]));
  const lab = Int32Array.from(labels, (g) => slot.get(g)!);
  const size = new Float64Array(L);
  for (let i = 0; i < n; i++) size[lab[i]!]! += 1;
  const sums = new Float64Array(L);
  let total = 0;
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    const row = positions[i]! * m;
    for (let j = 0; j < n; j++) sums[lab[j]!]! += dist[row + positions[j]!]!;
    const own = lab[i]!;
    if (size[own]! <= 1) continue; // singleton cluster: s_i = 0
    const a = sums[own]! / (size[own]! - 1);
    let b = Number.POSITIVE_INFINITY;
    for (let c = 0; c < L; c++) if (c !== own) b = Math.min(b, sums[c]! / size[c]!);
    const denom = Math.max(a, b);
    if (denom > 0) total += (b - a) / denom; // 0/0 → 0 (sklearn's nan_to_num)
  }
  return total / n;
}

/** sklearn silhouette_score(points, labels, metric='euclidean'). */
export function silhouetteScore(x: Matrix, labels: ArrayLike<number>): number {
  const ids = Array.from({ length: x.rows }, (_, i) => i);
  const sq = squaredDistanceMatrix(x, ids);
  const dist = sq.map(Math.sqrt);
  return silhouetteFromDistances(dist, x.rows, ids, labels);
}

export interface PairMmd {
  readonly a: number;
  readonly b: number;
  readonly mmd2: number;
}

export interface RepresentationResult {
  /** Max over group pairs of the unbiased MMD² (NaN if no pair is defined). */
  readonly mmd2: number;
  readonly mmd2Mean: number;
  readonly pairs: readonly PairMmd[];
  /** NaN when undefined (fewer than 2 groups, or as many groups as points); see `warnings`. */
  readonly silhouette: number;
  readonly n: number;
  readonly warnings: readonly string[];
}

export interface RepresentationOptions {
  /** Cap on the number of embeddings used (seeded uniform subsample). Default 2000. */
  readonly maxSamples?: number;
  /** Fixed RBF bandwidth; default: median heuristic on the (subsampled) pooled embeddings. */
  readonly sigma?: number;
  readonly seed?: number;
}

/**
 * Precomputes distances and the RBF kernel for the embeddings of known group, so that the full
 * set and any bootstrap replicate (a multiset of subjects) can be evaluated cheaply.
 */
export class RepresentationAnalysis {
  /** Embedding row of each retained position. */
  readonly rows: Int32Array;
  readonly sigma: number;
  readonly subsampled: boolean;
  readonly #groups: Int32Array;
  readonly #dist: Float64Array;
  readonly #kernel: Float64Array;

  constructor(z: Matrix, groups: ArrayLike<number>, options: RepresentationOptions = {}) {
    if (groups.length !== z.rows) throw new RangeError(`embeddings: ${z.rows} rows but ${groups.length} group ids`);
    const maxSamples = options.maxSamples ?? 2000;
    let known: number[] = [];
    for (let i = 0; i < z.rows; i++) if (groups[i]! >= 0) known.push(i);
    this.subsampled = known.length > maxSamples;
    if (this.subsampled) {
      // Uniform subsample keeps the group proportions (silhouette depends on them) in expectation.
      known = new Rng(options.seed ?? 0).shuffle(known).slice(0, maxSamples).sort((a, b) => a - b);
    }
    this.rows = Int32Array.from(known);
    this.#groups = Int32Array.from(known, (i) => groups[i]!);
    const m = this.rows.length;
    const sq = squaredDistanceMatrix(z, this.rows);
    this.sigma = options.sigma ?? (m >= 2 ? medianBandwidth(sq, m) : Number.NaN);
    this.#dist = sq.map(Math.sqrt);
    // A given σ must be valid (rbfKernel throws); a median-heuristic σ of 0 (most points
    // identical) or NaN (< 2 points) leaves the kernel, hence MMD², undefined.
    this.#kernel =
      options.sigma !== undefined || this.sigma > 0 ? rbfKernel(sq, this.sigma) : new Float64Array(sq.length).fill(Number.NaN);
  }

  #byGroup(pos: ArrayLike<number>): Map<number, number[]> {
    const byGroup = new Map<number, number[]>();
    for (let k = 0; k < pos.length; k++) {
      const g = this.#groups[pos[k]!]!;
      let list = byGroup.get(g);
      if (!list) byGroup.set(g, (list = []));
      list.push(pos[k]!);
    }
    return new Map([...byGroup.entries()].sort((a, b) => a[0] - b[0]));
  }

  /** Unbiased MMD² of every pair of groups (ascending ids) on `positions` (default all; may repeat). */
  mmd2Pairs(positions?: ArrayLike<number>): PairMmd[] {
    const m = this.rows.length;
    const byGroup = this.#byGroup(positions ?? Array.from({ length: m }, (_, i) => i));
    const ids = [...byGroup.keys()];
    const pairs: PairMmd[] = [];
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        pairs.push({ a: ids[i]!, b: ids[j]!, mmd2: mmd2UnbiasedFromKernel(this.#kernel, m, byGroup.get(ids[i]!)!, byGroup.get(ids[j]!)!) });
      }
    }
    return pairs;
  }

  /** Metrics on the retained positions `positions` (default all; may repeat). */
  compute(positions?: ArrayLike<number>): RepresentationResult {
    const m = this.rows.length;
    const pos = positions ?? Array.from({ length: m }, (_, i) => i);
    const pairs = this.mmd2Pairs(pos);
    const warnings: string[] = [];
    const defined = pairs.map((p) => p.mmd2).filter((v) => Number.isFinite(v));
    if (pairs.length === 0) warnings.push(`MMD² needs two groups with embeddings; found ${new Set(Array.from(pos, (p) => this.#groups[p]!)).size}`);
    else if (defined.length < pairs.length) warnings.push('MMD² is undefined for group pairs with fewer than 2 embeddings in a group');
    let silhouette = Number.NaN;
    try {
      silhouette = silhouetteFromDistances(this.#dist, m, pos, Array.from(pos, (p) => this.#groups[p]!));
    } catch (err) {
      warnings.push(`silhouette undefined: ${(err as Error).message}`);
    }
    return {
      mmd2: defined.length ? Math.max(...defined) : Number.NaN,
      mmd2Mean: defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : Number.NaN,
      pairs,
      silhouette,
      n: pos.length,
      warnings,
    };
  }
}
