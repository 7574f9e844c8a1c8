/**
 * Leases: how a live run tells cache maintenance what it must not touch.
 *
 *   <cache>/leases/<id>.json   { format, id, pid, hostname, started, pipeline, keys }
 *   <cache>/tmp/<id>/…         the run's temporary items: entries being written, stages' work folders
 *
 * A run writes its lease before it looks anything up and removes it (and `tmp/<id>/`) when it
 * ends. `cache gc` keeps every entry a live lease names and that lease's `tmp/<id>/`; a lease
 * whose process is gone (killed run) is stale and collected with its temporary folder. The
 * file is touched every minute, which is what another host sharing the cache goes by.
 *
 * `<cache>/gc.lock` is held by a running gc or clear. A run that starts while one holds it
 * waits (after writing its lease) until it is done, so gc never deletes an entry between a
 * new run's lookup and its read: either gc read that run's lease, or the run saw the lock.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownerAlive, processOwner, type ProcessOwner } from './liveness.js';
import { FairtuneError } from '../contracts/errors.js';

export const LEASE_FORMAT = 'fairtune-lease/1';
/** A lease written by another host is live while touched within this time. */
export const FOREIGN_LEASE_TTL_MS = 15 * 60_000;
/** A gc lock written by another host is live while touched within this time. */
export const FOREIGN_GC_LOCK_TTL_MS = 10 * 60_000;
const HEARTBEAT_MS = 60_000;
const GC_LOCK = 'gc.lock';

export interface LeaseRecord extends ProcessOwner {
  readonly format: string;
  readonly id: string;
  readonly pipeline?: string;
  /** Cache keys the run reads or writes. */
  readonly keys: readonly string[];
}

export class CacheLease {
  readonly id: string;
  /** `<cache>/tmp/<id>`: every temporary item of this run lives here. */
  readonly tmpDir: string;
  /** Resolves when no cache gc or clear is running; await it before the first lookup. */
  ready: Promise<void>;
  readonly #root: string;
  readonly #file: string;
  readonly #keys: Set<string>;
  readonly #pipeline?: string;
  readonly #timer: NodeJS.Timeout;
  #released = false;

