/**
 * Streaming zip extraction (stored and deflate entries, via node:zlib) for the PPG-DaLiA
 * archive, whose `PPG_FieldStudy` data sit in a nested `data.zip`. Entries are streamed to
 * disk, so multi-GB archives never sit in memory. Zip64 archives are reported, not guessed.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  localOffset: number;
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = readSync(fd, b, 0, len, pos);
  return b.subarray(0, n);
}

export function listZip(path: string): Entry[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const tailLen = Math.min(size, 65557);
    const tail = readAt(fd, size - tailLen, tailLen);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error(`${path}: not a zip file (no end-of-central-directory record)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) throw new Error(`${path}: zip64 archives are not supported; extract it with unzip`);
    const cd = readAt(fd, cdOffset, cdSize);
    const entries: Entry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${path}: corrupt central directory at entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      const compressedSize = cd.readUInt32LE(p + 20);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const localOffset = cd.readUInt32LE(p + 42);
      entries.push({ name: cd.subarray(p + 46, p + 46 + nameLen).toString('utf8'), method, compressedSize, localOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Extracts every entry of `zipPath` under `destDir`; returns the extracted file paths. */
export async function extractZip(zipPath: string, destDir: string): Promise<string[]> {
  const entries = listZip(zipPath);
  const out: string[] = [];
  const root = resolve(destDir);
  const fd = openSync(zipPath, 'r');
  try {
    for (const e of entries) {
      const dest = resolve(root, e.name);
      if (!dest.startsWith(root + sep) && dest !== root) throw new Error(`${zipPath}: entry ${e.name} escapes the destination`);
      if (e.name.endsWith('/')) {
        mkdirSync(dest, { recursive: true });
        continue;
      }
      const local = readAt(fd, e.localOffset, 30);
      if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipPath}: corrupt local header for ${e.name}`);
      const start = e.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      mkdirSync(dirname(dest), { recursive: true });
      const src = createReadStream(zipPath, { start, end: start + e.compressedSize - 1 });
      if (e.method === 0) await pipeline(src, createWriteStream(dest));
      else if (e.method === 8) await pipeline(src, createInflateRaw(), createWriteStream(dest));
      else throw new Error(`${zipPath}: entry ${e.name} uses compression method ${e.method}; only stored and deflate are supported`);
      out.push(dest);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
