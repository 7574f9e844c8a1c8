/**
 * Opt-in oracle (FAIRTUNE_PYTHON_ORACLE=1; `npm run oracle:asktell -w packages/plugins-search`):
 * Optuna 3.1's own `optuna ask` / `optuna tell` (its CLI code run unchanged by
 * scripts/optuna_cli_journal.py, which only lets 3.1's `get_storage` open a `journal:<file>`
 * string) and `fairtune study ask|tell`, interleaved on one journal file; `optuna.load_study`
 * must then see every trial as we do, and the two CLIs must print the same bytes for the same
 * trial, exit with the same codes and refuse the same tells.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@fairtune/core';
import { JournalStorage } from '../storage/journal.js';
import { pyJsonLoads } from '../storage/python-json.js';
import { repoRoot } from '../storage/test-utils/processes.js';

const PYTHON = process.env['FAIRTUNE_PYTHON'] ?? '/usr/bin/python3';
const wrapper = join(repoRoot, 'packages/plugins-search/scripts/optuna_cli_journal.py');
const opted = process.env['FAIRTUNE_PYTHON_ORACLE'] === '1';
const itOracle = opted ? it : it.skip;

beforeAll(() => {
  if (!opted) return;
  // Asked for: a missing dependency is a failure, not a skip.
  const probe = spawnSync(PYTHON, ['-c', 'import optuna; assert optuna.__version__.startswith("3."), optuna.__version__'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`FAIRTUNE_PYTHON_ORACLE=1 but ${PYTHON} has no Optuna 3.x (apt-get install -y python3-optuna): ${probe.stderr.trim().split('\n').at(-1)}`);
});

function optuna(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(PYTHON, ['-W', 'ignore', wrapper, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr };
}

const ours = async (...args: string[]) => {
  const r = await runCli(['study', ...args], { cwd: tmpdir() });
  return { code: r.code, out: r.out.trim(), err: r.err };
};

const fd = (name: string, attributes: object) => ({ name, attributes });

/** Every trial as `optuna.load_study` gives it: params with their Python type names, distributions as Optuna's JSON. */
function pythonTrials(journal: string, study: string): { number: number; state: string; values: number[] | null; params: Record<string, [unknown, string]>; distributions: Record<string, string> }[] {
  const code = `
import json, sys, warnings
warnings.simplefilter("ignore")
import optuna
from optuna.distributions import distribution_to_json
optuna.logging.set_verbosity(optuna.logging.ERROR)
s = optuna.load_study(study_name=sys.argv[2], storage=optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(sys.argv[1])))
print(json.dumps([{"number": t.number, "state": t.state.name, "values": t.values,
  "params": {k: [v, type(v).__name__] for k, v in t.params.items()},
  "distributions": {k: distribution_to_json(d) for k, d in t.distributions.items()}} for t in s.trials]))
`;
  const r = spawnSync(PYTHON, ['-c', code, journal, study], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`optuna.load_study failed:\n${r.stderr}`);
  return pyJsonLoads(r.stdout) as ReturnType<typeof pythonTrials>;
}

