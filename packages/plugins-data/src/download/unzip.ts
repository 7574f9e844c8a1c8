/**
 * Streaming zip extraction for the PPG-DaLiA download (APPNOTE.TXT 6.3: stored and deflate
 * entries, zip64 sizes/offsets/end records, data descriptors). Only the central directory is
 * read into memory; each entry is streamed from a file read stream through `inflateRaw` and a
 * CRC-32/length check to a temporary file that is renamed into place once verified, so a
 * multi-GB pickle never sits in memory and a failed entry never leaves a plausible-looking file.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { FairtuneError } from '@fairtune/core/plugin';

export interface ZipEntry {
  /** Name as stored (forward slashes; directories end with `/`). */
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localOffset: number;
  readonly isDirectory: boolean;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_LEN = 22;
const LOCATOR_LEN = 20;
const ZIP64_EOCD_LEN = 56;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

// zlib.crc32 only exists from Node 20.15 / 22.2 and the repository allows Node >= 20.11, so the
// table-driven CRC (same polynomial, 0xEDB88320 reflected) is the fallback, not the default.
let table: Uint32Array | undefined;
/** Table-driven CRC-32 (IEEE 802.3), continuing from `prev`; exported for its test. */
export function softwareCrc32(buf: Uint8Array, prev = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~prev >>> 0;
  for (let i = 0; i < buf.length; i++) c = table[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const crc32 = typeof nativeCrc32 === 'function' ? (b: Uint8Array, prev: number) => nativeCrc32(b, prev) >>> 0 : softwareCrc32;

function readAt(fd: number, pos: number, len: number, path: string, what: string): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) throw new FairtuneError('FT_DATA_FORMAT', `${path}: truncated archive: ${what} at byte ${pos} needs ${len} bytes but the file ends at ${pos + got}`, { file: path });
    got += n;
  }
  return b;
}

function u64(b: Buffer, at: number, path: string, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FairtuneError('FT_DATA_FORMAT', `${path}: ${what} ${v} is beyond 2^53 bytes; the archive is corrupt`, { file: path });
  return Number(v);
}

/** Finds the end-of-central-directory record: the last signature whose comment length fits the file's tail. */
function findEocd(tail: Buffer): number {
  let loose = -1;
  for (let i = tail.length - EOCD_LEN; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== SIG_EOCD) continue;
    const end = i + EOCD_LEN + tail.readUInt16LE(i + 20);
    if (end === tail.length) return i;
    if (end < tail.length && loose < 0) loose = i; // trailing bytes after the comment: tolerated, as unzip does
  }
  return loose;
}

/**
 * Rejects names that would land outside the destination (`../`, absolute, drive letters,
 * backslash-separated `..` written by Windows tools) before anything is written.
 */
function checkName(zipPath: string, name: string): void {
  const bad = (why: string) => new FairtuneError('FT_DATA_FORMAT', `${zipPath}: entry "${name}" ${why}; refusing to extract the archive`, { file: zipPath });
  if (name.length === 0) throw bad('has an empty name');
  if (name.includes('\0')) throw bad('contains a NUL byte');
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) throw bad('is an absolute path');
  if (slashed.split('/').includes('..')) throw bad('escapes the destination folder (path traversal)');
}

