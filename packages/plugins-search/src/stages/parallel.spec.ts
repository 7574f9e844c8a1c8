/**
 * `parallel` trials on one machine: one `fairtune run` process whose search stage spawns
 * `parallel − 1` trial workers on the same journal study and cache (parallel.ts). The trial stage
 * is the cheap `test.timed` (test-utils/timed-plugin.ts), which logs its start and end times.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrozenTrial } from '@fairtune/core';
import { JournalOperation } from '../storage/journal-format.js';
import { JournalStorage } from '../storage/journal.js';
import { redisIt, repoRoot, spawnTs, startRedis, type Spawned } from '../storage/test-utils/processes.js';
import { windowReady, windowView, WORKER_ATTR } from './parallel.js';

const cli = join(repoRoot, 'packages/core/src/cli.ts');
const plugin = join(repoRoot, 'packages/plugins-search/src/stages/test-utils/timed-plugin.ts');
const tmp = () => mkdtempSync(join(tmpdir(), 'search-parallel-'));
const itRedis = redisIt('parallel trials on Redis');

interface Setup {
  dir: string;
  pipeline: string;
  journal: string;
  log: string;
}

/** A search of `trials` trials over x ∈ [0, 6] with the cheap timed trial; TPE with the constant liar, no pruning. */
function setup(search: Record<string, unknown>, trial: Record<string, unknown> = {}): Setup {
  const dir = tmp();
  const journal = join(dir, 'study.journal');
  const log = join(dir, 'trials.log');
  const pipeline = join(dir, 'parallel.json');
  writeFileSync(
    pipeline,
    JSON.stringify({
      name: 'parallel',
      seed: 11,
      groups: { trial: { stages: ['work'], trials: { x: 0 } } },
      stages: {
        work: { type: 'test.timed', params: { x: '%{x}', log, steps: 3, stepDelayMs: 80, ...trial } },
        search: {
          type: 'search.optimise',
          trials: 'trial',
          params: {
            sampler: { name: 'tpe', params: { nStartupTrials: 3, constantLiar: true } },
            pruner: { name: 'none' },
            objective: { stage: 'work', metric: 'objective' },
            space: { x: { type: 'float', low: 0, high: 6 } },
            storage: `journal:${journal}`,
            ...search,
          },
        },
      },
    }),
  );
  return { dir, pipeline, journal, log };
}

function run(s: Setup, extra: string[] = []): Spawned {
  return spawnTs(cli, ['run', s.pipeline, '--no-builtins', '--plugin', '@fairtune/plugins-search', '--plugin', plugin, '--cache-dir', join(s.dir, 'cache'), '--runs-dir', join(s.dir, 'runs'), '--concurrency', '4', ...extra]);
}

function trialsOf(s: Setup): readonly FrozenTrial[] {
  return JournalStorage.file(s.journal).loadStudy('parallel/search').view().trials;
}

type LogLine = { event: 'start' | 'end'; pid: number; x: number; t: number; start?: number };
const logOf = (s: Setup): LogLine[] => readFileSync(s.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);

/** The most trials running at one time, from the start and end times in the log. */
function maxOverlap(lines: readonly LogLine[]): number {
  const edges = lines.flatMap((l) => (l.event === 'end' ? [{ t: l.start!, d: 1 }, { t: l.t, d: -1 }] : []));
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (now += e.d));
  return max;
}

/** Per trial: how many CREATE records name it, and its state records. */
function records(s: Setup): { creators: string[]; states: number[][] } {
  const creators: string[] = [];
  const states: number[][] = [];
  for (const raw of JournalStorage.file(s.journal).backend.readLogs(0)) {
    const log = raw as { op_code: number; worker_id: string; trial_id?: number; state?: number };
    if (log.op_code === JournalOperation.CREATE_TRIAL) {
      creators.push(log.worker_id);
      states.push([]);
    } else if (log.op_code === JournalOperation.SET_TRIAL_STATE_VALUES) states[log.trial_id!]!.push(log.state!);
  }
  return { creators, states };
}

const ok = (r: { code: number | null; stderr: string }) => ({ code: r.code, stderr: r.code === 0 ? '' : r.stderr });

