import { comparePaired, holmAdjust, midRanks, minAttainablePairedP, pairedBootstrapMeanCI, paretoFront, signFlipTest, wilcoxonSignedRank } from './paired.js';

describe('signFlipTest', () => {
  it('is two-sided: five positive differences give 2/32, not the one-sided 1/32', () => {
    const r = signFlipTest([1, 2, 3, 4, 5]);
    expect(r.p).toBe(2 / 32);
    expect(r.exact).toBe(true);
    expect(r.patterns).toBe(32);
    expect(r.minAttainableP).toBe(0.0625);
    // a sign change of the data does not change a two-sided p
    expect(signFlipTest([-1, -2, -3, -4, -5]).p).toBe(2 / 32);
  });

  it('gives exactly 1 when the differences cancel (doubling a one-sided p would exceed 1)', () => {
    expect(signFlipTest([1, -1, 2, -2]).p).toBe(1);
  });

  it('counts patterns as extreme as the data on both sides (hand enumeration)', () => {
    // d = (1, 1, −1, 1), Σ = 2. A flipped subset with signed sum F gives 2 − 2F; |2 − 2F| < 2 only
    // for F = 1: 3 subsets (one +1) and 3 subsets (two +1 and the −1) → p = (16 − 6)/16.
    expect(signFlipTest([1, 1, -1, 1]).p).toBe(10 / 16);
    // ±1 ±2 ±3 ±3 against |Σ| = 3: 12 of 16 patterns
    expect(signFlipTest([1, 2, -3, 3]).p).toBe(12 / 16);
  });

  it('keeps ties that rounding would break (0.1-scaled data give the same p as integers)', () => {
    expect(signFlipTest([0.1, 0.2, -0.3, 0.3]).p).toBe(12 / 16);
    expect(signFlipTest([0.1, 0.2, 0.3, -0.6, 0.7]).p).toBe(signFlipTest([1, 2, 3, -6, 7]).p);
  });

  it('handles zeros: they double every pattern but cannot lower the smallest p', () => {
    const r = signFlipTest([0, 1, 2, 3, 4, 5]);
    expect(r.p).toBe(2 / 32);
    expect(r.nonzero).toBe(5);
    expect(r.minAttainableP).toBe(2 / 32);
    expect(signFlipTest([0, 0, 0]).p).toBe(1);
    expect(Number.isNaN(signFlipTest([]).p)).toBe(true);
  });

  it('six seeds all in one direction reach 2/64 < 0.05; five cannot', () => {
    expect(signFlipTest([0.3, 0.1, 0.2, 0.5, 0.4, 0.6]).p).toBeCloseTo(2 / 64, 15);
    expect(minAttainablePairedP(5)).toBe(0.0625);
    expect(minAttainablePairedP(6)).toBe(0.03125);
    expect(minAttainablePairedP(10)).toBe(2 / 1024);
    expect(minAttainablePairedP(0)).toBe(1);
  });

  it('above exactMax it samples patterns (seeded) and agrees with the exact p', () => {
    const d = [0.8, -0.3, 1.2, 0.5, -0.1, 0.9, 0.4, 0.7, -0.6, 1.1, 0.2, 0.35];
    const exact = signFlipTest(d);
    const mc = signFlipTest(d, { exactMax: 8, resamples: 20000, seed: 3 });
    expect(mc.exact).toBe(false);
    expect(Math.abs(mc.p - exact.p)).toBeLessThan(0.01);
    expect(signFlipTest(d, { exactMax: 8, resamples: 20000, seed: 3 }).p).toBe(mc.p);
  });
});

describe('wilcoxonSignedRank', () => {
  it('matches the exact table: n = 5, all positive → p = 2/32; one small negative → 2·3/32', () => {
    const a = wilcoxonSignedRank([1, 2, 3, 4, 5]);
    expect(a.statistic).toBe(0);
    expect(a.p).toBe(0.0625);
    // W+ = 13, W− = 2; P(W+ ≥ 13) = 3/32 ({1..5}, {2,3,4,5}, {1,3,4,5})
    const b = wilcoxonSignedRank([1, -2, 3, 4, 5]);
    expect(b.wPlus).toBe(13);
    expect(b.statistic).toBe(2);
    expect(b.p).toBeCloseTo(6 / 32, 15);
  });

  it("drops zeros (zero_method 'wilcox') and uses mid-ranks for ties", () => {
    // zeros dropped → (1, −1, 2, 2, 3); ranks 1.5, 1.5, 3.5, 3.5, 5; W+ = 13.5 of 15, μ = 7.5.
    // Null: W+ ≤ 1.5 or ≥ 13.5 → 3 + 3 of 32 sign patterns.
    const r = wilcoxonSignedRank([0, 1, -1, 2, 2, 3]);
    expect(r.nonzero).toBe(5);
    expect(r.ties).toBe(true);
    expect(r.wPlus).toBe(13.5);
    expect(r.statistic).toBe(1.5);
    expect(r.p).toBeCloseTo(6 / 32, 15);
    expect(Number.isNaN(wilcoxonSignedRank([0, 0]).p)).toBe(true);
  });

  it('gives p = 1 at the centre of the distribution', () => {
    expect(wilcoxonSignedRank([1, -2, -3, 4]).p).toBe(1); // W+ = 5 = μ
  });

  it('mid-ranks as scipy.stats.rankdata', () => {
    expect(midRanks([3, 1, 3, 2, 3])).toEqual([4, 1, 4, 2, 4]);
  });
});

