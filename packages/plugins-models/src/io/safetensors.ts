/**
 * Weights files in the safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length n, n bytes of UTF-8 JSON mapping tensor names to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the byte after the header)
 * plus an optional `__metadata__` object of string values, then the raw little-endian data.
 * F32 is stored as is; F64, F16 and BF16 are converted to float32 on load. Shared by every
 * model (PPG-GPT's own files, timm ViT checkpoints).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { FairtuneError, type NdArray } from '@fairtune/core/plugin';

export interface SafetensorsFile {
  readonly tensors: Record<string, NdArray>;
  readonly metadata: Record<string, string>;
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const WIDTH: Readonly<Record<string, number>> = { F32: 4, F64: 8, F16: 2, BF16: 2 };

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

/** float32 → IEEE half, round to nearest even (overflow → ±Inf, tiny values → subnormals/0). */
export function f32ToF16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = (man | 0x800000) >>> (1 - e);
    const round = (m & 0x1fff) > 0x1000 || ((m & 0x1fff) === 0x1000 && (m & 0x2000) !== 0) ? 1 : 0;
    return sign | ((m >>> 13) + round);
  }
  const round = (man & 0x1fff) > 0x1000 || ((man & 0x1fff) === 0x1000 && (man & 0x2000) !== 0) ? 1 : 0;
  return (sign | (e << 10) | (man >>> 13)) + round;
}

/** float32 → bfloat16 (the upper 16 bits), round to nearest even. */
export function f32ToBf16(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0]!;
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function decode(bytes: Buffer, dtype: string, count: number): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    // Copy first: the data need not be 4-byte aligned inside the file buffer.
    new Uint8Array(out.buffer).set(bytes);
  } else if (dtype === 'F64') {
    for (let i = 0; i < count; i++) out[i] = bytes.readDoubleLE(8 * i);
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(bytes.readUInt16LE(2 * i));
  } else {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u32[i] = bytes.readUInt16LE(2 * i) << 16;
  }
  return out;
}

/**
 * Parses a safetensors file; every error names the file and, where it applies, the tensor: a file
 * that cannot be read is FT_DATA_MISSING, one that is not valid safetensors FT_DATA_FORMAT.
 */
export function readSafetensors(path: string): SafetensorsFile {
  const malformed = (message: string, cause?: unknown) => new FairtuneError('FT_DATA_FORMAT', message, { file: path }, cause === undefined ? undefined : { cause });
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new FairtuneError('FT_DATA_MISSING', `weights file ${path}: cannot read (${(err as Error).message})`, { file: path }, { cause: err });
  }
  if (buf.length < 8) throw malformed(`weights file ${path}: too short to be safetensors (${buf.length} bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw malformed(`weights file ${path}: header length ${n} does not fit in a ${buf.length}-byte file (not a safetensors file?)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, unknown>;
  } catch (err) {
    throw malformed(`weights file ${path}: header is not valid JSON (${(err as Error).message})`, err);
  }
  const base = 8 + n;
  const tensors: Record<string, NdArray> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: off } = (entry ?? {}) as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (typeof dtype !== 'string' || !Array.isArray(shape) || !Array.isArray(off) || off.length !== 2 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw malformed(`weights file ${path}: tensor "${name}" has a malformed header entry ${JSON.stringify(entry)}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const [b0, b1] = off;
    if (!(b0 >= 0 && b1 >= b0 && base + b1 <= buf.length)) throw malformed(`weights file ${path}: tensor "${name}" has data offsets [${b0}, ${b1}] outside the file`);
    const width = WIDTH[dtype];
    if (!width) throw malformed(`weights file ${path}: tensor "${name}" has dtype ${dtype}; supported: F32, F64, F16, BF16`);
    const bytes = buf.subarray(base + b0, base + b1);
    if (bytes.length !== count * width) throw malformed(`weights file ${path}: tensor "${name}" has ${bytes.length} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${count * width}`);
    tensors[name] = { dtype: 'float32', shape, data: decode(bytes, dtype, count) };
  }
  return { tensors, metadata };
}

function encode(data: Float32Array, dtype: SafetensorsDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.length * 2);
  for (let i = 0; i < data.length; i++) out.writeUInt16LE(dtype === 'F16' ? f32ToF16(data[i]!) : f32ToBf16(data[i]!), 2 * i);
  return out;
}

/**
 * Writes float32 tensors (sorted by name, header padded with spaces to a multiple of 8 as the
 * reference writer does), stored as F32 (default), F16 or BF16.
 */
export function writeSafetensors(path: string, tensors: Readonly<Record<string, NdArray>>, metadata: Record<string, string> = {}, dtype: SafetensorsDtype = 'F32'): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    if (t.dtype !== 'float32') throw new Error(`writeSafetensors: "${name}" is ${t.dtype}; only float32 is written`);
    const bytes = encode(t.data as Float32Array, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hlen = Buffer.byteLength(json);
  const head = Buffer.alloc(8 + hlen);
  head.writeBigUInt64LE(BigInt(hlen), 0);
  head.write(json, 8, 'utf8');
  writeFileSync(path, Buffer.concat([head, ...chunks], 8 + hlen + offset));
}
