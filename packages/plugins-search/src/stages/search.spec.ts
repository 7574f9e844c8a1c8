import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import {
  artifact,
  ArtifactCache,
  createRegistry,
  runAsync,
  STAGE_PLUGIN,
  type StagePlugin,
  openPipeline,
  PRUNER,
  runPipeline,
  SAMPLER,
  type PrunerPlugin,
  type SamplerPlugin,
  type SearchSpace,
  type StudyView,
  type FrozenTrial,
  PRUNER_KIND,
  SAMPLER_KIND,
  type TrialRunner,
} from '@fairtune/core';
import { runStandalone } from '@fairtune/core/testing';
import { containerModule } from '../index.js';
import { prunerPlugins } from '../pruners/plugins.js';
import { samplerPlugins } from '../samplers/index.js';
import { FairTuneSearchStage, SearchStage } from './search.js';
import { maskBitNames, namedMask, resolveSpace } from '../space.js';
import { JournalStorage } from '../storage/journal.js';

/** Proposes values in a fixed cycle, so the tests know each trial's values in advance. */
const cycleSampler: SamplerPlugin = {
  name: 'cycle',
  version: '1',
  description: 'test: the n-th trial gets values[n % values.length] for every float, 1 for every int',
  paramsSchema: { type: 'object', properties: { values: { type: 'array', default: [1, 5, 0.5] } } },
  create: (params) => ({
    sample: (_study: StudyView, trial: FrozenTrial, space: SearchSpace) => {
      const values = params['values'] as number[];
      return Object.fromEntries(Object.entries(space).map(([name, d]) => [name, d.type === 'int' ? 1 : values[trial.number % values.length]!]));
    },
  }),
};

/** Prunes a trial whose intermediate value is worse than the best finished trial's at the same step. */
const behindBest: PrunerPlugin = {
  name: 'behind-best',
  version: '1',
  description: 'test pruner',
  paramsSchema: { type: 'object', properties: {} },
  create: () => ({
    shouldPrune: (study, trial) => {
      const [step, value] = [...trial.intermediateValues].at(-1)!;
      const refs = study.trials.filter((t) => t.state === 'COMPLETE').map((t) => t.intermediateValues.get(step)).filter((v): v is number => v !== undefined);
      return refs.length > 0 && value > Math.min(...refs);
    },
  }),
};
const neverPrune: PrunerPlugin = { ...behindBest, name: 'never', create: () => ({ shouldPrune: () => false }) };

const testModule = new ContainerModule((options) => {
  options.bind(SAMPLER).toConstantValue(cycleSampler);
  options.bind(PRUNER).toConstantValue(behindBest);
  options.bind(PRUNER).toConstantValue(neverPrune);
});

const pipeline = (search: object) => ({
  name: 'search-test',
  seed: 3,
  groups: { trial: { stages: ['shift', 'stats'], trials: { offset: 0 } } },
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 200 } },
    shift: { type: 'demo.transform', params: { offset: '%{offset}', steps: 6 }, inputs: { series: 'numbers' } },
    stats: { type: 'demo.stats', inputs: { series: 'shift' } },
    search: { type: 'search.optimise', trials: 'trial', params: { sampler: { name: 'cycle' }, storage: 'memory', objective: { stage: 'shift', metric: 'running-mean' }, space: { offset: { type: 'float', low: 0, high: 10 } }, ...search } },
  },
});

