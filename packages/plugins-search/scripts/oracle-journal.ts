/**
 * Oracle for the journal storage and the pruners, against Python Optuna (opt-in: needs
 * `/usr/bin/python3`, or the interpreter in FAIRTUNE_PYTHON, with optuna;
 * `apt-get update && apt-get install -y python3-optuna`).
 *
 *   npm run oracle:journal -w packages/plugins-search
 *
 * A. TypeScript writes a study (float, log-float, stepped float, int and categorical params;
 *    intermediate values with NaN and ±Infinity; COMPLETE, PRUNED, FAIL and RUNNING trials;
 *    user, system and study attrs; successive-halving rungs) and Optuna's `load_study` on that file
 *    must give the same params (and Python types), values, intermediate values, states and attrs.
 * B. A Python Optuna process adds trials to that study (ask/suggest/report/should_prune/tell, an
 *    enqueued trial, one left WAITING) and this side must read what Python reads.
 * C. Python writers (open lock and symlink lock) and this process append to the study at once:
 *    nothing lost, both sides count the same trials.
 * D. Optuna's pruners' decisions on seeded interleaved histories (successive halving incl. 'auto'
 *    and bootstrap, hyperband incl. R = 243, median) equal ours, rung attrs included.
 * E. Numerics: Hyperband's bracket count (math.log), crc32, float repr, numpy's nanpercentile.
 *
 * Skips (exit 0, saying so) when Python Optuna is missing; exits 1 on any difference.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRUNER_KIND, resolveNestedParams, type Distribution, type FrozenTrial, type StudyDirection, type TrialState } from '@fairtune/core/plugin';
import { prunerPlugins } from '../src/pruners/plugins.js';
import { correctlyRoundedLog, crc32 } from '../src/pruners/python-math.js';
import { nanPercentile } from '../src/pruners/median.js';
import { SuccessiveHalvingPruner } from '../src/pruners/successive-halving.js';
import type { WritableStudyView } from '../src/pruners/study-view.js';
import { JournalStorage, openJournalStudy, type JournalStudy, type JournalTrial } from '../src/storage/journal.js';
import { distributionToJson } from '../src/storage/journal-format.js';
import { PyFloat, pyFloatRepr, pyJsonDumps, pyJsonLoads, type PyJson } from '../src/storage/python-json.js';

const PYTHON = process.env['FAIRTUNE_PYTHON'] ?? '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));
const pyScript = join(here, 'oracle_journal.py');

const probe = spawnSync(PYTHON, ['-c', 'import optuna; print(optuna.__version__)'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.log(`SKIP oracle:journal: \`${PYTHON} -c "import optuna"\` failed (${(probe.stderr || String(probe.error ?? '')).trim().split('\n').at(-1)}).`);
  console.log('  Install Python Optuna to run it: apt-get update && apt-get install -y python3-optuna');
  process.exit(0);
}
const optunaVersion = probe.stdout.trim();
console.log(`oracle:journal against Python Optuna ${optunaVersion} (${PYTHON})`);

const dir = mkdtempSync(join(tmpdir(), 'oracle-journal-'));
const failures: string[] = [];
const fail = (section: string, msg: string) => failures.push(`${section}: ${msg}`);

function python(...args: string[]): Record<string, unknown> {
  const r = spawnSync(PYTHON, [pyScript, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python ${args[0]} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

function pythonAsync(...args: string[]): Promise<Record<string, unknown>> {
  return new Promise((done, failed) => {
    const child = spawn(PYTHON, [pyScript, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? done(JSON.parse(out.trim().split('\n').at(-1)!)) : failed(new Error(`python ${args[0]} failed (${code}):\n${err}`))));
  });
}

/** Deep equality with NaN equal to NaN. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

const show = (v: unknown) => pyJsonDumps(v as PyJson);

// ---------------------------------------------------------------------------------------------
// A. TypeScript writes, Optuna reads.

const path = join(dir, 'oracle.journal');
const NAME = 'oracle';
const space: Record<string, Distribution> = {
  x: { type: 'float', low: -1, high: 1, log: false },
  lr: { type: 'float', low: 1e-5, high: 1e-3, log: true },
  q: { type: 'float', low: 0, high: 1, log: false, step: 0.25 },
  n: { type: 'int', low: 1, high: 8, log: false, step: 1 },
  c: { type: 'categorical', choices: ['a', null, 1.5, true] },
};
{
  const study = openJournalStudy(path, NAME, 'maximize');
  const pruner = new SuccessiveHalvingPruner({ minResource: 1 });
  const run = (params: Record<string, number | string | boolean | null>, reports: number[], end: 'COMPLETE' | 'PRUNED' | 'FAIL' | 'RUNNING', value?: number) => {
    const n = study.createTrial();
    study.setParams(n, params, space);
    for (const [step, v] of reports.entries()) {
      study.report(n, step, v);
      if (pruner.shouldPrune(study.view(), study.trial(n))) return study.finish(n, 'PRUNED');
    }
    if (end !== 'RUNNING') study.finish(n, end, value);
  };
  run({ x: 0.25, lr: 1e-4, q: 0.5, n: 3, c: null }, [0.5, 0.6, 0.7, 0.8, 0.9], 'COMPLETE', 0.9);
  run({ x: -0.75, lr: 3.3e-5, q: 0, n: 1, c: 'a' }, [0.1, 0.05], 'COMPLETE', 0.05); // pruned at step 1 by SH (0.05 < 0.6)
  run({ x: 1, lr: 1e-3, q: 1, n: 8, c: true }, [NaN], 'FAIL');
  run({ x: 0, lr: 5e-4, q: 0.75, n: 5, c: 1.5 }, [0.9, Infinity, 0.95], 'RUNNING');
  run({ x: 0.5, lr: 2e-5, q: 0.25, n: 2, c: 'a' }, [0.99, Infinity, 1.5, 2, 3], 'COMPLETE', Infinity);
  {
    const n = study.createTrial();
    study.setParams(n, { x: 0.125 }, space);
    study.report(n, 0, -Infinity);
    study.report(n, 7, NaN);
    study.setUserAttr(n, 'fail_reason', 'objective is NaN');
    study.setUserAttr(n, 'nested', { a: [1, 2.5, 'é'], nan: NaN, none: null });
    study.finish(n, 'PRUNED'); // last value NaN: no value, as Optuna
  }
  study.setStudyUserAttr('objective', 'min_auc');
  study.setStudySystemAttr('fairtune', { version: 1, mask_bits: 36 });

  const trials = study.view().trials as readonly JournalTrial[];
  const float = (v: number) => new PyFloat(v);
  const expected = {
    direction: study.direction,
    user_attrs: study.userAttrs,
    system_attrs: study.systemAttrs,
    trials: trials.map((t) => ({
      number: t.number,
      state: t.state,
      params: Object.fromEntries(Object.entries(t.params).map(([k, v]) => [k, t.distributions[k]!.type === 'float' ? float(v as number) : v])),
      param_types: Object.fromEntries(Object.entries(t.distributions).filter(([, d]) => d.type !== 'categorical').map(([k, d]) => [k, d.type])),
      distributions: Object.fromEntries(Object.entries(t.distributions).map(([k, d]) => [k, distributionToJson(d)])),
      values: t.values ? t.values.map(float) : null,
      intermediate_values: Object.fromEntries([...t.intermediateValues].map(([s, v]) => [String(s), float(v)])),
      user_attrs: t.userAttrs,
      system_attrs: Object.fromEntries(Object.entries(t.systemAttrs).map(([k, v]) => [k, k.startsWith('completed_rung_') ? float(v as number) : v])),
      datetime_start: t.datetimeStart ?? null,
      datetime_complete: t.datetimeComplete ?? null,
    })),
  };
  const states = trials.map((t) => t.state).join(' ');
  writeFileSync(join(dir, 'expected.json'), pyJsonDumps(expected as unknown as PyJson));
  const r = python('check', path, NAME, join(dir, 'expected.json'));
  if (r['ok'] !== true) for (const p of r['problems'] as string[]) fail('A', p);
  else console.log(`A. TS → Optuna: load_study gives ${String(r['trials'])} trials (${states}) identical to what was written: ${String(r['fields_compared'])} fields compared, param types included, study attrs too.`);
}

// ---------------------------------------------------------------------------------------------
// B. Optuna writes, TypeScript reads.

function compareWithPython(section: string, study: JournalStudy, pyTrials: Record<string, unknown>[]): number {
  const ours = study.view().trials as readonly JournalTrial[];
  if (ours.length !== pyTrials.length) fail(section, `${ours.length} trials here, ${pyTrials.length} in Python`);
  let fields = 0;
  for (const [i, p] of pyTrials.entries()) {
    const t = ours[i];
    if (!t) break;
    const mine: Record<string, unknown> = {
      number: t.number,
      state: t.state,
      params: t.params,
      distributions: Object.fromEntries(Object.entries(t.distributions).map(([k, d]) => [k, JSON.parse(distributionToJson(d))])),
      values: t.values,
      intermediate_values: Object.fromEntries([...t.intermediateValues].map(([s, v]) => [String(s), v])),
      user_attrs: t.userAttrs,
      system_attrs: t.systemAttrs,
    };
    for (const [k, v] of Object.entries(mine)) {
      fields++;
      if (!same(v, p[k])) fail(section, `trial ${t.number} ${k}: here ${show(v)}, Python ${show(p[k])}`);
    }
    const pyStart = p['datetime_start'] as string | null;
    if ((pyStart === null) !== (t.datetimeStart === undefined) || (pyStart && !t.datetimeStart!.startsWith(pyStart.replace(/\.\d+$/, '')))) {
      fail(section, `trial ${t.number} datetime_start: here ${String(t.datetimeStart)}, Python ${String(pyStart)}`);
    }
  }
  return fields;
}

{
  const r = python('add', path, NAME, join(dir, 'python-trials.json'));
  const py = pyJsonLoads(readFileSync(join(dir, 'python-trials.json'), 'utf8')) as { created: number[]; trials: Record<string, unknown>[]; user_attrs: Record<string, unknown> };
  const study = JournalStorage.file(path).loadStudy(NAME, 'maximize');
  const fields = compareWithPython('B', study, py.trials);
  if (!same(study.userAttrs, py.user_attrs)) fail('B', `study user attrs: here ${show(study.userAttrs)}, Python ${show(py.user_attrs)}`);
  const states = study.trials.slice(6).map((t) => t.state).join(' ');
  if (!failures.some((f) => f.startsWith('B'))) {
    console.log(`B. Optuna → TS: Python added trials ${(r['created'] as number[]).join(', ')} (+1 enqueued); all ${study.trials.length} trials read here as Python reads them (${fields} fields; new states: ${states}; SH rungs and Optuna's fixed_params system attrs included).`);
  }
}

// ---------------------------------------------------------------------------------------------
// C. Python and TypeScript writers at once.

await (async () => {
  const existing = JournalStorage.file(path).loadStudy(NAME).trials;
  const before = existing.length;
  // A WAITING (enqueued) trial is taken by the first Python ask() instead of a new one, as Optuna does.
  const waiting = existing.filter((t) => t.state === 'WAITING').map((t) => t.number);
  const N = 40;
  const pyOpen = pythonAsync('write', path, NAME, String(N), 'open');
  const pySym = pythonAsync('write', path, NAME, String(N), 'symlink');
  const study = JournalStorage.file(path).loadStudy(NAME, 'maximize');
  const mine: number[] = [];
  // Start once a Python writer has begun (importing optuna takes a while).
  for (const t0 = Date.now(); study.view().trials.length === before && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < N; i++) {
    const n = study.createTrial();
    mine.push(n);
    study.setUserAttr(n, 'writer', 'ts');
    study.setUserAttr(n, 'i', i);
    study.setParams(n, { i }, { i: { type: 'int', low: 0, high: 1000, log: false, step: 1 } });
    study.report(n, 0, i);
    study.finish(n, 'COMPLETE', i / 4);
  }
  const [a, b] = await Promise.all([pyOpen, pySym]);
  const all = JournalStorage.file(path).loadStudy(NAME).trials;
  const counted = python('count', path, NAME) as { trials: number; numbers: number[] };
  const byWriter = (w: string) => all.filter((t) => t.userAttrs['writer'] === w).map((t) => t.number);
  const checks: [string, boolean][] = [
    [`${all.length} trials here, expected ${before + 3 * N - waiting.length}`, all.length === before + 3 * N - waiting.length],
    [`enqueued trials ${waiting.join(', ')} taken by a Python writer`, waiting.every((n) => all[n]!.state === 'COMPLETE' && String(all[n]!.userAttrs['writer']).startsWith('py-'))],
    [`${counted.trials} trials in Python`, counted.trials === all.length],
    [`this process's trials ${show(mine)}`, same(byWriter('ts'), mine)],
    [`Python (open lock) trials ${show(a['mine'])}`, same(byWriter('py-open'), a['mine'])],
    [`Python (symlink lock) trials ${show(b['mine'])}`, same(byWriter('py-symlink'), b['mine'])],
    ['every new trial COMPLETE with value i/4', all.filter((t) => t.userAttrs['writer'] !== undefined).every((t) => t.state === 'COMPLETE' && t.value === (t.userAttrs['i'] as number) / 4)],
  ];
  const ok = checks.every(([, pass]) => pass);
  if (!ok) {
    for (const [what, pass] of checks) if (!pass) fail('C', what);
  } else {
    const interleaved = mine.some((n, i) => i > 0 && n !== mine[i - 1]! + 1);
    console.log(
      `C. concurrent: 2 Python writers (open lock, symlink lock) and this process added ${N} trials each at once${interleaved ? ' (interleaved)' : ''}; ${all.length} trials on both sides, each writer's trials where it was told; the enqueued trial ${waiting.join(', ')} was taken (WAITING → RUNNING → COMPLETE) by a Python writer.`,
    );
  }
})();

// ---------------------------------------------------------------------------------------------
// D. Pruner decisions.

type Event = ['ask', number] | ['report', number, number, number, boolean] | ['tell', number, TrialState, number?];
interface Case {
  name: string;
  study: string;
  direction: StudyDirection;
  pruner: [string, Record<string, unknown>];
  events: Event[];
  rungs: Record<string, number>[];
  pruned: number;
}

class MemoryStudy {
  readonly trials: FrozenTrial[] = [];
  constructor(
    readonly name: string,
    readonly direction: StudyDirection,
  ) {}
  view(): WritableStudyView {
    return {
      name: this.name,
      direction: this.direction,
      trials: [...this.trials],
      setTrialSystemAttr: (n, k, v) => {
        this.trials[n] = { ...this.trials[n]!, systemAttrs: { ...this.trials[n]!.systemAttrs, [k]: v } };
      },
    };
  }
}

{
  const r = python('pruners', join(dir, 'pruners.json'));
  const cases = pyJsonLoads(readFileSync(join(dir, 'pruners.json'), 'utf8')) as Case[];
  const lines: string[] = [];
  for (const c of cases) {
    const plugin = prunerPlugins.find((p) => p.name === c.pruner[0])!;
    const replay = (journal: boolean) => {
      const pruner = plugin.create(resolveNestedParams(PRUNER_KIND.kind, plugin, c.pruner[1] as never));
      const mem = new MemoryStudy(c.study, c.direction);
      const js = journal ? JournalStorage.file(join(dir, `${c.name}.journal`)).createStudy(c.study, c.direction) : undefined;
      let reports = 0;
      let mismatches = 0;
      for (const e of c.events) {
        if (e[0] === 'ask') {
          if (js) js.createTrial();
          else mem.trials.push({ number: e[1], state: 'RUNNING', params: {}, distributions: {}, intermediateValues: new Map(), userAttrs: {}, systemAttrs: {} });
        } else if (e[0] === 'report') {
          const [, n, step, value, decision] = e;
          let mine: boolean;
          if (js) {
            js.report(n, step, value);
            mine = pruner.shouldPrune(js.view(), js.trial(n));
          } else {
            const t = mem.trials[n]!;
            mem.trials[n] = { ...t, intermediateValues: new Map([...t.intermediateValues, [step, value]]) };
            mine = pruner.shouldPrune(mem.view(), mem.trials[n]!);
          }
          reports++;
          if (mine !== decision) {
            mismatches++;
            if (mismatches <= 3) fail('D', `${c.name}${journal ? ' (journal)' : ''}: trial ${n} step ${step} value ${value}: Optuna ${decision}, here ${mine}`);
          }
        } else {
          const [, n, state, value] = e;
          if (js) js.finish(n, state as 'COMPLETE' | 'PRUNED', value);
          else mem.trials[n] = { ...mem.trials[n]!, state, ...(value !== undefined ? { value } : {}) };
        }
      }
      const trials = js ? js.view().trials : mem.trials;
      const rungs = trials.map((t) => Object.fromEntries(Object.entries(t.systemAttrs).filter(([k]) => k.startsWith('completed_rung_'))));
      const rungsSame = same(rungs, c.rungs);
      if (!rungsSame) fail('D', `${c.name}${journal ? ' (journal)' : ''}: rung attrs differ from Optuna's`);
      const recorded = rungs.reduce((k, r) => k + Object.keys(r).length, 0);
      return { reports, mismatches, rungsSame, recorded };
    };
    const { reports, mismatches, rungsSame, recorded } = replay(false);
    let journalNote = '';
    if (c.name === 'sh-r1-eta3-s1-max' || c.name === 'hyperband-default') {
      const j = replay(true);
      journalNote = j.mismatches === 0 && j.rungsSame ? '; the same through a journal study' : '; DIFFERENT through a journal study';
    }
    const rungNote = recorded || !rungsSame ? `${recorded} rung attrs ${rungsSame ? 'identical' : 'DIFFERENT'}` : 'no rung attrs on either side';
    lines.push(`   ${c.name}: ${reports} decisions (${c.pruned} prunes) ${mismatches === 0 ? 'identical' : `${mismatches} DIFFERENT`}; ${rungNote}${journalNote}`);
  }
  if (!failures.some((f) => f.startsWith('D'))) console.log(`D. pruner decisions equal Optuna's on ${(r['cases'] as unknown[]).length} seeded interleaved histories:\n${lines.join('\n')}`);
  else console.log(lines.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// E. Numerics.

{
  python('numerics', join(dir, 'numerics.json'));
  const num = pyJsonLoads(readFileSync(join(dir, 'numerics.json'), 'utf8')) as {
    brackets: [number, number, number, number][];
    crc32: [string, number][];
    repr: string[];
    percentile: [number[], number, number][];
  };
  let bad = 0;
  let mathLogBad = 0;
  for (const [eta, lo, hi, nb] of num.brackets) {
    if (Math.floor(correctlyRoundedLog(hi / lo) / correctlyRoundedLog(eta)) + 1 !== nb) bad++;
    if (Math.floor(Math.log(hi / lo) / Math.log(eta)) + 1 !== nb) mathLogBad++;
  }
  if (bad) fail('E', `${bad} of ${num.brackets.length} bracket counts differ from math.log's`);
  const crcBad = num.crc32.filter(([s, v]) => crc32(s) !== v).length;
  if (crcBad) fail('E', `${crcBad} crc32 values differ`);
  const reprBad = num.repr.filter((s) => pyFloatRepr(Number(s)) !== s);
  if (reprBad.length) fail('E', `${reprBad.length} float reprs differ, e.g. ${reprBad.slice(0, 3).join(', ')}`);
  const pctBad = num.percentile.filter(([xs, q, v]) => !same(nanPercentile(xs, q), v));
  if (pctBad.length) fail('E', `${pctBad.length} nanpercentile values differ, e.g. ${show(pctBad.slice(0, 2))}`);
  if (!failures.some((f) => f.startsWith('E'))) {
    console.log(
      `E. numerics: ${num.brackets.length} Hyperband bracket counts ⌊log_η(R/r)⌋+1 equal CPython's (with Math.log ${mathLogBad} would differ); ${num.crc32.length} crc32; ${num.repr.length} float reprs; ${num.percentile.length} nanpercentiles (NaN and ±inf included).`,
    );
  }
}

if (failures.length) {
  console.log(`\noracle:journal FAILED (${failures.length}):\n${failures.map((f) => `  ${f}`).join('\n')}`);
  process.exit(1);
}
console.log(`\noracle:journal passed (files in ${dir})`);
