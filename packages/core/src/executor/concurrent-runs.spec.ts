/**
 * Concurrent runs sharing one cache (issue 10 §3): separate `fairtune run` processes of
 * pipelines that share stages, as `nx run-many` over related pipelines starts them, all
 * succeed with identical results, and the cache ends up with one valid entry per stage key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactCache } from '../cache/artifact-cache.js';
import type { RunSummary } from '../run/run-record.js';
import { repoRoot, spawnTs, tempDir, writePipeline } from '../test-utils/fixtures.js';

const shared = {
  numbers: { type: 'demo.numbers', params: { count: 200000 } },
  'scale-a': { type: 'demo.transform', params: { scale: 2, steps: 20 }, inputs: { series: 'numbers' } },
  'stats-a': { type: 'demo.stats', inputs: { series: 'scale-a' } },
};
const pipelineA = { name: 'share-a', seed: 5, stages: { ...shared, report: { type: 'demo.report', inputs: { metrics: ['stats-a'] } } } };
const pipelineB = {
  name: 'share-b',
  seed: 5,
  stages: {
    ...shared,
    'scale-b': { type: 'demo.transform', params: { scale: -1, offset: 3, steps: 20 }, inputs: { series: 'numbers' } },
    'stats-b': { type: 'demo.stats', inputs: { series: 'scale-b' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats-a', 'stats-b'] } },
  },
};

describe('concurrent runs on one cache', () => {
  it('processes running pipelines that share stages all succeed with identical results; the losers reuse the winners\' entries', async () => {
    const dir = tempDir();
    const files = [writePipeline(dir, pipelineA, 'a.json'), writePipeline(dir, pipelineB, 'b.json')];
    const cache = join(dir, 'cache');
    const cli = join(repoRoot, 'packages/core/src/cli.ts');
    const round = () => Promise.all([0, 1, 2, 3].map((i) => spawnTs(cli, ['run', files[i % 2]!, '--cache-dir', cache, '--runs-dir', join(dir, 'runs'), '--no-builtins'])));

    const first = await round();
    for (const r of first) expect({ code: r.code, failed: r.stderr.match(/failed stage: .*/)?.[0] }).toEqual({ code: 0, failed: undefined });
    const summaries = first.map((r) => JSON.parse(readFileSync(join(r.stdout.trim(), 'summary.json'), 'utf8')) as RunSummary);
    for (const s of summaries.slice(1)) expect(s.stages['stats-a']!.metrics).toEqual(summaries[0]!.stages['stats-a']!.metrics);
    expect(summaries[3]!.stages['stats-b']!.metrics).toEqual(summaries[1]!.stages['stats-b']!.metrics);

    // One valid entry per distinct stage key, nothing left in tmp/ or leases/.
    const keys = new Set(summaries.flatMap((s) => Object.values(s.stages).map((st) => st.key)));
    const store = new ArtifactCache(cache);
    expect(store.list().map((e) => e.key).sort()).toEqual([...keys].sort());
    for (const key of keys) expect((await store.lookup(key)).status).toBe('hit');
    expect(readdirSync(join(cache, 'tmp'))).toEqual([]);
    expect(readdirSync(join(cache, 'leases'))).toEqual([]);

    const second = await round();
    for (const r of second) {
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/: succeeded in .* — 0 executed, \d cached/);
    }
  }, 60_000);
});