/** Runs the test pipeline with these search params; the run's result, whether it succeeded or not. */
async function runSearchPipeline(search: object, dir: string) {
  const file = join(dir, 'p.json');
  writeFileSync(file, JSON.stringify(pipeline(search)));
  const registry = await createRegistry({ builtins: false });
  registry.loadModule(containerModule, '@fairtune/plugins-search');
  registry.loadModule(testModule, 'test');
  const opened = await openPipeline(file, { registry, env: {} });
  return runPipeline(opened, { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') });
}

async function runSearch(search: object, dir = mkdtempSync(join(tmpdir(), 'search-'))) {
  const result = await runSearchPipeline(search, dir);
  const study = new ArtifactCache(join(dir, 'cache')).load(result.summary.stages['search']!.key, 'study').meta as {
    trials: { number: number; state: string; value?: number; bindings: Record<string, unknown>; intermediate: Record<string, number> }[];
    best: { number: number; bindings: Record<string, unknown> };
  };
  return { result, study };
}

describe('search.optimise', () => {
  it('runs trials with sampled bindings, reports the objective per step and prunes by the pruner', async () => {
    const { result, study } = await runSearch({ pruner: { name: 'behind-best' }, trials: 3 });
    expect(result.status).toBe('succeeded');
    expect(study.trials.map((t) => [t.bindings['offset'], t.state])).toEqual([
      [1, 'COMPLETE'],
      [5, 'PRUNED'],
      [0.5, 'COMPLETE'],
    ]);
    // The pruned trial stopped after its first report; the others reported every step.
    expect(Object.keys(study.trials[1]!.intermediate)).toEqual(['0']);
    expect(Object.keys(study.trials[0]!.intermediate)).toHaveLength(6);
    expect(study.best.bindings).toEqual({ offset: 0.5 });
    expect(result.summary.stages['stats[trial=1]']!.status).toBe('skipped');
  });

  it('reportOnce reproduces the public FairTune code: one report after the last step, the pruner only relabels', async () => {
    const { study } = await runSearch({ pruner: { name: 'behind-best' }, trials: 3, reportOnce: true });
    expect(study.trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED', 'COMPLETE']);
    expect(Object.keys(study.trials[1]!.intermediate)).toEqual(['5']);
    expect(study.trials[1]!.value).toBeGreaterThan(4);
  });

  it('keeps the study in an Optuna journal file and continues it: finished trials are not run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'search-'));
    const storage = `journal:${join(dir, 'studies')}`;
    const first = await runSearch({ pruner: { name: 'never' }, trials: 2, storage }, dir);
    expect(first.study.trials.map((t) => t.bindings['offset'])).toEqual([1, 5]);
    const journal = readFileSync(join(dir, 'studies', 'search-test--search.journal'), 'utf8');
    expect(journal.split('\n').filter(Boolean).map((l) => JSON.parse(l).op_code)).toContain(0); // create_study
    const second = await runSearch({ pruner: { name: 'never' }, trials: 3, storage }, dir);
    expect(second.study.trials.map((t) => [t.number, t.bindings['offset'], t.state])).toEqual([
      [0, 1, 'COMPLETE'],
      [1, 5, 'COMPLETE'],
      [2, 0.5, 'COMPLETE'],
    ]);
    // One new trial ran; the continued study's earlier trials came from the journal.
    expect(Object.keys(second.result.summary.stages).filter((id) => id.startsWith('shift['))).toHaveLength(1);
  });

  it('names an enqueue entry outside the search space before any trial runs', async () => {
    const result = await runSearchPipeline({ pruner: { name: 'never' }, trials: 2, enqueue: [{ offset: 2 }, { offset: 12 }] }, mkdtempSync(join(tmpdir(), 'search-')));
    expect(result.status).toBe('failed');
    expect(result.summary.stages['search']).toMatchObject({ code: 'FT_PARAM_INVALID', reason: 'enqueue[1].offset: 12 is outside the search space (offset: float [0, 10]) [FT_PARAM_INVALID]' });
    expect(Object.keys(result.summary.stages).filter((id) => id.startsWith('shift['))).toEqual([]);
  });

  it("runs trials a Python worker enqueued with Optuna's enqueue_trial first, without taking a baseline's or enqueue entry's place", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'search-'));
    mkdirSync(join(dir, 'studies'));
    // Optuna 3.1's lines for create_study, then enqueue_trial({offset: 7}) and enqueue_trial({offset: 42}) (outside the space).
    const waiting = (fixed: object) => ({ op_code: 4, worker_id: 'py', study_id: 0, datetime_start: null, state: 4, value: null, values: null, distributions: {}, params: {}, user_attrs: {}, system_attrs: { fixed_params: fixed }, intermediate_values: {} });
    const lines = [{ op_code: 0, worker_id: 'py', study_name: 'search-test/search', directions: [1] }, waiting({ offset: 7 }), waiting({ offset: 42 })];
    writeFileSync(join(dir, 'studies', 'search-test--search.journal'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const { result, study } = await runSearch({ pruner: { name: 'never' }, trials: 4, storage: `journal:${join(dir, 'studies')}`, enqueue: [{ offset: 2 }] }, dir);
    expect(result.status).toBe('succeeded');
    expect(study.trials.map((t) => [t.number, t.state, t.state === 'FAIL' ? undefined : t.bindings['offset']])).toEqual([
      [0, 'COMPLETE', 7],
      [1, 'FAIL', undefined],
      // The stage's own queue starts at its first trial: `enqueue` is not displaced by Optuna's.
      [2, 'COMPLETE', 2],
      // Then the sampler (the cycle sampler's value for trial numbers 3 and 4).
      [3, 'COMPLETE', 1],
      [4, 'COMPLETE', 5],
    ]);
    const failed = JournalStorage.file(join(dir, 'studies', 'search-test--search.journal')).loadStudy('search-test/search').trials[1]!;
    expect(String(failed.userAttrs['fail_reason'])).toMatch(/trial 1 was enqueued with offset = 42, which is not in its distribution float \[0, 10\]/);
  });

  it('counts only finished trials toward the target, and names a binding the trial group lacks', async () => {
    const { study } = await runSearch({ pruner: { name: 'never' }, trials: 2 });
    expect(study.trials).toHaveLength(2);
    await expect(runSearch({ pruner: { name: 'never' }, space: { lr: { type: 'float', low: 0, high: 1 } } })).rejects.toThrow();
  });

  it('refuses a stage without a trial group, and params the trial group cannot run, with their FT_ codes', async () => {
    const nested = { [SAMPLER_KIND.kind]: samplerPlugins, [PRUNER_KIND.kind]: prunerPlugins };
    const params = { storage: 'memory', objective: { stage: 'train', metric: 'loss' }, space: { offset: { type: 'float', low: 0, high: 10 } } };
    const trials: TrialRunner = { group: 'trial', defaults: { offset: 0 }, stages: ['train'], run: () => Promise.reject(new Error('no trial runs in this test')) };
    const run = (p: object, t: TrialRunner | null = trials, stage: SearchStage = new SearchStage([...samplerPlugins], [...prunerPlugins])) => runStandalone(stage, { params: { ...params, ...p }, nested, ...(t ? { trials: t } : {}) });
    await expect(run({}, null)).rejects.toMatchObject({ code: 'FT_PIPELINE_INVALID', about: { pointer: '/stages/search-optimise' } });
    await expect(run({ objective: { stage: 'eval', metric: 'loss' } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'objective.stage' } });
    await expect(run({ space: { lr: { type: 'float', low: 0, high: 1 } } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'space.lr' }, message: expect.stringMatching(/^space\.lr: trial group "trial" binds no "lr"/) });
    await expect(run({ parallel: 2 })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'parallel' } });
    await expect(run({ retrainBindings: { offset: 1 } }, trials, new FairTuneSearchStage([...samplerPlugins], [...prunerPlugins]))).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'retrainBindings' } });
  });

  it('stops with an error when trials keep failing (FAIL does not count toward the target)', async () => {
    // The objective is never reported, so every trial fails; without the limit the search would sample forever.
    const dir = mkdtempSync(join(tmpdir(), 'search-'));
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify(pipeline({ pruner: { name: 'never' }, trials: 2, maxFailedInARow: 3, objective: { stage: 'shift', metric: 'never-reported' } })));
    const registry = await createRegistry({ builtins: false });
    registry.loadModule(containerModule, '@fairtune/plugins-search');
    registry.loadModule(testModule, 'test');
    const result = await runPipeline(await openPipeline(file, { registry, env: {} }), { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') });
    const search = result.summary.stages['search']!;
    expect(search.status).toBe('failed');
    expect(search.code).toBe('FT_SEARCH_FAILED');
    expect(search.reason).toMatch(/3 trials in a row failed in this worker \(the last, trial 2: the trial reported no never-reported\)/);
  });
});

