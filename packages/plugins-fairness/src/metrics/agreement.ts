/**
 * Agreement between a regression model and its reference, and subject weighting
 * (docs/fairness.md, "Regression: bias, agreement, strata, subject weighting"):
 * - signed error d_i = ŷ_i − y_i (prediction minus reference: positive = the model over-estimates);
 * - bias = mean_i d_i, the Bland–Altman mean difference;
 * - Bland–Altman SD = the sample standard deviation of d (ddof = 1, as Bland & Altman 1986);
 *   95 % limits of agreement bias ± 1.96·SD;
 * - subject-weighted MAE = mean over subjects of each subject's own MAE, so that a subject with
 *   many windows counts once (the window-weighted MAE counts each window once).
 * Every function returns NaN where the value is undefined (no samples; SD with one sample).
 */
import { checkFinite, checkSameLength, type NumArray } from './common.js';

/** z of the 95 % limits of agreement (Bland & Altman: mean ± 1.96 SD). */
export const LOA_Z = 1.96;

export interface Agreement {
  readonly n: number;
  /** Mean of ŷ − y. */
  readonly bias: number;
  /** Sample SD (ddof = 1) of ŷ − y; NaN for n < 2. */
  readonly sd: number;
  /** bias − z·SD. */
  readonly loaLower: number;
  /** bias + z·SD. */
  readonly loaUpper: number;
}

function validate(what: string, yTrue: NumArray, yPred: NumArray): number {
  const n = checkSameLength(what, { yTrue, yPred });
  checkFinite(what, 'yTrue', yTrue);
  checkFinite(what, 'yPred', yPred);
  return n;
}

/** Bland–Altman agreement of the rows `idx` (all rows when absent); no validation. */
export function agreementOf(yTrue: NumArray, yPred: NumArray, idx?: ArrayLike<number>, z = LOA_Z): Agreement {
  const n = idx ? idx.length : yTrue.length;
  const at = (k: number) => (idx ? idx[k]! : k);
  let s = 0;
  for (let k = 0; k < n; k++) s += yPred[at(k)]! - yTrue[at(k)]!;
  const bias = n > 0 ? s / n : Number.NaN;
  let ss = 0;
  for (let k = 0; k < n; k++) {
    const e = yPred[at(k)]! - yTrue[at(k)]! - bias;
    ss += e * e;
  }
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : Number.NaN;
  return { n, bias, sd, loaLower: bias - z * sd, loaUpper: bias + z * sd };
}

/** Mean signed error mean_i (ŷ_i − y_i); NaN without samples. */
export function meanSignedError(yTrue: NumArray, yPred: NumArray): number {
  validate('meanSignedError', yTrue, yPred);
  return agreementOf(yTrue, yPred).bias;
}

/** Bland–Altman mean difference, SD (ddof = 1) and limits of agreement bias ± z·SD (z = 1.96). */
export function blandAltman(yTrue: NumArray, yPred: NumArray, z = LOA_Z): Agreement {
  validate('blandAltman', yTrue, yPred);
  return agreementOf(yTrue, yPred, undefined, z);
}

/**
 * Subject-weighted MAE of the rows `idx` (all rows when absent): the mean over the subjects
 * present of mean_{i of s} |y_i − ŷ_i|. `subject` holds one id per row; no validation.
 */
export function subjectMaeOf(yTrue: NumArray, yPred: NumArray, subject: NumArray, idx?: ArrayLike<number>): { subjects: number; mae: number } {
  const n = idx ? idx.length : yTrue.length;
  const sum = new Map<number, number>();
  const count = new Map<number, number>();
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k]! : k;
    const s = subject[i]!;
    sum.set(s, (sum.get(s) ?? 0) + Math.abs(yTrue[i]! - yPred[i]!));
    count.set(s, (count.get(s) ?? 0) + 1);
  }
  if (sum.size === 0) return { subjects: 0, mae: Number.NaN };
  let total = 0;
  for (const [s, v] of sum) total += v / count.get(s)!;
  return { subjects: sum.size, mae: total / sum.size };
}

/** Subject-weighted MAE: mean over subjects of each subject's MAE; NaN without samples. */
export function subjectWeightedMae(yTrue: NumArray, yPred: NumArray, subject: NumArray): number {
  validate('subjectWeightedMae', yTrue, yPred);
  checkSameLength('subjectWeightedMae', { yTrue, subject });
  return subjectMaeOf(yTrue, yPred, subject).mae;
}
