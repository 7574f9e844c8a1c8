/**
 * A pickleparser `IReader` over a file (or buffer) that never loads large payloads: byte
 * strings of LAZY_THRESHOLD bytes or more come back as `ByteRef`s (file offset + length) and
 * are read only if the caller materialises them. DaLiA pickles carry ~0.4-1.5 GB of chest
 * signals per subject that a PPG loader does not need; with this reader they are skipped over
 * (protocols 1-5) or scanned for their end without being kept (protocol 0).
 *
 * It also fixes two pickleparser 0.2.1 behaviours (reference datasets.md §1.7): py2 `str`
 * payloads are decoded as latin1 (not WHATWG "ascii" = windows-1252), and protocol-0 `STRING`
 * payloads are unescaped (pickleparser only strips the quotes).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FairtuneError } from '@fairtune/core/plugin';

export const LAZY_THRESHOLD = 1024;

export class PickleError extends FairtuneError {
  override readonly name = 'PickleError';
  constructor(
    readonly file: string,
    reason: string,
    /** FT_DATA_FORMAT (not a pickle this reader takes) or FT_DATA_MISSING (no such file). */
    code: 'FT_DATA_FORMAT' | 'FT_DATA_MISSING' = 'FT_DATA_FORMAT',
  ) {
    super(code, `${file}: ${reason}`, { file });
  }
}

/** Random-access bytes: a file descriptor or an in-memory buffer. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /** Copies `length` bytes at `position` into `into` at `at`; returns bytes copied. */
  readInto(into: Uint8Array, at: number, length: number, position: number): number;
  close(): void;
}

export function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  let open = true;
  return {
    name: path,
    size,
    readInto(into, at, length, position) {
      if (!open) throw new PickleError(path, 'pickle file was closed before a lazily read array was materialised');
      let done = 0;
      while (done < length) {
        const n = readSync(fd, into, at + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

export function bufferSource(buf: Uint8Array, name = '<buffer>'): ByteSource {
  return {
    name,
    size: buf.length,
    readInto(into, at, length, position) {
      const part = buf.subarray(position, Math.min(buf.length, position + length));
      into.set(part, at);
      return part.length;
    },
    close() {},
  };
}

export type ByteRefEncoding = 'raw' | 'escaped' | 'utf8';

/**
 * A byte string that stays in the file until `bytes()` is called. `raw`: the bytes as stored;
 * `escaped`: a Python-2 `repr` body (protocol-0 STRING) to unescape; `utf8`: a BINUNICODE
 * payload holding latin1 code points (py3 protocol ≤ 2 writes bytes as `_codecs.encode(s, 'latin1')`).
 */
export class ByteRef {
  constructor(
    readonly source: ByteSource,
    readonly offset: number,
    readonly length: number,
    readonly encoding: ByteRefEncoding,
  ) {}

  private readStored(): Uint8Array {
    const out = new Uint8Array(this.length);
    const n = this.source.readInto(out, 0, this.length, this.offset);
    if (n !== this.length) throw new PickleError(this.source.name, `truncated: a ${this.length}-byte string at byte ${this.offset} runs past the end of the file`);
    return out;
  }

  /** The byte string's value. */
  bytes(): Uint8Array {
    const stored = this.readStored();
    if (this.encoding === 'raw') return stored;
    if (this.encoding === 'escaped') return unescapePy2(stored, this.source.name, this.offset);
    const text = Buffer.from(stored.buffer, stored.byteOffset, stored.length).toString('utf8');
    return latin1Bytes(text, this.source.name);
  }

  /** Text of the string (latin1), for the rare big string that is not array data. */
  toString(): string {
    return Buffer.from(this.bytes()).toString('latin1');
  }
}

/** A protocol-0 STRING line too long to decode eagerly; mimics the string API pickleparser uses. */
class LazyLine {
  constructor(
    private readonly source: ByteSource,
    private readonly offset: number,
    readonly length: number,
    private readonly first: string,
    private readonly last: string,
  ) {}
  get 0(): string {
    return this.first;
  }
  slice(start: number, end?: number): string | ByteRef {
    if (start === -1 && end === undefined) return this.last;
    if (start === 1 && end === -1) return new ByteRef(this.source, this.offset + 1, this.length - 2, 'escaped');
    throw new Error(`unexpected slice(${start}, ${end}) of a lazy pickle line`);
  }
  toString(): string {
    return new ByteRef(this.source, this.offset, this.length, 'raw').toString();
  }
}

export function latin1Bytes(text: string, file: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) throw new PickleError(file, `byte string holds code point U+${c.toString(16)}, which is not latin1`);
    out[i] = c;
  }
  return out;
}

const SIMPLE_ESCAPES: Record<number, number> = {
  0x5c: 0x5c, // \\
  0x27: 0x27, // \'
  0x22: 0x22, // \"
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x61: 0x07, // \a
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x76: 0x0b, // \v
};

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Decodes a Python-2 `string_escape` body (what protocol-0 STRING holds between quotes). */
export function unescapePy2(src: Uint8Array, file: string, offset = 0): Uint8Array {
  const out = new Uint8Array(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x5c) {
      out[o++] = c;
      continue;
    }
    const e = src[++i];
    if (e === undefined) throw new PickleError(file, `corrupt STRING at byte ${offset + i}: trailing backslash`);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) out[o++] = simple;
    else if (e === 0x78) {
      const h = hexVal(src[i + 1] ?? 0);
      const l = hexVal(src[i + 2] ?? 0);
      if (h < 0 || l < 0) throw new PickleError(file, `corrupt STRING at byte ${offset + i}: bad \\x escape`);
      out[o++] = (h << 4) | l;
      i += 2;
    } else if (e >= 0x30 && e <= 0x37) {
      let v = e - 0x30;
      for (let k = 0; k < 2 && src[i + 1]! >= 0x30 && src[i + 1]! <= 0x37; k++) v = v * 8 + (src[++i]! - 0x30);
      out[o++] = v & 0xff;
    } else {
      // Python keeps unknown escapes verbatim.
      out[o++] = 0x5c;
      out[o++] = e;
    }
  }
  return out.slice(0, o);
}

