import { describe, expect, it, beforeAll } from '@jest/globals';
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { outputOf, runStandalone, type JsonObject, type Artifact, type StageEvent } from '@fairtune/core';
import { tempDir } from '../test-utils/paths.js';
import { DaliaLoader } from './dalia.js';
import { GENERATOR_VERSION } from '../synthetic/cohort.js';
import { ButPpgLoader } from './but-ppg.js';
import { MimicLoader } from './mimic.js';
import { BandpassStage, ResampleStage } from '../stages/signal-stages.js';
import { WindowStage } from '../stages/window-stage.js';
import { GroupAttributesStage, QualityStage, SplitSubjectsStage } from '../stages/sample-stages.js';

const logs = (events: StageEvent[], level: string) => events.filter((e) => e.type === 'log' && e.level === level).map((e) => (e as { message: string }).message);
const SMALL = { syntheticSubjects: 4, syntheticMinutes: 1, syntheticChest: false };

let base: string;
beforeAll(() => {
  base = tempDir('synth');
  process.env['FAIRTUNE_SYNTHETIC_DIR'] = base;
});

describe('data.dalia', () => {
  it('generates the synthetic cohort in DaLiA format when the root is absent, loads it through the real reader and reuses it', async () => {
    const root = join(base, 'no-such-root');
    const { outputs, events } = await runStandalone(new DaliaLoader(), { params: { root, ...SMALL } });
    const ds = outputOf({ outputs }, 'dataset', 'dataset');
    const meta = ds.meta;
    expect(meta.synthetic).toBe(true);
    expect(logs(events, 'warn')[0]).toMatch(/^SYNTHETIC DATA: data root .*no-such-root does not exist; generated/);
    expect(meta.recordings.map((r) => r.id)).toEqual(['S1', 'S2', 'S3', 'S4']);
    const s1 = meta.recordings[0]!;
    const t64 = ds.arrays['S1/ppg']!.shape[0]!;
    expect(t64).toBe(64 * 60);
    expect(ds.arrays['S1/acc']!.shape).toEqual([t64 / 2, 3]);
    expect(ds.arrays['S1/activity']!.shape[0]! * 16).toBe(t64);
    expect(ds.arrays['S1/hr']!.shape[0]).toBe(Math.floor((t64 - 512) / 128) + 1);
    expect(['male', 'female']).toContain(s1.attributes['sex']);
    expect(typeof s1.attributes['age']).toBe('number');
    expect(s1.files![0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const hr = ds.arrays['S1/hr']!.data;
    expect(Math.min(...hr)).toBeGreaterThan(40);
    expect(Math.max(...hr)).toBeLessThan(200);
    // Progress per subject.
    expect(events.filter((e) => e.type === 'progress' && e.unit === 'subjects').length).toBe(5);
    const again = await runStandalone(new DaliaLoader(), { params: { root, ...SMALL } });
    expect(logs(again.events, 'warn')[0]).toMatch(/reusing the synthetic dalia cohort/);
    expect(Array.from(again.outputs['dataset']!.arrays['S2/ppg']!.data.slice(0, 50))).toEqual(Array.from(ds.arrays['S2/ppg']!.data.slice(0, 50)));
  });

  it('announces the synthetic fallback before the run and fingerprints the root so real data invalidates the cache', async () => {
    const loader = new DaliaLoader();
    const root = join(base, 'later-real');
    const params = { root, synthetic: 'auto', skipBadSubjects: false, download: false } as never;
    expect(loader.preflight(params)[0]).toMatch(/^SYNTHETIC DATA: dalia data root .*later-real is absent, so this run uses the synthetic dalia-format cohort/);
    const absent = loader.fingerprint(params);
    expect(absent).toBe(`absent:${root}:synthetic-generator-v${GENERATOR_VERSION}`);
    (await import('node:fs')).mkdirSync(join(root, 'S1'), { recursive: true });
    writeFileSync(join(root, 'S1', 'S1.pkl'), 'x');
    expect(loader.preflight(params)).toEqual([]);
    const present = loader.fingerprint(params);
    expect(present).toMatch(/^present:/);
    writeFileSync(join(root, 'S1', 'S1.pkl'), 'xy');
    expect(loader.fingerprint(params)).not.toBe(present);
  });

  it("fails with synthetic 'never' and a missing root, and names a bad subject file unless skipBadSubjects", async () => {
    await expect(runStandalone(new DaliaLoader(), { params: { root: join(base, 'nope'), synthetic: 'never' } })).rejects.toThrow(/nope does not exist/);
    await expect(runStandalone(new DaliaLoader(), { params: { root: join(base, 'nope'), synthetic: 'never' } })).rejects.toMatchObject({ code: 'FT_DATA_MISSING', about: { file: join(base, 'nope') } });
    const { outputs } = await runStandalone(new DaliaLoader(), { params: { root: join(base, 'x'), ...SMALL } });
    const realRoot = outputOf({ outputs }, 'dataset', 'dataset').meta.source.root;
    const copy = tempDir('dalia-copy');
    for (const s of readdirSync(realRoot).filter((d) => d.startsWith('S'))) {
      const { mkdirSync, copyFileSync } = await import('node:fs');
      mkdirSync(join(copy, s));
      for (const f of readdirSync(join(realRoot, s))) copyFileSync(join(realRoot, s, f), join(copy, s, f));
    }
    const pkl = join(copy, 'S3', 'S3.pkl');
    writeFileSync(pkl, readFileSync(pkl).subarray(0, 5000));
    await expect(runStandalone(new DaliaLoader(), { params: { root: copy } })).rejects.toThrow(/subject S3: .*S3\.pkl: truncated pickle/);
    // The subject prefix keeps the pickle error's code and file.
    await expect(runStandalone(new DaliaLoader(), { params: { root: copy } })).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file: pkl } });
    await expect(runStandalone(new DaliaLoader(), { params: { root: copy, subjects: ['S1', 'S99'] } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'subjects' }, message: expect.stringMatching(/subject\(s\) S99 not found/) });
    const skipped = await runStandalone(new DaliaLoader(), { params: { root: copy, skipBadSubjects: true, subjects: ['S1', 'S3'] } });
    expect(outputOf(skipped, 'dataset', 'dataset').meta.recordings.map((r) => r.id)).toEqual(['S1']);
    expect(logs(skipped.events, 'warn').join('\n')).toMatch(/skipping subject S3: .*S3\.pkl/);
    expect(outputOf(skipped, 'dataset', 'dataset').meta.synthetic).toBe(false);
  });
});

