/**
 * Issue 10 §4: hostile or malformed input gets a clear error — one line naming the path or JSON
 * pointer, exit code 2 for a bad pipeline or bad usage, a run record that ends "failed" (never
 * left "running") for a run that cannot go on; untrusted keys never reach an object's
 * prototype; secret params stay out of every record.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { runCli } from './testing.js';
import { join } from 'node:path';
import { ContainerModule } from 'inversify';
import { internalErrorText } from './cli-main.js';
import { ArtifactCache } from './cache/artifact-cache.js';
import { artifact, ndarray } from './contracts/artifact.js';
import { STAGE_PLUGIN, type StagePlugin } from './contracts/stage-plugin.js';
import { computeStageKeys, stageRecipe } from './executor/stage-keys.js';
import { runAsync } from './observable.js';
import { PipelineError, formatIssue } from './pipeline/issues.js';
import { openPipeline, runPipeline } from './runtime.js';
import { repoRoot, tempDir, testModule, Probe, testRegistry, writePipeline } from './test-utils/fixtures.js';
import { StageRegistry } from './registry.js';
import { demoStagesModule } from './builtin/demo-stages.js';

const cli = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => runCli(args, { cwd, env });

/** The issues of an invalid pipeline, as `path: message` lines (an empty list when it is valid). */
async function problems(spec: object | string, options: { sets?: string[]; env?: NodeJS.ProcessEnv; registry?: StageRegistry } = {}): Promise<string[]> {
  const dir = tempDir();
  const file = typeof spec === 'string' ? join(dir, 'pipeline.json') : writePipeline(dir, spec);
  if (typeof spec === 'string') writeFileSync(file, spec);
  try {
    await openPipeline(file, { registry: options.registry ?? testRegistry(), sets: options.sets, env: options.env ?? {} });
  } catch (e) {
    if (e instanceof PipelineError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

const demo = {
  name: 'hostile',
  seed: 1,
  stages: {
    numbers: { type: 'demo.numbers', params: { count: 20 } },
    stats: { type: 'demo.stats', inputs: { series: 'numbers' } },
    report: { type: 'demo.report', inputs: { metrics: ['stats'] } },
  },
};

const summaryOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { status: string; failedStage?: string; reason?: string; stages: Record<string, { status: string; reason?: string }> };

/** Every run record under `runsDir` and its status. */
function recordStatuses(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir).flatMap((p) =>
    readdirSync(join(runsDir, p))
      .filter((r) => r !== 'latest')
      .map((r) => summaryOf(join(runsDir, p, r)).status),
  );
}

const oneLine = (s: string) => !s.trim().includes('\n') && !/\n\s+at /.test(s);

describe('issue 10 §4: malformed input and broken folders', () => {
  it('a stage whose external inputs cannot be fingerprinted fails the run with one line naming the path; the record ends failed', async () => {
    const dir = tempDir();
    const missing = join(dir, 'no-such-file.bin');
    const file = writePipeline(dir, { name: 'fp', stages: { f: { type: 'test.file', params: { path: missing } }, stats: { type: 'demo.stats', inputs: { series: 'f' } }, report: { type: 'demo.report', inputs: { metrics: ['stats'] } } } });
    const result = await runPipeline(await openPipeline(file, { registry: testRegistry() }), { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') });
    expect(result.status).toBe('failed');
    const summary = summaryOf(result.runDir);
    expect(summary).toMatchObject({ status: 'failed', failedStage: 'f' });
    expect(summary.reason).toContain(missing);
    expect(oneLine(summary.reason!)).toBe(true);
    expect(summary.stages['f']).toMatchObject({ status: 'failed' });
    expect(summary.stages['stats']).toMatchObject({ status: 'skipped' });
    expect(recordStatuses(join(dir, 'runs'))).toEqual(['failed']);
  });

  it('a cache folder or runs folder that is a file: exit 2 with one line naming it, and no record left "running"', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    writeFileSync(join(dir, 'cache-file'), 'x');
    writeFileSync(join(dir, 'runs-file'), 'x');
    const cache = await cli(['run', file, '--cache-dir', 'cache-file', '--runs-dir', 'runs', '--no-builtins'], dir);
    expect(cache.code).toBe(2);
    expect(cache.err).toBe(`error: cannot use ${join(dir, 'cache-file')} as the cache folder: it is a file, not a folder [FT_RUN_SETUP; how to fix: docs/errors.md#ft_run_setup]\n`);
    expect(cache.err).not.toMatch(/internal error|\n\s+at /);
    expect(recordStatuses(join(dir, 'runs'))).not.toContain('running');
    const runs = await cli(['run', file, '--cache-dir', 'cache', '--runs-dir', 'runs-file', '--no-builtins'], dir);
    expect(runs.code).toBe(2);
    expect(runs.err).toBe(`error: cannot use ${join(dir, 'runs-file')} as the runs folder: it is a file, not a folder [FT_RUN_SETUP; how to fix: docs/errors.md#ft_run_setup]\n`);
    expect(runs.err).not.toMatch(/internal error|\n\s+at /);
  });

  it("a work folder or lease that cannot be created fails the run naming the folder; the record ends failed", async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    const cache = join(dir, 'cache');
    mkdirSync(cache);
    writeFileSync(join(cache, 'tmp'), 'not a folder');
    const work = await runPipeline(await openPipeline(file, { registry: testRegistry() }), { cacheDir: cache, runsDir: join(dir, 'runs') });
    expect(work.status).toBe('failed');
    expect(summaryOf(work.runDir).reason).toMatch(new RegExp(`cannot create the work folder ${join(cache, 'tmp').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\S+: a part of the path is a file, not a folder \\(ENOTDIR\\)`));

    const cache2 = join(dir, 'cache2');
    mkdirSync(cache2);
    writeFileSync(join(cache2, 'leases'), 'not a folder');
    const lease = await runPipeline(await openPipeline(file, { registry: testRegistry() }), { cacheDir: cache2, runsDir: join(dir, 'runs2') });
    expect(lease.status).toBe('failed');
    const summary = summaryOf(lease.runDir);
    expect(summary.reason).toContain(`cannot write the run's lease ${join(cache2, 'leases')}`);
    expect(Object.values(summary.stages).map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped']);
  });

  it('a non-folder in the cache\'s entries/ is set aside and the entry stored; gc lists and removes strays', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    const cacheDir = join(dir, 'cache');
    const first = await runPipeline(await openPipeline(file, { registry: testRegistry() }), { cacheDir, runsDir: join(dir, 'runs') });
    expect(first.status).toBe('succeeded');
    // Every shard folder replaced by a file, plus a stray file: the next run (with new keys) stores its entries anyway.
    for (const shard of readdirSync(join(cacheDir, 'entries'))) {
      rmSync(join(cacheDir, 'entries', shard), { recursive: true });
      writeFileSync(join(cacheDir, 'entries', shard), 'damage');
    }
    writeFileSync(join(cacheDir, 'entries', 'stray.txt'), 'x');
    const again = await runPipeline(await openPipeline(file, { registry: testRegistry() }), { cacheDir, runsDir: join(dir, 'runs') });
    expect(again.status).toBe('succeeded');
    expect(Object.values(again.summary.stages).map((s) => s.status)).toEqual(['executed', 'executed', 'executed']);
    const gc = new ArtifactCache(cacheDir).gc(new Set(Object.values(again.summary.stages).map((s) => s.key)));
    expect(gc.leftovers.map((l) => l.path)).toContain(join(cacheDir, 'entries', 'stray.txt'));
    expect(existsSync(join(cacheDir, 'entries', 'stray.txt'))).toBe(false);
  });

  it('"inputs": 5, an input that is a number, a stage that is not an object: errors at their pointers, never a crash', async () => {
    expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers', inputs: 5 } } })).toEqual(['/stages/a/inputs: must be of type object']);
    expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers' }, b: { type: 'demo.stats', inputs: { series: 5 } } } })).toEqual(['/stages/b/inputs/series: must be a string, or a list of strings']);
    expect(await problems({ name: 'x', stages: { a: 5 } })).toEqual(['/stages/a: must be of type object']);
    expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers', params: 5 } } })).toEqual(['/stages/a/params: must be of type object']);
  });

  it('any field given a value of the wrong type is a pipeline error, not a crash', async () => {
    const wrong: unknown[] = [5, null, 'x', [], {}, [5], true, { a: 5 }, [[]]];
    const paths: ((v: unknown) => object)[] = [
      (v) => ({ ...demo, name: v }),
      (v) => ({ ...demo, seed: v }),
      (v) => ({ ...demo, plugins: v }),
      (v) => ({ ...demo, stages: v }),
      (v) => ({ ...demo, extends: v }),
      (v) => ({ ...demo, groups: v }),
      (v) => ({ ...demo, groups: { g: v } }),
      (v) => ({ ...demo, groups: { g: { stages: v, matrix: { x: [1] } } } }),
      (v) => ({ ...demo, groups: { g: { stages: ['numbers'], matrix: v } } }),
      (v) => ({ ...demo, groups: { g: { stages: ['numbers'], matrix: { x: v } } } }),
      (v) => ({ ...demo, groups: { g: { stages: ['numbers'], trials: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: v } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: { type: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: { type: 'demo.numbers', params: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: { type: 'demo.numbers', seed: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: { type: 'demo.numbers', matrix: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: { type: 'demo.numbers', matrix: { x: v } } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, numbers: { type: 'demo.numbers', trials: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, stats: { type: 'demo.stats', inputs: v } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, stats: { type: 'demo.stats', inputs: { series: v } } } }),
      (v) => ({ ...demo, stages: { ...demo.stages, report: { type: 'demo.report', inputs: { metrics: v } } } }),
    ];
    for (const make of paths) {
      for (const v of wrong) {
        const spec = make(v);
        await expect(problems(spec)).resolves.toEqual(expect.any(Array));
      }
    }
  });

  it('params nested 200,000 deep: one error at the JSON pointer with line and column, not a stack overflow', async () => {
    const deep = '{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000);
    const errors = await problems(`{"name":"x","stages":{"a":{"type":"demo.numbers","params":${deep}}}}`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^\/stages\/a\/params(\/a)+: nested more than 100 levels deep \(line 1, column \d+\)$/);
    // The same through --set.
    const set = await problems(demo, { sets: [`numbers.count=${'['.repeat(5000)}${']'.repeat(5000)}`] });
    expect(set).toEqual([expect.stringMatching(/^: --set ".*": the value at (\/0)+: nested more than 100 levels deep/)]);
  });

  it('a cycle of 10,000 stages is reported, and a chain of 10,000 stages validates', async () => {
    const n = 10_000;
    const cycle: Record<string, object> = {};
    for (let i = 0; i < n; i++) cycle[`s${i}`] = { type: 'test.sleep', inputs: { series: `s${(i + 1) % n}` } };
    const errors = await problems({ name: 'cycle', stages: cycle });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe('/stages: the stages form a cycle of 10000 stages: s0 → s9999 → s9998 → s9997 → s9996 → s9995 → s9994 → s9993 → … (9990 more) … → s2 → s1 → s0');
    const chain: Record<string, object> = { s0: { type: 'test.sleep' } };
    for (let i = 1; i < n; i++) chain[`s${i}`] = { type: 'test.sleep', inputs: { series: `s${i - 1}` } };
    chain['report'] = { type: 'demo.report', inputs: { metrics: [] } };
    const file = writePipeline(tempDir(), { name: 'chain', stages: chain });
    const opened = await openPipeline(file, { registry: testRegistry() });
    expect(opened.pipeline.stages[0]!.id).toBe('s0');
    expect(opened.pipeline.stages[n - 1]!.id).toBe(`s${n - 1}`);
  }, 60_000);

  it('--concurrency 0 is a usage error (exit 2, one line), not an internal error', async () => {
    const dir = tempDir();
    const r = await cli(['run', writePipeline(dir, demo), '--concurrency', '0', '--no-builtins'], dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--concurrency must be a positive integer, got "0"');
  });

  it('an unexpected exception prints one line; the stack trace only with FAIRTUNE_DEBUG=1', () => {
    const err = new TypeError('x is not a function');
    expect(internalErrorText(err, {})).toBe('internal error: TypeError: x is not a function (a bug in FairTune or a plugin; run with FAIRTUNE_DEBUG=1 for the stack trace)\n');
    expect(internalErrorText(err, { FAIRTUNE_DEBUG: '1' })).toMatch(/^internal error: TypeError: x is not a function\n\s+at /);
  });
});

describe('issue 10 §4: untrusted keys', () => {
  it("--set with a reserved name in the param or stage part exits 2 and Object.prototype stays clean", async () => {
    const dir = tempDir();
    const file = writePipeline(dir, demo);
    for (const set of ['numbers.__proto__.x=1', 'numbers.constructor.prototype.x=1', '__proto__.x=1', 'constructor.count=7', 'prototype.count=7']) {
      const r = await cli(['validate', file, '--set', set, '--no-builtins'], dir);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/is a reserved name, not a (param|stage) \(reserved: __proto__, constructor, prototype\)/);
    }
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    // A JSON value with a reserved key is refused too.
    expect(await problems(demo, { sets: ['numbers.count={"__proto__":{"x":1}}'] })).toEqual([expect.stringContaining('"__proto__" is a reserved name and cannot be a key')]);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('--set toString.count=7 names a stage the pipeline does not have (exit 2), not silently ignored', async () => {
    const dir = tempDir();
    const r = await cli(['validate', writePipeline(dir, demo), '--set', 'toString.count=7', '--no-builtins'], dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--set "toString.count=7" names stage "toString", which the pipeline does not have');
  });

  it('inputs naming toString, constructor or hasOwnProperty, and an input port named toString, are errors', async () => {
    expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers' }, s: { type: 'demo.stats', inputs: { series: '__proto__' } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } } } })).toEqual(['/stages/s/inputs/series: "__proto__" is not a stage reference (a stage id, optionally followed by ".<output>")']);
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers' }, s: { type: 'demo.stats', inputs: { series: name } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } } } })).toEqual([`/stages/s/inputs/series: input refers to stage "${name}", which does not exist`]);
    }
    expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers' }, s: { type: 'demo.stats', inputs: { series: 'a', toString: 'a' } }, r: { type: 'demo.report', inputs: { metrics: ['s'] } } } })).toEqual(['/stages/s/inputs/toString: stage type demo.stats has no input "toString" (inputs: series)']);
  });

  it('a stage id "__proto__" and a params key "__proto__" are refused as reserved names, with line and column', async () => {
    const stage = await problems('{"name":"x","stages":{"a":{"type":"demo.numbers"},\n"__proto__":{"type":"demo.stats","inputs":{"series":"a"}}}}');
    expect(stage).toEqual(['/stages/__proto__: "__proto__" is a reserved name and cannot be a key (line 2, column 1); reserved: __proto__, constructor, prototype']);
    const params = await problems('{"name":"x","stages":{"a":{"type":"demo.numbers","params":{"__proto__":{"count":3}}}}}');
    expect(params).toEqual([expect.stringMatching(/^\/stages\/a\/params\/__proto__: "__proto__" is a reserved name and cannot be a key \(line 1, column \d+\)/)]);
    const ctor = await problems('{"name":"x","stages":{"constructor":{"type":"demo.numbers"}}}');
    expect(ctor).toEqual([expect.stringMatching(/^\/stages\/constructor: "constructor" is a reserved name/)]);
  });

  it('stage ids toString and hasOwnProperty are ordinary ids', async () => {
    const dir = tempDir();
    const file = writePipeline(dir, { name: 'names', stages: { toString: { type: 'demo.numbers', params: { count: 10 } }, hasOwnProperty: { type: 'demo.stats', inputs: { series: 'toString' } }, valueOf: { type: 'demo.report', inputs: { metrics: ['hasOwnProperty'] } } } });
    const opened = await openPipeline(file, { registry: testRegistry(), sets: ['toString.count=12'] });
    expect(opened.pipeline.stages.map((s) => s.id)).toEqual(['toString', 'hasOwnProperty', 'valueOf']);
    expect(opened.pipeline.stages[0]!.params['count']).toBe(12);
    const result = await runPipeline(opened, { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') });
    expect(result.status).toBe('succeeded');
  });

  it('a key given twice in a pipeline file is an error naming the key and both places', async () => {
    const text = '{\n  "name": "x",\n  "stages": {\n    "a": { "type": "demo.numbers" },\n    "a": { "type": "demo.stats" }\n  }\n}';
    expect(await problems(text)).toEqual(['/stages/a: duplicate key "a" (line 5, column 5; first at line 4, column 5): each key may appear once in an object']);
    expect(await problems('{"name":"x","name":"y","stages":{"a":{"type":"demo.numbers","params":{"count":1,"count":2}}}}')).toEqual([
      '/name: duplicate key "name" (line 1, column 13; first at line 1, column 2): each key may appear once in an object',
      '/stages/a/params/count: duplicate key "count" (line 1, column 81; first at line 1, column 71): each key may appear once in an object',
    ]);
  });
});

describe('issue 10 §4: lengths of ids and names', () => {
  it('a 5,000-character stage id or pipeline name fails validation with one short line, not ENAMETOOLONG', async () => {
    const long = 'a'.repeat(5000);
    expect(await problems({ name: 'x', stages: { [long]: { type: 'demo.numbers' } } })).toEqual([`/stages/${long}: stage id "${'a'.repeat(40)}…(5000 characters)" is 5000 characters long; at most 200 (ids become folder and file names; a matrix copy's id includes its axes and labels: give long values a short "id")`]);
    expect(await problems({ name: long, stages: { a: { type: 'demo.numbers' } } })).toEqual(['/name: the pipeline name is 5000 characters long; names have at most 200 (they become folder names under runs/)']);
    const copy = await problems({ name: 'x', stages: { a: { type: 'demo.numbers', matrix: { x: [long] } } } });
    expect(copy).toEqual([expect.stringMatching(/^\/stages\/a: stage id "a\[x=a+…\(5005 characters\)" is 5005 characters long; at most 200 .*\(in a\[x=a+…\(5005 characters\)\)$/)]);
    expect(await problems({ name: 'x', stages: { a: { type: 'demo.numbers', matrix: { [long]: [1] } } } })).toEqual([expect.stringMatching(/^\/stages\/a: stage id "a\[a+…\(5005 characters\)" is 5005 characters long; at most 200 /)]);
    const dir = tempDir();
    const r = await cli(['run', writePipeline(dir, { name: 'x', stages: { [long]: { type: 'demo.numbers' } } }), '--no-builtins'], dir);
    expect(r.code).toBe(2);
    expect(r.err).not.toContain('ENAMETOOLONG');
    for (const line of r.err.trim().split('\n')) expect(line.length).toBeLessThan(400);
    expect(formatIssue('f.json', { path: `/stages/${long}`, message: 'm' })).toBe(`f.json: /stages/${'a'.repeat(60)}…(5000 characters): m`);
  });
});

describe('issue 10 §4: plugins given as paths', () => {
  it('validate prints the file imported for a path plugin (its code ran), in text and JSON', async () => {
    const dir = tempDir();
    const plugin = join(repoRoot, 'examples', 'fairtune-plugin-example');
    const file = writePipeline(dir, { ...demo, plugins: [plugin], stages: { ...demo.stages, clip: { type: 'example.winsorize', inputs: { series: 'numbers' } }, stats: { type: 'demo.stats', inputs: { series: 'clip' } } } });
    const text = await cli(['validate', file, '--no-builtins'], dir);
    expect(text.code).toBe(0);
    expect(text.err).toContain(`plugin "${plugin}" is ${join(plugin, 'index.js')} (a plugin given as a path is imported, so its code ran)`);
    expect(text.out).toBe(`${file}: valid (4 stages)\n`);
    const json = await cli(['validate', file, '--json', '--no-builtins'], dir);
    expect(JSON.parse(json.out)).toMatchObject({ valid: true, pathPlugins: [{ specifier: plugin, file: join(plugin, 'index.js') }] });
    const invalid = writePipeline(dir, { ...demo, plugins: [plugin], stages: { ...demo.stages, numbers: { type: 'demo.numbrs' } } }, 'invalid.json');
    const bad = await cli(['validate', invalid, '--no-builtins'], dir);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`plugin "${plugin}" is ${join(plugin, 'index.js')}`);
  });
});

/** `test.secret`: takes a download token (secret); logs it, puts it in its artifact's metadata and in a report file. */
function secretModule(): ContainerModule {
  const plugin: StagePlugin<{ token: string; auth: { user: string; password: string }; label: string }> = {
    type: 'test.secret',
    version: '1',
    description: 'Uses a secret token.',
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        token: { type: 'string', 'x-fairtune-secret': true, description: 'Download token.' },
        auth: { type: 'object', properties: { user: { type: 'string' }, password: { type: 'string', 'x-fairtune-secret': true } }, default: { user: 'u', password: 'pw' } },
        label: { type: 'string', default: 'plain' },
      },
    },
    inputs: {},
    outputs: { report: { kind: 'report' } },
    run: (ctx) =>
      runAsync(ctx.signal, async (emit) => {
        emit.log('info', `downloading with token ${ctx.params.token}`);
        const path = join(ctx.workDir, 'report.md');
        writeFileSync(path, `# Report\n\ntoken: ${ctx.params.token}, password: ${ctx.params.auth.password}\n`);
        emit.artifact('report', artifact('report', { token: ctx.params.token, note: `got ${ctx.params.token}` }, { v: ndarray(new Float64Array([1])) }, { 'report.md': path }));
      }),
  };
  return new ContainerModule((o) => {
    o.bind(STAGE_PLUGIN).toConstantValue(plugin as StagePlugin);
  });
}

describe('issue 10 §4: secret params', () => {
  it('a param marked x-fairtune-secret is redacted in pipeline.json, environment.json, events, summary, cache entries and reports, and kept out of the key recipe', async () => {
    const dir = tempDir();
    const token = 'tok-SECRET-5f3a9c';
    const password = 'pw-SECRET-77e1';
    const registry = new StageRegistry();
    registry.loadModule(demoStagesModule, '@fairtune/core');
    registry.loadModule(testModule(new Probe()), 'test');
    registry.loadModule(secretModule(), 'secret');
    const file = writePipeline(dir, { name: 'secret', stages: { dl: { type: 'test.secret', params: { token: '${DOWNLOAD_TOKEN}', label: 'uses ${DOWNLOAD_TOKEN}' } } } });
    const argv = process.argv;
    process.argv = [...argv.slice(0, 2), 'run', file, '--set', `dl.auth.password=${password}`];
    let opened;
    let result;
    try {
      opened = await openPipeline(file, { registry, env: { DOWNLOAD_TOKEN: token }, sets: [`dl.auth.password=${password}`] });
      result = await runPipeline(opened, { cacheDir: join(dir, 'cache'), runsDir: join(dir, 'runs') });
    } finally {
      process.argv = argv;
    }
    expect(result.status).toBe('succeeded');
    // The run record: every file, with the values replaced.
    const record = readdirSync(result.runDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
    expect(record.length).toBeGreaterThanOrEqual(5);
    for (const f of record) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toContain(token);
      expect(text).not.toContain(password);
    }
    const pipelineJson = JSON.parse(readFileSync(join(result.runDir, 'pipeline.json'), 'utf8'));
    expect(pipelineJson.stages.dl.params).toEqual({ token: '[redacted]', auth: { password: '[redacted]' }, label: 'uses [redacted]' });
    expect(JSON.parse(readFileSync(join(result.runDir, 'environment.json'), 'utf8')).argv).toEqual(['run', file, '--set', 'dl.auth.password=[redacted]']);
    expect(readFileSync(join(result.runDir, 'events.jsonl'), 'utf8')).toContain('downloading with token [redacted]');
    expect(readFileSync(join(result.runDir, 'dl', 'report.md'), 'utf8')).toContain('token: [redacted], password: [redacted]');
    // The cache: every file of every entry.
    const cached = readdirSync(join(dir, 'cache'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
    expect(cached.some((f) => f.endsWith('manifest.json'))).toBe(true);
    for (const f of cached) {
      const bytes = readFileSync(f);
      expect(bytes.includes(token)).toBe(false);
      expect(bytes.includes(password)).toBe(false);
    }
    // The readable recipe holds neither; the key hashes that recipe, so another token is the same cache entry.
    const stage = opened.pipeline.stages[0]!;
    expect([...(stage.secrets ?? [])].sort()).toEqual(['/auth/password', '/token']);
    const recipe = JSON.stringify(stageRecipe(stage, () => ''));
    expect(recipe).not.toContain(token);
    expect(recipe).toContain('[redacted]');
    const other = await openPipeline(file, { registry, env: { DOWNLOAD_TOKEN: 'another-token-000' }, sets: [`dl.auth.password=${password}`] });
    expect(computeStageKeys(other.pipeline).get('dl')).toBe(computeStageKeys(opened.pipeline).get('dl'));
    // validate --expanded prints the pipeline with the secrets redacted.
    const { redactedExpanded } = await import('./runtime.js');
    expect(JSON.stringify(redactedExpanded(opened))).not.toContain(token);
  });
});
