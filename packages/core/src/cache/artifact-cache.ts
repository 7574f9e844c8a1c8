/**
 * Content-addressed cache of stage results. One entry per stage execution key:
 *
 *   <root>/entries/<k[0:2]>/<key>/entry.json          what produced it + SHA-256 and size of every file
 *   <root>/entries/<k[0:2]>/<key>/outputs/<port>/…    one artifact per output port (artifact-codec.ts)
 *
 * An entry is assembled in <root>/tmp/ and renamed into place, so a crash never leaves a
 * half-written entry under entries/. Every lookup verifies sizes and checksums; a damaged
 * entry is deleted and reported, and the stage is recomputed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Artifact } from '../contracts/artifact.js';
import { readArtifact, writeArtifact } from './artifact-codec.js';

export interface EntryRecord {
  readonly key: string;
  readonly type: string;
  readonly version: string;
  readonly stageId: string;
  readonly pipeline: string;
  readonly created: string;
  readonly seconds: number;
  /** Last value of each metric the stage emitted, reported again when the entry is reused. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly outputs: Readonly<Record<string, string>>;
  readonly checksums: Readonly<Record<string, { readonly sha256: string; readonly size: number }>>;
}

export interface EntryInfo extends EntryRecord {
  readonly bytes: number;
  readonly lastUsed: string;
}

export type Lookup = { status: 'hit'; entry: EntryRecord } | { status: 'miss' } | { status: 'corrupt'; reason: string };

export class ArtifactCache {
  constructor(readonly root: string) {}

  #entryDir(key: string): string {
    return join(this.root, 'entries', key.slice(0, 2), key);
  }

  /** Verifies and returns an entry; a damaged one is removed and reported as corrupt. */
  async lookup(key: string): Promise<Lookup> {
    const dir = this.#entryDir(key);
    if (!existsSync(dir)) return { status: 'miss' };
    const reason = await this.#verify(dir, key);
    if (reason) {
      rmSync(dir, { recursive: true, force: true });
      return { status: 'corrupt', reason };
    }
    const entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as EntryRecord;
    const now = new Date();
    utimesSync(join(dir, 'entry.json'), now, now); // last-used time, for `cache ls` and gc
    return { status: 'hit', entry };
  }

  async #verify(dir: string, key: string): Promise<string | undefined> {
    let entry: EntryRecord;
    try {
      entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as EntryRecord;
    } catch (err) {
      return `entry.json is missing or unreadable (${(err as Error).message})`;
    }
    if (entry.key !== key || !entry.checksums) return 'entry.json does not describe this key';
    for (const [rel, expected] of Object.entries(entry.checksums)) {
      const path = join(dir, rel);
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        return `${rel} is missing`;
      }
      if (size !== expected.size) return `${rel} has ${size} bytes, expected ${expected.size}`;
      const digest = await hashFile(path);
      if (digest !== expected.sha256) return `${rel} fails its SHA-256 checksum`;
    }
    return undefined;
  }

  /** Loads one output artifact of a verified entry. */
  load(key: string, port: string): Artifact {
    const dir = join(this.#entryDir(key), 'outputs', port);
    if (!existsSync(dir)) throw new Error(`cache entry ${key} has no output "${port}"`);
    return readArtifact(dir);
  }

  /**
   * Stores a stage's outputs atomically and returns them as read back from the cache (files
   * then point into the cache, so scratch directories can be deleted).
   */
  async save(record: Omit<EntryRecord, 'checksums' | 'outputs' | 'created'>, outputs: Readonly<Record<string, Artifact>>): Promise<Record<string, Artifact>> {
    const tmp = join(this.root, 'tmp', `${record.key}-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { recursive: true });
    try {
      const checksums: Record<string, { sha256: string; size: number }> = {};
      const kinds: Record<string, string> = {};
      for (const [port, artifact] of Object.entries(outputs)) {
        const dir = join(tmp, 'outputs', port);
        mkdirSync(dir, { recursive: true });
        for (const rel of writeArtifact(dir, artifact)) {
          const path = join(dir, rel);
          checksums[`outputs/${port}/${rel}`] = { sha256: await hashFile(path), size: statSync(path).size };
        }
        kinds[port] = artifact.kind;
      }
      const entry: EntryRecord = { ...record, created: new Date().toISOString(), outputs: kinds, checksums };
      writeFileSync(join(tmp, 'entry.json'), JSON.stringify(entry, null, 1));
      const final = this.#entryDir(record.key);
      mkdirSync(join(final, '..'), { recursive: true });
      if (existsSync(final)) rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    return Object.fromEntries(Object.keys(outputs).map((port) => [port, this.load(record.key, port)]));
  }

  list(): EntryInfo[] {
    const base = join(this.root, 'entries');
    if (!existsSync(base)) return [];
    const out: EntryInfo[] = [];
    for (const shard of readdirSync(base)) {
      for (const key of readdirSync(join(base, shard))) {
        const dir = join(base, shard, key);
        try {
          const entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as EntryRecord;
          const bytes = Object.values(entry.checksums).reduce((s, c) => s + c.size, 0);
          out.push({ ...entry, bytes, lastUsed: statSync(join(dir, 'entry.json')).mtime.toISOString() });
        } catch {
          out.push({ key, type: '?', version: '?', stageId: '?', pipeline: '?', created: '?', seconds: 0, metrics: {}, outputs: {}, checksums: {}, bytes: 0, lastUsed: '?' });
        }
      }
    }
    return out.sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
  }

  remove(key: string): void {
    rmSync(this.#entryDir(key), { recursive: true, force: true });
  }

  /** Deletes leftovers of interrupted writes and every entry not in `keep`. Returns what was removed. */
  gc(keep: ReadonlySet<string>, options: { dryRun?: boolean } = {}): { removed: EntryInfo[]; tmpRemoved: number } {
    const removed = this.list().filter((e) => !keep.has(e.key));
    let tmpRemoved = 0;
    if (!options.dryRun) {
      for (const e of removed) this.remove(e.key);
      const tmp = join(this.root, 'tmp');
      if (existsSync(tmp)) {
        tmpRemoved = readdirSync(tmp).length;
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    return { removed, tmpRemoved };
  }

  clear(): void {
    rmSync(join(this.root, 'entries'), { recursive: true, force: true });
    rmSync(join(this.root, 'tmp'), { recursive: true, force: true });
  }
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
