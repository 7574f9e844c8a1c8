/**
 * Weights files in the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length n, n bytes of UTF-8 JSON mapping tensor names to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the byte after the header)
 * plus an optional `__metadata__` object of string values, then the raw little-endian data.
 * F32 is stored as is; F64, F16 and BF16 are converted to float32 on load.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { NdArray } from '@fairtune/core';

export interface SafetensorsFile {
  readonly tensors: Record<string, NdArray>;
  readonly metadata: Record<string, string>;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`weights file ${path}: cannot read (${(err as Error).message})`);
  }
  if (buf.length < 8) throw new Error(`weights file ${path}: too short to be safetensors (${buf.length} bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw new Error(`weights file ${path}: header length ${n} does not fit in a ${buf.length}-byte file (not a safetensors file?)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`weights file ${path}: header is not valid JSON (${(err as Error).message})`);
  }
  const base = 8 + n;
  const tensors: Record<string, NdArray> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: off } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = shape.reduce((a, b) => a * b, 1);
    const [b0, b1] = off;
    if (!(b0 >= 0 && b1 >= b0 && base + b1 <= buf.length)) throw new Error(`weights file ${path}: tensor "${name}" has data offsets [${b0}, ${b1}] outside the file`);
    const bytes = buf.subarray(base + b0, base + b1);
    const width = { F32: 4, F64: 8, F16: 2, BF16: 2 }[dtype];
    if (!width) throw new Error(`weights file ${path}: tensor "${name}" has dtype ${dtype}; supported: F32, F64, F16, BF16`);
    if (bytes.length !== count * width) throw new Error(`weights file ${path}: tensor "${name}" has ${bytes.length} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${count * width}`);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') out[i] = bytes.readFloatLE(4 * i);
      else if (dtype === 'F64') out[i] = bytes.readDoubleLE(8 * i);
      else if (dtype === 'F16') out[i] = f16ToF32(bytes.readUInt16LE(2 * i));
      else {
        const tmp = Buffer.alloc(4);
        tmp.writeUInt16LE(bytes.readUInt16LE(2 * i), 2);
        out[i] = tmp.readFloatLE(0);
      }
    }
    tensors[name] = { dtype: 'float32', shape, data: out };
  }
  return { tensors, metadata };
}

/** Writes float32 tensors (sorted by name, 8-byte aligned header as the reference writer does). */
export function writeSafetensors(path: string, tensors: Readonly<Record<string, NdArray>>, metadata: Record<string, string> = {}): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    if (t.dtype !== 'float32') throw new Error(`writeSafetensors: "${name}" is ${t.dtype}; only float32 is written`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hlen = Buffer.byteLength(json);
  const out = Buffer.alloc(8 + hlen + offset);
  out.writeBigUInt64LE(BigInt(hlen), 0);
  out.write(json, 8, 'utf8');
  let pos = 8 + hlen;
  for (const name of names) {
    const d = tensors[name]!.data as Float32Array;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  writeFileSync(path, out);
}
