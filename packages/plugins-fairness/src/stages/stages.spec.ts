import { existsSync, readFileSync } from 'node:fs';
import { Container } from 'inversify';
import { artifact, CLI_COMMAND, ndarray, outputOf, STAGE_PLUGIN, TRAINING_STRATEGY, resolveParams, Rng, runStandalone, type Artifact, type JsonObject, type KindArtifact, type PredictionsMeta } from '@fairtune/core';
import { containerModule } from '../index.js';
import { regressionMetrics } from '../metrics/regression.js';
import { DALIA_ACTIVITY_NAMES, evalMetricsStage } from './eval-metrics.js';
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
    predictions: artifact('predictions', meta, arrays),
    embeddings: artifact('embeddings', meta, { z: ndarray(Float32Array.from(z), [60, 3]), subject: arrays.subject, group: arrays.group, split: arrays.split }),
  };
}

/** A regression metrics artifact as eval.metrics writes it, two equal-sized groups, no CIs. */
function metricsArtifact(method: string, seed: number, female: number, male: number, at: { dataset?: string; split?: string | null; trainedOn?: string } = {}): Artifact {
  return artifact('metrics', {
    method,
    ...(at.trainedOn ? { trainedOn: at.trainedOn } : {}),
    dataset: at.dataset ?? 'synthetic-dalia',
    synthetic: true,
    task: 'regression',
    target: { name: 'hr', units: 'bpm' },
    split: at.split === undefined ? 'test' : at.split,
    seed,
    n: 200,
    subjects: 12,
    overall: { mae: (female + male) / 2, maeGap: Math.abs(female - male), worstGroupMae: Math.max(female, male) },
    groups: { female: { n: 100, mae: female }, male: { n: 100, mae: male } },
    warnings: [],
  } as JsonObject);
}

describe('eval.metrics', () => {
  it('computes the test-split metrics, representation metrics and subject bootstrap CIs', async () => {
    const { predictions, embeddings } = cohort('erm', 4, 1);
    // two test subjects per group: minSubjects 2 lets them into the gap
    const { outputs, events } = await runStandalone(evalMetricsStage, {
      params: { bootstrap: { replicates: 25 }, minSubjects: 2 },
      inputs: { predictions, embeddings },
      seed: 3,
    });
    const meta = outputOf({ outputs }, 'metrics', 'metrics').meta;
    const rows = Array.from({ length: 60 }, (_, i) => i).filter((i) => i >= 40);
    const direct = regressionMetrics(
      rows.map((i) => predictions.arrays.yTrue!.data[i]!),
      rows.map((i) => predictions.arrays.yPred!.data[i]!),
      rows.map((i) => predictions.arrays.group!.data[i]!),
    );
    expect(meta.n).toBe(20);
    expect(meta.subjects).toBe(4);
    expect(meta.synthetic).toBe(true);
    expect(meta.overall!.mae).toBeCloseTo(direct.mae, 10);
    expect(meta.overall!.maeGap).toBeCloseTo(direct.maeGap, 10);
    expect(meta.groups!.male.mae).toBeCloseTo(direct.groups[1]!.mae, 10);
    expect(meta.representation!.mmd2).toBeGreaterThan(0.1); // groups are 4σ apart on one axis
    expect(meta.representation!.silhouette).toBeGreaterThan(0.2);
    expect(meta.ci!.unit).toBe('subject');
    for (const key of ['overall.mae', 'overall.maeGap', 'groups.female.mae', 'representation.mmd2', 'representation.silhouette']) {
      expect(meta.ci!.intervals![key].valid).toBe(25);
      expect(meta.ci!.intervals![key].lo).toBeLessThanOrEqual(meta.ci!.intervals![key].hi!);
    }
    expect(events.some((e) => e.type === 'metric' && e.name === 'maeGap')).toBe(true);
    // same seed → same artifact
    const again = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 25 }, minSubjects: 2 }, inputs: { predictions, embeddings }, seed: 3 });
    expect(again.outputs.metrics!.meta).toEqual(outputs.metrics!.meta);
  });

  it('rejects an unknown split, naming it', async () => {
    const { predictions } = cohort('erm', 1, 2);
    await expect(runStandalone(evalMetricsStage, { params: { split: 'val' }, inputs: { predictions } })).rejects.toThrow(/no split "val" \(splits: train, test\)/);
    await expect(runStandalone(evalMetricsStage, { params: { split: 'val' }, inputs: { predictions } })).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', about: { port: 'predictions' } });
  });

  it('rejects a split when the predictions have no split array, pointing to split: null', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const { split: _split, ...arrays } = predictions.arrays;
    const noSplit = { ...predictions, arrays };
    await expect(runStandalone(evalMetricsStage, { params: { split: 'test' }, inputs: { predictions: noSplit } })).rejects.toThrow(
      /predictions artifact has no "split" array, so split "test" cannot be selected; set split: null/,
    );
    const all = await runStandalone(evalMetricsStage, { params: { split: null, bootstrap: { replicates: 0 } }, inputs: { predictions: noSplit } });
    expect(outputOf(all, 'metrics', 'metrics').meta.n).toBe(60);
  });

  it('rejects arrays whose length does not match the rows', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const bad = { ...predictions, arrays: { ...predictions.arrays, subject: ndarray(new Int32Array(3)) } };
    await expect(runStandalone(evalMetricsStage, { inputs: { predictions: bad } })).rejects.toThrow(/predictions artifact array "subject" has 3 elements, expected 60/);
    await expect(runStandalone(evalMetricsStage, { inputs: { predictions: bad } })).rejects.toMatchObject({ code: 'FT_ARRAY_MISSING', about: { port: 'predictions' } });
  });

  it('applies schema defaults', () => {
    expect(resolveParams(evalMetricsStage, {})).toEqual({
      split: 'test',
      threshold: 0.5,
      eceBins: 15,
      bootstrap: { replicates: 200, alpha: 0.05 },
      representation: { maxSamples: 2000, sigma: null },
      minSubjects: 5,
      targetBins: [60, 80, 100, 120],
      activity: { column: 'activity', names: DALIA_ACTIVITY_NAMES },
    });
  });
});

