import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPipeline, runPipeline, type RunOptions } from '../runtime.js';
import { Probe, tempDir, testRegistry, writePipeline } from '../test-utils/fixtures.js';
import type { ExecutorEvent } from './executor.js';

const demoLike = (overrides: Record<string, object> = {}) => ({
  name: 'exec',
  seed: 3,
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 200 } },
    a: { type: 'demo.transform', params: { scale: 2 }, inputs: { series: 'numbers' } },
    b: { type: 'demo.transform', params: { scale: 3 }, inputs: { series: 'numbers' } },
    sa: { type: 'demo.stats', inputs: { series: 'a' } },
    sb: { type: 'demo.stats', inputs: { series: 'b' } },
    report: { type: 'demo.report', inputs: { metrics: ['sa', 'sb'] } },
    ...overrides,
  },
});

async function run(file: string, dir: string, probe = new Probe(), options: Partial<RunOptions> & { sets?: string[] } = {}) {
  const opened = await openPipeline(file, { registry: testRegistry(probe), sets: options.sets });
  const events: ExecutorEvent[] = [];
  const result = await runPipeline(opened, { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs'), onEvent: (e) => events.push(e), ...options });
  const statuses = Object.fromEntries(Object.entries(result.summary.stages).map(([id, s]) => [id, s.status]));
  return { ...result, events, statuses, probe };
}

describe('executor and cache', () => {
  it('executes every stage once, then reuses the cache for an unchanged re-run', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demoLike());
    const first = await run(file, dir);
    expect(first.status).toBe('succeeded');
    expect(Object.values(first.statuses)).toEqual(Array(6).fill('executed'));
    const second = await run(file, dir);
    expect(second.status).toBe('succeeded');
    expect(Object.values(second.statuses)).toEqual(Array(6).fill('cached'));
    expect(second.events.filter((e) => e.type === 'stage-start')).toHaveLength(0);
    // metrics of cached stages are reported again
    expect(second.summary.stages['sa']!.metrics['n']).toBe(200);
    // the report is materialised into every run directory, cached or not
    expect(readFileSync(join(second.runDir, 'report', 'report.md'), 'utf8')).toContain('| sa |');
  });

  it('re-runs only the changed stage and its descendants', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demoLike());
    await run(file, dir);
    const again = await run(file, dir, new Probe(), { sets: ['b.scale=4'] });
    expect(again.statuses).toEqual({ numbers: 'cached', a: 'cached', b: 'executed', sa: 'cached', sb: 'executed', report: 'executed' });
  });

  it('produces identical numbers for the same seed and different ones for another seed', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demoLike());
    const one = await run(file, dir);
    const two = await run(file, tempDir());
    expect(two.summary.stages['sa']!.metrics).toEqual(one.summary.stages['sa']!.metrics);
    const other = writePipeline(dir, { ...demoLike(), seed: 4 }, 'other.json');
    const three = await run(other, dir);
    expect(three.summary.stages['sa']!.metrics['mean']).not.toBe(one.summary.stages['sa']!.metrics['mean']);
  });

  it('detects a corrupt cache entry and recomputes it', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demoLike());
    const first = await run(file, dir);
    const key = first.summary.stages['a']!.key;
    const bin = join(dir, 'cache', 'entries', key.slice(0, 2), key, 'outputs', 'series', 'arrays.bin');
    const bytes = readFileSync(bin);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(bin, bytes);
    const second = await run(file, dir);
    expect(second.statuses['a']).toBe('executed');
    expect(second.statuses['b']).toBe('cached');
    const warning = second.events.find((e) => e.type === 'stage-event' && e.stageId === 'a' && e.event.type === 'log');
    expect(warning).toMatchObject({ event: { level: 'warn', message: expect.stringMatching(/was damaged \(outputs\/series\/arrays.bin fails its SHA-256 checksum\); recomputing/) } });
    expect(second.summary.stages['sa']!.metrics).toEqual(first.summary.stages['sa']!.metrics);
  });

  it('treats a truncated entry as corrupt and ignores leftovers of interrupted writes', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demoLike());
    const first = await run(file, dir);
    const key = first.summary.stages['numbers']!.key;
    const entry = join(dir, 'cache', 'entries', key.slice(0, 2), key);
    writeFileSync(join(entry, 'outputs', 'series', 'arrays.bin'), Buffer.alloc(3));
    const second = await run(file, dir);
    expect(second.statuses['numbers']).toBe('executed');
    expect(readdirSync(join(dir, 'cache', 'entries', key.slice(0, 2)))).toContain(key);
  });

  it('re-runs a stage whose external input (fingerprint) changed', async () => {
    const dir = tempDir();
    const data = join(dir, 'data.bin');
    writeFileSync(data, Buffer.from([1, 2, 3]));
    const file = writePipeline(dir, { name: 'ext', stages: { read: { type: 'test.file', params: { path: data } }, stats: { type: 'demo.stats', inputs: { series: 'read' } }, r: { type: 'demo.report', inputs: { metrics: ['stats'] } } } });
    expect((await run(file, dir)).statuses).toEqual({ read: 'executed', stats: 'executed', r: 'executed' });
    expect((await run(file, dir)).statuses).toEqual({ read: 'cached', stats: 'cached', r: 'cached' });
    writeFileSync(data, Buffer.from([1, 2, 3, 4]));
    const changed = await run(file, dir);
    expect(changed.statuses).toEqual({ read: 'executed', stats: 'executed', r: 'executed' });
    expect(changed.summary.stages['stats']!.metrics['n']).toBe(4);
  });

  it('--force recomputes all stages, or the named ones and their descendants', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demoLike());
    await run(file, dir);
    const all = await run(file, dir, new Probe(), { force: true });
    expect(Object.values(all.statuses)).toEqual(Array(6).fill('executed'));
    const one = await run(file, dir, new Probe(), { force: new Set(['a']) });
    expect(one.statuses).toEqual({ numbers: 'cached', a: 'executed', b: 'cached', sa: 'executed', sb: 'cached', report: 'executed' });
  });

  it('runs independent stages concurrently up to the limit', async () => {
    const spec = { name: 'conc', seed: 1, stages: Object.fromEntries(['p', 'q', 'r', 's', 't'].map((id) => [id, { type: 'test.sleep', params: { ms: 120, tag: id } }])) };
    const limited = await run(writePipeline(tempDir(), spec), tempDir(), new Probe(), { concurrency: 2 });
    expect(limited.probe.maxRunning).toBe(2);
    const wide = await run(writePipeline(tempDir(), spec), tempDir(), new Probe(), { concurrency: 5 });
    expect(wide.probe.maxRunning).toBe(5);
  });

  it('stops cleanly on a failing stage: names it, cancels the rest, keeps finished artifacts cached', async () => {
    const dir = tempDir();
    const spec = {
      name: 'fails',
      seed: 1,
      stages: {
        quick: { type: 'test.sleep', params: { ms: 10 } },
        slow: { type: 'test.sleep', params: { ms: 3000 } },
        bad: { type: 'test.fail', params: { message: 'disk on fire', ms: 100 }, inputs: { series: 'quick' } },
        after: { type: 'test.sleep', inputs: { series: 'bad' } },
      },
    };
    const file = writePipeline(dir, spec);
    const started = Date.now();
    const result = await run(file, dir, new Probe(), { concurrency: 3 });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(result.status).toBe('failed');
    expect(result.summary.failedStage).toBe('bad');
    expect(result.summary.stages['bad']).toMatchObject({ status: 'failed', reason: 'disk on fire' });
    expect(result.statuses).toEqual({ quick: 'executed', slow: 'skipped', bad: 'failed', after: 'skipped' });
    expect(result.summary.stages['slow']!.reason).toBe('cancelled: stage "bad" failed: disk on fire');
    const summary = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    const again = await run(file, dir, new Probe(), { concurrency: 3 });
    expect(again.statuses['quick']).toBe('cached');
  });

  it('cancels on abort (Ctrl-C) and records the run as cancelled', async () => {
    const dir = tempDir();
    const spec = { name: 'cancel', seed: 1, stages: { first: { type: 'test.sleep', params: { ms: 10 } }, long: { type: 'test.sleep', params: { ms: 5000 }, inputs: { series: 'first' } }, last: { type: 'test.sleep', inputs: { series: 'long' } } } };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const result = await run(writePipeline(dir, spec), dir, new Probe(), { signal: controller.signal });
    expect(result.status).toBe('cancelled');
    expect(result.statuses).toEqual({ first: 'executed', long: 'skipped', last: 'skipped' });
    expect(result.summary.stages['long']!.reason).toBe('cancelled: interrupted');
    const lines = readFileSync(join(result.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ type: 'run-end', status: 'cancelled' });
  });

  it('writes a run record: resolved pipeline, environment, events and summary', async () => {
    const dir = tempDir();
    const result = await run(writePipeline(dir, demoLike()), dir);
    const files = readdirSync(result.runDir).sort();
    expect(files).toEqual(['environment.json', 'events.jsonl', 'pipeline.json', 'report', 'summary.json']);
    const pipeline = JSON.parse(readFileSync(join(result.runDir, 'pipeline.json'), 'utf8'));
    expect(pipeline.stages.numbers.params).toEqual({ count: 200, mean: 0, std: 1 });
    const env = JSON.parse(readFileSync(join(result.runDir, 'environment.json'), 'utf8'));
    expect(env).toMatchObject({ node: process.version, tensorBackend: expect.any(String) });
    const summary = JSON.parse(readFileSync(join(result.runDir, 'summary.json'), 'utf8'));
    expect(summary.stages.sa).toMatchObject({ status: 'executed', key: expect.stringMatching(/^[0-9a-f]{64}$/), metrics: { n: 200 }, seconds: expect.any(Number) });
    const events = readFileSync(join(result.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'metric' && e.stage === 'sa' && e.name === 'n')).toHaveLength(1);
  });
});
