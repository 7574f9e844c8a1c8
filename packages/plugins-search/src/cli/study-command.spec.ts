import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalStorage } from '../storage/journal.js';
import { runCli } from '@fairtune/core';

/** The command as the `fairtune` CLI runs it (the package is loaded as a built-in plugin). */
const study = (args: string[], cwd: string) => runCli(['study', ...args], { cwd });

describe('fairtune study', () => {
  it('lists the studies of a folder of journals, shows their trials and the best one', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'study-cmd-'));
    const s = JournalStorage.file(join(cwd, '.fairtune', 'studies', 'p--search.journal')).openStudy('p/search', 'minimize');
    const dist = { type: 'int', low: 0, high: 1, log: false, step: 1 } as const;
    for (const [bits, value] of [[[1, 0], 3.5], [[0, 1], 2.25]] as const) {
      const n = s.createTrial();
      s.setParams(n, { mask_00: bits[0], mask_01: bits[1], lr: 0.001 }, { mask_00: dist, mask_01: dist, lr: { type: 'float', low: 1e-5, high: 1e-3, log: true } });
      s.report(n, 0, value + 1);
      s.finish(n, 'COMPLETE', value);
    }
    const ls = await study(['ls', '--json'], cwd);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.out)).toEqual([expect.objectContaining({ name: 'p/search', trials: 2, complete: 2, best: 2.25 })]);
    const best = await study(['best', 'p/search', '--json'], cwd);
    expect(JSON.parse(best.out)).toMatchObject({ number: 1, value: 2.25, params: { mask_00: 0, mask_01: 1 }, intermediate_values: { '0': 3.25 } });
    expect((await study(['show', 'p/search'], cwd)).out).toContain('1  COMPLETE  2.25  mask=01 lr=0.001  (1 reports)');
    expect((await study(['show', 'nope'], cwd)).code).toBe(2);
    const bad = await study(['frob'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown action "frob"/);
  });
});
