/**
 * `fairtune cache gc`: what it keeps and what it removes.
 *
 * Keeps: every entry used (executed or cached) by the newest finished run of each pipeline in
 * the runs directory and by every run there still running; every entry a live run's lease
 * names, whatever runs directory that run records into; a live run's temporary folder.
 *
 * Removes: every other entry; temporary folders, stages' work folders and leases of runs that
 * are gone (killed); run records a killed run left "running"; `<synthetic>/*.tmp-*` folders of
 * synthetic cohort generations whose process is gone. Complete synthetic cohorts are kept.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeRunRecord, scanRunRecords, type RunRecordInfo } from '../run/run-record.js';
import { ArtifactCache, type CacheGcResult, type Leftover } from './artifact-cache.js';
import { ownerAlive, processAlive, type ProcessOwner } from './liveness.js';
import { FairtuneError } from '../contracts/errors.js';

/** Owner file a synthetic cohort generator writes into its `.tmp-` folder (JSON ProcessOwner). */
export const OWNER_FILE = '.owner.json';
/** A generation on another host counts as live for this long after its owner file was written. */
export const FOREIGN_GENERATION_TTL_MS = 24 * 3600_000;

export class NotACacheError extends FairtuneError {
  override readonly name = 'NotACacheError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_NOT_A_CACHE', message, {}, options);
  }
}

export interface GcOptions {
  readonly cacheDir: string;
  readonly runsDir: string;
  /** Folder of synthetic cohorts whose killed generations are collected (absent: none). */
  readonly syntheticDir?: string;
  readonly dryRun?: boolean;
}

export interface GcReport extends CacheGcResult {
  /** Entries kept because the runs directory's latest runs use them. */
  readonly keptLatest: number;
  /** Run records left "running" by killed runs. */
  readonly killedRecords: Leftover[];
  /** Folders of interrupted synthetic cohort generations. */
  readonly syntheticLeftovers: Leftover[];
}

export function collectGarbage(o: GcOptions): GcReport {
  const cache = new ArtifactCache(o.cacheDir);
  const problem = existsSync(o.cacheDir) ? cache.notACache() : undefined;
  if (problem) throw new NotACacheError(`refusing to clean ${o.cacheDir}: ${problem}`);
  const records = scanRunRecords(o.runsDir);
  const killed = records.filter((r) => r.state === 'killed');
  const keep = keysToKeep(records);
  const synthetic = o.syntheticDir ? syntheticLeftovers(o.syntheticDir) : [];
  const result = cache.gc(keep, { dryRun: o.dryRun });
  if (!o.dryRun) {
    for (const r of killed) removeRunRecord(r);
    for (const s of synthetic) rmSync(s.path, { recursive: true, force: true, maxRetries: 3 });
  }
  return {
    ...result,
    keptLatest: cache.list().filter((e) => keep.has(e.key)).length,
    killedRecords: killed.map((r) => ({ path: r.dir, why: `run record still "running", but its process (pid ${r.summary?.pid} on ${r.summary?.hostname}) is gone` })),
    syntheticLeftovers: synthetic,
  };
}

/**
 * Keys used by the newest finished run of each pipeline (the runs a user can still re-open
 * cheaply) and by runs still running.
 */
export function keysToKeep(records: readonly RunRecordInfo[]): Set<string> {
  const keep = new Set<string>();
  const add = (r: RunRecordInfo) => {
    for (const st of Object.values(r.summary!.stages)) if (st.status === 'executed' || st.status === 'cached') keep.add(st.key);
  };
  const newestFinished = new Map<string, RunRecordInfo>();
  for (const r of records) {
    if (r.state === 'running') add(r);
    if (r.state === 'finished') newestFinished.set(r.pipeline, r); // records come oldest first
  }
  for (const r of newestFinished.values()) add(r);
  return keep;
}

/** `<dataset>-<hash>.tmp-<pid>-…` folders whose generating process is gone. */
export function syntheticLeftovers(dir: string, now = Date.now()): Leftover[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Leftover[] = [];
  for (const name of names) {
    const m = /^.+-[0-9a-f]{12}\.tmp-(\d+)-[\w-]+$/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    let alive: boolean;
    let owner: Partial<ProcessOwner> | undefined;
    try {
      const ownerPath = join(path, OWNER_FILE);
      owner = JSON.parse(readFileSync(ownerPath, 'utf8')) as Partial<ProcessOwner>;
      alive = ownerAlive(owner, statSync(ownerPath).mtimeMs, FOREIGN_GENERATION_TTL_MS, now);
    } catch {
      // No owner file (older versions, or just before it is written / just before the rename): the pid in the name, on this host.
      alive = processAlive(Number(m[1]));
    }
    if (!alive) out.push({ path, why: `synthetic cohort generation interrupted (pid ${owner?.pid ?? m[1]}${owner?.hostname ? ` on ${owner.hostname}` : ''} is gone)` });
  }
  return out;
}
