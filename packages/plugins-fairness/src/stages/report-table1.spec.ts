import { readFileSync } from 'node:fs';
import { artifact, runStandalone, type Artifact, type JsonObject } from '@fairtune/core';
import { reportCompareStage } from './report-compare.js';
import { table1CellText, table1Markdown } from '../report/table1.js';

/** A classification metrics artifact as eval.metrics writes it (two skin-type groups, CIs on the overall keys). */
function clsMetrics(method: string, seed: number, auc: number, light: number, dark: number, eodds: number, dpd: number, ci = true): Artifact {
  const overall = { auc, minAuc: Math.min(light, dark), aucGap: Math.abs(light - dark), accuracy: 0.9, equalizedOddsDifference: eodds, demographicParityDifference: dpd, ece: 0.05 };
  const intervals = ci ? Object.fromEntries(Object.entries(overall).map(([k, v]) => [`overall.${k}`, { lo: v - 0.01, hi: v + 0.02 }])) : {};
  return artifact('metrics', {
    method, dataset: 'fitzpatrick17k', synthetic: true, task: 'classification', target: { name: 'malignant' }, split: 'test', seed, n: 116, subjects: 116,
    overall, groups: { 'I-III': { n: 80, auc: light }, 'IV-VI': { n: 36, auc: dark } }, ci: { level: 0.95, intervals }, warnings: [],
  } as unknown as JsonObject);
}

describe('report.compare on classification: the Table 1 layout', () => {
  it('formats cells in percent with the CI for one run and mean ± std for seeds', () => {
    expect(table1CellText({ value: 0.9531, lo: 0.901, hi: 0.984 })).toBe('95.3 [90.1, 98.4]');
    expect(table1CellText({ value: 0.5, std: 0.0123, n: 3 })).toBe('50.0 ± 1.2 (n=3)');
    expect(table1CellText({ value: Number.NaN })).toBe('n/a');
    const md = table1Markdown([{ label: 'full', cells: { 'overall.aucGap': { value: 0.023 } } }, { label: 'linear', cells: {} }]);
    expect(md[0]).toBe('| Metric (%) | full | linear |');
    expect(md).toContain('| Gap AUC ↓ | 2.3 | n/a |');
    expect(md).toHaveLength(2 + 5);
  });

  it('adds metrics-as-rows tables with methods as columns, the baseline first, and classification definitions', async () => {
    const metrics = [clsMetrics('linear', 1, 0.8, 0.85, 0.7, 0.2, 0.1), clsMetrics('full', 1, 0.9, 0.92, 0.88, 0.1, 0.05), clsMetrics('full', 2, 0.94, 0.95, 0.9, 0.12, 0.07)];
    const { outputs } = await runStandalone(reportCompareStage, { params: { baseline: 'full' }, inputs: { metrics } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    const section = md.slice(md.indexOf('## Table 1 layout'));
    expect(section).toMatch(/^## Table 1 layout/);
    expect(section).toMatch(/\| Metric \(%\) \| full \| linear \|/);
    expect(section).toMatch(/\| Overall AUC ↑ \| 92\.0 ± 2\.8 \(n=2\) \| 80\.0 \[79\.0, 82\.0\] \|/);
    expect(section).toMatch(/\| Min\. \(worst-group\) AUC ↑ \| 89\.0 ± 1\.4 \(n=2\) \| 70\.0 \[69\.0, 72\.0\] \|/);
    expect(section).toMatch(/\| Gap AUC ↓ \| 4\.5 ± 0\.7 \(n=2\) \| 15\.0 \[14\.0, 17\.0\] \|/);
    expect(section).toMatch(/\| EOddsD ↓ \| 11\.0 ± 1\.4 \(n=2\) \| 20\.0 \[19\.0, 22\.0\] \|/);
    expect(section).toMatch(/\| DPD ↓ \| 6\.0 ± 1\.4 \(n=2\) \| 10\.0 \[9\.0, 12\.0\] \|/);
    expect(md).toMatch(/## Definitions\n\nAUC per group/);
    expect(md).not.toMatch(/MAE per group/);
  });

  it('leaves regression reports without it', async () => {
    const reg = artifact('metrics', { method: 'erm', dataset: 'd', synthetic: true, task: 'regression', split: 'test', seed: 1, n: 10, subjects: 4, overall: { mae: 3, maeGap: 1, worstGroupMae: 3.5 }, groups: { a: { n: 5, mae: 2.5 }, b: { n: 5, mae: 3.5 } }, warnings: [] } as JsonObject);
    const { outputs } = await runStandalone(reportCompareStage, { inputs: { metrics: [reg] } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).not.toMatch(/Table 1 layout/);
    expect(md).toMatch(/## Definitions\n\nMAE per group/);
  });
});
