/** Windowing, label alignment, normalisation and quality checks (pure functions). */

export type Normalisation = 'none' | 'minmax' | 'zscore';

/** Start indices of windows of `length` samples every `shift` samples that fit in `n`. */
export function windowStarts(n: number, length: number, shift: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + length <= n; s += shift) out.push(s);
  return out;
}

/** Normalises one window in place; a constant window becomes zeros (no division by zero). */
export function normaliseWindow(x: Float32Array | Float64Array, mode: Normalisation): void {
  if (mode === 'none' || x.length === 0) return;
  if (mode === 'minmax') {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of x) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const r = hi - lo;
    for (let i = 0; i < x.length; i++) x[i] = r > 0 ? (x[i]! - lo) / r : 0;
    return;
  }
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let varSum = 0;
  for (const v of x) varSum += (v - mean) ** 2;
  const sd = Math.sqrt(varSum / x.length);
  for (let i = 0; i < x.length; i++) x[i] = sd > 0 ? (x[i]! - mean) / sd : 0;
}

export interface LabelTiming {
  readonly windowSeconds: number;
  readonly shiftSeconds: number;
  readonly offsetSeconds: number;
}

export interface AlignLabelOptions {
  /**
   * The label values are codes (e.g. DaLiA activity ids, BUT-PPG quality flags), not
   * measurements: a window takes the most frequent code instead of the mean (the mean of
   * sitting = 1 and walking = 7 would be 4 = cycling). Set it from `LabelSeries.categorical`.
   */
  readonly categorical?: boolean;
}

/**
 * Label for a signal window [t0, t0 + w) from a series whose k-th value covers
 * [offset + k·shift, … + labelWindow). Label windows at least half as long as w: the value
 * whose centre is nearest the window's centre (exact for matching windowing, e.g. DaLiA
 * 8 s / 2 s, or the one label of a 10-s BUT-PPG record), if that centre lies inside the
 * window. Shorter label windows, over the finite labels lying wholly inside the window: the
 * mean (e.g. 8-s HR labels under a 30-s window), or with `categorical` the mode — on a tie
 * the value that occurs first in time, so the result does not depend on the code numbers
 * (e.g. 0.25-s activity codes under an 8-s window). NaN when nothing qualifies.
 */
export function alignLabel(values: ArrayLike<number>, timing: LabelTiming, t0: number, w: number, options: AlignLabelOptions = {}): number {
  const { windowSeconds: lw, shiftSeconds: ls, offsetSeconds: off } = timing;
  if (values.length === 0) return NaN;
  if (lw >= w / 2) {
    const c = t0 + w / 2;
    const k = Math.round((c - off - lw / 2) / ls);
    const kk = Math.min(values.length - 1, Math.max(0, k));
    const ck = off + kk * ls + lw / 2;
    return ck >= t0 && ck <= t0 + w ? values[kk]! : NaN;
  }
  const kFirst = Math.max(0, Math.ceil((t0 - off) / ls - 1e-9));
  let sum = 0;
  let cnt = 0;
  // Categorical: counts per code; Map iteration follows insertion, i.e. first occurrence.
  const counts = options.categorical ? new Map<number, number>() : undefined;
  for (let k = kFirst; k < values.length; k++) {
    const a = off + k * ls;
    if (a + lw > t0 + w + 1e-9) break;
    const v = values[k]!;
    if (!Number.isFinite(v)) continue;
    if (counts) counts.set(v, (counts.get(v) ?? 0) + 1);
    else {
      sum += v;
      cnt++;
    }
  }
  if (counts) {
    let best = NaN;
    let bestCount = 0;
    // Strictly greater: among equally frequent codes the earliest-occurring one is kept.
    for (const [v, c] of counts) {
      if (c > bestCount) {
        best = v;
        bestCount = c;
      }
    }
    return best;
  }
  return cnt ? sum / cnt : NaN;
}

/** Fraction of samples at the window's min or max (clipping/saturation indicator). */
export function clippingFraction(x: ArrayLike<number>): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    lo = Math.min(lo, x[i]!);
    hi = Math.max(hi, x[i]!);
  }
  if (hi === lo) return 1;
  let c = 0;
  const tol = (hi - lo) * 1e-6;
  for (let i = 0; i < x.length; i++) if (x[i]! <= lo + tol || x[i]! >= hi - tol) c++;
  return c / x.length;
}

/** Longest run of (nearly) unchanged consecutive samples, as a fraction of the window. */
export function flatFraction(x: ArrayLike<number>, tolerance = 1e-9): number {
  let best = 0;
  let run = 0;
  for (let i = 1; i < x.length; i++) {
    if (Math.abs(x[i]! - x[i - 1]!) <= tolerance) run++;
    else run = 0;
    best = Math.max(best, run);
  }
  return x.length > 1 ? (best + 1) / x.length : 1;
}
