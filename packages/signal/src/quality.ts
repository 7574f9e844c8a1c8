/** Window quality checks (`QualityChecks`), shared by `preprocess.quality` and `eval.predict`. */
import { FairtuneError, type NdArray, type QualityChecks } from '@fairtune/core/plugin';
import { clippingFraction, flatFraction } from './window.js';

export interface QualityResult {
  readonly keep: boolean[];
  readonly kept: number;
  /** Windows dropped per check (a window counts under the first check it fails). */
  readonly dropped: { readonly flag: number; readonly flat: number; readonly clipping: number; readonly target: number };
}

/** Which windows of a samples artifact's arrays (`x`, `y`, optional `aux/quality`) pass the checks. */
export function qualityMask(arrays: Readonly<Record<string, NdArray>>, checks: QualityChecks): QualityResult {
  const x = arrays['x'];
  const y = arrays['y'];
  if (!x || !y) throw new FairtuneError('FT_ARRAY_MISSING', 'samples artifact needs arrays x and y');
  const n = y.shape[0]!;
  const per = n ? x.data.length / n : 0;
  const q = arrays['aux/quality'];
  const keep = new Array<boolean>(n);
  const dropped = { flag: 0, flat: 0, clipping: 0, target: 0 };
  const [lo, hi] = checks.targetRange;
  for (let i = 0; i < n; i++) {
    const w = x.data.subarray(i * per, (i + 1) * per);
    const yi = y.data[i]!;
    if (checks.useQualityFlag && q && q.data[i] === 0) dropped.flag++;
    else if (flatFraction(w) > checks.maxFlatFraction) dropped.flat++;
    else if (clippingFraction(w) > checks.maxClippingFraction) dropped.clipping++;
    else if (!(yi >= lo && yi <= hi)) dropped.target++;
    else {
      keep[i] = true;
      continue;
    }
    keep[i] = false;
  }
  return { keep, kept: keep.filter(Boolean).length, dropped };
}
