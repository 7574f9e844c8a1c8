import { Rng } from '@fairtune/core';
import { mae, rocAuc } from './metrics.js';

/** P(score_pos > score_neg) + ½·P(tie) over every (positive, negative) pair: the AUC definition. */
function pairwiseAuc(yTrue: number[], score: number[]): number {
  let num = 0;
  let pairs = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] !== 1) continue;
    for (let j = 0; j < yTrue.length; j++) {
      if (yTrue[j] !== 0) continue;
      pairs++;
      num += score[i]! > score[j]! ? 1 : score[i] === score[j] ? 0.5 : 0;
    }
  }
  return num / pairs;
}

describe('validation metrics take (yTrue, prediction) like plugins-fairness', () => {
  it('rocAuc(yTrue, score) counts tied scores as half a concordant pair (mid-ranks)', () => {
    // Pairs (pos, neg): (.4,.1)=1, (.4,.4)=½, (.8,.1)=1, (.8,.4)=1 → 3.5/4.
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8])).toBe(0.875);
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(rocAuc([1, 1, 0], [0.9, 0.2, 0.2])).toBe(0.75);
    expect(rocAuc([0, 0, 1], [0.1, 0.3, 0.2])).toBe(0.5);
    // Scores on a coarse grid (many ties, like saturated sigmoid probabilities): exact against the pairwise definition.
    const rng = new Rng(7);
    const y = Array.from({ length: 60 }, () => (rng.next() < 0.4 ? 1 : 0));
    const s = y.map((t) => Math.round(4 * (0.3 * t + 0.7 * rng.next())) / 4);
    expect(rocAuc(y, s)).toBeCloseTo(pairwiseAuc(y, s), 12);
  });

  it('rocAuc is NaN with one class or a non-finite score; mae(yTrue, pred)', () => {
    expect(rocAuc([1, 1, 1], [0.1, 0.2, 0.3])).toBeNaN();
    expect(rocAuc([0, 1, 1], [0.1, NaN, 0.3])).toBeNaN();
    expect(mae([1, 2, 3], [2, 2, 5])).toBe(1);
  });
});
