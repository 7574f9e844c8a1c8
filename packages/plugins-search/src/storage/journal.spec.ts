/**
 * Studies in Optuna's journal format: round trip, Optuna's replay rules, files written by Python
 * Optuna 3.1, several writers at once (instances and processes), a writer killed mid-line.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Distribution } from '@fairtune/core';
import { SuccessiveHalvingPruner } from '../pruners/successive-halving.js';
import { JournalFileBackend, JournalFileOpenLock, JournalFormatError } from './file-backend.js';
import { JournalOperationError, pythonDatetime } from './journal-format.js';
import { JournalStorage, openJournalStudy } from './journal.js';

const repoRoot = resolve(process.cwd(), '../..');
const tmp = () => mkdtempSync(join(tmpdir(), 'journal-'));
const quiet = { onWarning: () => undefined };

const space: Record<string, Distribution> = {
  x: { type: 'float', low: -1, high: 1, log: false },
  lr: { type: 'float', low: 1e-5, high: 1e-3, log: true },
  q: { type: 'float', low: 0, high: 1, log: false, step: 0.25 },
  n: { type: 'int', low: 1, high: 8, log: false, step: 1 },
  c: { type: 'categorical', choices: ['a', null, 1.5, true] },
};

/** Optuna 3.1's own output for a small study (trial 1 FAIL with a NaN objective, a NaN user attr, SH rungs), lines as it wrote them. */
const W = '"worker_id": "0219d585-7707-429e-9648-945b94664e67-140434264380096"';
const PYTHON_JOURNAL = [
  `{"op_code": 0, ${W}, "study_name": "s", "directions": [2]}`,
  `{"op_code": 4, ${W}, "study_id": 0, "datetime_start": "2026-12-04T22:55:03.638125"}`,
  `{"op_code": 5, ${W}, "trial_id": 0, "param_name": "x", "param_value_internal": -0.4133150442087159, "distribution": "{\\"name\\": \\"FloatDistribution\\", \\"attributes\\": {\\"step\\": null, \\"low\\": -1.0, \\"high\\": 1.0, \\"log\\": false}}"}`,
  `{"op_code": 5, ${W}, "trial_id": 0, "param_name": "lr", "param_value_internal": 4.478893528044394e-05, "distribution": "{\\"name\\": \\"FloatDistribution\\", \\"attributes\\": {\\"step\\": null, \\"low\\": 1e-05, \\"high\\": 0.001, \\"log\\": true}}"}`,
  `{"op_code": 5, ${W}, "trial_id": 0, "param_name": "q", "param_value_internal": 1.0, "distribution": "{\\"name\\": \\"FloatDistribution\\", \\"attributes\\": {\\"step\\": 0.25, \\"low\\": 0.0, \\"high\\": 1.0, \\"log\\": false}}"}`,
  `{"op_code": 5, ${W}, "trial_id": 0, "param_name": "n", "param_value_internal": 8.0, "distribution": "{\\"name\\": \\"IntDistribution\\", \\"attributes\\": {\\"log\\": false, \\"step\\": 1, \\"low\\": 1, \\"high\\": 8}}"}`,
  `{"op_code": 5, ${W}, "trial_id": 0, "param_name": "c", "param_value_internal": 0, "distribution": "{\\"name\\": \\"CategoricalDistribution\\", \\"attributes\\": {\\"choices\\": [\\"a\\", null, 1.5, true]}}"}`,
  `{"op_code": 8, ${W}, "trial_id": 0, "user_attr": {"u": NaN}}`,
  `{"op_code": 7, ${W}, "trial_id": 0, "step": 0, "intermediate_value": 0.0}`,
  `{"op_code": 7, ${W}, "trial_id": 0, "step": 1, "intermediate_value": 1.0}`,
  `{"op_code": 7, ${W}, "trial_id": 0, "step": 2, "intermediate_value": Infinity}`,
  `{"op_code": 6, ${W}, "trial_id": 0, "state": 1, "values": [1.0], "datetime_complete": "2026-12-04T22:55:03.647502"}`,
  `{"op_code": 4, ${W}, "study_id": 0, "datetime_start": "2026-12-04T22:55:03.648671"}`,
  `{"op_code": 5, ${W}, "trial_id": 1, "param_name": "c", "param_value_internal": 2, "distribution": "{\\"name\\": \\"CategoricalDistribution\\", \\"attributes\\": {\\"choices\\": [\\"a\\", null, 1.5, true]}}"}`,
  `{"op_code": 7, ${W}, "trial_id": 1, "step": 1, "intermediate_value": 1.0}`,
  `{"op_code": 9, ${W}, "trial_id": 1, "system_attr": {"completed_rung_0": 1.0}}`,
  `{"op_code": 6, ${W}, "trial_id": 1, "state": 3, "values": null, "datetime_complete": "2026-12-04T22:55:03.666352"}`,
  `{"op_code": 2, ${W}, "study_id": 0, "user_attr": {"k": [1, 2]}}`,
].join('\n') + '\n';

