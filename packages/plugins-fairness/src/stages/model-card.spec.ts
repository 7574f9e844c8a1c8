import { readFileSync } from 'node:fs';
import { artifact, ndarray, outputOf, runStandalone, type JsonObject, type KindArtifact, type ModelMeta, type PredictionsMeta } from '@fairtune/core';
import { splitSizes } from '../report/model-card.js';
import { evalMetricsStage } from './eval-metrics.js';
import { modelCardStage } from './model-card.js';

/** 16 subjects: female 0–7, male 8–15; split train (0–3, 8–13), test (4–7, 14–15): male has 2 test subjects. */
function predictions(): KindArtifact<'predictions'> {
  const cols = { yTrue: [] as number[], yPred: [] as number[], subject: [] as number[], group: [] as number[], split: [] as number[], activity: [] as number[] };
  for (let s = 0; s < 16; s++) {
    const g = s < 8 ? 0 : 1;
    const test = (s >= 4 && s < 8) || s >= 14;
    for (let w = 0; w < 5; w++) {
      const y = 58 + 14 * w + s;
      cols.yTrue.push(y);
      cols.yPred.push(y + (g ? -2 : 3) + (((s * 7 + w * 3) % 5) - 2) * (1 + (s % 3)));
      cols.subject.push(s);
      cols.group.push(g);
      cols.split.push(test ? 1 : 0);
      cols.activity.push([1, 2, 7][w % 3]!);
    }
  }
  const meta: PredictionsMeta = {
    task: 'regression',
    target: { name: 'hr', units: 'bpm' },
    dataset: 'dalia',
    synthetic: true,
    subjects: Array.from({ length: 16 }, (_, s) => `S${s + 1}`),
    splits: ['train', 'test'],
    groups: { attributes: ['sex'], names: ['female', 'male'] },
    method: 'group-dro',
  };
  return artifact('predictions', meta, {
    yTrue: ndarray(Float32Array.from(cols.yTrue)),
    yPred: ndarray(Float32Array.from(cols.yPred)),
    subject: ndarray(Int32Array.from(cols.subject)),
    group: ndarray(Int32Array.from(cols.group)),
    split: ndarray(Int8Array.from(cols.split)),
    'aux/activity': ndarray(Float32Array.from(cols.activity)),
  });
}

const modelMeta: ModelMeta & { training: JsonObject; bestEpoch: number } = {
  architecture: 'ppg-gpt',
  config: { preset: 'tiny', windowLength: 1200, fs: 40, dModel: 64, nLayers: 2 },
  inputSpec: { modality: 'ppg', fs: 40, length: 1200, channels: 1, signals: ['ppg'], processing: [{ op: 'bandpass', low: 0.5, high: 8, order: 2 }, { op: 'resample', fs: 40 }] },
  task: 'regression',
  target: { name: 'hr', units: 'bpm' },
  groups: { attributes: ['sex'], names: ['female', 'male'] },
  parameterCount: 107793,
  trainableParameterCount: 107793,
  method: 'group-dro',
  training: { strategy: { name: 'group-dro', params: { stepSize: 0.01, adjustment: 0, normalizeLoss: false } }, epochs: 12, batchSize: 32, learningRate: 0.001, seed: 7 },
  bestEpoch: 9,
};

