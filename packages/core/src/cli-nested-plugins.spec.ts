import { resolve } from 'node:path';
import { runCli } from './testing.js';
import { tempDir, writePipeline } from './test-utils/fixtures.js';

// The fixture is loaded by path, as a user's plugin package is.
const fixture = resolve(process.cwd(), 'src/test-utils/nested-fixture.ts');

const cli = (args: string[], cwd: string) => runCli(args, { cwd });

const pipeline = (strategy: object) => ({
  name: 'nested-cli',
  plugins: [fixture],
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 10 } },
    fit: { type: 'test.fit', inputs: { series: 'numbers' }, params: { strategy } },
    stats: { type: 'demo.stats', inputs: { series: 'fit' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
  },
});

describe('fairtune CLI and nested plugins', () => {
  it('validate exits 2 on a typo in a strategy name, naming its JSON pointer', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, pipeline({ name: 'group-droo' }));
    const r = await cli(['validate', file, '--no-builtins'], dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}: /stages/fit/params/strategy/name: unknown training-strategy "group-droo" (did you mean "group-dro"?); known training-strategy plugins: erm, group-dro`);
    const json = await cli(['validate', file, '--json', '--no-builtins'], dir);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out)).toMatchObject({ valid: false, errors: [{ path: '/stages/fit/params/strategy/name' }] });
  });

  it('validate exits 2 on a typo in a strategy param, naming its JSON pointer; run does too, before any stage', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, pipeline({ name: 'group-dro', params: { stepSizee: 0.01 } }));
    const r = await cli(['validate', file, '--no-builtins'], dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}: /stages/fit/params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy group-dro)`);
    const run = await cli(['run', file, '--no-builtins', '--cache-dir', 'c', '--runs-dir', 'r'], dir);
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    const ok = writePipeline(dir, pipeline({ name: 'group-dro', params: { stepSize: 0.5 } }), 'ok.json');
    expect(await cli(['validate', ok, '--no-builtins'], dir)).toMatchObject({ code: 0, out: `${ok}: valid (4 stages)\n` });
  });

  it('plugins lists the nested plugins of each kind with their params, in text and JSON', async () => {
    const dir = tempDir();
    const text = await cli(['plugins', '--no-builtins', '--plugin', fixture], dir);
    expect(text.code).toBe(0);
    expect(text.out).toContain('[training-strategy] Training strategies (bias mitigations)');
    expect(text.out).toContain('  selected by: test.fit params/strategy\nerm@1  (');
    expect(text.out).toContain('group-dro@1  (');
    expect(text.out).toContain('    stepSize <number> = 0.01');
    expect(text.out).toContain('[test-sampler] Samplers of the test search stage.\n  selected by: test.search params/samplers/*');
    const json = await cli(['plugins', '--json', '--no-builtins', '--plugin', fixture], dir);
    const list = JSON.parse(json.out) as { type?: string; kind?: string; name?: string }[];
    expect(list.find((p) => p.type === 'test.fit')).toMatchObject({ version: '1', inputs: { series: { kind: 'demo-series' } } });
    expect(list.find((p) => p.kind === 'training-strategy' && p.name === 'group-dro')).toMatchObject({
      version: '1',
      package: fixture,
      params: { properties: { stepSize: { default: 0.01 } } },
    });
    expect(list.filter((p) => p.kind === 'test-sampler').map((p) => p.name)).toEqual(['grid', 'random']);
  });
});
