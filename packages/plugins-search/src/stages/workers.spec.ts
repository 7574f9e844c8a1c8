/**
 * Many workers on one study: `fairtune run` of one pipeline in several processes, sharing the study
 * on Redis (a loopback redis-server started here) or in a journal file; a worker killed with
 * SIGKILL mid-trial, and the study resumed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalOperation } from '../storage/journal-format.js';
import { JournalStorage } from '../storage/journal.js';
import { openJournalStorage, parseStorage } from '../storage/location.js';
import { redisIt, repoRoot, spawnTs, startRedis, type RedisServer, type Spawned } from '../storage/test-utils/processes.js';

const itRedis = redisIt('many workers on Redis');
const cli = join(repoRoot, 'packages/core/src/cli.ts');
const tmp = () => mkdtempSync(join(tmpdir(), 'search-workers-'));
let server: RedisServer | undefined;

beforeAll(async () => {
  if (itRedis === it) server = await startRedis();
}, 20_000);
afterAll(async () => server?.stop());

/** A search over a cheap trial (4 steps of `stepDelayMs`), random sampler, no pruning; two enqueued trials. */
function writePipeline(dir: string, search: Record<string, unknown>, stepDelayMs: number): string {
  const file = join(dir, 'workers.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'workers',
      seed: 5,
      groups: { trial: { stages: ['shift'], trials: { offset: 0 } } },
      stages: {
        numbers: { type: 'demo.numbers', params: { count: 40 } },
        shift: { type: 'demo.transform', params: { offset: '%{offset}', steps: 4, stepDelayMs }, inputs: { series: 'numbers' } },
        search: {
          type: 'search.optimise',
          trials: 'trial',
          params: { sampler: { name: 'random' }, pruner: { name: 'none' }, objective: { stage: 'shift', metric: 'running-mean' }, space: { offset: { type: 'float', low: 0, high: 10 } }, enqueue: [{ offset: 1 }, { offset: 2 }], ...search },
        },
      },
    }),
  );
  return file;
}

/** `fairtune run` in its own process, with its own cache (as on another machine). */
function worker(dir: string, pipeline: string, tag: string): Spawned {
  return spawnTs(cli, ['run', pipeline, '--no-builtins', '--plugin', '@fairtune/plugins-search', '--cache-dir', join(dir, `cache-${tag}`), '--runs-dir', join(dir, `runs-${tag}`)]);
}

/** The study's records by trial id: who created it, its state records, its reports. */
function records(storage: JournalStorage): Map<number, { creator: string; states: { worker: string; state: number }[]; reports: number }> {
  const byTrial = new Map<number, { creator: string; states: { worker: string; state: number }[]; reports: number }>();
  for (const raw of storage.backend.readLogs(0)) {
    const log = raw as { op_code: number; worker_id: string; trial_id?: number; state?: number };
    if (log.op_code === JournalOperation.CREATE_TRIAL) byTrial.set(byTrial.size, { creator: log.worker_id, states: [], reports: 0 });
    else if (log.op_code === JournalOperation.SET_TRIAL_STATE_VALUES) byTrial.get(log.trial_id!)!.states.push({ worker: log.worker_id, state: log.state! });
    else if (log.op_code === JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE) byTrial.get(log.trial_id!)!.reports++;
  }
  return byTrial;
}

