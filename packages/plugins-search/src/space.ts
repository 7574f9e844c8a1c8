/**
 * The search space of a search stage: trial bindings (the names its trial group binds, e.g. `lr`
 * and `mask`) with their distributions. A `mask` entry is FairTune's PEFT mask, one bit per block
 * component (3 a block: norm, attention, MLP, the seed code's `auto_peft1` layout), kept in the
 * study as int params `mask_00` … `mask_NN` (0/1, zero-padded names, so the order never depends on
 * insertion, algorithms.md §7.3) and bound as the bit string `train.finetune`'s `mask` takes.
 */
import { FairtuneError, type Distribution, type JsonSchema, type ParamValue, type SearchSpace } from '@fairtune/core/plugin';

export type SpaceEntry =
  | { readonly type: 'float'; readonly low: number; readonly high: number; readonly log?: boolean; readonly step?: number }
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly log?: boolean; readonly step?: number }
  | { readonly type: 'categorical'; readonly choices: readonly (string | number | boolean | null)[] }
  /**
   * `perBlock`: bits a block — 3 (FairTune's layout: norm, attention, MLP; the default) or 1 (the
   * one-bit-a-block spaces of the paper's Table 2, e.g. bound into `attention:%{mask}`). Only the
   * report and the baseline masks read it; the sampled bits are the same.
   */
  | { readonly type: 'mask'; readonly bits?: number; readonly perBlock?: 1 | 3 };

const num = { type: 'number' };
export const spaceSchema: JsonSchema = {
  type: 'object',
  minProperties: 1,
  description:
    'Trial binding → distribution: {"type":"float"|"int","low","high","log"?,"step"?}, {"type":"categorical","choices":[…]}, or {"type":"mask","bits"?} (FairTune\'s PEFT mask, 3 bits a block; bits default to 3 × the backbone input\'s layers).',
  additionalProperties: {
    type: 'object',
    required: ['type'],
    additionalProperties: false,
    properties: { type: { enum: ['float', 'int', 'categorical', 'mask'] }, low: num, high: num, log: { type: 'boolean' }, step: { type: 'number', exclusiveMinimum: 0 }, choices: { type: 'array', minItems: 1 }, bits: { type: 'integer', minimum: 1, maximum: 999 }, perBlock: { enum: [1, 3], description: 'Bits a block: 3 (norm, attention, MLP; default) or 1 (one bit a block, e.g. bound into "attention:%{mask}").' } },
    allOf: [
      { if: { properties: { type: { enum: ['float', 'int'] } } }, then: { required: ['low', 'high'] } },
      { if: { properties: { type: { const: 'categorical' } } }, then: { required: ['choices'] } },
    ],
  },
};

/** Mask bit names: `mask_00` … with as many digits as the largest index needs (at least 2). */
export function maskBitNames(binding: string, bits: number): string[] {
  const width = Math.max(2, String(bits - 1).length);
  return Array.from({ length: bits }, (_, i) => `${binding}_${String(i).padStart(width, '0')}`);
}

export interface ResolvedSpace {
  /** The study's params and their distributions (mask bits expanded). */
  readonly study: SearchSpace;
  /** Study params → trial bindings (mask bits joined into a bit string). */
  toBindings(params: Readonly<Record<string, ParamValue>>): Record<string, ParamValue>;
  /** A binding's value (a mask as a bit string or a named layout) → study params, for enqueued trials. */
  fromBinding(binding: string, value: ParamValue): Record<string, ParamValue>;
  readonly masks: ReadonlyMap<string, number>;
}

export function resolveSpace(space: Readonly<Record<string, SpaceEntry>>, layers: number | undefined): ResolvedSpace {
  const study: Record<string, Distribution> = {};
  const masks = new Map<string, number>();
  for (const [name, e] of Object.entries(space).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (e.type === 'mask') {
      const bits = e.bits ?? (layers !== undefined ? 3 * layers : undefined);
      if (bits === undefined) throw new FairtuneError('FT_SEARCH_SPACE', `space.${name}: a mask needs "bits", or a backbone input to count its layers (3 bits a block)`, { param: `space.${name}` });
      masks.set(name, bits);
      for (const bit of maskBitNames(name, bits)) study[bit] = { type: 'int', low: 0, high: 1, log: false, step: 1 };
    } else if (e.type === 'categorical') study[name] = { type: 'categorical', choices: e.choices };
    else {
      if (!(e.low <= e.high)) throw new FairtuneError('FT_SEARCH_SPACE', `space.${name}: low ${e.low} is above high ${e.high}`, { param: `space.${name}` });
      if (e.log && e.low <= 0) throw new FairtuneError('FT_SEARCH_SPACE', `space.${name}: a log-scale range needs low > 0 (got ${e.low})`, { param: `space.${name}` });
      if (e.log && e.step !== undefined) throw new FairtuneError('FT_SEARCH_SPACE', `space.${name}: "step" and "log" cannot be combined (as in Optuna)`, { param: `space.${name}` });
      study[name] = e.type === 'int' ? { type: 'int', low: e.low, high: e.high, log: !!e.log, step: e.step ?? 1 } : { type: 'float', low: e.low, high: e.high, log: !!e.log, ...(e.step !== undefined ? { step: e.step } : {}) };
    }
  }
  return {
    study,
    masks,
    toBindings(params) {
      const out: Record<string, ParamValue> = {};
      for (const name of Object.keys(space)) {
        const bits = masks.get(name);
        out[name] = bits !== undefined ? maskBitNames(name, bits).map((b) => String(params[b] ?? 0)).join('') : params[name]!;
      }
      return out;
    },
    fromBinding(binding, value) {
      const bits = masks.get(binding);
      if (bits === undefined) return { [binding]: value };
      const pattern = typeof value === 'string' ? namedMask(value, bits) : undefined;
      if (!pattern) throw new FairtuneError('FT_PARAM_INVALID', `a mask value is a bit string of ${bits} bits or one of full, linear-readout, attention, layernorm, mlp (got ${JSON.stringify(value)})`, { param: 'enqueue' });
      return Object.fromEntries(maskBitNames(binding, bits).map((b, i) => [b, Number(pattern[i])]));
    },
  };
}

/** Baseline layouts as bit strings (bit i → block ⌊i/3⌋, component i mod 3 = norm, attention, MLP). */
export function namedMask(value: string, bits: number): string | undefined {
  if (/^[01]+$/.test(value)) return value.length === bits ? value : undefined;
  const component = { full: -1, 'linear-readout': -2, layernorm: 0, attention: 1, mlp: 2 }[value];
  if (component === undefined) return undefined;
  return Array.from({ length: bits }, (_, i) => (component === -1 ? '1' : component === -2 ? '0' : i % 3 === component ? '1' : '0')).join('');
}
