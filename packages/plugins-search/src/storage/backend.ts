/**
 * Where a journal's lines live: Optuna's `BaseJournalLogStorage` (`read_logs`, `append_logs`).
 *
 * A backend keeps an ordered, append-only list of log records shared by every writer; a record's
 * position in that list (its *log number*, from 0) is what gives studies and trials their ids, so
 * a backend must make each append atomic and never reorder records. The file backend does that with
 * a lock file (file-backend.ts); Optuna's Redis backend does it with `INCR` on a counter key and one
 * key per record (`{prefix}:log:{n}`), so a Redis implementation of this interface needs no lock.
 *
 * The interface is synchronous because the search stage's `StudyStore` is. The Redis backend
 * (redis-backend.ts), whose client is asynchronous, runs it in a worker thread and waits for each
 * answer with `Atomics.wait`.
 */
import type { PyJson } from './python-json.js';

/** One journal record as written: `op_code`, `worker_id` and the operation's fields. */
export type JournalRecord = { readonly op_code: number; readonly worker_id: string } & { readonly [field: string]: PyJson | undefined };

export interface JournalBackend {
  /** Records with log number `from` and above, parsed (Python's `NaN`/`Infinity` tokens read as numbers). */
  readLogs(from: number): Record<string, unknown>[];
  /** Appends `records` after every record already stored, all together, in order. */
  appendLogs(records: readonly JournalRecord[]): void;
  /** Releases what the backend holds open (a connection); later calls fail. Optional: a file holds nothing between calls. */
  close?(): void;
}
