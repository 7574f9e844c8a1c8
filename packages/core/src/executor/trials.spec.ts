import { join } from 'node:path';
import { ArtifactCache } from '../cache/artifact-cache.js';
import { PipelineError } from '../pipeline/issues.js';
import { openPipeline, runPipeline, type RunOptions } from '../runtime.js';
import { tempDir, testRegistry, writePipeline } from '../test-utils/fixtures.js';
import type { ExecutorEvent } from './executor.js';

/** A toy search: three trials of (shift → stats) binding `offset`, minimising the running mean. */
const searchSpec = (values = [1, 5, 0.5], extra: Record<string, object> = {}) => ({
  name: 'search',
  seed: 3,
  groups: { trial: { stages: ['shift', 'stats'], trials: { offset: 0 } } },
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 400 } },
    shift: { type: 'demo.transform', params: { offset: '%{offset}', steps: 8, stepDelayMs: 2 }, inputs: { series: 'numbers' } },
    stats: { type: 'demo.stats', params: { label: 'offset %{offset}' }, inputs: { series: 'shift' } },
    search: { type: 'demo.search', trials: 'trial', params: { param: 'offset', values, metric: { stage: 'shift', name: 'running-mean' } } },
    ...extra,
  },
});

async function run(file: string, dir: string, options: Partial<RunOptions> = {}) {
  const opened = await openPipeline(file, { registry: testRegistry(), env: {} });
  const events: ExecutorEvent[] = [];
  const result = await runPipeline(opened, { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs'), onEvent: (e) => events.push(e), ...options });
  const statuses = Object.fromEntries(Object.entries(result.summary.stages).map(([id, s]) => [id, s.status]));
  return { ...result, events, statuses, opened };
}

async function errorsOf(spec: object): Promise<string[]> {
  try {
    await openPipeline(writePipeline(tempDir(), spec), { registry: testRegistry(), env: {} });
  } catch (e) {
    if (e instanceof PipelineError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

describe('trial subgraphs', () => {
  it('a toy optimiser runs trials through the contract and prunes one by abort, at --concurrency 1', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, searchSpec());
    const first = await run(file, dir, { concurrency: 1 });
    expect(first.status).toBe('succeeded');
    // The trial group's stages do not run on their own; each trial's copies are recorded under its id.
    expect(first.opened.pipeline.stages.map((s) => s.id)).toEqual(['numbers', 'search']);
    expect(first.statuses).toEqual({
      numbers: 'executed',
      search: 'executed',
      'shift[trial=0]': 'executed',
      'stats[trial=0]': 'executed',
      'shift[trial=1]': 'skipped',
      'stats[trial=1]': 'skipped',
      'shift[trial=2]': 'executed',
      'stats[trial=2]': 'executed',
    });
    expect(first.summary.stages['shift[trial=1]']!.reason).toMatch(/pruned: running-mean 5\.\d+ > 1\.\d+ at step 0/);
    const result = new ArtifactCache(join(dir, 'cache')).load(first.summary.stages['search']!.key, 'result');
    expect(result.meta).toMatchObject({ offset: 0.5, trials: [{ status: 'completed' }, { status: 'pruned' }, { status: 'completed' }] });
    // The pruned stage stopped early (fewer than its 8 steps) and left nothing in the cache.
    const steps = first.events.filter((e) => e.type === 'stage-event' && e.stageId === 'shift[trial=1]' && e.event.type === 'progress');
    expect(steps.length).toBeLessThan(8);
    expect(new ArtifactCache(join(dir, 'cache')).list().map((e) => e.stageId).sort()).toEqual(['numbers', 'search', 'shift[trial=0]', 'shift[trial=2]', 'stats[trial=0]', 'stats[trial=2]']);
    // Metric events of the trials reach the run's stream as they happen, under the trial's ids.
    expect(first.events.some((e) => e.type === 'stage-event' && e.stageId === 'shift[trial=2]' && e.event.type === 'metric' && e.event.name === 'running-mean')).toBe(true);
  });

  it('a matrix of optimisers shares one trial group: each copy runs its own trials, numbered apart, and the copies share the cache', async () => {
    const dir = tempDir();
    const spec = searchSpec();
    const search = { ...spec.stages.search, matrix: { values: [{ id: 'a', list: [1, 5] }, { id: 'b', list: [5, 2] }] }, params: { ...spec.stages.search.params, values: '%{values.list}' } };
    const file = writePipeline(dir, { ...spec, stages: { ...spec.stages, search } });
    const r = await run(file, dir, { concurrency: 1 });
    expect(r.status).toBe('succeeded');
    expect(r.opened.pipeline.stages.map((s) => s.id)).toEqual(['numbers', 'search[values=a]', 'search[values=b]']);
    const cache = new ArtifactCache(join(dir, 'cache'));
    const result = (id: string) => cache.load(r.summary.stages[id]!.key, 'result').meta as { trials: { trial: number; offset: number; status: string }[] };
    const [a, b] = [result('search[values=a]').trials, result('search[values=b]').trials];
    // Each copy ran its own values and judged them against its own best (a prunes offset 5 behind 1; b has nothing better than 5).
    expect(a.map((t) => [t.offset, t.status])).toEqual([[1, 'completed'], [5, 'pruned']]);
    expect(b.map((t) => [t.offset, t.status])).toEqual([[5, 'completed'], [2, 'completed']]);
    // Trial numbers are shared by the group's users: the copies' trials never get the same id.
    expect([...a, ...b].map((t) => t.trial).sort()).toEqual([0, 1, 2, 3]);
    expect(Object.keys(r.statuses).filter((id) => id.startsWith('shift[')).sort()).toEqual(['shift[trial=0]', 'shift[trial=1]', 'shift[trial=2]', 'shift[trial=3]']);
    // Offset 5's shift ran once: the copy that asked for it second took it from the cache.
    expect(Object.entries(r.statuses).filter(([id, st]) => id.startsWith('shift[') && st === 'cached')).toHaveLength(1);
  });

  it('a repeated trial with the same values is a cache hit; the optimiser itself is keyed by its subgraph', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, searchSpec());
    await run(file, dir);
    const again = await run(file, dir, { force: new Set(['search']) });
    expect(again.statuses['search']).toBe('executed');
    expect(again.statuses['shift[trial=0]']).toBe('cached');
    expect(again.statuses['stats[trial=2]']).toBe('cached');
    // Reordered values: trial numbers change, keys (made from values) do not.
    const reordered = await run(writePipeline(dir, searchSpec([0.5, 1]), 'reordered.json'), dir);
    expect(reordered.statuses['shift[trial=0]']).toBe('cached');
    expect(reordered.statuses['shift[trial=1]']).toBe('cached'); // offset 1 completed in the first run
    // Changing a trial stage's template changes the optimiser's key, so it runs again.
    const before = (await run(file, dir)).summary.stages['search']!.key;
    const changed = searchSpec();
    (changed.stages.shift as { params: Record<string, unknown> }).params['steps'] = 4;
    const after = await run(writePipeline(dir, changed, 'changed.json'), dir);
    expect(after.summary.stages['search']!.key).not.toBe(before);
    expect(after.statuses['search']).toBe('executed');
  });

  it('an optimiser decides the same whether its trials ran now or come from the cache (cached stages replay their metric series)', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, searchSpec([1, 5, 0.5, 1]));
    const first = await run(file, dir);
    const again = await run(file, dir, { force: new Set(['search']) });
    expect(first.statuses['shift[trial=3]']).toBe('cached'); // the same values as trial 0
    expect(again.statuses['shift[trial=0]']).toBe('cached');
    const meta = (r: typeof first) => new ArtifactCache(join(dir, 'cache')).load(r.summary.stages['search']!.key, 'result').meta;
    expect(first.summary.stages['search']!.key).toBe(again.summary.stages['search']!.key);
    expect((meta(again) as { trials: { status: string }[] }).trials.map((t) => t.status)).toEqual(['completed', 'pruned', 'completed', 'pruned']);
    expect(meta(again)).toEqual(meta(first));
  });

  it('forcing a stage that trials read, or a trial stage by its id in the file, recomputes the trials', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, searchSpec([1, 0.5]));
    await run(file, dir);
    const upstream = await run(file, dir, { force: new Set(['numbers']) });
    expect(upstream.statuses).toMatchObject({ numbers: 'executed', search: 'executed', 'shift[trial=0]': 'executed', 'stats[trial=1]': 'executed' });
    const template = await run(file, dir, { force: new Set(['stats']) });
    expect(template.statuses).toMatchObject({ numbers: 'cached', search: 'executed', 'shift[trial=0]': 'cached', 'stats[trial=0]': 'executed' });
  });

  it('two optimisers of one trial group number their trials apart; a trial that cannot be bound is logged on its optimiser', async () => {
    const dir = tempDir();
    const spec = searchSpec([1, 2], { search2: { type: 'demo.search', trials: 'trial', params: { param: 'offset', values: [3, 'x'], metric: { stage: 'shift', name: 'running-mean' } } } });
    expect(await errorsOf(spec)).toEqual([expect.stringMatching(/^\/stages\/search2\/params\/values\/1: must be of type number/)]);
    ((spec.stages as Record<string, object>)['search2'] as { params: { values: unknown[] } }).params.values = [3, 4];
    const r = await run(writePipeline(dir, spec), dir, { concurrency: 3 });
    expect(r.status).toBe('succeeded');
    const trialIds = Object.keys(r.statuses).filter((id) => id.startsWith('shift['));
    expect(trialIds.sort()).toEqual(['shift[trial=0]', 'shift[trial=1]', 'shift[trial=2]', 'shift[trial=3]']);
    const bad = searchSpec([1, 2]);
    (bad.stages.shift as { params: Record<string, unknown> }).params['steps'] = '%{offset}';
    (bad.stages.search as { params: Record<string, unknown> }).params['values'] = [0, 2];
    bad.groups.trial.trials.offset = 1;
    const logged = await run(writePipeline(dir, bad, 'bad.json'), dir);
    expect(logged.events.some((e) => e.type === 'stage-event' && e.stageId === 'search' && e.event.type === 'log' && /trial 0 of "search": .*steps.*the trial did not run/.test(e.event.message))).toBe(true);
  });

  it('two trial groups with their own optimisers in one pipeline: each trial binds its group, the other group keeps its defaults', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, {
      name: 'two-searches',
      seed: 3,
      groups: { ga: { stages: ['shiftA'], trials: { a: 0 } }, gb: { stages: ['shiftB'], trials: { b: 0 } } },
      stages: {
        numbers: { type: 'demo.numbers', params: { count: 100 } },
        shiftA: { type: 'demo.transform', params: { offset: '%{a}', steps: 2 }, inputs: { series: 'numbers' } },
        shiftB: { type: 'demo.transform', params: { offset: '%{b}', steps: 2 }, inputs: { series: 'numbers' } },
        searchA: { type: 'demo.search', trials: 'ga', params: { param: 'a', values: [1, 0.5], metric: { stage: 'shiftA', name: 'running-mean' } } },
        searchB: { type: 'demo.search', trials: 'gb', params: { param: 'b', values: [2, 3], metric: { stage: 'shiftB', name: 'running-mean' } } },
      },
    });
    const r = await run(file, dir, { concurrency: 1 });
    expect(r.status).toBe('succeeded');
    // Before the fix every trial failed on the other group's unbound %{…} (offset "%{b}" is not a number).
    expect(r.statuses['shiftA[ga=0]']).toBe('executed');
    expect(r.statuses['shiftB[gb=0]']).toBe('executed');
    const cache = new ArtifactCache(join(dir, 'cache'));
    expect(cache.load(r.summary.stages['searchA']!.key, 'result').meta).toMatchObject({ a: 0.5, trials: [{ status: 'completed' }, { status: 'completed' }] });
    expect(cache.load(r.summary.stages['searchB']!.key, 'result').meta).toMatchObject({ b: 2 });
  });

  it('validates trial groups: stages checked with defaults, unknown names, non-optimiser users', async () => {
    expect(await errorsOf(searchSpec([1], { stats: { type: 'demo.stats', params: { label: '%{ofset}' }, inputs: { series: 'shift' } } }))).toEqual([
      expect.stringMatching(/^\/stages\/stats\/params\/label: "%\{ofset\}" names no trial binding or matrix axis of stage "stats" \(it is in trial group "trial", which binds offset/),
    ]);
    const wrongUser = searchSpec([1]);
    (wrongUser.stages as Record<string, object>)['other'] = { type: 'demo.stats', trials: 'trial', inputs: { series: 'numbers' } };
    expect(await errorsOf(wrongUser)).toEqual(expect.arrayContaining(['/stages/other/trials: stage type demo.stats does not run trials; "trials" is for optimiser stages']));
    const noGroup = searchSpec([1]);
    (noGroup.stages.search as Record<string, unknown>)['trials'] = 'trails';
    expect(await errorsOf(noGroup)).toEqual(expect.arrayContaining([expect.stringMatching(/^\/stages\/search\/trials: "trials" names "trails", which is not a trial group of this pipeline \(trial groups: trial\)/)]));
    const badDefault = searchSpec([1]);
    badDefault.groups.trial.trials.offset = 'x' as unknown as number;
    expect(await errorsOf(badDefault)).toEqual(['/stages/shift/params/offset: must be of type number (stage type demo.transform)']);
    const leak = searchSpec([1], { report: { type: 'demo.report', inputs: { metrics: ['stats'] } } });
    expect(await errorsOf(leak)).toEqual(expect.arrayContaining([expect.stringMatching(/^\/stages\/report\/inputs: stage "report" reads "stats", which belongs to trial group "trial"/)]));
  });

  it('a trial whose values break a stage schema fails alone, with the reason', async () => {
    const dir = tempDir();
    const spec = searchSpec([1, 2]);
    (spec.stages.shift as { params: Record<string, unknown> }).params['steps'] = '%{offset}';
    spec.groups.trial.trials.offset = 1;
    (spec.stages.search as { params: Record<string, unknown> }).params['values'] = [0, 2];
    const r = await run(writePipeline(dir, spec), dir);
    expect(r.status).toBe('succeeded');
    const meta = new ArtifactCache(join(dir, 'cache')).load(r.summary.stages['search']!.key, 'result').meta as { trials: { status: string; reason?: string }[] };
    expect(meta.trials[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/\/stages\/shift\[trial=0\]\/params\/steps: must be >= 1/) });
    expect(meta.trials[1]!.status).toBe('completed');
  });
});
