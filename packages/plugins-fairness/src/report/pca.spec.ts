import { matrixFromRows } from '../metrics/representation.js';
import { pca } from './pca.js';

describe('pca', () => {
  it('finds the principal axes and variances of a hand-made cloud', () => {
    // points on the diagonal (variance along (1,1)/√2) plus a small orthogonal spread
    const rows = [[-2, -2], [-1, -1], [0, 0], [1, 1], [2, 2], [0.1, -0.1], [-0.1, 0.1]];
    const r = pca(matrixFromRows(rows), 2, { seed: 1 });
    const s = Math.SQRT1_2;
    expect(r.components[0]).toBeCloseTo(s, 8);
    expect(r.components[1]).toBeCloseTo(s, 8);
    // first axis: projections ±2√2, ±√2, 0, 0, 0 → Σ = 2·8 + 2·2 = 20, /(n − 1 = 6)
    expect(r.explainedVariance[0]).toBeCloseTo(20 / 6, 8);
    // second axis: projections ±0.1√2 → Σ = 0.04, /6
    expect(r.explainedVariance[1]).toBeCloseTo(0.04 / 6, 8);
    expect(Math.abs(r.components[2]! * s + r.components[3]! * s)).toBeLessThan(1e-8); // orthogonal
    expect(r.totalVariance).toBeCloseTo((20 + 0.04) / 6, 10);
    expect(r.scores[0]).toBeCloseTo(-2 * Math.SQRT2, 8);
  });
  it('rejects fewer than two points', () => {
    expect(() => pca(matrixFromRows([[1, 2]]))).toThrow(/at least 2 points/);
  });
  it('handles very wide embeddings (no argument spreading over D values)', () => {
    // D = 300 000 would overflow the stack of Math.hypot(...v); two points → one direction.
    const d = 300_000;
    const data = new Float64Array(2 * d);
    for (let j = 0; j < d; j++) data[d + j] = j % 2 ? 1 : -1;
    const r = pca({ data, rows: 2, dim: d }, 1, { seed: 1, iterations: 5 });
    // the two points are ±½·x apart from their mean, ‖x‖² = D: variance = 2·(D/4)/(n − 1)
    expect(r.explainedVariance[0]).toBeCloseTo(d / 2, 6);
    expect(r.totalVariance).toBeCloseTo(d / 2, 6);
  });
});
