import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, UsageError } from '@fairtune/core';
import { JournalStorage } from '../storage/journal.js';
import { JournalReplay } from '../storage/journal-format.js';
import { parseAskArgs, parseTellArgs, studyActionIndex } from './ask-tell-args.js';
import { tellOutcome } from './ask-tell.js';
import { formatAsk, paramCell } from './ask-tell-output.js';
import { adjustDiscreteHigh, optunaDistribution, parseOptunaSearchSpace } from './optuna-distributions.js';
import { chooseSampler } from './optuna-sampler.js';

const study = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => runCli(['study', ...args], { cwd, env });
const fd = (attributes: object, name = 'FloatDistribution') => ({ name, attributes });

describe('--search-space: Optuna 3.1 distribution JSON', () => {
  it('maps every class of 3.1, the deprecated ones and the abbreviated form', () => {
    const cases: [unknown, unknown][] = [
      [fd({ low: 0, high: 1, log: false, step: null }), { type: 'float', low: 0, high: 1, log: false }],
      [fd({ low: 1e-5, high: 1e-3, log: true, step: null }), { type: 'float', low: 1e-5, high: 1e-3, log: true }],
      [fd({ low: 0, high: 1, step: 0.25 }), { type: 'float', low: 0, high: 1, log: false, step: 0.25 }],
      [fd({ low: 0, high: 10, log: false, step: 2 }, 'IntDistribution'), { type: 'int', low: 0, high: 10, log: false, step: 2 }],
      [fd({ low: 1, high: 64, log: true }, 'IntDistribution'), { type: 'int', low: 1, high: 64, log: true, step: 1 }],
      [fd({ low: 3, high: 5 }, 'IntDistribution'), { type: 'int', low: 3, high: 5, log: false, step: 1 }],
      [fd({ choices: ['adam', 1.5, true, null] }, 'CategoricalDistribution'), { type: 'categorical', choices: ['adam', 1.5, true, null] }],
      [fd({ low: -1, high: 1 }, 'UniformDistribution'), { type: 'float', low: -1, high: 1, log: false }],
      [fd({ low: 0.01, high: 1 }, 'LogUniformDistribution'), { type: 'float', low: 0.01, high: 1, log: true }],
      [fd({ low: 0, high: 1, q: 0.5 }, 'DiscreteUniformDistribution'), { type: 'float', low: 0, high: 1, log: false, step: 0.5 }],
      [fd({ low: 0, high: 9, step: 3 }, 'IntUniformDistribution'), { type: 'int', low: 0, high: 9, log: false, step: 3 }],
      [fd({ low: 1, high: 9 }, 'IntLogUniformDistribution'), { type: 'int', low: 1, high: 9, log: true, step: 1 }],
      [{ type: 'float', low: 1e-5, high: 1e-3, log: true }, { type: 'float', low: 1e-5, high: 1e-3, log: true }],
      [{ type: 'int', low: 0, high: 4 }, { type: 'int', low: 0, high: 4, log: false, step: 1 }],
      [{ type: 'categorical', choices: ['a'] }, { type: 'categorical', choices: ['a'] }],
    ];
    for (const [json, want] of cases) expect(optunaDistribution(json)).toEqual(want);
  });

  it('moves a stepped high onto the grid with decimal arithmetic, as Optuna (and says so)', () => {
    expect(adjustDiscreteHigh(0, 1, 0.3)).toBe(0.9); // binary floats would give 0.8999999999999999
    expect(adjustDiscreteHigh(0.1, 1, 0.2)).toBe(0.9);
    expect(adjustDiscreteHigh(0, 1, 0.25)).toBe(1);
    expect(adjustDiscreteHigh(1e-7, 3e-7, 1e-7)).toBe(3e-7);
    const s = parseOptunaSearchSpace(JSON.stringify({ x: fd({ low: 0, high: 1, step: 0.3 }), n: fd({ low: 0, high: 10, step: 3 }, 'IntDistribution') }));
    expect(s.space['x']).toMatchObject({ high: 0.9, step: 0.3 });
    expect(s.space['n']).toMatchObject({ high: 9, step: 3 });
    expect(s.warnings).toHaveLength(2);
    expect(s.names).toEqual(['x', 'n']);
  });

  it('refuses what Optuna refuses, naming the param', () => {
    const bad: [unknown, RegExp][] = [
      [fd({ low: 1e-5, high: 1, log: true, step: 0.1 }), /`step` is not supported when `log` is true/],
      [fd({ low: 0, high: 1, log: true }), /larger than 0 for a log distribution/],
      [fd({ low: 2, high: 1 }), /smaller than or equal to the `high`/],
      [fd({ low: 0, high: 1, step: 0 }), /non-zero positive/],
      [fd({ low: 0, high: 8, log: true }, 'IntDistribution'), /greater than 1 for a log distribution/],
      [fd({ low: 1, high: 8, log: true, step: 2 }, 'IntDistribution'), /only accept step is 1/],
      [fd({ low: 0.5, high: 8 }, 'IntDistribution'), /must be an integer/],
      [fd({ choices: [] }, 'CategoricalDistribution'), /one or more elements/],
      [fd({ low: 0, high: 1, lgo: true }), /takes no attribute "lgo"/],
      [fd({ low: 0 }), /needs attribute "high"/],
      [fd({ low: 0, high: 1 }, 'NormalDistribution'), /Unknown distribution class: NormalDistribution/],
      [{ type: 'gauss' }, /Unknown distribution type/],
      [fd({ low: 0, high: 1, log: 'yes' }), /"log" must be true or false/],
    ];
    for (const [json, msg] of bad) expect(() => parseOptunaSearchSpace(JSON.stringify({ p: json }))).toThrow(new RegExp(`param "p": .*${msg.source}`));
    expect(() => parseOptunaSearchSpace('{"x": ')).toThrow(/not valid JSON/);
    expect(() => parseOptunaSearchSpace('[1]')).toThrow(/JSON object/);
    expect(() => parseOptunaSearchSpace('{"p": {"type": "gauss"}}')).toThrow(expect.objectContaining({ code: 'FT_SEARCH_SPACE', cause: expect.objectContaining({ message: expect.stringMatching(/Unknown distribution type/) }) }));
  });
});

