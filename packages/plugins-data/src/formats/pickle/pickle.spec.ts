import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PICKLE_FIXTURES, tempDir } from '../../test-utils/paths.js';
import { openPickle, parsePickleBuffer, parsePickleSource, bufferSource, pickleToBuffer, writePickleFile, py, isNdArray, pyString, PickleError, PickledNdArray, unescapePy2, type PyValue } from './index.js';

type Summary = { dtype: string; shape: number[]; sum: number; first: number[] };
const expected = JSON.parse(readFileSync(join(PICKLE_FIXTURES, 'expected.json'), 'utf8'));

function get(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root);
}
function checkArray(root: unknown, path: string, want: Summary): void {
  const a = get(root, path);
  expect(isNdArray(a)).toBe(true);
  const arr = a as PickledNdArray;
  expect(arr.shape).toEqual(want.shape);
  const t = arr.toTyped();
  let sum = 0;
  for (let i = 0; i < t.length; i++) sum += t[i]!;
  expect(sum).toBeCloseTo(want.sum, 6);
  expect(Array.from(t.slice(0, 3)).map(Number)).toEqual(want.first.map((x) => (want.dtype === '<f4' ? Math.fround(x) : x)));
}

const ARRAY_PATHS = ['rpeaks', 'label', 'activity', 'signal.wrist.BVP', 'signal.wrist.ACC', 'signal.wrist.EDA', 'signal.wrist.TEMP', 'signal.chest.ECG', 'signal.chest.Temp'];

describe('pickle reader on CPython 3 + numpy pickles (protocols 2-5)', () => {
  for (const proto of [2, 3, 4, 5]) {
    it(`reads protocol ${proto} with identical values`, () => {
      const doc = openPickle(join(PICKLE_FIXTURES, `py3-protocol${proto}.pkl`));
      try {
        for (const p of ARRAY_PATHS) checkArray(doc.root, p, get(expected, p) as Summary);
        expect(get(doc.root, 'questionnaire')).toEqual(expected.questionnaire);
        expect(pyString(get(doc.root, 'subject'))).toBe('S1');
        expect((get(doc.root, 'signal.chest.Temp') as PickledNdArray).toTyped()).toBeInstanceOf(Float32Array);
      } finally {
        doc.close();
      }
    });
  }

  it('reads numpy scalar questionnaire values', () => {
    const doc = openPickle(join(PICKLE_FIXTURES, 'py3-protocol2-npscalars.pkl'));
    expect(get(doc.root, 'questionnaire')).toEqual({ WEIGHT: 78, Gender: ' m', AGE: 34, HEIGHT: 182, SKIN: 3, SPORT: 6 });
    doc.close();
  });
});

function daliaLike(seconds: number): PyValue {
  const t64 = 64 * seconds;
  const bvp = Float64Array.from({ length: t64 }, (_, i) => Math.sin(i / 10) * 100 + (i % 7 === 0 ? 0.5 : 0));
  // Bytes that need escaping in protocol 0: quotes, backslash, newline, high bytes.
  bvp[0] = 7.28;
  bvp[1] = new DataView(Uint8Array.from([0x27, 0x22, 0x5c, 0x0a, 0x0d, 0x09, 0x80, 0x3f]).buffer).getFloat64(0, true);
  return py.dict({
    rpeaks: py.array('i4', [3], [10, 600, 1200]),
    signal: py.dict({
      chest: py.dict({ ECG: py.array('f8', [700 * seconds, 1], new Float64Array(700 * seconds).fill(0.25)), Temp: py.array('f4', [4, 1], [-273.15, -273.15, -273.15, -273.15]) }),
      wrist: py.dict({ BVP: py.array('f8', [t64, 1], bvp), ACC: py.array('f8', [t64 / 2, 3], Float64Array.from({ length: (t64 / 2) * 3 }, (_, i) => ((i % 128) - 64) / 64)) }),
    }),
    label: py.array('f8', [Math.floor((t64 - 512) / 128) + 1], Float64Array.from({ length: Math.floor((t64 - 512) / 128) + 1 }, (_, i) => 60 + i)),
    activity: py.array('f8', [4 * seconds, 1], new Float64Array(4 * seconds).fill(1)),
    questionnaire: py.dict({ WEIGHT: py.float(78), Gender: ' m', AGE: py.int(34), HEIGHT: 182.0, SKIN: py.scalar('i8', 3), SPORT: py.int(6), BIG: py.int(2 ** 40), NEG: py.int(-5), FLAG: true, NONE: null, LIST: py.list([py.int(1), 'a']) }),
    subject: 'S1',
  });
}

