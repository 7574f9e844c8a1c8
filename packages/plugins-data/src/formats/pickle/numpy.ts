/**
 * numpy reconstruction for pickleparser: `_reconstruct` + BUILD state (protocols 0-4),
 * `_frombuffer` (protocol 5), dtypes, numpy scalars and `_codecs.encode` (py3 protocol ≤ 2
 * bytes). Arrays stay lazy (`PickledNdArray`): their bytes are read only when `toTyped()` is
 * called, so arrays a loader ignores are never materialised.
 */
import { NameRegistry } from 'pickleparser';
import { ByteRef, PickleError, latin1Bytes } from './stream-reader.js';

export type NumericArray = Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array;

type RawData = Uint8Array | ByteRef | string;

export class PickledDtype {
  readonly kind: string;
  readonly itemSize: number;
  byteOrder: string;
  constructor(spec: unknown, file: string) {
    const text = typeof spec === 'string' ? spec : String(spec);
    const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(text);
    if (!m) throw new PickleError(file, `unsupported numpy dtype "${text}"`);
    this.byteOrder = m[1] || '<';
    this.kind = m[2]!;
    const size = m[3] ? Number(m[3]) : m[2] === '?' || m[2] === 'b' ? 1 : 0;
    this.itemSize = size;
  }
  /** BUILD state (version, byteorder, subarray, names, fields, elsize, alignment, flags). */
  __setstate__(state: unknown[]): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
  get name(): string {
    return `${this.kind}${this.itemSize}`;
  }
}

export class PickledNdArray {
  shape: number[] = [];
  dtype: PickledDtype | undefined;
  fortranOrder = false;
  private raw: RawData | undefined;
  constructor(private readonly file: string) {}

  /** ndarray BUILD state: (version, shape, dtype, is_fortran, rawdata) or the 4-tuple without version. */
  __setstate__(state: unknown[]): void {
    const s = state.length === 5 ? state.slice(1) : state;
    if (s.length !== 4) throw new PickleError(this.file, `corrupt pickle: ndarray state has ${state.length} fields, expected 4 or 5`);
    this.setParts(s[0], s[1], Boolean(s[2]), s[3]);
  }

  setParts(shape: unknown, dtype: unknown, fortran: boolean, raw: unknown): void {
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) throw new PickleError(this.file, 'corrupt pickle: ndarray shape is not a tuple of ints');
    if (!(dtype instanceof PickledDtype)) throw new PickleError(this.file, 'corrupt pickle: ndarray dtype is not a numpy dtype');
    if (Array.isArray(raw)) throw new PickleError(this.file, `numpy object arrays (dtype ${dtype.name}) are not supported`);
    if (!(raw instanceof Uint8Array || raw instanceof ByteRef || typeof raw === 'string')) {
      throw new PickleError(this.file, 'corrupt pickle: ndarray data is not a byte string');
    }
    this.shape = shape as number[];
    this.dtype = dtype;
    this.fortranOrder = fortran;
    this.raw = raw;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Reads and decodes the array in C (row-major) order. */
  toTyped(): NumericArray {
    const dtype = this.dtype;
    if (!dtype || this.raw === undefined) throw new PickleError(this.file, 'corrupt pickle: ndarray was never given its state');
    const bytes = this.raw instanceof ByteRef ? this.raw.bytes() : typeof this.raw === 'string' ? latin1Bytes(this.raw, this.file) : this.raw;
    const n = this.size;
    if (bytes.length !== n * dtype.itemSize) {
      throw new PickleError(this.file, `corrupt pickle: array of shape (${this.shape.join(', ')}) ${dtype.name} needs ${n * dtype.itemSize} bytes, has ${bytes.length}`);
    }
    const out = decodeNumeric(bytes, dtype, n, this.file);
    return this.fortranOrder && this.shape.length > 1 ? fortranToC(out, this.shape) : out;
  }

  toFloat64(): Float64Array {
    const t = this.toTyped();
    return t instanceof Float64Array ? t : Float64Array.from(t);
  }
}