/** Whether `pid` is still running (a zombie, exited and not yet reaped by init, is not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('parallel trials in child processes', () => {
  it('parallel: 3 finishes the target with no trial lost or run twice, at most 3 at once, in 3 processes', async () => {
    const s = setup({ trials: 16, parallel: 3 }, { stepDelayMs: 200, awaitProcesses: 3 });
    const r = await run(s).done;
    expect(ok(r)).toEqual({ code: 0, stderr: '' });
    const trials = trialsOf(s);
    expect(trials.filter((t) => t.state === 'COMPLETE').length).toBeGreaterThanOrEqual(16);
    expect(trials.length).toBeLessThanOrEqual(18);
    expect(trials.map((t) => t.state).filter((x) => x !== 'COMPLETE')).toEqual([]);
    // Each trial created once and finished once (state 1 = COMPLETE), and run once: one start and one end in the log per trial.
    const rec = records(s);
    expect(rec.states).toEqual(trials.map(() => [1]));
    const lines = logOf(s);
    expect(lines.filter((l) => l.event === 'end').map((l) => l.x).sort()).toEqual(trials.map((t) => t.params['x']).sort());
    expect(lines.filter((l) => l.event === 'start')).toHaveLength(trials.length);
    const pids = new Set(lines.map((l) => l.pid));
    expect(pids.size).toBe(3);
    expect(maxOverlap(lines)).toBeLessThanOrEqual(3);
    expect(maxOverlap(lines)).toBeGreaterThanOrEqual(2);
    console.log(`parallel 3: ${trials.length} trials from ${pids.size} processes, at most ${maxOverlap(lines)} at once`);
  }, 120_000);

  itRedis('parallel: 2 with the study on Redis: the target reached, no trial lost or run twice, in 2 processes', async () => {
    const server = await startRedis();
    try {
      const s = setup({ trials: 8, parallel: 2, storage: `${server.url}/2`, prefix: 'parallel-test' }, { stepDelayMs: 120, awaitProcesses: 2 });
      const r = await run(s).done;
      expect(ok(r)).toEqual({ code: 0, stderr: '' });
      const storage = JournalStorage.redis(`${server.url}/2`, { prefix: 'parallel-test' });
      try {
        const trials = storage.loadStudy('parallel/search').view().trials;
        expect(trials.filter((t) => t.state === 'COMPLETE').length).toBeGreaterThanOrEqual(8);
        expect(trials.length).toBeLessThanOrEqual(9);
        expect(trials.map((t) => t.state).filter((x) => x !== 'COMPLETE')).toEqual([]);
        const lines = logOf(s);
        expect(lines.filter((l) => l.event === 'end').map((l) => l.x).sort()).toEqual(trials.map((t) => t.params['x']).sort());
        expect(lines.filter((l) => l.event === 'start')).toHaveLength(trials.length);
        expect(new Set(lines.map((l) => l.pid)).size).toBe(2);
        expect(maxOverlap(lines)).toBeLessThanOrEqual(2);
      } finally {
        storage.close();
      }
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('is deterministic given the seed and parallel: the same params in two runs whose finishes come in different orders', async () => {
    const a = setup({ trials: 16, parallel: 3 }, { stepDelayMs: 50, jitterMs: 600, awaitProcesses: 3 });
    const b = setup({ trials: 16, parallel: 3 }, { stepDelayMs: 50, jitterMs: 600, awaitProcesses: 3 });
    // One after the other: the workers start sooner on a less busy machine, so more trials overlap.
    const ra = await run(a).done;
    const rb = await run(b).done;
    expect(ok(ra)).toEqual({ code: 0, stderr: '' });
    expect(ok(rb)).toEqual({ code: 0, stderr: '' });
    const xs = (s: Setup) => trialsOf(s).slice(0, 16).map((t) => t.params['x']);
    expect(xs(a)).toEqual(xs(b));
    // TPE took over after 3 start-up trials: not all of these are random draws.
    expect(new Set(xs(a)).size).toBe(16);
    // The trials really ran in several processes at once in both runs.
    for (const s of [a, b]) expect(new Set(logOf(s).map((l) => l.pid)).size).toBeGreaterThanOrEqual(2);
    const order = (s: Setup) => logOf(s).filter((l) => l.event === 'end').map((l) => xs(s).indexOf(l.x));
    console.log(`finish orders: ${JSON.stringify(order(a))} and ${JSON.stringify(order(b))}`);
  }, 120_000);

  it('a crashing worker: reported, its trial marked FAIL, the study still reaches its target', async () => {
    const s = setup({ trials: 10, parallel: 3 }, { stepDelayMs: 200, crash: join(tmp(), 'crashed'), awaitProcesses: 3 });
    const r = await run(s).done;
    expect(ok(r)).toEqual({ code: 0, stderr: '' });
    const trials = trialsOf(s);
    const failed = trials.filter((t) => t.state === 'FAIL');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.userAttrs['fail_reason']).toMatch(/^its worker process \d+ was killed \(SIGKILL\)$/);
    expect(trials.filter((t) => t.state === 'COMPLETE').length).toBeGreaterThanOrEqual(10);
    expect(r.stderr).toMatch(/trial worker \d \(pid \d+\) was killed \(SIGKILL\); trial \d+ marked FAIL/);
  }, 120_000);

  it('Ctrl-C on the parent kills its trial workers', async () => {
    const s = setup({ trials: 30, parallel: 3 }, { stepDelayMs: 300 });
    const parent = run(s);
    let pids: number[] = [];
    for (const started = Date.now(); Date.now() - started < 60_000 && !pids.length; await new Promise((r) => setTimeout(r, 100))) {
      const m = /trial workers started \(pids ([\d, ]+)\)/.exec(parentStderr(parent));
      if (m) pids = m[1]!.split(', ').map(Number);
    }
    expect(pids).toHaveLength(2);
    // Let the workers start trials, then interrupt.
    for (const started = Date.now(); Date.now() - started < 60_000; await new Promise((r) => setTimeout(r, 100))) {
      if (logOf2(s).filter((l) => l.pid !== parent.child.pid).length >= 2) break;
    }
    expect(pids.every(alive)).toBe(true);
    parent.child.kill('SIGINT');
    const r = await parent.done;
    expect(r.code).not.toBe(0);
    for (const started = Date.now(); Date.now() - started < 5000 && pids.some(alive); ) await new Promise((res) => setTimeout(res, 100));
    expect(pids.filter(alive)).toEqual([]);
    // Their running trials were given back as FAIL at once, not left RUNNING for the heartbeat to find
    // (the parent's own trial is left RUNNING, as without `parallel`: the heartbeat covers it).
    const trials = trialsOf(s);
    expect(trials.filter((t) => t.state === 'RUNNING' && pids.includes(t.systemAttrs[WORKER_ATTR] as number))).toEqual([]);
    expect(trials.filter((t) => t.state === 'FAIL').map((t) => t.userAttrs['fail_reason'])).toContain('the run was cancelled');
  }, 120_000);

  it('parallel > 1 with storage "memory" is refused, naming the param', async () => {
    const s = setup({ trials: 4, parallel: 2, storage: 'memory' });
    const r = await run(s).done;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/parallel: 2 needs a study the worker processes share; storage "memory"/);
  }, 60_000);
});

const stderrOf = new WeakMap<Spawned, string>();
function parentStderr(p: Spawned): string {
  if (!stderrOf.has(p)) {
    stderrOf.set(p, '');
    p.child.stderr!.on('data', (d) => stderrOf.set(p, stderrOf.get(p)! + d));
  }
  return stderrOf.get(p)!;
}
function logOf2(s: Setup): LogLine[] {
  try {
    return logOf(s);
  } catch {
    return [];
  }
}

describe('the ask window', () => {
  const t = (number: number, state: FrozenTrial['state'], params: Record<string, number> = { x: number }): FrozenTrial => ({ number, state, params, distributions: {}, intermediateValues: new Map(), userAttrs: {}, systemAttrs: {}, ...(state === 'COMPLETE' ? { value: number } : {}) });

  it('trial k waits for trials up to k − parallel to finish and for the ones between to have params', () => {
    expect(windowReady([t(0, 'RUNNING'), t(1, 'RUNNING'), t(2, 'RUNNING')], 2, 3, ['x'])).toBe(true);
    expect(windowReady([t(0, 'RUNNING'), t(1, 'RUNNING'), t(2, 'RUNNING'), t(3, 'RUNNING')], 3, 3, ['x'])).toBe(false);
    expect(windowReady([t(0, 'COMPLETE'), t(1, 'RUNNING'), t(2, 'RUNNING'), t(3, 'RUNNING')], 3, 3, ['x'])).toBe(true);
    expect(windowReady([t(0, 'COMPLETE'), t(1, 'RUNNING', {}), t(2, 'RUNNING'), t(3, 'RUNNING')], 3, 3, ['x'])).toBe(false);
    expect(windowReady([t(0, 'FAIL'), t(1, 'FAIL', {}), t(2, 'RUNNING')], 2, 2, ['x'])).toBe(true);
  });

  it('the sampler sees the trials between as RUNNING, their values hidden, and nothing after k', () => {
    const view = windowView({ name: 's', direction: 'minimize', trials: [t(0, 'COMPLETE'), t(1, 'COMPLETE'), t(2, 'COMPLETE'), t(3, 'RUNNING'), t(4, 'RUNNING')] }, 3, 3);
    expect(view.trials.map((x) => [x.state, x.value])).toEqual([['COMPLETE', 0], ['RUNNING', undefined], ['RUNNING', undefined], ['RUNNING', undefined]]);
    expect(view.trials[1]!.params).toEqual({ x: 1 });
  });

});
