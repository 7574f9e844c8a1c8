import { readFileSync } from 'node:fs';
import { artifact, runStandalone, type Artifact, type JsonObject } from '@fairtune/core';
import { reportCompareStage } from './report-compare.js';

/** A classification metrics artifact as eval.metrics writes it: two skin-type groups, CIs on the overall keys. */
function clsMetrics(method: string, auc: number, light: number, dark: number, seed = 7): Artifact {
  const overall = { auc, minAuc: Math.min(light, dark), aucGap: Math.abs(light - dark), accuracy: 0.9, equalizedOddsDifference: 0.1, demographicParityDifference: 0.05, ece: 0.05 };
  const intervals = Object.fromEntries(Object.entries(overall).map(([k, v]) => [`overall.${k}`, { lo: v - 0.01, hi: v + 0.02 }]));
  return artifact('metrics', {
    method, dataset: 'fitzpatrick17k', synthetic: true, task: 'classification', target: { name: 'malignant' }, split: 'test', seed, n: 116, subjects: 116,
    overall, groups: { 'I-III': { n: 80, auc: light }, 'IV-VI': { n: 36, auc: dark } }, ci: { level: 0.95, intervals }, warnings: [],
  } as unknown as JsonObject);
}

const rows = [
  { method: 'fairtune', objective: 'worst-group AUC', space: '36-bit (3 a block)' },
  { method: 'fairtune-overall', objective: 'overall AUC', space: '36-bit (3 a block)' },
  { method: 'fairtune-attention-12bit', objective: 'worst-group AUC', space: '12-bit attention (1 a block)' },
];

describe('report.compare: the Table 2 layout', () => {
  it('lays the variants out as rows in the declared order, overall / worst-group / gap AUC as columns with CIs', async () => {
    // Inputs in another order than the declared rows: the table follows the declaration.
    const metrics = [clsMetrics('fairtune-attention-12bit', 0.8, 0.85, 0.7), clsMetrics('fairtune-overall', 0.93, 0.95, 0.86), clsMetrics('fairtune', 0.9, 0.92, 0.88)];
    const { outputs } = await runStandalone(reportCompareStage, { params: { baseline: 'fairtune', table2: { rows } }, inputs: { metrics } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    const section = md.slice(md.indexOf('## Table 2 layout'), md.indexOf('## Table 1 layout'));
    expect(section).toContain('Groups: I-III, IV-VI.');
    const lines = section.split('\n').filter((l) => l.startsWith('|'));
    expect(lines[0]).toBe('| Variant | Objective | Space | Overall AUC ↑ | Worst-group AUC ↑ | AUC gap ↓ |');
    expect(lines.slice(2)).toEqual([
      '| fairtune | worst-group AUC | 36-bit (3 a block) | 90.0 [89.0, 92.0] | 88.0 [87.0, 90.0] | 4.0 [3.0, 6.0] |',
      '| fairtune-overall | overall AUC | 36-bit (3 a block) | 93.0 [92.0, 95.0] | 86.0 [85.0, 88.0] | 9.0 [8.0, 11.0] |',
      '| fairtune-attention-12bit | worst-group AUC | 12-bit attention (1 a block) | 80.0 [79.0, 82.0] | 70.0 [69.0, 72.0] | 15.0 [14.0, 17.0] |',
    ]);
    expect(md).not.toContain('## Warnings');
  });

  it('keeps a declared row without metrics as n/a and warns; no section without the param', async () => {
    const metrics = [clsMetrics('fairtune', 0.9, 0.92, 0.88), clsMetrics('fairtune-overall', 0.93, 0.95, 0.86)];
    const { outputs } = await runStandalone(reportCompareStage, { params: { baseline: 'fairtune', table2: { rows } }, inputs: { metrics } });
    const md = readFileSync(outputs.report!.files['report.md']!, 'utf8');
    expect(md).toContain('| fairtune-attention-12bit | worst-group AUC | 12-bit attention (1 a block) | n/a | n/a | n/a |');
    expect(md).toMatch(/- table2: row "fairtune-attention-12bit" has no metrics \(inputs: fairtune, fairtune-overall\)/);
    const plain = await runStandalone(reportCompareStage, { params: { baseline: 'fairtune' }, inputs: { metrics } });
    expect(readFileSync(plain.outputs.report!.files['report.md']!, 'utf8')).not.toContain('Table 2');
  });
});