function decodeNumeric(bytes: Uint8Array, dtype: PickledDtype, n: number, file: string): NumericArray {
  const little = dtype.byteOrder !== '>';
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const dv = new DataView(aligned.buffer);
  const key = `${dtype.kind}${dtype.itemSize}`;
  const nativeLE = little;
  switch (key) {
    case 'f8':
      if (nativeLE) return new Float64Array(aligned.buffer, 0, n);
      return Float64Array.from({ length: n }, (_, i) => dv.getFloat64(8 * i, false));
    case 'f4':
      if (nativeLE) return new Float32Array(aligned.buffer, 0, n);
      return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i, false));
    case 'i4':
      return nativeLE ? new Int32Array(aligned.buffer, 0, n) : Int32Array.from({ length: n }, (_, i) => dv.getInt32(4 * i, false));
    case 'i8': {
      // int64 to float64: exact up to 2^53, which covers sample indices and counts.
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, little));
      return out;
    }
    case 'u8': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigUint64(8 * i, little));
      return out;
    }
    case 'i2':
      return Int16Array.from({ length: n }, (_, i) => dv.getInt16(2 * i, little));
    case 'u2':
      return Uint16Array.from({ length: n }, (_, i) => dv.getUint16(2 * i, little));
    case 'u4':
      return Uint32Array.from({ length: n }, (_, i) => dv.getUint32(4 * i, little));
    case 'i1':
      return new Int8Array(aligned.buffer, 0, n);
    case 'u1':
    case 'b1':
    case '?1':
      return aligned;
    default:
      throw new PickleError(file, `unsupported numpy dtype ${dtype.byteOrder}${key}`);
  }
}

function fortranToC(data: NumericArray, shape: readonly number[]): NumericArray {
  const out = new (data.constructor as { new (n: number): NumericArray })(data.length);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  for (let c = 0; c < data.length; c++) {
    // c walks C order; compute the Fortran offset of the same index.
    let f = 0;
    let stride = 1;
    for (let d = 0; d < nd; d++) {
      f += idx[d]! * stride;
      stride *= shape[d]!;
    }
    out[c] = data[f]!;
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

function toBytes(v: unknown, file: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ByteRef) return v.bytes();
  if (typeof v === 'string') return latin1Bytes(v, file);
  throw new PickleError(file, 'corrupt pickle: expected a byte string');
}

/** Name registry with the numpy and codecs globals DaLiA-style pickles reference. */
export function numpyRegistry(file: string): NameRegistry {
  const reg = new NameRegistry();
  const ndarrayMarker = function ndarray(): never {
    throw new PickleError(file, 'numpy.ndarray called directly');
  };
  const reconstruct = (_cls: unknown, _shape: unknown, _typecode: unknown) => new PickledNdArray(file);
  const dtype = (spec: unknown) => new PickledDtype(spec, file);
  const scalar = (dt: unknown, raw: unknown) => {
    if (!(dt instanceof PickledDtype)) throw new PickleError(file, 'corrupt pickle: numpy scalar without dtype');
    const t = decodeNumeric(toBytes(raw, file), dt, 1, file);
    return Number(t[0]);
  };
  const frombuffer = (buf: unknown, dt: unknown, shape: unknown, order: unknown) => {
    const a = new PickledNdArray(file);
    a.setParts(shape, dt, order === 'F', buf instanceof ByteRef || buf instanceof Uint8Array ? buf : toBytes(buf, file));
    return a;
  };
  const codecsEncode = (text: unknown, encoding: unknown) => {
    if (encoding !== 'latin1' && encoding !== 'latin-1' && encoding !== 'iso-8859-1') {
      throw new PickleError(file, `unsupported _codecs.encode encoding ${String(encoding)}`);
    }
    if (text instanceof ByteRef) return text; // 'utf8' ByteRef decodes to latin1 bytes lazily
    return toBytes(text, file);
  };
  for (const core of ['numpy.core', 'numpy._core']) {
    reg.register(`${core}.multiarray`, '_reconstruct', reconstruct);
    reg.register(`${core}.multiarray`, 'scalar', scalar);
    reg.register(`${core}.numeric`, '_frombuffer', frombuffer);
  }
  reg.register('numpy', 'ndarray', ndarrayMarker);
  reg.register('numpy', 'dtype', dtype);
  reg.register('_codecs', 'encode', codecsEncode);
  for (const mod of ['__builtin__', 'builtins']) {
    reg.register(mod, 'bytearray', (v: unknown) => (v === undefined ? new Uint8Array(0) : v instanceof ByteRef ? v : toBytes(v, file)));
  }
  return reg;
}
