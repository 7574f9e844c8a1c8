import { describe, expect, it } from '@jest/globals';
import { artifact, ndarray, runStandalone, type DatasetMeta, type SamplesMeta } from '@fairtune/core';
import { WindowStage } from './window-stage.js';

function dataset(recordings: { id: string; subject: string; ppg: Float32Array; hr: Float32Array | null; activity?: Float32Array }[]) {
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
        signals: { ppg: { array: `${r.id}/ppg`, fs: 4 } },
        labels: {
          hr: { array: `${r.id}/hr`, windowSeconds: 8, shiftSeconds: 2 },
          ...(r.activity ? { activity: { array: `${r.id}/activity`, windowSeconds: 1, shiftSeconds: 1, categorical: true } } : {}),
        },
      };
    }),
  };
  return artifact('dataset', meta as never, arrays);
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
    const { outputs } = await runStandalone(new WindowStage(), { params: { windowSeconds: 8, shiftSeconds: 2, normalisation: 'none' }, inputs: { dataset: ds } });
    const meta = outputs['samples']!.meta as SamplesMeta;
    expect(meta.subjects).toEqual(['s1']);
    expect(Array.from(outputs['samples']!.arrays['aux/activity']!.data)).toEqual([1]);
  });
});
