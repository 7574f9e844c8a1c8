/** Channel and row helpers over the artifact arrays ([T] / [T, C] signals, [N, …] samples). */
import { ndarray, type NdArray } from '@fairtune/core';

/** Channel `c` of an array of shape [T] or [T, C], as float64. */
export function channelOf(arr: NdArray, c: number): Float64Array {
  const t = arr.shape[0]!;
  const nc = arr.shape.length > 1 ? arr.shape[1]! : 1;
  const out = new Float64Array(t);
  for (let i = 0; i < t; i++) out[i] = arr.data[i * nc + c]!;
  return out;
}

export function channelCount(arr: NdArray): number {
  return arr.shape.length > 1 ? arr.shape[1]! : 1;
}

/** Interleaves channels back into float32 [T] or [T, C]. */
export function fromChannels(chs: readonly Float64Array[], keep2d: boolean): NdArray {
  const t = chs[0]!.length;
  const out = new Float32Array(t * chs.length);
  for (let i = 0; i < t; i++) for (let c = 0; c < chs.length; c++) out[i * chs.length + c] = chs[c]![i]!;
  return keep2d ? ndarray(out, [t, chs.length]) : ndarray(out);
}

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
