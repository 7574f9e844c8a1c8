/**
 * A small zip writer for tests (APPNOTE.TXT 6.3 layout: local headers, data, optional data
 * descriptors, central directory, zip64 end record + locator, end record). It is independent of
 * unzip.ts so the reader is checked against archives built from the specification, and it can
 * place entries at arbitrary offsets (gaps), written sparsely, to exercise real >4 GiB offsets.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipWriterEntry {
  /** Stored name; a name ending in `/` is a directory entry. */
  name: string;
  data?: Uint8Array;
  /** 0 = stored, 8 = deflate (default 8 for files). */
  method?: 0 | 8;
  /** Unused bytes left before this entry's local header (written as a sparse hole by writeZipFile). */
  gapBefore?: number;
  /** Test hooks: the CRC-32 to declare, or the compressed bytes to write instead of the real ones. */
  crcOverride?: number;
  compressedOverride?: Uint8Array;
}

export interface ZipWriterOptions {
  /** Write zip64 fields for every entry and a zip64 end record even when nothing overflows. */
  forceZip64?: boolean;
  /** Bit 3: zero CRC/sizes in local headers, followed by a data descriptor (streaming writers). */
  dataDescriptor?: boolean;
  comment?: string;
}

interface Chunk {
  offset: number;
  bytes: Buffer;
}

const U32 = 0xffffffff;
const DOS_DATE = ((2019 - 1980) << 9) | (4 << 5) | 1;

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** Lays the archive out as positioned chunks (gaps between them stay unwritten). */
export function layoutZip(entries: ZipWriterEntry[], opts: ZipWriterOptions = {}): { chunks: Chunk[]; size: number } {
  const chunks: Chunk[] = [];
  const central: Buffer[] = [];
  let pos = 0;
  for (const e of entries) {
    pos += e.gapBefore ?? 0;
    const isDir = e.name.endsWith('/');
    const data = Buffer.from(e.data ?? new Uint8Array(0));
    const method = isDir ? 0 : (e.method ?? 8);
    const real = method === 8 ? deflateRawSync(data) : data;
    const comp = e.compressedOverride ? Buffer.from(e.compressedOverride) : real;
    const crc = e.crcOverride ?? crc32(data);
    const name = Buffer.from(e.name, 'utf8');
    const zipSizes = opts.forceZip64 || data.length >= U32 || comp.length >= U32;
    const zipOffset = opts.forceZip64 || pos >= U32;
    const flags = 0x0800 | (opts.dataDescriptor ? 0x0008 : 0);
    const version = zipSizes || zipOffset ? 45 : 20;

    // Local header: with zip64 sizes, both sizes are 0xFFFFFFFF and the extra holds them (APPNOTE 4.5.3).
    const localExtra = zipSizes ? Buffer.concat([Buffer.from([0x01, 0x00, 16, 0x00]), u64(opts.dataDescriptor ? 0 : data.length), u64(opts.dataDescriptor ? 0 : comp.length)]) : Buffer.alloc(0);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(version, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(0, 10);
    lh.writeUInt16LE(DOS_DATE, 12);
    lh.writeUInt32LE(opts.dataDescriptor ? 0 : crc, 14);
    lh.writeUInt32LE(zipSizes ? U32 : opts.dataDescriptor ? 0 : comp.length, 18);
    lh.writeUInt32LE(zipSizes ? U32 : opts.dataDescriptor ? 0 : data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(localExtra.length, 28);
    const localOffset = pos;
    const parts = [lh, name, localExtra, comp];
    if (opts.dataDescriptor) {
      const dd = zipSizes ? Buffer.alloc(24) : Buffer.alloc(16);
      dd.writeUInt32LE(0x08074b50, 0);
      dd.writeUInt32LE(crc, 4);
      if (zipSizes) {
        dd.writeBigUInt64LE(BigInt(comp.length), 8);
        dd.writeBigUInt64LE(BigInt(data.length), 16);
      } else {
        dd.writeUInt32LE(comp.length, 8);
        dd.writeUInt32LE(data.length, 12);
      }
      parts.push(dd);
    }
    const local = Buffer.concat(parts);
    chunks.push({ offset: pos, bytes: local });
    pos += local.length;

    // Central header: the zip64 extra holds only the overflowing fields, in the order size, compressed size, offset.
    const cExtraFields = [...(zipSizes ? [u64(data.length), u64(comp.length)] : []), ...(zipOffset ? [u64(localOffset)] : [])];
    const cExtraBody = Buffer.concat(cExtraFields);
    const cExtra = cExtraFields.length ? Buffer.concat([Buffer.from([0x01, 0x00, cExtraBody.length, 0x00]), cExtraBody]) : Buffer.alloc(0);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | version, 4); // made by: Unix
    ch.writeUInt16LE(version, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt16LE(0, 12);
    ch.writeUInt16LE(DOS_DATE, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(zipSizes ? U32 : comp.length, 20);
    ch.writeUInt32LE(zipSizes ? U32 : data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(cExtra.length, 30);
    ch.writeUInt16LE(0, 32);
    ch.writeUInt16LE(0, 34);
    ch.writeUInt16LE(0, 36);
    ch.writeUInt32LE((isDir ? 0o40755 : 0o100644) * 0x10000, 38);
    ch.writeUInt32LE(zipOffset ? U32 : localOffset, 42);
    central.push(Buffer.concat([ch, name, cExtra]));
  }
  const cd = Buffer.concat(central);
  const cdOffset = pos;
  chunks.push({ offset: pos, bytes: cd });
  pos += cd.length;
  const needZip64 = opts.forceZip64 || entries.length >= 0xffff || cd.length >= U32 || cdOffset >= U32 || entries.some((_, i) => central[i]!.readUInt32LE(42) === U32 || central[i]!.readUInt32LE(20) === U32);
  if (needZip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4); // size of the rest of the record
    rec.writeUInt16LE((3 << 8) | 45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeUInt32LE(0, 16);
    rec.writeUInt32LE(0, 20);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeUInt32LE(0, 4);
    loc.writeBigUInt64LE(BigInt(pos), 8);
    loc.writeUInt32LE(1, 16);
    chunks.push({ offset: pos, bytes: Buffer.concat([rec, loc]) });
    pos += 76;
  }
  const comment = Buffer.from(opts.comment ?? '', 'utf8');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(needZip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(needZip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(needZip64 ? U32 : cd.length, 12);
  end.writeUInt32LE(needZip64 ? U32 : cdOffset, 16);
  end.writeUInt16LE(comment.length, 20);
  chunks.push({ offset: pos, bytes: Buffer.concat([end, comment]) });
  pos += 22 + comment.length;
  return { chunks, size: pos };
}

/** The archive as one buffer (gaps zero-filled); for small archives. */
export function buildZip(entries: ZipWriterEntry[], opts: ZipWriterOptions = {}): Buffer {
  const { chunks, size } = layoutZip(entries, opts);
  const out = Buffer.alloc(size);
  for (const c of chunks) c.bytes.copy(out, c.offset);
  return out;
}

/** Writes the archive with positioned writes, so gaps become sparse holes that cost no disk. */
export function writeZipFile(path: string, entries: ZipWriterEntry[], opts: ZipWriterOptions = {}): number {
  const { chunks, size } = layoutZip(entries, opts);
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (const c of chunks) writeSync(fd, c.bytes, 0, c.bytes.length, c.offset);
  } finally {
    closeSync(fd);
  }
  return size;
}
