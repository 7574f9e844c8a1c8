/**
 * Search-space helpers shared by the samplers: Optuna's distribution semantics (`single()`,
 * equality, internal representation of a value) and uniform sampling as Optuna's RandomSampler
 * does it (through `_SearchSpaceTransform`: log space for log params, ±step/2 around an integer
 * or stepped range, then rounding to the step and clipping).
 */
import { FairtuneError, type CategoricalChoice, type Distribution, type FrozenTrial, type ParamValue, type Rng } from '@fairtune/core/plugin';

/** Whether the distribution has one value only (Optuna's `single()`): it is not sampled. */
export function isSingle(d: Distribution): boolean {
  switch (d.type) {
    case 'categorical':
      return d.choices.length === 1;
    case 'int':
      if (d.log) return d.low === d.high;
      return d.low === d.high || d.high - d.low < d.step;
    case 'float':
      if (d.low === d.high) return true;
      return d.step !== undefined && d.step !== null && d.high - d.low < d.step;
  }
}

/** The one value of a single distribution (Optuna's `_get_single_value`). */
export function singleValue(d: Distribution): ParamValue {
  return d.type === 'categorical' ? d.choices[0]! : d.low;
}

export function sameDistribution(a: Distribution, b: Distribution): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'categorical') {
    const c = (b as Extract<Distribution, { type: 'categorical' }>).choices;
    return a.choices.length === c.length && a.choices.every((v, i) => Object.is(v, c[i]) || v === c[i]);
  }
  const n = b as Exclude<Distribution, { type: 'categorical' }>;
  return a.low === n.low && a.high === n.high && a.log === n.log && (a.step ?? null) === (n.step ?? null);
}

/** The float step of a numerical distribution, or undefined when it is continuous. */
export function stepOf(d: Exclude<Distribution, { type: 'categorical' }>): number | undefined {
  return d.type === 'int' ? d.step : d.step ?? undefined;
}

/** Index of a categorical value among the choices (−1 if absent). NaN matches NaN, as in Optuna. */
export function choiceIndex(choices: readonly CategoricalChoice[], value: unknown): number {
  for (let i = 0; i < choices.length; i++) if (Object.is(choices[i], value) || choices[i] === value) return i;
  return -1;
}

/**
 * A trial's value of `name` in the internal representation of `d` (categorical: the choice's
 * index; numerical: the number), or undefined when the trial lacks it or it does not fit `d`.
 */
export function internalValue(trial: FrozenTrial, name: string, d: Distribution): number | undefined {
  if (!Object.hasOwn(trial.params, name)) return undefined;
  const v = trial.params[name];
  if (d.type === 'categorical') {
    const i = choiceIndex(d.choices, v);
    return i < 0 ? undefined : i;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  if (d.log && v <= 0) return undefined;
  return v;
}

/** Round half to even, as numpy's `np.round`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Snaps v onto low + k·step and clips to [low, high] (Optuna's untransform of a stepped param). */
export function alignToStep(v: number, low: number, high: number, step: number): number {
  const k = roundHalfEven((v - low) / step);
  return Math.min(high, Math.max(low, low + k * step));
}

/** A numerical value from a draw in the transformed space (log, ±step/2), mapped back. */
export function untransformNumerical(t: number, d: Exclude<Distribution, { type: 'categorical' }>): number {
  const step = stepOf(d);
  if (d.log) {
    const v = Math.exp(t);
    if (d.type === 'int') return Math.min(d.high, Math.max(d.low, roundHalfEven(v)));
    return Math.min(d.high, Math.max(d.low, v));
  }
  if (step !== undefined) return alignToStep(t, d.low, d.high, step);
  return Math.min(d.high, Math.max(d.low, t));
}

/** Bounds of the transformed space in which a numerical param is sampled uniformly. */
export function transformedBounds(d: Exclude<Distribution, { type: 'categorical' }>): [number, number] {
  const step = stepOf(d);
  if (d.log) {
    if (d.type === 'int') return [Math.log(d.low - 0.5 * d.step), Math.log(d.high + 0.5 * d.step)];
    return [Math.log(d.low), Math.log(d.high)];
  }
  if (step !== undefined) return [d.low - 0.5 * step, d.high + 0.5 * step];
  return [d.low, d.high];
}

/** One uniform draw from `d`, as Optuna's RandomSampler (uniform in the transformed space). */
export function sampleUniform(d: Distribution, rng: Rng): ParamValue {
  if (isSingle(d)) return singleValue(d);
  if (d.type === 'categorical') return d.choices[rng.int(d.choices.length)]!;
  const [lo, hi] = transformedBounds(d);
  const v = untransformNumerical(rng.uniform(lo, hi), d);
  // A continuous float never returns `high` itself (Optuna: min(v, nextafter(high, −∞))).
  if (d.type === 'float' && stepOf(d) === undefined && v >= d.high) return nextDown(d.high);
  return v;
}

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The largest double below x (numpy's nextafter(x, −∞)). */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  f64[0] = x;
  i64[0] = x > 0 ? i64[0]! - 1n : i64[0]! + 1n;
  return f64[0];
}

/** Checks that a distribution is well-formed (a clear error instead of NaN proposals). */
export function checkDistribution(name: string, d: Distribution): void {
  const bad = (why: string): never => {
    throw new FairtuneError('FT_SEARCH_SPACE', `param "${name}": ${why} (${JSON.stringify(d)})`);
  };
  if (d.type === 'categorical') {
    if (!Array.isArray(d.choices) || d.choices.length === 0) bad('a categorical param needs at least one choice');
    return;
  }
  if (!Number.isFinite(d.low) || !Number.isFinite(d.high) || d.low > d.high) bad('low and high must be finite with low ≤ high');
  const step = stepOf(d);
  if (step !== undefined && !(step > 0)) bad('step must be > 0');
  if (d.log && d.low <= 0) bad('a log param needs low > 0');
  if (d.log && d.type === 'float' && step !== undefined) bad('a float param cannot have both log and step');
  if (d.log && d.type === 'int' && d.step !== 1) bad('a log int param needs step 1');
  if (d.type === 'int' && (!Number.isInteger(d.low) || !Number.isInteger(d.high) || !Number.isInteger(d.step))) bad('an int param needs integer low, high and step');
}

/** Param names in sorted (code-point) order: never insertion order. */
export function sortedNames(space: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(space).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
