/**
 * Binary classification metrics on the full split (never batch-averaged). `yTrue` holds 0/1
 * labels, `score` the probability (or any score) of the positive class. Hard predictions at a
 * threshold t are ŷ = [score ≥ t] (the same operating-point convention as sklearn's roc_curve).
 *
 * Definitions and edge cases (docs/fairness.md):
 * - AUC: Mann–Whitney U with mid-ranks for tied scores, AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋),
 *   identical to sklearn's roc_auc_score (trapezoidal ROC, ties as diagonal segments).
 *   Undefined (NaN) when only one class is present — sklearn raises there, FairTune stores NaN.
 * - per-group AUC: NaN groups are excluded from min (worst-group AUC) and from the gap
 *   (max − min), and reported in `warnings`.
 * - TPR = TP/(TP+FN), FPR = FP/(FP+TN), selection rate = mean ŷ; a 0/0 rate is 0, as in
 *   fairlearn (sklearn confusion_matrix(normalize='true') + nan_to_num).
 * - demographic-parity difference = max_g SR_g − min_g SR_g; equalized-odds difference =
 *   max(max_g TPR_g − min_g TPR_g, max_g FPR_g − min_g FPR_g) (fairlearn's defaults
 *   method='between_groups', agg='worst_case'); 0 with a single observed group; NaN with none.
 * - ECE: top-label (Guo et al. 2017, FairTune's ECELoss): confidence c_i = max(p_i, 1 − p_i),
 *   predicted class [p_i ≥ 0.5]; `bins` equal-width bins (lo, hi] over [0, 1] (default 15);
 *   ECE = Σ_b (n_b/n)·|acc_b − conf_b|; NaN on an empty input.
 */
import {
  checkBinary,
  checkFinite,
  checkSameLength,
  finiteMin,
  groupIndices,
  InvalidValueError,
  spread,
  type NumArray,
} from './common.js';

/** Exact, tie-aware ROC AUC; NaN when one class is absent. */
export function rocAuc(yTrue: NumArray, score: NumArray): number {
  const n = checkSameLength('rocAuc', { yTrue, score });
  checkBinary('rocAuc', 'yTrue', yTrue);
  checkFinite('rocAuc', 'score', score);
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += yTrue[i]!;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a]! - score[b]!);
  // Sum of the (1-based) mid-ranks of the positives; a run of equal scores shares the mean rank.
  let rankSumPos = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && score[order[end]!]! === score[order[start]!]!) end++;
    const midRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (yTrue[order[k]!] === 1) rankSumPos += midRank;
    start = end;
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Hard predictions ŷ_i = [score_i ≥ threshold]. */
export function binarize(score: NumArray, threshold: number): Uint8Array {
  if (!Number.isFinite(threshold)) throw new RangeError(`threshold must be finite, got ${threshold}`);
  const out = new Uint8Array(score.length);
  for (let i = 0; i < score.length; i++) out[i] = score[i]! >= threshold ? 1 : 0;
  return out;
}

/** Fraction of correct hard predictions; NaN when empty. */
export function accuracy(yTrue: NumArray, yHat: NumArray): number {
  const n = checkSameLength('accuracy', { yTrue, yHat });
  if (n === 0) return Number.NaN;
  let ok = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === yHat[i]) ok++;
  return ok / n;
}

export interface Rates {
  readonly n: number;
  readonly tpr: number;
  readonly fpr: number;
  readonly selectionRate: number;
}

/** TPR, FPR and selection rate with fairlearn's 0/0 → 0 convention for TPR/FPR. */
export function rates(yTrue: NumArray, yHat: NumArray): Rates {
  const n = checkSameLength('rates', { yTrue, yHat });
  checkBinary('rates', 'yTrue', yTrue);
  checkBinary('rates', 'yHat', yHat);
  let tp = 0, fn = 0, fp = 0, tn = 0;
  for (let i = 0; i < n; i++) {
    if (yTrue[i] === 1) {
      if (yHat[i] === 1) tp++;
      else fn++;
    } else if (yHat[i] === 1) fp++;
    else tn++;
  }
  return {
    n,
    tpr: tp + fn === 0 ? 0 : tp / (tp + fn),
    fpr: fp + tn === 0 ? 0 : fp / (fp + tn),
    // fairlearn raises on an empty y_pred; NaN keeps this function total.
    selectionRate: n === 0 ? Number.NaN : (tp + fp) / n,
  };
}

function groupRates(yTrue: NumArray, yHat: NumArray, groups: NumArray): Rates[] {
  checkSameLength('groupRates', { yTrue, yHat, groups });
  const out: Rates[] = [];
  for (const idx of groupIndices(groups).values()) {
    out.push(rates(idx.map((i) => yTrue[i]!), idx.map((i) => yHat[i]!)));
  }
  return out;
}

/** fairlearn demographic_parity_difference (between_groups): max_g SR_g − min_g SR_g. */
export function demographicParityDifference(yTrue: NumArray, yHat: NumArray, groups: NumArray): number {
  return spread(groupRates(yTrue, yHat, groups).map((r) => r.selectionRate));
}

