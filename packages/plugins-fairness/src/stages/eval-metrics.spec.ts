import { artifact, ndarray, outputOf, runStandalone, type Artifact, type KindArtifact, type PredictionsMeta } from '@fairtune/core';
import { blandAltman, subjectWeightedMae } from '../metrics/agreement.js';
import { binIndex, binLabels, stratifiedErrors } from '../metrics/stratified.js';
import { evalMetricsStage } from './eval-metrics.js';

/**
 * Test split: group a = subjects 0–5, b = 6–10, c = 11–12 (too small for the default
 * minSubjects 5); subject 13 (group a) is in the training split. Six windows per subject with
 * true HR 55 … 130 (every bin) and activities sitting (1) / walking (7) alternating.
 */
function predictions(withActivity = true): KindArtifact<'predictions'> {
  const yTrue: number[] = [];
  const yPred: number[] = [];
  const subject: number[] = [];
  const group: number[] = [];
  const split: number[] = [];
  const activity: number[] = [];
  for (let s = 0; s < 14; s++) {
    const g = s === 13 ? 0 : s < 6 ? 0 : s < 11 ? 1 : 2;
    for (let w = 0; w < 6; w++) {
      const y = 55 + 15 * w + s;
      yTrue.push(y);
      yPred.push(y + [1, 4, -3][g]! + 2 * (((s + w) % 3) - 1));
      subject.push(s);
      group.push(g);
      split.push(s === 13 ? 0 : 1);
      activity.push(w % 2 ? 7 : 1);
    }
  }
  const meta: PredictionsMeta = {
    task: 'regression',
    target: { name: 'hr', units: 'bpm' },
    dataset: 'dalia',
    synthetic: true,
    subjects: Array.from({ length: 14 }, (_, s) => `S${s + 1}`),
    splits: ['train', 'test'],
    groups: { attributes: ['sex', 'age'], names: ['a', 'b', 'c'], ageThreshold: 50 },
    method: 'erm',
  };
  return artifact('predictions', meta, {
    yTrue: ndarray(Float32Array.from(yTrue)),
    yPred: ndarray(Float32Array.from(yPred)),
    subject: ndarray(Int32Array.from(subject)),
    group: ndarray(Int32Array.from(group)),
    split: ndarray(Int8Array.from(split)),
    ...(withActivity ? { 'aux/activity': ndarray(Float32Array.from(activity)) } : {}),
  });
}

/** The test rows of `a`, as plain arrays. */
function testRows(a: Artifact) {
  const rows = Array.from(a.arrays['split']!.data, (v, i) => (v === 1 ? i : -1)).filter((i) => i >= 0);
  const pick = (name: string) => rows.map((i) => a.arrays[name]!.data[i]!);
  return { yTrue: pick('yTrue'), yPred: pick('yPred'), subject: pick('subject'), group: pick('group') };
}