describe('report.model-card', () => {
  it('writes model-card.md and model-card.json with data, group sizes, method, metrics with CIs, synthetic flag and known limits', async () => {
    const pred = predictions();
    const metrics = outputOf(await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 20 }, label: 'group-dro · DaLiA test' }, inputs: { predictions: pred }, seed: 7 }), 'metrics', 'metrics');
    const model = artifact('model', modelMeta);
    const { outputs } = await runStandalone(modelCardStage, { params: { limitations: ['Pretrained on the training subjects only.'] }, inputs: { model, metrics: [metrics], predictions: pred } });
    const report = outputs.report!;
    expect(Object.keys(report.files).sort()).toEqual(['model-card.json', 'model-card.md']);
    const card = JSON.parse(readFileSync(report.files['model-card.json']!, 'utf8'));
    expect(card.schema).toBe('fairtune-model-card/1');
    expect(card.title).toBe('Model card: group-dro');
    expect(card.synthetic).toBe(true);
    expect(card.method).toEqual({ name: 'group-dro', training: modelMeta.training, bestEpoch: 9, strategyState: null });
    expect(card.data.splits).toEqual({
      train: { subjects: 10, windows: 50, groups: { female: { subjects: 4, windows: 20 }, male: { subjects: 6, windows: 30 } } },
      test: { subjects: 6, windows: 30, groups: { female: { subjects: 4, windows: 20 }, male: { subjects: 2, windows: 10 } } },
    });
    const ev = card.evaluations[0];
    const mmeta = metrics.meta;
    expect(ev.label).toBe('group-dro · DaLiA test');
    expect(ev.metrics.mae).toEqual({ value: mmeta.overall!.mae, lo: mmeta.ci!.intervals!['overall.mae'].lo, hi: mmeta.ci!.intervals!['overall.mae'].hi });
    expect(ev.metrics.loaUpper.value).toBe(mmeta.overall!.loaUpper);
    expect(ev.groups.male.subjects).toBe(2);
    expect(ev.groups.female.bias.value).toBe(mmeta.groups!.female.bias);
    // both groups are below minSubjects 5: no gap, and the card says why
    expect(ev.metrics.maeGap.value).toBeNull();
    expect(ev.smallGroups).toEqual([{ group: 'female', subjects: 4 }, { group: 'male', subjects: 2 }]);
    expect(ev.byTargetBin.strata).toEqual(['<60', '60–80', '80–100', '100–120', '≥120']);
    expect(ev.byActivity.strata).toEqual(['sitting', 'stairs', 'walking']);
    expect(card.limitations).toEqual(expect.arrayContaining([
      expect.stringMatching(/^Synthetic data:/),
      'dalia test split: group male has 2 subject(s), fewer than minSubjects = 5; its metrics are imprecise and it is left out of every gap.',
      expect.stringMatching(/^dalia test split: no gap reported \(null\): no group has at least 5 subjects/),
      'Training subjects are imbalanced across groups: female 40 %, male 60 % (of 10).',
      'Pretrained on the training subjects only.',
    ]));

    const md = readFileSync(report.files['model-card.md']!, 'utf8');
    expect(md).toMatch(/^# Model card: group-dro\n\n> \*\*Synthetic data\.\*\*/);
    expect(md).toMatch(/- ppg-gpt \(preset tiny\): 107,793 parameters, 107,793 trained in fine-tuning\./);
    expect(md).toMatch(/- Input: 1200 samples at 40 Hz \(30 s\) of ppg; processing: band-pass 0\.5–8 Hz \(Butterworth order 2, zero-phase\), then resampled to 40 Hz\./);
    expect(md).toMatch(/- Training strategy: \*\*group-dro\*\*, params \{"stepSize":0\.01,"adjustment":0,"normalizeLoss":false\}\./);
    expect(md).toMatch(/- Settings: epochs 12, batchSize 32, learningRate 0\.001, seed 7; best validation epoch 9\./);
    expect(md).toMatch(/\| split \| all \| female \| male \|\n\|---\|---:\|---:\|---:\|\n\| train \| 10 \(50\) \| 4 \(20\) \| 6 \(30\) \|\n\| test \| 6 \(30\) \| 4 \(20\) \| 2 \(10\) \|/);
    expect(md).toMatch(/## Evaluation: dalia test split \(group-dro · DaLiA test\)/);
    expect(md).toMatch(/\| MAE \| \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \|/);
    expect(md).toMatch(/\| Gap \(max − min group MAE\) \| n\/a \|/);
    expect(md).toMatch(/\| group \| subjects \| windows \| MAE \| Bias \| LoA lower \| LoA upper \| Subject-weighted MAE \|/);
    expect(md).toMatch(/\| male \| 2 \| 10 \| \d+\.\d\d \[/);
    expect(md).toMatch(/\| stratum \| female \| male \| gap \|/);
    expect(md).toMatch(/\| sitting \| \d+\.\d\d \(4\) \| \d+\.\d\d \(2\) \| n\/a \|/);
    expect(md).toMatch(/## Intended use\n\nResearch on bias in PPG heart-rate estimation/);
    expect(md).toMatch(/## Known limits\n\n- Synthetic data:/);
  });

  it('counts subjects and windows per split and group, unknown groups last', () => {
    const meta: PredictionsMeta = { task: 'regression', target: { name: 'hr' }, dataset: 'd', synthetic: true, subjects: ['s0', 's1', 's2', 's3'], splits: ['train', 'test'], groups: { attributes: ['sex'], names: ['female', 'male'] } };
    expect(splitSizes(meta, [0, 0, 1, 2, 3], [1, 1, -1, 0, 0], [0, 0, 0, 1, 1])).toEqual({
      train: { subjects: 2, windows: 3, groups: { male: { subjects: 1, windows: 2 }, unknown: { subjects: 1, windows: 1 } } },
      test: { subjects: 2, windows: 2, groups: { female: { subjects: 2, windows: 2 } } },
    });
  });

  it('says what it lacks: no training settings, no predictions input', async () => {
    const pred = predictions();
    const metrics = (await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 }, minSubjects: 2 }, inputs: { predictions: pred } })).outputs.metrics!;
    const { training: _t, bestEpoch: _b, ...old } = modelMeta;
    const { outputs } = await runStandalone(modelCardStage, { inputs: { model: artifact('model', old), metrics: [metrics] } });
    const md = readFileSync(outputs.report!.files['model-card.md']!, 'utf8');
    expect(md).toMatch(/- Settings: not recorded in the model/);
    expect(md).toMatch(/- Training data sizes: not available/);
    expect(md).toMatch(/No CIs \(bootstrap off\)\./);
    expect(md).toMatch(/\| Gap \(max − min group MAE\) \| \d+\.\d\d \|/);
  });
});

describe('report.model-card Markdown', () => {
  it('escapes the | of intersectional group names in tables', async () => {
    const base = predictions();
    const meta = { ...base.meta, groups: { attributes: ['sex', 'age'], names: ['female|>50', 'male|<=50'], ageThreshold: 50 } };
    const pred = { ...base, meta };
    const metrics = (await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions: pred } })).outputs.metrics!;
    const model = artifact('model', { ...modelMeta, groups: meta.groups });
    const { outputs } = await runStandalone(modelCardStage, { inputs: { model, metrics: [metrics], predictions: pred } });
    const md = readFileSync(outputs.report!.files['model-card.md']!, 'utf8');
    expect(md).toMatch(/- Groups: sex × age \(≤50 \/ >50 years\): female\|>50, male\|<=50\./);
    expect(md).toMatch(/\| split \| all \| female\\\|>50 \| male\\\|<=50 \|/);
    expect(md).toMatch(/\| male\\\|<=50 \| 2 \| 10 \|/);
    expect(md).toMatch(/\| stratum \| female\\\|>50 \| male\\\|<=50 \| gap \|/);
  });
});
