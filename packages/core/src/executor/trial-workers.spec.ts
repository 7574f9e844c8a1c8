/**
 * Trial workers (contracts/trials.ts, executor/trial-workers.ts): an optimiser stage starts copies
 * of its `fairtune run` that run its trials in other processes. Run through the real CLI (source,
 * compiled on the fly) with a plugin file written here, so the command line a worker gets is the
 * one a user's run gives.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from '../testing.js';
import { repoRoot, spawnTs, tempDir, writePipeline } from '../test-utils/fixtures.js';
import { workerLaunch } from '../cli-main.js';

// A plain-object plugin (no imports), loaded with --plugin. `test.trial-step` logs its pid and
// reports its bound x; `test.workers` is the optimiser; `test.after` reads the optimiser's output.
const PLUGIN = `
import { appendFileSync } from 'node:fs';
const note = (file, o) => appendFileSync(file, JSON.stringify({ ...o, pid: process.pid }) + '\\n');
const observable = (body) => ({
  subscribe(o) {
    body().then((events) => { for (const e of events) o.next(e); o.complete(); }, (e) => o.error(e));
    return { unsubscribe() {} };
  },
});
const metrics = (meta) => ({ kind: 'metrics', meta, arrays: {}, files: {} });
const step = {
  type: 'test.trial-step', version: '1', description: 'a trial stage',
  paramsSchema: { type: 'object', additionalProperties: false, required: ['x', 'log'], properties: { x: { type: 'number' }, log: { type: 'string' } } },
  inputs: {}, outputs: { result: { kind: 'metrics' } },
  run: (ctx) => observable(async () => {
    note(ctx.params.log, { step: ctx.stageId, x: ctx.params.x });
    return [{ type: 'metric', name: 'y', value: ctx.params.x }, { type: 'artifact', port: 'result', artifact: metrics({ x: ctx.params.x }) }];
  }),
};
const workers = {
  type: 'test.workers', version: '1', description: 'an optimiser with trial workers', runsTrials: true,
  paramsSchema: { type: 'object', additionalProperties: false, required: ['log'], properties: { workers: { type: 'integer', default: 2 }, crash: { type: 'integer', default: 0 }, log: { type: 'string' } } },
  inputs: {}, outputs: { result: { kind: 'metrics' } },
  run: (ctx) => observable(async () => {
    const trials = ctx.trials;
    if (trials.worker) {
      note(ctx.params.log, { role: trials.worker, runsDir: process.env.FAIRTUNE_RUNS_DIR });
      if (trials.worker.index === ctx.params.crash) process.exit(3);
      await trials.run({ x: 10 + trials.worker.index });
      return [];
    }
    if (!trials.startWorkers) return [{ type: 'artifact', port: 'result', artifact: metrics({ started: false, concurrency: trials.concurrency }) }];
    const exits = [];
    const pool = trials.startWorkers(ctx.params.workers, { data: { tag: 'from-parent' }, onExit: (e) => exits.push(e) });
    await trials.run({ x: 0 });
    // wait() alone: the workers' folder must go once they have exited, close() or not.
    await pool.wait();
    exits.sort((a, b) => a.index - b.index);
    return [{ type: 'artifact', port: 'result', artifact: metrics({ started: true, concurrency: trials.concurrency, pids: pool.pids, exits: exits.map(({ index, code, finished }) => ({ index, code, finished })) }) }];
  }),
};
const after = {
  type: 'test.after', version: '1', description: 'reads the optimiser',
  paramsSchema: { type: 'object', additionalProperties: false, required: ['log'], properties: { log: { type: 'string' } } },
  inputs: { result: { kind: 'metrics' } }, outputs: { result: { kind: 'metrics' } },
  run: (ctx) => observable(async () => {
    note(ctx.params.log, { after: ctx.inputs.result.meta });
    return [{ type: 'artifact', port: 'result', artifact: metrics(ctx.inputs.result.meta) }];
  }),
};
export const containerModule = { id: 7731, load: (o) => { for (const p of [step, workers, after]) o.bind(Symbol.for('@fairtune/core:StagePlugin')).toConstantValue(p); } };
`;

type Line = { pid: number; step?: string; x?: number; role?: { index: number; data: Record<string, unknown> }; runsDir?: string; after?: Record<string, unknown> };

function setup(searchParams: Record<string, unknown> = {}) {
  const dir = tempDir('trial-workers-spec-');
  writeFileSync(join(dir, 'plugin.mjs'), PLUGIN);
  const log = join(dir, 'log.jsonl');
  const file = writePipeline(dir, {
    name: 'workers',
    groups: { trial: { stages: ['step'], trials: { x: 0 } } },
    stages: {
      step: { type: 'test.trial-step', params: { x: '%{x}', log } },
      search: { type: 'test.workers', trials: 'trial', params: { log, ...searchParams } },
      after: { type: 'test.after', params: { log }, inputs: { result: 'search.result' } },
    },
  });
  const args = ['run', file, '--no-builtins', '--plugin', join(dir, 'plugin.mjs'), '--cache-dir', join(dir, 'cache'), '--runs-dir', join(dir, 'runs')];
  const lines = (): Line[] => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  return { dir, args, lines };
}

const cli = join(repoRoot, 'packages/core/src/cli.ts');

describe('trial workers', () => {
  it('startWorkers runs the optimiser stage in other processes with its role; only the parent runs what follows', async () => {
    const s = setup();
    const r = await spawnTs(cli, s.args);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const lines = s.lines();
    const parent = lines.find((l) => l.after)!;
    expect(parent.after).toMatchObject({ started: true, concurrency: 2, exits: [{ index: 1, code: 0, finished: true }, { index: 2, code: 0, finished: true }] });
    // Each worker was told its index and the parent's data.
    const roles = lines.filter((l) => l.role).map((l) => l.role).sort((a, b) => a!.index - b!.index);
    expect(roles).toEqual([{ index: 1, data: { tag: 'from-parent' } }, { index: 2, data: { tag: 'from-parent' } }]);
    // Three trials, one per process; the workers' stage ran in their own processes, whose pids the parent got.
    const steps = lines.filter((l) => l.step);
    expect(steps.map((l) => l.x).sort()).toEqual([0, 11, 12]);
    expect(new Set(steps.map((l) => l.pid)).size).toBe(3);
    const workerPids = (parent.after!['pids'] as number[]).sort();
    expect(steps.filter((l) => l.x! > 0).map((l) => l.pid).sort()).toEqual(workerPids);
    // Each worker had a runs folder of its own, under one folder removed once they had exited.
    const runsDirs = lines.filter((l) => l.role).map((l) => l.runsDir!);
    expect(new Set(runsDirs).size).toBe(2);
    for (const d of runsDirs) expect(existsSync(dirname(d))).toBe(false);
    // `after` (the optimiser's dependent) ran once, in the parent: a worker runs nothing downstream.
    expect(lines.filter((l) => l.after).map((l) => l.pid)).toEqual([steps.find((l) => l.x === 0)!.pid]);
  }, 120_000);

  it('--force reaches the workers: their trials are recomputed, not taken from the cache', async () => {
    const s = setup();
    expect((await spawnTs(cli, s.args)).code).toBe(0);
    const before = s.lines().filter((l) => l.step).length;
    for (const force of [['--force'], ['--force', 'step']]) {
      const r = await spawnTs(cli, [...s.args, ...force]);
      expect({ force, code: r.code }).toEqual({ force, code: 0 });
    }
    // Each forced run recomputes all three trials, in three processes (a worker used to replay its two from the cache).
    const steps = s.lines().filter((l) => l.step).slice(before);
    expect(steps.map((l) => l.x).sort((a, b) => a! - b!)).toEqual([0, 0, 11, 11, 12, 12]);
  }, 180_000);

  it('a worker that crashes is reported as not finished, with its exit code', async () => {
    const s = setup({ crash: 1 });
    const r = await spawnTs(cli, s.args);
    expect(r.code).toBe(0);
    const parent = s.lines().find((l) => l.after)!;
    expect(parent.after!['exits']).toEqual([{ index: 1, code: 3, finished: false }, { index: 2, code: 0, finished: true }]);
  }, 120_000);

  it('a run that cannot be repeated in another process (no launch: a programmatic run) offers no startWorkers', async () => {
    const s = setup();
    const r = await runCli(s.args, { cwd: s.dir });
    expect(r.code).toBe(0);
    expect(s.lines().find((l) => l.after)!.after).toEqual({ started: false, concurrency: 2 });
  });

  it('a malformed or mismatched FAIRTUNE_TRIAL_WORKER stops the run before it starts, naming the variable', async () => {
    const s = setup();
    const bad = await runCli(s.args, { cwd: s.dir, env: { FAIRTUNE_TRIAL_WORKER: '{' } });
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/FAIRTUNE_TRIAL_WORKER is not JSON.*\[FT_RUN_SETUP/);
    const other = await runCli(s.args, { cwd: s.dir, env: { FAIRTUNE_TRIAL_WORKER: JSON.stringify({ pipeline: 'workers', stage: 'after', index: 1, parent: process.pid, data: {}, force: [] }) } });
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/names stage "after" of pipeline "workers".*no stage of that id runs trials/);
  });
});

describe("a worker's command line", () => {
  it('repeats the pipeline, overrides, plugins, cache and backend, at concurrency 1, without --force or --runs-dir', () => {
    const self = { command: '/usr/bin/node', args: ['--flag', '/x/cli.js'] };
    expect(workerLaunch(self, '/p/pipe.json', { set: ['a.b=1'], plugin: ['./p.mjs'], builtins: false, cacheDir: 'c', backend: 'cpu' }, '/w')).toEqual({
      command: '/usr/bin/node',
      args: ['--flag', '/x/cli.js', 'run', '/p/pipe.json', '--set', 'a.b=1', '--plugin', './p.mjs', '--no-builtins', '--cache-dir', '/w/c', '--backend', 'cpu', '--concurrency', '1'],
    });
    expect(workerLaunch(self, '/p/pipe.json', { set: [], plugin: [], builtins: true }, '/w').args).toEqual(['--flag', '/x/cli.js', 'run', '/p/pipe.json', '--concurrency', '1']);
  });
});
