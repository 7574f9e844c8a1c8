import { existsSync, readFileSync } from 'node:fs';
import { Container } from 'inversify';
import { artifact, CLI_COMMAND, ndarray, STAGE_PLUGIN, TRAINING_STRATEGY, resolveParams, Rng, runStandalone, type Artifact, type JsonObject, type PredictionsMeta } from '@fairtune/core';
import { containerModule } from '../index.js';
import { regressionMetrics } from '../metrics/regression.js';
import { evalMetricsStage } from './eval-metrics.js';
import { reportCompareStage } from './report-compare.js';

/** 12 subjects (6 female, 6 male), 5 windows each; split test = subjects 8..11; male error larger by `bias`. */
function cohort(method: string, bias: number, seed: number): { predictions: Artifact; embeddings: Artifact } {
  const rng = new Rng(seed);
  const yTrue: number[] = [];
  const yPred: number[] = [];
  const subject: number[] = [];
  const group: number[] = [];
  const split: number[] = [];
  const z: number[] = [];
  for (let s = 0; s < 12; s++) {
    const g = s % 2;
    for (let w = 0; w < 5; w++) {
      const y = 60 + 40 * rng.next();
      yTrue.push(y);
      yPred.push(y + rng.normal(0, 2 + bias * g));
      subject.push(s);
      group.push(g);
      split.push(s < 8 ? 0 : 1);
      z.push(rng.normal(bias * g), rng.normal(), rng.normal());
    }
  }
  const meta: PredictionsMeta = {
    task: 'regression',
    target: { name: 'hr', units: 'bpm' },
    dataset: 'synthetic-dalia',
    synthetic: true,
    subjects: Array.from({ length: 12 }, (_, s) => `S${s + 1}`),
    splits: ['train', 'test'],
    groups: { attributes: ['sex'], names: ['female', 'male'] },
    method,
  };
  const arrays = {
    yTrue: ndarray(Float32Array.from(yTrue)),
    yPred: ndarray(Float32Array.from(yPred)),
    subject: ndarray(Int32Array.from(subject)),
    group: ndarray(Int32Array.from(group)),
    split: ndarray(Int8Array.from(split)),
  };
  return {
    predictions: artifact('predictions', meta as unknown as JsonObject, arrays),
    embeddings: artifact('embeddings', meta as unknown as JsonObject, { z: ndarray(Float32Array.from(z), [60, 3]), subject: arrays.subject, group: arrays.group, split: arrays.split }),
  };
}

describe('eval.metrics', () => {
  it('computes the test-split metrics, representation metrics and subject bootstrap CIs', async () => {
    const { predictions, embeddings } = cohort('erm', 4, 1);
    const { outputs, events } = await runStandalone(evalMetricsStage, {
      params: { bootstrap: { replicates: 25 } },
      inputs: { predictions, embeddings },
      seed: 3,
    });
    const meta = outputs.metrics!.meta as Record<string, any>;
    const rows = Array.from({ length: 60 }, (_, i) => i).filter((i) => i >= 40);
    const direct = regressionMetrics(
      rows.map((i) => predictions.arrays.yTrue!.data[i]!),
      rows.map((i) => predictions.arrays.yPred!.data[i]!),
      rows.map((i) => predictions.arrays.group!.data[i]!),
    );
    expect(meta.n).toBe(20);
    expect(meta.subjects).toBe(4);
    expect(meta.synthetic).toBe(true);
    expect(meta.overall.mae).toBeCloseTo(direct.mae, 10);
    expect(meta.overall.maeGap).toBeCloseTo(direct.maeGap, 10);
    expect(meta.groups.male.mae).toBeCloseTo(direct.groups[1]!.mae, 10);
    expect(meta.representation.mmd2).toBeGreaterThan(0.1); // groups are 4σ apart on one axis
    expect(meta.representation.silhouette).toBeGreaterThan(0.2);
    expect(meta.ci.unit).toBe('subject');
    for (const key of ['overall.mae', 'overall.maeGap', 'groups.female.mae', 'representation.mmd2', 'representation.silhouette']) {
      expect(meta.ci.intervals[key].valid).toBe(25);
      expect(meta.ci.intervals[key].lo).toBeLessThanOrEqual(meta.ci.intervals[key].hi);
    }
    expect(events.some((e) => e.type === 'metric' && e.name === 'maeGap')).toBe(true);
    // same seed → same artifact
    const again = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 25 } }, inputs: { predictions, embeddings }, seed: 3 });
    expect(again.outputs.metrics!.meta).toEqual(outputs.metrics!.meta);
  });

  it('rejects an unknown split, naming it', async () => {
    const { predictions } = cohort('erm', 1, 2);
    await expect(runStandalone(evalMetricsStage, { params: { split: 'val' }, inputs: { predictions } })).rejects.toThrow(/no split "val" \(splits: train, test\)/);
  });

  it('rejects a split when the predictions have no split array, pointing to split: null', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const { split: _split, ...arrays } = predictions.arrays;
    const noSplit = { ...predictions, arrays };
    await expect(runStandalone(evalMetricsStage, { params: { split: 'test' }, inputs: { predictions: noSplit } })).rejects.toThrow(
      /predictions artifact has no "split" array, so split "test" cannot be selected; set split: null/,
    );
    const all = await runStandalone(evalMetricsStage, { params: { split: null, bootstrap: { replicates: 0 } }, inputs: { predictions: noSplit } });
    expect((all.outputs['metrics']!.meta as { n: number }).n).toBe(60);
  });

  it('rejects arrays whose length does not match the rows', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const bad = { ...predictions, arrays: { ...predictions.arrays, subject: ndarray(new Int32Array(3)) } };
    await expect(runStandalone(evalMetricsStage, { inputs: { predictions: bad } })).rejects.toThrow(/predictions artifact array "subject" has 3 elements, expected 60/);
  });

  it('applies schema defaults', () => {
    expect(resolveParams(evalMetricsStage, {})).toEqual({
      split: 'test',
      threshold: 0.5,
      eceBins: 15,
      bootstrap: { replicates: 200, alpha: 0.05 },
      representation: { maxSamples: 2000, sigma: null },
    });
  });
});

