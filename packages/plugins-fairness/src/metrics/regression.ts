/**
 * Regression metrics (PPG heart-rate task). Definitions (docs/fairness.md §Metrics):
 * - MAE = mean_i |y_i − ŷ_i|,  RMSE = sqrt(mean_i (y_i − ŷ_i)²); NaN on an empty input.
 * - per-group MAE_g over the samples of each observed group (group −1 = unknown is skipped);
 * - fairness gap FG = |MAE_a − MAE_b| for two groups, max_g MAE_g − min_g MAE_g for more
 *   (the same formula), 0 for a single group, NaN for none;
 * - worst-group MAE = max_g MAE_g;
 * - bias (mean of ŷ − y) and Bland–Altman SD and 95 % limits of agreement, overall and per group
 *   (agreement.ts);
 * - with subject ids: subject-weighted MAE (mean over subjects of each subject's MAE) overall and
 *   per group, its gap, and the number of subjects per group.
 */
import { agreementOf, subjectMaeOf } from './agreement.js';
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
  /** Mean of ŷ − y (Bland–Altman mean difference). */
  readonly bias: number;
  /** Bland–Altman SD of ŷ − y (ddof = 1) and limits bias ± 1.96·SD. */
  readonly sd: number;
  readonly loaLower: number;
  readonly loaUpper: number;
  /** With subject ids: distinct subjects with samples in the group, and their subject-weighted MAE. */
  readonly subjects?: number;
  readonly subjectMae?: number;
}

export interface RegressionMetrics {
  readonly mae: number;
  readonly rmse: number;
  /** Fairness gap: max − min of the per-group MAEs (|MAE_a − MAE_b| for two groups). */
  readonly maeGap: number;
  readonly worstGroupMae: number;
  readonly bias: number;
  readonly sd: number;
  readonly loaLower: number;
  readonly loaUpper: number;
  /** With subject ids: subject-weighted MAE and its gap (max − min over groups). */
  readonly subjectMae?: number;
  readonly subjectMaeGap?: number;
  readonly groups: readonly RegressionGroupMetrics[];
}

export interface RegressionOptions {
  /** Subject id per sample: adds subject-weighted MAE (a bootstrap passes one id per subject draw). */
  readonly subject?: NumArray;
}

/** Overall and per-group regression metrics; `groups` holds one id per sample (−1 = unknown). */
export function regressionMetrics(yTrue: NumArray, yPred: NumArray, groups: NumArray, options: RegressionOptions = {}): RegressionMetrics {
  // Validate the full arrays first, so errors name the caller's indices and no per-group value
  // is computed from non-finite input.
  validate('regressionMetrics', yTrue, yPred);
  checkSameLength('regressionMetrics', { yTrue, yPred, groups });
  const subject = options.subject;
  if (subject) checkSameLength('regressionMetrics', { yTrue, subject });
  const perGroup: RegressionGroupMetrics[] = [];
  for (const [g, idx] of groupIndices(groups)) {
    let abs = 0;
    let sq = 0;
    for (const i of idx) {
      const d = yTrue[i]! - yPred[i]!;
      abs += Math.abs(d);
      sq += d * d;
    }
    const { n: _n, ...agreement } = agreementOf(yTrue, yPred, idx);
    const bySubject = subject ? subjectMaeOf(yTrue, yPred, subject, idx) : undefined;
    perGroup.push({
      group: g,
      n: idx.length,
      mae: abs / idx.length,
      rmse: Math.sqrt(sq / idx.length),
      ...agreement,
      ...(bySubject ? { subjects: bySubject.subjects, subjectMae: bySubject.mae } : {}),
    });
  }
  const maes = perGroup.map((p) => p.mae);
  const { n: _n, ...agreement } = agreementOf(yTrue, yPred);
  return {
    mae: meanAbsoluteError(yTrue, yPred),
    rmse: rootMeanSquaredError(yTrue, yPred),
    maeGap: spread(maes),
    worstGroupMae: finiteMax(maes),
    ...agreement,
    ...(subject ? { subjectMae: subjectMaeOf(yTrue, yPred, subject).mae, subjectMaeGap: spread(perGroup.map((p) => p.subjectMae!)) } : {}),
    groups: perGroup,
  };
}
