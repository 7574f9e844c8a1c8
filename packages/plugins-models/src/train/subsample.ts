/**
 * FairTune's search fine-tunes each trial on a subsample of the training set (10 % in the ICLR
 * paper) that keeps the groups' proportions. Subsampling is by subject, so no subject is split
 * between kept and dropped rows, and stratified by group: from each group's training subjects
 * round(fraction × n) are kept (at least one), drawn with a seeded generator. The same seed and
 * fraction keep the same subjects, so every trial of a search sees one subsample.
 */
import { Rng, type StageEmitter } from '@fairtune/core/plugin';

export interface Subsample {
  /** The kept rows, in their original order. */
  readonly rows: Int32Array;
  /** Kept and total training subjects, per group name (`unknown` for group −1) and overall. */
  readonly subjects: { readonly kept: number; readonly of: number };
  readonly byGroup: Readonly<Record<string, { readonly kept: number; readonly of: number }>>;
}

/**
 * Rows of `rows` whose subject is among the kept subjects. A subject's group is its first row's
 * (groups come from subject attributes, so a subject has one); subjects of unknown group (−1)
 * form a stratum of their own.
 */
export function subsampleBySubject(rows: Int32Array, subject: Int32Array, group: Int32Array | undefined, groupNames: readonly string[], fraction: number, seed: number): Subsample {
  const strata = new Map<number, number[]>();
  const seen = new Set<number>();
  for (const r of rows) {
    const s = subject[r]!;
    if (seen.has(s)) continue;
    seen.add(s);
    const g = group ? group[r]! : -1;
    let list = strata.get(g);
    if (!list) strata.set(g, (list = []));
    list.push(s);
  }
  const kept = new Set<number>();
  const byGroup: Record<string, { kept: number; of: number }> = {};
  // Strata in group order and subjects sorted, so the draw depends only on the data and the seed.
  for (const g of [...strata.keys()].sort((a, b) => a - b)) {
    const subjects = strata.get(g)!.sort((a, b) => a - b);
    const rng = Rng.derive(seed, `train-subsample:${g}`);
    // Partial Fisher–Yates: the first k of a seeded shuffle.
    const k = Math.max(1, Math.round(fraction * subjects.length));
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(subjects.length - i);
      [subjects[i], subjects[j]] = [subjects[j]!, subjects[i]!];
      kept.add(subjects[i]!);
    }
    byGroup[g < 0 ? 'unknown' : (groupNames[g] ?? String(g))] = { kept: k, of: subjects.length };
  }
  return { rows: rows.filter((r) => kept.has(subject[r]!)), subjects: { kept: kept.size, of: seen.size }, byGroup };
}

/** The training rows: the whole training split, or FairTune's group-stratified subsample of its subjects (`trainFraction`). */
export function trainRows(split: Int32Array, data: { subject: Int32Array; group: Int32Array | undefined }, groupNames: readonly string[], fraction: number | undefined, seed: number, emit: Pick<StageEmitter, 'log' | 'metric'>): Int32Array {
  if (fraction === undefined || fraction >= 1) return split;
  const s = subsampleBySubject(split, data.subject, data.group, groupNames, fraction, seed);
  const groups = Object.entries(s.byGroup).map(([g, c]) => `${g} ${c.kept}/${c.of}`).join(', ');
  emit.log('info', `trainFraction ${fraction}: training on ${s.subjects.kept} of ${s.subjects.of} training subjects (${groups}), ${s.rows.length} of ${split.length} rows`);
  emit.metric('train_subjects', s.subjects.kept);
  return s.rows;
}
