/**
 * How a subject's group name is formed from its attributes. It is a contract between plugins:
 * `groups.attributes` names the groups of training samples, and `eval.predict` must name the
 * subjects of another dataset the same way for per-group metrics to line up.
 */
import type { AttributeValue } from './artifact-kinds.js';
import { FairtuneError } from './errors.js';

/** Default age cut: `<=60` / `>60`. */
export const DEFAULT_AGE_THRESHOLD = 60;

/** Group value of one attribute: sex → 'female'/'male'; age → '<=T'/'>T'; others as strings; null when unknown. */
export function groupValue(attribute: string, value: AttributeValue | undefined, ageThreshold = DEFAULT_AGE_THRESHOLD): string | null {
  if (value === null || value === undefined) return null;
  if (attribute === 'age') return typeof value === 'number' ? (value <= ageThreshold ? `<=${ageThreshold}` : `>${ageThreshold}`) : null;
  return String(value);
}

/**
 * Group name of a subject: the values of `attributes` joined with `|` (an intersection, e.g.
 * `female|>60`), or null when any of them is unknown.
 */
export function groupKey(subjectAttributes: Readonly<Record<string, AttributeValue | undefined>>, attributes: readonly string[], ageThreshold = DEFAULT_AGE_THRESHOLD): string | null {
  const parts = attributes.map((a) => groupValue(a, subjectAttributes[a], ageThreshold));
  return parts.some((p) => p === null) ? null : parts.join('|');
}

/**
 * Group of every subject of a samples artifact (`SamplesMeta.subjectAttributes`, one value per
 * subject) and the sorted group names. Throws, naming the attribute, when the samples lack it.
 */
export function subjectGroups(
  subjectAttributes: Readonly<Record<string, readonly AttributeValue[]>>,
  subjectCount: number,
  attributes: readonly string[],
  ageThreshold = DEFAULT_AGE_THRESHOLD,
): { readonly names: string[]; readonly perSubject: (string | null)[] } {
  for (const a of attributes) {
    if (!subjectAttributes[a]) throw new FairtuneError('FT_PARAM_INVALID', `"${a}" is not a subject attribute (have ${Object.keys(subjectAttributes).join(', ') || 'none'})`, { param: 'attributes' });
  }
  const perSubject = Array.from({ length: subjectCount }, (_, s) => groupKey(Object.fromEntries(attributes.map((a) => [a, subjectAttributes[a]![s] ?? null])), attributes, ageThreshold));
  const names = [...new Set(perSubject.filter((g): g is string => g !== null))].sort();
  return { names, perSubject };
}
