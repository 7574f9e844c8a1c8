import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeStageKeys } from '../executor/stage-keys.js';
import { main } from '../cli-main.js';
import { openPipeline, selectForced, type OpenedPipeline } from '../runtime.js';
import { tempDir, testRegistry, writePipeline } from '../test-utils/fixtures.js';
import { PipelineError } from './issues.js';
import { decodeLabel, encodeLabel, parseReference } from './stage-ref.js';
import { readComposedPipeline } from './compose.js';
import { resolvedPipelineJson } from '../runtime.js';

async function open(spec: object, options: { sets?: string[]; dir?: string; name?: string } = {}): Promise<OpenedPipeline> {
  const file = writePipeline(options.dir ?? tempDir(), spec, options.name);
  return openPipeline(file, { registry: testRegistry(), sets: options.sets, env: {} });
}

async function errorsOf(spec: object, options: { sets?: string[]; dir?: string; name?: string } = {}): Promise<string[]> {
  try {
    await open(spec, options);
  } catch (e) {
    if (e instanceof PipelineError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

const keysById = (o: OpenedPipeline) => Object.fromEntries(computeStageKeys(o.pipeline));

/** A grid over seeds × scales written with a matrix… */
const gridSpec = {
  name: 'grid',
  seed: 1,
  groups: {
    fit: { stages: ['scaled', 'stats'], matrix: { scale: [2, 0.5], mode: ['a', 'b'] } },
  },
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 50 }, matrix: { seed: [7, 11] }, seed: '%{seed}' },
    scaled: { type: 'demo.transform', params: { scale: '%{scale}', offset: 1 }, inputs: { series: 'numbers[seed=7]' } },
    stats: { type: 'demo.stats', params: { label: 'scale %{scale}, mode %{mode}' }, inputs: { series: 'scaled' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats[mode=a]'] } },
    'report-all': { type: 'demo.report', inputs: { metrics: 'stats' } },
  },
};

/** …and its hand-written twin. */
function twinSpec() {
  const stages: Record<string, object> = {
    'numbers-7': { type: 'demo.numbers', params: { count: 50 }, seed: 7 },
    'numbers-11': { type: 'demo.numbers', params: { count: 50 }, seed: 11 },
  };
  const stats: Record<string, string> = {};
  for (const [scale, s] of [[2, '2'], [0.5, '05']] as const)
    for (const mode of ['a', 'b']) {
      stages[`scaled-${s}-${mode}`] = { type: 'demo.transform', params: { scale, offset: 1 }, inputs: { series: 'numbers-7' } };
      stages[`stats-${s}-${mode}`] = { type: 'demo.stats', params: { label: `scale ${scale}, mode ${mode}` }, inputs: { series: `scaled-${s}-${mode}` } };
      stats[`${s}-${mode}`] = `stats-${s}-${mode}`;
    }
  stages['report'] = { type: 'demo.report', inputs: { metrics: [stats['2-a'], stats['05-a']] } };
  stages['report-all'] = { type: 'demo.report', inputs: { metrics: [stats['2-a'], stats['2-b'], stats['05-a'], stats['05-b']] } };
  return { name: 'twin', seed: 1, stages };
}

describe('stage ids and references', () => {
  it('parses copy ids whose labels hold dots and "=", with an output after the bracket', () => {
    expect(parseReference('finetune[lr=0.001,tag=a=b].model')).toEqual({ name: 'finetune', bindings: new Map([['lr', '0.001'], ['tag', 'a=b']]), output: 'model' });
    expect(parseReference('finetune.model')).toEqual({ name: 'finetune', output: 'model' });
    expect(parseReference('a[x]')).toMatch(/should be <axis>=<value>/);
    expect(decodeLabel(encodeLabel('a/b, c[1]%'))).toBe('a/b, c[1]%');
    expect(encodeLabel('a/b, c')).toBe('a%2Fb%2C%20c');
  });
});

describe('matrix', () => {
  it('expands stages and groups over the product of their axes, binding values with their JSON type', async () => {
    const o = await open(gridSpec);
    const ids = o.pipeline.stages.map((s) => s.id);
    expect(ids).toHaveLength(2 + 4 + 4 + 2);
    expect(ids).toEqual(expect.arrayContaining(['numbers[seed=7]', 'numbers[seed=11]', 'scaled[scale=0.5,mode=b]', 'stats[scale=2,mode=a]']));
    const scaled = o.pipeline.stages.find((s) => s.id === 'scaled[scale=0.5,mode=b]')!;
    expect(scaled.params['scale']).toBe(0.5);
    expect(o.pipeline.stages.find((s) => s.id === 'numbers[seed=11]')!.seed).toBe(11);
    expect(o.pipeline.stages.find((s) => s.id === 'stats[scale=0.5,mode=b]')!.params['label']).toBe('scale 0.5, mode b');
    // A copy reads the copy of its group that shares its bindings.
    expect(o.pipeline.stages.find((s) => s.id === 'stats[scale=0.5,mode=b]')!.dependsOn).toEqual(['scaled[scale=0.5,mode=b]']);
    // A list input collects the copies that match, in axis order.
    const report = o.pipeline.stages.find((s) => s.id === 'report')!;
    expect(report.inputs[0]!.sources.map((s) => s.stage)).toEqual(['stats[scale=2,mode=a]', 'stats[scale=0.5,mode=a]']);
    expect(o.pipeline.stages.find((s) => s.id === 'report-all')!.inputs[0]!.sources).toHaveLength(4);
  });

  it('gives each copy the cache key of its hand-written twin', async () => {
    const grid = keysById(await open(gridSpec));
    const twin = keysById(await open(twinSpec()));
    expect(grid['numbers[seed=7]']).toBe(twin['numbers-7']);
    expect(grid['numbers[seed=11]']).toBe(twin['numbers-11']);
    expect(grid['stats[scale=0.5,mode=b]']).toBe(twin['stats-05-b']);
    expect(grid['scaled[scale=2,mode=a]']).toBe(twin['scaled-2-a']);
    expect(grid['report']).toBe(twin['report']);
    expect(grid['report-all']).toBe(twin['report-all']);
  });

  it('binds object values and their fields; labels come from "id"', async () => {
    const o = await open({
      name: 'objects',
      stages: {
        n: { type: 'demo.numbers', matrix: { setting: [{ id: 'small', count: 10 }, { id: 'large', count: 1000 }] }, params: { count: '%{setting.count}' } },
        s: { type: 'demo.stats', params: { label: '%{setting}' }, matrix: { setting: [{ id: 'small' }, { id: 'large' }] }, inputs: { series: 'n' } },
        r: { type: 'demo.report', inputs: { metrics: 's' } },
      },
    });
    expect(o.pipeline.stages.find((s) => s.id === 'n[setting=large]')!.params['count']).toBe(1000);
    expect(o.pipeline.stages.find((s) => s.id === 's[setting=large]')!.params['label']).toBe('large');
    expect(o.pipeline.stages.find((s) => s.id === 's[setting=large]')!.dependsOn).toEqual(['n[setting=large]']);
  });

  it('reports matrix mistakes with the pointer into the file', async () => {
    const errors = await errorsOf({
      name: 'bad',
      groups: { g: { stages: ['n', 'ghost'], matrix: { k: [1, 1] } } },
      stages: {
        n: { type: 'demo.numbers', params: { count: '%{nope}' }, matrix: { seed: [] } },
        s: { type: 'demo.stats', inputs: { series: 'n[seed=3]' } },
        t: { type: 'demo.transform', inputs: { series: 'n[zz=1]' } },
        r: { type: 'demo.report', inputs: { metrics: ['s', 't'] } },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        '/groups/g/stages/1: group "g" lists "ghost", which is not a stage of this pipeline',
        '/groups/g/matrix/k/1: axis "k" lists "1" twice',
        '/stages/n/matrix/seed: axis "seed" needs a non-empty list of values',
        expect.stringMatching(/^\/stages\/n\/params\/count: "%\{nope\}" names no matrix axis of stage "n"/),
        expect.stringMatching(/^\/stages\/s\/inputs\/series: "n\[seed=3\]": stage "n" has no axis "seed"/),
        expect.stringMatching(/^\/stages\/t\/inputs\/series: "n\[zz=1\]": stage "n" has no axis "zz"/),
      ]),
    );
  });

  it('refuses several copies on a port that takes one, naming the copies', async () => {
    const errors = await errorsOf({
      name: 'one',
      stages: {
        n: { type: 'demo.numbers', matrix: { seed: [1, 2] }, seed: '%{seed}' },
        s: { type: 'demo.stats', inputs: { series: 'n' } },
        r: { type: 'demo.report', inputs: { metrics: ['s'] } },
      },
    });
    expect(errors).toEqual(['/stages/s/inputs/series: "n" matches 2 stages (axis seed is not bound by this stage) but input "series" of demo.stats takes one: pin the axes this stage does not have, e.g. "n[seed=1]"']);
  });

  it('points validation errors of copies at their template, once', async () => {
    const errors = await errorsOf({ name: 'p', stages: { n: { type: 'demo.numbers', matrix: { c: [0, -1, 5] }, params: { count: '%{c}' } } } });
    expect(errors).toEqual(['/stages/n/params/count: must be >= 1 (stage type demo.numbers) (in n[c=0] and 1 other copy)']);
  });

  it('--set addresses every copy through the template, or one copy by its bindings; --force selects copies', async () => {
    const o = await open(gridSpec, { sets: ['scaled.offset=5', 'scaled[scale=2,mode=a].offset=9', 'numbers[seed=11].count=7'] });
    const param = (id: string, p: string) => o.pipeline.stages.find((s) => s.id === id)!.params[p];
    expect(param('scaled[scale=0.5,mode=b]', 'offset')).toBe(5);
    expect(param('scaled[scale=2,mode=a]', 'offset')).toBe(9);
    expect(param('numbers[seed=11]', 'count')).toBe(7);
    expect(param('numbers[seed=7]', 'count')).toBe(50);
    expect([...selectForced(o, ['scaled[mode=b]'])]).toEqual(['scaled[scale=2,mode=b]', 'scaled[scale=0.5,mode=b]']);
    expect([...selectForced(o, ['numbers'])]).toEqual(['numbers[seed=7]', 'numbers[seed=11]']);
    expect(() => selectForced(o, ['scaled[mode=z]'])).toThrow(/matches no copy/);
    expect(await errorsOf(gridSpec, { sets: ['scaled[mode=z].offset=1'] })).toEqual([expect.stringMatching(/^\/stages\/scaled\[mode=z\]: --set .* matches no copy/)]);
  });
});

describe('extends', () => {
  function family(): string {
    const dir = tempDir();
    mkdirSync(join(dir, 'base'));
    writePipeline(join(dir, 'base'), {
      description: 'base',
      seed: 3,
      stages: {
        numbers: { type: 'demo.numbers', params: { count: 10, mean: 2 } },
        stats: { type: 'demo.stats', params: { label: 'base' }, inputs: { series: 'numbers' } },
        extra: { type: 'demo.stats', inputs: { series: 'numbers' } },
        report: { type: 'demo.report', inputs: { metrics: ['stats', 'extra'] } },
      },
    }, 'root.json');
    writePipeline(join(dir, 'base'), { extends: 'root.json', stages: { numbers: { params: { count: 20 } } } }, 'middle.json');
    return dir;
  }

  it('merges stages by id and params deeply along a chain; null removes; name is not inherited', async () => {
    const dir = family();
    const o = await open(
      { name: 'child', extends: 'base/middle.json', stages: { numbers: { params: { mean: null, std: 3 } }, extra: null, report: { inputs: { metrics: ['stats'] } } } },
      { dir, name: 'child.json' },
    );
    const numbers = o.pipeline.stages.find((s) => s.id === 'numbers')!;
    expect(numbers.params).toEqual({ count: 20, mean: 0, std: 3 }); // mean removed → its default
    expect(o.pipeline.stages.map((s) => s.id)).toEqual(['numbers', 'stats', 'report']);
    expect(o.pipeline.spec.seed).toBe(3);
    expect(o.pipeline.spec.name).toBe('child');
    expect(await errorsOf({ extends: 'base/middle.json' }, { dir, name: 'nameless.json' })).toEqual([': missing required field "name"']);
  });

  it('reports a missing base and a cycle naming both files', async () => {
    const dir = tempDir();
    expect(await errorsOf({ name: 'a', extends: 'nope.json', stages: {} }, { dir, name: 'a.json' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/extends: .*a\.json extends "nope\.json", but .*nope\.json does not exist$/)]),
    );
    writePipeline(dir, { extends: 'c.json', stages: {} }, 'b.json');
    writePipeline(dir, { extends: 'b.json', stages: {} }, 'c.json');
    expect(await errorsOf({ name: 'a', extends: 'b.json', stages: {} }, { dir, name: 'a.json' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/extends: .*c\.json extends .*b\.json, which forms a cycle: .*b\.json → .*c\.json → .*b\.json$/)]),
    );
  });
});

