import { join } from 'node:path';
import { openPipeline } from '../runtime.js';
import { PipelineError } from './issues.js';
import { tempDir, testRegistry, writePipeline } from '../test-utils/fixtures.js';

async function errorsOf(spec: object, options: { sets?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<string[]> {
  const file = writePipeline(tempDir(), spec);
  try {
    await openPipeline(file, { registry: testRegistry(), ...options });
  } catch (e) {
    if (e instanceof PipelineError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

const base = { name: 'p', seed: 1 };

describe('pipeline validation', () => {
  it('reports invalid JSON with line and column', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.json');
    (await import('node:fs')).writeFileSync(file, '{\n  "name": "x",\n  "stages": {,}\n}');
    await expect(openPipeline(file, { registry: testRegistry() })).rejects.toThrow(/not valid JSON \(line 3, column 14\)/);
  });

  it('reports envelope problems with their JSON paths', async () => {
    const errors = await errorsOf({ seed: 'x', stages: { 'bad id': { type: 'demo.numbers' } }, extra: 1 });
    expect(errors).toEqual(
      expect.arrayContaining([
        ': missing required field "name"',
        ': unknown field "extra"',
        '/seed: must be of type integer',
        '/stages/bad id: stage id "bad id" must start with a letter and use only letters, digits, "-" and "_"',
      ]),
    );
  });

  it('names an unknown stage type, suggests the nearest and lists the known ones', async () => {
    const errors = await errorsOf({ ...base, stages: { a: { type: 'demo.nubmers' } } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe(
      '/stages/a/type: unknown stage type "demo.nubmers" (did you mean "demo.numbers"?); known types: demo.numbers, demo.report, demo.search, demo.stats, demo.transform, test.fail, test.file, test.pair, test.sleep, test.workfile',
    );
  });

  it("checks params against the plugin's schema, all errors at once", async () => {
    const errors = await errorsOf({
      ...base,
      stages: {
        a: { type: 'demo.numbers', params: { count: 0, std: -1, colour: 'red' } },
        b: { type: 'demo.stats', inputs: { series: 'a' }, params: { label: 3 } },
      },
    });
    expect(errors.sort()).toEqual(
      [
        '/stages/a/params/colour: unknown parameter "colour" (stage type demo.numbers)',
        '/stages/a/params/count: must be >= 1 (stage type demo.numbers)',
        '/stages/a/params/std: std must be a number > 0 (stage type demo.numbers)',
        '/stages/b/params/label: must be of type string (stage type demo.stats)',
      ].sort(),
    );
  });

  it('rejects references to missing stages and outputs, unknown ports, kind mismatches and missing inputs', async () => {
    const errors = await errorsOf({
      ...base,
      stages: {
        a: { type: 'demo.numbers' },
        s: { type: 'demo.stats', inputs: { series: 'a' } },
        b: { type: 'demo.stats', inputs: { series: 'nope' } },
        c: { type: 'demo.stats', inputs: { series: 'a.values' } },
        d: { type: 'demo.stats', inputs: { series: 'a', weights: 'a' } },
        e: { type: 'demo.stats', inputs: { series: 's' } },
        f: { type: 'demo.stats' },
        r: { type: 'demo.report', inputs: { metrics: ['s', 'e'] } },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        '/stages/b/inputs/series: input refers to stage "nope", which does not exist',
        '/stages/c/inputs/series: stage "a" (demo.numbers) has no output "values" (outputs: series)',
        '/stages/d/inputs/weights: stage type demo.stats has no input "weights" (inputs: series)',
        '/stages/e/inputs/series: "s" produces a metrics artifact but input "series" of demo.stats accepts demo-series',
        '/stages/f/inputs: missing required input "series" (demo-series) of demo.stats',
      ]),
    );
    expect(errors).toHaveLength(5);
  });

  it('prints a cycle in data-flow order', async () => {
    const errors = await errorsOf({
      ...base,
      stages: {
        a: { type: 'test.sleep', inputs: { series: 'c' } },
        b: { type: 'test.sleep', inputs: { series: 'a' } },
        c: { type: 'test.sleep', inputs: { series: 'b' } },
        r: { type: 'demo.stats', inputs: { series: 'c' } },
      },
    });
    expect(errors).toEqual(['/stages: the stages form a cycle: a → b → c → a']);
  });

  it('warns about a stage whose outputs nothing uses and that produces no report', async () => {
    const file = writePipeline(tempDir(), { ...base, stages: { a: { type: 'demo.numbers' }, s: { type: 'demo.stats', inputs: { series: 'a' } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } }, lonely: { type: 'demo.numbers' } } });
    const opened = await openPipeline(file, { registry: testRegistry() });
    expect(opened.warnings).toEqual([{ path: '/stages/lonely', message: 'nothing uses the outputs of stage "lonely" and it produces no report' }]);
  });

  it('applies schema defaults and the pipeline seed', async () => {
    const file = writePipeline(tempDir(), { ...base, seed: 7, stages: { a: { type: 'demo.numbers' }, b: { type: 'demo.numbers', seed: 9 }, r: { type: 'demo.report', inputs: { metrics: [] } } } });
    const { pipeline } = await openPipeline(file, { registry: testRegistry() });
    const a = pipeline.stages.find((s) => s.id === 'a')!;
    expect(a.params).toEqual({ count: 1000, mean: 0, std: 1 });
    expect(a.seed).toBe(7);
    expect(pipeline.stages.find((s) => s.id === 'b')!.seed).toBe(9);
  });

  it('substitutes environment references with defaults and types whole-value numbers', async () => {
    const file = writePipeline(tempDir(), {
      ...base,
      stages: { a: { type: 'demo.numbers', params: { count: '${N:-12}', mean: '${MEAN}' } }, s: { type: 'demo.stats', inputs: { series: 'a' }, params: { label: 'run on ${HOST:-laptop} $${literal}' } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } } },
    });
    const { pipeline } = await openPipeline(file, { registry: testRegistry(), env: { MEAN: '2.5' } });
    expect(pipeline.stages.find((s) => s.id === 'a')!.params).toMatchObject({ count: 12, mean: 2.5 });
    expect(pipeline.stages.find((s) => s.id === 's')!.params['label']).toBe('run on laptop ${literal}');
    const errors = await errorsOf({ ...base, stages: { a: { type: 'demo.numbers', params: { mean: '${UNSET_VAR_X}' } } } }, { env: {} });
    expect(errors).toContain('/stages/a/params/mean: environment variable UNSET_VAR_X is not set and has no default (write ${UNSET_VAR_X:-default})');
  });

  it('applies --set overrides, parsing JSON values, and rejects unknown stages', async () => {
    const file = writePipeline(tempDir(), { ...base, stages: { a: { type: 'demo.numbers', params: { count: 5 } }, s: { type: 'demo.stats', inputs: { series: 'a' } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } } } });
    const { pipeline } = await openPipeline(file, { registry: testRegistry(), sets: ['a.count=99', 's.label=hello', 'r.title="quoted"'] });
    expect(pipeline.stages.find((s) => s.id === 'a')!.params['count']).toBe(99);
    expect(pipeline.stages.find((s) => s.id === 's')!.params['label']).toBe('hello');
    expect(pipeline.stages.find((s) => s.id === 'r')!.params['title']).toBe('quoted');
    await expect(openPipeline(file, { registry: testRegistry(), sets: ['zz.count=1', 'nodot=1'] })).rejects.toMatchObject({
      issues: [
        { path: '/stages/zz', message: '--set "zz.count=1" names stage "zz", which the pipeline does not have (stages: a, s, r)' },
        { path: '', message: '--set "nodot=1" must look like <stage>.<param>=<value>' },
      ],
    });
  });

  it('rejects a list on a single-artifact input and an unnamed output of a multi-output stage', async () => {
    const errors = await errorsOf({
      ...base,
      stages: { a: { type: 'demo.numbers' }, p: { type: 'test.pair', inputs: { series: 'a' } }, s: { type: 'demo.stats', inputs: { series: ['a'] } }, t: { type: 'demo.stats', inputs: { series: 'p' } } },
    });
    expect(errors).toEqual([
      '/stages/s/inputs/series: input "series" of demo.stats takes one artifact, not a list',
      '/stages/t/inputs/series: stage "p" has several outputs (left, right); name one as "p.<output>"',
    ]);
  });
});
