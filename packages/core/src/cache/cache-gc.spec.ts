/**
 * Cache maintenance (issue 10 §2): `cache gc` / `cache clear` never break a live run, never
 * touch a folder that is not a FairTune cache, and collect what killed runs left behind.
 */
import { spawn } from 'node:child_process';
import { runCli } from '../testing.js';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutorEvent } from '../executor/executor.js';
import { openPipeline, runPipeline } from '../runtime.js';
import { deadPid, repoRoot, tempDir, testRegistry, thisHost, writePipeline } from '../test-utils/fixtures.js';

const cli = (args: string[], cwd: string) => runCli(args, { cwd });

const demo = {
  name: 'gc-demo',
  seed: 1,
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 50 } },
    stats: { type: 'demo.stats', inputs: { series: 'numbers' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
  },
};

const entryDir = (cache: string, key: string) => join(cache, 'entries', key.slice(0, 2), key);

/** Every path under `dir` (relative), for "what is left" checks. */
function walk(dir: string, rel = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => [rel + e.name, ...(e.isDirectory() ? walk(join(dir, e.name), `${rel}${e.name}/`) : [])]);
}

describe('cache gc and clear', () => {
  it('gc during a live run keeps the entries it wrote and will read, and its work folders, whatever runs dir gc is given', async () => {
    const dir = tempDir();
    const cache = join(dir, 'cache');
    const registry = testRegistry();
    // A previous run (its own runs dir) leaves `numbers` in the cache.
    const earlier = await runPipeline(await openPipeline(writePipeline(dir, demo, 'earlier.json'), { registry }), { cacheDir: cache, runsDir: join(dir, 'runs-a') });
    expect(earlier.status).toBe('succeeded');
    const numbersKey = earlier.summary.stages['numbers']!.key;

    // The live run: `numbers` is a cache hit it reads again later (in `late`), `slow` holds a
    // file in its work folder while gc runs, `late` reads `numbers` from the cache afterwards.
    const live = writePipeline(dir, {
      name: 'live',
      seed: 1,
      stages: {
        numbers: demo.stages.numbers,
        slow: { type: 'test.workfile', params: { ms: 1200 } },
        late: { type: 'test.workfile', inputs: { series: 'numbers', after: 'slow' } },
      },
    }, 'live.json');
    let slowStarted!: () => void;
    const started = new Promise<void>((r) => (slowStarted = r));
    const running = runPipeline(await openPipeline(live, { registry }), {
      cacheDir: cache,
      runsDir: join(dir, 'runs-b'),
      onEvent: (e: ExecutorEvent) => {
        if (e.type === 'stage-start' && e.stageId === 'slow') setTimeout(slowStarted, 100);
      },
    });
    await started;
    const workFolders = walk(join(cache, 'tmp')).filter((p) => /work-slow-/.test(p) && !p.includes('/note'));
    expect(workFolders).toHaveLength(1);

    // gc with a runs dir that has never seen either run.
    const gc = await cli(['cache', 'gc', '--cache-dir', cache, '--runs-dir', join(dir, 'elsewhere')], dir);
    expect(gc.code).toBe(0);
    // The earlier run's stats and report are used by no run it knows of; `numbers` is leased.
    expect(gc.out).toMatch(/^removed 2 entries \(.*\); kept 0 used by the latest runs and 1 more named by live runs\n$/);
    expect(existsSync(entryDir(cache, numbersKey))).toBe(true);
    expect(existsSync(join(cache, 'tmp', workFolders[0]!, 'note.txt'))).toBe(true);

    const result = await running;
    expect(result.status).toBe('succeeded');
    expect(result.summary.stages['numbers']!.status).toBe('cached');
    expect(result.summary.stages['late']!.status).toBe('executed');
    // The run is over: its lease is gone, its temporary folders too, and gc may now collect its entries.
    expect(walk(join(cache, 'tmp'))).toEqual([]);
    expect(readdirSync(join(cache, 'leases'))).toEqual([]);
    const after = await cli(['cache', 'gc', '--cache-dir', cache, '--runs-dir', join(dir, 'elsewhere')], dir);
    expect(after.out).toMatch(/^removed 3 entries/);
  });

  it('gc and clear refuse a folder that is not a FairTune cache; a cache is marked when created, or recognised and marked', async () => {
    const home = tempDir();
    mkdirSync(join(home, 'tmp'));
    writeFileSync(join(home, 'tmp', 'precious.txt'), 'keep me');
    writeFileSync(join(home, 'notes.txt'), 'keep me too');
    for (const sub of ['gc', 'clear']) {
      const r = await cli(['cache', sub, '--cache-dir', home], home);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${home} is not a FairTune cache`);
    }
    expect(walk(home).sort()).toEqual(['notes.txt', 'tmp', 'tmp/precious.txt']);

    const dir = tempDir();
    const file = writePipeline(dir, demo);
    expect((await cli(['run', file, '--cache-dir', 'c', '--runs-dir', 'r', '--no-builtins'], dir)).code).toBe(0);
    expect(existsSync(join(dir, 'c', 'fairtune-cache.json'))).toBe(true);
    // A cache written before the marker existed: recognised by its layout, marked by its next run.
    rmSync(join(dir, 'c', 'fairtune-cache.json'));
    expect((await cli(['cache', 'gc', '--cache-dir', 'c', '--runs-dir', 'r'], dir)).code).toBe(0);
    expect((await cli(['cache', 'ls', '--cache-dir', 'c', '--json'], dir)).out).toContain('"stageId": "numbers"');
    expect((await cli(['run', file, '--cache-dir', 'c', '--runs-dir', 'r', '--no-builtins'], dir)).code).toBe(0);
    expect(existsSync(join(dir, 'c', 'fairtune-cache.json'))).toBe(true);
    const clear = await cli(['cache', 'clear', '--cache-dir', 'c'], dir);
    expect(clear.code).toBe(0);
    expect(clear.out).toMatch(/^removed 3 entries/);
  });

  it('gc --dry-run lists what killed runs left (work folders, leases, synthetic .tmp- folders, records still "running"); gc removes them', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    const first = await cli(['run', file, '--cache-dir', 'c', '--runs-dir', 'r', '--no-builtins'], dir);
    expect(first.code).toBe(0);
    const cache = join(dir, 'c');
    const dead = deadPid();
    // A killed run: its lease, its temporary folder with a stage's work folder.
    const id = `20200101T000000Z-${dead}-0bad`;
    mkdirSync(join(cache, 'leases'), { recursive: true });
    writeFileSync(join(cache, 'leases', `${id}.json`), JSON.stringify({ format: 'fairtune-lease/1', id, pid: dead, hostname: thisHost, started: '2020-01-01T00:00:00.000Z', pipeline: 'gc-demo', keys: ['f'.repeat(64)] }));
    mkdirSync(join(cache, 'tmp', id, 'work-stats-0000abcd'), { recursive: true });
    writeFileSync(join(cache, 'tmp', id, 'work-stats-0000abcd', 'scratch.bin'), 'x');
    // A finished stage's work folder left by an older version, directly under tmp/.
    mkdirSync(join(cache, 'tmp', 'work-report-deadbeef'), { recursive: true });
    writeFileSync(join(cache, 'tmp', 'work-report-deadbeef', 'report.md'), '# old');
    // A killed run's record, still "running".
    const killed = join(dir, 'r', 'gc-demo', '20200101T000000Z-dead');
    mkdirSync(killed, { recursive: true });
    writeFileSync(join(killed, 'summary.json'), JSON.stringify({ pipeline: 'gc-demo', runId: '20200101T000000Z-dead', status: 'running', started: '2020-01-01T00:00:00.000Z', pid: dead, hostname: thisHost, counts: { executed: 0, cached: 0, failed: 0, skipped: 0 }, stages: {} }));
    // A killed synthetic generation next to a complete cohort.
    const synthetic = join(dir, 'synthetic');
    const partial = `dalia-0123456789ab.tmp-${dead}-1577836800000`;
    mkdirSync(join(synthetic, partial, 'S1'), { recursive: true });
    writeFileSync(join(synthetic, partial, 'S1', 'S1.pkl'), 'half');
    mkdirSync(join(synthetic, 'dalia-0123456789ab'), { recursive: true });
    writeFileSync(join(synthetic, 'dalia-0123456789ab', '.complete.json'), '{}');

    const before = walk(dir).sort();
    const dry = await cli(['cache', 'gc', '--dry-run', '--cache-dir', 'c', '--runs-dir', 'r', '--synthetic-dir', 'synthetic'], dir);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^would remove 0 entries/);
    for (const item of [join('tmp', id), join('tmp', 'work-report-deadbeef'), join('leases', `${id}.json`), killed, join(synthetic, partial)]) expect(dry.out).toContain(item);
    expect(walk(dir).sort()).toEqual(before);

    const gc = await cli(['cache', 'gc', '--cache-dir', 'c', '--runs-dir', 'r', '--synthetic-dir', 'synthetic'], dir);
    expect(gc.code).toBe(0);
    expect(gc.out).toMatch(/^removed 0 entries/);
    expect(readdirSync(join(cache, 'tmp'))).toEqual([]);
    expect(readdirSync(join(cache, 'leases'))).toEqual([]);
    expect(existsSync(killed)).toBe(false);
    expect(readdirSync(join(dir, 'r', 'gc-demo')).filter((n) => n !== 'latest')).toEqual([first.out.trim().split('/').at(-1)]);
    expect(readdirSync(synthetic)).toEqual(['dalia-0123456789ab']);
    expect(JSON.parse((await cli(['cache', 'ls', '--cache-dir', 'c', '--json'], dir)).out)).toHaveLength(3);
  });

  it('a run killed with SIGKILL: gc --dry-run names its lease, temporary folder and record; gc removes them', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, { name: 'killed', seed: 1, stages: { numbers: demo.stages.numbers, slow: { type: 'demo.transform', params: { steps: 100, stepDelayMs: 100 }, inputs: { series: 'numbers' } } } });
    const cache = join(dir, 'c');
    const env = { ...process.env };
    delete env['NODE_OPTIONS'];
    const child = spawn(process.execPath, ['--conditions=@fairtune/source', '--import', '@swc-node/register/esm-register', join(repoRoot, 'packages/core/src/cli.ts'), 'run', file, '--cache-dir', cache, '--runs-dir', join(dir, 'r'), '--no-builtins'], { cwd: repoRoot, env, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    const deadline = Date.now() + 20_000;
    while (!walk(join(cache, 'tmp')).some((p) => /work-slow-/.test(p)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    const [lease] = readdirSync(join(cache, 'leases'));
    const id = lease!.replace(/\.json$/, '');
    const [record] = readdirSync(join(dir, 'r', 'killed')).filter((n) => n !== 'latest');

    const dry = await cli(['cache', 'gc', '--dry-run', '--cache-dir', 'c', '--runs-dir', 'r', '--synthetic-dir', 'none'], dir);
    expect(dry.out).toContain(`${join(cache, 'tmp', id)}  (temporary folder (entries being written, work folders) of a run that is gone: pid ${child.pid} on ${thisHost}, pipeline killed`);
    expect(dry.out).toContain(`${join(cache, 'leases', lease!)}  (lease of a run that is gone`);
    expect(dry.out).toContain(`${join(dir, 'r', 'killed', record!)}  (run record still "running", but its process (pid ${child.pid} on ${thisHost}) is gone)`);
    const gc = await cli(['cache', 'gc', '--cache-dir', 'c', '--runs-dir', 'r', '--synthetic-dir', 'none'], dir);
    expect(gc.code).toBe(0);
    expect(walk(join(cache, 'tmp'))).toEqual([]);
    expect(readdirSync(join(cache, 'leases'))).toEqual([]);
    expect(readdirSync(join(dir, 'r', 'killed')).filter((n) => n !== 'latest')).toEqual([]);
  }, 30_000);
});