describe('fairtune validate', () => {
  it('counts expanded stages, and --expanded prints a plain pipeline that validates to the same keys', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, gridSpec);
    const run = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const io = { cwd: dir, env: {}, stdout: { write: (s: string) => ((stdout += s), true) }, stderr: { write: (s: string) => ((stderr += s), true) } };
      const code = await main([...args, '--no-builtins'], io as never);
      return { code, stdout, stderr };
    };
    // The CLI loads plugins itself: demo stages are built in.
    const plain = writePipeline(dir, { ...gridSpec, stages: { ...gridSpec.stages } }, 'g.json');
    expect((await run(['validate', plain])).stdout).toBe(`${plain}: valid (12 stages)\n`);
    const expanded = await run(['validate', '--expanded', file]);
    expect(expanded.code).toBe(0);
    const spec = JSON.parse(expanded.stdout);
    expect(spec.groups).toBeUndefined();
    expect(Object.values(spec.stages).every((s) => !('matrix' in (s as object)))).toBe(true);
    const again = writePipeline(dir, spec, 'expanded.json');
    writeFileSync(again, expanded.stdout);
    const a = keysById(await openPipeline(file, { registry: testRegistry(), env: {} }));
    const b = keysById(await openPipeline(again, { registry: testRegistry(), env: {} }));
    expect(b).toEqual(a);
  });
});