  constructor(root: string, keys: Iterable<string>, pipeline?: string) {
    this.#root = root;
    const owner = processOwner();
    this.id = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${owner.pid}-${randomBytes(3).toString('hex')}`;
    this.tmpDir = join(root, 'tmp', this.id);
    this.#file = join(root, 'leases', `${this.id}.json`);
    this.#keys = new Set(keys);
    this.#pipeline = pipeline;
    try {
      mkdirSync(join(root, 'leases'), { recursive: true });
      this.#write();
    } catch (err) {
      throw new FairtuneError('FT_RUN_SETUP', `cannot write the run's lease ${this.#file} in the cache: ${fsReason(err)}`, { file: this.#file }, { cause: err });
    }
    this.#timer = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(this.#file, now, now);
      } catch {
        /* released, or the cache was removed under us: nothing to keep alive */
      }
    }, HEARTBEAT_MS);
    this.#timer.unref();
    this.ready = waitWhileGcRuns(root);
  }

  /** Names more keys the run will read or write (e.g. stages planned while it runs); await before looking them up. */
  addKeys(keys: Iterable<string>): Promise<void> {
    const before = this.#keys.size;
    for (const k of keys) this.#keys.add(k);
    if (this.#keys.size === before || this.#released) return this.ready;
    this.#write();
    this.ready = waitWhileGcRuns(this.#root);
    return this.ready;
  }

  /** A fresh, empty work folder for a stage, inside this run's temporary folder. */
  workDir(stageId: string): string {
    const dir = join(this.tmpDir, `work-${stageId.replace(/[^\w.=,[\]-]/g, '_')}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new FairtuneError('FT_RUN_SETUP', `cannot create the work folder ${dir}: ${fsReason(err)}`, { file: dir }, { cause: err });
    }
    return dir;
  }

  /** A path for a temporary item (not created), inside this run's temporary folder. */
  tmpPath(prefix: string): string {
    try {
      mkdirSync(this.tmpDir, { recursive: true });
    } catch (err) {
      throw new FairtuneError('FT_RUN_SETUP', `cannot create the run's temporary folder ${this.tmpDir}: ${fsReason(err)}`, { file: this.tmpDir }, { cause: err });
    }
    return join(this.tmpDir, `${prefix}-${randomBytes(4).toString('hex')}`);
  }

  /** Removes the temporary folder and the lease. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    rmSync(this.tmpDir, { recursive: true, force: true, maxRetries: 3 });
    rmSync(this.#file, { force: true });
  }

  #write(): void {
    const record: LeaseRecord = { format: LEASE_FORMAT, id: this.id, ...processOwner(), ...(this.#pipeline ? { pipeline: this.#pipeline } : {}), keys: [...this.#keys] };
    // Written aside and renamed, so gc never reads half a lease.
    const tmp = join(this.#root, 'leases', `.${this.id}.json.tmp`);
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, this.#file);
  }
}

export interface LeaseState {
  /** File name under leases/. */
  readonly name: string;
  readonly record?: LeaseRecord;
  readonly live: boolean;
}

/** Every lease file and whether its run is live. */
export function readLeases(root: string, now = Date.now()): LeaseState[] {
  const dir = join(root, 'leases');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: LeaseState[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let mtime: number;
    try {
      mtime = statSync(path).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    let record: LeaseRecord | undefined;
    if (name.endsWith('.json') && !name.startsWith('.')) {
      try {
        record = JSON.parse(readFileSync(path, 'utf8')) as LeaseRecord;
      } catch {
        record = undefined;
      }
    }
    // Unreadable or a write that never got renamed: live only for a minute (it may be in progress).
    const live = record && Array.isArray(record.keys) ? ownerAlive(record, mtime, FOREIGN_LEASE_TTL_MS, now) : now - mtime < 60_000;
    out.push({ name, record: record && Array.isArray(record.keys) ? record : undefined, live });
  }
  return out;
}

function gcLockState(root: string, now = Date.now()): { live: boolean; owner?: Partial<ProcessOwner> } | undefined {
  const path = join(root, GC_LOCK);
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  let owner: Partial<ProcessOwner> | undefined;
  try {
    owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<ProcessOwner>;
  } catch {
    // Created but not written yet: live for a few seconds.
    return { live: now - mtime < 10_000 };
  }
  return { live: ownerAlive(owner, mtime, FOREIGN_GC_LOCK_TTL_MS, now), owner };
}

async function waitWhileGcRuns(root: string): Promise<void> {
  while (gcLockState(root)?.live) await new Promise((r) => setTimeout(r, 50));
}

export class GcBusyError extends FairtuneError {
  override readonly name = 'GcBusyError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_CACHE_BUSY', message, {}, options);
  }
}

export interface GcLock {
  /** Marks the lock as still held (for hosts that cannot check the process). */
  refresh(): void;
  release(): void;
}

/** Takes `<cache>/gc.lock`, replacing a stale one; throws GcBusyError when a live gc or clear holds it. */
export function acquireGcLock(root: string): GcLock {
  const path = join(root, GC_LOCK);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(processOwner()), { flag: 'wx' });
      let last = Date.now();
      return {
        refresh: () => {
          if (Date.now() - last < 5_000) return;
          last = Date.now();
          try {
            utimesSync(path, new Date(), new Date());
          } catch {
            /* best effort */
          }
        },
        release: () => rmSync(path, { force: true }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const state = gcLockState(root);
      if (state?.live) {
        const who = state.owner?.pid ? ` (pid ${state.owner.pid}${state.owner.hostname ? ` on ${state.owner.hostname}` : ''})` : '';
        throw new GcBusyError(`another cache gc or clear is running on ${root}${who}`);
      }
      // Stale (its process is gone): move it aside, then try again.
      const aside = `${path}.stale-${randomBytes(3).toString('hex')}`;
      try {
        renameSync(path, aside);
        rmSync(aside, { force: true });
      } catch {
        /* another gc replaced it first */
      }
    }
  }
  throw new GcBusyError(`could not take ${path}`);
}

/** Why a file-system call failed, in one line: "a part of the path is a file (ENOTDIR)". */
export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const why: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a folder',
    EEXIST: 'a file is in the way',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    ENAMETOOLONG: 'the name is too long',
    ELOOP: 'a loop of symbolic links',
    ENOENT: 'it does not exist',
  };
  if (code && why[code]) return `${why[code]} (${code})`;
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!;
}