describe('search space', () => {
  it('names mask bits zero-padded and binds them as the bit string the fine-tune takes', () => {
    expect(maskBitNames('mask', 6)).toEqual(['mask_00', 'mask_01', 'mask_02', 'mask_03', 'mask_04', 'mask_05']);
    expect(maskBitNames('mask', 120)[7]).toBe('mask_007');
    const space = resolveSpace({ lr: { type: 'float', low: 1e-5, high: 1e-3, log: true }, mask: { type: 'mask' } }, 2);
    expect(Object.keys(space.study)).toEqual([...maskBitNames('mask', 6), 'lr'].sort());
    expect(space.study['lr']).toEqual({ type: 'float', low: 1e-5, high: 1e-3, log: true });
    expect(space.toBindings({ ...space.fromBinding('mask', 'attention'), lr: 3e-4 })).toEqual({ lr: 3e-4, mask: '010010' });
    expect(namedMask('layernorm', 6)).toBe('100100');
    expect(namedMask('linear-readout', 3)).toBe('000');
    expect(() => resolveSpace({ mask: { type: 'mask' } }, undefined)).toThrow(/needs "bits", or a backbone input/);
    expect(() => resolveSpace({ lr: { type: 'float', low: 0, high: 1, log: true } }, undefined)).toThrow(/log-scale range needs low > 0/);
    expect(() => resolveSpace({ lr: { type: 'float', low: 2, high: 1 } }, undefined)).toThrow(expect.objectContaining({ code: 'FT_SEARCH_SPACE', about: { param: 'space.lr' } }));
    expect(() => resolveSpace({ mask: { type: 'mask', bits: 3 } }, undefined).fromBinding('mask', '0101')).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'enqueue' } }));
  });
});