async function threeWorkers(storage: string, prefix: string): Promise<void> {
  const dir = tmp();
  const target = 12;
  const pipeline = writePipeline(dir, { trials: target, storage, prefix }, 150);
  const runs = await Promise.all(['a', 'b', 'c'].map((tag) => worker(dir, pipeline, tag).done));
  for (const r of runs) expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });

  const location = parseStorage(storage);
  if (location.kind === 'memory') throw new Error('unreachable');
  const st = openJournalStorage(location, 'workers/search', { prefix, cwd: dir });
  try {
    const trials = st.loadStudy('workers/search').view().trials;
    const finished = trials.filter((t) => t.state === 'COMPLETE' || t.state === 'PRUNED').length;
    // The shared target, overshot by at most the trials the other two workers were running.
    expect(finished).toBeGreaterThanOrEqual(target);
    expect(finished).toBeLessThanOrEqual(target + 2);
    expect(trials.map((t) => t.state).filter((s) => s !== 'COMPLETE')).toEqual([]);
    // Enqueued configurations ran once each, as trials 0 and 1.
    expect(trials.slice(0, 2).map((t) => t.params['offset'])).toEqual([1, 2]);
    expect(trials.filter((t) => t.params['offset'] === 1 || t.params['offset'] === 2)).toHaveLength(2);
    // No trial run twice: one creator, which also finished it (once) and reported its 4 steps.
    const byTrial = records(st);
    expect(byTrial.size).toBe(trials.length);
    for (const [, r] of byTrial) expect(r).toEqual({ creator: r.creator, states: [{ worker: r.creator, state: 1 }], reports: 4 });
    const workers = new Set([...byTrial.values()].map((r) => r.creator));
    expect(workers.size).toBeGreaterThanOrEqual(2);
    console.log(`${storage}: ${finished} finished trials from ${workers.size} workers (${[...workers].map((w) => [...byTrial.values()].filter((r) => r.creator === w).length).join(' + ')})`);
  } finally {
    st.close();
  }
}

describe('many workers on one study', () => {
  itRedis('three `fairtune run` processes on one Redis study stop together at the target: none lost, none run twice', async () => {
    await threeWorkers(`${server!.url}/1`, 'workers-test');
  }, 120_000);

  it('the same with the study in one journal file', async () => {
    const dir = tmp();
    await threeWorkers(`journal:${join(dir, 'study.journal')}`, '');
  }, 120_000);
});

describe('a worker killed mid-trial', () => {
  it('leaves its trial RUNNING; the next worker fails it once its heartbeat is stale and finishes the study', async () => {
    const dir = tmp();
    const path = join(dir, 'study.journal');
    const target = 3;
    const pipeline = writePipeline(dir, { trials: target, storage: `journal:${path}`, enqueue: [], heartbeatSeconds: 0.2, staleAfterSeconds: 1.5 }, 400);
    const first = worker(dir, pipeline, 'a');
    // Kill it once trial 1 is RUNNING and has reported (trial 0 finished).
    const tick = new Int32Array(new SharedArrayBuffer(4));
    let view: readonly { state: string; intermediateValues: ReadonlyMap<number, number> }[] = [];
    for (const started = Date.now(); Date.now() - started < 60_000; Atomics.wait(tick, 0, 0, 50)) {
      try {
        view = JournalStorage.file(path).loadStudy('workers/search').view().trials;
      } catch {
        continue; // not created yet
      }
      if (view[1]?.state === 'RUNNING' && view[1].intermediateValues.size >= 1) break;
    }
    expect(view.map((t) => t.state)).toEqual(['COMPLETE', 'RUNNING']);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    const second = await worker(dir, pipeline, 'b').done;
    expect({ code: second.code, stderr: second.code === 0 ? '' : second.stderr }).toEqual({ code: 0, stderr: '' });
    const storage = JournalStorage.file(path);
    const trials = storage.loadStudy('workers/search').view().trials;
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'FAIL', ...Array(trials.length - 2).fill('COMPLETE')]);
    expect(trials.filter((t) => t.state === 'COMPLETE')).toHaveLength(target);
    expect(trials[1]!.userAttrs['fail_reason']).toMatch(/^stale: no heartbeat for \d+\.\d s/);
    // Trial 0 was not run again: one creator each, the killed worker's trials 0 and 1, the new worker's the rest.
    const byTrial = [...records(storage).values()];
    expect(byTrial[1]!.creator).toBe(byTrial[0]!.creator);
    expect(byTrial[1]!.states).toEqual([{ worker: byTrial[2]!.creator, state: 3 }]);
    expect(byTrial.slice(2).every((r) => r.creator === byTrial[2]!.creator && r.creator !== byTrial[0]!.creator)).toBe(true);
    expect(trials).toHaveLength(target + 1);
  }, 120_000);
});
