/**
 * Where a study lives, from the search stage's `storage` param (or `FAIRTUNE_SEARCH_STORAGE` in a
 * pipeline, or `fairtune study --storage`):
 *
 *   memory                      no record beyond the stage's outputs
 *   journal:<folder>            one Optuna journal file per study, <folder>/<study name>.journal
 *   journal:<file>.journal      every study in that one file
 *   redis://host:port[/db]      Optuna's Redis journal (with the `prefix` param), for many machines
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FairtuneError } from '@fairtune/core/plugin';
import { JournalStorage, type JournalStorageOptions } from './journal.js';
import { checkRedisUrl, type JournalRedisBackendOptions } from './redis-backend.js';

export const DEFAULT_STORAGE = 'journal:.fairtune/studies';

export type StorageLocation = { readonly kind: 'memory' } | { readonly kind: 'journal'; readonly target: string } | { readonly kind: 'redis'; readonly url: string };

export function parseStorage(storage: string): StorageLocation {
  if (storage === 'memory') return { kind: 'memory' };
  if (storage.startsWith('journal:')) return { kind: 'journal', target: storage.slice('journal:'.length) || '.fairtune/studies' };
  if (/^rediss?:\/\//.test(storage)) {
    checkRedisUrl(storage);
    return { kind: 'redis', url: storage };
  }
  throw new FairtuneError('FT_PARAM_INVALID', `storage "${storage}": use "journal:<folder>", "journal:<file>.journal", "redis://host:port[/db]" or "memory"`, { param: 'storage' });
}

/** The journal file of study `name` under a `journal:` target (a folder holds one file per study; a name's "/" becomes "--"). */
export function journalFile(target: string, name: string, cwd = process.cwd()): string {
  return resolve(cwd, target.endsWith('.journal') ? target : join(target, `${name.replace(/[^A-Za-z0-9._-]+/g, '--')}.journal`));
}

export interface OpenStorageOptions extends JournalStorageOptions, Pick<JournalRedisBackendOptions, 'connectTimeoutMs' | 'commandTimeoutMs'> {
  /** Redis key prefix (Optuna's `prefix`); a journal file has none, and ignores it (so one pipeline can switch storage by URL). */
  readonly prefix?: string;
  readonly cwd?: string;
}

/** The journal storage holding study `name` at a journal or Redis location (the caller closes it). */
export function openJournalStorage(location: Exclude<StorageLocation, { kind: 'memory' }>, name: string, options: OpenStorageOptions = {}): JournalStorage {
  if (location.kind === 'redis') return JournalStorage.redis(location.url, options);
  return JournalStorage.file(journalFile(location.target, name, options.cwd), options);
}

/** The journal files a `journal:` target names: the one `*.journal` file (if it exists), or every `*.journal` file of the folder, sorted. */
export function journalFiles(target: string, cwd = process.cwd()): string[] {
  const path = resolve(cwd, target);
  if (path.endsWith('.journal')) return existsSync(path) ? [path] : [];
  if (!existsSync(path) || !statSync(path).isDirectory()) return [];
  return readdirSync(path)
    .filter((f) => f.endsWith('.journal'))
    .sort()
    .map((f) => join(path, f));
}
