import { ContainerModule } from 'inversify';
import type { JsonValue } from '../contracts/artifact.js';
import { computeStageKeys } from '../executor/stage-keys.js';
import { TRAINING_STRATEGY } from '../contracts/training-strategy.js';
import { PluginLoadError, StageRegistry } from '../registry.js';
import { runStandalone } from '../testing.js';
import { artifact, ndarray } from '../contracts/artifact.js';
import { nestedTestModule, nestedTestRegistry, testStrategies } from '../test-utils/nested-fixture.js';
import { nestedPluginSlots, resolveNestedParams } from './nested-plugins.js';
import { validatePipeline } from './validate.js';

const pipeline = (fit: object, extra: Record<string, object> = {}) => ({
  name: 'nested',
  seed: 3,
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 10 } },
    fit: { type: 'test.fit', inputs: { series: 'numbers' }, ...fit },
    stats: { type: 'demo.stats', inputs: { series: 'fit' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
    ...extra,
  },
});

const errorsOf = (spec: object, registry = nestedTestRegistry()) => validatePipeline(spec as JsonValue, registry).errors.map((e) => `${e.path}: ${e.message}`);

function keysOf(spec: object, registry = nestedTestRegistry()): Map<string, string> {
  const { pipeline: p, errors } = validatePipeline(spec as JsonValue, registry);
  expect(errors).toEqual([]);
  return computeStageKeys(p!);
}

