/** Validation metrics used for checkpoint selection. */

/** Mean absolute error. */
export function mae(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += Math.abs(pred[i]! - target[i]!);
  return s / pred.length;
}

/** ROC AUC via the Mann–Whitney statistic with average ranks for ties; NaN when one class is absent. */
export function rocAuc(score: ArrayLike<number>, label: ArrayLike<number>): number {
  const n = score.length;
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
    if (label[i] === 1) {
      pos++;
      sumPos += rank[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (sumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}