/** Starts a TypeScript script; `ready` resolves when it writes its first line to stderr, `done` when it exits. */
function spawnTs(script: string, args: readonly string[]): { ready: Promise<void>; done: Promise<{ code: number; stdout: string; stderr: string }> } {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, ['--conditions=@fairtune/source', '--import', '@swc-node/register/esm-register', script, ...args], { cwd: repoRoot, env });
  let stdout = '';
  let stderr = '';
  let signalReady = () => {};
  const ready = new Promise<void>((r) => (signalReady = r));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('\n')) signalReady();
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolveDone, fail) => {
    child.on('error', fail);
    child.on('close', (code) => resolveDone({ code: code ?? -1, stdout, stderr: stderr.replace(/^ready\n/, '') }));
  });
  return { ready, done };
}

describe('journal storage', () => {
  it('round trip: what one writer records, a fresh reader gets back, written as Optuna writes it', () => {
    const path = join(tmp(), 'studies', 'rt.journal');
    const study = openJournalStudy(path, 'rt', 'maximize', { ...quiet, now: () => new Date(2026, 11, 4, 9, 8, 7, 65) });
    const complete = study.createTrial();
    study.setParams(complete, { x: 0.25, lr: 1e-4, q: 0.5, n: 3, c: null }, space);
    study.report(complete, 0, 0.5);
    study.report(complete, 1, NaN);
    study.report(complete, 2, Infinity);
    expect(study.report(complete, 2, 7)).toBe(false); // a step already reported is ignored, as Trial.report does
    study.setUserAttr(complete, 'note', { list: [1, 'é'], nan: NaN });
    study.finish(complete, 'COMPLETE', 0.875);
    const pruned = study.createTrial();
    study.setParams(pruned, { x: -1, c: 1.5 }, space);
    study.report(pruned, 0, 0.25);
    study.report(pruned, 3, -Infinity);
    study.setSystemAttr(pruned, 'completed_rung_0', 1);
    study.finish(pruned, 'PRUNED');
    const failed = study.createTrial();
    study.setParams(failed, { c: true }, space);
    study.finish(failed, 'FAIL');
    const running = study.createTrial();
    study.setParams(running, { n: 8, c: 'a' }, space);
    study.report(running, 5, 0.125);
    study.setStudyUserAttr('objective', 'min_auc');
    study.setStudySystemAttr('fairtune', { version: 1 });
    expect([complete, pruned, failed, running]).toEqual([0, 1, 2, 3]);

    const back = JournalStorage.file(path, quiet).loadStudy('rt', 'maximize');
    expect(back.trials).toEqual(study.trials);
    const [t0, t1, t2, t3] = back.trials;
    expect(t0).toMatchObject({ number: 0, trialId: 0, state: 'COMPLETE', value: 0.875, values: [0.875], params: { x: 0.25, lr: 1e-4, q: 0.5, n: 3, c: null }, userAttrs: { note: { list: [1, 'é'], nan: NaN } } });
    expect([...t0!.intermediateValues]).toEqual([[0, 0.5], [1, NaN], [2, Infinity]]);
    expect(t0!.distributions).toEqual({ x: space['x'], lr: space['lr'], q: space['q'], n: space['n'], c: space['c'] });
    expect(t0!.datetimeStart).toBe('2026-12-04T09:08:07.065000');
    expect(t1).toMatchObject({ state: 'PRUNED', value: -Infinity, params: { x: -1, c: 1.5 }, systemAttrs: { completed_rung_0: 1 } }); // pruned: its last intermediate value
    expect(t2).toMatchObject({ state: 'FAIL', values: null, params: { c: true } });
    expect(t2!.value).toBeUndefined();
    expect(t3).toMatchObject({ state: 'RUNNING', params: { n: 8, c: 'a' }, values: null });
    expect(t3!.datetimeComplete).toBeUndefined();
    expect(back.userAttrs).toEqual({ objective: 'min_auc' });
    expect(back.systemAttrs).toEqual({ fairtune: { version: 1 } });

    const text = readFileSync(path, 'utf8');
    expect(text).toContain('"param_name": "n", "param_value_internal": 3.0, "distribution": "{\\"name\\": \\"IntDistribution\\", \\"attributes\\": {\\"log\\": false, \\"step\\": 1, \\"low\\": 1, \\"high\\": 8}}"');
    expect(text).toContain('"param_name": "c", "param_value_internal": 1, "distribution": "{\\"name\\": \\"CategoricalDistribution\\", \\"attributes\\": {\\"choices\\": [\\"a\\", null, 1.5, true]}}"');
    expect(text).toContain('"distribution": "{\\"name\\": \\"FloatDistribution\\", \\"attributes\\": {\\"step\\": null, \\"low\\": 1e-05, \\"high\\": 0.001, \\"log\\": true}}"');
    expect(text).toContain('"step": 1, "intermediate_value": NaN}');
    expect(text).toContain('"step": 3, "intermediate_value": -Infinity}');
    expect(text).toContain('"system_attr": {"completed_rung_0": 1.0}}');
    expect(text).toContain('"state": 2, "values": [-Infinity], "datetime_complete": "2026-12-04T09:08:07.065000"}');
    expect(text).toContain('"user_attr": {"note": {"list": [1, "\\u00e9"], "nan": NaN}}');
    expect(text.split('\n').every((l) => l === '' || /^\{"op_code": \d, "worker_id": "[0-9a-f-]+-\d+", /.test(l))).toBe(true);
  });

  it("reads a journal Python Optuna 3.1 wrote: ids, params in their external form, NaN attrs, a FAIL's missing value, rungs", () => {
    const path = join(tmp(), 'py.journal');
    writeFileSync(path, PYTHON_JOURNAL);
    const study = JournalStorage.file(path, quiet).loadStudy('s');
    expect(study.direction).toBe('maximize');
    const [a, b] = study.trials;
    expect(a).toMatchObject({ number: 0, state: 'COMPLETE', value: 1, params: { x: -0.4133150442087159, lr: 4.478893528044394e-5, q: 1, n: 8, c: 'a' }, datetimeStart: '2026-12-04T22:55:03.638125' });
    expect(a!.distributions['q']).toEqual({ type: 'float', low: 0, high: 1, log: false, step: 0.25 });
    expect(Number.isNaN(a!.userAttrs['u'])).toBe(true);
    expect([...a!.intermediateValues]).toEqual([[0, 0], [1, 1], [2, Infinity]]);
    expect(b).toMatchObject({ number: 1, state: 'FAIL', values: null, params: { c: 1.5 }, systemAttrs: { completed_rung_0: 1 } });
    expect(study.userAttrs).toEqual({ k: [1, 2] });
  });

  it("replays as Optuna does: duplicate study names, missing studies, finished trials and conflicting params are ignored for others and errors for oneself", () => {
    const path = join(tmp(), 'rules.journal');
    const other = (op: object) => JSON.stringify({ worker_id: 'other', ...op });
    writeFileSync(
      path,
      [
        other({ op_code: 0, study_name: 'a', directions: [1] }),
        other({ op_code: 0, study_name: 'a', directions: [2] }), // duplicate: creates nothing
        other({ op_code: 0, study_name: 'b', directions: [1] }), // study id 1
        other({ op_code: 4, study_id: 7, datetime_start: null }), // missing study: no trial id used
        other({ op_code: 4, study_id: 1, datetime_start: null }), // trial id 0, b's number 0
        other({ op_code: 4, study_id: 0, datetime_start: null, state: 1, value: 2.5, params: { p: 1 }, distributions: { p: '{"name": "IntDistribution", "attributes": {"log": false, "step": 1, "low": 0, "high": 3}}' }, intermediate_values: { '4': 1.5 } }),
        other({ op_code: 7, trial_id: 1, step: 5, intermediate_value: 9 }), // trial 1 is COMPLETE: ignored
        other({ op_code: 5, trial_id: 0, param_name: 'p', param_value_internal: 0, distribution: '{"name": "CategoricalDistribution", "attributes": {"choices": [1]}}' }), // b has no p yet: fine
        other({ op_code: 1, study_id: 0 }), // a deleted
        other({ op_code: 4, study_id: 0, datetime_start: null }), // into the deleted study: nothing
      ].join('\n') + '\n',
    );
    const storage = JournalStorage.file(path, quiet);
    expect(storage.studyNames()).toEqual(['b']);
    const b = storage.loadStudy('b', 'minimize');
    expect(b.studyId).toBe(1);
    expect(b.trials.map((t) => [t.number, t.trialId, t.params])).toEqual([[0, 0, { p: 1 }]]);
    expect(storage.replay.trials[1]).toMatchObject({ number: 0, studyId: 0, state: 'COMPLETE', values: [2.5], params: { p: 1 } });
    expect([...storage.replay.trials[1]!.intermediateValues]).toEqual([[4, 1.5]]);

    // Own operations the replay refuses throw, as Optuna raises.
    const n = b.createTrial();
    expect(n).toBe(1);
    expect(() => b.setParams(n, { p: 2 }, { p: { type: 'int', low: 0, high: 3, log: false, step: 1 } })).toThrow(JournalOperationError);
    b.finish(n, 'FAIL');
    expect(() => b.setUserAttr(n, 'late', 1)).toThrow(/already finished/);
    expect(() => b.finish(n, 'COMPLETE', 1)).toThrow(/FAIL/);
    expect(() => storage.createStudy('b', 'minimize')).toThrow(/already exists/);
    expect(storage.openStudy('b', 'minimize').studyId).toBe(1);
    expect(() => storage.openStudy('b', 'maximize')).toThrow(/to minimize/);
    expect(() => storage.openStudy('b', 'maximize')).toThrow(expect.objectContaining({ code: 'FT_STUDY_FORMAT', about: { file: path } }));
    expect(() => storage.loadStudy('a')).toThrow(/no study named 'a'/);
    // COMPLETE needs a value that is not NaN.
    const m = b.createTrial();
    expect(() => b.finish(m, 'COMPLETE', NaN)).toThrow(/FAIL/);
    expect(() => b.report(m, -1, 1)).toThrow(/step/);
  });

  it('two writers in one process interleave: each learns its trial numbers, each sees the other', () => {
    const path = join(tmp(), 'two.journal');
    const a = openJournalStudy(path, 'shared', 'minimize', quiet);
    const b = openJournalStudy(path, 'shared', 'minimize', quiet);
    expect(a.storage.workerId).not.toBe(b.storage.workerId);
    const numbers: [string, number][] = [];
    for (let i = 0; i < 5; i++) {
      for (const [tag, s] of [['a', a], ['b', b]] as const) {
        const n = s.createTrial();
        numbers.push([tag, n]);
        s.report(n, 0, i);
        s.finish(n, 'COMPLETE', i);
      }
    }
    expect(numbers.map(([, n]) => n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a.view().trials).toEqual(b.view().trials);
    expect(a.trials.every((t) => t.state === 'COMPLETE')).toBe(true);
  });

  it('three writer processes appending at once lose no line and agree on every trial number', async () => {
    const path = join(tmp(), 'procs.journal');
    const writer = join(repoRoot, 'packages/plugins-search/src/storage/test-utils/journal-writer.ts');
    const children = ['a', 'b', 'c'].map((tag) => spawnTs(writer, [path, 'race', '25', tag]));
    // All start together (each waits for the go file), and contend for the lock from the first append, the study's creation.
    await Promise.all(children.map((c) => c.ready));
    writeFileSync(`${path}.go`, '');
    const runs = await Promise.all(children.map((c) => c.done));
    for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const claimed = runs.map((r) => JSON.parse(r.stdout) as number[]);

    const study = JournalStorage.file(path, quiet).loadStudy('race', 'minimize');
    expect(study.trials).toHaveLength(75);
    expect(claimed.flat().sort((x, y) => x - y)).toEqual([...Array(75).keys()]);
    for (const [w, tag] of ['a', 'b', 'c'].entries()) {
      for (const [i, n] of claimed[w]!.entries()) {
        expect(study.trials[n]).toMatchObject({ state: 'COMPLETE', params: { writer: tag, i }, value: i / 4 });
        expect([...study.trials[n]!.intermediateValues]).toEqual([[0, i], [1, i / 2]]);
      }
    }
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    // Every trial line is there; CREATE_STUDY lines: one, plus a duplicate from each writer that lost the race to create the study.
    expect(lines.filter((l) => !l.startsWith('{"op_code": 0,')).length).toBe(75 * 6);
    expect(lines.filter((l) => l.startsWith('{"op_code": 0,')).length).toBeLessThanOrEqual(3);
  }, 60_000);

  it('a torn last line (a writer killed mid-write) is left unread; the next append cuts it off; a bad line inside the file is an error', () => {
    const path = join(tmp(), 'torn.journal');
    const warnings: string[] = [];
    const study = openJournalStudy(path, 't', 'minimize', { onWarning: (m) => warnings.push(m) });
    const n = study.createTrial();
    const torn = '{"op_code": 7, "worker_id": "dead", "trial_id": 0, "st';
    appendFileSync(path, torn);
    const reader = JournalStorage.file(path, quiet).loadStudy('t');
    expect(reader.trials).toHaveLength(1);
    study.report(n, 0, 1.5);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`removed a torn last line of ${torn.length} bytes`))]);
    expect(readFileSync(path, 'utf8')).not.toContain('"dead"');
    expect([...reader.view().trials[0]!.intermediateValues]).toEqual([[0, 1.5]]);
    // A complete but unparsable last line is left unread too, until a line follows it.
    appendFileSync(path, '{"op_code": 7, "wor{"op_code": 9}\n');
    expect(reader.view().trials[0]!.intermediateValues.size).toBe(1);
    appendFileSync(path, JSON.stringify({ op_code: 7, worker_id: 'x', trial_id: 0, step: 1, intermediate_value: 2 }) + '\n');
    expect(() => reader.view()).toThrow(JournalFormatError);
    expect(() => reader.view()).toThrow(expect.objectContaining({ code: 'FT_STUDY_FORMAT', about: { file: path } }));
    expect(() => JournalStorage.file(path, quiet)).toThrow(/line 4 is not valid JSON/);
  });

  it('a writer killed while holding the lock: after the grace period the lock is broken and its torn line cut', async () => {
    const path = join(tmp(), 'killed.journal');
    const study = openJournalStudy(path, 'k', 'minimize', quiet);
    const n = study.createTrial();
    const child = spawn(process.execPath, ['-e', `const fs=require('fs');fs.closeSync(fs.openSync(${JSON.stringify(path + '.lock')},'wx'));fs.appendFileSync(${JSON.stringify(path)},'{"op_code": 7, "wor');console.log('held');setInterval(()=>{},1000);`]);
    await new Promise<void>((done) => child.stdout.once('data', () => done()));
    child.kill('SIGKILL');
    await new Promise((done) => child.once('exit', done));
    const warnings: string[] = [];
    const late = openJournalStudy(path, 'k', 'minimize', { gracePeriodMs: 300, onWarning: (m) => warnings.push(m) });
    const t0 = performance.now();
    late.report(n, 0, 3);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    expect(warnings).toEqual([expect.stringMatching(/has not been released for 0.3 s/), expect.stringMatching(/removed a torn last line of 19 bytes/)]);
    expect([...study.view().trials[0]!.intermediateValues]).toEqual([[0, 3]]);
    expect(existsSync(path + '.lock')).toBe(false);
  });

  it("excludes Python's symlink lock too (same path), and can break a stale one", () => {
    const path = join(tmp(), 'sym.journal');
    new JournalFileBackend(path);
    symlinkSync(path, path + '.lock');
    const warnings: string[] = [];
    const lock = new JournalFileOpenLock(path, { gracePeriodMs: 200, onWarning: (m) => warnings.push(m) });
    const t0 = performance.now();
    lock.acquire();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);
    expect(warnings).toHaveLength(1);
    lock.release();
    expect(existsSync(path + '.lock')).toBe(false);
    expect(() => lock.release()).toThrow(/did not possess the lock/);
  });

  it('successive halving given the study view records its rungs in the journal', () => {
    const path = join(tmp(), 'sh.journal');
    const study = openJournalStudy(path, 'sh', 'minimize', quiet);
    const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
    const decide = (value: number) => {
      const n = study.createTrial();
      study.report(n, 1, value);
      const prune = pruner.shouldPrune(study.view(), study.trial(n));
      study.finish(n, prune ? 'PRUNED' : 'COMPLETE', value);
      return prune;
    };
    expect([5, 6, 4].map(decide)).toEqual([false, true, false]);
    const back = JournalStorage.file(path, quiet).loadStudy('sh');
    expect(back.trials.map((t) => t.systemAttrs)).toEqual([{ completed_rung_0: 5 }, { completed_rung_0: 6 }, { completed_rung_0: 4 }]);
    // A new pruner (another process, a resumed search) reads the rungs back and decides the same.
    const resumed = new SuccessiveHalvingPruner({ minResource: 1 });
    const n = back.createTrial();
    back.report(n, 1, 4.5);
    expect(resumed.shouldPrune(back.view(), back.trial(n))).toBe(true); // [4 4.5 5 6]: idx 0
  });

  it('datetimes are what datetime.isoformat() writes for a local time', () => {
    expect(pythonDatetime(new Date(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006000');
  });
});
