/**
 * Run records: `runs/<pipeline>/<run id>/` holds the resolved pipeline, the environment,
 * `events.jsonl` (every executor event, appended synchronously so a crash loses nothing) and
 * `summary.json` (rewritten atomically after every stage, so it is current even mid-run). The
 * summary names the process (pid, hostname), so a record left "running" by a killed run is
 * recognised (`cache gc` removes it).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../cache/liveness.js';
import type { JsonObject } from '../contracts/artifact.js';
import type { ExecutorEvent, RunStatus, StageStatus } from '../executor/executor.js';

export interface StageSummary {
  type: string;
  status: StageStatus | 'pending' | 'running';
  seconds: number;
  key: string;
  metrics: Record<string, number>;
  reason?: string;
  /** FT_ code of the error the stage failed with (docs/errors.md). */
  code?: string;
}

export interface RunSummary {
  pipeline: string;
  runId: string;
  status: RunStatus | 'running';
  started: string;
  finished?: string;
  seconds?: number;
  failedStage?: string;
  reason?: string;
  /** The process that runs (ran) it, so a record a killed run left "running" is recognised. */
  pid?: number;
  hostname?: string;
  counts: Record<StageStatus, number>;
  stages: Record<string, StageSummary>;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** How stale summary.json may be while a run goes on. */
export const SUMMARY_INTERVAL_MS = 500;

export class RunRecorder {
  readonly runDir: string;
  readonly summary: RunSummary;
  readonly #environment: JsonObject;
  readonly #started = Date.now();
  /** events.jsonl, held open: one synchronous write per event (nothing lost on a crash). */
  #events: number | undefined;
  #summaryWritten = 0;
  #summaryTimer: NodeJS.Timeout | undefined;