describe('review findings', () => {
  it("rebases a base's plugin paths onto the base's folder", () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'base'));
    writePipeline(join(dir, 'base'), { plugins: ['./plug.mjs', 'some-package'], stages: {} }, 'b.json');
    const file = writePipeline(dir, { name: 'c', extends: 'base/b.json', stages: {} }, 'c.json');
    const merged = readComposedPipeline(file, []) as { plugins: string[] };
    expect(merged.plugins).toEqual([join(dir, 'base', 'plug.mjs'), 'some-package']);
  });

  it('writes literal %{ and ${ back escaped, so the expanded pipeline and the run record validate to the same keys', async () => {
    const dir = tempDir();
    const spec = {
      name: 'lit',
      stages: {
        numbers: { type: 'demo.numbers', description: 'literal %%{x} and $${HOME}' },
        s: { type: 'demo.stats', matrix: { v: [1, 2] }, params: { label: 'v=%{v} lit=%%{v} env=$${NOPE}' }, inputs: { series: 'numbers' } },
        r: { type: 'demo.report', inputs: { metrics: ['s'] } },
      },
    };
    const o = await open(spec, { dir });
    expect(o.pipeline.stages.find((x) => x.id === 's[v=2]')!.params['label']).toBe('v=2 lit=%{v} env=${NOPE}');
    const record = resolvedPipelineJson(o.pipeline) as { stages: Record<string, { description?: string }> };
    expect(record.stages['numbers']!.description).toBe('literal %%{x} and $${HOME}');
    const again = await openPipeline(writePipeline(dir, record, 'record.json'), { registry: testRegistry(), env: {} });
    expect(keysById(again)).toEqual(keysById(o));
  });

  it('the run record of a pipeline with a trial group keeps the group and its stages as written', async () => {
    const dir = tempDir();
    const spec = {
      name: 'tr',
      groups: { trial: { stages: ['shift'], trials: { offset: 0 } } },
      stages: {
        numbers: { type: 'demo.numbers', params: { count: 10 } },
        shift: { type: 'demo.transform', params: { offset: '%{offset}' }, inputs: { series: 'numbers' } },
        search: { type: 'demo.search', trials: 'trial', params: { param: 'offset', values: [1], metric: { stage: 'shift', name: 'running-mean' } } },
      },
    };
    const o = await open(spec, { dir });
    const record = resolvedPipelineJson(o.pipeline) as { stages: Record<string, { params: Record<string, unknown> }> };
    expect(record.stages['shift']!.params['offset']).toBe('%{offset}');
    const again = await openPipeline(writePipeline(dir, record, 'record.json'), { registry: testRegistry(), env: {} });
    expect(keysById(again)).toEqual(keysById(o));
  });

  it('encodes a value bound into a selector; refuses "*" as a value; an environment value is text', async () => {
    const o = await open({
      name: 'sel',
      stages: {
        t: { type: 'demo.numbers', matrix: { v: ['c,d', '[x]'] }, params: { count: 5 } },
        s: { type: 'demo.stats', matrix: { w: ['c,d', '[x]'] }, inputs: { series: 't[v=%{w}]' } },
        r: { type: 'demo.report', inputs: { metrics: ['s'] } },
      },
    });
    expect(o.pipeline.stages.find((x) => x.id === 's[w=c%2Cd]')!.dependsOn).toEqual(['t[v=c%2Cd]']);
    expect(await errorsOf({ name: 'star', stages: { t: { type: 'demo.numbers', matrix: { v: ['*'] } } } })).toEqual(['/stages/t/matrix/v/0: "*" cannot be a matrix value: in selectors it means every value']);
    const file = writePipeline(tempDir(), {
      name: 'env',
      stages: {
        n: { type: 'demo.numbers' },
        s: { type: 'demo.stats', matrix: { c: ['a'] }, params: { label: '${LBL:-%{c}}|${OTHER:-x}' }, inputs: { series: 'n' } },
        r: { type: 'demo.report', inputs: { metrics: ['s'] } },
      },
    });
    const withEnv = await openPipeline(file, { registry: testRegistry(), env: { LBL: 'foo', OTHER: '50%{off}' } });
    expect(withEnv.pipeline.stages.find((x) => x.id === 's[c=a]')!.params['label']).toBe('foo|50%{off}');
    const unset = await openPipeline(file, { registry: testRegistry(), env: {} });
    expect(unset.pipeline.stages.find((x) => x.id === 's[c=a]')!.params['label']).toBe('a|x');
  });

  it('pins only the axes a reader lacks in its hint, and reports a bad reference once', async () => {
    const errors = await errorsOf({
      name: 'hint',
      groups: { rep: { stages: ['t', 'agg'], matrix: { seed: [1, 2] } }, meth: { stages: ['t'], matrix: { m: ['a', 'b'] } } },
      stages: {
        t: { type: 'demo.numbers' },
        agg: { type: 'demo.stats', inputs: { series: 't' } },
        b: { type: 'demo.stats', matrix: { seed: [3] }, inputs: { series: 't[m=a]' } },
        r: { type: 'demo.report', inputs: { metrics: ['agg', 'b'] } },
      },
    });
    expect(errors).toEqual([
      expect.stringMatching(/pin the axes this stage does not have, e\.g\. "t\[m=a\]"/),
      expect.stringMatching(/^\/stages\/b\/inputs\/series: "t\[m=a\]" matches no copy of "t" with seed=3/),
    ]);
  });
});
