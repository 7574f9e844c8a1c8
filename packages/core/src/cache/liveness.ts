/**
 * Whether the process that wrote something (a cache lease, a run record, a synthetic cohort
 * being generated) still runs. Things written on this host are checked by process id; things
 * written by another host sharing the folder cannot be, so they count as live while their
 * file was refreshed (heartbeat) within a time-to-live.
 */
import { hostname } from 'node:os';

/** Who wrote a file: `{ pid, hostname, started }` (JSON in leases, `.owner.json`, run summaries). */
export interface ProcessOwner {
  readonly pid: number;
  readonly hostname: string;
  /** When the process started (ISO time). */
  readonly started: string;
}

const processStarted = new Date(Date.now() - process.uptime() * 1000).toISOString();

export function processOwner(): ProcessOwner {
  return { pid: process.pid, hostname: hostname(), started: processStarted };
}

/** True when a process with this id runs on this host (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether what `owner` wrote may still be in use. On this host: its process runs. On another
 * host: `refreshedMs` (the modification time of its file) is younger than `foreignTtlMs`.
 * An owner without a usable process id counts as gone.
 */
export function ownerAlive(owner: Partial<ProcessOwner> | undefined, refreshedMs: number, foreignTtlMs: number, now = Date.now()): boolean {
  if (!owner || typeof owner.pid !== 'number') return false;
  if (!owner.hostname || owner.hostname === hostname()) return processAlive(owner.pid);
  return now - refreshedMs < foreignTtlMs;
}
