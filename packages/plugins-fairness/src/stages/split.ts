/**
 * Row selection by split, shared by `eval.metrics` and `report.compare` so that both stages
 * treat a missing split the same way: evaluating or plotting "the test split" of an artifact
 * that has no such split is an error, never a silent fall-back to all rows (which would label
 * training rows as test results).
 */
import { FairtuneError, type Artifact } from '@fairtune/core/plugin';

/**
 * Row indices (ascending) of `split` in an artifact with `n` rows, whose optional int8 `split`
 * array indexes `splits`; all rows when `split` is null. `what` names the artifact in errors,
 * `port` the input it came through (FT_INPUT_CONTENT errors carry it).
 */
export function selectSplitRows(a: Artifact, splits: readonly string[] | undefined, n: number, split: string | null, what: string = `${a.kind} artifact`, port?: string): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (split === null) return all;
  const about = port === undefined ? {} : { port };
  const splitArr = a.arrays['split'];
  if (!splitArr) {
    throw new FairtuneError('FT_INPUT_CONTENT', `${what} has no "split" array, so split "${split}" cannot be selected; set split: null to use all ${n} rows`, about);
  }
  const code = (splits ?? []).indexOf(split);
  if (code < 0) throw new FairtuneError('FT_INPUT_CONTENT', `${what} has no split "${split}" (splits: ${(splits ?? []).join(', ') || 'none'})`, about);
  const rows = all.filter((i) => splitArr.data[i] === code);
  if (rows.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', `${what} has no rows in split "${split}"`, about);
  return rows;
}
