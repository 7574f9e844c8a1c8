import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { artifact, ndarray, outputOf, runStandalone, type DatasetMeta } from '@fairtune/core';
import { WindowStage } from './window-stage.js';
import { ButPpgLoader } from '../loaders/but-ppg.js';
import { tempDir } from '../test-utils/paths.js';

function dataset(recordings: { id: string; subject: string; ppg: Float32Array; hr: Float32Array | null; activity?: Float32Array }[], fs = 4, hrTiming = { windowSeconds: 8, shiftSeconds: 2 }) {
  const arrays: Record<string, ReturnType<typeof ndarray>> = {};
  const meta: DatasetMeta = {
    name: 'toy',
    synthetic: true,
    source: { root: '/toy' },
    recordings: recordings.map((r) => {
      arrays[`${r.id}/ppg`] = ndarray(r.ppg);
      if (r.hr) arrays[`${r.id}/hr`] = ndarray(r.hr);
      if (r.activity) arrays[`${r.id}/activity`] = ndarray(r.activity);
      return {
        id: r.id,
        subject: r.subject,
        attributes: { sex: 'female' },
        signals: { ppg: { array: `${r.id}/ppg`, fs } },
        labels: {
          hr: { array: `${r.id}/hr`, ...hrTiming },
          ...(r.activity ? { activity: { array: `${r.id}/activity`, windowSeconds: 1, shiftSeconds: 1, categorical: true } } : {}),
        },
      };
    }),
  };
  return artifact('dataset', meta, arrays);
}

const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));

describe('preprocess.window', () => {
  it('names the recording and label when a label array is missing', async () => {
    const ds = dataset([{ id: 'r1', subject: 's1', ppg: wave(64), hr: null }]);
    await expect(runStandalone(new WindowStage(), { params: { windowSeconds: 8, shiftSeconds: 2 }, inputs: { dataset: ds } })).rejects.toThrow(
      'preprocess.window: recording r1 label "hr" points at array "r1/hr", which the dataset artifact does not have',
    );
  });

  it('leaves out subjects whose windows were all dropped, and takes the mode of categorical labels', async () => {
    const nan = new Float32Array(64).fill(NaN);
    // 8 s of activity: 5 s code 1 then 3 s code 7 → mode 1 (a mean would give 3.25).
    const activity = Float32Array.from([1, 1, 1, 1, 1, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
    const ds = dataset([
      { id: 'r1', subject: 's1', ppg: wave(32), hr: Float32Array.from([70]), activity },
      { id: 'r2', subject: 's2', ppg: nan, hr: Float32Array.from([80, 80, 80]) },
    ]);
    const r = await runStandalone(new WindowStage(), { params: { windowSeconds: 8, shiftSeconds: 2, normalisation: 'none' }, inputs: { dataset: ds } });
    const meta = outputOf(r, 'samples', 'samples').meta;
    expect(meta.subjects).toEqual(['s1']);
    expect(Array.from(r.outputs['samples']!.arrays['aux/activity']!.data)).toEqual([1]);
  });
});

describe('preprocess.window short: 10-s records under a 30-s window', () => {
  // One 10-s record at 1 Hz, samples 1..10, with one HR label covering the record (as BUT-PPG's annotation).
  const record = Float32Array.from({ length: 10 }, (_, i) => i + 1);
  const tenSeconds = () => dataset([{ id: 'r1', subject: 's1', ppg: record, hr: Float32Array.of(72) }], 1, { windowSeconds: 10, shiftSeconds: 10 });
  const run = (short?: string) =>
    runStandalone(new WindowStage(), { params: { windowSeconds: 30, shiftSeconds: 30, normalisation: 'none', ...(short ? { short } : {}) }, inputs: { dataset: tenSeconds() } });

  it('tile repeats the record three times and keeps its label; the rule is recorded in the samples meta', async () => {
    const s = outputOf(await run('tile'), 'samples', 'samples');
    expect(s.arrays['x']!.shape).toEqual([1, 30]);
    expect(Array.from(s.arrays['x']!.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from(s.arrays['y']!.data)).toEqual([72]);
    expect(s.meta.signal!.short).toBe('tile');
  });

  it('pad-edge repeats the last sample for the missing 20 s', async () => {
    const s = outputOf(await run('pad-edge'), 'samples', 'samples');
    expect(Array.from(s.arrays['x']!.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    expect(Array.from(s.arrays['y']!.data)).toEqual([72]);
    expect(s.meta.signal!.short).toBe('pad-edge');
  });

  it('drop (the default) leaves no window, and says which rule would keep the record', async () => {
    for (const short of ['drop', undefined]) {
      await expect(run(short)).rejects.toThrow("preprocess.window: windowing produced no windows from 1 recording(s) (1 shorter than 30 s were dropped; use short: 'pad-edge' or 'tile')");
    }
  });

  it('records no rule when no recording was short (the meta, and so a model trained on it, is as before)', async () => {
    const long = dataset([{ id: 'r1', subject: 's1', ppg: Float32Array.from({ length: 40 }, (_, i) => i), hr: Float32Array.of(72) }], 1, { windowSeconds: 40, shiftSeconds: 40 });
    const r = await runStandalone(new WindowStage(), { params: { windowSeconds: 30, shiftSeconds: 30, normalisation: 'none', short: 'tile' }, inputs: { dataset: long } });
    expect(outputOf(r, 'samples', 'samples').meta.signal).not.toHaveProperty('short');
  });

  it("windows the BUT-PPG loader's 10-s records (30 Hz) to 30 s under each rule", async () => {
    process.env['FAIRTUNE_SYNTHETIC_DIR'] = tempDir('short-butppg');
    const ds = outputOf(await runStandalone(new ButPpgLoader(), { params: { root: join(tempDir('short-butppg-root'), 'absent'), syntheticSubjects: 2, recordsPerSubject: 2 } }), 'dataset', 'dataset');
    const meta = ds.meta;
    const first = meta.recordings[0]!;
    const raw = ds.arrays[first.signals['ppg']!.array]!.data;
    expect(first.signals['ppg']!.fs).toBe(30);
    expect(raw.length).toBe(300);
    const window = async (short: string) => {
      return outputOf(await runStandalone(new WindowStage(), { params: { windowSeconds: 30, shiftSeconds: 30, normalisation: 'none', short }, inputs: { dataset: ds } }), 'samples', 'samples');
    };
    const tile = await window('tile');
    const pad = await window('pad-edge');
    expect(tile.arrays['x']!.shape).toEqual([4, 900]);
    const t0 = tile.arrays['x']!.data.subarray(0, 900);
    const p0 = pad.arrays['x']!.data.subarray(0, 900);
    // Sample 300 starts the second copy (tile) or repeats sample 299 (pad-edge); 899 = 299 of the third copy.
    for (const i of [0, 150, 299]) expect([t0[i], p0[i]]).toEqual([raw[i], raw[i]]);
    for (const i of [300, 450, 599, 600, 899]) expect([t0[i], p0[i]]).toEqual([raw[i % 300], raw[299]]);
    expect(tile.arrays['y']!.data[0]).toBe(ds.arrays[first.labels['hr']!.array]!.data[0]);
    expect([tile.meta.signal!.short, pad.meta.signal!.short]).toEqual(['tile', 'pad-edge']);
    await expect(window('drop')).rejects.toThrow(/no windows from 4 recording\(s\) \(4 shorter than 30 s were dropped/);
  });
});