/** Reads the central directory (zip64 aware); throws naming the file on anything inconsistent. */
export function listZip(path: string): ZipEntry[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const tailLen = Math.min(size, EOCD_LEN + U16_MAX);
    const tailStart = size - tailLen;
    const tail = readAt(fd, tailStart, tailLen, path, 'end of archive');
    const e = findEocd(tail);
    if (e < 0) throw new FairtuneError('FT_DATA_FORMAT', `${path}: no end-of-central-directory record in ${size} bytes; the file is not a zip archive or is truncated (an interrupted download?)`, { file: path });
    const eocdPos = tailStart + e;
    let disk = tail.readUInt16LE(e + 4);
    let cdDisk = tail.readUInt16LE(e + 6);
    let count = tail.readUInt16LE(e + 10);
    let cdSize = tail.readUInt32LE(e + 12);
    let cdOffset = tail.readUInt32LE(e + 16);
    // A zip64 locator sits right before the classic record; when present its record is authoritative.
    const locPos = eocdPos - LOCATOR_LEN;
    const loc = locPos >= 0 ? readAt(fd, locPos, LOCATOR_LEN, path, 'zip64 locator') : undefined;
    if (loc && loc.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
      if (loc.readUInt32LE(16) > 1) throw new FairtuneError('FT_DATA_FORMAT', `${path}: split (multi-disk) zip archives are not supported`, { file: path });
      const recPos = u64(loc, 8, path, 'zip64 end record offset');
      const rec = readAt(fd, recPos, ZIP64_EOCD_LEN, path, 'zip64 end-of-central-directory record');
      if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new FairtuneError('FT_DATA_FORMAT', `${path}: zip64 locator points to byte ${recPos}, which holds no zip64 end-of-central-directory record; the archive is corrupt`, { file: path });
      disk = rec.readUInt32LE(16);
      cdDisk = rec.readUInt32LE(20);
      count = u64(rec, 32, path, 'entry count');
      cdSize = u64(rec, 40, path, 'central directory size');
      cdOffset = u64(rec, 48, path, 'central directory offset');
    } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      throw new FairtuneError('FT_DATA_FORMAT', `${path}: the end record marks zip64 values but no zip64 locator precedes it; the archive is corrupt or truncated`, { file: path });
    }
    if (disk !== 0 || cdDisk !== 0) throw new FairtuneError('FT_DATA_FORMAT', `${path}: split (multi-disk) zip archives are not supported`, { file: path });
    if (cdOffset + cdSize > eocdPos) throw new FairtuneError('FT_DATA_FORMAT', `${path}: central directory (bytes ${cdOffset}..${cdOffset + cdSize}) runs past the end record at byte ${eocdPos}; the archive is corrupt or truncated`, { file: path });
    const cd = readAt(fd, cdOffset, cdSize, path, 'central directory');
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw new FairtuneError('FT_DATA_FORMAT', `${path}: corrupt central directory at entry ${i} of ${count} (byte ${cdOffset + p})`, { file: path });
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let uncompressedSize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const diskStart = cd.readUInt16LE(p + 34);
      let localOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new FairtuneError('FT_DATA_FORMAT', `${path}: corrupt central directory at entry ${i} of ${count}: record runs past the directory`, { file: path });
      // Bit 11 = UTF-8 name; without it the name is CP437, which equals UTF-8 for the ASCII names real archives use.
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
      if (uncompressedSize === U32_MAX || compressedSize === U32_MAX || localOffset === U32_MAX || diskStart === U16_MAX) {
        // Zip64 extended information (0x0001) holds, in this order, only the fields that overflowed.
        let q = 0;
        let z: Buffer | undefined;
        while (q + 4 <= extra.length) {
          const id = extra.readUInt16LE(q);
          const len = extra.readUInt16LE(q + 2);
          if (id === 0x0001) z = extra.subarray(q + 4, q + 4 + len);
          q += 4 + len;
        }
        if (!z) throw new FairtuneError('FT_DATA_FORMAT', `${path}: entry "${name}" has 32-bit fields set to 0xFFFFFFFF but no zip64 extra field; the archive is corrupt`, { file: path });
        let r = 0;
        const next = (what: string): number => {
          if (r + 8 > z.length) throw new FairtuneError('FT_DATA_FORMAT', `${path}: entry "${name}": zip64 extra field is too short for the ${what}`, { file: path });
          const v = u64(z, r, path, `entry "${name}" ${what}`);
          r += 8;
          return v;
        };
        if (uncompressedSize === U32_MAX) uncompressedSize = next('uncompressed size');
        if (compressedSize === U32_MAX) compressedSize = next('compressed size');
        if (localOffset === U32_MAX) localOffset = next('local header offset');
      }
      if (flags & 0x1) throw new FairtuneError('FT_DATA_FORMAT', `${path}: entry "${name}" is encrypted; encrypted archives are not supported`, { file: path });
      checkName(path, name);
      entries.push({ name, method, flags, crc32: crc, compressedSize, uncompressedSize, localOffset, isDirectory: name.endsWith('/') || name.endsWith('\\') });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Passes bytes through while checking the entry's CRC-32 and length; aborts early on overrun (zip bombs). */
