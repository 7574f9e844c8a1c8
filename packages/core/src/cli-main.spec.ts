import { readFileSync } from 'node:fs';
import { runCli } from './testing.js';
import { join, resolve } from 'node:path';
import { tempDir, writePipeline } from './test-utils/fixtures.js';

const repoRoot = resolve(process.cwd(), '../..');

const cli = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd, env });

const demo = {
  name: 'cli-demo',
  seed: 1,
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 50 } },
    stats: { type: 'demo.stats', inputs: { series: 'numbers' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
  },
};

describe('fairtune CLI', () => {
  it('run prints the run directory and exits 0; a re-run is fully cached', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    const first = await cli(['run', file, '--cache-dir', 'c', '--runs-dir', 'r', '--no-builtins'], dir);
    expect(first.code).toBe(0);
    const runDir = first.out.trim();
    expect(runDir.startsWith(join(dir, 'r', 'cli-demo'))).toBe(true);
    expect(JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')).status).toBe('succeeded');
    expect(first.err).toContain('3 executed, 0 cached');
    const second = await cli(['run', file, '--cache-dir', 'c', '--runs-dir', 'r', '--no-builtins'], dir);
    expect(second.err).toContain('0 executed, 3 cached');
  });

  it('exits 2 on an invalid pipeline and lists every problem with its path', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, { name: 'x', stages: { a: { type: 'demo.numbrs' }, b: { type: 'demo.stats', inputs: { series: 'zz' } } } });
    const r = await cli(['validate', file, '--no-builtins'], dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}: /stages/a/type: unknown stage type "demo.numbrs" (did you mean "demo.numbers"?)`);
    expect(r.err).toContain(`${file}: /stages/b/inputs/series: input refers to stage "zz", which does not exist`);
    const run = await cli(['run', file, '--no-builtins'], dir);
    expect(run.code).toBe(2);
    const json = await cli(['validate', file, '--json', '--no-builtins'], dir);
    expect(JSON.parse(json.out)).toMatchObject({ valid: false, errors: [{ path: '/stages/a/type' }, { path: '/stages/b/inputs/series' }] });
  });

  it('exits 2 on bad usage and 1 when a stage fails', async () => {
    const dir = tempDir();
    expect((await cli(['run'], dir)).code).toBe(2);
    expect((await cli(['frobnicate'], dir)).code).toBe(2);
    const file = writePipeline(dir, { ...demo, stages: { ...demo.stages, numbers: { type: 'demo.numbers', params: { count: 50 } } } });
    expect((await cli(['run', file, '--force', 'nope', '--no-builtins'], dir)).code).toBe(2);
    const failing = writePipeline(dir, {
      name: 'failing',
      plugins: ['fairtune-plugin-example'],
      stages: { numbers: { type: 'demo.numbers', params: { count: 10 } }, clip: { type: 'example.winsorize', params: { lower: 0.9, upper: 0.1 }, inputs: { series: 'numbers' } }, stats: { type: 'demo.stats', inputs: { series: 'clip' } }, report: { type: 'demo.report', inputs: { metrics: ['stats'] } } },
    }, 'failing.json');
    const r = await cli(['run', failing, '--cache-dir', 'c', '--runs-dir', 'r', '--no-builtins'], dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('failed stage: clip: lower quantile 0.9 is above upper quantile 0.1');
  });

  it('graph prints text and Mermaid', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    const text = await cli(['graph', file, '--no-builtins'], dir);
    expect(text.out).toContain('stats (demo.stats)\n  series ← numbers.series');
    const mermaid = await cli(['graph', file, '--mermaid', '--no-builtins'], dir);
    expect(mermaid.out).toContain('flowchart LR');
    expect(mermaid.out).toContain('s0 -- "series" --> s1');
  });

  it('plugins --json lists type, version, package, params and ports, including a third-party package', async () => {
    const r = await cli(['plugins', '--json', '--no-builtins', '--plugin', 'fairtune-plugin-example'], repoRoot);
    const list = JSON.parse(r.out) as { type: string; version: string; package: string; params: object; inputs: object; outputs: object }[];
    expect(list.find((p) => p.type === 'demo.numbers')).toMatchObject({ package: '@fairtune/core', version: '1', inputs: {}, outputs: { series: { kind: 'demo-series' } } });
    expect(list.find((p) => p.type === 'example.winsorize')).toMatchObject({ package: 'fairtune-plugin-example', version: '1.0.0', params: { type: 'object' } });
  });

  it('cache ls, gc and clear', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    await cli(['run', file, '--no-builtins'], dir);
    const ls = await cli(['cache', 'ls', '--json'], dir);
    expect(JSON.parse(ls.out)).toHaveLength(3);
    // A param change leaves the old numbers/stats entries unreferenced by the latest run.
    await cli(['run', file, '--set', 'numbers.count=60', '--no-builtins'], dir);
    expect(JSON.parse((await cli(['cache', 'ls', '--json'], dir)).out)).toHaveLength(6);
    const gc = await cli(['cache', 'gc'], dir);
    expect(gc.out).toMatch(/^removed 3 entries/);
    expect(JSON.parse((await cli(['cache', 'ls', '--json'], dir)).out)).toHaveLength(3);
    const clear = await cli(['cache', 'clear'], dir);
    expect(clear.out).toMatch(/^removed 3 entries/);
    expect(JSON.parse((await cli(['cache', 'ls', '--json'], dir)).out)).toHaveLength(0);
  });
});