/** fairlearn equalized_odds_difference (between_groups, worst_case): max(ΔTPR, ΔFPR). */
export function equalizedOddsDifference(yTrue: NumArray, yHat: NumArray, groups: NumArray): number {
  const r = groupRates(yTrue, yHat, groups);
  if (r.length === 0) return Number.NaN;
  return Math.max(spread(r.map((x) => x.tpr)), spread(r.map((x) => x.fpr)));
}

/** Top-label expected calibration error with `bins` equal-width bins (lo, hi]. */
export function expectedCalibrationError(yTrue: NumArray, prob: NumArray, bins = 15): number {
  const n = checkSameLength('expectedCalibrationError', { yTrue, prob });
  checkBinary('expectedCalibrationError', 'yTrue', yTrue);
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  for (let i = 0; i < n; i++) {
    const p = prob[i]!;
    if (!(p >= 0 && p <= 1)) throw new InvalidValueError(`expectedCalibrationError: prob[${i}] is ${p}, expected a probability in [0, 1]`);
  }
  if (n === 0) return Number.NaN;
  const count = new Float64Array(bins);
  const confSum = new Float64Array(bins);
  const correct = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = prob[i]!;
    const pred = p >= 0.5 ? 1 : 0;
    const conf = Math.max(p, 1 - p);
    // Bin b covers (b/B, (b+1)/B], edges computed as b/B (compared, not derived from conf·B,
    // so boundary values land in the same bin as in the NumPy reference); conf ≥ 0.5 > 0.
    let b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    while (b > 0 && conf <= b / bins) b--;
    while (b < bins - 1 && conf > (b + 1) / bins) b++;
    count[b]! += 1;
    confSum[b]! += conf;
    if (pred === yTrue[i]) correct[b]! += 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    ece += (count[b]! / n) * Math.abs(correct[b]! / count[b]! - confSum[b]! / count[b]!);
  }
  return ece;
}

export interface ClassificationGroupMetrics extends Rates {
  readonly group: number;
  readonly auc: number;
  readonly accuracy: number;
}

export interface ClassificationMetrics {
  readonly auc: number;
  /** Worst-group AUC over groups whose AUC is defined. */
  readonly minAuc: number;
  /** max − min of the defined per-group AUCs. */
  readonly aucGap: number;
  readonly accuracy: number;
  readonly equalizedOddsDifference: number;
  readonly demographicParityDifference: number;
  readonly ece: number;
  readonly groups: readonly ClassificationGroupMetrics[];
  /** Human-readable notes, e.g. groups whose AUC is undefined. */
  readonly warnings: readonly string[];
}

export interface ClassificationOptions {
  readonly threshold?: number;
  readonly eceBins?: number;
  /** Names for warnings; index = group id. */
  readonly groupNames?: readonly string[];
}

function isProbability(a: NumArray): boolean {
  for (let i = 0; i < a.length; i++) if (!(a[i]! >= 0 && a[i]! <= 1)) return false;
  return true;
}

export function classificationMetrics(
  yTrue: NumArray,
  score: NumArray,
  groups: NumArray,
  options: ClassificationOptions = {},
): ClassificationMetrics {
  checkSameLength('classificationMetrics', { yTrue, score, groups });
  // Validate the full arrays before splitting by group: the per-group calls below would report
  // positions within a group's subset, not the caller's indices.
  checkBinary('classificationMetrics', 'yTrue', yTrue);
  checkFinite('classificationMetrics', 'score', score);
  const threshold = options.threshold ?? 0.5;
  const yHat = binarize(score, threshold);
  const warnings: string[] = [];
  const perGroup: ClassificationGroupMetrics[] = [];
  for (const [g, idx] of groupIndices(groups)) {
    const yt = idx.map((i) => yTrue[i]!);
    const s = idx.map((i) => score[i]!);
    const yh = idx.map((i) => yHat[i]!);
    const auc = rocAuc(yt, s);
    if (Number.isNaN(auc)) {
      const name = options.groupNames?.[g] ?? String(g);
      warnings.push(`group "${name}" has only one class (${yt[0] === 1 ? 'positive' : 'negative'}) among ${idx.length} samples: its AUC is undefined (NaN) and excluded from minAuc and aucGap`);
    }
    perGroup.push({ group: g, ...rates(yt, yh), auc, accuracy: accuracy(yt, yh) });
  }
  const overallAuc = rocAuc(yTrue, score);
  if (Number.isNaN(overallAuc) && yTrue.length > 0) warnings.push('only one class present overall: AUC is undefined (NaN)');
  const aucs = perGroup.map((p) => p.auc);
  let ece = Number.NaN;
  if (isProbability(score)) ece = expectedCalibrationError(yTrue, score, options.eceBins ?? 15);
  else warnings.push('predictions are not probabilities in [0, 1]: ECE is undefined (NaN)');
  return {
    auc: overallAuc,
    minAuc: finiteMin(aucs),
    aucGap: spread(aucs),
    accuracy: accuracy(yTrue, yHat),
    equalizedOddsDifference: equalizedOddsDifference(yTrue, yHat, groups),
    demographicParityDifference: demographicParityDifference(yTrue, yHat, groups),
    ece,
    groups: perGroup,
    warnings,
  };
}
