/**
 * `--sampler` and `--sampler-kwargs` of `fairtune study ask`: our sampler names (tpe, random,
 * grid) or Optuna's class names (TPESampler, RandomSampler, GridSampler), and the keyword
 * arguments in Optuna's spelling (`n_startup_trials`) or ours (`nStartupTrials`), mapped onto the
 * sampler plugin's params and checked against its schema. `seed` is the sampler's seed (0 when
 * absent or null: our samplers always take one, where Optuna's default is unseeded).
 */
import { FairtuneError, resolveNestedParams, type JsonObject, type SamplerPlugin } from '@fairtune/core/plugin';
import { samplerPlugins } from '../samplers/index.js';
import { pyJsonLoads } from '../storage/python-json.js';

/** Optuna's class names → ours. */
export const OPTUNA_SAMPLER_NAMES: Readonly<Record<string, string>> = { TPESampler: 'tpe', RandomSampler: 'random', GridSampler: 'grid' };

/** Optuna's keyword → our param; `null`: accepted and without effect here. */
const OPTUNA_KWARGS: Readonly<Record<string, Readonly<Record<string, string | null>>>> = {
  tpe: {
    consider_prior: 'considerPrior',
    prior_weight: 'priorWeight',
    consider_magic_clip: 'considerMagicClip',
    consider_endpoints: 'considerEndpoints',
    n_startup_trials: 'nStartupTrials',
    n_ei_candidates: 'nEiCandidates',
    multivariate: 'multivariate',
    group: 'group',
    constant_liar: 'constantLiar',
    // Only silences a Python warning that this implementation never gives.
    warn_independent_sampling: null,
  },
  random: {},
  grid: { search_space: 'searchSpace' },
};

/** Optuna keywords that take Python objects, which JSON cannot carry. */
const PYTHON_ONLY: Readonly<Record<string, readonly string[]>> = { tpe: ['gamma', 'weights', 'constraints_func'] };

export class SamplerFlagError extends FairtuneError {
  override readonly name = 'SamplerFlagError';
  constructor(
    readonly flag: '--sampler' | '--sampler-kwargs',
    message: string,
    options?: ErrorOptions,
  ) {
    super('FT_USAGE', `${flag}: ${message}`, {}, options);
  }
}

export interface ChosenSampler {
  readonly plugin: SamplerPlugin;
  /** Our params, defaults filled in. */
  readonly params: JsonObject;
  readonly seed: number;
}

/**
 * The sampler `optuna ask --sampler <name> --sampler-kwargs <json>` asks for. Without `--sampler`,
 * TPE with its defaults (Optuna's `load_study` default); `--sampler-kwargs` without `--sampler` is
 * an error, as in Optuna.
 */
export function chooseSampler(name: string | undefined, kwargsText: string | undefined, plugins: readonly SamplerPlugin[] = samplerPlugins): ChosenSampler {
  if (name === undefined && kwargsText !== undefined) throw new SamplerFlagError('--sampler-kwargs', 'is set without --sampler; name the sampler as well, or leave the kwargs out');
  const ours = name === undefined ? 'tpe' : (OPTUNA_SAMPLER_NAMES[name] ?? name);
  const plugin = plugins.find((p) => p.name === ours);
  if (!plugin) {
    const known = [...plugins.map((p) => p.name), ...Object.keys(OPTUNA_SAMPLER_NAMES).filter((k) => plugins.some((p) => p.name === OPTUNA_SAMPLER_NAMES[k]))];
    throw new SamplerFlagError('--sampler', `unknown sampler "${name}" (one of ${known.join(', ')})`);
  }
  let kwargs: unknown = {};
  if (kwargsText !== undefined) {
    try {
      kwargs = pyJsonLoads(kwargsText);
    } catch (e) {
      throw new SamplerFlagError('--sampler-kwargs', `not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (!kwargs || typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new SamplerFlagError('--sampler-kwargs', 'must be a JSON object of keyword → value');
  }
  const { params, seed } = mapKwargs(plugin, kwargs as Record<string, unknown>);
  let resolved: JsonObject;
  try {
    resolved = resolveNestedParams('sampler', plugin, params);
  } catch (e) {
    // One line: the problems after the heading, e.g. "params/nStartupTrials: must be >= 0".
    throw new SamplerFlagError('--sampler-kwargs', (e as Error).message.replace(/:?\n\s*/g, ': '), { cause: e });
  }
  // Build it once now, so a param its constructor refuses (a grid without values) is reported here.
  try {
    plugin.create(resolved, seed);
  } catch (e) {
    throw new SamplerFlagError('--sampler-kwargs', (e as Error).message, { cause: e });
  }
  return { plugin, params: resolved, seed };
}

function mapKwargs(plugin: SamplerPlugin, kwargs: Record<string, unknown>): { params: JsonObject; seed: number } {
  const table = OPTUNA_KWARGS[plugin.name] ?? {};
  const ourNames = Object.keys((plugin.paramsSchema as { properties?: object }).properties ?? {});
  const params: JsonObject = {};
  let seed = 0;
  for (const [key, value] of Object.entries(kwargs)) {
    if (key === 'seed') {
      if (value === null) continue;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new SamplerFlagError('--sampler-kwargs', `"seed" must be an integer ≥ 0 or null, got ${JSON.stringify(value)}`);
      seed = value;
      continue;
    }
    if (PYTHON_ONLY[plugin.name]?.includes(key)) throw new SamplerFlagError('--sampler-kwargs', `"${key}" takes a Python callable in Optuna; it cannot be given as JSON, and ${plugin.name} uses Optuna's default`);
    const mapped = Object.hasOwn(table, key) ? table[key] : ourNames.includes(key) ? key : undefined;
    if (mapped === undefined) {
      const accepted = ['seed', ...Object.keys(table), ...ourNames.filter((n) => !Object.values(table).includes(n))];
      throw new SamplerFlagError('--sampler-kwargs', `unknown keyword "${key}" for sampler ${plugin.name} (accepted: ${accepted.join(', ')})`);
    }
    if (mapped === null) continue;
    if (Object.hasOwn(params, mapped)) throw new SamplerFlagError('--sampler-kwargs', `"${key}" and "${mapped}" name the same param; give one`);
    params[mapped] = value as JsonObject[string];
  }
  return { params, seed };
}