describe('nested plugins at validation', () => {
  it('names an unknown strategy at its JSON pointer, with the nearest name and the known ones', () => {
    expect(errorsOf(pipeline({ params: { strategy: { name: 'group-droo' } } }))).toEqual([
      '/stages/fit/params/strategy/name: unknown training-strategy "group-droo" (did you mean "group-dro"?); known training-strategy plugins: erm, group-dro',
    ]);
    expect(errorsOf(pipeline({ params: { strategy: { name: 'zzzzzzzz' } } }))).toEqual([
      '/stages/fit/params/strategy/name: unknown training-strategy "zzzzzzzz"; known training-strategy plugins: erm, group-dro',
    ]);
  });

  it("checks a strategy's params against its schema, every error at its pointer", () => {
    expect(errorsOf(pipeline({ params: { strategy: { name: 'group-dro', params: { stepSizee: 0.01 } } } }))).toEqual([
      '/stages/fit/params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy group-dro)',
    ]);
    expect(errorsOf(pipeline({ params: { epochs: 0, strategy: { name: 'group-dro', params: { stepSize: 0, normalizeLoss: 'yes' } } } })).sort()).toEqual(
      [
        '/stages/fit/params/epochs: must be >= 1 (stage type test.fit)',
        '/stages/fit/params/strategy/params/normalizeLoss: must be of type boolean (training-strategy group-dro)',
        '/stages/fit/params/strategy/params/stepSize: must be > 0 (training-strategy group-dro)',
      ].sort(),
    );
    // The shape of { name, params } is the stage schema's business, reported once.
    expect(errorsOf(pipeline({ params: { strategy: { nme: 'erm' } } })).sort()).toEqual([
      '/stages/fit/params/strategy/name: missing required parameter "name" (stage type test.fit)',
      '/stages/fit/params/strategy/nme: unknown parameter "nme" (stage type test.fit)',
    ]);
  });

  it('writes the resolved params (defaults filled in) back and records the plugin used', () => {
    const { pipeline: p } = validatePipeline(pipeline({ params: { strategy: { name: 'group-dro' } } }), nestedTestRegistry());
    const fit = p!.stages.find((s) => s.id === 'fit')!;
    expect(fit.params).toEqual({ epochs: 2, strategy: { name: 'group-dro', params: { stepSize: 0.01, normalizeLoss: false } } });
    expect(fit.nested).toEqual([{ pointer: '/strategy', kind: 'training-strategy', name: 'group-dro', version: '1' }]);
    // An absent strategy takes the stage's default and is resolved the same way.
    const byDefault = validatePipeline(pipeline({}), nestedTestRegistry()).pipeline!.stages.find((s) => s.id === 'fit')!;
    expect(byDefault.params['strategy']).toEqual({ name: 'erm', params: {} });
    expect(byDefault.nested).toEqual([{ pointer: '/strategy', kind: 'training-strategy', name: 'erm', version: '1' }]);
  });

  it('gives {} and the explicit defaults the same key', () => {
    const implicit = keysOf(pipeline({ params: { strategy: { name: 'group-dro', params: {} } } }));
    const explicit = keysOf(pipeline({ params: { strategy: { name: 'group-dro', params: { stepSize: 0.01, normalizeLoss: false } } } }));
    expect(explicit.get('fit')).toBe(implicit.get('fit'));
    expect(keysOf(pipeline({})).get('fit')).toBe(keysOf(pipeline({ params: { strategy: { name: 'erm' } } })).get('fit'));
    // A different value is a different key, and so is its effect downstream.
    const other = keysOf(pipeline({ params: { strategy: { name: 'group-dro', params: { stepSize: 0.02 } } } }));
    expect(other.get('fit')).not.toBe(implicit.get('fit'));
    expect(other.get('stats')).not.toBe(implicit.get('stats'));
  });

  it("changes the key when the strategy's version changes, and only for stages using it", () => {
    const spec = pipeline({ params: { strategy: { name: 'group-dro' } } });
    const v1 = keysOf(spec, nestedTestRegistry(testStrategies('1')));
    const v2 = keysOf(spec, nestedTestRegistry(testStrategies('2')));
    expect(v2.get('fit')).not.toBe(v1.get('fit'));
    expect(v2.get('stats')).not.toBe(v1.get('stats'));
    expect(v2.get('numbers')).toBe(v1.get('numbers'));
    const erm = pipeline({});
    expect(keysOf(erm, nestedTestRegistry(testStrategies('2'))).get('fit')).toBe(keysOf(erm, nestedTestRegistry(testStrategies('1'))).get('fit'));
  });

  it('resolves nested plugins in arrays, of a kind a package declares, and rejects undeclared kinds', () => {
    const search = (samplers: object[]) => pipeline({}, { search: { type: 'test.search', inputs: { series: 'numbers' }, params: { samplers } } });
    expect(errorsOf(search([{ name: 'grid' }, { name: 'randm', params: {} }, { name: 'grid', params: { point: 2 } }]))).toEqual([
      '/stages/search/params/samplers/1/name: unknown test-sampler "randm" (did you mean "random"?); known test-sampler plugins: grid, random',
      '/stages/search/params/samplers/2/params/point: unknown parameter "point" (test-sampler grid)',
    ]);
    const { pipeline: p, errors } = validatePipeline(search([{ name: 'random' }, { name: 'grid', params: { points: 2 } }]), nestedTestRegistry());
    expect(errors).toEqual([]);
    const stage = p!.stages.find((s) => s.id === 'search')!;
    expect(stage.params).toEqual({ samplers: [{ name: 'random', params: { trials: 8 } }, { name: 'grid', params: { points: 2 } }] });
    expect(stage.nested!.map((n) => `${n.pointer} ${n.kind} ${n.name}@${n.version}`)).toEqual(['/samplers/0 test-sampler random@1', '/samplers/1 test-sampler grid@1']);

    // A stage marking a kind no loaded package declares.
    const registry = new StageRegistry();
    registry.loadModule(
      new ContainerModule((o) => {
        o.bind(Symbol.for('@fairtune/core:StagePlugin')).toConstantValue({
          type: 'test.orphan',
          version: '1',
          description: '',
          paramsSchema: { type: 'object', properties: { scheduler: { type: 'object', 'x-fairtune-plugin': 'scheduler' } } },
          inputs: {},
          outputs: {},
          run: () => {
            throw new Error('not run');
          },
        });
      }),
      'orphan',
    );
    expect(errorsOf({ name: 'o', stages: { o: { type: 'test.orphan', params: { scheduler: { name: 'cosine' } } } } }, registry)).toEqual([
      '/stages/o/params/scheduler: no loaded plugin package declares the nested plugin kind "scheduler"',
    ]);
  });

  it('finds the marked properties of a schema', () => {
    expect(nestedPluginSlots(nestedTestRegistry().get('test.search')!.plugin.paramsSchema)).toEqual([{ pointer: '/samplers/*', kind: 'test-sampler' }]);
    expect(nestedPluginSlots(nestedTestRegistry().get('test.fit')!.plugin.paramsSchema)).toEqual([{ pointer: '/strategy', kind: 'training-strategy' }]);
    expect(nestedPluginSlots(nestedTestRegistry().get('demo.numbers')!.plugin.paramsSchema)).toEqual([]);
  });
});

