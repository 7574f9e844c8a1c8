/**
 * Content-addressed cache of stage results. One entry per stage execution key:
 *
 *   <root>/fairtune-cache.json                         marker: this folder is a FairTune cache
 *   <root>/entries/<k[0:2]>/<key>/entry.json          what produced it + SHA-256 and size of every file
 *   <root>/entries/<k[0:2]>/<key>/outputs/<port>/…    one artifact per output port (artifact-codec.ts)
 *   <root>/leases/<id>.json, <root>/tmp/<id>/…         live runs and their temporary items (lease.ts)
 *
 * An entry is assembled in the writing run's tmp/<id>/ and renamed into place, so a crash never
 * leaves a half-written entry under entries/, and an entry, once there, is never replaced: a
 * writer that finds the key already stored (another run won the race) verifies the winner and
 * uses it. Every lookup verifies the entry against the files it holds (list, sizes, checksums,
 * manifests); a damaged entry is moved out of entries/ at once, deleted and reported, and the
 * stage is recomputed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bytesPerElement, type Artifact, type DType } from '../contracts/artifact.js';
import { ARTIFACT_FORMAT, readArtifact, writeArtifact, type ArtifactManifest } from './artifact-codec.js';
import { acquireGcLock, CacheLease, readLeases } from './lease.js';
import { processAlive } from './liveness.js';
import type { Redactor } from '../pipeline/secrets.js';

export const CACHE_MARKER = 'fairtune-cache.json';
export const CACHE_FORMAT = 'fairtune-cache/1';

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
  /**
   * Every metric event in the order the stage emitted it (per step, per epoch), so that a stage of
   * a trial taken from the cache replays to its optimiser what it reported when it ran.
   */
  readonly series?: readonly MetricPoint[];
  readonly outputs: Readonly<Record<string, string>>;
  readonly checksums: Readonly<Record<string, { readonly sha256: string; readonly size: number }>>;
}

export interface MetricPoint {
  readonly name: string;
  readonly value: number;
  readonly step?: number;
  readonly epoch?: number;
}

export interface EntryInfo extends EntryRecord {
  readonly bytes: number;
  readonly lastUsed: string;
}

export type Lookup = { status: 'hit'; entry: EntryRecord } | { status: 'miss' } | { status: 'corrupt'; reason: string };

/** Something gc removes (or, with dryRun, would remove) besides entries, and why. */
export interface Leftover {
  readonly path: string;
  readonly why: string;
}

export interface CacheGcResult {
  /** Entries removed (or that would be). */
  readonly removed: EntryInfo[];
  /** Entries kept because a live run's lease names them (and `keep` does not). */
  readonly keptLive: number;
  /** Temporary items and lease files of runs that are gone. */
  readonly leftovers: Leftover[];
}

const TOP_LEVEL = new Set(['entries', 'tmp', 'leases', CACHE_MARKER]);

export interface ArtifactCacheOptions {
  /**
   * Secrets of the run writing to the cache (pipeline/secrets.ts): their text is replaced by
   * `[redacted]` in the artifacts' metadata and text files before they are stored.
   */
  readonly redactor?: Redactor;
}

export class ArtifactCache {
  readonly #redactor?: Redactor;

  constructor(
    readonly root: string,
    options: ArtifactCacheOptions = {},
  ) {
    this.#redactor = options.redactor?.active ? options.redactor : undefined;
  }

