/**
 * The journal on Redis (Optuna's JournalRedisStorage layout), on a loopback redis-server started
 * here: keys and records as Optuna writes them, atomic appends from several processes, Python's
 * records read back, connection errors that name the URL and do not hang.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { runCli } from '@fairtune/core';
import { JournalStorage } from './journal.js';
import { parseStorage } from './location.js';
import { freePort, redisIt, repoRoot, spawnTs, startRedis, type RedisServer } from './test-utils/processes.js';

const itRedis = redisIt('Redis journal');
const tmp = () => mkdtempSync(join(tmpdir(), 'redis-journal-'));
let server: RedisServer | undefined;
let db = 0;

beforeAll(async () => {
  if (itRedis === it) server = await startRedis();
}, 20_000);
afterAll(async () => server?.stop());

/** A fresh database of the server for each test (16 by default). */
function nextUrl(): string {
  return `${server!.url}/${++db}`;
}

async function keysOf(url: string): Promise<Record<string, string>> {
  const client = createClient({ url });
  await client.connect();
  try {
    const keys = await client.keys('*');
    const values = keys.length ? await client.mGet(keys) : [];
    return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
  } finally {
    await client.close();
  }
}

function writeStudy(storage: JournalStorage): void {
  const study = storage.openStudy('p/search', 'maximize');
  const n = study.createTrial({ 'fairtune:heartbeat': 1.5 });
  study.setParams(n, { lr: 1e-4, mask_00: 1 }, { lr: { type: 'float', low: 1e-5, high: 1e-3, log: true }, mask_00: { type: 'int', low: 0, high: 1, log: false, step: 1 } });
  study.report(n, 0, Number.NaN);
  study.report(n, 1, 0.75);
  study.finish(n, 'COMPLETE', 0.75);
  study.finish(study.createTrial(), 'FAIL');
}

