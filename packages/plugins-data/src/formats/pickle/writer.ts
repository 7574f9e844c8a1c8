/**
 * A Python-2-style pickle writer (protocol 2, as `cPickle.dump(obj, f, 2)` writes, or
 * protocol 0, the Python 2 default) with numpy 1.x array and scalar reductions, for writing
 * DaLiA-format synthetic cohorts and fixtures. Output streams to a sink, so multi-hundred-MB
 * subjects never exist as one buffer. CPython 3 reads the result with
 * `pickle.load(f, encoding='latin1')` (checked by scripts/pickle-oracle.py).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export class PyInt {
  constructor(readonly value: number) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`PyInt needs a safe integer, got ${value}`);
  }
}
export class PyFloat {
  constructor(readonly value: number) {}
}
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}
export class PyList {
  constructor(readonly items: readonly PyValue[]) {}
}
export class PyDict {
  constructor(readonly entries: readonly (readonly [PyValue, PyValue])[]) {}
}
export type NpDtype = 'f8' | 'f4' | 'i4' | 'i8' | 'i2' | 'u1' | 'i1';
export class NpArray {
  constructor(
    readonly dtype: NpDtype,
    readonly shape: readonly number[],
    /** C-order values; written little-endian. */
    readonly data: ArrayLike<number>,
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new RangeError(`array shape (${shape.join(', ')}) needs ${n} values, got ${data.length}`);
  }
}
export class NpScalar {
  constructor(
    readonly dtype: NpDtype,
    readonly value: number,
  ) {}
}
/** null = None; boolean; string = py2 `str` (latin1 bytes); number = float. */
export type PyValue = null | boolean | string | number | PyInt | PyFloat | PyTuple | PyList | PyDict | NpArray | NpScalar;

export const py = {
  int: (v: number) => new PyInt(v),
  float: (v: number) => new PyFloat(v),
  tuple: (...items: PyValue[]) => new PyTuple(items),
  list: (items: PyValue[]) => new PyList(items),
  /** A dict with string keys, in insertion order. */
  dict: (obj: Record<string, PyValue>) => new PyDict(Object.entries(obj)),
  array: (dtype: NpDtype, shape: readonly number[], data: ArrayLike<number>) => new NpArray(dtype, shape, data),
  scalar: (dtype: NpDtype, value: number) => new NpScalar(dtype, value),
};

export interface ByteSink {
  write(chunk: Uint8Array): void;
}

/** Buffers small writes and flushes to a file descriptor. */
export class FileSink implements ByteSink {
  private readonly fd: number;
  private buf = new Uint8Array(1 << 16);
  private used = 0;
  bytesWritten = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  write(chunk: Uint8Array): void {
    this.bytesWritten += chunk.length;
    if (chunk.length > this.buf.length - this.used) {
      this.flush();
      if (chunk.length > this.buf.length) {
        let off = 0;
        while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
        return;
      }
    }
    this.buf.set(chunk, this.used);
    this.used += chunk.length;
  }
  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export class BufferSink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  write(chunk: Uint8Array): void {
    this.chunks.push(chunk.slice());
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');

const DTYPE_SIZE: Record<NpDtype, number> = { f8: 8, f4: 4, i4: 4, i8: 8, i2: 2, u1: 1, i1: 1 };

export function npBytes(dtype: NpDtype, data: ArrayLike<number>): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n * DTYPE_SIZE[dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    switch (dtype) {
      case 'f8':
        dv.setFloat64(8 * i, v, true);
        break;
      case 'f4':
        dv.setFloat32(4 * i, v, true);
        break;
      case 'i4':
        dv.setInt32(4 * i, v, true);
        break;
      case 'i8':
        dv.setBigInt64(8 * i, BigInt(Math.trunc(v)), true);
        break;
      case 'i2':
        dv.setInt16(2 * i, v, true);
        break;
      case 'u1':
        dv.setUint8(i, v);
        break;
      case 'i1':
        dv.setInt8(i, v);
        break;
    }
  }
  return out;
}

/** Python float repr as protocol 0 writes it (`repr(78.0)` = '78.0'). */
function floatRepr(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  const s = String(v);
  return /[.eE]/.test(s) ? s.replace('e+', 'e+') : `${s}.0`;
}

/**
 * Python 2 `repr` of a byte string for protocol-0 STRING: single quotes unless the data
 * holds `'` and no `"`; escapes \\ \t \n \r, the quote, and \xNN outside 0x20-0x7e.
 */
function* reprChunks(data: Uint8Array): Generator<Uint8Array> {
  const hasSingle = data.indexOf(0x27) >= 0;
  const hasDouble = data.indexOf(0x22) >= 0;
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  const HEX = '0123456789abcdef';
  const CH = 1 << 16;
  yield Uint8Array.of(quote);
  for (let start = 0; start < data.length; start += CH) {
    const part = data.subarray(start, Math.min(data.length, start + CH));
    const out = new Uint8Array(part.length * 4);
    let o = 0;
    for (let i = 0; i < part.length; i++) {
      const c = part[i]!;
      if (c === 0x5c || c === quote) {
        out[o++] = 0x5c;
        out[o++] = c;
      } else if (c === 0x09) {
        out[o++] = 0x5c;
        out[o++] = 0x74;
      } else if (c === 0x0a) {
        out[o++] = 0x5c;
        out[o++] = 0x6e;
      } else if (c === 0x0d) {
        out[o++] = 0x5c;
        out[o++] = 0x72;
      } else if (c < 0x20 || c >= 0x7f) {
        out[o++] = 0x5c;
        out[o++] = 0x78;
        out[o++] = HEX.charCodeAt(c >> 4);
        out[o++] = HEX.charCodeAt(c & 15);
      } else out[o++] = c;
    }
    yield out.subarray(0, o);
  }
  yield Uint8Array.of(quote);
}

export class PickleWriter {
  private readonly memo = new Map<string, number>();
  constructor(
    private readonly sink: ByteSink,
    readonly protocol: 0 | 1 | 2 = 2,
  ) {}

