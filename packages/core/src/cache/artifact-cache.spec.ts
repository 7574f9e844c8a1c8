/**
 * The artifact cache under concurrent writers and edited entries (issue 10 §3).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifact, ndarray } from '../contracts/artifact.js';
import type { ExecutorEvent } from '../executor/executor.js';
import { openPipeline, runPipeline } from '../runtime.js';
import { repoRoot, spawnTs, tempDir, testRegistry, writePipeline } from '../test-utils/fixtures.js';
import { ArtifactCache } from './artifact-cache.js';
import { sha256 } from './canonical.js';

const record = (key: string) => ({ key, type: 'test.t', version: '1', stageId: 's', pipeline: 'p', seconds: 0, metrics: {} });
const series = (values: number[]) => ({ out: artifact('demo-series', { n: values.length }, { values: ndarray(Float64Array.from(values)) }) });

const pipeline = {
  name: 'edited',
  seed: 2,
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 64 } },
    stats: { type: 'demo.stats', inputs: { series: 'numbers' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
  },
};

async function run(file: string, cacheDir: string, runsDir: string) {
  const events: ExecutorEvent[] = [];
  const result = await runPipeline(await openPipeline(file, { registry: testRegistry() }), { cacheDir, runsDir, onEvent: (e) => events.push(e) });
  const statuses = Object.fromEntries(Object.entries(result.summary.stages).map(([id, s]) => [id, s.status]));
  const warnings = events.flatMap((e) => (e.type === 'stage-event' && e.event.type === 'log' && e.event.level === 'warn' ? [`${e.stageId}: ${e.event.message}`] : []));
  return { ...result, statuses, warnings };
}

describe('artifact cache', () => {
  it('a second writer of an entry reuses the winner and never deletes or replaces it', async () => {
    const cache = new ArtifactCache(tempDir());
    const key = sha256('entry');
    const first = await cache.save(record(key), series([1, 2, 3]));
    const entryJson = join(cache.root, 'entries', key.slice(0, 2), key, 'entry.json');
    const before = readFileSync(entryJson, 'utf8');
    // The loser (say a stage that is not bit-for-bit reproducible) gets the winner's artifact back.
    const second = await cache.save(record(key), series([4, 5, 6]));
    expect(Array.from(second['out']!.arrays['values']!.data)).toEqual([1, 2, 3]);
    expect(Array.from(first['out']!.arrays['values']!.data)).toEqual([1, 2, 3]);
    expect(readFileSync(entryJson, 'utf8')).toBe(before);
    expect(readdirSync(join(cache.root, 'tmp'))).toEqual([]);
  });

  it('processes saving and reading the same entries at once all succeed', async () => {
    const root = tempDir();
    const worker = join(tempDir(), 'worker.ts');
    writeFileSync(
      worker,
      `import { ArtifactCache } from ${JSON.stringify(join(repoRoot, 'packages/core/src/cache/artifact-cache.ts'))};
import { artifact, ndarray } from ${JSON.stringify(join(repoRoot, 'packages/core/src/contracts/artifact.ts'))};
const [root, rounds] = process.argv.slice(2);
const cache = new ArtifactCache(root!);
const keys = ['a', 'b', 'c'].map((k) => k.repeat(64));
for (let i = 0; i < Number(rounds); i++) {
  for (const key of keys) {
    const values = Float64Array.from({ length: 20000 }, (_, j) => j + key.charCodeAt(0));
    const out = await cache.save({ key, type: 't', version: '1', stageId: key[0]!, pipeline: 'p', seconds: 0, metrics: {} }, { out: artifact('demo-series', {}, { values: ndarray(values) }, {}) });
    if (out['out']!.arrays['values']!.data[5] !== 5 + key.charCodeAt(0)) throw new Error('wrong data back from save');
    const found = await cache.lookup(key);
    if (found.status !== 'hit') throw new Error(\`lookup of \${key[0]} after save: \${found.status} \${'reason' in found ? found.reason : ''}\`);
    cache.load(key, 'out');
  }
}
`,
    );
    const results = await Promise.all(Array.from({ length: 4 }, () => spawnTs(worker, [root, '25'])));
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const cache = new ArtifactCache(root);
    expect(cache.list().map((e) => e.key).sort()).toEqual(['a', 'b', 'c'].map((k) => k.repeat(64)));
    for (const e of cache.list()) expect((await cache.lookup(e.key)).status).toBe('hit');
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  }, 60_000);

  it('verifies an entry against the files it holds: a file whose checksum was dropped from entry.json is not trusted', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, pipeline);
    const cacheDir = join(dir, 'cache');
    const first = await run(file, cacheDir, join(dir, 'runs'));
    const key = first.summary.stages['numbers']!.key;
    const entry = join(cacheDir, 'entries', key.slice(0, 2), key);
    const meta = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8'));
    delete meta.checksums['outputs/series/arrays.bin'];
    writeFileSync(join(entry, 'entry.json'), JSON.stringify(meta));
    const bin = readFileSync(join(entry, 'outputs', 'series', 'arrays.bin'));
    bin.writeDoubleLE(1e9, 0);
    writeFileSync(join(entry, 'outputs', 'series', 'arrays.bin'), bin);

    const second = await run(file, cacheDir, join(dir, 'runs'));
    expect(second.statuses).toEqual({ numbers: 'executed', stats: 'cached', report: 'cached' });
    expect(second.warnings).toEqual([expect.stringMatching(/^numbers: cache entry \w+ was damaged \(outputs\/series\/arrays.bin is not in entry.json's file list\); recomputing$/)]);
    expect(readFileSync(join(entry, 'outputs', 'series', 'arrays.bin')).readDoubleLE(0)).not.toBe(1e9);
    expect((await run(file, cacheDir, join(dir, 'runs'))).statuses).toEqual({ numbers: 'cached', stats: 'cached', report: 'cached' });
  });

  it('removes an entry found broken instead of failing on it at every run', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, pipeline);
    const cacheDir = join(dir, 'cache');
    const first = await run(file, cacheDir, join(dir, 'runs'));
    const key = first.summary.stages['report']!.key;
    const entry = join(cacheDir, 'entries', key.slice(0, 2), key);
    // An edit that drops the manifest's checksum and breaks the manifest.
    const meta = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8'));
    delete meta.checksums['outputs/report/manifest.json'];
    writeFileSync(join(entry, 'entry.json'), JSON.stringify(meta));
    writeFileSync(join(entry, 'outputs', 'report', 'manifest.json'), '{"format": "fairtune-artifact/1", "kind": "report"');
    const second = await run(file, cacheDir, join(dir, 'runs'));
    expect(second.status).toBe('succeeded');
    expect(second.statuses).toEqual({ numbers: 'cached', stats: 'cached', report: 'executed' });
    const third = await run(file, cacheDir, join(dir, 'runs'));
    expect(third.status).toBe('succeeded');
    expect(third.statuses).toEqual({ numbers: 'cached', stats: 'cached', report: 'cached' });
  });
});
