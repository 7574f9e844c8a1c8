import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrozenTrial, StudyView } from '@fairtune/core';
import { writeSearchReport } from './report.js';

/** The heat map's cells as block/component → share, read from the SVG itself. */
const cells = (svg: string) =>
  new Map([...svg.matchAll(/<rect[^>]*data-block="(\d+)" data-component="(\w+)" data-share="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)].map((m) => [`${m[1]}/${m[2]}`, { share: Number(m[3]), title: m[4]!, fill: /fill="([^"]+)"/.exec(m[0])![1]! }]));

const trial = (number: number, state: FrozenTrial['state'], value: number | undefined, steps: number): FrozenTrial => ({
  number,
  state,
  params: {},
  distributions: {},
  ...(value !== undefined ? { value } : {}),
  intermediateValues: new Map(Array.from({ length: steps }, (_, i) => [i, (value ?? 9) + 1 - i / steps])),
  userAttrs: {},
  systemAttrs: {},
});

describe('search report', () => {
  it('lists the trajectory, counts mask components among the top trials and compares the best with the baselines', () => {
    const view: StudyView = {
      name: 'p/search',
      direction: 'minimize',
      trials: [trial(0, 'COMPLETE', 5, 4), trial(1, 'COMPLETE', 3, 4), trial(2, 'PRUNED', 6, 1), trial(3, 'COMPLETE', 2, 4), trial(4, 'FAIL', undefined, 0)],
    };
    const bindings = new Map<number, Record<string, unknown>>([
      [0, { mask: '111111', lr: 0.001 }],
      [1, { mask: '010010', lr: 0.0003 }],
      [2, { mask: '100100', lr: 0.0001 }],
      [3, { mask: '010011', lr: 0.0002 }],
      [4, { mask: '000000', lr: 0.0005 }],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'search-report-'));
    writeSearchReport(dir, { view, objective: 'val_worst_group_mae', bindings, masks: new Map([['mask', 6]]), bestNumber: 3, top: 2, bestTrainableShare: 0.25 });
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('5 trials: 3 complete, 1 pruned, 1 failed; 13 epochs reported (16 without pruning)');
    // best so far: 5, then 3, 3 (pruned trial), 2, 2
    expect(md).toMatch(/\| 2 \| pruned \| 6\.0000 \| 3\.0000 \| 1 \|/);
    expect(md).toMatch(/\| 3 \| complete \| 2\.0000 \| 2\.0000 \| 4 \|/);
    // The top 2 complete trials (3 and 1) both train attention in block 0 and 1; only trial 3 trains block 1's MLP.
    expect(md).toContain('| 0 | 0 % | 100 % | 0 % |');
    expect(md).toContain('| 1 | 0 % | 100 % | 50 % |');
    expect(md).toContain('| best (trial 3) | 010011 | 2.0000 |');
    expect(md).toContain('| full | 111111 | 5.0000 |');
    expect(md).toContain('| norm only | 100100 | not run to completion |');
    expect(md).toContain('trains 25.0 % of its parameters');
    const svg = readFileSync(join(dir, 'trajectory.svg'), 'utf8');
    expect(svg.match(/<circle/g)).toHaveLength(4);
    expect(svg).toContain('fill="none"'); // the pruned trial is hollow
    expect(svg).toContain('×'); // the failed trial

    // Figure 4 as a heat map, linked from the report: 2 blocks × 3 components, shares as in the table.
    expect(md).toContain('](components.svg)');
    const heat = readFileSync(join(dir, 'components.svg'), 'utf8');
    const c = cells(heat);
    expect(c.size).toBe(6);
    expect(c.get('0/norm')).toMatchObject({ share: 0, title: 'block 0 norm: 0 % (0 of 2)', fill: 'rgb(255,255,255)' });
    expect(c.get('0/attention')).toMatchObject({ share: 1, title: 'block 0 attention: 100 % (2 of 2)', fill: 'rgb(31,119,180)' });
    expect(c.get('0/mlp')!.share).toBe(0);
    expect(c.get('1/attention')!.share).toBe(1);
    expect(c.get('1/mlp')).toMatchObject({ share: 0.5, title: 'block 1 mlp: 50 % (1 of 2)' });
    // Half-way shading lies between white and the full colour.
    expect(c.get('1/mlp')!.fill).toBe('rgb(143,187,218)');
    // Block 1 sits below block 0; components run left to right in FairTune's bit order.
    const pos = (b: number, comp: string) => {
      const m = new RegExp(`<rect x="(\\d+)" y="(\\d+)"[^>]*data-block="${b}" data-component="${comp}"`).exec(heat)!;
      return { x: Number(m[1]), y: Number(m[2]) };
    };
    expect(pos(1, 'norm').y).toBeGreaterThan(pos(0, 'norm').y);
    expect(pos(0, 'norm').x).toBe(pos(1, 'norm').x);
    expect(pos(0, 'attention').x).toBeGreaterThan(pos(0, 'norm').x);
    expect(pos(0, 'mlp').x).toBeGreaterThan(pos(0, 'attention').x);
    expect(heat).toMatch(/>50 %<\/text>/);
  });

  it('reads a one-bit-a-block mask (Table 2 spaces) as one column per block, with only the all/none baselines', () => {
    const view: StudyView = { name: 'p/search', direction: 'maximize', trials: [trial(0, 'COMPLETE', 0.7, 2), trial(1, 'COMPLETE', 0.9, 2), trial(2, 'COMPLETE', 0.8, 2), trial(3, 'COMPLETE', 0.5, 2)] };
    const bindings = new Map<number, Record<string, unknown>>([
      [0, { mask: '1111' }],
      [1, { mask: '0110' }],
      [2, { mask: '0011' }],
      [3, { mask: '0000' }],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'search-report-'));
    writeSearchReport(dir, { view, objective: 'val_worst_group_auc', bindings, masks: new Map([['mask', 4]]), perBlock: new Map([['mask', 1]]), bestNumber: 1, top: 2 });
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    // Top 2 by AUC: trials 1 (0110) and 2 (0011): block 0 never, 1 in one, 2 in both, 3 in one.
    expect(md).toContain('| block | trained |');
    expect(md).toContain('| 0 | 0 % |');
    expect(md).toContain('| 1 | 50 % |');
    expect(md).toContain('| 2 | 100 % |');
    expect(md).toContain('| 3 | 50 % |');
    expect(md).toContain('| every block | 1111 | 0.7000 |');
    expect(md).toContain('| no block (head only) | 0000 | 0.5000 |');
    expect(md).not.toContain('norm only');
    // One column of 4 cells, no norm/attention/mlp columns.
    const heat = readFileSync(join(dir, 'components.svg'), 'utf8');
    const c = cells(heat);
    expect([...c.keys()]).toEqual(['0/trained', '1/trained', '2/trained', '3/trained']);
    expect([...c.values()].map((v) => v.share)).toEqual([0, 0.5, 1, 0.5]);
    expect(c.get('2/trained')!.title).toBe('block 2 trained: 100 % (2 of 2)');
    expect(heat).not.toContain('data-component="norm"');
  });

  it('writes no heat map when the space has no mask', () => {
    const view: StudyView = { name: 'p/search', direction: 'minimize', trials: [trial(0, 'COMPLETE', 1, 1)] };
    const dir = mkdtempSync(join(tmpdir(), 'search-report-'));
    const files = writeSearchReport(dir, { view, objective: 'val_loss', bindings: new Map([[0, { lr: 0.01 }]]), masks: new Map(), bestNumber: 0, top: 3 });
    expect(Object.keys(files).sort()).toEqual(['report.md', 'trajectory.svg']);
    expect(readFileSync(files['report.md']!, 'utf8')).not.toContain('components.svg');
  });
});
