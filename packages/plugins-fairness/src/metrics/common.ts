/**
 * Shared helpers of the metric functions. Conventions used by every metric in this folder:
 * - inputs are parallel arrays of equal length (one entry per sample, e.g. per window);
 * - group ids are integers ≥ 0; −1 means "group unknown": such samples count in overall
 *   metrics but in no group;
 * - a metric that is undefined on its input is NaN (never a made-up number); the callers that
 *   serialise to JSON turn NaN into null.
 */

export type NumArray = ArrayLike<number>;

/**
 * A value the metrics cannot take (a non-finite number, a label other than 0/1, a group id that
 * is not an integer): the data's fault, not the caller's code, so a stage can report it as a
 * problem of its input. Other RangeErrors here (arrays of different lengths, bad settings) are bugs.
 */
export class InvalidValueError extends RangeError {
  override readonly name = 'InvalidValueError';
}

/** Throws a RangeError naming `what` unless every array has the same length. */
export function checkSameLength(what: string, arrays: Record<string, NumArray>): number {
  const entries = Object.entries(arrays);
  const n = entries[0]![1].length;
  for (const [name, a] of entries) {
    if (a.length !== n) {
      throw new RangeError(
        `${what}: arrays differ in length (${entries.map(([k, v]) => `${k}=${v.length}`).join(', ')}); mismatch at "${name}"`,
      );
    }
  }
  return n;
}

/** Throws unless every value is finite, naming the array and the first bad index. */
export function checkFinite(what: string, name: string, a: NumArray): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new InvalidValueError(`${what}: ${name}[${i}] is ${a[i]}, expected a finite number`);
  }
}

/** Throws unless every value is exactly 0 or 1 (binary labels / hard predictions). */
export function checkBinary(what: string, name: string, a: NumArray): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v !== 0 && v !== 1) throw new InvalidValueError(`${what}: ${name}[${i}] is ${v}, expected 0 or 1`);
  }
}

/**
 * Sample indices of each group present in `groups` (ids ≥ 0), in ascending group id order.
 * Groups that do not occur are absent: like fairlearn, only observed groups take part.
 */
export function groupIndices(groups: NumArray): Map<number, number[]> {
  const byGroup = new Map<number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (!Number.isInteger(g) || g < -1) throw new InvalidValueError(`groups[${i}] is ${g}, expected an integer id ≥ 0 or −1 (unknown)`);
    if (g === -1) continue;
    let list = byGroup.get(g);
    if (!list) byGroup.set(g, (list = []));
    list.push(i);
  }
  return new Map([...byGroup.entries()].sort((a, b) => a[0] - b[0]));
}

/** Copies the entries of `a` at `idx`. */
export function take(a: NumArray, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length);
  for (let k = 0; k < idx.length; k++) out[k] = a[idx[k]!]!;
  return out;
}

/**
 * max − min over the finite values; NaN values (undefined group metrics) are skipped, as
 * pandas' max()/min() skip them in fairlearn's `difference()`. One finite value gives 0
 * (fairlearn: a single group has no disparity); none gives NaN.
 */
export function spread(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return Number.NaN;
  return Math.max(...finite) - Math.min(...finite);
}

/**
 * Gap (max − min) over the groups allowed to take part. `values[k]` belongs to group `ids[k]`.
 * Without `eligible` every group takes part (`spread`: one group gives 0). When `eligible`
 * leaves a group out (e.g. one with fewer subjects than `eval.metrics`' `minSubjects`), the gap
 * needs two eligible finite values and is NaN otherwise: a "gap" over the one group left would
 * read as "no disparity".
 */
export function eligibleSpread(values: readonly number[], ids: readonly number[], eligible?: ReadonlySet<number>): number {
  if (!eligible || ids.every((g) => eligible.has(g))) return spread(values);
  const kept = values.filter((v, k) => eligible.has(ids[k]!) && Number.isFinite(v));
  return kept.length >= 2 ? spread(kept) : Number.NaN;
}

/** Largest finite value, NaN if none. */
export function finiteMax(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length ? Math.max(...finite) : Number.NaN;
}

/** Smallest finite value, NaN if none. */
export function finiteMin(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length ? Math.min(...finite) : Number.NaN;
}

/**
 * Quantile with linear interpolation between order statistics (numpy's default `linear`
 * method): position q·(n−1) in the sorted values.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

/** Median (mean of the two middle values for an even count), NaN when empty. */
export function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  return quantileSorted(sorted, 0.5);
}
