/**
 * Strategy params arrive as a JSON object from the pipeline (the trainer may or may not have
 * applied the schema defaults), so every strategy re-reads them here with defaults and
 * errors that name the strategy and the param.
 */
import type { JsonObject, JsonValue } from '@fairtune/core';

export class StrategyParams {
  constructor(
    readonly strategy: string,
    readonly params: JsonObject,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(params)) {
      if (!allowed.includes(key)) {
        throw new Error(`strategy ${strategy}: unknown param "${key}" (allowed: ${allowed.join(', ') || 'none'})`);
      }
    }
  }

  number(name: string, fallback: number, check: { min?: number; exclusiveMin?: number; max?: number } = {}): number {
    const v: JsonValue | undefined = this.params[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`strategy ${this.strategy}: param "${name}" must be a number, got ${JSON.stringify(v)}`);
    if (check.min !== undefined && v < check.min) throw new Error(`strategy ${this.strategy}: param "${name}" must be ≥ ${check.min}, got ${v}`);
    if (check.exclusiveMin !== undefined && v <= check.exclusiveMin) throw new Error(`strategy ${this.strategy}: param "${name}" must be > ${check.exclusiveMin}, got ${v}`);
    if (check.max !== undefined && v > check.max) throw new Error(`strategy ${this.strategy}: param "${name}" must be ≤ ${check.max}, got ${v}`);
    return v;
  }

  integer(name: string, fallback: number, min: number): number {
    const v = this.number(name, fallback, { min });
    if (!Number.isInteger(v)) throw new Error(`strategy ${this.strategy}: param "${name}" must be an integer, got ${v}`);
    return v;
  }

  choice<T extends string>(name: string, options: readonly T[], fallback: T): T {
    const v = this.params[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
      throw new Error(`strategy ${this.strategy}: param "${name}" must be one of ${options.map((o) => `"${o}"`).join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }

  /** A number, or one non-negative number per group. */
  perGroup(name: string, groups: number, fallback: number): Float64Array {
    const v = this.params[name];
    if (v === undefined || v === null) return new Float64Array(groups).fill(fallback);
    if (typeof v === 'number') return new Float64Array(groups).fill(this.number(name, fallback, { min: 0 }));
    if (Array.isArray(v) && v.length === groups && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
      return Float64Array.from(v as number[]);
    }
    throw new Error(`strategy ${this.strategy}: param "${name}" must be a number ≥ 0 or an array of ${groups} such numbers (one per group), got ${JSON.stringify(v)}`);
  }
}

/** Training-set size of each group id in [0, G); samples with group −1 are not counted. */
export function groupCounts(groups: Int32Array, G: number): Float64Array {
  const counts = new Float64Array(G);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (g >= G) throw new RangeError(`training sample ${i} has group id ${g} but there are only ${G} group names`);
    if (g >= 0) counts[g]! += 1;
  }
  return counts;
}