describe('Redis journal', () => {
  itRedis('keeps Optuna\'s layout: <prefix>:log_number is the last record\'s number, <prefix>:log:<n> the same lines as a journal file', async () => {
    const url = nextUrl();
    const fixed = { workerId: 'w-1', now: () => new Date(2026, 11, 5, 1, 2, 3, 4) };
    const redis = JournalStorage.redis(url, { ...fixed, prefix: 'fairtune' });
    writeStudy(redis);
    redis.close();
    const path = join(tmp(), 'same.journal');
    writeStudy(JournalStorage.file(path, fixed));
    const lines = (await import('node:fs')).readFileSync(path, 'utf8').trimEnd().split('\n');

    const keys = await keysOf(url);
    expect(Object.keys(keys).sort()).toEqual(['fairtune:log_number', ...lines.map((_, i) => `fairtune:log:${i}`)].sort());
    expect(keys['fairtune:log_number']).toBe(String(lines.length - 1));
    lines.forEach((line, i) => expect(keys[`fairtune:log:${i}`]).toBe(line));
    expect(keys['fairtune:log:0']).toBe('{"op_code": 0, "worker_id": "w-1", "study_name": "p/search", "directions": [2]}');
    expect(keys['fairtune:log:4']).toBe('{"op_code": 7, "worker_id": "w-1", "trial_id": 0, "step": 0, "intermediate_value": NaN}');

    // Read back by a new writer: the same trials; another prefix is another journal.
    const back = JournalStorage.redis(url, { prefix: 'fairtune' });
    expect(back.loadStudy('p/search').view().trials.map((t) => [t.state, t.value, [...t.intermediateValues]])).toEqual([
      ['COMPLETE', 0.75, [[0, Number.NaN], [1, 0.75]]],
      ['FAIL', undefined, []],
    ]);
    back.close();
    const other = JournalStorage.redis(url, { prefix: 'other' });
    expect(other.studyNames()).toEqual([]);
    other.close();

    // fairtune study … --storage <redis url> --prefix …
    const ls = await runCli(['study', 'ls', '--storage', url, '--prefix', 'fairtune', '--json'], { cwd: tmp() });
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.out)).toEqual([expect.objectContaining({ name: 'p/search', trials: 2, complete: 1, failed: 1, best: 0.75 })]);
    const best = await runCli(['study', 'best', 'p/search', '--storage', url, '--prefix', 'fairtune', '--json'], { cwd: tmp() });
    expect(JSON.parse(best.out)).toMatchObject({ number: 0, value: 0.75, params: { lr: 1e-4, mask_00: 1 } });
    expect((await runCli(['study', 'ls', '--storage', url, '--json'], { cwd: tmp() })).out.trim()).toBe('[]');
  });

  itRedis('Optuna\'s default prefix is "" (keys ":log_number", ":log:0"); records Python wrote are read, NaN and Infinity tokens included', async () => {
    const url = nextUrl();
    const client = createClient({ url });
    await client.connect();
    // What Optuna 3.1's append_logs leaves for create_study + one trial with an infinite report.
    const W = '"worker_id": "py-1"';
    const python = [
      `{"op_code": 0, ${W}, "study_name": "s", "directions": [1]}`,
      `{"op_code": 4, ${W}, "study_id": 0, "datetime_start": "2026-12-04T22:55:03.638125"}`,
      `{"op_code": 7, ${W}, "trial_id": 0, "step": 0, "intermediate_value": Infinity}`,
      `{"op_code": 6, ${W}, "trial_id": 0, "state": 2, "values": [-Infinity], "datetime_complete": "2026-12-04T22:55:04.000001"}`,
    ];
    await client.set(':log_number', String(python.length - 1));
    for (const [i, line] of python.entries()) await client.set(`:log:${i}`, line);
    await client.close();
    const storage = JournalStorage.redis(url);
    const t = storage.loadStudy('s').trials[0]!;
    expect([t.state, t.value, t.intermediateValues.get(0)]).toEqual(['PRUNED', -Infinity, Infinity]);
    storage.loadStudy('s').finish(storage.loadStudy('s').createTrial(), 'FAIL');
    storage.close();
    expect((await keysOf(url))[':log_number']).toBe('5');
  });

  itRedis('three writer processes appending at once lose no record and agree on every trial number', async () => {
    const url = nextUrl();
    const go = join(tmp(), 'go');
    const writer = join(repoRoot, 'packages/plugins-search/src/storage/test-utils/journal-writer.ts');
    const children = ['a', 'b', 'c'].map((tag) => spawnTs(writer, [url, 'race', '25', tag, go]));
    await Promise.all(children.map((c) => c.ready));
    writeFileSync(go, '');
    const runs = await Promise.all(children.map((c) => c.done));
    for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: 'ready\n' });
    const claimed = runs.map((r) => JSON.parse(r.stdout) as number[]);
    const storage = JournalStorage.redis(url, { prefix: 'race' });
    const study = storage.loadStudy('race', 'minimize');
    expect(study.trials).toHaveLength(75);
    expect(claimed.flat().sort((x, y) => x - y)).toEqual([...Array(75).keys()]);
    for (const [w, tag] of ['a', 'b', 'c'].entries()) {
      for (const [i, n] of claimed[w]!.entries()) expect(study.trials[n]).toMatchObject({ state: 'COMPLETE', params: { writer: tag, i }, value: i / 4 });
    }
    storage.close();
    // Every record has its key, numbered without a gap: 75 trials × 6 records, plus 1 to 3 CREATE_STUDY records.
    const keys = await keysOf(url);
    const last = Number(keys['race:log_number']);
    expect(last + 1).toBeGreaterThanOrEqual(75 * 6 + 1);
    expect(last + 1).toBeLessThanOrEqual(75 * 6 + 3);
    expect(Object.keys(keys)).toHaveLength(last + 2);
  }, 60_000);

  it('a URL that is not redis://host[:port][/db] is refused, naming it', () => {
    expect(parseStorage('redis://127.0.0.1:6379/3')).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379/3' });
    expect(() => parseStorage('redis://127.0.0.1:6379/x')).toThrow(/redis:\/\/127\.0\.0\.1:6379\/x.*database number/);
    expect(() => parseStorage('redis:///0')).toThrow(/no host/);
    expect(() => parseStorage('sqlite:///x.db')).toThrow(/"sqlite:\/\/\/x\.db".*redis:\/\/host:port/);
    for (const bad of ['redis:///0', 'sqlite:///x.db']) expect(() => parseStorage(bad)).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'storage' } }));
  });

  it('no server on the port: an error naming the URL, at once', async () => {
    const port = await freePort();
    const started = Date.now();
    expect(() => JournalStorage.redis(`redis://127.0.0.1:${port}/0`)).toThrow(new RegExp(`Redis redis://127\\.0\\.0\\.1:${port}/0 .*connecting failed: .*ECONNREFUSED`));
    expect(() => JournalStorage.redis(`redis://127.0.0.1:${port}/0`)).toThrow(expect.objectContaining({ code: 'FT_STUDY_UNREACHABLE' }));
    expect(Date.now() - started).toBeLessThan(5000);
    const cli = await runCli(['study', 'ls', '--storage', `redis://127.0.0.1:${port}/0`], { cwd: tmp() });
    expect({ code: cli.code, err: cli.err }).toEqual({ code: 1, err: expect.stringMatching(new RegExp(`^error: Redis redis://127\\.0\\.0\\.1:${port}/0 .*ECONNREFUSED`)) });
  });

  it('a server that never answers: an error naming the URL after the timeout, not a hang', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      expect(() => JournalStorage.redis(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 300, commandTimeoutMs: 500 })).toThrow(new RegExp(`Redis redis://127\\.0\\.0\\.1:${port}: no answer within .* while connecting`));
      expect(() => JournalStorage.redis(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 300, commandTimeoutMs: 500 })).toThrow(expect.objectContaining({ code: 'FT_STUDY_UNREACHABLE' }));
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      silent.close();
    }
  });

  itRedis('a process that leaves its connection open still exits', async () => {
    const script = join(tmp(), 'open.ts');
    writeFileSync(script, `import { JournalStorage } from ${JSON.stringify(join(repoRoot, 'packages/plugins-search/src/storage/journal.ts'))};\nJournalStorage.redis(${JSON.stringify(nextUrl())}).openStudy('s', 'minimize');\nconsole.error('opened');\n`);
    const run = spawnTs(script, []);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), 15_000);
    const r = await run.done;
    clearTimeout(timer);
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: 'opened\n' });
  }, 20_000);
});
