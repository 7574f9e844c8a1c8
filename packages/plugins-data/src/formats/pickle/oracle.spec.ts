/**
 * Opt-in oracle (FAIRTUNE_PYTHON_ORACLE=1, needs /usr/bin/python3 with numpy): pickles written
 * by the TypeScript writer are loaded by CPython's pickle + numpy and compared value by value.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../test-utils/paths.js';
import { openPickle, writePickleFile, py, PickledNdArray } from './index.js';

const ORACLE = fileURLToPath(new URL('../../../scripts/pickle-oracle.py', import.meta.url));
const maybe = process.env['FAIRTUNE_PYTHON_ORACLE'] ? describe : describe.skip;

maybe('CPython oracle for the pickle writer', () => {
  it('CPython loads protocol 0/1/2 pickles with the values the TS reader sees', () => {
    const dir = tempDir('oracle');
    const bvp = Float64Array.from({ length: 1536 }, (_, i) => Math.sin(i / 3) * 321.5 + i / 7);
    const value = py.dict({
      signal: py.dict({ wrist: py.dict({ BVP: py.array('f8', [1536, 1], bvp), ACC: py.array('f8', [768, 3], Float64Array.from({ length: 2304 }, (_, i) => ((i * 37) % 256 - 128) / 64)) }), chest: py.dict({ Temp: py.array('f4', [3, 1], [1.5, -273.15, 2]) }) }),
      label: py.array('f8', [9], [60, 61, 62, 63, 64, 65, 66, 67, 68.5]),
      rpeaks: py.array('i4', [2], [1, 2]),
      questionnaire: py.dict({ Gender: ' f', AGE: py.int(34), WEIGHT: py.float(60.5), SKIN: py.scalar('i8', 4) }),
      subject: 'S7',
    });
    const paths = ([0, 1, 2] as const).map((p) => {
      const f = join(dir, `p${p}.pkl`);
      writePickleFile(f, value, p);
      return f;
    });
    const out = JSON.parse(execFileSync('/usr/bin/python3', [ORACLE, ...paths], { encoding: 'utf8' }));
    for (const f of paths) {
      const py3 = out[f];
      const doc = openPickle(f);
      const root = doc.root as Record<string, any>;
      for (const [path, arr] of [['signal.wrist.BVP', root.signal.wrist.BVP], ['signal.wrist.ACC', root.signal.wrist.ACC], ['label', root.label], ['signal.chest.Temp', root.signal.chest.Temp]] as const) {
        const want = path.split('.').reduce((o: any, k) => o[k], py3);
        const t = (arr as PickledNdArray).toTyped();
        expect(want.shape).toEqual((arr as PickledNdArray).shape);
        expect(want.sum).toBeCloseTo(Array.from(t).reduce((a, b) => a + Number(b), 0), 8);
        expect(want.first).toEqual(Array.from(t.slice(0, 3)).map(Number));
      }
      expect(py3.questionnaire).toEqual({ Gender: ' f', AGE: 34, WEIGHT: 60.5, SKIN: 4 });
      expect(py3.subject).toBe('S7');
      doc.close();
    }
  });
});
