/**
 * `--search-space` of `fairtune study ask`: Optuna's distribution JSON, read as Optuna 3.1's
 * `optuna ask` reads it (`json_to_distribution(json.dumps(dist))` per name), so a script written
 * for Optuna's CLI passes the same text:
 *
 *     {"x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}},
 *      "n": {"name": "IntDistribution", "attributes": {"low": 1, "high": 9, "step": 2}},
 *      "c": {"name": "CategoricalDistribution", "attributes": {"choices": ["a", "b"]}},
 *      "y": {"type": "float", "low": 1e-5, "high": 1e-3, "log": true}}
 *
 * Every class 3.1's `DISTRIBUTION_CLASSES` holds is accepted, the deprecated ones included
 * (UniformDistribution, LogUniformDistribution, DiscreteUniformDistribution with `q`,
 * IntUniformDistribution, IntLogUniformDistribution), and the abbreviated `{"type": …}` form.
 * Checks are Optuna's constructors' (step with log, low > high, log with low ≤ 0 or an int low < 1,
 * step ≤ 0, a log int with step ≠ 1, no choices), and so is the adjustment of a stepped `high`
 * down to the last point of the grid (Optuna warns and does the same, with decimal arithmetic).
 * Stricter than Python: an attribute the class does not take, a missing one, or a non-integer
 * int bound is an error (Python raises a TypeError for the first two and truncates the third).
 */
import { FairtuneError, type CategoricalChoice, type Distribution } from '@fairtune/core/plugin';
import { pyJsonLoads } from '../storage/python-json.js';

/** A search space in the order its names were given (Optuna suggests, and prints, in that order). */
export interface ParsedSearchSpace {
  readonly names: readonly string[];
  readonly space: Readonly<Record<string, Distribution>>;
  /** Optuna's warnings, e.g. a stepped range whose `high` was moved onto the grid. */
  readonly warnings: readonly string[];
}

/** Attribute names of each class (required ones first), as the Python constructors take them. */
const CLASSES: Readonly<Record<string, { readonly required: readonly string[]; readonly optional: readonly string[] }>> = {
  FloatDistribution: { required: ['low', 'high'], optional: ['log', 'step'] },
  UniformDistribution: { required: ['low', 'high'], optional: [] },
  LogUniformDistribution: { required: ['low', 'high'], optional: [] },
  DiscreteUniformDistribution: { required: ['low', 'high', 'q'], optional: [] },
  IntDistribution: { required: ['low', 'high'], optional: ['log', 'step'] },
  IntUniformDistribution: { required: ['low', 'high'], optional: ['step'] },
  IntLogUniformDistribution: { required: ['low', 'high'], optional: ['step'] },
  CategoricalDistribution: { required: ['choices'], optional: [] },
};

export class SearchSpaceError extends FairtuneError {
  override readonly name = 'SearchSpaceError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_SEARCH_SPACE', message, {}, options);
  }
}

