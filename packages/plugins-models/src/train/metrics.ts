/** Validation metrics used for checkpoint selection. */

/** Mean absolute error; (yTrue, prediction) order, as in plugins-fairness. */
export function mae(yTrue: ArrayLike<number>, pred: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(pred[i]! - yTrue[i]!);
  return s / yTrue.length;
}

/**
 * ROC AUC via the Mann–Whitney statistic, (yTrue, score) order as in plugins-fairness. Tied
 * scores get their mid-rank, so a tied (positive, negative) pair counts ½ exactly (ranks are
 * integers or halves, exact in float64). NaN when one class is absent or a score is not finite
 * (NaN would break the sort); the trainer then selects checkpoints by validation loss.
 */
export function rocAuc(yTrue: ArrayLike<number>, score: ArrayLike<number>): number {
  const n = score.length;
  for (let i = 0; i < n; i++) if (!Number.isFinite(score[i]!)) return NaN;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a]! - score[b]!);
  const rank = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]!] === score[order[i]!]) j++;
    for (let k = i; k <= j; k++) rank[order[k]!] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let pos = 0;
  let sumPos = 0;
  for (let i = 0; i < n; i++) {
    if (yTrue[i] === 1) {
      pos++;
      sumPos += rank[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (sumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}
