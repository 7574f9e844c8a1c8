import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrozenTrial, TrialState } from '@fairtune/core';
import { JournalStorage } from '../storage/journal.js';
import { PyFloat } from '../storage/python-json.js';
import { MemoryStudyStore } from './store.js';
import { failStaleTrials, Heartbeat, HEARTBEAT_ATTR, heartbeatOf, lostTrial, nextStep, staleTrials } from './workers.js';

const trial = (number: number, state: TrialState, beatSeconds?: number): FrozenTrial => ({
  number,
  state,
  params: {},
  distributions: {},
  intermediateValues: new Map(),
  userAttrs: {},
  systemAttrs: beatSeconds === undefined ? {} : { [HEARTBEAT_ATTR]: beatSeconds },
});

describe('shared trial count', () => {
  const now = 100_000;
  it('counts COMPLETE and PRUNED as finished, RUNNING with a fresh heartbeat as running; FAIL, stale and heartbeat-less trials neither', () => {
    const trials = [trial(0, 'COMPLETE'), trial(1, 'PRUNED'), trial(2, 'FAIL'), trial(3, 'RUNNING', 99), trial(4, 'RUNNING', 80), trial(5, 'RUNNING'), trial(6, 'WAITING')];
    expect(nextStep(trials, 5, now, 10_000)).toEqual({ action: 'ask', finished: 2, running: 1 });
    expect(nextStep(trials, 3, now, 10_000)).toEqual({ action: 'wait', finished: 2, running: 1 });
    expect(nextStep(trials, 2, now, 10_000)).toEqual({ action: 'stop', finished: 2, running: 1 });
    // The grace period is inclusive: a heartbeat exactly staleAfter old is still fresh.
    expect(nextStep([trial(0, 'RUNNING', 90)], 1, now, 10_000).running).toBe(1);
    expect(staleTrials(trials, now, 10_000).map((t) => t.number)).toEqual([4]);
    expect(heartbeatOf(trial(0, 'RUNNING', 1.5))).toBe(1500);
  });

  it('a stale trial is failed with its reason, once, even when two workers see it; its worker\'s later writes are recognised as lost', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'workers-')), 's.journal');
    const owner = JournalStorage.file(path).openStudy('s', 'minimize');
    const n = owner.createTrial({ [HEARTBEAT_ATTR]: new PyFloat(50) });
    const fresh = owner.createTrial({ [HEARTBEAT_ATTR]: new PyFloat(99.5) });
    const other = JournalStorage.file(path).loadStudy('s');
    const third = JournalStorage.file(path).loadStudy('s');
    expect(failStaleTrials(other, 100_000, 10_000)).toEqual([n]);
    expect(failStaleTrials(third, 100_000, 10_000)).toEqual([]);
    expect(other.view().trials.map((t) => t.state)).toEqual(['FAIL', 'RUNNING']);
    expect(other.trial(n).userAttrs['fail_reason']).toBe('stale: no heartbeat for 50.0 s (its worker stopped); failed by another worker');
    let refused: unknown;
    try {
      owner.report(n, 0, 1);
      owner.finish(n, 'COMPLETE', 1);
    } catch (e) {
      refused = e;
    }
    expect(lostTrial(refused, owner, n)).toBe(true);
    expect(lostTrial(new Error('disk full'), owner, n)).toBe(false);
    expect(lostTrial(refused, owner, fresh)).toBe(false);
  });

  it('a heartbeat renews the attr on its timer and on renew() after half an interval, and stops', async () => {
    const store = new MemoryStudyStore('s', 'minimize');
    const n = store.createTrial({ [HEARTBEAT_ATTR]: new PyFloat(0) });
    let clock = 1000;
    const errors: unknown[] = [];
    const beat = new Heartbeat(store, n, 40, (e) => errors.push(e), () => clock);
    const at = () => heartbeatOf(store.view().trials[n]!);
    clock = 1010;
    beat.renew();
    expect(at()).toBe(0); // under half an interval since the start
    clock = 1030;
    beat.renew();
    expect(at()).toBe(1030);
    clock = 2000;
    await new Promise((r) => setTimeout(r, 70));
    expect(at()).toBe(2000);
    beat.stop();
    clock = 3000;
    await new Promise((r) => setTimeout(r, 70));
    expect(at()).toBe(2000);
    expect(errors).toEqual([]);
  });
});
