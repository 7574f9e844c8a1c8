/**
 * `tpe`: the Tree-structured Parzen Estimator with Optuna's semantics and defaults (TPESampler,
 * 3.x–4.x; algorithms.md §7.1).
 *
 * Per trial: while fewer than `nStartupTrials` trials are COMPLETE or PRUNED, params are drawn
 * at random (the `random` sampler's draws for the same seed). After that the finished trials are
 * split: the γ(n) best go "below" — COMPLETE trials by value, then PRUNED ones by the last step
 * they reached (deeper first) and their value there — and the rest, with RUNNING trials when
 * `constantLiar`, "above". A Parzen estimator l(x) is fitted to the below trials' params and g(x)
 * to the above ones'; `nEiCandidates` candidates are drawn from l and the one with the largest
 * log l(x) − log g(x) is proposed. Univariate by default (each param on its own); `multivariate`
 * models the params that every finished trial has (with the same distribution) jointly, and
 * `group` splits them into groups of params that always occur together.
 */
import { FairtuneError, Rng, type Distribution, type FrozenTrial, type ParamValue, type Sampler, type SamplerPlugin, type SearchSpace, type StudyDirection, type StudyView } from '@fairtune/core/plugin';
import { buildParzenEstimator, defaultGamma, logPdfParzen, sampleParzen, type ParzenEstimator, type ParzenParameters } from './parzen.js';
import { fixedParams, ordered, sampleRandomParams } from './random.js';
import { checkDistribution, internalValue, isSingle, sameDistribution, singleValue, sortedNames } from './space.js';

export interface TpeOptions extends ParzenParameters {
  readonly nStartupTrials: number;
  readonly nEiCandidates: number;
  readonly group: boolean;
  readonly constantLiar: boolean;
}

/** Optuna's TPESampler defaults (3.x–4.x); the kernels' density as Optuna ≥ 3.5 (kernelScaleTerm: true; false for 3.1–3.4's). */
export const TPE_DEFAULTS: TpeOptions = {
  nStartupTrials: 10,
  nEiCandidates: 24,
  priorWeight: 1,
  considerPrior: true,
  considerMagicClip: true,
  considerEndpoints: false,
  kernelScaleTerm: true,
  multivariate: false,
  group: false,
  constantLiar: false,
};

type Score = readonly [number, number];

/**
 * The rank key of a trial (Optuna 3.1's `_get_observation_pairs`; the same order as 4.x's
 * `_split_trials`): COMPLETE (−∞, ±value) before PRUNED (−last step, ±value there; NaN last;
 * (1, 0) without reports) before RUNNING (+∞, +∞). ± makes smaller better for either direction.
 * Undefined for a trial that takes no part (a COMPLETE trial without a value, other states).
 */
export function trialScore(t: FrozenTrial, direction: StudyDirection): Score | undefined {
  const sign = direction === 'maximize' ? -1 : 1;
  switch (t.state) {
    case 'COMPLETE':
      return typeof t.value === 'number' && !Number.isNaN(t.value) ? [-Infinity, sign * t.value] : undefined;
    case 'PRUNED': {
      let step = -Infinity;
      for (const s of t.intermediateValues.keys()) if (s > step) step = s;
      if (step === -Infinity) return [1, 0];
      const v = t.intermediateValues.get(step)!;
      return Number.isNaN(v) ? [-step, Infinity] : [-step, sign * v];
    }
    case 'RUNNING':
      return [Infinity, Infinity];
    default:
      return undefined;
  }
}

function compareScores(a: Score, b: Score): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** The trials TPE learns from, in number order: COMPLETE and PRUNED, and RUNNING with the constant liar; never `current`. */
export function historyTrials(study: StudyView, current: number, constantLiar: boolean): FrozenTrial[] {
  return study.trials
    .filter((t) => t.number !== current && (t.state === 'COMPLETE' || t.state === 'PRUNED' || (constantLiar && t.state === 'RUNNING')) && trialScore(t, study.direction) !== undefined)
    .sort((a, b) => a.number - b.number);
}

export interface Split {
  /** n: the finished (non-RUNNING) trials, γ's argument. */
  readonly n: number;
  readonly nBelow: number;
  /** In number order. */
  readonly below: FrozenTrial[];
  readonly above: FrozenTrial[];
}

/** Splits the history into below (the γ(n) best, by rank key, ties in number order) and above. */
export function splitTrials(trials: readonly FrozenTrial[], direction: StudyDirection, gamma: (n: number) => number = defaultGamma): Split {
  const scored = trials.map((t) => ({ t, s: trialScore(t, direction)! }));
  const n = scored.filter((x) => x.t.state !== 'RUNNING').length;
  const nBelow = Math.max(0, Math.min(gamma(n), n));
  const ranked = [...scored].sort((a, b) => compareScores(a.s, b.s) || a.t.number - b.t.number);
  const belowSet = new Set(ranked.slice(0, nBelow).map((x) => x.t));
  return {
    n,
    nBelow,
    below: trials.filter((t) => belowSet.has(t)),
    above: trials.filter((t) => !belowSet.has(t)),
  };
}