describe('ask/tell flags', () => {
  it('parses as argparse does', () => {
    const a = parseAskArgs(['--storage=journal:s.journal', '--study-name', 's', '-ftable', '--directions', 'maximize', '--flatten', '--sampler', 'TPESampler', '--sampler-kwargs', '{"seed": 3}', '-q']);
    expect(a).toMatchObject({ storage: 'journal:s.journal', studyName: 's', format: 'table', directions: ['maximize'], flatten: true, sampler: 'TPESampler', samplerKwargs: '{"seed": 3}', quiet: true });
    expect(parseAskArgs([]).format).toBe('json');
    const t = parseTellArgs(['--trial-number', '3', '--values', '-1.5', '.5', 'nan', '--state', 'complete', '--skip-if-finished']);
    expect(t.trialNumber).toBe(3);
    expect(t.values!.slice(0, 2)).toEqual([-1.5, 0.5]);
    expect(t.values![2]).toBeNaN();
    expect(t).toMatchObject({ state: 'complete', skipIfFinished: true });
    expect(t.values).toHaveLength(3);
    expect(parseTellArgs(['--values=-inf']).values).toEqual([-Infinity]);
  });

  it('rejects what argparse rejects, naming the flag (usage errors)', () => {
    const cases: [() => unknown, RegExp][] = [
      // "-inf" is no negative number to argparse: an unknown option (give --values=-inf)
      [() => parseTellArgs(['--trial-number', '3', '--values', '-1.5', '.5', 'nan', '-inf']), /unrecognized argument -inf/],
      [() => parseAskArgs(['--format', 'xml']), /argument --format: invalid choice: 'xml'/],
      [() => parseAskArgs(['--direction', 'up']), /argument --direction: invalid choice/],
      [() => parseAskArgs(['--study-name']), /argument --study-name: expected one argument/],
      [() => parseTellArgs(['--state', 'pruned', '--values']), /argument --values: expected at least one argument/],
      [() => parseTellArgs(['--values', 'abc']), /argument --values: invalid float value: 'abc'/],
      [() => parseTellArgs(['--trial-number', '1.5']), /argument --trial-number: invalid int value/],
      [() => parseTellArgs(['--state', 'running']), /argument --state: invalid choice/],
      [() => parseAskArgs(['--storage-url', 'x']), /unrecognized argument --storage-url/],
      [() => parseAskArgs(['--flatten=1']), /ignored explicit argument/],
    ];
    for (const [f, msg] of cases) {
      expect(f).toThrow(UsageError);
      expect(f).toThrow(msg);
    }
  });

  it('finds the action after flags and their values', () => {
    expect(studyActionIndex(['--storage', 'tell', 'ask', '--study-name', 's'])).toBe(2);
    expect(studyActionIndex(['--json'])).toBe(-1);
  });

  it('--sampler and --sampler-kwargs: Optuna names mapped onto ours, the unknown refused', () => {
    const tpe = chooseSampler('TPESampler', '{"n_startup_trials": 3, "seed": 7, "multivariate": true, "constant_liar": true, "warn_independent_sampling": false}');
    expect(tpe.plugin.name).toBe('tpe');
    expect(tpe.seed).toBe(7);
    expect(tpe.params).toMatchObject({ nStartupTrials: 3, multivariate: true, constantLiar: true, nEiCandidates: 24 });
    expect(chooseSampler('tpe', '{"nEiCandidates": 5}').params).toMatchObject({ nEiCandidates: 5 });
    expect(chooseSampler(undefined, undefined)).toMatchObject({ seed: 0, params: { nStartupTrials: 10 } });
    expect(chooseSampler('RandomSampler', '{"seed": null}')).toMatchObject({ seed: 0 });
    expect(chooseSampler('GridSampler', '{"search_space": {"x": [1, 2]}}').params).toEqual({ searchSpace: { x: [1, 2] } });
    const bad: [string | undefined, string | undefined, RegExp][] = [
      ['TPESampler', '{"n_start_trials": 3}', /--sampler-kwargs: unknown keyword "n_start_trials" for sampler tpe \(accepted: seed, consider_prior/],
      ['TPESampler', '{"gamma": 1}', /--sampler-kwargs: "gamma" takes a Python callable/],
      ['RandomSampler', '{"multivariate": true}', /--sampler-kwargs: unknown keyword "multivariate" for sampler random/],
      ['TPESampler', '{"n_startup_trials": -1}', /--sampler-kwargs: .*nStartupTrials: must be >= 0/],
      ['TPESampler', '{"seed": 1.5}', /--sampler-kwargs: "seed" must be an integer/],
      ['TPESampler', '{"n_startup_trials": 3, "nStartupTrials": 4}', /name the same param/],
      ['CmaEsSampler', undefined, /--sampler: unknown sampler "CmaEsSampler" \(one of tpe, random, grid, TPESampler/],
      [undefined, '{"seed": 1}', /--sampler-kwargs: is set without --sampler/],
      ['tpe', '{seed: 1}', /--sampler-kwargs: not valid JSON/],
      ['GridSampler', '{}', /--sampler-kwargs: .*searchSpace/],
    ];
    for (const [name, kwargs, msg] of bad) expect(() => chooseSampler(name, kwargs)).toThrow(msg);
    expect(() => chooseSampler('tpe', '{seed: 1}')).toThrow(expect.objectContaining({ code: 'FT_USAGE', cause: expect.any(SyntaxError) }));
  });

  it('tell: the state and values rules of Study.tell', () => {
    expect(tellOutcome({ values: [0.5] })).toEqual({ state: 'COMPLETE', value: 0.5 });
    expect(tellOutcome({ values: [0.5], state: 'complete' })).toEqual({ state: 'COMPLETE', value: 0.5 });
    expect(tellOutcome({ state: 'pruned' })).toEqual({ state: 'PRUNED' });
    expect(tellOutcome({ state: 'fail' })).toEqual({ state: 'FAIL' });
    expect(tellOutcome({ values: [NaN] })).toEqual({ state: 'FAIL' });
    expect(tellOutcome({})).toEqual({ state: 'FAIL' });
    expect(tellOutcome({ values: [1, 2] })).toEqual({ state: 'FAIL' });
    expect(() => tellOutcome({ state: 'complete' })).toThrow(/--values: no values were told/);
    expect(() => tellOutcome({ state: 'complete', values: [NaN] })).toThrow(/--values: The value nan is not acceptable/);
    expect(() => tellOutcome({ state: 'pruned', values: [1] })).toThrow(/--values: values cannot be given when --state is pruned/);
    expect(() => tellOutcome({ state: 'fail', values: [1] })).toThrow(/--state is fail/);
    expect(() => tellOutcome({ state: 'fail', values: [1] })).toThrow(expect.objectContaining({ code: 'FT_USAGE' }));
  });

  it('prints what Optuna prints (json, table, flatten)', () => {
    const cells = [
      ['x', paramCell(1, { type: 'float', low: 0, high: 2, log: false })],
      ['n', paramCell(3, { type: 'int', low: 0, high: 4, log: false, step: 1 })],
      ['c', paramCell("it's", { type: 'categorical', choices: ["it's"] })],
      ['b', paramCell(true, { type: 'categorical', choices: [true] })],
      ['z', paramCell(null, { type: 'categorical', choices: [null] })],
    ] as const;
    expect(formatAsk(4, cells, 'json', false)).toBe('{"number": 4, "params": {"x": 1.0, "n": 3, "c": "it\'s", "b": true, "z": null}}');
    expect(formatAsk(4, cells, 'json', true)).toBe('{"number": 4, "params_x": 1.0, "params_n": 3, "params_c": "it\'s", "params_b": true, "params_z": null}');
    expect(formatAsk(0, [], 'json', false)).toBe('{"number": 0, "params": {}}');
    expect(formatAsk(0, [], 'json', true)).toBe('{"number": 0}');
    expect(formatAsk(4, cells.slice(0, 2), 'table', false)).toBe(
      ['+--------+--------------------+', '| number | params             |', '+--------+--------------------+', "|      4 | {'x': 1.0, 'n': 3} |", '+--------+--------------------+'].join('\n'),
    );
    // Optuna 3.1's _format_output, flattened: numbers right-aligned under right-aligned headers.
    expect(formatAsk(4, cells.slice(0, 2), 'table', true)).toBe(
      ['+--------+----------+----------+', '| number | params_x | params_n |', '+--------+----------+----------+', '|      4 |      1.0 |        3 |', '+--------+----------+----------+'].join('\n'),
    );
    expect(formatAsk(4, cells.slice(0, 2), 'yaml', false)).toBe('number: 4\nparams:\n  n: 3\n  x: 1.0');
  });
});

describe('fairtune study ask|tell', () => {
  const space = JSON.stringify({
    x: fd({ low: 0, high: 1, log: false, step: null }),
    lr: fd({ low: 1e-5, high: 1e-3, log: true, step: null }),
    n: fd({ low: 1, high: 9, log: false, step: 2 }, 'IntDistribution'),
    opt: fd({ choices: ['adam', 'sgd'] }, 'CategoricalDistribution'),
  });

  it('asks and tells on a journal file: numbers, params in their distributions, states as told', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ask-tell-'));
    const storage = 'journal:s.journal';
    const asks = [];
    for (let i = 0; i < 3; i++) {
      const r = await study(['ask', '--storage', storage, '--study-name', 's', '--direction', 'maximize', '--sampler', 'RandomSampler', '--sampler-kwargs', '{"seed": 5}', '--search-space', space], cwd);
      expect(r.err).toMatch(/Asked trial/);
      expect(r.code).toBe(0);
      asks.push(JSON.parse(r.out) as { number: number; params: Record<string, number | string> });
    }
    expect(asks.map((a) => a.number)).toEqual([0, 1, 2]);
    for (const { params } of asks) {
      expect(Object.keys(params)).toEqual(['x', 'lr', 'n', 'opt']);
      expect(params['x']).toBeGreaterThanOrEqual(0);
      expect(params['lr']).toBeGreaterThanOrEqual(1e-5);
      expect([1, 3, 5, 7, 9]).toContain(params['n']);
      expect(['adam', 'sgd']).toContain(params['opt']);
    }
    expect(asks[0]!.params).not.toEqual(asks[1]!.params);
    expect((await study(['tell', '--storage', storage, '--study-name', 's', '--trial-number', '0', '--values', '0.75'], cwd)).code).toBe(0);
    expect((await study(['tell', '--storage', storage, '--study-name', 's', '--trial-number', '1', '--state', 'pruned'], cwd)).code).toBe(0);
    const nan = await study(['tell', '--storage', storage, '--study-name', 's', '--trial-number', '2', '--values', 'nan'], cwd);
    expect(nan.err).toMatch(/warning: The value nan is not acceptable/);

    const again = await study(['tell', '--storage', storage, '--study-name', 's', '--trial-number', '0', '--values', '0.1'], cwd);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/--trial-number: cannot tell a COMPLETE trial/);
    expect((await study(['tell', '--storage', storage, '--study-name', 's', '--trial-number', '0', '--values', '0.1', '--skip-if-finished'], cwd)).code).toBe(0);
    const missing = await study(['tell', '--storage', storage, '--trial-number', '7', '--values', '1'], cwd);
    expect(missing.err).toMatch(/cannot tell for trial with number 7 since it has not been created/);

    const s = JournalStorage.file(join(cwd, 's.journal')).loadStudy('s');
    expect(s.direction).toBe('maximize');
    expect(s.trials.map((t) => [t.state, t.value])).toEqual([['COMPLETE', 0.75], ['PRUNED', undefined], ['FAIL', undefined]]);
    expect(s.trials[0]!.distributions).toEqual({ x: { type: 'float', low: 0, high: 1, log: false }, lr: { type: 'float', low: 1e-5, high: 1e-3, log: true }, n: { type: 'int', low: 1, high: 9, log: false, step: 2 }, opt: { type: 'categorical', choices: ['adam', 'sgd'] } });
    expect(s.trials[1]!.params).toEqual(asks[1]!.params);

    // The same seed on a fresh study proposes the same params for the same trial number.
    const other = await study(['ask', '--storage', 'journal:t.journal', '--study-name', 't', '--sampler', 'random', '--sampler-kwargs', '{"seed": 5}', '--search-space', space, '-q'], cwd);
    expect(JSON.parse(other.out).params).toEqual(asks[0]!.params);
    expect(other.err).toBe('');
  });

  it('reports errors naming the flag, and creates no trial for a bad ask', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ask-tell-'));
    const storage = 'journal:.fairtune/studies';
    const ok = await study(['ask', '--storage', storage, '--study-name', 'p/search', '--search-space', space], cwd);
    expect(ok.code).toBe(0);
    const cases: [string[], number, RegExp][] = [
      [['ask', '--storage', storage, '--study-name', 'p/search', '--direction', 'maximize'], 1, /--direction: cannot overwrite study direction from minimize to maximize/],
      [['ask', '--storage', storage, '--study-name', 'p/search', '--search-space', JSON.stringify({ x: fd({ low: 0.1, high: 1, log: true }) })], 1, /--search-space: param "x": Cannot set different log configuration/],
      [['ask', '--storage', storage, '--study-name', 'p/search', '--search-space', '{"x": {"name": "FloatDistribution", "attributes": {"low": 1, "high": 0}}}'], 1, /--search-space: param "x": The `low` value must be smaller/],
      [['ask', '--storage', storage, '--study-name', 'p/search', '--directions', 'minimize', 'maximize'], 1, /--directions: FairTune studies have one objective/],
      [['ask', '--storage', storage, '--study-name', 'p/search', '--sampler-kwargs', '{}'], 1, /--sampler-kwargs: is set without --sampler/],
      [['ask', '--storage', 'sqlite:///x.db'], 2, /--storage: storage "sqlite:\/\/\/x.db"/],
      [['tell', '--storage', storage, '--study-name', 'p/search'], 2, /--trial-number: name the trial/],
      [['tell', '--storage', storage, '--study-name', 'nope', '--trial-number', '0'], 1, /--study-name: no study "nope"/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await study(args, cwd);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.err).toMatch(msg);
    }
    // Only the first ask made a trial; a second study makes --study-name necessary.
    const s = JournalStorage.file(join(cwd, '.fairtune/studies/p--search.journal')).loadStudy('p/search');
    expect(s.trials).toHaveLength(1);
    expect(JSON.parse((await study(['ask', '--storage', storage], cwd)).out).number).toBe(1); // the only study: found without --study-name
    await study(['ask', '--storage', storage, '--study-name', 'q'], cwd);
    const ambiguous = await study(['ask', '--storage', storage], cwd);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toMatch(/--study-name: could not determine the study name .* \(it has 2\)/);
    // OPTUNA_STORAGE stands in for --storage, as in Optuna's CLI.
    const env = await study(['tell', '--study-name', 'q', '--trial-number', '0', '--state', 'fail'], cwd, { OPTUNA_STORAGE: storage });
    expect(env.code).toBe(0);
  });

  it("takes trials enqueued with Optuna's enqueue_trial first, keeping their values, each by one worker only", async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ask-tell-'));
    // What Optuna 3.1 writes for create_study then enqueue_trial({x: 0.25, opt: 'sgd'}), enqueue_trial({x: 0.5}), enqueue_trial({n: 4}).
    const py = (fixed: object) => JSON.stringify({ op_code: 4, worker_id: 'py-1', study_id: 0, datetime_start: null, state: 4, value: null, values: null, distributions: {}, params: {}, user_attrs: {}, system_attrs: { fixed_params: fixed }, intermediate_values: {} });
    writeFileSync(join(cwd, 'q.journal'), [JSON.stringify({ op_code: 0, worker_id: 'py-1', study_name: 'q', directions: [2] }), py({ x: 0.25, opt: 'sgd' }), py({ x: 0.5 }), py({ n: 4 })].join('\n') + '\n');
    const ask = () => study(['ask', '--storage', 'journal:q.journal', '--study-name', 'q', '--sampler', 'random', '--sampler-kwargs', '{"seed": 5}', '--search-space', space], cwd);
    const first = await ask();
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ number: 0, params: { x: 0.25, opt: 'sgd' } });
    const second = await ask();
    expect(JSON.parse(second.out)).toMatchObject({ number: 1, params: { x: 0.5 } });
    // n = 4 is not on the grid 1, 3, …, 9: the trial fails with the reason, as a sampler failure does.
    const third = await ask();
    expect(third.code).toBe(1);
    expect(third.err).toMatch(/trial 2 was enqueued with n = 4, which is not in its distribution int \[1, 9\] step 2 \(trial 2 marked FAIL\)/);
    const fourth = await ask();
    expect(JSON.parse(fourth.out).number).toBe(3);
    const s = JournalStorage.file(join(cwd, 'q.journal')).loadStudy('q');
    expect(s.trials.map((t) => t.state)).toEqual(['RUNNING', 'RUNNING', 'FAIL', 'RUNNING']);
    expect(s.trials[0]!.params['opt']).toBe('sgd');
    expect(s.trials[0]!.datetimeStart).toBeDefined();

    // Two writers that both saw trial 0 WAITING and both wrote RUNNING: the first record wins
    // (Optuna's replay ignores the second), so only its writer owns the trial; the other tries the next.
    const running = (worker: string) => ({ op_code: 6, worker_id: worker, trial_id: 0, state: 0, values: null, datetime_start: '2026-12-05T10:00:00.000000' });
    const logs = [{ op_code: 0, worker_id: 'py-1', study_name: 'r', directions: [2] }, JSON.parse(py({ x: 0.75 })), running('A'), running('B')];
    const [replayA, replayB] = [new JournalReplay('A'), new JournalReplay('B')];
    replayA.apply(logs);
    replayB.apply(logs);
    expect([replayA.ownedTrialId, replayB.ownedTrialId]).toEqual([0, -1]);
    expect(replayB.trials[0]!.state).toBe('RUNNING');
  });

  it('a grid sampler that cannot serve the space fails the trial it made, with the reason', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ask-tell-'));
    const r = await study(['ask', '--storage', 'journal:g.journal', '--study-name', 'g', '--sampler', 'GridSampler', '--sampler-kwargs', '{"search_space": {"y": [1, 2]}}', '--search-space', space], cwd);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/sampler grid: .*\(trial 0 marked FAIL\)/);
    const t = JournalStorage.file(join(cwd, 'g.journal')).loadStudy('g').trials[0]!;
    expect(t.state).toBe('FAIL');
    expect(String(t.userAttrs['fail_reason'])).toMatch(/fairtune study ask: /);
  });
});
