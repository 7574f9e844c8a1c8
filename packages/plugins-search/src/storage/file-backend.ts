/**
 * The journal in one file, shared with Python Optuna writers: Optuna's `JournalFileStorage`
 * (3.1 and later) with `JournalFileOpenLock`.
 *
 * Lock protocol: a writer appends only while it holds `<journal>.lock`, a file it creates with
 * `O_CREAT | O_EXCL` (so exactly one creator wins, NFSv3 and later included); it releases the lock
 * by renaming the file to a unique `<journal>.lock<uuid>.rename` and removing that. Waiters retry
 * after 1 ms, doubling to at most 1 s. Python's default `JournalFileSymlinkLock` uses the same path
 * (a symlink instead of a file), so writers using either lock exclude each other. A stale lock (its
 * holder died) is broken as Optuna ≥ 3.4 does: a waiter that has seen the lock's mtime unchanged
 * for the grace period (30 s) releases it itself; Optuna 3.1 has no grace period and waits.
 *
 * Reading follows Optuna's `read_logs`: a record is a line ending in `\n`; a last line that is
 * incomplete or not valid JSON (a writer killed mid-write) is left unread and read again next time;
 * a bad line followed by more lines is an error. Unlike Optuna, an append first cuts such a torn
 * last line off (under the lock, so its writer is gone): appending after it would glue the new
 * record onto it and turn one lost record into a file no reader accepts.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JournalBackend, JournalRecord } from './backend.js';
import { pyJsonDumps, pyJsonLoads } from './python-json.js';
import { FairtuneError, type ErrorSubject } from '@fairtune/core/plugin';

export const LOCK_FILE_SUFFIX = '.lock';
export const RENAME_FILE_SUFFIX = '.rename';
/** Optuna's default grace period before a lock nobody touches is broken. */
export const DEFAULT_LOCK_GRACE_PERIOD_MS = 30_000;

export interface JournalFileLock {
  /** Blocks until this process holds the lock. */
  acquire(): void;
  release(): void;
}

export interface JournalFileLockOptions {
  /** A lock whose mtime stays unchanged this long while we wait is broken; `null` waits forever (Optuna 3.1). Default 30 s. */
  readonly gracePeriodMs?: number | null;
  /** Where warnings go (a slow lock, a broken lock, a repaired torn line). Default `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function defaultWarning(message: string): void {
  process.emitWarning(message, 'FairTuneJournalWarning');
}

function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Optuna's `JournalFileOpenLock`: `<journal>.lock` created with O_EXCL. */
export class JournalFileOpenLock implements JournalFileLock {
  readonly lockPath: string;
  readonly gracePeriodMs: number | null;
  readonly #warn: (message: string) => void;

  constructor(journalPath: string, options: JournalFileLockOptions = {}) {
    this.lockPath = journalPath + LOCK_FILE_SUFFIX;
    this.gracePeriodMs = options.gracePeriodMs === undefined ? DEFAULT_LOCK_GRACE_PERIOD_MS : options.gracePeriodMs;
    if (this.gracePeriodMs !== null && !(this.gracePeriodMs > 0)) throw new Error(`journal lock: the grace period must be positive (got ${this.gracePeriodMs})`);
    this.#warn = options.onWarning ?? defaultWarning;
  }

  acquire(): void {
    let sleep = 1;
    const warningInterval = 10_000;
    let lastUpdate = performance.now();
    let lastWarning = performance.now();
    let mtime: number | undefined;
    for (;;) {
      try {
        closeSync(openSync(this.lockPath, 'wx'));
        return;
      } catch (e) {
        if (errorCode(e) !== 'EEXIST') throw e;
      }
      if (performance.now() - lastWarning > warningInterval) {
        this.#warn(`It is taking longer than ${warningInterval / 1000} seconds to acquire the lock file ${this.lockPath}; retrying.`);
        lastWarning = performance.now();
      }
      if (this.gracePeriodMs !== null) {
        let current: number;
        try {
          // lstat: a Python symlink lock's own time, not its target's.
          current = lstatSync(this.lockPath).mtimeMs;
        } catch {
          continue; // released meanwhile: try again at once
        }
        if (current !== mtime) {
          mtime = current;
          lastUpdate = performance.now();
        }
        if (performance.now() - lastUpdate > this.gracePeriodMs) {
          this.#warn(`The lock file ${this.lockPath} has not been released for ${this.gracePeriodMs / 1000} s; releasing it (its holder is presumed dead).`);
          lastWarning = performance.now();
          try {
            this.release();
            sleep = 1;
          } catch {
            continue; // another waiter broke it first
          }
        }
      }
      sleepMs(sleep);
      sleep = Math.min(sleep * 2, 1000);
    }
  }

