/**
 * Many workers on one study (docs/search.md, "Many workers" and "Stale trials").
 *
 * Each worker decides at each ask from the shared study, never from its own count: it stops once
 * the study has the target number of finished trials (COMPLETE or PRUNED), waits while the
 * finished plus the live running trials reach the target (one of those may still fail and give
 * its budget back), and asks otherwise. Several workers asking at the same instant can each
 * start one more, so a study overshoots by at most the trials running at that time.
 *
 * Heartbeats: a trial a FairTune worker runs carries the system attr `fairtune:heartbeat`, the Unix
 * time in seconds (a Python float, as `time.time()` gives) written with the trial's creation and
 * renewed every `heartbeatSeconds` and at every report. A RUNNING trial whose heartbeat is older
 * than `staleAfterSeconds` belongs to a worker that died: any worker marks it FAIL (user attr
 * `fail_reason`) before asking, and so gives its budget back. A RUNNING trial without the attr (a
 * Python worker's) is never failed and is not counted as running, since nothing tells a slow one
 * from a dead one.
 */
import type { FrozenTrial } from '@fairtune/core/plugin';
import { JournalOperationError } from '../storage/journal-format.js';
import { PyFloat } from '../storage/python-json.js';
import type { StudyStore } from './store.js';

export const HEARTBEAT_ATTR = 'fairtune:heartbeat';

/** The attr value for `nowMs`: seconds as a Python float (Python's `time.time()`). */
export function heartbeatValue(nowMs: number): PyFloat {
  return new PyFloat(nowMs / 1000);
}

/** The trial's last heartbeat in ms since the epoch, or undefined if it has none. */
export function heartbeatOf(t: FrozenTrial): number | undefined {
  const v = t.systemAttrs[HEARTBEAT_ATTR];
  const n = v instanceof PyFloat ? v.value : v;
  return typeof n === 'number' && Number.isFinite(n) ? n * 1000 : undefined;
}

/** RUNNING trials whose heartbeat is older than `staleAfterMs` (trials without one are not judged). */
export function staleTrials(trials: readonly FrozenTrial[], nowMs: number, staleAfterMs: number): FrozenTrial[] {
  return trials.filter((t) => {
    if (t.state !== 'RUNNING') return false;
    const beat = heartbeatOf(t);
    return beat !== undefined && nowMs - beat > staleAfterMs;
  });
}

export interface StudyProgress {
  readonly action: 'ask' | 'wait' | 'stop';
  /** COMPLETE and PRUNED trials. */
  readonly finished: number;
  /** RUNNING trials with a fresh heartbeat. */
  readonly running: number;
}

/** What a worker does next for a study that should have `target` finished trials. */
export function nextStep(trials: readonly FrozenTrial[], target: number, nowMs: number, staleAfterMs: number): StudyProgress {
  let finished = 0;
  let running = 0;
  for (const t of trials) {
    if (t.state === 'COMPLETE' || t.state === 'PRUNED') finished++;
    else if (t.state === 'RUNNING') {
      const beat = heartbeatOf(t);
      if (beat !== undefined && nowMs - beat <= staleAfterMs) running++;
    }
  }
  const action = finished >= target ? 'stop' : finished + running >= target ? 'wait' : 'ask';
  return { action, finished, running };
}

/**
 * Marks the stale trials FAIL; returns their numbers. Another worker failing the same trial first
 * is not an error (the trial is no longer RUNNING when read back).
 */
export function failStaleTrials(store: StudyStore, nowMs: number, staleAfterMs: number): number[] {
  const failed: number[] = [];
  for (const t of staleTrials(store.view().trials, nowMs, staleAfterMs)) {
    const age = ((nowMs - heartbeatOf(t)!) / 1000).toFixed(1);
    try {
      store.setUserAttr(t.number, 'fail_reason', `stale: no heartbeat for ${age} s (its worker stopped); failed by another worker`);
      store.finish(t.number, 'FAIL');
      failed.push(t.number);
    } catch (e) {
      if (!lostTrial(e, store, t.number)) throw e;
    }
  }
  return failed;
}

/** Whether `e` is the refusal of a write to a trial that another writer has finished meanwhile. */
export function lostTrial(e: unknown, store: StudyStore, number: number): boolean {
  return e instanceof JournalOperationError && store.view().trials[number]?.state !== 'RUNNING';
}

/**
 * Renews a running trial's heartbeat every `intervalMs` until stopped (the timer does not keep a
 * process alive), and on `renew()` (each report) when half an interval has passed since the last.
 */
export class Heartbeat {
  readonly #timer: ReturnType<typeof setInterval>;
  #last: number;
  #stopped = false;

  constructor(
    readonly store: StudyStore,
    readonly trial: number,
    readonly intervalMs: number,
    readonly onError: (e: unknown) => void,
    readonly now: () => number = Date.now,
  ) {
    this.#last = now();
    this.#timer = setInterval(() => {
      try {
        this.#write();
      } catch (e) {
        this.onError(e);
      }
    }, intervalMs);
    this.#timer.unref();
  }

  /** Writes a heartbeat if half an interval has passed; errors go to the caller. */
  renew(): void {
    if (this.now() - this.#last >= this.intervalMs / 2) this.#write();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  #write(): void {
    if (this.#stopped) return;
    const at = this.now();
    try {
      this.store.setSystemAttr(this.trial, HEARTBEAT_ATTR, heartbeatValue(at));
      this.#last = at;
    } catch (e) {
      // A trial failed meanwhile as stale stops beating (its runner learns it at its next write).
      if (!lostTrial(e, this.store, this.trial)) throw e;
      this.stop();
    }
  }
}
