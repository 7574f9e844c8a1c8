/**
 * `grid`: every combination of listed values, as Optuna's GridSampler (4.x): the grid is the
 * product of the values per param (names sorted, values in the order given), shuffled once with
 * the seed; each trial takes the first point in that order that no finished or running trial
 * has taken, then (all started) the first not yet finished, and, the grid exhausted, point
 * `number mod size` again (Optuna warns and re-evaluates a random one). A point is recognised by
 * the trial's params rather than a `grid_id` attribute, so enqueued trials on grid points count.
 */
import { FairtuneError, Rng, type CategoricalChoice, type Distribution, type FrozenTrial, type ParamValue, type Sampler, type SamplerPlugin, type SearchSpace, type StudyView } from '@fairtune/core/plugin';
import { fixedParams, ordered } from './random.js';
import { checkDistribution, choiceIndex, sortedNames, stepOf } from './space.js';

export type GridSpace = Readonly<Record<string, readonly CategoricalChoice[]>>;

function valueKey(v: unknown): string {
  return `${typeof v}:${String(v)}`;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || Object.is(a, b);
}

/** Whether a grid value lies in the param's distribution (Optuna's `_contains`). */
export function gridValueFits(v: CategoricalChoice, d: Distribution): boolean {
  if (d.type === 'categorical') return choiceIndex(d.choices, v) >= 0;
  if (typeof v !== 'number' || !(v >= d.low && v <= d.high)) return false;
  const step = stepOf(d);
  if (d.type === 'int') return Number.isInteger(v) && (v - d.low) % d.step === 0;
  if (step === undefined) return true;
  const k = (v - d.low) / step;
  return Math.abs(k - Math.round(k)) < 1e-8;
}

export class GridSampler implements Sampler {
  readonly names: readonly string[];
  /** Points in product order (first name slowest, as itertools.product). */
  readonly points: readonly (readonly CategoricalChoice[])[];
  /** Point indices in the seeded walking order. */
  readonly order: readonly number[];

  constructor(
    readonly grid: GridSpace,
    readonly seed: number,
  ) {
    this.names = sortedNames(grid);
    if (this.names.length === 0) throw new FairtuneError('FT_PARAM_INVALID', 'sampler grid: "searchSpace" lists no params', { param: 'sampler.params.searchSpace' });
    let points: CategoricalChoice[][] = [[]];
    for (const name of this.names) {
      const values = grid[name]!;
      if (!Array.isArray(values) || values.length === 0) throw new FairtuneError('FT_PARAM_INVALID', `sampler grid: param "${name}" lists no values`, { param: `sampler.params.searchSpace.${name}` });
      points = points.flatMap((p) => values.map((v) => [...p, v]));
    }
    this.points = points;
    this.order = Rng.derive(seed, 'grid/order').shuffle(points.map((_, i) => i));
  }

  get size(): number {
    return this.points.length;
  }

  sample(study: StudyView, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    const names = sortedNames(space);
    for (const name of names) {
      checkDistribution(name, space[name]!);
      if (!this.names.includes(name)) throw new FairtuneError('FT_PARAM_INVALID', `sampler grid: param "${name}" is not in the grid's searchSpace (${this.names.join(', ')})`, { param: 'sampler.params.searchSpace' });
    }
    const cols = names.map((n) => this.names.indexOf(n));
    const pointKey = (p: readonly CategoricalChoice[]): string => cols.map((c) => valueKey(p[c])).join('\u0000');

    const started = new Map<string, 'finished' | 'running'>();
    for (const t of study.trials) {
      if (t.number === trial.number || t.state === 'WAITING') continue;
      if (!names.every((n) => Object.hasOwn(t.params, n))) continue;
      const key = names.map((n) => valueKey(t.params[n])).join('\u0000');
      if (t.state === 'RUNNING') {
        if (!started.has(key)) started.set(key, 'running');
      } else started.set(key, 'finished');
    }

    const fixed = fixedParams(trial, space);
    const matching = this.order.filter((i) => names.every((n, j) => !Object.hasOwn(fixed, n) || sameValue(this.points[i]![cols[j]!], fixed[n])));
    const candidates = matching.length ? matching : this.order;
    const chosen =
      candidates.find((i) => !started.has(pointKey(this.points[i]!))) ??
      candidates.find((i) => started.get(pointKey(this.points[i]!)) !== 'finished') ??
      candidates[trial.number % candidates.length]!;

    const point = this.points[chosen]!;
    const out: Record<string, ParamValue> = {};
    names.forEach((name, j) => {
      const v = point[cols[j]!]!;
      if (!Object.hasOwn(fixed, name) && !gridValueFits(v, space[name]!)) {
        throw new FairtuneError('FT_PARAM_INVALID', `sampler grid: value ${JSON.stringify(v)} of param "${name}" is outside its distribution ${JSON.stringify(space[name])}`, { param: `sampler.params.searchSpace.${name}` });
      }
      out[name] = v;
    });
    return ordered(space, out, fixed);
  }
}

export const gridSamplerPlugin: SamplerPlugin = {
  name: 'grid',
  version: '1',
  description: 'Grid search over listed values per param, in a seeded order without repeats while unvisited points remain (Optuna\'s GridSampler).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['searchSpace'],
    properties: {
      searchSpace: {
        type: 'object',
        minProperties: 1,
        additionalProperties: { type: 'array', minItems: 1, items: { type: ['string', 'number', 'boolean', 'null'] } },
        description: 'Param name → the values to try, e.g. { "lr": [1e-4, 3e-4, 1e-3], "optimizer": ["adamw", "sgd"] }.',
      },
    },
  },
  create: (params, seed) => new GridSampler(params['searchSpace'] as GridSpace, seed),
};