describe('nested plugins in the registry', () => {
  it('lists kinds and plugins with their packages, and rejects a name registered twice', () => {
    const registry = nestedTestRegistry();
    expect(registry.nestedKinds().map((k) => k.kind)).toEqual(['pruner', 'sampler', 'test-sampler', 'training-strategy']);
    expect(registry.nested('training-strategy')!.map((n) => `${n.plugin.name} ${n.packageName}`)).toEqual(['erm nested-test', 'group-dro nested-test']);
    expect(registry.nested('scheduler')).toBeUndefined();
    const twice = nestedTestRegistry();
    expect(() => twice.loadModule(new ContainerModule((o) => void o.bind(TRAINING_STRATEGY).toConstantValue(testStrategies()[1]!)), 'other')).toThrow(
      new PluginLoadError('training-strategy "group-dro" is registered twice: by nested-test and by other'),
    );
    const unnamed = new StageRegistry();
    unnamed.loadModule(new ContainerModule((o) => void o.bind(TRAINING_STRATEGY).toConstantValue({ ...testStrategies()[0]!, version: '' })), 'bad');
    expect(() => unnamed.nested('training-strategy')).toThrow('training-strategy "erm" from bad: missing version');
  });
});

describe('nested plugins outside a pipeline', () => {
  const series = artifact('demo-series', {}, { values: ndarray(Float64Array.from([1, 2])) });

  it('runStandalone resolves them against the plugins it is given, and asks for them when missing', async () => {
    const fit = nestedTestRegistry().get('test.fit')!.plugin;
    const r = await runStandalone(fit, { inputs: { series }, params: { strategy: { name: 'group-dro' } }, nested: { 'training-strategy': testStrategies() } });
    expect(r.outputs['series']!.meta).toEqual({ strategy: { name: 'group-dro', params: { stepSize: 0.01, normalizeLoss: false } } });
    await expect(runStandalone(fit, { inputs: { series }, params: { strategy: { name: 'group-dro', params: { stepSizee: 1 } } }, nested: { 'training-strategy': testStrategies() } })).rejects.toThrow(
      'invalid params for test.fit:\n  params/strategy/params/stepSizee: unknown parameter "stepSizee" (training-strategy group-dro)',
    );
    await expect(runStandalone(fit, { inputs: { series } })).rejects.toThrow(/test\.fit selects nested plugins of kind training-strategy in its params: pass them to runStandalone as `nested: \{ 'training-strategy'/);
  });

  it('resolveNestedParams gives what a pipeline gives a plugin, or every problem', () => {
    const dro = testStrategies()[1]!;
    expect(resolveNestedParams('training-strategy', dro, {})).toEqual({ stepSize: 0.01, normalizeLoss: false });
    expect(() => resolveNestedParams('training-strategy', dro, { stepSize: -1, extra: 1 })).toThrow(
      'invalid params for training-strategy "group-dro":\n  params/extra: unknown parameter "extra" (training-strategy group-dro)\n  params/stepSize: must be > 0 (training-strategy group-dro)',
    );
  });
});

// Keeps the fixture's module export honest (the CLI tests load it by path).
it('the fixture module loads', () => {
  const registry = new StageRegistry();
  registry.loadModule(nestedTestModule(), 'x');
  expect(registry.types()).toEqual(['test.fit', 'test.search']);
});
