/** The strategies' params are checked once, by core, when a pipeline is validated. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { PipelineError, StageRegistry, main, openPipeline } from '@fairtune/core';
import { containerModule } from '../index.js';
import { containerModule as userModule } from '../test-utils/strategy-user-fixture.js';

const fairnessIndex = resolve(process.cwd(), 'src/index.ts');
const fixture = resolve(process.cwd(), 'src/test-utils/strategy-user-fixture.ts');

function write(strategy: object, plugins: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'fairtune-strategy-'));
  const file = join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify({ name: 'strategy-validation', plugins, stages: { train: { type: 'test.train', params: { strategy } } } }));
  return file;
}

function registry(): StageRegistry {
  const r = new StageRegistry();
  r.loadModule(containerModule, '@fairtune/plugins-fairness');
  r.loadModule(userModule, 'strategy-user');
  return r;
}

async function open(strategy: object) {
  try {
    return { stage: (await openPipeline(write(strategy), { registry: registry(), env: {} })).pipeline.stages[0]!, errors: [] };
  } catch (e) {
    if (e instanceof PipelineError) return { stage: undefined, errors: e.issues.map((i) => `${i.path}: ${i.message}`) };
    throw e;
  }
}

async function cli(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += d));
  const code = await main(args, { cwd: process.cwd(), stdout, stderr, env: {}, tty: false });
  return { code, err };
}

describe('strategy params at validation', () => {
  it('names a typo in the strategy name or a param by its JSON pointer', async () => {
    expect((await open({ name: 'group-droo' })).errors).toEqual([
      '/stages/train/params/strategy/name: unknown training-strategy "group-droo" (did you mean "group-dro"?); known training-strategy plugins: adversarial, group-dro, group-reweight, inverse-frequency',
    ]);
    expect((await open({ name: 'group-dro', params: { stepSizee: 0.01 } })).errors).toEqual([
      '/stages/train/params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy group-dro)',
    ]);
    expect((await open({ name: 'inverse-frequency', params: { mode: 'both' } })).errors).toEqual([
      '/stages/train/params/strategy/params/mode: must be one of "sampling", "loss" (training-strategy inverse-frequency)',
    ]);
  });

  it("fills in each strategy's defaults", async () => {
    expect((await open({ name: 'group-dro' })).stage!.params['strategy']).toEqual({ name: 'group-dro', params: { stepSize: 0.01, adjustment: 0, normalizeLoss: false } });
    expect((await open({ name: 'adversarial', params: { mode: 'projection' } })).stage!.params['strategy']).toEqual({
      name: 'adversarial',
      params: { mode: 'projection', maxLambda: 1, gamma: 10, hiddenUnits: 64, learningRate: 0.001 },
    });
    expect((await open({ name: 'group-dro' })).stage!.nested).toEqual([{ pointer: '/strategy', kind: 'training-strategy', name: 'group-dro', version: '1' }]);
  });

  it('fairtune validate exits 2 on either typo', async () => {
    const name = write({ name: 'group-droo' }, [fixture]);
    const r = await cli(['validate', name, '--no-builtins', '--plugin', fairnessIndex]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${name}: /stages/train/params/strategy/name: unknown training-strategy "group-droo" (did you mean "group-dro"?)`);
    const param = write({ name: 'group-dro', params: { stepSizee: 0.01 } }, [fixture]);
    const p = await cli(['validate', param, '--no-builtins', '--plugin', fairnessIndex]);
    expect(p.code).toBe(2);
    expect(p.err).toContain(`${param}: /stages/train/params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy group-dro)`);
  });
});