  #entryDir(key: string): string {
    return join(this.root, 'entries', key.slice(0, 2), key);
  }

  /**
   * Why `root` must not be treated as a cache (gc and clear refuse it), or undefined: it holds
   * the marker, or is laid out as a cache written before the marker existed, or is empty.
   */
  notACache(): string | undefined {
    if (existsSync(join(this.root, CACHE_MARKER))) return undefined;
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch (err) {
      return `${this.root} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    if (names.length === 0 || looksLikeCache(this.root, names)) return undefined;
    return `${this.root} is not a FairTune cache (no ${CACHE_MARKER}, and it holds other things than a cache's entries/, tmp/ and leases/)`;
  }

  /** Creates the cache folder with its marker, or marks an existing cache that predates the marker. */
  ensureMarker(): void {
    const marker = join(this.root, CACHE_MARKER);
    if (existsSync(marker)) return;
    mkdirSync(this.root, { recursive: true });
    const names = readdirSync(this.root);
    // A folder that is not a cache (someone pointed --cache-dir at it) is not marked as one.
    if (names.length > 0 && !looksLikeCache(this.root, names)) return;
    try {
      writeFileSync(marker, JSON.stringify({ format: CACHE_FORMAT, created: new Date().toISOString() }) + '\n', { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  /**
   * Declares a run on this cache: the keys it will read or write, and a temporary folder for its
   * entries in progress and stages' work folders. Release it when the run ends.
   */
  lease(keys: Iterable<string>, info: { pipeline?: string } = {}): CacheLease {
    this.ensureMarker();
    return new CacheLease(this.root, keys, info.pipeline);
  }

  /** Verifies and returns an entry; a damaged one is removed and reported as corrupt. */
  async lookup(key: string): Promise<Lookup> {
    const dir = this.#entryDir(key);
    let ino: number;
    try {
      ino = statSync(dir).ino;
    } catch {
      return { status: 'miss' };
    }
    const reason = await this.#verify(dir, key);
    if (reason) {
      if (!existsSync(dir)) return { status: 'miss' };
      this.#discard(dir, ino);
      return { status: 'corrupt', reason };
    }
    const entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as EntryRecord;
    try {
      const now = new Date();
      utimesSync(join(dir, 'entry.json'), now, now); // last-used time, for `cache ls` and gc
    } catch {
      /* read-only cache: the time is a convenience */
    }
    return { status: 'hit', entry };
  }

  /**
   * Why an entry is damaged, or undefined. The files it holds must be exactly those entry.json
   * lists (so dropping a file's checksum from entry.json does not make it trusted), each with
   * its size and SHA-256, and every output's manifest must describe files and arrays it holds.
   */
  async #verify(dir: string, key: string): Promise<string | undefined> {
    let entry: EntryRecord;
    try {
      entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as EntryRecord;
    } catch (err) {
      return `entry.json is missing or unreadable (${(err as Error).message})`;
    }
    if (!entry || entry.key !== key || !entry.checksums || typeof entry.checksums !== 'object' || !entry.outputs || typeof entry.outputs !== 'object') return 'entry.json does not describe this key';
    let held: string[];
    try {
      held = listFiles(dir).filter((rel) => rel !== 'entry.json');
    } catch (err) {
      return `its files cannot be listed (${(err as Error).message})`;
    }
    for (const rel of held) if (!Object.hasOwn(entry.checksums, rel)) return `${rel} is not in entry.json's file list`;
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
    const ports = Object.keys(entry.outputs);
    for (const rel of held) {
      const port = /^outputs\/([^/]+)\//.exec(rel)?.[1];
      if (!port || !ports.includes(port)) return `${rel} belongs to no output named in entry.json`;
    }
    for (const port of ports) {
      const base = `outputs/${port}`;
      if (!Object.hasOwn(entry.checksums, `${base}/manifest.json`)) return `${base}/manifest.json is missing`;
      let manifest: ArtifactManifest;
      try {
        manifest = JSON.parse(readFileSync(join(dir, base, 'manifest.json'), 'utf8')) as ArtifactManifest;
      } catch {
        return `${base}/manifest.json is unreadable`;
      }
      const problem = manifestProblem(manifest, base, (rel) => entry.checksums[rel]?.size);
      if (problem) return problem;
    }
    return undefined;
  }

  /** Loads one output artifact of a verified entry; an entry that cannot be read is removed. */
  load(key: string, port: string): Artifact {
    const entry = this.#entryDir(key);
    const dir = join(entry, 'outputs', port);
    if (!existsSync(dir)) throw new Error(`cache entry ${key} has no output "${port}"`);
    try {
      return readArtifact(dir);
    } catch (err) {
      this.#discard(entry);
      throw new Error(`cache entry ${key.slice(0, 12)} is broken (${(err as Error).message}); it was removed, so the next run recomputes it`);
    }
  }

  /**
   * Stores a stage's outputs atomically and returns them as read back from the cache (files
   * then point into the cache, so scratch directories can be deleted). When the entry is
   * already there (another run stored the same key first), that entry is verified and its
   * artifacts are returned; this writer's copy is discarded. Pass the run's lease; without one
   * the save takes its own for its duration.
   */
  async save(record: Omit<EntryRecord, 'checksums' | 'outputs' | 'created'>, outputs: Readonly<Record<string, Artifact>>, lease?: CacheLease): Promise<Record<string, Artifact>> {
    const own = lease ?? this.lease([record.key], { pipeline: record.pipeline });
    let tmp: string | undefined;
    try {
      await own.ready;
      tmp = own.tmpPath(`save-${record.key.slice(0, 16)}`);
      mkdirSync(tmp, { recursive: true });
      const checksums: Record<string, { sha256: string; size: number }> = {};
      const kinds: Record<string, string> = {};
      for (const [port, artifact] of Object.entries(outputs)) {
        const dir = join(tmp, 'outputs', port);
        mkdirSync(dir, { recursive: true });
        const stored = this.#redactor ? redactArtifact(artifact, this.#redactor, join(tmp, 'redacted', port)) : artifact;
        for (const rel of writeArtifact(dir, stored)) {
          const path = join(dir, rel);
          checksums[`outputs/${port}/${rel}`] = { sha256: await hashFile(path), size: statSync(path).size };
        }
        kinds[port] = artifact.kind;
      }
      const entry: EntryRecord = { ...record, created: new Date().toISOString(), outputs: kinds, checksums };
      rmSync(join(tmp, 'redacted'), { recursive: true, force: true });
      writeFileSync(join(tmp, 'entry.json'), JSON.stringify(this.#redactor ? this.#redactor.json(entry) : entry, null, 1));
      await this.#commit(tmp, record.key);
      return Object.fromEntries(Object.keys(outputs).map((port) => [port, this.load(record.key, port)]));
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      if (!lease) own.release();
    }
  }

  /** Renames a complete entry into place; if the key is already stored, keeps a valid winner. */
  async #commit(tmp: string, key: string): Promise<void> {
    const final = this.#entryDir(key);
    for (let attempt = 0; ; attempt++) {
      // entries/ and its shard folders hold only folders: a file in their place is damage, set aside like a damaged entry.
      for (const dir of [join(this.root, 'entries'), dirname(final)]) {
        try {
          if (!statSync(dir).isDirectory()) this.#discard(dir);
        } catch {
          /* absent: created next */
        }
      }
      mkdirSync(dirname(final), { recursive: true });
      try {
        renameSync(tmp, final);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        let ino: number;
        try {
          ino = statSync(final).ino;
        } catch {
          // Not there (the shard folder vanished, or a damaged winner was just removed): try again.
          if (attempt < 5 && (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM')) continue;
          throw err;
        }
        const reason = await this.#verify(final, key);
        if (!reason) return; // another writer won: use its entry
        if (attempt >= 5) throw new Error(`cannot store cache entry ${key}: the entry in its place is damaged (${reason}) and could not be replaced`);
        this.#discard(final, ino);
      }
    }
  }

  /**
   * Takes an entry out of entries/ in one rename (readers never see half of it), then deletes
   * it. With `ino`, only if the folder there is still the one that was examined.
   */
  #discard(dir: string, ino?: number): void {
    try {
      if (ino !== undefined && statSync(dir).ino !== ino) return;
    } catch {
      return;
    }
    mkdirSync(join(this.root, 'tmp'), { recursive: true });
    const aside = join(this.root, 'tmp', `discard-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      renameSync(dir, aside);
    } catch {
      return; // already gone
    }
    try {
      rmSync(aside, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* a later gc collects it */
    }
  }

  list(): EntryInfo[] {
    const base = join(this.root, 'entries');
    if (!existsSync(base)) return [];
    const out: EntryInfo[] = [];
    for (const shard of readdirSync(base)) {
      let keys: string[];
      try {
        keys = readdirSync(join(base, shard));
      } catch {
        continue;
      }
      for (const key of keys) {
        const dir = join(base, shard, key);
        try {
          const entry = JSON.parse(readFileSync(join(dir, 'entry.json'), 'utf8')) as EntryRecord;
          const bytes = Object.values(entry.checksums).reduce((s, c) => s + c.size, 0);
          out.push({ ...entry, bytes, lastUsed: statSync(join(dir, 'entry.json')).mtime.toISOString() });
        } catch {
          if (!existsSync(dir)) continue; // removed meanwhile
          out.push({ key, type: '?', version: '?', stageId: '?', pipeline: '?', created: '?', seconds: 0, metrics: {}, outputs: {}, checksums: {}, bytes: 0, lastUsed: '?' });
        }
      }
    }
    return out.sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
  }

  remove(key: string): void {
    this.#discard(this.#entryDir(key));
  }

  /**
   * Deletes every entry that is neither in `keep` nor named by a live run's lease, the
   * temporary items of runs that are gone (a live run's `tmp/<id>/` is kept) and stale leases.
   * Holds gc.lock meanwhile (runs starting then wait for it); with dryRun only reports.
   */
  gc(keep: ReadonlySet<string>, options: { dryRun?: boolean } = {}): CacheGcResult {
    if (!existsSync(this.root)) return { removed: [], keptLive: 0, leftovers: [] };
    const lock = options.dryRun ? undefined : acquireGcLock(this.root);
    try {
      // tmp/ is listed before the leases are read: an item there belongs to a lease written before.
      const tmpNames = safeReaddir(join(this.root, 'tmp'));
      const leases = readLeases(this.root);
      const live = leases.filter((l) => l.live);
      const liveKeys = new Set(live.flatMap((l) => l.record?.keys ?? []));
      const liveIds = new Set(live.map((l) => l.name.replace(/\.json$/, '')));
      const staleById = new Map(leases.filter((l) => !l.live && l.record).map((l) => [l.record!.id, l.record!]));
      const entries = this.list();
      const removed = entries.filter((e) => !keep.has(e.key) && !liveKeys.has(e.key));
      const keptLive = entries.filter((e) => !keep.has(e.key) && liveKeys.has(e.key)).length;
      const leftovers: Leftover[] = [];
      for (const name of tmpNames) {
        if (liveIds.has(name)) continue;
        const pid = /^discard-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
        if (pid && processAlive(Number(pid))) continue; // an entry being deleted by a live process
        const stale = staleById.get(name);
        const why = stale
          ? `temporary folder (entries being written, work folders) of a run that is gone: pid ${stale.pid} on ${stale.hostname}${stale.pipeline ? `, pipeline ${stale.pipeline}` : ''}, started ${stale.started}`
          : /^work-/.test(name)
            ? 'work folder of a stage, left by an interrupted run (no live run owns it)'
            : 'temporary item no live run owns (an interrupted write)';
        leftovers.push({ path: join(this.root, 'tmp', name), why });
      }
      for (const item of strayEntryItems(this.root)) leftovers.push({ path: item, why: 'not a cache entry: entries/ holds only <2 hex digits>/ folders' });
      for (const l of leases) {
        if (l.live) continue;
        const why = l.record ? `lease of a run that is gone (pid ${l.record.pid} on ${l.record.hostname}${l.record.pipeline ? `, pipeline ${l.record.pipeline}` : ''})` : 'unreadable lease file';
        leftovers.push({ path: join(this.root, 'leases', l.name), why });
      }
      if (lock) {
        for (const e of removed) {
          this.#discard(this.#entryDir(e.key));
          lock.refresh();
        }
        for (const item of leftovers) {
          rmSync(item.path, { recursive: true, force: true, maxRetries: 3 });
          lock.refresh();
        }
      }
      return { removed, keptLive, leftovers };
    } finally {
      lock?.release();
    }
  }

  /** Deletes every entry no live run uses, and what runs that are gone left behind. */
  clear(options: { dryRun?: boolean } = {}): CacheGcResult {
    return this.gc(new Set(), options);
  }
}

/** Items directly under entries/ that are not shard folders: a file, a link, a folder with another name. */
function strayEntryItems(root: string): string[] {
  const base = join(root, 'entries');
  try {
    return readdirSync(base, { withFileTypes: true })
      .filter((d) => !d.isDirectory() || !/^[0-9a-f]{2}$/.test(d.name))
      .map((d) => join(base, d.name));
  } catch {
    return [];
  }
}

/**
 * The artifact as the cache stores it for a run with secrets: metadata scrubbed, and each text
 * file holding a secret's text replaced by a scrubbed copy written under `scratch`. Binary files
 * (a NUL byte in their first 8 KiB) are stored as they are.
 */
function redactArtifact(a: Artifact, redactor: Redactor, scratch: string): Artifact {
  const files: Record<string, string> = {};
  for (const [name, path] of Object.entries(a.files)) {
    files[name] = path;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      continue; // writeArtifact reports the missing file
    }
    if (bytes.subarray(0, 8192).includes(0) || !redactor.values.some((v) => bytes.includes(v))) continue;
    mkdirSync(scratch, { recursive: true });
    const copy = join(scratch, name.replace(/[/\\]/g, '_'));
    writeFileSync(copy, redactor.text(bytes.toString('utf8')));
    files[name] = copy;
  }
  return { ...a, meta: redactor.json(a.meta), files };
}

/** Whether `names` (the folder's contents) are a cache's layout: entries/ with <2 hex>/<64 hex> folders, and only cache files beside it. */
function looksLikeCache(root: string, names: readonly string[]): boolean {
  if (!names.includes('entries')) return false;
  if (!names.every((n) => TOP_LEVEL.has(n) || n.startsWith('gc.lock'))) return false;
  try {
    for (const shard of readdirSync(join(root, 'entries'), { withFileTypes: true })) {
      if (!shard.isDirectory() || !/^[0-9a-f]{2}$/.test(shard.name)) return false;
      for (const key of readdirSync(join(root, 'entries', shard.name))) if (!/^[0-9a-f]{64}$/.test(key) || !key.startsWith(shard.name)) return false;
    }
  } catch {
    return false;
  }
  return true;
}

function manifestProblem(m: ArtifactManifest, base: string, sizeOf: (rel: string) => number | undefined): string | undefined {
  if (!m || typeof m !== 'object' || m.format !== ARTIFACT_FORMAT || typeof m.kind !== 'string' || !m.arrays || typeof m.arrays !== 'object' || !m.files || typeof m.files !== 'object') {
    return `${base}/manifest.json is not a ${ARTIFACT_FORMAT} manifest`;
  }
  const arrays = Object.entries(m.arrays);
  if (arrays.length) {
    const size = sizeOf(`${base}/arrays.bin`);
    if (size === undefined) return `${base}/arrays.bin is missing`;
    for (const [name, a] of arrays) {
      let per: number;
      try {
        per = bytesPerElement(a.dtype as DType);
      } catch {
        return `${base}: array "${name}" has an unknown dtype`;
      }
      const count = Array.isArray(a.shape) ? a.shape.reduce((x, y) => x * y, 1) : NaN;
      if (!(a.offset >= 0) || a.offset % per !== 0 || a.byteLength !== count * per || a.offset + a.byteLength > size) return `${base}: array "${name}" does not fit arrays.bin`;
    }
  }
  for (const rel of Object.values(m.files)) if (typeof rel !== 'string' || sizeOf(`${base}/${rel}`) === undefined) return `${base}/${String(rel)} is missing`;
  return undefined;
}

/** Every file under `dir`, relative, with / separators. */
function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, path));
    else out.push(path);
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
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