describe('what the sampler sees', () => {
  it('with Hyperband, TPE sees only the trial\'s bracket (as Optuna filters it); other samplers see the study', async () => {
    const { samplerView } = await import('./search.js');
    const { MemoryStudyStore } = await import('../study/store.js');
    const store = new MemoryStudyStore('s', 'minimize');
    for (let i = 0; i < 4; i++) store.createTrial();
    const hyperband = { bracketStudy: (s: StudyView, t: FrozenTrial) => ({ ...s, trials: s.trials.filter((x) => x.number % 2 === t.number % 2) }) };
    expect(samplerView(store, 3, 'tpe', hyperband).trials.map((t) => t.number)).toEqual([1, 3]);
    expect(samplerView(store, 3, 'random', hyperband).trials).toHaveLength(4);
    expect(samplerView(store, 3, 'tpe', {}).trials).toHaveLength(4);
  });
});

/** A cheap "trainer": a validation loss per epoch from its bindings, and the outputs search.fairtune passes on, recording what it was trained with. */
const fitStage: StagePlugin<{ offset: number; lr: number; split: string }> = {
  type: 'test.fit',
  version: '1',
  description: 'test trainer',
  paramsSchema: { type: 'object', additionalProperties: false, properties: { offset: { type: 'number' }, lr: { type: 'number' }, split: { type: 'string' } } },
  inputs: {},
  outputs: { model: { kind: 'model' }, predictions: { kind: 'predictions' }, embeddings: { kind: 'embeddings' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const { offset, lr, split } = ctx.params;
      for (let epoch = 0; epoch < 3; epoch++) emit.metric('val-loss', (offset - 2) ** 2 + lr + (split === 'train' ? 0 : 0.01) + 0.1 * (2 - epoch), { epoch });
      const trained = { offset, lr, split, parameterCount: 10, trainableParameterCount: 4 };
      emit.artifact('model', artifact('model' as string, trained));
      emit.artifact('predictions', artifact('predictions' as string, trained));
      emit.artifact('embeddings', artifact('embeddings' as string, trained));
    }),
};