/** The trials' values of `names` (those trials having all of them), in trial order. */
export function observationsOf(trials: readonly FrozenTrial[], names: readonly string[], space: SearchSpace): Record<string, Float64Array> {
  const rows: number[][] = [];
  for (const t of trials) {
    const row: number[] = [];
    for (const name of names) {
      const v = internalValue(t, name, space[name]!);
      if (v === undefined) break;
      row.push(v);
    }
    if (row.length === names.length) rows.push(row);
  }
  const out: Record<string, Float64Array> = {};
  names.forEach((name, i) => (out[name] = Float64Array.from(rows, (r) => r[i]!)));
  return out;
}

export interface TpeFit {
  readonly split: Split;
  readonly below: ParzenEstimator;
  readonly above: ParzenEstimator;
}

/** l(x) and g(x) of `names` (jointly if several) from a split. */
export function fitEstimators(split: Split, names: readonly string[], space: SearchSpace, options: ParzenParameters): TpeFit {
  return {
    split,
    below: buildParzenEstimator(names, space, observationsOf(split.below, names, space), options),
    above: buildParzenEstimator(names, space, observationsOf(split.above, names, space), options),
  };
}

/** Index of the largest log l(x) − log g(x), the first on ties (numpy's argmax); NaN never wins. */
export function bestCandidate(logL: ArrayLike<number>, logG: ArrayLike<number>): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let s = 0; s < logL.length; s++) {
    const score = logL[s]! - logG[s]!;
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

/** Draws candidates from l(x) and returns the one maximising log l(x) − log g(x) (the first on ties). */
export function proposeFromFit(fit: TpeFit, names: readonly string[], space: SearchSpace, nCandidates: number, rng: Rng): Record<string, ParamValue> {
  const candidates = sampleParzen(fit.below, rng, nCandidates);
  const best = bestCandidate(logPdfParzen(fit.below, candidates), logPdfParzen(fit.above, candidates));
  const out: Record<string, ParamValue> = {};
  names.forEach((name, i) => {
    const d = space[name]!;
    const v = candidates[i]![best]!;
    out[name] = d.type === 'categorical' ? d.choices[v]! : v;
  });
  return out;
}

/** A trial's param names with their recorded distributions (undefined where none was recorded). */
function trialDistributions(t: FrozenTrial): Record<string, Distribution | undefined> {
  const out: Record<string, Distribution | undefined> = {};
  for (const name of Object.keys(t.params)) out[name] = t.distributions[name];
  return out;
}

/**
 * The params of `space` modelled jointly (Optuna's relative search space): with `group`, the
 * groups of params that always occur together in the finished trials (`_GroupDecomposedSearchSpace`);
 * otherwise one group, the params every finished trial has with the same distribution
 * (`IntersectionSearchSpace`). Only params whose distribution equals the space's and that are not
 * single-valued; names sorted within a group.
 */
export function relativeGroups(finished: readonly FrozenTrial[], space: SearchSpace, group: boolean): string[][] {
  const fits = (name: string, d: Distribution | undefined): boolean =>
    Object.hasOwn(space, name) && !isSingle(space[name]!) && (d === undefined || sameDistribution(d, space[name]!));
  if (!group) {
    let inter: Map<string, Distribution | undefined> | undefined;
    for (const t of finished) {
      const dists = trialDistributions(t);
      if (!inter) {
        inter = new Map(Object.entries(dists));
        continue;
      }
      for (const [name, d] of [...inter]) {
        if (!Object.hasOwn(dists, name)) inter.delete(name);
        else {
          const other = dists[name];
          if (d !== undefined && other !== undefined && !sameDistribution(d, other)) inter.delete(name);
          else if (d === undefined && other !== undefined) inter.set(name, other);
        }
      }
    }
    const names = sortedNames(Object.fromEntries([...(inter ?? new Map())].filter(([name, d]) => fits(name, d))));
    return names.length ? [names] : [];
  }
  // _SearchSpaceGroup.add_distributions, trial by trial.
  let groups: Map<string, Distribution | undefined>[] = [];
  for (const t of finished) {
    const dists = trialDistributions(t);
    let keys = new Set(Object.keys(dists));
    const next: Map<string, Distribution | undefined>[] = [];
    for (const g of groups) {
      next.push(new Map([...g].filter(([name]) => keys.has(name))));
      next.push(new Map([...g].filter(([name]) => !keys.has(name))));
      keys = new Set([...keys].filter((k) => !g.has(k)));
    }
    next.push(new Map([...keys].map((k) => [k, dists[k]])));
    groups = next.filter((g) => g.size > 0);
  }
  return groups.map((g) => sortedNames(Object.fromEntries([...g].filter(([name, d]) => fits(name, d))))).filter((names) => names.length > 0);
}

export class TpeSampler implements Sampler {
  readonly options: TpeOptions;

  constructor(
    readonly seed: number,
    options: Partial<TpeOptions> = {},
  ) {
    this.options = { ...TPE_DEFAULTS, ...options };
    const o = this.options;
    if (o.group && !o.multivariate) throw new FairtuneError('FT_PARAM_INVALID', 'sampler tpe: "group" can only be used with "multivariate": true (as in Optuna)', { param: 'sampler.params.group' });
    if (!(Number.isInteger(o.nStartupTrials) && o.nStartupTrials >= 0)) throw new FairtuneError('FT_PARAM_INVALID', 'sampler tpe: nStartupTrials must be an integer ≥ 0', { param: 'sampler.params.nStartupTrials' });
    if (!(Number.isInteger(o.nEiCandidates) && o.nEiCandidates >= 1)) throw new FairtuneError('FT_PARAM_INVALID', 'sampler tpe: nEiCandidates must be an integer ≥ 1', { param: 'sampler.params.nEiCandidates' });
    if (!(o.priorWeight > 0 && Number.isFinite(o.priorWeight))) throw new FairtuneError('FT_PARAM_INVALID', 'sampler tpe: priorWeight must be > 0', { param: 'sampler.params.priorWeight' });
  }

  sample(study: StudyView, trial: FrozenTrial, space: SearchSpace): Record<string, ParamValue> {
    const names = sortedNames(space);
    for (const name of names) checkDistribution(name, space[name]!);
    const fixed = fixedParams(trial, space);
    const out: Record<string, ParamValue> = {};
    const free: string[] = [];
    for (const name of names) {
      if (Object.hasOwn(fixed, name)) continue;
      if (isSingle(space[name]!)) out[name] = singleValue(space[name]!);
      else free.push(name);
    }
    if (free.length === 0) return ordered(space, fixed, out);

    const o = this.options;
    const finished = historyTrials(study, trial.number, false);
    if (finished.length < o.nStartupTrials) return ordered(space, fixed, out, sampleRandomParams(this.seed, trial.number, space, free));

    const history = o.constantLiar ? historyTrials(study, trial.number, true) : finished;
    const split = splitTrials(history, study.direction);

    const done = new Set<string>();
    if (o.multivariate) {
      for (const groupNames of relativeGroups(finished, space, o.group)) {
        if (!groupNames.some((n) => free.includes(n))) continue;
        const fit = fitEstimators(split, groupNames, space, o);
        const rng = Rng.derive(this.seed, `tpe/${trial.number}/${groupNames.join('\u0000')}`);
        const proposal = proposeFromFit(fit, groupNames, space, o.nEiCandidates, rng);
        for (const name of groupNames) {
          if (!free.includes(name)) continue; // an enqueued value wins, as in Optuna
          out[name] = proposal[name]!;
          done.add(name);
        }
      }
    }
    for (const name of free) {
      if (done.has(name)) continue;
      const fit = fitEstimators(split, [name], space, o);
      out[name] = proposeFromFit(fit, [name], space, o.nEiCandidates, Rng.derive(this.seed, `tpe/${trial.number}/${name}`))[name]!;
    }
    return ordered(space, fixed, out);
  }
}

const PARAMS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    nStartupTrials: { type: 'integer', minimum: 0, default: 10, description: 'Trials drawn at random before TPE starts (counting COMPLETE and PRUNED trials).' },
    nEiCandidates: { type: 'integer', minimum: 1, default: 24, description: 'Candidates drawn from l(x) per proposal; the best log l(x) − log g(x) wins.' },
    priorWeight: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'Weight of the prior kernel (uniform-ish over the range) in both estimators.' },
    considerPrior: { type: 'boolean', default: true, description: 'Add the prior kernel (Optuna ≤ 4.x `consider_prior`; always on in 5.0).' },
    considerMagicClip: { type: 'boolean', default: true, description: 'Clip kernel widths below at range/min(100, 1 + kernels).' },
    considerEndpoints: { type: 'boolean', default: false, description: 'Let the range ends count as neighbours of the outermost observations when sizing their kernels.' },
    // No default: a default would change the resolved params, and so the cache key, of every existing search.
    kernelScaleTerm: { type: 'boolean', description: "Include −log σ in continuous kernels' log density: true (the default) as Optuna ≥ 3.5, whose kernels are normalised truncated normals; false as Optuna 3.1–3.4, which left it out (optuna/optuna#5109): every kernel then peaks at the same height whatever its width, so the many narrow kernels of the worse trials weigh less and proposals stay nearer the good points (more exploitation). docs/search.md#tpe" },
    multivariate: { type: 'boolean', default: false, description: 'Model the params every finished trial has jointly (product kernels) instead of one by one.' },
    group: { type: 'boolean', default: false, description: 'With multivariate: model jointly each group of params that always occur together (conditional spaces).' },
    constantLiar: { type: 'boolean', default: false, description: 'Count RUNNING trials as "above" so that parallel trials spread out.' },
  },
} as const;

export const tpeSamplerPlugin: SamplerPlugin = {
  name: 'tpe',
  version: '1',
  description: 'Tree-structured Parzen Estimator with Optuna\'s semantics and defaults (10 random start-up trials, 24 candidates, γ(n) = min(⌈0.1n⌉, 25), univariate unless multivariate).',
  paramsSchema: PARAMS_SCHEMA as unknown as SamplerPlugin['paramsSchema'],
  create: (params, seed) => new TpeSampler(seed, params as Partial<TpeOptions>),
};