describe('fairtune study ask|tell against Optuna 3.1\'s CLI', () => {
  itOracle('interleaved on one journal file: load_study sees every trial as we do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ask-tell-oracle-'));
    const journal = join(dir, 'mix.journal');
    const storage = ['--storage', `journal:${journal}`, '--study-name', 'mix'];
    const space = JSON.stringify({
      x: fd('FloatDistribution', { low: -1, high: 1, log: false, step: null }),
      lr: fd('FloatDistribution', { low: 1e-5, high: 1e-3, log: true, step: null }),
      q: fd('FloatDistribution', { low: 0, high: 1, log: false, step: 0.25 }),
      n: fd('IntDistribution', { low: 1, high: 9, log: false, step: 2 }),
      k: fd('IntDistribution', { low: 1, high: 64, log: true, step: 1 }),
      opt: fd('CategoricalDistribution', { choices: ['adam', 'sgd', null] }),
    });
    const asked: { number: number; params: Record<string, unknown> }[] = [];
    const ask = async (who: 'ours' | 'optuna', ...extra: string[]) => {
      const args = ['ask', ...storage, '--search-space', space, ...extra];
      const r = who === 'ours' ? await ours(...args) : optuna(...args);
      expect({ who, code: r.code, err: r.code ? r.err : '' }).toEqual({ who, code: 0, err: '' });
      const j = JSON.parse(r.out) as { number: number; params: Record<string, unknown> };
      asked.push(j);
      return j;
    };
    const tell = async (who: 'ours' | 'optuna', ...args: string[]) => (who === 'ours' ? ours('tell', ...storage, ...args) : optuna('tell', ...storage, ...args));

    expect((await ask('ours', '--direction', 'minimize', '--sampler', 'TPESampler', '--sampler-kwargs', '{"n_startup_trials": 2, "seed": 3}')).number).toBe(0);
    expect((await ask('optuna', '--sampler', 'RandomSampler', '--sampler-kwargs', '{"seed": 1}')).number).toBe(1);
    expect((await tell('ours', '--trial-number', '0', '--values', '0.3')).code).toBe(0);
    expect((await tell('optuna', '--trial-number', '1', '--state', 'pruned')).code).toBe(0);
    expect((await ask('optuna', '--sampler', 'TPESampler', '--sampler-kwargs', '{"n_startup_trials": 2, "seed": 1}')).number).toBe(2);
    expect((await ask('ours', '--sampler', 'TPESampler', '--sampler-kwargs', '{"n_startup_trials": 2, "seed": 3}')).number).toBe(3); // TPE proper: 2 finished trials, one of them Python's
    expect((await tell('ours', '--trial-number', '2', '--values', 'nan')).code).toBe(0); // FAIL, with a warning, as Optuna
    expect((await tell('optuna', '--trial-number', '3', '--values', '0.1', '--state', 'complete')).code).toBe(0);
    await ask('ours', '--sampler', 'random', '--sampler-kwargs', '{"seed": 4}'); // left RUNNING
    // Refusals and skips agree.
    for (const args of [['--trial-number', '3', '--values', '1'], ['--trial-number', '2', '--values', '1', '--skip-if-finished'], ['--trial-number', '9', '--values', '1'], ['--trial-number', '4', '--state', 'fail', '--values', '1'], ['--trial-number', '4', '--state', 'complete']]) {
      const [a, b] = [await tell('ours', ...args), await tell('optuna', ...args)];
      expect({ args, ours: a.code }).toEqual({ args, ours: b.code });
    }

    const py = pythonTrials(journal, 'mix');
    expect(py.map((t) => [t.number, t.state, t.values])).toEqual([
      [0, 'COMPLETE', [0.3]],
      [1, 'PRUNED', null],
      [2, 'FAIL', null],
      [3, 'COMPLETE', [0.1]],
      [4, 'RUNNING', null],
    ]);
    const stored = JournalStorage.file(journal).loadStudy('mix').trials;
    for (const t of py) {
      // What each CLI printed is what Python loads, with Optuna's types: float, int, str/None.
      expect(Object.fromEntries(Object.entries(t.params).map(([k, [v]]) => [k, v]))).toEqual(asked[t.number]!.params);
      expect(Object.fromEntries(Object.entries(t.params).map(([k, [, type]]) => [k, type]))).toEqual({ x: 'float', lr: 'float', q: 'float', n: 'int', k: 'int', opt: asked[t.number]!.params['opt'] === null ? 'NoneType' : 'str' });
      expect(stored[t.number]!.params).toEqual(asked[t.number]!.params);
      expect(stored[t.number]!.state).toBe(t.state);
    }
    // Both wrote the same distributions (ours in our writer's spelling, read back by Python).
    expect(py[0]!.distributions).toEqual(py[1]!.distributions);
  }, 120_000);

  itOracle("trials enqueued with Python's enqueue_trial are taken first by either CLI, their values kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ask-tell-oracle-'));
    const journal = join(dir, 'q.journal');
    const enqueue = `
import sys, warnings
warnings.simplefilter("ignore")
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
s = optuna.create_study(study_name="q", direction="maximize", storage=optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(sys.argv[1])))
s.enqueue_trial({"x": 0.25, "opt": "sgd"})
s.enqueue_trial({"x": -0.5})
`;
    const r = spawnSync(PYTHON, ['-c', enqueue, journal], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const storage = ['--storage', `journal:${journal}`, '--study-name', 'q'];
    const space = JSON.stringify({ x: fd('FloatDistribution', { low: -1, high: 1, log: false, step: null }), opt: fd('CategoricalDistribution', { choices: ['adam', 'sgd'] }) });
    const a = await ours('ask', ...storage, '--search-space', space, '--sampler', 'random', '--sampler-kwargs', '{"seed": 2}');
    const b = optuna('ask', ...storage, '--search-space', space, '--sampler', 'RandomSampler', '--sampler-kwargs', '{"seed": 2}');
    const c = await ours('ask', ...storage, '--search-space', space, '--sampler', 'random', '--sampler-kwargs', '{"seed": 2}');
    expect([a.code, b.code, c.code]).toEqual([0, 0, 0]);
    const [ja, jb, jc] = [a, b, c].map((x) => JSON.parse(x.out) as { number: number; params: Record<string, unknown> });
    expect(ja).toMatchObject({ number: 0, params: { x: 0.25, opt: 'sgd' } });
    expect(jb).toMatchObject({ number: 1, params: { x: -0.5 } });
    expect(jc!.number).toBe(2);
    const py = pythonTrials(journal, 'q');
    expect(py.map((t) => [t.number, t.state, Object.fromEntries(Object.entries(t.params).map(([k, [v]]) => [k, v]))])).toEqual([
      [0, 'RUNNING', ja!.params],
      [1, 'RUNNING', jb!.params],
      [2, 'RUNNING', jc!.params],
    ]);
  }, 120_000);

  itOracle('prints the same bytes as optuna ask (json, table, yaml, flattened)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ask-tell-oracle-'));
    // Single-valued distributions: both samplers must return them, so the output can be compared whole.
    const space = JSON.stringify({
      x: fd('FloatDistribution', { low: 0.25, high: 0.25, log: false, step: null }),
      w: fd('FloatDistribution', { low: 2, high: 2, log: true, step: null }),
      n: fd('IntDistribution', { low: 3, high: 3, log: false, step: 1 }),
      c: fd('CategoricalDistribution', { choices: ['adam'] }),
      t: fd('CategoricalDistribution', { choices: ["it's"] }),
      b: fd('CategoricalDistribution', { choices: [true] }),
      z: fd('CategoricalDistribution', { choices: [null] }),
      y: fd('CategoricalDistribution', { choices: ['yes'] }),
      kv: fd('CategoricalDistribution', { choices: ['a: b'] }),
      tiny: fd('FloatDistribution', { low: 1e-5, high: 1e-5, log: false, step: null }),
    });
    let i = 0;
    for (const format of [['-f', 'json'], ['-f', 'table'], ['-f', 'yaml'], ['--flatten'], ['-f', 'table', '--flatten'], ['-f', 'yaml', '--flatten']]) {
      const run = async (who: string) => {
        const args = ['ask', '--storage', `journal:${join(dir, `${who}-${i}.journal`)}`, '--study-name', 'fmt', '--search-space', space, ...format];
        return who === 'ours' ? ours(...args) : optuna(...args);
      };
      const [a, b] = [await run('ours'), await run('optuna')];
      expect({ format, out: a.out }).toEqual({ format, out: b.out });
      i++;
    }
    // An empty search space.
    const empty = async (who: string) => (who === 'ours' ? ours : (...a: string[]) => Promise.resolve(optuna(...a)))('ask', '--storage', `journal:${join(dir, `${who}-empty.journal`)}`, '--study-name', 'e');
    expect((await empty('ours')).out).toBe((await empty('optuna')).out);
  }, 120_000);
});