async function runFairTune(search: object, dir = mkdtempSync(join(tmpdir(), 'fairtune-'))) {
  const file = join(dir, 'p.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'fairtune-test',
      seed: 3,
      groups: { trial: { stages: ['fit'], trials: { offset: 0, lr: 0.1, split: 'train' } } },
      stages: {
        fit: { type: 'test.fit', params: { offset: '%{offset}', lr: '%{lr}', split: '%{split}' } },
        search: { type: 'search.fairtune', trials: 'trial', params: { sampler: { name: 'cycle' }, pruner: { name: 'never' }, trials: 3, storage: 'memory', objective: { stage: 'fit', metric: 'val-loss' }, space: { offset: { type: 'float', low: 0, high: 10 }, lr: { type: 'float', low: 0, high: 10 } }, ...search } },
      },
    }),
  );
  const registry = await createRegistry({ builtins: false });
  registry.loadModule(containerModule, '@fairtune/plugins-search');
  registry.loadModule(testModule, 'test');
  registry.loadModule(new ContainerModule((o) => {
    o.bind(STAGE_PLUGIN).toConstantValue(fitStage);
  }), 'test-fit');
  const opened = await openPipeline(file, { registry, env: {} });
  const result = await runPipeline(opened, { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') });
  if (result.status !== 'succeeded') return { result };
  const cache = new ArtifactCache(join(dir, 'cache'));
  const key = result.summary.stages['search']!.key;
  return {
    result,
    model: cache.load(key, 'model').meta as { offset: number; lr: number; split: string },
    predictions: cache.load(key, 'predictions').meta as { lr: number },
    best: cache.load(key, 'best').meta as { number: number; bindings: Record<string, unknown>; final?: { mode: string; bindings: Record<string, unknown>; stageIds: Record<string, string>; cached: boolean; value?: number } },
    study: cache.load(key, 'study').meta as { trials: unknown[] },
  };
}

describe('search.fairtune: the final model', () => {
  // The cycle sampler gives trial n offset = lr = [1, 5, 0.5][n]: losses 2, 14, 2.75 at the last epoch; trial 0 is best.
  it('passes the best trial\'s own model on by default (final: best-trial)', async () => {
    const { model, best } = await runFairTune({});
    expect(best!.number).toBe(0);
    expect(model).toMatchObject({ offset: 1, lr: 1, split: 'train' });
    expect(best!.final).toBeUndefined();
  });

  it('final: retrain runs the trial group once more with the best bindings, outside the study', async () => {
    const { result, model, best, study } = await runFairTune({ final: 'retrain' });
    expect(model).toMatchObject({ offset: 1, lr: 1, split: 'train' });
    expect(best!.final).toMatchObject({ mode: 'retrain', bindings: { offset: 1, lr: 1, split: 'train' }, value: 2 });
    // Same bindings as trial 0: the trial group's stages come from the cache.
    expect(best!.final!.cached).toBe(true);
    expect(study!.trials).toHaveLength(3);
    expect(Object.keys(result.summary.stages).filter((id) => id.startsWith('fit['))).toHaveLength(4);
  });

  it('discardLearningRate retrains with the trial group\'s default learning rate (the public code); retrainBindings fixes more', async () => {
    const { model, predictions, best, study } = await runFairTune({ final: 'retrain', discardLearningRate: true, retrainBindings: { split: 'trainval' } });
    expect(model).toEqual(expect.objectContaining({ offset: 1, lr: 0.1, split: 'trainval' }));
    expect(predictions!.lr).toBe(0.1);
    expect(best!.bindings).toEqual({ offset: 1, lr: 1 });
    expect(best!.final).toMatchObject({ bindings: { offset: 1, lr: 0.1, split: 'trainval' }, cached: false });
    expect(best!.final!.value).toBeCloseTo(1 + 0.1 + 0.01, 12);
    expect(study!.trials).toHaveLength(3);
  });

  it('refuses retrain params without final: retrain, and a binding the trial group lacks, before any trial runs', async () => {
    for (const [params, msg] of [
      [{ discardLearningRate: true }, /discardLearningRate: true needs final: "retrain"/],
      [{ final: 'retrain', retrainBindings: { epochs: 9 } }, /retrainBindings.epochs: trial group "trial" binds no "epochs"/],
      [{ final: 'retrain', discardLearningRate: true, space: { offset: { type: 'float', low: 0, high: 10 } } }, /discardLearningRate: the space has no "lr" entry/],
      [{ final: 'last' }, /final/],
    ] as const) {
      const { result } = await runFairTune(params).catch((e: Error) => ({ result: { status: 'threw', summary: { stages: {}, reason: e.message } } }));
      expect(result.status).not.toBe('succeeded');
      expect(result.summary.reason).toMatch(msg);
      expect(Object.keys(result.summary.stages).filter((id) => id.startsWith('fit['))).toEqual([]);
    }
  });
});
