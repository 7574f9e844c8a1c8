import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN } from './contracts/stage-plugin.js';
import { demoStages } from './builtin/demo-stages.js';
import { StageRegistry } from './registry.js';
import { openPipeline, runPipeline } from './runtime.js';
import { tempDir, writePipeline } from './test-utils/fixtures.js';

describe('plugin registry', () => {
  it('loads a third-party plugin package by its npm name from a pipeline, as a user would', async () => {
    const dir = tempDir();
    // Resolved from the working directory's node_modules, where npm installed it (a workspace link here).
    const file = writePipeline(dir, {
      name: 'third-party',
      seed: 5,
      plugins: ['fairtune-plugin-example'],
      stages: {
        numbers: { type: 'demo.numbers', params: { count: 1000 } },
        clip: { type: 'example.winsorize', params: { upper: 0.9 }, inputs: { series: 'numbers' } },
        stats: { type: 'demo.stats', inputs: { series: 'clip' } },
        report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
      },
    });
    const opened = await openPipeline(file, { builtins: false });
    expect(opened.registry.get('example.winsorize')?.packageName).toBe('fairtune-plugin-example');
    expect(opened.pipeline.stages.find((s) => s.id === 'clip')!.params).toEqual({ lower: 0.05, upper: 0.9 });
    const result = await runPipeline(opened, { cacheDir: join(dir, 'c'), runsDir: join(dir, 'r') });
    expect(result.status).toBe('succeeded');
    expect(result.summary.stages['clip']!.metrics['clipped']).toBe(149);
  });

  it('loads a plugin package given by a relative path', async () => {
    // Inside the repository, so the package's own imports (inversify) resolve from node_modules.
    mkdirSync(resolve(process.cwd(), '../../node_modules/.cache'), { recursive: true });
    const dir = mkdtempSync(resolve(process.cwd(), '../../node_modules/.cache/fairtune-test-'));
    const pkg = join(dir, 'my-plugin');
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'my-plugin', version: '0.0.1', type: 'module', main: 'index.js' }));
    const corePath = resolve(process.cwd(), 'src/index.ts');
    writeFileSync(
      join(pkg, 'index.js'),
      `import { ContainerModule } from 'inversify';\nimport { STAGE_PLUGIN, demoStages } from ${JSON.stringify(corePath)};\n` +
        `const p = { ...demoStages[0], type: 'mine.numbers' };\nexport const containerModule = new ContainerModule((o) => { o.bind(STAGE_PLUGIN).toConstantValue(p); });\n`,
    );
    const file = writePipeline(dir, { name: 'path', plugins: ['./my-plugin'], stages: { n: { type: 'mine.numbers' }, s: { type: 'demo.stats', inputs: { series: 'n' } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } } } });
    const opened = await openPipeline(file, { builtins: false });
    expect(opened.registry.get('mine.numbers')?.packageName).toBe('./my-plugin');
  });

  it('explains a missing package, a package without containerModule and a duplicate stage type', async () => {
    const dir = tempDir();
    const missing = writePipeline(dir, { name: 'm', plugins: ['no-such-fairtune-plugin'], stages: { n: { type: 'demo.numbers' } } });
    await expect(openPipeline(missing, { builtins: false })).rejects.toMatchObject({
      issues: [{ path: '/plugins', message: expect.stringMatching(/^plugin package "no-such-fairtune-plugin" was not found from /) }],
    });
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'empty', 'index.js'), 'export const nothing = 1;\n');
    writeFileSync(join(dir, 'empty', 'package.json'), JSON.stringify({ name: 'empty', type: 'module', main: 'index.js' }));
    const empty = writePipeline(dir, { name: 'e', plugins: ['./empty'], stages: { n: { type: 'demo.numbers' } } }, 'e.json');
    await expect(openPipeline(empty, { builtins: false })).rejects.toMatchObject({
      issues: [{ path: '/plugins', message: 'plugin package "./empty" does not export `containerModule` (an inversify ContainerModule)' }],
    });
    const registry = new StageRegistry();
    const dup = new ContainerModule((o) => {
      o.bind(STAGE_PLUGIN).toConstantValue(demoStages[0]!);
    });
    registry.loadModule(dup, 'first');
    expect(() => registry.loadModule(dup, 'second')).toThrow('stage type "demo.numbers" is registered twice: by first and by second');
  });

  it('rejects a plugin whose params schema does not compile or whose type is not namespaced', async () => {
    const registry = new StageRegistry();
    registry.loadModule(
      new ContainerModule((o) => {
        o.bind(STAGE_PLUGIN).toConstantValue({ ...demoStages[0]!, type: 'flat' });
      }),
      'bad',
    );
    expect(() => registry.types()).toThrow('stage plugin "flat" from bad: type must be namespaced like "data.dalia"');
    const other = new StageRegistry();
    other.loadModule(
      new ContainerModule((o) => {
        o.bind(STAGE_PLUGIN).toConstantValue({ ...demoStages[0]!, type: 'x.bad-schema', paramsSchema: { type: 'nonsense' } });
      }),
      'bad',
    );
    expect(() => other.types()).toThrow(/stage plugin "x.bad-schema" from bad: params schema does not compile: /);
  });
});
