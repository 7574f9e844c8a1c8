/**
 * MIT-format WFDB annotation files (`.atr`, `.qrs`; annotation(5)): a stream of 16-bit
 * little-endian words, annotation type in the top 6 bits, time increment in the low 10 bits,
 * with SKIP (59) for long intervals, NUM/SUB/CHAN (60-62) carry-over fields and AUX (63) text.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { WfdbError } from './header.js';

export interface WfdbAnnotations {
  /** Sample index of each annotation. */
  readonly samples: Int32Array;
  /** Annotation code (1 = NORMAL beat, 28 = rhythm change, …). */
  readonly codes: Uint8Array;
  readonly subtypes: Int8Array;
  readonly channels: Uint8Array;
  readonly nums: Int8Array;
  /** AUX text per annotation ('' when none). */
  readonly aux: readonly string[];
}

/** Codes that denote a beat (QRS) in the standard annotation table (ecgcodes.h). */
export const BEAT_CODES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 31, 34, 35, 38]);

export function readAnnotations(path: string): WfdbAnnotations {
  if (!existsSync(path)) throw new WfdbError(path, 'annotation file not found', 'FT_DATA_MISSING');
  const buf = readFileSync(path);
  return decodeAnnotations(buf, path);
}

export function decodeAnnotations(buf: Uint8Array, file = '<annotations>'): WfdbAnnotations {
  const samples: number[] = [];
  const codes: number[] = [];
  const subtypes: number[] = [];
  const channels: number[] = [];
  const nums: number[] = [];
  const aux: string[] = [];
  let t = 0;
  let chan = 0;
  let num = 0;
  let i = 0;
  const word = (at: number): number => {
    if (at + 1 >= buf.length) throw new WfdbError(file, `annotation stream ends inside a word at byte ${at}`);
    return buf[at]! | (buf[at + 1]! << 8);
  };
  while (i + 1 < buf.length) {
    const w = word(i);
    i += 2;
    if (w === 0) break; // end of file marker
    const a = w >> 10;
    const v = w & 0x3ff;
    if (a === 59) {
      // SKIP: the next two words hold a 32-bit interval, high word first.
      const hi = word(i);
      const lo = word(i + 2);
      i += 4;
      t += ((hi << 16) | lo) | 0;
    } else if (a === 60) {
      if (codes.length) nums[nums.length - 1] = (v << 22) >> 22;
      num = (v << 22) >> 22;
    } else if (a === 61) {
      if (codes.length) subtypes[subtypes.length - 1] = (v << 22) >> 22;
    } else if (a === 62) {
      if (codes.length) channels[channels.length - 1] = v;
      chan = v;
    } else if (a === 63) {
      const len = v;
      const bytes = buf.subarray(i, i + len);
      if (bytes.length < len) throw new WfdbError(file, `AUX field of ${len} bytes runs past the end of the file`);
      if (codes.length) aux[aux.length - 1] = Buffer.from(bytes).toString('latin1').replace(/\0+$/, '');
      i += len + (len & 1);
    } else if (a >= 1 && a <= 49) {
      t += v;
      samples.push(t);
      codes.push(a);
      subtypes.push(0);
      channels.push(chan);
      nums.push(num);
      aux.push('');
    } else {
      // a = 0 with v != 0 (a "NOTQRS" placeholder with an interval) still advances time.
      t += v;
    }
  }
  return {
    samples: Int32Array.from(samples),
    codes: Uint8Array.from(codes),
    subtypes: Int8Array.from(subtypes),
    channels: Uint8Array.from(channels),
    nums: Int8Array.from(nums),
    aux,
  };
}

/** Encodes annotations (sorted sample indices; code 1 = NORMAL by default) in MIT format. */
export function encodeAnnotations(samples: ArrayLike<number>, codes?: ArrayLike<number>): Uint8Array {
  const words: number[] = [];
  let prev = 0;
  for (let k = 0; k < samples.length; k++) {
    const code = codes ? codes[k]! : 1;
    if (!(code >= 1 && code <= 49)) throw new RangeError(`annotation code ${code} at index ${k} is outside 1..49`);
    const d = samples[k]! - prev;
    if (d > 1023 || d < 0) {
      words.push(59 << 10, (d >>> 16) & 0xffff, d & 0xffff, (code << 10) | 0);
    } else {
      words.push((code << 10) | d);
    }
    prev = samples[k]!;
  }
  words.push(0);
  const out = new Uint8Array(words.length * 2);
  words.forEach((w, j) => {
    out[2 * j] = w & 0xff;
    out[2 * j + 1] = (w >> 8) & 0xff;
  });
  return out;
}

export function writeAnnotations(path: string, samples: ArrayLike<number>, codes?: ArrayLike<number>): void {
  writeFileSync(path, encodeAnnotations(samples, codes));
}
