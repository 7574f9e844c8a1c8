/** Row helpers over a samples artifact's arrays ([N, …] per window, `subject` indexing `meta.subjects`). */
import { FairtuneError, ndarray, type AttributeValue, type NdArray, type SamplesMeta } from '@fairtune/core/plugin';

/** Keeps the samples where `keep[i]`; every array whose first dimension is N is filtered. */
export function filterSamples(arrays: Readonly<Record<string, NdArray>>, keep: ArrayLike<boolean>): Record<string, NdArray> {
  const n = keep.length;
  let count = 0;
  for (let i = 0; i < n; i++) if (keep[i]) count++;
  const out: Record<string, NdArray> = {};
  for (const [name, arr] of Object.entries(arrays)) {
    if (arr.shape[0] !== n) {
      out[name] = arr;
      continue;
    }
    const per = arr.data.length / n;
    const data = new (arr.data.constructor as { new (k: number): typeof arr.data })(count * per);
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      data.set(arr.data.subarray(i * per, (i + 1) * per), o * per);
      o++;
    }
    out[name] = ndarray(data, [count, ...arr.shape.slice(1)]);
  }
  return out;
}

/**
 * Drops subjects left without windows (e.g. after quality filtering) from `subjects` and
 * `subjectAttributes`, renumbering the `subject` array, so subject counts, splits and groups
 * only see subjects that have data.
 */
export function compactSubjects(meta: SamplesMeta, arrays: Readonly<Record<string, NdArray>>): { meta: SamplesMeta; arrays: Record<string, NdArray>; removed: string[] } {
  const subject = arrays['subject'];
  if (!subject) throw new FairtuneError('FT_ARRAY_MISSING', 'samples artifact has no "subject" array');
  const used = new Set<number>(subject.data as Int32Array);
  if (used.size === meta.subjects.length) return { meta, arrays: { ...arrays }, removed: [] };
  const newIndex = new Int32Array(meta.subjects.length).fill(-1);
  const kept: number[] = [];
  meta.subjects.forEach((_, s) => {
    if (used.has(s)) newIndex[s] = kept.push(s) - 1;
  });
  const subjectAttributes: Record<string, AttributeValue[]> = {};
  for (const [k, vals] of Object.entries(meta.subjectAttributes)) subjectAttributes[k] = kept.map((s) => vals[s] ?? null);
  return {
    meta: { ...meta, subjects: kept.map((s) => meta.subjects[s]!), subjectAttributes },
    arrays: { ...arrays, subject: ndarray(Int32Array.from(subject.data, (s) => newIndex[s]!)) },
    removed: meta.subjects.filter((_, s) => !used.has(s)),
  };
}
