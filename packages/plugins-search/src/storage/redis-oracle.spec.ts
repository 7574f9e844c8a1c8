/**
 * Opt-in oracle (FAIRTUNE_PYTHON_ORACLE=1; `npm run oracle:redis -w packages/plugins-search`):
 * Python Optuna 3.1 (`/usr/bin/python3`, or FAIRTUNE_PYTHON, with python3-optuna and python3-redis)
 * on a study this project wrote to Redis. Optuna's `JournalRedisStorage(url, prefix)` adds trials
 * to it, and `optuna.load_study` must give the params (with their Python types), values,
 * intermediate values, states and attrs that we read, for our trials and Python's.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Distribution } from '@fairtune/core';
import { JournalStorage } from './journal.js';
import { PyFloat, pyJsonLoads } from './python-json.js';
import { repoRoot, startRedis, type RedisServer } from './test-utils/processes.js';

const PYTHON = process.env['FAIRTUNE_PYTHON'] ?? '/usr/bin/python3';
const script = join(repoRoot, 'packages/plugins-search/scripts/oracle_redis.py');
const opted = process.env['FAIRTUNE_PYTHON_ORACLE'] === '1';
const itOracle = opted ? it : it.skip;
let server: RedisServer | undefined;

beforeAll(async () => {
  if (!opted) return;
  // Asked for: a missing dependency is a failure, not a skip.
  const probe = spawnSync(PYTHON, ['-c', 'import optuna, redis; print(optuna.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`FAIRTUNE_PYTHON_ORACLE=1 but ${PYTHON} cannot import optuna and redis (apt-get install -y python3-optuna python3-redis): ${probe.stderr.trim().split('\n').at(-1)}`);
  server = await startRedis();
}, 20_000);
afterAll(async () => server?.stop());

function python(...args: string[]): unknown {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${PYTHON} oracle_redis.py ${args[0]} failed (${r.status}):\n${r.stderr}`);
  return pyJsonLoads(r.stdout.trim().split('\n').at(-1)!);
}

const space: Record<string, Distribution> = {
  x: { type: 'float', low: -1, high: 1, log: false },
  lr: { type: 'float', low: 1e-5, high: 1e-3, log: true },
  n: { type: 'int', low: 1, high: 8, log: false, step: 1 },
  c: { type: 'categorical', choices: ['a', null, 1.5, true] },
};
const pyType = (v: unknown, d: Distribution) => (d.type === 'float' ? 'float' : d.type === 'int' ? 'int' : v === null ? 'NoneType' : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int' : 'float');

describe('Optuna 3.1 on a Redis study written here', () => {
  itOracle('adds trials to it, and load_study reads every trial as we do', () => {
    const url = `${server!.url}/3`;
    const prefix = 'oracle';
    const ours = JournalStorage.redis(url, { prefix });
    const study = ours.openStudy('oracle/search', 'maximize');
    const write = (params: Record<string, number | string | boolean | null>, reports: number[], end?: ['COMPLETE' | 'PRUNED' | 'FAIL', number?]) => {
      const n = study.createTrial({ 'fairtune:heartbeat': new PyFloat(1733353200.25) });
      study.setParams(n, params, space);
      reports.forEach((v, step) => study.report(n, step, v));
      study.setUserAttr(n, 'fairtune_bindings', { offset: 1.5, mask: '0101' });
      if (end) study.finish(n, end[0], end[1]);
    };
    write({ x: 0.25, lr: 1e-4, n: 3, c: null }, [Number.NaN, Infinity, 0.5], ['COMPLETE', 0.5]);
    write({ x: -0.5, lr: 3e-5, n: 8, c: 'a' }, [0.1], ['PRUNED']);
    write({ x: 1, lr: 1e-3, n: 1, c: true }, [], ['FAIL']);
    write({ x: 0, lr: 1e-5, n: 2, c: 1.5 }, [-Infinity]);
    write({ x: -1, lr: 5e-4, n: 5, c: 'a' }, [2], ['COMPLETE', -Infinity]);
    ours.close();

    expect(python('add', url, prefix, 'oracle/search', '4')).toEqual([5, 6, 7, 8]);
    const py = python('dump', url, prefix, 'oracle/search') as { direction: string; trials: { number: number; state: string; params: Record<string, unknown>; types: Record<string, string>; values: number[] | null; intermediate_values: [number, number][]; user_attrs: object; system_attrs: object }[] };

    const back = JournalStorage.redis(url, { prefix });
    const trials = back.loadStudy('oracle/search', 'maximize').trials;
    back.close();
    expect(py.direction).toBe('MAXIMIZE');
    expect(trials.map((t) => t.state)).toEqual(['COMPLETE', 'PRUNED', 'FAIL', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'COMPLETE', 'COMPLETE']);
    expect(py.trials.map((t) => ({ number: t.number, state: t.state, params: t.params, types: t.types, values: t.values, intermediate: t.intermediate_values, user: t.user_attrs, system: t.system_attrs }))).toEqual(
      trials.map((t) => ({
        number: t.number,
        state: t.state,
        params: t.params,
        types: Object.fromEntries(Object.entries(t.params).map(([k, v]) => [k, pyType(v, space[k]!)])),
        values: t.values,
        intermediate: [...t.intermediateValues].sort(([a], [b]) => a - b),
        user: t.userAttrs,
        system: t.systemAttrs,
      })),
    );
    // Our values as written, and Python's as Python told them.
    expect(trials.slice(0, 5).map((t) => t.value)).toEqual([0.5, 0.1, undefined, undefined, -Infinity]);
    expect(trials.slice(5).map((t) => t.userAttrs['writer'])).toEqual(['python', 'python', 'python', 'python']);
    console.log(`oracle:redis: ${py.trials.length} trials (5 ours, 4 Python's) identical on both sides: ${py.trials.length * 8} fields`);
  });
});
