import { Rng, deriveSeed } from './rng.js';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(1)));
    const b = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(1)));
    const c = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(2)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const x of a) expect(x >= 0 && x < 1).toBe(true);
  });

  it('mixes small seeds: first draws of seeds 0..99 look uniform', () => {
    const firsts = Array.from({ length: 100 }, (_, s) => new Rng(s).next());
    const mean = firsts.reduce((x, y) => x + y, 0) / firsts.length;
    expect(mean).toBeGreaterThan(0.35);
    expect(mean).toBeLessThan(0.65);
    expect(Math.max(...firsts)).toBeLessThan(0.9999);
  });

  it('draws normals with the right moments and integers in range', () => {
    const r = new Rng(3);
    let s = 0;
    let ss = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = r.normal(2, 3);
      s += x;
      ss += x * x;
    }
    const mean = s / n;
    expect(mean).toBeCloseTo(2, 1);
    expect(Math.sqrt(ss / n - mean * mean)).toBeCloseTo(3, 1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[r.int(3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(900);
  });

  it('draws weighted indices proportionally and rejects bad weights', () => {
    const r = new Rng(4);
    const idx = r.weightedIndices([1, 0, 3], 4000);
    const counts = [0, 0, 0];
    for (const i of idx) counts[i]!++;
    expect(counts[1]).toBe(0);
    expect(counts[2]! / counts[0]!).toBeGreaterThan(2.6);
    expect(counts[2]! / counts[0]!).toBeLessThan(3.4);
    expect(() => r.weightedIndices([0, 0], 1)).toThrow('weights sum to zero');
    expect(() => r.weightedIndices([1, -1], 1)).toThrow('weight 1 is -1');
  });

  it('derives stable child seeds', () => {
    expect(deriveSeed(1, 'init')).toBe(deriveSeed(1, 'init'));
    expect(deriveSeed(1, 'init')).not.toBe(deriveSeed(1, 'dropout'));
    const shuffled = new Rng(9).shuffle([1, 2, 3, 4, 5, 6]);
    expect([...shuffled].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Rng(9).shuffle([1, 2, 3, 4, 5, 6])).toEqual(shuffled);
  });
});
