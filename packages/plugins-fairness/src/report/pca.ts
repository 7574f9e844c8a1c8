/**
 * Principal component analysis for the 2-D embedding plots: centred data, leading components
 * of the covariance by power iteration with deflation (X is never formed as a D×D matrix:
 * each iteration computes Xᵀ(X v), O(N·D)). Signs are fixed so the largest-magnitude loading of
 * each component is positive (deterministic plots, like sklearn's svd_flip up to convention).
 */
import { Rng } from '@fairtune/core/plugin';
import type { Matrix } from '../metrics/representation.js';

export interface PcaResult {
  /** N × k scores, row-major. */
  readonly scores: Float64Array;
  /** k × D loadings (unit vectors), row-major. */
  readonly components: Float64Array;
  /** Variance along each component (eigenvalues of the covariance, divisor N − 1). */
  readonly explainedVariance: Float64Array;
  readonly totalVariance: number;
}

export function pca(x: Matrix, k = 2, options: { iterations?: number; seed?: number } = {}): PcaResult {
  const { rows: n, dim: d } = x;
  if (n < 2) throw new RangeError(`PCA needs at least 2 points, got ${n}`);
  k = Math.min(k, d);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x.data[i * d + j]! / n;
  const c = new Float64Array(n * d);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = x.data[i * d + j]! - mean[j]!;
      c[i * d + j] = v;
      total += v * v;
    }
  }
  total /= n - 1;
  const rng = new Rng(options.seed ?? 0);
  const components = new Float64Array(k * d);
  const explained = new Float64Array(k);
  const iterations = options.iterations ?? 300;
  const xv = new Float64Array(n);
  for (let comp = 0; comp < k; comp++) {
    let v = Float64Array.from({ length: d }, () => rng.normal());
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      // Deflate: keep v orthogonal to the components found so far.
      for (let p = 0; p < comp; p++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += v[j]! * components[p * d + j]!;
        for (let j = 0; j < d; j++) v[j]! -= dot * components[p * d + j]!;
      }
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += c[i * d + j]! * v[j]!;
        xv[i] = s;
      }
      const next = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) next[j]! += c[i * d + j]! * xv[i]!;
      for (let p = 0; p < comp; p++) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += next[j]! * components[p * d + j]!;
        for (let j = 0; j < d; j++) next[j]! -= dot * components[p * d + j]!;
      }
      // A plain loop: spreading D (up to ~16k, or more) values into Math.hypot's arguments
      // can overflow the call stack.
      let sumSq = 0;
      for (let j = 0; j < d; j++) sumSq += next[j]! * next[j]!;
      const norm = Math.sqrt(sumSq);
      if (norm === 0) break; // no variance left in the remaining directions
      const newLambda = norm / (n - 1);
      for (let j = 0; j < d; j++) next[j]! /= norm;
      const converged = Math.abs(newLambda - lambda) <= 1e-12 * Math.max(1, newLambda);
      v = next;
      lambda = newLambda;
      if (converged) break;
    }
    let maxAbs = 0;
    let sign = 1;
    for (let j = 0; j < d; j++) {
      if (Math.abs(v[j]!) > maxAbs) {
        maxAbs = Math.abs(v[j]!);
        sign = Math.sign(v[j]!) || 1;
      }
    }
    for (let j = 0; j < d; j++) components[comp * d + j] = sign * v[j]!;
    explained[comp] = lambda;
  }
  const scores = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += c[i * d + j]! * components[p * d + j]!;
      scores[i * k + p] = s;
    }
  }
  return { scores, components, explainedVariance: explained, totalVariance: total };
}