  release(): void {
    const renamed = this.lockPath + randomUUID() + RENAME_FILE_SUFFIX;
    try {
      renameSync(this.lockPath, renamed);
    } catch (e) {
      throw new FairtuneError('FT_STUDY_UNREACHABLE', `journal lock ${this.lockPath}: did not possess the lock (${errorCode(e) ?? String(e)})`, { file: this.lockPath });
    }
    unlinkSync(renamed);
  }
}

export interface JournalFileBackendOptions extends JournalFileLockOptions {
  /** The lock to append under; default a `JournalFileOpenLock` on the journal's path with these options. */
  readonly lock?: JournalFileLock;
}

/** A journal's unreadable line that is not its last: Optuna refuses the file too. */
export class JournalFormatError extends FairtuneError {
  override readonly name = 'JournalFormatError';
  constructor(message: string, options?: ErrorOptions, about: ErrorSubject = {}) {
    super('FT_STUDY_FORMAT', message, about, options);
  }
}

export class JournalFileBackend implements JournalBackend {
  readonly lock: JournalFileLock;
  /** offsets[n]: byte offset where log n starts, for every n read so far (and one past). */
  readonly #offsets: number[] = [0];
  readonly #warn: (message: string) => void;

  constructor(
    readonly path: string,
    options: JournalFileBackendOptions = {},
  ) {
    mkdirSync(dirname(path), { recursive: true });
    closeSync(openSync(path, 'a'));
    this.lock = options.lock ?? new JournalFileOpenLock(path, options);
    this.#warn = options.onWarning ?? defaultWarning;
  }

  readLogs(from: number): Record<string, unknown>[] {
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      let n = Math.min(from, this.#offsets.length - 1);
      const base = this.#offsets[n]!;
      if (size <= base) return [];
      const buf = Buffer.allocUnsafe(size - base);
      readFully(fd, buf, base, this.path);
      const logs: Record<string, unknown>[] = [];
      let deferred: JournalFormatError | undefined;
      for (let pos = 0; pos < buf.length; n++) {
        if (deferred) throw deferred;
        const nl = buf.indexOf(10, pos);
        const end = nl === -1 ? buf.length : nl + 1;
        if (n + 1 === this.#offsets.length) this.#offsets.push(base + end);
        if (n >= from) {
          let problem: string | undefined;
          if (nl === -1) problem = 'does not end with a line break';
          else {
            try {
              const log = pyJsonLoads(buf.toString('utf8', pos, nl));
              if (log === null || typeof log !== 'object' || Array.isArray(log)) problem = 'is not a JSON object';
              else logs.push(log as Record<string, unknown>);
            } catch (e) {
              problem = `is not valid JSON (${(e as Error).message})`;
            }
          }
          if (problem) {
            deferred = new JournalFormatError(`journal ${this.path}: line ${n + 1} ${problem}, and more lines follow it`, undefined, { file: this.path });
            this.#offsets.length = n + 1;
          }
        }
        pos = end;
      }
      return logs;
    } finally {
      closeSync(fd);
    }
  }

  appendLogs(records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    const bytes = Buffer.from(records.map((r) => pyJsonDumps(r)).join('\n') + '\n', 'utf8');
    this.lock.acquire();
    try {
      const fd = openSync(this.path, 'a+');
      try {
        this.#cutTornTail(fd);
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } finally {
      this.lock.release();
    }
  }

  /** Under the lock: bytes after the last line break belong to a writer that died mid-write. */
  #cutTornTail(fd: number): void {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 10) return;
    const chunk = Buffer.allocUnsafe(65536);
    let cut = 0;
    for (let end = size; end > 0 && cut === 0; ) {
      const start = Math.max(0, end - chunk.length);
      readFully(fd, chunk.subarray(0, end - start), start, this.path);
      const i = chunk.subarray(0, end - start).lastIndexOf(10);
      if (i !== -1) cut = start + i + 1;
      end = start;
    }
    ftruncateSync(fd, cut);
    // (No offset past the cut was recorded: a line without its line break is never counted as read.)
    this.#warn(`journal ${this.path}: removed a torn last line of ${size - cut} bytes (a writer stopped mid-write) before appending`);
  }
}

function readFully(fd: number, buf: Buffer, position: number, path: string): void {
  for (let done = 0; done < buf.length; ) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new FairtuneError('FT_STUDY_FORMAT', 'journal: the file shrank while being read', { file: path });
    done += n;
  }
}