  constructor(
    runsRoot: string,
    pipelineName: string,
    resolvedPipeline: JsonObject,
    environment: JsonObject,
    stages: readonly { id: string; type: string; key: string }[],
    runId = newRunId(),
  ) {
    this.runDir = join(runsRoot, pipelineName, runId);
    mkdirSync(this.runDir, { recursive: true });
    this.#environment = environment;
    writeJson(join(this.runDir, 'pipeline.json'), resolvedPipeline);
    this.#writeEnvironment();
    this.summary = {
      pipeline: pipelineName,
      runId,
      status: 'running',
      started: new Date(this.#started).toISOString(),
      pid: process.pid,
      hostname: hostname(),
      counts: { executed: 0, cached: 0, failed: 0, skipped: 0 },
      stages: Object.fromEntries(stages.map((s) => [s.id, { type: s.type, status: 'pending', seconds: 0, key: s.key, metrics: {} }])),
    };
    this.#writeSummary();
    // `latest` points at the newest run; best effort (some filesystems have no symlinks).
    const latest = join(runsRoot, pipelineName, 'latest');
    try {
      rmSync(latest, { force: true });
      symlinkSync(runId, latest);
    } catch {
      /* the run directory itself is the record; `latest` is a convenience */
    }
  }

  handle(e: ExecutorEvent): void {
    this.#events ??= openSync(join(this.runDir, 'events.jsonl'), 'a');
    writeSync(this.#events, JSON.stringify(toRecord(e)) + '\n');
    switch (e.type) {
      case 'stage-start':
        this.#entry(e.stageId, e.pluginType, e.key).status = 'running';
        this.#summaryChanged();
        break;
      case 'stage-event':
        if (e.event.type === 'environment') {
          this.#environment[e.event.key] = e.event.value;
          this.#writeEnvironment();
        }
        break;
      case 'stage-end': {
        const s = this.#entry(e.stageId, e.pluginType ?? 'unknown', e.key);
        Object.assign(s, { status: e.status, seconds: e.seconds, key: e.key, metrics: { ...e.metrics } });
        if (e.reason) s.reason = e.reason;
        if (e.code) s.code = e.code;
        this.summary.counts[e.status]++;
        if (e.status === 'failed') this.#writeSummary();
        else this.#summaryChanged();
        break;
      }
      case 'run-end':
        Object.assign(this.summary, {
          status: e.status,
          finished: new Date(e.time).toISOString(),
          seconds: (e.time - this.#started) / 1000,
          ...(e.failedStage ? { failedStage: e.failedStage } : {}),
          ...(e.reason ? { reason: e.reason } : {}),
        });
        this.#writeSummary();
        if (this.#events !== undefined) closeSync(this.#events);
        this.#events = undefined;
        break;
    }
  }

  /**
   * summary.json is a snapshot for people and tools; rewriting it (its size grows with the number
   * of stages) after every stage made a run quadratic in its stages. It is rewritten at most every
   * SUMMARY_INTERVAL_MS while the run goes on, at once when a stage fails, and at the end;
   * events.jsonl has every event as it happens.
   */
  #summaryChanged(): void {
    if (this.#summaryTimer) return;
    const wait = this.#summaryWritten + SUMMARY_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.#writeSummary();
    this.#summaryTimer = setTimeout(() => this.#writeSummary(), wait);
    this.#summaryTimer.unref();
  }

  /** A stage's summary; stages of trials are added as their trials run. */
  #entry(id: string, type: string, key: string): StageSummary {
    if (!Object.hasOwn(this.summary.stages, id)) this.summary.stages[id] = { type, status: 'pending', seconds: 0, key, metrics: {} };
    return this.summary.stages[id]!;
  }

  #writeSummary(): void {
    if (this.#summaryTimer) clearTimeout(this.#summaryTimer);
    this.#summaryTimer = undefined;
    this.#summaryWritten = Date.now();
    writeJson(join(this.runDir, 'summary.json'), this.summary as unknown as JsonObject);
  }

  #writeEnvironment(): void {
    writeJson(join(this.runDir, 'environment.json'), this.#environment);
  }
}

/** Artifacts are not logged (they live in the cache); everything else is. */
function toRecord(e: ExecutorEvent): object {
  const time = new Date(e.time).toISOString();
  if (e.type === 'stage-event') return { time, type: e.event.type, stage: e.stageId, ...omit(e.event, 'type') };
  return { ...e, time };
}

function omit<T extends object>(o: T, key: string): object {
  const { [key]: _drop, ...rest } = o as Record<string, unknown>;
  return rest;
}

function writeJson(path: string, value: JsonObject): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}

export interface RunRecordInfo {
  readonly pipeline: string;
  readonly runId: string;
  readonly dir: string;
  readonly summary?: RunSummary;
  /**
   * finished: succeeded, failed or cancelled; running: its process runs (or runs on another
   * host, which cannot be checked, or is not named by an older record); killed: still
   * "running" but its process on this host is gone; unreadable: no summary.json.
   */
  readonly state: 'finished' | 'running' | 'killed' | 'unreadable';
}

/** Every run record under `runsDir` (`<pipeline>/<run id>/summary.json`), oldest first per pipeline. */
export function scanRunRecords(runsDir: string): RunRecordInfo[] {
  const out: RunRecordInfo[] = [];
  for (const pipeline of safeReaddir(runsDir)) {
    const pdir = join(runsDir, pipeline);
    for (const runId of safeReaddir(pdir).sort()) {
      if (runId === 'latest') continue;
      const dir = join(pdir, runId);
      try {
        if (!statSync(dir).isDirectory()) continue;
      } catch {
        continue;
      }
      let summary: RunSummary | undefined;
      try {
        summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
      } catch {
        summary = undefined;
      }
      if (!summary || typeof summary !== 'object' || !summary.stages) {
        out.push({ pipeline, runId, dir, state: 'unreadable' });
        continue;
      }
      let state: RunRecordInfo['state'] = 'finished';
      if (summary.status === 'running') {
        const here = !summary.hostname || summary.hostname === hostname();
        state = here && typeof summary.pid === 'number' && !processAlive(summary.pid) ? 'killed' : 'running';
      }
      out.push({ pipeline, runId, dir, summary, state });
    }
  }
  return out;
}

/** Deletes a run record; `latest` then points at the newest remaining run of its pipeline. */
export function removeRunRecord(r: RunRecordInfo): void {
  rmSync(r.dir, { recursive: true, force: true });
  const pdir = join(r.dir, '..');
  const latest = join(pdir, 'latest');
  try {
    if (readlinkSync(latest) !== r.runId) return;
  } catch {
    return;
  }
  try {
    rmSync(latest, { force: true });
    const newest = safeReaddir(pdir).filter((n) => n !== 'latest').sort().at(-1);
    if (newest) symlinkSync(newest, latest);
  } catch {
    /* `latest` is a convenience */
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