class EntryCheck extends Transform {
  private crc = 0;
  private bytes = 0;
  constructor(private readonly entry: ZipEntry, private readonly label: string, private readonly file: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.entry.uncompressedSize) return cb(new FairtuneError('FT_DATA_FORMAT', `${this.label}: data exceed the declared size of ${this.entry.uncompressedSize} bytes`, { file: this.file }));
    this.crc = crc32(chunk, this.crc);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.bytes !== this.entry.uncompressedSize) return cb(new FairtuneError('FT_DATA_FORMAT', `${this.label}: ${this.bytes} bytes extracted but the central directory declares ${this.entry.uncompressedSize}; the entry is truncated or corrupt`, { file: this.file }));
    if (this.crc !== this.entry.crc32) return cb(new FairtuneError('FT_DATA_FORMAT', `${this.label}: CRC-32 mismatch (expected ${hex(this.entry.crc32)}, got ${hex(this.crc)}); the entry is corrupt`, { file: this.file }));
    cb();
  }
}
const hex = (n: number) => n.toString(16).padStart(8, '0');

export interface ExtractOptions {
  signal?: AbortSignal;
  /** Called before each entry with its index and the entry count. */
  onEntry?: (entry: ZipEntry, index: number, count: number) => void;
}

/**
 * Extracts every entry of `zipPath` under `destDir` and returns the extracted file paths.
 * All names are checked before anything is written; each file is verified (length, CRC-32)
 * before it appears under its own name.
 */
export async function extractZip(zipPath: string, destDir: string, opts: ExtractOptions = {}): Promise<string[]> {
  const entries = listZip(zipPath);
  const root = resolve(destDir);
  const out: string[] = [];
  const fd = openSync(zipPath, 'r');
  const size = fstatSync(fd).size;
  try {
    for (const [i, e] of entries.entries()) {
      opts.onEntry?.(e, i, entries.length);
      const label = `${zipPath}: entry "${e.name}"`;
      const dest = resolve(root, e.name.replace(/\\/g, '/'));
      // Second guard after checkName: the resolved path must stay under the destination.
      if (!dest.startsWith(root + sep) && dest !== root) throw new FairtuneError('FT_DATA_FORMAT', `${label} escapes the destination folder (path traversal)`, { file: zipPath });
      if (e.isDirectory) {
        mkdirSync(dest, { recursive: true });
        continue;
      }
      if (e.method !== 0 && e.method !== 8) throw new FairtuneError('FT_DATA_FORMAT', `${label} uses compression method ${e.method}; only stored (0) and deflate (8) are supported`, { file: zipPath });
      const local = readAt(fd, e.localOffset, 30, zipPath, `local header of "${e.name}"`);
      if (local.readUInt32LE(0) !== SIG_LOCAL) throw new FairtuneError('FT_DATA_FORMAT', `${label}: no local header at byte ${e.localOffset}; the archive is corrupt`, { file: zipPath });
      // The local name/extra lengths may differ from the central ones (zip64 extras), so use the local ones.
      const start = e.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (start + e.compressedSize > size) throw new FairtuneError('FT_DATA_FORMAT', `${label}: data (bytes ${start}..${start + e.compressedSize}) run past the end of the ${size}-byte file; the archive is truncated`, { file: zipPath });
      if (e.method === 0 && e.compressedSize !== e.uncompressedSize) throw new FairtuneError('FT_DATA_FORMAT', `${label}: stored entry with compressed size ${e.compressedSize} != size ${e.uncompressedSize}; the archive is corrupt`, { file: zipPath });
      mkdirSync(dirname(dest), { recursive: true });
      const tmp = `${dest}.unzipping`;
      const src = e.compressedSize > 0 ? createReadStream(zipPath, { start, end: start + e.compressedSize - 1, highWaterMark: 1 << 20 }) : Readable.from([]);
      const stages: NodeJS.ReadWriteStream[] = e.method === 8 ? [zlib.createInflateRaw(), new EntryCheck(e, label, zipPath)] : [new EntryCheck(e, label, zipPath)];
      try {
        await pipeline([src, ...stages, createWriteStream(tmp)], opts.signal ? { signal: opts.signal } : {});
      } catch (err) {
        rmSync(tmp, { force: true });
        const msg = err instanceof Error ? err.message : String(err);
        if (msg.startsWith(label)) throw err;
        const code = (err as { code?: string }).code;
        if (code?.startsWith('Z_')) throw new FairtuneError('FT_DATA_FORMAT', `${label}: deflate data are corrupt or truncated (${msg})`, { file: zipPath }, { cause: err });
        throw new Error(`${label}: ${msg}`, { cause: err });
      }
      renameSync(tmp, dest);
      out.push(dest);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