describe('holmAdjust', () => {
  it('steps down with the running maximum (monotone) and caps at 1', () => {
    // sorted 0.01, 0.03, 0.04 → 3·0.01, 2·0.03, max(0.06, 1·0.04)
    const adj = holmAdjust([0.01, 0.04, 0.03]);
    expect(adj[0]).toBeCloseTo(0.03, 15);
    expect(adj[1]).toBeCloseTo(0.06, 15);
    expect(adj[2]).toBeCloseTo(0.06, 15);
    expect(holmAdjust([0.6, 0.7])).toEqual([1, 1]);
  });
  it('leaves NaN out of the family', () => {
    const adj = holmAdjust([0.02, Number.NaN, 0.5]);
    expect(adj[0]).toBeCloseTo(0.04, 15);
    expect(Number.isNaN(adj[1]!)).toBe(true);
    expect(adj[2]).toBe(0.5);
  });
});

describe('pairedBootstrapMeanCI', () => {
  it('resamples pairs: a constant difference has a zero-width interval whatever the spread of each arm', () => {
    const y = [10, 50, 90, 130, 170];
    const x = y.map((v) => v + 2);
    const ci = pairedBootstrapMeanCI(x, y, { seed: 1, replicates: 2000 });
    expect(ci.lo).toBeCloseTo(2, 10);
    expect(ci.hi).toBeCloseTo(2, 10);
  });

  it('has the percentiles of the exact bootstrap distribution for two pairs', () => {
    // d = (0, 4): replicate means 0, 2, 4 with probability 1/4, 1/2, 1/4
    const ci = pairedBootstrapMeanCI([0, 4], [0, 0], { seed: 5, replicates: 4000 });
    expect(ci.lo).toBe(0);
    expect(ci.hi).toBe(4);
    expect(ci.level).toBe(0.95);
  });

  it('is deterministic in its seed and equals the percentiles of the replicates it reports', () => {
    const x = [3.1, 2.7, 3.6, 2.9, 3.3, 3.0];
    const y = [3.4, 3.0, 3.5, 3.3, 3.6, 3.1];
    const means: number[] = [];
    const a = pairedBootstrapMeanCI(x, y, { seed: 9, replicates: 999, alpha: 0.1, onReplicate: (idx) => means.push(Array.from(idx).reduce((s, i) => s + x[i]! - y[i]!, 0) / idx.length) });
    expect(pairedBootstrapMeanCI(x, y, { seed: 9, replicates: 999, alpha: 0.1 })).toEqual(a);
    means.sort((p, q) => p - q);
    // numpy linear: position q·(B − 1) = 0.05·998 = 49.9
    expect(a.lo).toBeCloseTo(means[49]! + 0.9 * (means[50]! - means[49]!), 12);
    expect(a.hi).toBeCloseTo(means[948]! + 0.1 * (means[949]! - means[948]!), 12);
    expect(Number.isNaN(pairedBootstrapMeanCI([1], [0], { seed: 1 }).lo)).toBe(true);
  });
});

describe('comparePaired', () => {
  it('gives the mean difference, d_z, relative change and counts, dropping undefined pairs', () => {
    const c = comparePaired([2, 4, 6, Number.NaN], [1, 2, 3, 4], { seed: 1, replicates: 500 });
    // d = 1, 2, 3: mean 2, sd 1
    expect(c.n).toBe(3);
    expect(c.mean).toBe(2);
    expect(c.std).toBe(1);
    expect(c.dz).toBe(2);
    expect(c.baselineMean).toBe(2);
    expect(c.relativePercent).toBe(100);
    expect([c.lower, c.higher]).toEqual([0, 3]);
    expect(c.signFlip.p).toBe(0.25);
    expect(c.wilcoxon.p).toBe(0.25);
    expect(c.ci.lo).toBeGreaterThanOrEqual(1);
    expect(c.ci.hi).toBeLessThanOrEqual(3);
  });
  it('leaves d_z undefined when every difference is equal', () => {
    expect(Number.isNaN(comparePaired([2, 3], [1, 2], { seed: 1, replicates: 100 }).dz)).toBe(true);
  });
});

describe('paretoFront', () => {
  it('keeps the non-dominated points (lower-left), sorted by x', () => {
    const pts = [
      { x: 3, y: 1 },
      { x: 1, y: 5 },
      { x: 2, y: 3 },
      { x: 3, y: 4 }, // dominated by (2, 3)
      { x: 2, y: 3 }, // equal to a front point: neither dominates
      { x: 1, y: 6 }, // dominated by (1, 5) with an equal x
      { x: Number.NaN, y: 0 },
    ];
    expect(paretoFront(pts)).toEqual([1, 2, 4, 0]);
  });
});
