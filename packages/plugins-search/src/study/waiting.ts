/**
 * Trials enqueued with Optuna's `study.enqueue_trial(params)`: a WAITING trial whose system attr
 * `fixed_params` holds the values (external representation, by param name). Whoever asks next
 * claims it (StudyStore.claimWaiting), takes those values for the params it defines, and samples
 * the rest, as Optuna's `Trial._suggest` does.
 */
import { FairtuneError, type Distribution, type FrozenTrial, type ParamValue } from '@fairtune/core/plugin';

/** Optuna's system attr holding an enqueued trial's values. */
export const FIXED_PARAMS_ATTR = 'fixed_params';

/** Whether trial `t` was created by `enqueue_trial` (it keeps `fixed_params` after it is claimed). */
export function wasEnqueued(t: FrozenTrial): boolean {
  const fixed = t.systemAttrs[FIXED_PARAMS_ATTR];
  return fixed !== null && typeof fixed === 'object' && !Array.isArray(fixed);
}

/**
 * The values `enqueue_trial` fixed for trial `t`, for the params of `space` only (Optuna ignores
 * the others too). A value outside its distribution is an error naming the trial and param: Optuna
 * warns and records it anyway, which a TPE history then cannot place.
 */
export function fixedParamsOf(t: FrozenTrial, space: Readonly<Record<string, Distribution>>): Record<string, ParamValue> {
  if (!wasEnqueued(t)) return {};
  const fixed = t.systemAttrs[FIXED_PARAMS_ATTR] as Record<string, unknown>;
  const out: Record<string, ParamValue> = {};
  for (const [name, d] of Object.entries(space)) {
    if (!Object.hasOwn(fixed, name)) continue;
    const v = fixed[name];
    if (!inDistribution(d, v)) {
      throw new FairtuneError('FT_SEARCH_SPACE', `trial ${t.number} was enqueued with ${name} = ${JSON.stringify(v)}, which is not in its distribution ${describeDistribution(d)}`, { param: name });
    }
    out[name] = v as ParamValue;
  }
  return out;
}

/** Whether `v` is a value of distribution `d` (a choice; a number in range, on the step). */
export function inDistribution(d: Distribution, v: unknown): boolean {
  if (d.type === 'categorical') return d.choices.some((c) => c === v);
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  if (v < d.low || v > d.high) return false;
  if (d.type === 'int') return Number.isInteger(v) && (v - d.low) % (d.step ?? 1) === 0;
  return d.step === undefined || Math.abs(Math.round((v - d.low) / d.step) * d.step - (v - d.low)) < 1e-8 * Math.max(1, Math.abs(d.step));
}

/** `float [0, 1] log`, `int [1, 9] step 2`, `categorical ["a","b"]`. */
export function describeDistribution(d: Distribution): string {
  return d.type === 'categorical' ? `categorical ${JSON.stringify(d.choices)}` : `${d.type} [${d.low}, ${d.high}]${d.log ? ' log' : ''}${d.step !== undefined ? ` step ${d.step}` : ''}`;
}
