/** train.finetune's strategy is resolved at validation: unknown names and params are pipeline errors, defaults are filled in. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PipelineError, StageRegistry, openPipeline, runCli } from '@fairtune/core';
import { containerModule } from '../index.js';
import { validationTestModule } from '../test-utils/validation-fixture.js';

const modelsIndex = resolve(process.cwd(), 'src/index.ts');
const fixture = resolve(process.cwd(), 'src/test-utils/validation-fixture.ts');

function registry(strategyVersion = '1'): StageRegistry {
  const r = new StageRegistry();
  r.loadModule(containerModule, '@fairtune/plugins-models');
  r.loadModule(validationTestModule(strategyVersion), 'validation-test');
  return r;
}

function write(strategy: object | undefined, plugins: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'fairtune-finetune-'));
  const file = join(dir, 'pipeline.json');
  const spec = {
    name: 'finetune-validation',
    plugins,
    stages: {
      samples: { type: 'test.samples' },
      backbone: { type: 'model.ppg-gpt', params: { preset: 'tiny' } },
      finetune: { type: 'train.finetune', inputs: { backbone: 'backbone', samples: 'samples' }, params: strategy ? { strategy } : {} },
    },
  };
  writeFileSync(file, JSON.stringify(spec, null, 2));
  return file;
}

async function errorsOf(strategy: object): Promise<string[]> {
  try {
    await openPipeline(write(strategy), { registry: registry(), env: {} });
  } catch (e) {
    if (e instanceof PipelineError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

async function finetuneStage(strategy: object | undefined, strategyVersion = '1') {
  const opened = await openPipeline(write(strategy), { registry: registry(strategyVersion), env: {} });
  return opened.pipeline.stages.find((s) => s.id === 'finetune')!;
}

const cli = (args: string[]) => runCli(args);

describe('train.finetune strategy validation', () => {
  it('reports an unknown strategy name at /stages/<id>/params/strategy/name', async () => {
    expect(await errorsOf({ name: 'dro-tset' })).toEqual([
      '/stages/finetune/params/strategy/name: unknown training-strategy "dro-tset" (did you mean "dro-test"?); known training-strategy plugins: dro-test, erm',
    ]);
  });

  it('reports an unknown or invalid strategy param at /stages/<id>/params/strategy/params/<field>', async () => {
    expect(await errorsOf({ name: 'dro-test', params: { stepSizee: 0.01 } })).toEqual([
      '/stages/finetune/params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy dro-test)',
    ]);
    expect(await errorsOf({ name: 'erm', params: { eta: 1 } })).toEqual(['/stages/finetune/params/strategy/params/eta: unknown parameter "eta" (training-strategy erm)']);
  });

  it('gives the stage resolved params: {} and the explicit defaults are the same stage', async () => {
    const implicit = await finetuneStage({ name: 'dro-test', params: {} });
    const explicit = await finetuneStage({ name: 'dro-test', params: { stepSize: 0.01, normalizeLoss: false } });
    expect(implicit.params['strategy']).toEqual({ name: 'dro-test', params: { stepSize: 0.01, normalizeLoss: false } });
    expect(explicit.params).toEqual(implicit.params);
    expect(explicit.nested).toEqual(implicit.nested);
    expect(implicit.nested).toEqual([{ pointer: '/strategy', kind: 'training-strategy', name: 'dro-test', version: '1' }]);
    const absent = await finetuneStage(undefined);
    expect(absent.params['strategy']).toEqual({ name: 'erm', params: {} });
    expect(absent.nested).toEqual([{ pointer: '/strategy', kind: 'training-strategy', name: 'erm', version: '1' }]);
    // The strategy's version is recorded for the cache key.
    expect((await finetuneStage({ name: 'dro-test' }, '2')).nested![0]!.version).toBe('2');
  });

  it('the CLI exits 2 on either mistake, naming the JSON pointer', async () => {
    const name = write({ name: 'dro-tset' }, [fixture]);
    const r = await cli(['validate', name, '--no-builtins', '--plugin', modelsIndex]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${name}: /stages/finetune/params/strategy/name: unknown training-strategy "dro-tset" (did you mean "dro-test"?)`);
    const param = write({ name: 'dro-test', params: { stepSizee: 0.01 } }, [fixture]);
    const p = await cli(['validate', param, '--no-builtins', '--plugin', modelsIndex]);
    expect(p.code).toBe(2);
    expect(p.err).toContain(`${param}: /stages/finetune/params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy dro-test)`);
    const ok = write({ name: 'dro-test', params: { stepSize: 0.1 } }, [fixture]);
    expect((await cli(['validate', ok, '--no-builtins', '--plugin', modelsIndex])).code).toBe(0);
  });
});