  /** Writes one complete pickle of `value` (protocol header … STOP). */
  dump(value: PyValue): void {
    if (this.protocol === 2) this.sink.write(Uint8Array.of(0x80, 2));
    this.value(value);
    this.sink.write(enc('.'));
  }

  private op(s: string): void {
    this.sink.write(enc(s));
  }

  private u8(code: number, n: number): void {
    this.sink.write(Uint8Array.of(code, n));
  }

  private global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const idx = this.memo.get(key);
    if (idx !== undefined) {
      if (this.protocol === 0) this.op(`g${idx}\n`);
      else if (idx < 256) this.u8(0x68, idx);
      else this.sink.write(Uint8Array.of(0x6a, idx & 0xff, (idx >> 8) & 0xff, (idx >> 16) & 0xff, idx >>> 24));
      return;
    }
    this.op(`c${module}\n${name}\n`);
    const n = this.memo.size;
    this.memo.set(key, n);
    if (this.protocol === 0) this.op(`p${n}\n`);
    else if (n < 256) this.u8(0x71, n);
    else this.sink.write(Uint8Array.of(0x72, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24));
  }

  private int(v: number): void {
    if (this.protocol === 0) return this.op(`I${v}\n`);
    if (v >= 0 && v < 256) return this.u8(0x4b, v);
    if (v >= 0 && v < 65536) return this.sink.write(Uint8Array.of(0x4d, v & 0xff, v >> 8));
    if (v >= -(2 ** 31) && v < 2 ** 31) {
      const b = new Uint8Array(5);
      b[0] = 0x4a;
      new DataView(b.buffer).setInt32(1, v, true);
      return this.sink.write(b);
    }
    if (this.protocol < 2) return this.op(`L${v}L\n`);
    // LONG1: little-endian two's complement of minimal length.
    let big = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      const byte = Number(big & 0xffn);
      bytes.push(byte);
      big >>= 8n;
      if ((big === 0n && (byte & 0x80) === 0) || (big === -1n && (byte & 0x80) !== 0)) break;
    }
    this.sink.write(Uint8Array.of(0x8a, bytes.length, ...bytes));
  }

  private bool(v: boolean): void {
    // NEWTRUE/NEWFALSE exist from protocol 2; Python 2 writes I01/I00 before that.
    if (this.protocol < 2) this.op(v ? 'I01\n' : 'I00\n');
    else this.sink.write(Uint8Array.of(v ? 0x88 : 0x89));
  }

  private float(v: number): void {
    if (this.protocol === 0) return this.op(`F${floatRepr(v)}\n`);
    const b = new Uint8Array(9);
    b[0] = 0x47;
    new DataView(b.buffer).setFloat64(1, v, false);
    this.sink.write(b);
  }

  private bytes(data: Uint8Array): void {
    if (this.protocol === 0) {
      this.op('S');
      for (const c of reprChunks(data)) this.sink.write(c);
      this.op('\n');
      return;
    }
    if (data.length < 256) this.sink.write(Uint8Array.of(0x55, data.length));
    else {
      const h = new Uint8Array(5);
      h[0] = 0x54;
      new DataView(h.buffer).setUint32(1, data.length, true);
      this.sink.write(h);
    }
    this.sink.write(data);
  }

  private tuple(items: readonly PyValue[]): void {
    if (this.protocol >= 1 && items.length === 0) return this.op(')');
    if (this.protocol === 2 && items.length <= 3) {
      for (const it of items) this.value(it);
      this.sink.write(Uint8Array.of(0x84 + items.length));
      return;
    }
    this.op('(');
    for (const it of items) this.value(it);
    this.op('t');
  }

  private dtype(dt: NpDtype): void {
    this.global('numpy', 'dtype');
    this.tuple([dt, false, true]);
    this.op('R');
    const order = DTYPE_SIZE[dt] === 1 ? '|' : '<';
    this.tuple([new PyInt(3), order, null, null, null, new PyInt(-1), new PyInt(-1), new PyInt(0)]);
    this.op('b');
  }

  private ndarray(a: NpArray): void {
    // _reconstruct(ndarray, (0,), 'b') then BUILD with (1, shape, dtype, is_fortran, raw).
    this.global('numpy.core.multiarray', '_reconstruct');
    if (this.protocol < 2) this.op('(');
    this.global('numpy', 'ndarray');
    this.tuple([new PyInt(0)]);
    this.bytes(enc('b'));
    if (this.protocol < 2) this.op('t');
    else this.sink.write(Uint8Array.of(0x87));
    this.op('R');
    this.op('(');
    this.int(1);
    this.tuple(a.shape.map((d) => new PyInt(d)));
    this.dtype(a.dtype);
    this.bool(false);
    this.bytes(npBytes(a.dtype, a.data));
    this.op('t');
    this.op('b');
  }

  value(v: PyValue): void {
    if (v === null) return this.op('N');
    if (typeof v === 'boolean') return this.bool(v);
    if (typeof v === 'number') return this.float(v);
    if (typeof v === 'string') return this.bytes(enc(v));
    if (v instanceof PyInt) return this.int(v.value);
    if (v instanceof PyFloat) return this.float(v.value);
    if (v instanceof PyTuple) return this.tuple(v.items);
    if (v instanceof PyList) {
      if (this.protocol === 0) {
        this.op('(l');
        for (const it of v.items) {
          this.value(it);
          this.op('a');
        }
        return;
      }
      this.op(']');
      if (v.items.length) {
        this.op('(');
        for (const it of v.items) this.value(it);
        this.op('e');
      }
      return;
    }
    if (v instanceof PyDict) {
      if (this.protocol === 0) {
        this.op('(d');
        for (const [k, val] of v.entries) {
          this.value(k);
          this.value(val);
          this.op('s');
        }
        return;
      }
      this.op('}');
      if (v.entries.length) {
        this.op('(');
        for (const [k, val] of v.entries) {
          this.value(k);
          this.value(val);
        }
        this.op('u');
      }
      return;
    }
    if (v instanceof NpArray) return this.ndarray(v);
    if (v instanceof NpScalar) {
      this.global('numpy.core.multiarray', 'scalar');
      if (this.protocol < 2) this.op('(');
      this.dtype(v.dtype);
      this.bytes(npBytes(v.dtype, [v.value]));
      if (this.protocol < 2) this.op('t');
      else this.sink.write(Uint8Array.of(0x86));
      this.op('R');
      return;
    }
    throw new TypeError(`cannot pickle ${String(v)}`);
  }
}

/** Writes `value` as a pickle file; returns its size in bytes. */
export function writePickleFile(path: string, value: PyValue, protocol: 0 | 1 | 2 = 2): number {
  const sink = new FileSink(path);
  try {
    new PickleWriter(sink, protocol).dump(value);
  } finally {
    sink.close();
  }
  return sink.bytesWritten;
}

export function pickleToBuffer(value: PyValue, protocol: 0 | 1 | 2 = 2): Buffer {
  const sink = new BufferSink();
  new PickleWriter(sink, protocol).dump(value);
  return sink.toBuffer();
}
