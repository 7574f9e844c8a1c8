/** Channel helpers over signal arrays of shape [T] or [T, C]. */
import { ndarray, type NdArray } from '@fairtune/core/plugin';

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
