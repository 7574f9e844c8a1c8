import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { copyFileSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WFDB_FIXTURES, PICKLE_FIXTURES, tempDir } from '../test-utils/paths.js';
import { BUILTIN_INSPECTORS, DataCommand } from './inspect.js';
import { writeButPpgCohort } from '../synthetic/but-ppg.js';
import { withDefaults } from '../synthetic/cohort.js';

function fakeIo(cwd: string) {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  return { io: { cwd, env: {}, stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) }, out: () => out, err: () => err };
}

describe('fairtune data inspect', () => {
  it('prints the exact JSON for a single-segment WFDB record given by name', async () => {
    const f = fakeIo(WFDB_FIXTURES);
    expect(await new DataCommand().run(['inspect', '100', '--json'], f.io)).toBe(0);
    expect(JSON.parse(f.out())).toEqual({
      kind: 'wfdb-record', name: '100', fs: 360, segments: 1,
      signals: [
        { name: 'MLII', fs: 360, samples: 650000, units: 'mV', checksumOk: true },
        { name: 'V5', fs: 360, samples: 650000, units: 'mV', checksumOk: true },
      ],
    });
  });

  it('prints a record as a table of signals for people', async () => {
    const f = fakeIo(WFDB_FIXTURES);
    expect(await new DataCommand().run(['inspect', '100'], f.io)).toBe(0);
    expect(f.out()).toBe(
      ['WFDB record 100: 360 Hz, 1 segment(s)', 'signal  Hz   samples  units  checksum', '------  ---  -------  -----  --------', 'MLII    360  650000   mV     ok', 'V5      360  650000   mV     ok', ''].join('\n'),
    );
  });

  it('describes a multi-segment record by .hea path', async () => {
    const f = fakeIo('/');
    expect(await new DataCommand().run(['inspect', join(WFDB_FIXTURES, 's25047', 's25047-2704-05-04-10-44.hea'), '--json'], f.io)).toBe(0);
    const j = JSON.parse(f.out());
    expect(j).toMatchObject({ kind: 'wfdb-record', name: 's25047-2704-05-04-10-44', fs: 125, segments: 20 });
    expect(j.signals.map((s: { name: string; samples: number; checksumOk: boolean }) => [s.name, s.samples, s.checksumOk])).toEqual([['II', 543240, true], ['V', 543240, true], ['ABP', 543240, true]]);
  });

  it('exits 1 naming the file for unsupported formats, short data and checksum mismatches; 2 for bad usage', async () => {
    const dir = tempDir('inspect');
    writeFileSync(join(dir, 'flac.hea'), 'flac 1 62.5 100\nflac.dat 516 200 16 0 0 0 0 Pleth\n');
    let f = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', 'flac'], f.io)).toBe(1);
    expect(f.err()).toMatch(/flac\.hea: signal 0 \(Pleth\) uses unsupported WFDB format 516/);
    copyFileSync(join(WFDB_FIXTURES, '3000003_0003.hea'), join(dir, '3000003_0003.hea'));
    writeFileSync(join(dir, '3000003_0003.dat'), readFileSync(join(WFDB_FIXTURES, '3000003_0003.dat')).subarray(0, 100));
    f = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', '3000003_0003.hea'], f.io)).toBe(1);
    expect(f.err()).toMatch(/3000003_0003\.dat: data file is short/);
    const dat = readFileSync(join(WFDB_FIXTURES, '3000003_0003.dat'));
    dat[10] = dat[10]! ^ 0xff;
    writeFileSync(join(dir, '3000003_0003.dat'), dat);
    f = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', '3000003_0003', '--json'], f.io)).toBe(1);
    expect(JSON.parse(f.out()).signals.some((s: { checksumOk: boolean }) => !s.checksumOk)).toBe(true);
    expect(f.err()).toMatch(/checksum mismatch/);
    f = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', 'missing-record'], f.io)).toBe(1);
    expect(f.err()).toMatch(/missing-record\.hea/);
    f = fakeIo(dir);
    expect(await new DataCommand().run(['frobnicate'], f.io)).toBe(2);
    expect(f.err()).toMatch(/Usage: fairtune data inspect/);
  });

  it('describes a pickle and a BUT-PPG root', async () => {
    let f = fakeIo(PICKLE_FIXTURES);
    expect(await new DataCommand().run(['inspect', 'py3-protocol4.pkl', '--json'], f.io)).toBe(0);
    const p = JSON.parse(f.out());
    expect(p.content.signal.wrist.BVP).toEqual({ ndarray: { dtype: 'f8', shape: [640, 1] } });
    expect(p.content.questionnaire.Gender).toBe(' m');
    const root = join(tempDir('inspect-but'), 'butppg');
    writeButPpgCohort(root, { ...withDefaults({ subjects: 2, minutes: 1 }), recordsPerSubject: 2 });
    f = fakeIo('/');
    expect(await new DataCommand().run(['inspect', root, '--json'], f.io)).toBe(0);
    const b = JSON.parse(f.out());
    expect(b).toMatchObject({ kind: 'dataset', dataset: 'but-ppg', records: 4, checksumsOk: true });
    expect(b.subjects.map((s: { id: string }) => s.id)).toEqual(['100', '112']);
    f = fakeIo('/');
    expect(await new DataCommand().run(['inspect', root], f.io)).toBe(0);
    expect(f.out()).toMatch(/dataset: but-ppg/);
    expect(f.out()).toMatch(/^2 subjects:$/m);
    expect(f.out()).toMatch(/^subject +signals +labels \(count\)$/m);
    expect(f.out()).toMatch(/^100 +ppg 30 Hz × 600/m);
  });
});

describe('fairtune data inspect with dataset inspectors of other packages', () => {
  const fake = {
    format: 'Toy folder',
    canInspect: (abs: string) => abs.includes('fairtune-data-toy-'),
    inspect: (abs: string) => ({ kind: 'dataset', dataset: 'toy', root: abs, subjects: [{ id: 'T1', sex: 'female', signals: [{ name: 'ppg', fs: 25, samples: 100 }], labels: { hr: 4 } }] }),
  };

  it('asks the inspectors bound after the built-in ones, and prints their subjects as a table', async () => {
    const dir = tempDir('toy');
    const f = fakeIo(dir);
    expect(await new DataCommand([...BUILTIN_INSPECTORS, fake]).run(['inspect', '.'], f.io)).toBe(0);
    expect(f.out()).toContain('dataset: toy');
    expect(f.out()).toMatch(/T1\s+female\s+ppg 25 Hz × 100\s+hr 4/);
  });

  it('lists every format in the message for an unrecognised folder; the built-in list is unchanged', async () => {
    const dir = tempDir('other');
    const withFake = fakeIo(dir);
    expect(await new DataCommand([...BUILTIN_INSPECTORS, fake]).run(['inspect', '.'], withFake.io)).toBe(2);
    expect(withFake.err()).toContain(': not a DaLiA, BUT-PPG, MIMIC, Fitzpatrick17k, HAM10000 or Toy folder dataset root, WFDB record or pickle');
    const builtin = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', '.'], builtin.io)).toBe(2);
    expect(builtin.err()).toContain(': not a DaLiA, BUT-PPG, MIMIC, Fitzpatrick17k or HAM10000 dataset root, WFDB record or pickle');
  });
});