async function chain(ds: Artifact, windowParams: JsonObject, splitParams: JsonObject = {}) {
  const rs = (await runStandalone(new ResampleStage(), { params: { fs: 32, signals: ['ppg'] }, inputs: { dataset: ds } })).outputs['dataset']!;
  const bp = (await runStandalone(new BandpassStage(), { params: { low: 0.5, high: 6, order: 2 }, inputs: { dataset: rs } })).outputs['dataset']!;
  const win = await runStandalone(new WindowStage(), { params: windowParams, inputs: { dataset: bp } });
  const q = (await runStandalone(new QualityStage(), { inputs: { samples: win.outputs['samples']! } })).outputs['samples']!;
  const sp = (await runStandalone(new SplitSubjectsStage(), { params: splitParams, inputs: { samples: q }, seed: 3 })).outputs['samples']!;
  const gr = outputOf(await runStandalone(new GroupAttributesStage(), { params: { attributes: ['sex', 'age'], ageThreshold: 40 }, inputs: { samples: sp } }), 'samples', 'samples');
  return { win, gr };
}

describe('preprocessing chain on synthetic DaLiA', () => {
  it('resamples, filters, windows 8 s / 2 s with aligned labels, splits by subject and adds intersectional groups', async () => {
    const ds = (await runStandalone(new DaliaLoader(), { params: { root: join(base, 'none'), ...SMALL } })).outputs['dataset']!;
    const { gr } = await chain(ds, { windowSeconds: 8, shiftSeconds: 2, normalisation: 'zscore' }, { train: 2, validation: 1, test: 1 });
    const meta = gr.meta;
    const x = gr.arrays['x']!;
    expect(x.shape[1]).toBe(256);
    expect(meta.signal!.fs).toBe(32);
    // The chain is recorded for models trained on the samples (eval.predict replays it).
    expect(meta.signal!.processing).toEqual([
      { op: 'resample', fs: 32, signals: ['ppg'] },
      { op: 'bandpass', low: 0.5, high: 6, order: 2, signals: ['ppg'] },
    ]);
    expect(meta.quality).toEqual({ useQualityFlag: true, maxFlatFraction: 0.25, maxClippingFraction: 0.2, targetRange: [30, 220] });
    expect(meta.groups).toEqual({ attributes: ['sex', 'age'], names: expect.any(Array), ageThreshold: 40 });
    const n = x.shape[0]!;
    expect(gr.arrays['y']!.shape[0]).toBe(n);
    expect(gr.arrays['aux/activity']!.shape[0]).toBe(n);
    // Window j of S1 takes label j exactly (same 8-s/2-s grid).
    const hrS1 = ds.arrays['S1/hr']!.data;
    expect(gr.arrays['y']!.data[0]).toBeCloseTo(hrS1[0]!, 5);
    expect(meta.splits).toEqual(['train', 'validation', 'test']);
    const split = gr.arrays['split']!.data;
    const subj = gr.arrays['subject']!.data;
    const subjSplit = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const prev = subjSplit.get(subj[i]!);
      if (prev !== undefined) expect(split[i]).toBe(prev);
      subjSplit.set(subj[i]!, split[i]!);
    }
    expect(new Set(subjSplit.values())).toEqual(new Set([0, 1, 2]));
    expect(meta.groups!.attributes).toEqual(['sex', 'age']);
    for (const g of meta.groups!.names) expect(g).toMatch(/^(female|male)\|(<=40|>40)$/);
    expect(Math.min(...gr.arrays['group']!.data)).toBeGreaterThanOrEqual(0);
  });

  it('leave-subjects-out folds cover every subject exactly once as test', async () => {
    const ds = (await runStandalone(new DaliaLoader(), { params: { root: join(base, 'none'), ...SMALL } })).outputs['dataset']!;
    const win = (await runStandalone(new WindowStage(), { params: { windowSeconds: 8, shiftSeconds: 4 }, inputs: { dataset: ds } })).outputs['samples']!;
    const tested: number[] = [];
    for (let k = 0; k < 4; k++) {
      const sp = (await runStandalone(new SplitSubjectsStage(), { params: { folds: 4, fold: k }, inputs: { samples: win } })).outputs['samples']!;
      const split = sp.arrays['split']!.data;
      const subj = sp.arrays['subject']!.data;
      const test = new Set<number>();
      const other = new Set<number>();
      for (let i = 0; i < split.length; i++) (split[i] === 2 ? test : other).add(subj[i]!);
      for (const s of test) expect(other.has(s)).toBe(false);
      tested.push(...test);
    }
    expect(tested.sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('data.but-ppg', () => {
  it('loads the synthetic BUT-PPG release (both header forms) and windows short records with pad-edge', async () => {
    const { outputs, events } = await runStandalone(new ButPpgLoader(), { params: { root: join(base, 'nobut'), syntheticSubjects: 3, recordsPerSubject: 3 } });
    const ds = outputOf({ outputs }, 'dataset', 'dataset');
    const meta = ds.meta;
    expect(logs(events, 'warn')[0]).toMatch(/^SYNTHETIC DATA:/);
    expect(meta.recordings).toHaveLength(9);
    const r1 = meta.recordings.find((r) => r.id === '100001')!; // release-1 transposed header
    expect(r1.subject).toBe('100');
    expect(ds.arrays['100001/ppg']!.shape).toEqual([300]);
    expect(new Set(Array.from(ds.arrays['100001/ppg']!.data)).size).toBeGreaterThan(50);
    const r2 = meta.recordings.find((r) => r.id === '112001')!;
    expect(r2.signals['ppg']!.channels).toEqual(['PPG_R']);
    expect(r2.signals['acc']!.fs).toBe(100);
    expect(ds.arrays['112001/hr']!.data[0]).toBeGreaterThan(40);
    expect(['ear', 'finger']).toContain(r2.attributes['site']);
    const root = meta.source.root;
    expect(readFileSync(join(root, 'quality-hr-ann.csv'))[0]).toBe(0xef); // UTF-8 BOM kept
    const dropped = await runStandalone(new WindowStage(), { params: { windowSeconds: 12, shiftSeconds: 12 }, inputs: { dataset: ds } }).catch((e: Error) => e);
    expect(String(dropped)).toMatch(/no windows/);
    const padded = await runStandalone(new WindowStage(), { params: { windowSeconds: 12, shiftSeconds: 12, short: 'pad-edge' }, inputs: { dataset: ds } });
    expect(padded.outputs['samples']!.arrays['x']!.shape).toEqual([9, 360]);
    expect(padded.outputs['samples']!.arrays['aux/quality']!.shape).toEqual([9]);
    const exact = await runStandalone(new WindowStage(), { params: { windowSeconds: 8, shiftSeconds: 8 }, inputs: { dataset: ds } });
    expect(exact.outputs['samples']!.arrays['y']!.data[0]).toBe(ds.arrays['100001/hr']!.data[0]);
  });
});

describe('data.mimic', () => {
  it('loads synthetic matched-subset records: PLETH with NaN gap, numerics HR per window, sex from PATIENTS.csv', async () => {
    const { outputs } = await runStandalone(new MimicLoader(), { params: { root: join(base, 'nomimic'), syntheticSubjects: 2, syntheticMinutes: 1 } });
    const ds = outputOf({ outputs }, 'dataset', 'dataset');
    const meta = ds.meta;
    expect(meta.recordings).toHaveLength(2);
    const r = meta.recordings[0]!;
    expect(r.subject).toBe('20');
    expect(r.signals['ppg']!.fs).toBe(125);
    const ppg = ds.arrays[`${r.id}/ppg`]!.data;
    expect(ppg.length).toBe(125 * 60);
    expect(Array.from(ppg).some((v) => Number.isNaN(v))).toBe(true);
    expect(['male', 'female']).toContain(r.attributes['sex']);
    expect(r.attributes['hrSource']).toBe('numerics HR');
    const hr = ds.arrays[`${r.id}/hr`]!.data;
    expect(hr.length).toBe(Math.floor((60 - 8) / 2) + 1);
    expect(hr[0]).toBeGreaterThan(40);
    const win = await runStandalone(new WindowStage(), { params: {}, inputs: { dataset: ds } });
    // Windows overlapping the 5-s gap are dropped.
    expect(win.outputs['samples']!.arrays['y']!.shape[0]).toBeLessThan(2 * hr.length);
    expect(existsSync(join(meta.source.root, 'RECORDS'))).toBe(true);
  });
});

/** A writable copy of a (cached, shared) synthetic dataset root, so a test can damage files. */
async function copyRoot(src: string, label: string): Promise<string> {
  const { cpSync } = await import('node:fs');
  const dest = join(tempDir(label), 'root');
  cpSync(src, dest, { recursive: true });
  return dest;
}

/** Rewrites one CSV cell (row = 1-based line number, header = line 1), keeping BOM and line ends. */
function setCsvCell(path: string, row: number, column: number, value: string): void {
  const text = readFileSync(path, 'utf8');
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  const cells = lines[row - 1]!.split(',');
  cells[column] = value;
  lines[row - 1] = cells.join(',');
  writeFileSync(path, lines.join(eol));
}

describe('categorical labels', () => {
  it('marks DaLiA activity and BUT-PPG quality as categorical (aligned by the mode), HR as numeric', async () => {
    const dalia = outputOf(await runStandalone(new DaliaLoader(), { params: { root: join(base, 'none'), ...SMALL } }), 'dataset', 'dataset');
    const d = dalia.meta.recordings[0]!;
    expect(d.labels['activity']!.categorical).toBe(true);
    expect(d.labels['hr']!.categorical).toBeUndefined();
    const but = outputOf(await runStandalone(new ButPpgLoader(), { params: { root: join(base, 'nobut'), syntheticSubjects: 3, recordsPerSubject: 3 } }), 'dataset', 'dataset');
    const b = but.meta.recordings[0]!;
    expect(b.labels['quality']!.categorical).toBe(true);
    expect(b.labels['hr']!.categorical).toBeUndefined();
  });
});

describe('data.but-ppg cell validation', () => {
  it('rejects an empty HR cell naming file, row and column; with skipBadSubjects skips that record with a warning', async () => {
    const ds = outputOf(await runStandalone(new ButPpgLoader(), { params: { root: join(base, 'nobut'), syntheticSubjects: 3, recordsPerSubject: 3 } }), 'dataset', 'dataset');
    const root = await copyRoot(ds.meta.source.root, 'but-bad');
    // quality-hr-ann.csv: ID,Quality,HR; line 3 = record 100002. subject-info.csv: column 2 = Age.
    setCsvCell(join(root, 'quality-hr-ann.csv'), 3, 2, '');
    setCsvCell(join(root, 'subject-info.csv'), 4, 2, 'n/a');
    await expect(runStandalone(new ButPpgLoader(), { params: { root } })).rejects.toThrow(
      /quality-hr-ann\.csv: row 3, column HR \(record 100002\) is empty/,
    );
    const { outputs, events } = await runStandalone(new ButPpgLoader(), { params: { root, skipBadSubjects: true } });
    const recs = outputOf({ outputs }, 'dataset', 'dataset').meta.recordings;
    expect(recs.map((r) => r.id)).not.toContain('100002');
    expect(recs).toHaveLength(8);
    const warns = logs(events, 'warn').join('\n');
    expect(warns).toMatch(/quality-hr-ann\.csv: row 3, column HR \(record 100002\) is empty; record skipped \(skipBadSubjects\)/);
    // Age "n/a" (record 100003): null and a warning, never NaN.
    expect(recs.find((r) => r.id === '100003')!.attributes['age']).toBeNull();
    expect(warns).toMatch(/subject-info\.csv: row 4, column Age \(record 100003\): "n\/a" is not a number; age set to null/);
    for (const r of recs) for (const v of Object.values(r.attributes)) expect(Number.isNaN(v)).toBe(false);
  });
});

describe('data.mimic validation', () => {
  it('drops implausible monitor HR values (outside 30–220 bpm) before the window mean and counts them', async () => {
    const { readRecord, writeRecord } = await import('../formats/wfdb/index.js');
    const ds = outputOf(await runStandalone(new MimicLoader(), { params: { root: join(base, 'nomimic'), syntheticSubjects: 2, syntheticMinutes: 1 } }), 'dataset', 'dataset');
    const meta = ds.meta;
    const root = await copyRoot(meta.source.root, 'mimic-hr');
    const rec = meta.recordings[0]!;
    const dir = join(root, 'p00', `p${rec.subject.padStart(6, '0')}`);
    const num = readRecord(join(dir, `${rec.id}n`));
    const hr = Float64Array.from(num.channels.find((c) => c.name === 'HR')!.physical);
    const pulse = num.channels.find((c) => c.name === 'PULSE')!.physical;
    // The first 10 s read 0 bpm (lead off), as monitors write.
    for (let t = 0; t < 10; t++) hr[t] = 0;
    writeRecord(dir, `${rec.id}n`, [
      { name: 'HR', units: 'bpm', gain: 10, physical: hr },
      { name: 'PULSE', units: 'bpm', gain: 10, physical: pulse },
    ], { fs: num.fs, format: 16, ...(num.baseTime ? { baseTime: num.baseTime } : {}), ...(num.baseDate ? { baseDate: num.baseDate } : {}) });
    const { outputs, events } = await runStandalone(new MimicLoader(), { params: { root } });
    const got = outputs['dataset']!.arrays[`${rec.id}/hr`]!.data;
    const want = ds.arrays[`${rec.id}/hr`]!.data;
    expect(got[0]).toBeNaN(); // window [0, 8) s holds only zeros
    // window [8, 16) s: mean of the 6 plausible values only
    const mean = hr.slice(10, 16).reduce((a, b) => a + b, 0) / 6;
    expect(got[4]).toBeCloseTo(mean, 1);
    for (let j = 5; j < want.length; j++) expect(got[j]).toBeCloseTo(want[j]!, 5);
    expect(logs(events, 'info').join('\n')).toMatch(new RegExp(`${rec.id}n\\.hea: 10 of 60 HR samples outside 30–220 bpm dropped`));
  });

  it('warns, naming file, subject and value, when PATIENTS.csv has an unknown GENDER or an unparseable DOB', async () => {
    const ds = outputOf(await runStandalone(new MimicLoader(), { params: { root: join(base, 'nomimic'), syntheticSubjects: 2, syntheticMinutes: 1 } }), 'dataset', 'dataset');
    const root = await copyRoot(ds.meta.source.root, 'mimic-patients');
    const table = join(root, 'PATIENTS.csv');
    // ROW_ID,SUBJECT_ID,GENDER,DOB,…: line 2 = subject 20 (the first), line 3 = the second.
    setCsvCell(table, 2, 2, '"U"');
    setCsvCell(table, 3, 3, 'unknown');
    const { outputs, events } = await runStandalone(new MimicLoader(), { params: { root } });
    const warns = logs(events, 'warn').join('\n');
    expect(warns).toMatch(/PATIENTS\.csv: row 2, subject 20: GENDER "U" is not M or F; sex unknown unless the record header gives it/);
    expect(warns).toMatch(/PATIENTS\.csv: row 3, subject \d+: DOB "unknown" has no year; age taken from the record header when it has one/);
    const recs = outputOf({ outputs }, 'dataset', 'dataset').meta.recordings;
    expect(recs[0]!.attributes['sex']).toBeNull();
  });
});
