/**
 * Regression metrics (PPG heart-rate task). Definitions (docs/fairness.md §Metrics):
 * - MAE = mean_i |y_i − ŷ_i|,  RMSE = sqrt(mean_i (y_i − ŷ_i)²); NaN on an empty input.
 * - per-group MAE_g over the samples of each observed group (group −1 = unknown is skipped);
 * - fairness gap FG = |MAE_a − MAE_b| for two groups, max_g MAE_g − min_g MAE_g for more
 *   (the same formula), 0 for a single group, NaN for none;
 * - worst-group MAE = max_g MAE_g.
 */
import { checkFinite, checkSameLength, finiteMax, groupIndices, spread, type NumArray } from './common.js';

function validate(what: string, yTrue: NumArray, yPred: NumArray): number {
  const n = checkSameLength(what, { yTrue, yPred });
  checkFinite(what, 'yTrue', yTrue);
  checkFinite(what, 'yPred', yPred);
  return n;
}

/** Mean absolute error; NaN when there are no samples. */
export function meanAbsoluteError(yTrue: NumArray, yPred: NumArray): number {
  const n = validate('meanAbsoluteError', yTrue, yPred);
  if (n === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(yTrue[i]! - yPred[i]!);
  return s / n;
}

/** Root mean squared error; NaN when there are no samples. */
export function rootMeanSquaredError(yTrue: NumArray, yPred: NumArray): number {
  const n = validate('rootMeanSquaredError', yTrue, yPred);
  if (n === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = yTrue[i]! - yPred[i]!;
    s += d * d;
  }
  return Math.sqrt(s / n);
}

export interface RegressionGroupMetrics {
  readonly group: number;
  readonly n: number;
  readonly mae: number;
  readonly rmse: number;
}

export interface RegressionMetrics {
  readonly mae: number;
  readonly rmse: number;
  /** Fairness gap: max − min of the per-group MAEs (|MAE_a − MAE_b| for two groups). */
  readonly maeGap: number;
  readonly worstGroupMae: number;
  readonly groups: readonly RegressionGroupMetrics[];
}

/** Overall and per-group regression metrics; `groups` holds one id per sample (−1 = unknown). */
export function regressionMetrics(yTrue: NumArray, yPred: NumArray, groups: NumArray): RegressionMetrics {
  // Validate the full arrays first, so errors name the caller's indices and no per-group value
  // is computed from non-finite input.
  validate('regressionMetrics', yTrue, yPred);
  checkSameLength('regressionMetrics', { yTrue, yPred, groups });
  const perGroup: RegressionGroupMetrics[] = [];
  for (const [g, idx] of groupIndices(groups)) {
    let abs = 0;
    let sq = 0;
    for (const i of idx) {
      const d = yTrue[i]! - yPred[i]!;
      abs += Math.abs(d);
      sq += d * d;
    }
    perGroup.push({ group: g, n: idx.length, mae: abs / idx.length, rmse: Math.sqrt(sq / idx.length) });
  }
  const maes = perGroup.map((p) => p.mae);
  return {
    mae: meanAbsoluteError(yTrue, yPred),
    rmse: rootMeanSquaredError(yTrue, yPred),
    maeGap: spread(maes),
    worstGroupMae: finiteMax(maes),
    groups: perGroup,
  };
}
