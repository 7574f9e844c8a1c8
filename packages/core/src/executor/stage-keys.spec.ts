import { validatePipeline } from '../pipeline/validate.js';
import { testRegistry } from '../test-utils/fixtures.js';
import { computeStageKeys } from './stage-keys.js';

describe('stage keys', () => {
  it('are pinned for stages without nested plugins (a change invalidates every cache)', () => {
    const spec = {
      name: 'keys',
      seed: 7,
      stages: {
        numbers: { type: 'demo.numbers', params: { count: 10 } },
        stats: { type: 'demo.stats', inputs: { series: 'numbers' } },
        report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
      },
    };
    const { pipeline, errors } = validatePipeline(spec, testRegistry());
    expect(errors).toEqual([]);
    expect(pipeline!.stages.map((s) => s.nested)).toEqual([[], [], []]);
    expect(Object.fromEntries(computeStageKeys(pipeline!))).toEqual({
      numbers: 'ac3af32bbba35b89ecf969be5271a914d85dbf4fe1e2fe3b5b8a846177d24703',
      stats: '03770eb86f6ff50dfa5002aa3a0130d951e42b8d0b87b68fd3f7bfa45a1f2055',
      report: 'be1ae00f588de84ca443865248475f64586100bab23fd11b8770d12308d87223',
    });
  });
});