describe('eval.metrics: bias, agreement, strata, subject weighting and small groups', () => {
  const pred = predictions();
  const t = testRows(pred);
  const only = (g: number) => t.group.map((x, i) => (x === g ? i : -1)).filter((i) => i >= 0);
  const sel = (arr: number[], idx: number[]) => idx.map((i) => arr[i]!);

  it('reports per-group bias, Bland–Altman limits and subject-weighted MAE, and flags the small group', async () => {
    const { outputs, events } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 20 } }, inputs: { predictions: pred }, seed: 5 });
    const meta = outputOf({ outputs }, 'metrics', 'metrics').meta;
    expect(meta.n).toBe(13 * 6);
    for (const [g, name] of [[0, 'a'], [1, 'b'], [2, 'c']] as const) {
      const idx = only(g);
      const ba = blandAltman(sel(t.yTrue, idx), sel(t.yPred, idx));
      expect(meta.groups![name].bias).toBeCloseTo(ba.bias, 10);
      expect(meta.groups![name].sd).toBeCloseTo(ba.sd, 10);
      expect(meta.groups![name].loaLower).toBeCloseTo(ba.loaLower, 10);
      expect(meta.groups![name].loaUpper).toBeCloseTo(ba.loaUpper, 10);
      expect(meta.groups![name].subjectMae).toBeCloseTo(subjectWeightedMae(sel(t.yTrue, idx), sel(t.yPred, idx), sel(t.subject, idx)), 10);
    }
    expect(meta.groups!.a.subjects).toBe(6); // the training subject 13 is not counted
    expect(meta.groups!.c.subjects).toBe(2);
    expect(meta.overall!.bias).toBeCloseTo(blandAltman(t.yTrue, t.yPred).bias, 10);
    expect(meta.overall!.subjectMae).toBeCloseTo(subjectWeightedMae(t.yTrue, t.yPred, t.subject), 10);
    // c (2 subjects) is reported but takes part in no gap
    expect(meta.minSubjects).toBe(5);
    expect(meta.smallGroups).toEqual([{ group: 'c', subjects: 2 }]);
    expect(meta.gapGroups).toEqual(['a', 'b']);
    expect(meta.gapNote).toBe('gaps are over a, b only (c below minSubjects = 5)');
    expect(meta.warnings).toContain('group "c" has 2 subject(s) in the evaluated rows, fewer than minSubjects = 5: its metrics are reported but it takes part in no gap');
    expect(events.some((e) => e.type === 'log' && e.level === 'warn' && /group "c" has 2 subject/.test(e.message))).toBe(true);
    expect(meta.overall!.maeGap).toBeCloseTo(Math.abs(meta.groups!.a.mae! - meta.groups!.b.mae!), 10);
    expect(meta.overall!.subjectMaeGap).toBeCloseTo(Math.abs(meta.groups!.a.subjectMae! - meta.groups!.b.subjectMae!), 10);
    expect(meta.agreement).toEqual({ difference: 'prediction − reference (ŷ − y)', sd: 'sample SD, ddof = 1', z: 1.96, limits: 'bias ± z·sd' });
    // CIs of the new metrics from the same subject bootstrap
    for (const key of ['overall.bias', 'overall.loaUpper', 'overall.subjectMae', 'overall.subjectMaeGap', 'groups.a.bias', 'groups.b.loaLower', 'groups.c.subjectMae']) {
      expect(meta.ci!.intervals![key].valid).toBe(20);
      expect(meta.ci!.intervals![key].lo).toBeLessThanOrEqual(meta.ci!.intervals![key].hi!);
    }
  });

  it('gives MAE per group by true-HR bin and by activity, with gaps over cells of at least minSubjects subjects', async () => {
    const { outputs } = await runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 20 } }, inputs: { predictions: pred }, seed: 5 });
    // byTargetBin.overall and byActivity.codes are eval.metrics' own fields, beyond MetricsMeta's StratifiedMetrics.
    const meta = outputs.metrics!.meta as Record<string, any>;
    const edges = [60, 80, 100, 120];
    const labels = binLabels(edges);
    const direct = stratifiedErrors(t.yTrue, t.yPred, binIndex(t.yTrue, edges), labels, t.group, t.subject);
    expect(meta.byTargetBin.edges).toEqual(edges);
    expect(meta.byTargetBin.units).toBe('bpm');
    expect(meta.byTargetBin.strata).toEqual(labels);
    labels.forEach((label, k) => {
      expect(meta.byTargetBin.overall[label].mae).toBeCloseTo(direct.overall[k]!.mae, 10);
      expect(meta.byTargetBin.groups.a[label]).toEqual(expect.objectContaining({ n: direct.groups.get(0)![k]!.n, subjects: direct.groups.get(0)![k]!.subjects }));
      const a = direct.groups.get(0)![k]!;
      const b = direct.groups.get(1)![k]!;
      // c never enters; a and b only where each has ≥ 5 subjects in the bin
      const expected = a.subjects >= 5 && b.subjects >= 5 ? Math.abs(a.mae - b.mae) : null;
      if (expected === null) expect(meta.byTargetBin.maeGap[label]).toBeNull();
      else expect(meta.byTargetBin.maeGap[label]).toBeCloseTo(expected, 10);
    });
    // y = 55 + 15w + s: bin 60–80 holds w = 1 (70 + s) for s ≤ 9 and w = 0 for s ≥ 5, so both a and b have ≥ 5 subjects there
    expect(meta.byTargetBin.maeGap['60–80']).not.toBeNull();
    expect(meta.byActivity.column).toBe('activity');
    expect(meta.byActivity.codes).toEqual([1, 7]);
    expect(meta.byActivity.strata).toEqual(['sitting', 'walking']);
    const act = t.yTrue.map((_, i) => (i % 2 ? 1 : 0)); // windows alternate sitting, walking
    const byAct = stratifiedErrors(t.yTrue, t.yPred, act, ['sitting', 'walking'], t.group, t.subject);
    expect(meta.byActivity.groups.b.walking.mae).toBeCloseTo(byAct.groups.get(1)![1]!.mae, 10);
    expect(meta.byActivity.maeGap.sitting).toBeCloseTo(Math.abs(byAct.groups.get(0)![0]!.mae - byAct.groups.get(1)![0]!.mae), 10);
    for (const key of ['byTargetBin.groups.a.60–80.mae', 'byTargetBin.maeGap.60–80', 'byActivity.groups.c.walking.bias', 'byActivity.maeGap.sitting']) {
      expect(meta.ci.intervals[key].valid).toBeGreaterThan(0);
    }
  });

  it('reports no gap (null, with the reason) when fewer than two groups reach minSubjects', async () => {
    const { outputs } = await runStandalone(evalMetricsStage, { params: { minSubjects: 6, bootstrap: { replicates: 5 } }, inputs: { predictions: pred } });
    const meta = outputOf({ outputs }, 'metrics', 'metrics').meta;
    expect(meta.smallGroups).toEqual([{ group: 'b', subjects: 5 }, { group: 'c', subjects: 2 }]);
    expect(meta.overall!.maeGap).toBeNull();
    expect(meta.overall!.subjectMaeGap).toBeNull();
    expect(meta.groups!.b.mae).toEqual(expect.any(Number)); // still reported
    expect(meta.gapNote).toBe('no gap reported (null): only one group has at least 6 subjects (a: 6, b: 5, c: 2)');
    expect(meta.warnings).toContain(meta.gapNote);
    expect(Object.values(meta.byTargetBin!.maeGap).every((v) => v === null)).toBe(true);
    expect(meta.ci!.intervals!['overall.maeGap'].valid).toBe(0);
  });

  it('leaves byActivity out without an aux/activity array, and all groups in the gaps at minSubjects 1', async () => {
    const { outputs, events } = await runStandalone(evalMetricsStage, { params: { minSubjects: 1, bootstrap: { replicates: 0 } }, inputs: { predictions: predictions(false) } });
    const meta = outputOf({ outputs }, 'metrics', 'metrics').meta;
    expect(meta.byActivity).toBeUndefined();
    expect(meta.byTargetBin).toBeDefined();
    expect(events.some((e) => e.type === 'log' && /no "aux\/activity" array/.test(e.message))).toBe(true);
    expect(meta.smallGroups).toEqual([]);
    expect(meta.gapNote).toBeNull();
    const maes = ['a', 'b', 'c'].map((g) => meta.groups![g].mae!);
    expect(meta.overall!.maeGap).toBeCloseTo(Math.max(...maes) - Math.min(...maes), 10);
  });

  it('rejects bin edges that do not increase', async () => {
    await expect(runStandalone(evalMetricsStage, { params: { targetBins: [80, 60] }, inputs: { predictions: pred } })).rejects.toThrow(/targetBins must increase strictly, got \[80, 60\]/);
    await expect(runStandalone(evalMetricsStage, { params: { targetBins: [80, 60] }, inputs: { predictions: pred } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'targetBins' } });
  });

  it('codes predictions whose values the metrics cannot take as FT_INPUT_CONTENT, with the metric function\'s message', async () => {
    const yPred = Float32Array.from(pred.arrays['yPred']!.data);
    yPred[6] = Number.NaN;
    const nan = { ...pred, arrays: { ...pred.arrays, yPred: ndarray(yPred) } };
    await expect(runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions: nan } })).rejects.toMatchObject({
      code: 'FT_INPUT_CONTENT',
      about: { port: 'predictions' },
      message: 'stratifiedErrors: yPred[6] is NaN, expected a finite number',
    });
    // Classification: a target other than 0/1 (here from evaluatePredictions itself).
    const n = pred.arrays['yTrue']!.data.length;
    const cls = artifact('predictions', { ...pred.meta, task: 'classification' }, {
      ...pred.arrays,
      yTrue: ndarray(Float32Array.from({ length: n }, (_, i) => (i === 6 ? 2 : i % 2))),
      yPred: ndarray(Float32Array.from({ length: n }, (_, i) => 0.25 + 0.5 * (i % 2))),
    });
    await expect(runStandalone(evalMetricsStage, { params: { bootstrap: { replicates: 0 } }, inputs: { predictions: cls } })).rejects.toMatchObject({
      code: 'FT_INPUT_CONTENT',
      about: { port: 'predictions' },
      message: expect.stringMatching(/: yTrue\[6\] is 2, expected 0 or 1$/),
    });
  });
});
