import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { outputOf, runStandalone } from '@fairtune/core';
import { csvPpgLoader } from './loader.js';
import { csvPpgInspector } from './inspector.js';
import { writeCsvFolder } from './test-utils/fixture.js';

const load = (root: string, params: Record<string, unknown> = {}) => runStandalone(csvPpgLoader, { params: { root, fs: 32, ...params } as never });

describe('csv-ppg.load', () => {
  it('emits a dataset artifact: a recording per CSV, the subject from the file name, attributes from subjects.csv', async () => {
    const root = writeCsvFolder();
    const { outputs, events } = await load(root);
    const ds = outputOf({ outputs }, 'dataset', 'dataset');
    expect(ds.kind).toBe('dataset');
    const meta = ds.meta;
    expect(meta.name).toBe('csv-ppg');
    expect(meta.synthetic).toBe(false);
    expect(meta.recordings.map((r) => [r.id, r.subject])).toEqual([
      ['S1_rest', 'S1'],
      ['S1_walk', 'S1'],
      ['S2', 'S2'],
      // "S2_b" is a subject of its own: the longest matching id wins over S2 + session "b".
      ['S2_b', 'S2_b'],
    ]);
    expect(meta.recordings[2]!.attributes).toEqual({ sex: 'male', age: 58, site: 'ward, north' });
    expect(meta.recordings[3]!.attributes).toEqual({ sex: 'female', age: null, site: 'ward, north' });
    const s1 = meta.recordings[0]!;
    expect(s1.signals['ppg']).toEqual({ array: 'S1_rest/ppg', fs: 32, units: 'a.u.' });
    expect(s1.labels['hr']).toEqual({ array: 'S1_rest/hr', windowSeconds: 1 / 32, shiftSeconds: 1 / 32, offsetSeconds: 0, units: 'bpm' });
    expect(ds.arrays['S1_rest/ppg']!.shape).toEqual([320]);
    expect(ds.arrays['S1_rest/ppg']!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(ds.arrays['S1_walk/hr']!.data.slice(0, 3))).toEqual([82, 82, 82]);
    // The first PPG value of S1_rest as written (t = 0: sin 0 + noise), read back as float32.
    const firstPpg = Number(readFileSync(join(root, 'S1_rest.csv'), 'utf8').split('\r\n')[1]!.split(',')[1]);
    expect(ds.arrays['S1_rest/ppg']!.data[0]).toBeCloseTo(firstPpg, 5);
    expect(s1.files![0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(events.filter((e) => e.type === 'metric')).toEqual([
      { type: 'metric', name: 'recordings', value: 4 },
      { type: 'metric', name: 'subjects', value: 3 },
    ]);
  });

  it('names the file and line of a row off the declared rate, of a bad cell, and of a bad sex', async () => {
    const root = writeCsvFolder();
    await expect(load(root, { fs: 25 })).rejects.toThrow(/S1_rest\.csv:4: time is 0\.0625 s, expected 0\.080000 s at the declared 25 Hz/);
    const file = join(root, 'S2.csv');
    const lines = readFileSync(file, 'utf8').split('\r\n');
    lines.splice(5, 1); // a dropped row: every later time is one sample late
    writeFileSync(file, lines.join('\r\n'));
    await expect(load(root)).rejects.toThrow(/S2\.csv:6: time is 0\.15625 s, expected 0\.125000 s/);
    lines[3] = lines[3]!.replace(/,[^,]+,/, ',abc,');
    writeFileSync(file, lines.join('\r\n'));
    await expect(load(root)).rejects.toThrow(/S2\.csv:4: column ppg is "abc", not a finite number/);
    await expect(load(root)).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file } });
    writeFileSync(join(root, 'subjects.csv'), 'subject,sex\nS1,female\nS2,x\nS2_b,m\n');
    await expect(load(root)).rejects.toThrow(/subjects\.csv:3: column sex is "x"/);
  });

  it('names a recording without a subject, a missing column and a column named twice', async () => {
    const root = writeCsvFolder();
    writeFileSync(join(root, 'S9.csv'), 'time,ppg,hr\n0,1,60\n0.03125,1,60\n');
    await expect(load(root)).rejects.toThrow(/S9\.csv: no subject in subjects\.csv/);
    await expect(load(writeCsvFolder(), { signals: ['ppg', 'ecg'] })).rejects.toThrow(/S1_rest\.csv: no signal or label column "ecg" \(columns: time, ppg, hr\)/);
    await expect(load(writeCsvFolder(), { labels: ['ppg'] })).rejects.toThrow(/column "ppg" is named twice/);
    await expect(load(writeCsvFolder(), { labels: ['ppg'] })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'labels' } });
  });

  it('names the subjects table a folder lacks, with FT_DATA_MISSING', async () => {
    const root = join(writeCsvFolder(), 'absent');
    await expect(load(root)).rejects.toMatchObject({ code: 'FT_DATA_MISSING', about: { file: join(root, 'subjects.csv') } });
  });

  it('fingerprints the folder: a changed recording changes it', () => {
    const root = writeCsvFolder();
    const before = csvPpgLoader.fingerprint!({ root } as never);
    expect(csvPpgLoader.fingerprint!({ root } as never)).toBe(before);
    writeFileSync(join(root, 'S2.csv'), 'time,ppg,hr\n0,1,60\n0.03125,1,60\n');
    expect(csvPpgLoader.fingerprint!({ root } as never)).not.toBe(before);
  });
});

describe('the CSV-folder dataset inspector', () => {
  it('recognises the folder and only it', () => {
    const root = writeCsvFolder();
    expect(csvPpgInspector.canInspect(root)).toBe(true);
    const other = writeCsvFolder();
    writeFileSync(join(other, 'subjects.csv'), 'id,sex\nS1,f\n');
    expect(csvPpgInspector.canInspect(other)).toBe(false);
  });

  it('describes subjects, their attributes and each recording\'s implied rate', () => {
    const root = writeCsvFolder({ fs: 50, seconds: 4 });
    const out = csvPpgInspector.inspect(root) as { subjects: Record<string, unknown>[]; attributeCounts: Record<string, Record<string, number>> };
    expect(out.subjects[0]).toEqual({
      id: 'S1',
      sex: 'female',
      age: 31,
      site: 'ward, north',
      records: 2,
      signals: [
        { name: 'S1_rest.csv:ppg', fs: 50, samples: 200 },
        { name: 'S1_rest.csv:hr', fs: 50, samples: 200 },
        { name: 'S1_walk.csv:ppg', fs: 50, samples: 200 },
        { name: 'S1_walk.csv:hr', fs: 50, samples: 200 },
      ],
    });
    expect(out.attributeCounts['sex']).toEqual({ female: 2, male: 1 });
    expect(out.attributeCounts['age']).toEqual({ '31': 1, '58': 1, null: 1 });
  });
});