describe('eval.metrics labels', () => {
  it('labels its metrics with params.label, else with the predictions method', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const labelled = await runStandalone(evalMetricsStage, { params: { label: 'erm · DaLiA test' }, inputs: { predictions } });
    expect(outputOf(labelled, 'metrics', 'metrics').meta.method).toBe('erm · DaLiA test');
    const plain = await runStandalone(evalMetricsStage, { inputs: { predictions } });
    expect(outputOf(plain, 'metrics', 'metrics').meta.method).toBe('erm');
  });
});

describe('report.compare', () => {
  it('writes a Markdown/JSON report with CIs, seed aggregation, changes paired by seed and SVG figures', async () => {
    const evaluate = async (method: string, bias: number, seed: number) => {
      const c = cohort(method, bias, seed);
      const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 10 }, minSubjects: 2 }, inputs: c, seed });
      return { metrics: outputOf({ outputs }, 'metrics', 'metrics'), embeddings: c.embeddings };
    };
    const erm = await evaluate('erm', 4, 2);
    const if1 = await evaluate('inverse-frequency', 1, 2);
    const if2 = await evaluate('inverse-frequency', 1, 3);
    const curves = artifact('json', { method: 'erm', history: [{ epoch: 0, trainLoss: 3 }, { epoch: 1, trainLoss: 2 }] });
    const { outputs } = await runStandalone(reportCompareStage, {
      inputs: { metrics: [if1.metrics, erm.metrics, if2.metrics], embeddings: [erm.embeddings, if1.embeddings], curves: [curves] },
    });
    const report = outputs.report!;
    // (tradeoff.svg needs defined gaps; it is checked on the five-seed report below)
    expect(Object.keys(report.files).filter((f) => !f.startsWith('tradeoff.')).sort()).toEqual([
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
    // one pair (seed 2): a difference without CI or test
    expect(md).toMatch(/## Change against erm, paired by seed/);
    expect(md).toMatch(/\| inverse-frequency \| 1 \| [+-]\d+\.\d{3} \([+-]\d+\.\d %\) \|/);
    expect(md).not.toMatch(/### Paired statistics/);
    expect(md).toMatch(/- inverse-frequency on \S+ test split: seed 3 has no erm run and is left out of the paired comparison/);
    const json = JSON.parse(readFileSync(report.files['report.json']!, 'utf8'));
    expect(json.methods.map((m: { method: string }) => m.method)).toEqual(['erm', 'inverse-frequency']);
    const male = (a: KindArtifact<'metrics'>) => a.meta.groups!.male.mae!;
    // the change pairs seed 2 with seed 2 only, not the mean of seeds 2 and 3 with ERM
    expect(json.methods[1].relativeToBaselinePercent['groups.male.mae']).toBeCloseTo((100 * (male(if1.metrics) - male(erm.metrics))) / Math.abs(male(erm.metrics)), 8);
    expect(json.methods[1].pairedToBaseline.seeds).toEqual([2]);
    expect(male(if1.metrics)).toBeLessThan(male(erm.metrics)); // the cohorts were built with a smaller male error for IF
    expect(json.methods[0].relativeToBaselinePercent).toBeNull();
    expect(json.projections).toHaveLength(2);
  });

  it('pairs runs of two methods by seed and reports the per-seed differences', async () => {
    const evaluate = async (method: string, bias: number, seed: number) =>
      outputOf(await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions: cohort(method, bias, seed).predictions }, seed }), 'metrics', 'metrics');
    const runs = [await evaluate('erm', 4, 2), await evaluate('erm', 4, 3), await evaluate('inverse-frequency', 1, 2), await evaluate('inverse-frequency', 1, 3), await evaluate('inverse-frequency', 1, 9)];
    expect(runs[0]!.meta.seed).toBe(2);
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toMatch(/#### MAE \(male\)\n\n\| Method \| n \| Δ \(bpm\) \[CI\] \| d_z \| lower\/higher \| p_perm \| Holm \| p_W \| Holm \|\n.*\n\| inverse-frequency \| 2 \| -\d+\.\d{3} \[-\d+\.\d{3}, -\d+\.\d{3}\] \| -?\d+\.\d{2} \| 2\/0 \| 0\.5000 † \| 0\.5000 † \| 0\.5000 † \| 0\.5000 † \|/);
    const json = JSON.parse(readFileSync(outputs.report!.files['report.json']!, 'utf8'));
    // male MAE (the gap may be undefined on four test subjects, depending on eval.metrics' group rules)
    const male = (a: KindArtifact<'metrics'>) => a.meta.groups!.male.mae!;
    const d = [male(runs[2]!) - male(runs[0]!), male(runs[3]!) - male(runs[1]!)];
    // Seed 9 has no ERM run and stays out of the pairs.
    const paired = json.methods[1].pairedToBaseline;
    expect(paired.seeds).toEqual([2, 3]);
    expect(paired['groups.male.mae'].n).toBe(2);
    expect(paired['groups.male.mae'].mean).toBeCloseTo((d[0]! + d[1]!) / 2, 10);
    expect(paired['groups.male.mae'].std).toBeCloseTo(Math.abs(d[0]! - d[1]!) / Math.SQRT2, 10);
    // two pairs: the bootstrap means are d1, (d1 + d2)/2, d2 → the 95 % interval spans [min d, max d]
    expect(paired['groups.male.mae'].ci.lo).toBeCloseTo(Math.min(...d), 10);
    expect(paired['groups.male.mae'].ci.hi).toBeCloseTo(Math.max(...d), 10);
    expect(paired['groups.male.mae'].signFlip.p).toBe(0.5);
  });

  it('gives CIs, effect sizes, Holm-adjusted tests and the n ≤ 5 caveat over five seeds, and flags levelling down', async () => {
    const seeds = [7, 11, 3, 19, 23];
    const runs = seeds.flatMap((s, i) => [
      metricsArtifact('erm', s, 5 + 0.1 * i, 3 + 0.05 * i), // female worse served
      metricsArtifact('inverse-frequency', s, 4.2 + 0.12 * i, 3.1 + 0.02 * i), // female better, male slightly worse
      metricsArtifact('group-dro', s, 5 + 0.1 * i, 3.9 + 0.03 * i), // gap closes by raising male error
    ]);
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs }, seed: 4, params: { statistics: { replicates: 2000 } } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    // five pairs, all in one direction: p = 2/32 for both tests, Holm over two methods = 0.125, all marked
    expect(md).toMatch(/#### MAE \(female\)\n\n.*\n.*\n\| inverse-frequency \| 5 \| -0\.\d{3} \[-0\.\d{3}, -0\.\d{3}\] \| -\d+\.\d{2} \| 5\/0 \| 0\.0625 † \| 0\.1250 † \| 0\.0625 † \| 0\.0625 † \|/); // group-dro's female MAE never changes: no Wilcoxon p, a family of one
    expect(md).toMatch(/† This p-value cannot fall below 0\.05 whatever the data: .* 2\/2\^n \(0\.0625 for n = 5; n ≥ 6 is needed for p < 0\.05\)/);
    expect(md).toMatch(/### How the gap moved: works, levelling down, harm/);
    expect(md).toMatch(/the better-served group's MAE CI entirely above 0 → \*\*levelling down\*\*/);
    expect(md).toMatch(/\| inverse-frequency \| 5 \| -0\.800 \[-0\.\d{3}, -0\.\d{3}\] \| female -0\.760 \[-0\.\d{3}, -0\.\d{3}\] \| male \+0\.040 \[0\.\d{3}, 0\.\d{3}\] \| 4\/5 \| \*\*works\*\* \|/);
    expect(md).toMatch(/\| group-dro \| 5 \| -0\.860 \[-0\.\d{3}, -0\.\d{3}\] \| female \+0\.000 \[0\.000, 0\.000\] \| male \+0\.860 \[0\.\d{3}, 0\.\d{3}\] \| 5\/5 \| \*\*levelling down\*\* \|/);
    const json = JSON.parse(readFileSync(outputs.report!.files['report.json']!, 'utf8'));
    const gdro = json.methods.find((m: { method: string }) => m.method === 'group-dro');
    expect(gdro.levellingDown.verdict).toBe('levelling down');
    expect(gdro.levellingDown.betterGroup).toBe('male');
    expect(gdro.pairedToBaseline['groups.male.mae'].mean).toBeCloseTo((0.9 + 0.88 + 0.86 + 0.84 + 0.82) / 5, 10);
    expect(gdro.pairedToBaseline['groups.male.mae'].dz).toBeCloseTo(0.86 / Math.sqrt(0.0004 * 2.5), 8);
    expect(gdro.pairedToBaseline['groups.male.mae'].signFlip.minAttainableP).toBe(0.0625);
    // deterministic: the same stage seed gives the same report
    const again = await runStandalone(reportCompareStage, { inputs: { metrics: runs }, seed: 4, params: { statistics: { replicates: 2000 } } });
    expect(readFileSync(again.outputs.report!.files['report.json']!, 'utf8')).toBe(readFileSync(outputs.report!.files['report.json']!, 'utf8'));
    // trade-off: means of inverse-frequency dominate ERM's; the front is drawn from the means
    const vl = JSON.parse(readFileSync(outputs.report!.files['tradeoff.vl.json']!, 'utf8'));
    const front = vl.data.values.filter((v: { kind: string }) => v.kind === 'front').map((v: { method: string }) => v.method);
    expect(front.sort()).toEqual(['group-dro', 'inverse-frequency']);
    expect(vl.data.values.filter((v: { kind: string }) => v.kind === 'run')).toHaveLength(15);
    expect(json.tradeoff.means.find((m: { method: string }) => m.method === 'erm').onFront).toBe(false);
  });

  it('prints p-values without a caveat once ten seeds make p < 0.05 attainable', async () => {
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const runs = seeds.flatMap((s) => [metricsArtifact('erm', s, 5 + s / 20, 3), metricsArtifact('inverse-frequency', s, 4 + s / 13, 3)]);
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs }, params: { statistics: { replicates: 500 } } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toMatch(/\| inverse-frequency \| 10 \| -\d\.\d{3} \[.*\] \| -\d+\.\d{2} \| 10\/0 \| 0\.0020 \| 0\.0020 \| 0\.0020 \| 0\.0020 \|/);
    expect(md).not.toMatch(/†/);
  });

  it('with one seed per method (dalia-compare) shows the changes without CIs or tests, and the verdict from the single differences', async () => {
    const runs = [metricsArtifact('erm', 7, 5, 3), metricsArtifact('group-dro', 7, 5, 3.8), metricsArtifact('inverse-frequency', 7, 4, 3.1)];
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toMatch(/\| group-dro \| 1 \| \+0\.400 \(\+10\.0 %\) \| \+0\.000 \(\+0\.0 %\) \| \+0\.800 \(\+26\.7 %\) \| -0\.800 \(-40\.0 %\) \| \+0\.000 \(\+0\.0 %\) \|/);
    expect(md).not.toMatch(/### Paired statistics/);
    expect(md).toMatch(/\| group-dro \| 1 \| -0\.800 \| female \+0\.000 \| male \+0\.800 \| 1\/1 \| \*\*levelling down\*\* \(one seed: point estimates, no CI\) \|/);
    expect(md).toMatch(/\| inverse-frequency \| 1 \| -1\.100 \| female -1\.000 \| male \+0\.100 \| 1\/1 \| \*\*works\*\* \(one seed: point estimates, no CI\) \|/);
  });

  it('lays out a transfer matrix (eval.metrics trainedOn): pairs x methods with CIs, changes against ERM within each pair only', async () => {
    // Two sources evaluated on the same dataset: without trainedOn they would be pooled as two runs of one method.
    const at = (trainedOn: string, dataset: string, split: string | null) => ({ trainedOn, dataset, split });
    const runs = [
      metricsArtifact('erm', 7, 5, 3, at('dalia', 'dalia', 'test')),
      metricsArtifact('group-dro', 7, 4, 3.5, at('dalia', 'dalia', 'test')),
      metricsArtifact('erm', 7, 10, 6, at('dalia', 'but-ppg', null)),
      metricsArtifact('group-dro', 7, 9, 8, at('dalia', 'but-ppg', null)),
      metricsArtifact('erm', 7, 20, 12, at('mimic', 'but-ppg', null)),
      metricsArtifact('group-dro', 7, 21, 12, at('mimic', 'but-ppg', null)),
    ];
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toContain('## Transfer matrix');
    expect(md).toContain('### MAE (bpm)\n\n| Source → target | erm | group-dro |\n|---|---:|---:|\n| dalia → dalia test split (in domain) | 4.000 | 3.750 |\n| dalia → but-ppg all samples | 8.000 | 8.500 |\n| mimic → but-ppg all samples | 16.000 | 16.500 |');
    expect(md).toContain('| dalia → but-ppg all samples | 4.000 | 1.000 |');
    // Changes per pair: MAE +0.5 on dalia → but-ppg (8 → 8.5), gap 8 → 9 (+1) on mimic → but-ppg.
    expect(md).toContain('#### Δ MAE\n\n| Source → target | group-dro |\n|---|---:|\n| dalia → dalia test split (in domain) | -0.250 (-6.3 %) |\n| dalia → but-ppg all samples | +0.500 (+6.3 %) |\n| mimic → but-ppg all samples | +0.500 (+3.1 %) |');
    expect(md).toContain('| mimic → but-ppg all samples | +1.000 (+12.5 %) |');
    const json = JSON.parse(readFileSync(outputs.report!.files['report.json']!, 'utf8'));
    expect(json.evaluationSets).toEqual(['dalia → dalia test split', 'dalia → but-ppg all samples', 'mimic → but-ppg all samples']);
    expect(json.methods.map((m: { runs: number; pair: unknown }) => [m.runs, m.pair])).toContainEqual([1, { source: 'mimic', target: 'but-ppg' }]);
  });

  it('computes no change across evaluation sets: a single-method report on two datasets shows none', async () => {
    // dalia-groupdro: one method, its DaLiA test metrics and its BUT-PPG transfer metrics
    const runs = [
      metricsArtifact('group-dro · DaLiA test', 7, 5, 3),
      metricsArtifact('group-dro · BUT-PPG transfer', 7, 60, 40, { dataset: 'but-ppg', split: null }),
    ];
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: runs }, params: { baseline: 'group-dro · DaLiA test' } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toMatch(/## Change against group-dro · DaLiA test\n\nNone: a change against the baseline is computed only between methods evaluated on the same evaluation set/);
    expect(md).not.toMatch(/%\)/);
    expect(md).toMatch(/\| Method \| Evaluated on \| MAE/);
    const json = JSON.parse(readFileSync(outputs.report!.files['report.json']!, 'utf8'));
    expect(json.methods.map((m: { relativeToBaselinePercent: unknown }) => m.relativeToBaselinePercent)).toEqual([null, null]);

    // the same labels on two evaluation sets are two rows, compared within each set only
    const both = [
      metricsArtifact('erm', 7, 5, 3), metricsArtifact('if', 7, 4, 3.5),
      metricsArtifact('erm', 7, 60, 40, { dataset: 'but-ppg', split: null }), metricsArtifact('if', 7, 50, 45, { dataset: 'but-ppg', split: null }),
    ];
    const res = await runStandalone(reportCompareStage, { inputs: { metrics: both } });
    const j = JSON.parse(readFileSync(res.outputs.report!.files['report.json']!, 'utf8'));
    expect(j.methods.map((m: { method: string; evaluationSet: string; runs: number }) => `${m.method} @ ${m.evaluationSet} × ${m.runs}`)).toEqual([
      'erm @ synthetic-dalia test split × 1', 'erm @ but-ppg all samples × 1', 'if @ synthetic-dalia test split × 1', 'if @ but-ppg all samples × 1',
    ]);
    expect(j.methods[2].pairedToBaseline['overall.maeGap'].mean).toBeCloseTo(0.5 - 2, 12);
    expect(j.methods[3].pairedToBaseline['overall.maeGap'].mean).toBeCloseTo(5 - 20, 12);
    const md2 = readFileSync(res.outputs.report!.files['report.md']!, 'utf8');
    expect(md2).toMatch(/## Change against erm on synthetic-dalia test split, paired by seed/);
    expect(md2).toMatch(/## Change against erm on but-ppg all samples, paired by seed/);
    expect(md2).toMatch(/\| if \(but-ppg all samples\) \| but-ppg all samples \|/);
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
    await expect(
      runStandalone(reportCompareStage, { params: { split: 'val' }, inputs: { metrics: [outputs.metrics!], embeddings: [embeddings] } }),
    ).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', about: { port: 'embeddings' } });
  });

  it('codes metrics that mix tasks as FT_INPUT_CONTENT, a table2 layout of regression metrics as FT_PARAM_INVALID', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions } });
    const cls = artifact('metrics', { ...outputOf({ outputs }, 'metrics', 'metrics').meta, method: 'cls', task: 'classification' });
    await expect(runStandalone(reportCompareStage, { inputs: { metrics: [outputs.metrics!, cls] } })).rejects.toMatchObject({
      code: 'FT_INPUT_CONTENT',
      about: { port: 'metrics' },
      message: 'report.compare: metrics artifacts mix tasks (regression, classification)',
    });
    await expect(runStandalone(reportCompareStage, { params: { table2: { rows: [{ method: 'erm', objective: 'o', space: 's' }] } }, inputs: { metrics: [outputs.metrics!] } })).rejects.toMatchObject({
      code: 'FT_PARAM_INVALID',
      about: { param: 'table2' },
    });
  });

  it('explains unreadable training curves', async () => {
    const { predictions } = cohort('erm', 1, 2);
    const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions } });
    await expect(
      runStandalone(reportCompareStage, { inputs: { metrics: [outputs.metrics!], curves: [artifact('json', { method: 'erm', losses: [1, 2] })] } }),
    ).rejects.toThrow(/has neither meta\.history .* nor meta\.curves/);
    await expect(
      runStandalone(reportCompareStage, { inputs: { metrics: [outputs.metrics!], curves: [artifact('json', { method: 'erm', losses: [1, 2] })] } }),
    ).rejects.toMatchObject({ code: 'FT_INPUT_CONTENT', about: { port: 'curves' } });
  });
});

describe('containerModule', () => {
  it('binds the stages, the four mitigation strategies and the metrics command', async () => {
    const c = new Container();
    await c.load(containerModule);
    expect(c.getAll(STAGE_PLUGIN).map((s) => s.type).sort()).toEqual(['eval.metrics', 'report.compare', 'report.model-card']);
    expect(c.getAll(TRAINING_STRATEGY).map((s) => s.name).sort()).toEqual(['adversarial', 'group-dro', 'group-reweight', 'inverse-frequency']);
    expect(c.getAll(CLI_COMMAND).map((x) => x.name)).toEqual(['metrics']);
  });
});