describe('pickle writer (Python-2 style) round trips through the reader', () => {
  for (const proto of [0, 1, 2] as const) {
    it(`protocol ${proto}`, () => {
      const buf = pickleToBuffer(daliaLike(24), proto);
      if (proto === 2) expect(Array.from(buf.subarray(0, 4))).toEqual([0x80, 0x02, 0x7d, 0x28]);
      const root = parsePickleBuffer(buf, `p${proto}.pkl`) as Record<string, any>;
      const bvp = (root.signal.wrist.BVP as PickledNdArray).toFloat64();
      expect(bvp.length).toBe(1536);
      expect(bvp[0]).toBe(7.28);
      expect(Array.from(new Uint8Array(bvp.buffer, 8, 8))).toEqual([0x27, 0x22, 0x5c, 0x0a, 0x0d, 0x09, 0x80, 0x3f]);
      expect(bvp[100]).toBeCloseTo(Math.sin(10) * 100, 12);
      expect((root.label as PickledNdArray).shape).toEqual([9]);
      expect((root.signal.wrist.ACC as PickledNdArray).shape).toEqual([768, 3]);
      expect(root.questionnaire).toEqual({ WEIGHT: 78, Gender: ' m', AGE: 34, HEIGHT: 182, SKIN: 3, SPORT: 6, BIG: 2 ** 40, NEG: -5, FLAG: true, NONE: null, LIST: [1, 'a'] });
      expect(Array.from((root.rpeaks as PickledNdArray).toTyped())).toEqual([10, 600, 1200]);
      expect(Array.from((root.signal.chest.Temp as PickledNdArray).toTyped())).toEqual(Array(4).fill(Math.fround(-273.15)));
    });
  }

  it('never reads the bytes of arrays that are not materialised (chest signals)', () => {
    for (const [proto, seconds] of [[2, 600], [0, 60]] as const) {
      const buf = pickleToBuffer(daliaLike(seconds), proto);
      let read = 0;
      const src = bufferSource(buf, 'x.pkl');
      const counting = { ...src, readInto: (into: Uint8Array, at: number, len: number, pos: number) => { const n = src.readInto(into, at, len, pos); read += n; return n; } };
      const root = parsePickleSource(counting) as Record<string, any>;
      const parseRead = read;
      (root.signal.wrist.BVP as PickledNdArray).toTyped();
      // Protocol 2 skips the 3.4 MB chest ECG without reading it; protocol 0 must scan it
      // for the line end, but neither path keeps it.
      if (proto === 2) expect(parseRead).toBeLessThan(buf.length / 2);
      expect(read - parseRead).toBeLessThan(64 * seconds * 8 * 4 + 65536);
    }
  });

  it('reports truncated and corrupt pickles with the file name', () => {
    const dir = tempDir('pkl');
    const p = join(dir, 'S1.pkl');
    writePickleFile(p, daliaLike(16), 2);
    const full = readFileSync(p);
    writeFileSync(p, full.subarray(0, full.length - 1000));
    expect(() => openPickle(p)).toThrow(PickleError);
    expect(() => openPickle(p)).toThrow(new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated pickle`));
    writeFileSync(p, full.subarray(0, 40));
    expect(() => openPickle(p)).toThrow(/truncated pickle/);
    const bad = Buffer.from(full);
    bad[2] = 0xff; // not an opcode
    writeFileSync(p, bad);
    expect(() => openPickle(p)).toThrow(/S1\.pkl: corrupt pickle: Unsupported opcode/);
    expect(() => openPickle(join(dir, 'none.pkl'))).toThrow(/none\.pkl: file not found/);
    // Corrupt is FT_DATA_FORMAT, absent is FT_DATA_MISSING (two different fixes).
    expect(() => openPickle(p)).toThrow(expect.objectContaining({ code: 'FT_DATA_FORMAT', about: { file: p } }));
    expect(() => openPickle(join(dir, 'none.pkl'))).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { file: join(dir, 'none.pkl') } }));
  });

  it('unescapes Python 2 string_escape bodies', () => {
    const src = Buffer.from("a\\'b\\\\c\\x00\\xff\\n\\t\\r\\101", 'latin1');
    expect(Array.from(unescapePy2(src, 'x'))).toEqual([0x61, 0x27, 0x62, 0x5c, 0x63, 0x00, 0xff, 0x0a, 0x09, 0x0d, 0x41]);
  });
});