describe('eval.metrics labels', () => {
  it('labels its metrics with params.label, else with the predictions method', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const labelled = await runStandalone(evalMetricsStage, { params: { label: 'erm · DaLiA test' }, inputs: { predictions } });
    expect((labelled.outputs['metrics']!.meta as { method: string }).method).toBe('erm · DaLiA test');
    const plain = await runStandalone(evalMetricsStage, { inputs: { predictions } });
    expect((plain.outputs['metrics']!.meta as { method: string }).method).toBe('erm');
  });
});

describe('report.compare', () => {
  it('writes a Markdown/JSON report with CIs, seed aggregation, relative change and SVG figures', async () => {
    const evaluate = async (method: string, bias: number, seed: number) => {
      const c = cohort(method, bias, seed);
      const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 10 } }, inputs: c, seed });
      return { metrics: outputs.metrics!, embeddings: c.embeddings };
    };
    const erm = await evaluate('erm', 4, 1);
    const if1 = await evaluate('inverse-frequency', 1, 2);
    const if2 = await evaluate('inverse-frequency', 1, 3);
    const curves = artifact('json', { method: 'erm', history: [{ epoch: 0, trainLoss: 3 }, { epoch: 1, trainLoss: 2 }] });
    const { outputs } = await runStandalone(reportCompareStage, {
      inputs: { metrics: [if1.metrics, erm.metrics, if2.metrics], embeddings: [erm.embeddings, if1.embeddings], curves: [curves] },
    });
    const report = outputs.report!;
    expect(Object.keys(report.files).sort()).toEqual([
      'embeddings-pca.svg', 'embeddings-pca.vl.json', 'per-group-mae.svg', 'per-group-mae.vl.json',
      'report.json', 'report.md', 'training-curves.svg', 'training-curves.vl.json',
    ]);
    for (const path of Object.values(report.files)) expect(existsSync(path)).toBe(true);
    expect(readFileSync(report.files['per-group-mae.svg']!, 'utf8')).toMatch(/^<svg/);
    const md = readFileSync(report.files['report.md']!, 'utf8');
    expect(md).toMatch(/\*\*Synthetic data\.\*\*/);
    expect(md).toMatch(/Evaluated on \S+ test split \(\d+ samples, \d+ subjects per run, 3 runs\)\./);
    expect(md).toMatch(/\| Method \| MAE \| MAE \(female\) \| MAE \(male\) \| Gap \(max−min MAE\) \| Worst-group MAE \| MMD² \| Silhouette \|/);
    expect(md).toMatch(/\| erm \| \d+\.\d{3} \[\d+\.\d{3}, \d+\.\d{3}\]/); // single run: value [CI]
    expect(md).toMatch(/\| inverse-frequency \| \d+\.\d{3} ± \d+\.\d{3} \(2 seeds\)/);
    const json = JSON.parse(readFileSync(report.files['report.json']!, 'utf8'));
    expect(json.methods.map((m: { method: string }) => m.method)).toEqual(['erm', 'inverse-frequency']);
    const ermGap = json.methods[0].metrics['overall.maeGap'].value;
    const ifGap = json.methods[1].metrics['overall.maeGap'].value;
    expect(json.methods[1].relativeToBaselinePercent['overall.maeGap']).toBeCloseTo((100 * (ifGap - ermGap)) / Math.abs(ermGap), 8);
    expect(ifGap).toBeLessThan(ermGap); // the cohorts were built with a smaller group effect for IF
    expect(json.projections).toHaveLength(2);
  });

  it('pairs runs of two methods by seed and reports the per-seed differences', async () => {
    const evaluate = async (method: string, bias: number, seed: number) =>
      (await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions: cohort(method, bias, seed).predictions }, seed })).outputs.metrics!;
    const runs = [await evaluate('erm', 4, 2), await evaluate('erm', 4, 3), await evaluate('inverse-frequency', 1, 2), await evaluate('inverse-frequency', 1, 3), await evaluate('inverse-frequency', 1, 9)];
    expect((runs[0]!.meta as { seed?: number }).seed).toBe(2);
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toMatch(/## Paired differences against erm \(same seed\)/);
    expect(md).toMatch(/\| inverse-frequency \| [+-]\d+\.\d{3} ± \d+\.\d{3} \(lower on \d\/2\) \| -\d+\.\d{3} ± \d+\.\d{3} \(lower on 2\/2\)/);
    const json = JSON.parse(readFileSync(outputs.report!.files['report.json']!, 'utf8'));
    const gap = (a: Artifact) => (a.meta as { overall: { maeGap: number } }).overall.maeGap;
    const d = [gap(runs[2]!) - gap(runs[0]!), gap(runs[3]!) - gap(runs[1]!)];
    // Seed 9 has no ERM run and stays out of the pairs.
    expect(json.methods[1].pairedToBaseline['overall.maeGap'].n).toBe(2);
    expect(json.methods[1].pairedToBaseline['overall.maeGap'].mean).toBeCloseTo((d[0]! + d[1]!) / 2, 10);
    expect(json.methods[1].pairedToBaseline['overall.maeGap'].std).toBeCloseTo(Math.abs(d[0]! - d[1]!) / Math.SQRT2, 10);
  });

  it('fails clearly when the embeddings to project lack the requested split', async () => {
    const { predictions, embeddings } = cohort('erm', 1, 2);
    const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions } });
    await expect(
      runStandalone(reportCompareStage, { params: { split: 'val' }, inputs: { metrics: [outputs.metrics!], embeddings: [embeddings] } }),
    ).rejects.toThrow(/embeddings \(erm\) has no split "val" \(splits: train, test\)/);
    const { split: _split, ...arrays } = embeddings.arrays;
    await expect(
      runStandalone(reportCompareStage, { inputs: { metrics: [outputs.metrics!], embeddings: [{ ...embeddings, arrays }] } }),
    ).rejects.toThrow(/embeddings \(erm\) has no "split" array, so split "test" cannot be selected; set split: null/);
  });

  it('explains unreadable training curves', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions } });
    await expect(
      runStandalone(reportCompareStage, { inputs: { metrics: [outputs.metrics!], curves: [artifact('json', { method: 'erm', losses: [1, 2] })] } }),
    ).rejects.toThrow(/has neither meta\.history .* nor meta\.curves/);
  });
});

describe('containerModule', () => {
  it('binds the stages, the four mitigation strategies and the metrics command', async () => {
    const c = new Container();
    await c.load(containerModule);
    expect(c.getAll(STAGE_PLUGIN).map((s) => s.type).sort()).toEqual(['eval.metrics', 'report.compare']);
    expect(c.getAll(TRAINING_STRATEGY).map((s) => s.name).sort()).toEqual(['adversarial', 'group-dro', 'group-reweight', 'inverse-frequency']);
    expect(c.getAll(CLI_COMMAND).map((x) => x.name)).toEqual(['metrics']);
  });
});