const WINDOW = 1 << 16;

/** The IReader pickleparser drives; see the module comment. */
export class StreamReader {
  private window = new Uint8Array(WINDOW);
  private view = new DataView(this.window.buffer);
  private winStart = 0;
  private winEnd = 0;
  private pos = 0;
  private readonly latin1 = new TextDecoder('latin1');
  private readonly utf8 = new TextDecoder('utf-8');

  constructor(readonly source: ByteSource) {}

  get position(): number {
    return this.pos;
  }
  get length(): number {
    return this.source.size;
  }

  private truncated(need: number): never {
    throw new PickleError(
      this.source.name,
      `truncated pickle: needs ${need} more byte(s) at byte ${this.pos} but the file has ${this.source.size} bytes`,
    );
  }

  /** Makes [pos, pos+len) available in the window (len ≤ WINDOW). */
  private ensure(len: number): number {
    if (this.pos + len > this.source.size) this.truncated(this.pos + len - this.source.size);
    if (this.pos < this.winStart || this.pos + len > this.winEnd) {
      if (len > this.window.length) {
        this.window = new Uint8Array(len);
        this.view = new DataView(this.window.buffer);
      }
      const n = this.source.readInto(this.window, 0, Math.min(this.window.length, this.source.size - this.pos), this.pos);
      this.winStart = this.pos;
      this.winEnd = this.pos + n;
    }
    const at = this.pos - this.winStart;
    this.pos += len;
    return at;
  }

  byte(): number {
    return this.window[this.ensure(1)]!;
  }
  bytes(length: number): Uint8Array | ByteRef {
    if (length >= LAZY_THRESHOLD) {
      if (this.pos + length > this.source.size) this.truncated(this.pos + length - this.source.size);
      const ref = new ByteRef(this.source, this.pos, length, 'raw');
      this.pos += length;
      return ref;
    }
    const at = this.ensure(length);
    return this.window.slice(at, at + length);
  }
  uint16(): number {
    return this.view.getUint16(this.ensure(2), true);
  }
  int32(): number {
    return this.view.getInt32(this.ensure(4), true);
  }
  uint32(): number {
    return this.view.getUint32(this.ensure(4), true);
  }
  uint64(): number {
    const at = this.ensure(8);
    const v = this.view.getUint32(at, true) + 2 ** 32 * this.view.getUint32(at + 4, true);
    if (!Number.isSafeInteger(v)) throw new PickleError(this.source.name, `corrupt pickle: length ${v} at byte ${this.pos - 8} is not a safe integer`);
    return v;
  }
  float64(): number {
    // BINFLOAT is big-endian.
    return this.view.getFloat64(this.ensure(8), false);
  }
  skip(offset: number): void {
    if (this.pos + offset > this.source.size) this.truncated(this.pos + offset - this.source.size);
    this.pos += offset;
  }
  string(size: number, encoding: 'ascii' | 'utf-8'): string | ByteRef {
    if (size >= LAZY_THRESHOLD) {
      if (this.pos + size > this.source.size) this.truncated(this.pos + size - this.source.size);
      const ref = new ByteRef(this.source, this.pos, size, encoding === 'utf-8' ? 'utf8' : 'raw');
      this.pos += size;
      return ref;
    }
    const at = this.ensure(size);
    const part = this.window.subarray(at, at + size);
    return encoding === 'utf-8' ? this.utf8.decode(part) : this.latin1.decode(part);
  }
  line(): string | LazyLine {
    const start = this.pos;
    // Scan window by window for the newline without keeping what was scanned.
    let p = start;
    for (;;) {
      if (p >= this.source.size) throw new PickleError(this.source.name, `truncated pickle: line starting at byte ${start} has no end`);
      if (p < this.winStart || p >= this.winEnd) {
        const n = this.source.readInto(this.window, 0, Math.min(this.window.length, this.source.size - p), p);
        this.winStart = p;
        this.winEnd = p + n;
      }
      const idx = this.window.subarray(p - this.winStart, this.winEnd - this.winStart).indexOf(0x0a);
      if (idx >= 0) {
        p += idx;
        break;
      }
      p = this.winEnd;
    }
    const length = p - start;
    this.pos = start;
    if (length >= LAZY_THRESHOLD) {
      const firstByte = this.peekAt(start);
      const lastByte = this.peekAt(p - 1);
      this.pos = p + 1;
      if (firstByte === 0x27 || firstByte === 0x22) {
        return new LazyLine(this.source, start, length, String.fromCharCode(firstByte), String.fromCharCode(lastByte));
      }
      return new ByteRef(this.source, start, length, 'raw').toString();
    }
    const at = this.ensure(length + 1);
    const text = this.latin1.decode(this.window.subarray(at, at + length));
    // Protocol-0 STRING: pickleparser strips the quotes but does not unescape; unescape here
    // and re-quote so its check passes and the value is right.
    if (length >= 2 && (text[0] === "'" || text[0] === '"') && text[length - 1] === text[0]) {
      const body = unescapePy2(this.window.subarray(at + 1, at + length - 1), this.source.name, start + 1);
      return text[0] + this.latin1.decode(body) + text[0];
    }
    return text;
  }
  private peekAt(position: number): number {
    const one = new Uint8Array(1);
    this.source.readInto(one, 0, 1, position);
    return one[0]!;
  }
  hasNext(): boolean {
    return this.pos < this.source.size;
  }
}