/** Parses `--search-space` text; errors name the param. */
export function parseOptunaSearchSpace(text: string): ParsedSearchSpace {
  let json: unknown;
  try {
    json = pyJsonLoads(text);
  } catch (e) {
    throw new SearchSpaceError(`not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isObject(json)) throw new SearchSpaceError('must be a JSON object of param name → distribution');
  const names = Object.keys(json);
  const space: Record<string, Distribution> = {};
  const warnings: string[] = [];
  for (const name of names) {
    try {
      space[name] = optunaDistribution(json[name], warnings);
    } catch (e) {
      throw new SearchSpaceError(`param "${name}": ${(e as Error).message}`, { cause: e });
    }
  }
  return { names, space, warnings };
}

/** One distribution in Optuna's JSON (`{"name", "attributes"}` or the abbreviated `{"type", …}`), as `json_to_distribution` reads it. */
export function optunaDistribution(json: unknown, warnings: string[] = []): Distribution {
  if (!isObject(json)) throw new Error(`a distribution is a JSON object, got ${JSON.stringify(json)}`);
  if ('name' in json) {
    const name = json['name'];
    const spec = typeof name === 'string' && Object.hasOwn(CLASSES, name) ? CLASSES[name]! : undefined;
    if (!spec) throw new Error(`Unknown distribution class: ${String(name)} (one of ${Object.keys(CLASSES).join(', ')})`);
    const a = json['attributes'];
    if (!isObject(a)) throw new Error(`${String(name)} needs "attributes", an object`);
    for (const k of Object.keys(a)) if (!spec.required.includes(k) && !spec.optional.includes(k)) throw new Error(`${String(name)} takes no attribute "${k}" (it takes ${[...spec.required, ...spec.optional].join(', ')})`);
    for (const k of spec.required) if (!Object.hasOwn(a, k)) throw new Error(`${String(name)} needs attribute "${k}"`);
    return fromClass(name as string, a, warnings);
  }
  const type = json['type'];
  if (type === 'categorical') return categorical(json['choices']);
  if (type === 'float' || type === 'int') {
    for (const k of ['low', 'high']) if (!Object.hasOwn(json, k)) throw new Error(`a "${type}" distribution needs "${k}"`);
    const step = json['step'] ?? null;
    const log = json['log'] ?? false;
    if (type === 'float') return float(json['low'], json['high'], log, step, warnings);
    return int(json['low'], json['high'], log, step === null ? 1 : step, warnings);
  }
  throw new Error(`Unknown distribution type: ${JSON.stringify(type)} (a distribution has "name" and "attributes", or "type": float, int or categorical)`);
}

function fromClass(name: string, a: Record<string, unknown>, warnings: string[]): Distribution {
  switch (name) {
    case 'FloatDistribution':
      return float(a['low'], a['high'], a['log'] ?? false, a['step'] ?? null, warnings);
    case 'UniformDistribution':
      return float(a['low'], a['high'], false, null, warnings);
    case 'LogUniformDistribution':
      return float(a['low'], a['high'], true, null, warnings);
    case 'DiscreteUniformDistribution':
      return float(a['low'], a['high'], false, a['q'], warnings);
    case 'IntDistribution':
      return int(a['low'], a['high'], a['log'] ?? false, a['step'] ?? 1, warnings);
    case 'IntUniformDistribution':
      return int(a['low'], a['high'], false, a['step'] ?? 1, warnings);
    case 'IntLogUniformDistribution':
      return int(a['low'], a['high'], true, a['step'] ?? 1, warnings);
    default:
      return categorical(a['choices']);
  }
}

function number(v: unknown, what: string): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`"${what}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`"${what}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** FloatDistribution's constructor: the same checks and messages, and `high` moved down onto the step grid. */
function float(lowIn: unknown, highIn: unknown, logIn: unknown, stepIn: unknown, warnings: string[]): Distribution {
  const low = number(lowIn, 'low');
  let high = number(highIn, 'high');
  const log = bool(logIn, 'log');
  const step = stepIn === null ? null : number(stepIn, 'step');
  if (log && step !== null) throw new Error('The parameter `step` is not supported when `log` is true.');
  if (low > high) throw new Error(`The \`low\` value must be smaller than or equal to the \`high\` value (low=${low}, high=${high}).`);
  if (log && low <= 0) throw new Error(`The \`low\` value must be larger than 0 for a log distribution (low=${low}, high=${high}).`);
  if (step !== null && step <= 0) throw new Error(`The \`step\` value must be non-zero positive value, but step=${step}.`);
  if (!Number.isFinite(low) || !Number.isFinite(high)) throw new Error(`low and high must be finite (low=${low}, high=${high})`);
  if (step !== null) {
    const adjusted = adjustDiscreteHigh(low, high, step);
    if (adjusted !== high) warnings.push(`The distribution is specified by [${low}, ${high}] and step=${step}, but the range is not divisible by \`step\`. It will be replaced by [${low}, ${adjusted}].`);
    high = adjusted;
  }
  return { type: 'float', low, high, log, ...(step !== null ? { step } : {}) };
}

/** IntDistribution's constructor (integer bounds required here; Python would truncate them). */
function int(lowIn: unknown, highIn: unknown, logIn: unknown, stepIn: unknown, warnings: string[]): Distribution {
  const low = number(lowIn, 'low');
  const high = number(highIn, 'high');
  const log = bool(logIn, 'log');
  const step = number(stepIn, 'step');
  if (log && step !== 1) throw new Error('Samplers and other components in Optuna only accept step is 1 when `log` argument is True.');
  if (low > high) throw new Error(`The \`low\` value must be smaller than or equal to the \`high\` value (low=${low}, high=${high}).`);
  if (log && low < 1) throw new Error(`The \`low\` value must be equal to or greater than 1 for a log distribution (low=${low}, high=${high}).`);
  if (step <= 0) throw new Error(`The \`step\` value must be non-zero positive value, but step=${step}.`);
  for (const [k, v] of [['low', low], ['high', high], ['step', step]] as const) if (!Number.isSafeInteger(v)) throw new Error(`"${k}" of an int distribution must be an integer, got ${v}`);
  const r = high - low;
  const adjusted = r % step === 0 ? high : Math.floor(r / step) * step + low;
  if (adjusted !== high) warnings.push(`The distribution is specified by [${low}, ${high}] and step=${step}, but the range is not divisible by \`step\`. It will be replaced by [${low}, ${adjusted}].`);
  return { type: 'int', low, high: adjusted, log, step };
}

function categorical(choices: unknown): Distribution {
  if (!Array.isArray(choices)) throw new Error(`"choices" must be a list, got ${JSON.stringify(choices)}`);
  if (choices.length === 0) throw new Error('The `choices` must contain one or more elements.');
  for (const c of choices) if (c !== null && !['string', 'number', 'boolean'].includes(typeof c)) throw new Error(`a choice must be null, a boolean, a number or a string, got ${JSON.stringify(c)}`);
  return { type: 'categorical', choices: choices as CategoricalChoice[] };
}

/**
 * Optuna's `_adjust_discrete_uniform_high`: with Decimals of the numbers' shortest text (as
 * `Decimal(str(x))`), high becomes low + ⌊(high − low)/step⌋·step when the range is not a
 * multiple of the step. Binary floats would say 1 − 0 is not 3·0.3 + 0.1 in the wrong way.
 */
export function adjustDiscreteHigh(low: number, high: number, step: number): number {
  const [l, h, s] = [decimal(low), decimal(high), decimal(step)];
  const e = Math.min(l.e, h.e, s.e);
  const scale = (d: { m: bigint; e: number }) => d.m * 10n ** BigInt(d.e - e);
  const L = scale(l);
  const R = scale(h) - L;
  const S = scale(s);
  if (R % S === 0n) return high;
  return Number(decimalText((R / S) * S + L, e));
}

/** x's shortest round-trip digits as m·10^e. */
function decimal(x: number): { m: bigint; e: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (!m) throw new Error(`not a finite number: ${x}`);
  const frac = m[3] ?? '';
  return { m: BigInt(`${m[1]}${m[2]}${frac}`), e: Number(m[4] ?? 0) - frac.length };
}

function decimalText(m: bigint, e: number): string {
  return `${m}e${e}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
