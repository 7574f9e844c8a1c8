/**
 * A plugin package for core's tests of nested plugins: `test.fit` selects a training strategy
 * (`params.strategy`), `test.search` a list of samplers of a kind the package declares itself.
 * Loaded inline (`nestedTestRegistry`) or by path like a user's package (`containerModule`).
 */
import { ContainerModule, type ServiceIdentifier } from 'inversify';
import { artifact, ndarray, requireArray, type Artifact } from '../contracts/artifact.js';
import { NESTED_PLUGIN_KIND, nestedPluginParam, type NestedPlugin, type NestedPluginKind } from '../contracts/nested-plugin.js';
import { STAGE_PLUGIN, type StagePlugin } from '../contracts/stage-plugin.js';
import { TRAINING_STRATEGY, type TrainingStrategyPlugin } from '../contracts/training-strategy.js';
import { runAsync } from '../observable.js';
import { StageRegistry } from '../registry.js';
import { demoStagesModule } from '../builtin/demo-stages.js';

export function testStrategies(droVersion = '1'): TrainingStrategyPlugin[] {
  return [
    { name: 'erm', version: '1', description: 'No mitigation.', paramsSchema: { type: 'object', additionalProperties: false, properties: {} }, create: () => ({}) },
    {
      name: 'group-dro',
      version: droVersion,
      description: 'Test GroupDRO.',
      paramsSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { stepSize: { type: 'number', exclusiveMinimum: 0, default: 0.01 }, normalizeLoss: { type: 'boolean', default: false } },
      },
      create: () => ({}),
    },
  ];
}

export interface TestSampler extends NestedPlugin {
  readonly kindOfSampler: string;
}
export const TEST_SAMPLER: ServiceIdentifier<TestSampler> = Symbol.for('@fairtune/core-test:Sampler');
export const testSamplerKind: NestedPluginKind<TestSampler> = { kind: 'test-sampler', token: TEST_SAMPLER, description: 'Samplers of the test search stage.' };

const samplers: TestSampler[] = [
  { name: 'grid', version: '1', description: 'Grid.', kindOfSampler: 'grid', paramsSchema: { type: 'object', additionalProperties: false, properties: { points: { type: 'integer', minimum: 1, default: 4 } } } },
  { name: 'random', version: '1', description: 'Random.', kindOfSampler: 'random', paramsSchema: { type: 'object', additionalProperties: false, properties: { trials: { type: 'integer', minimum: 1, default: 8 } } } },
];

/** Emits the params it received, so tests can see what a stage is given. */
const fit: StagePlugin<{ epochs: number; strategy: { name: string; params: Record<string, unknown> } }> = {
  type: 'test.fit',
  version: '1',
  description: 'Passes its series through; records the strategy it was given.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { epochs: { type: 'integer', minimum: 1, default: 2 }, strategy: nestedPluginParam('training-strategy', { default: 'erm' }) },
  },
  inputs: { series: { kind: 'demo-series' } },
  outputs: { series: { kind: 'demo-series' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const v = requireArray(ctx.inputs['series'] as Artifact, 'values').data;
      emit.artifact('series', artifact('demo-series', { strategy: ctx.params.strategy }, { values: ndarray(Float64Array.from(v)) }));
    }),
};

const search: StagePlugin = {
  type: 'test.search',
  version: '1',
  description: 'Selects a list of samplers.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: { samplers: { type: 'array', items: nestedPluginParam('test-sampler'), default: [] } } },
  inputs: { series: { kind: 'demo-series' } },
  outputs: { series: { kind: 'demo-series' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      emit.artifact('series', ctx.inputs['series'] as Artifact);
    }),
};

export function nestedTestModule(strategies: readonly TrainingStrategyPlugin[] = testStrategies()): ContainerModule {
  return new ContainerModule((options) => {
    options.bind(STAGE_PLUGIN).toConstantValue(fit as StagePlugin);
    options.bind(STAGE_PLUGIN).toConstantValue(search);
    for (const s of strategies) options.bind(TRAINING_STRATEGY).toConstantValue(s);
    options.bind(NESTED_PLUGIN_KIND).toConstantValue(testSamplerKind as unknown as NestedPluginKind);
    for (const s of samplers) options.bind(TEST_SAMPLER).toConstantValue(s);
  });
}

/** Loaded by path in the CLI tests, as a user's plugin package is. */
export const containerModule = nestedTestModule();

export function nestedTestRegistry(strategies?: readonly TrainingStrategyPlugin[]): StageRegistry {
  const registry = new StageRegistry();
  registry.loadModule(demoStagesModule, '@fairtune/core');
  registry.loadModule(nestedTestModule(strategies), 'nested-test');
  return registry;
}
