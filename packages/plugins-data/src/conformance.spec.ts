/**
 * Every stage this package registers passes core's conformance suite (issue 15): params schema,
 * outputs emitted once with their kinds, byte-identical outputs over two runs, abort within a
 * second, a missing input named. The cases are keyed by stage type and compared with what
 * `containerModule` registers, so a new stage without a case fails here. Loaders run on their
 * synthetic cohorts (root absent), at the smallest sizes the schemas allow.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { runStandalone, StageRegistry, type Artifact, type StagePlugin } from '@fairtune/core';
import { checkStageConformance, expectConformance, type StageSample } from '@fairtune/core/testing';
import { containerModule } from './index.js';
import { tempDir } from './test-utils/paths.js';

const SMALL_PPG = { syntheticSubjects: 3, syntheticMinutes: 1 };
const SMALL_IMAGES = { size: 16, resize: 16, syntheticImages: 20, syntheticImageSize: 16 };

let base: string;
const registry = new StageRegistry();
registry.loadModule(containerModule, '@fairtune/plugins-data');
const plugin = (type: string): StagePlugin => {
  const found = registry.get(type);
  if (!found) throw new Error(`no stage type ${type} is registered`);
  return found.plugin;
};

// Small real inputs, built by the package's own stages the way a pipeline chains them.
let dataset: Artifact;
let windows: Artifact;
let split: Artifact;

beforeAll(async () => {
  base = tempDir('conformance');
  // Synthetic cohorts are generated once into this folder (not the repository's .fairtune/).
  process.env['FAIRTUNE_SYNTHETIC_DIR'] = join(base, 'synthetic');
  dataset = (await runStandalone(plugin('data.dalia'), { params: { root: join(base, 'no-dalia'), ...SMALL_PPG, syntheticChest: false } })).outputs['dataset']!;
  windows = (await runStandalone(plugin('preprocess.window'), { params: { windowSeconds: 8, shiftSeconds: 8 }, inputs: { dataset } })).outputs['samples']!;
  split = (await runStandalone(plugin('split.subjects'), { params: { train: 0.34, validation: 0.33, test: 0.33 }, inputs: { samples: windows } })).outputs['samples']!;
});

const cases: Record<string, () => StageSample> = {
  'data.dalia': () => ({ params: { root: join(base, 'no-dalia'), ...SMALL_PPG, syntheticChest: false } }),
  'data.but-ppg': () => ({ params: { root: join(base, 'no-but'), syntheticSubjects: 2, recordsPerSubject: 2 } }),
  'data.mimic': () => ({ params: { root: join(base, 'no-mimic'), syntheticSubjects: 2, syntheticMinutes: 1 } }),
  'data.fitzpatrick17k': () => ({ params: { root: join(base, 'no-fitz'), ...SMALL_IMAGES } }),
  'data.ham10000': () => ({ params: { root: join(base, 'no-ham'), ...SMALL_IMAGES } }),
  'preprocess.resample': () => ({ params: { fs: 32, signals: ['ppg'] }, inputs: { dataset } }),
  'preprocess.bandpass': () => ({ params: { low: 0.5, high: 6, order: 2 }, inputs: { dataset } }),
  'preprocess.window': () => ({ params: { windowSeconds: 8, shiftSeconds: 8 }, inputs: { dataset } }),
  'preprocess.quality': () => ({ inputs: { samples: windows } }),
  'split.subjects': () => ({ params: { train: 0.34, validation: 0.33, test: 0.33 }, inputs: { samples: windows }, seed: 3 }),
  'groups.attributes': () => ({ params: { attributes: ['sex'] }, inputs: { samples: split } }),
};

describe('plugins-data stages conform', () => {
  it('has a conformance case for every stage type the package registers', () => {
    expect(Object.keys(cases).sort()).toEqual(registry.types().sort());
  });

  for (const [type, sample] of Object.entries(cases)) {
    it(type, async () => {
      await expectConformance(checkStageConformance(plugin(type), sample()));
    });
  }
});
