/**
 * Seeded random numbers for every random choice in the framework (splits, sampling,
 * initialisation, synthetic cohorts). Built on pure-rand's xoroshiro128+; the same seed gives
 * the same sequence on every platform.
 */
import { xoroshiro128plus, unsafeUniformIntDistribution, type RandomGenerator } from 'pure-rand';
import { createHash } from 'node:crypto';

export class Rng {
  readonly #gen: RandomGenerator;
  #spareNormal: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    // pure-rand's xoroshiro128+(seed) returns −1−seed as its first draw; fill the whole
    // 128-bit state from SHA-256 of the seed instead, so nearby seeds give unrelated streams.
    const digest = createHash('sha256').update(`fairtune-rng:${seed | 0}`).digest();
    this.#gen = xoroshiro128plus.fromState([digest.readInt32LE(0), digest.readInt32LE(4), digest.readInt32LE(8), digest.readInt32LE(12)]);
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.#gen.unsafeNext() >>> 5; // 27 bits
    const lo = this.#gen.unsafeNext() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform float in [min, max). */
  uniform(min = 0, max = 1): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return unsafeUniformIntDistribution(0, n - 1, this.#gen);
  }

  /** Standard normal (Box–Muller, polar form). */
  normal(mean = 0, std = 1): number {
    if (this.#spareNormal !== undefined) {
      const s = this.#spareNormal;
      this.#spareNormal = undefined;
      return mean + std * s;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.#spareNormal = v * m;
    return mean + std * u * m;
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** Draws `count` indices in [0, weights.length) with replacement, proportionally to `weights`. */
  weightedIndices(weights: ArrayLike<number>, count: number): Int32Array {
    const cdf = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} is ${w}; weights must be finite and >= 0`);
      total += w;
      cdf[i] = total;
    }
    if (total <= 0) throw new RangeError('weights sum to zero');
    const out = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const r = this.next() * total;
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid]! > r) hi = mid;
        else lo = mid + 1;
      }
      out[k] = lo;
    }
    return out;
  }

  /** A child generator whose stream depends on this seed and `label` only (not on draws so far). */
  static derive(seed: number, label: string): Rng {
    return new Rng(deriveSeed(seed, label));
  }
}

/** Mixes a seed with a label into a new 32-bit seed (SHA-256 based, stable across versions). */
export function deriveSeed(seed: number, label: string): number {
  const digest = createHash('sha256').update(`${seed}\u0000${label}`).digest();
  return digest.readInt32LE(0);
}
