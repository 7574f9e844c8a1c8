import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifact, ndarray, type NdArray } from '../contracts/artifact.js';
import { tempDir } from '../test-utils/fixtures.js';
import { readArtifact, writeArtifact } from './artifact-codec.js';
import { canonicalJson } from './canonical.js';

describe('artifact codec', () => {
  it('round-trips every dtype with shapes, meta and files, storing numbers in binary', () => {
    const dir = tempDir();
    const src = tempDir();
    writeFileSync(join(src, 'note.txt'), 'hello');
    const arrays: Record<string, NdArray> = {
      f32: ndarray(new Float32Array([1.5, -2, NaN, Infinity, 3, 4]), [2, 3]),
      f64: ndarray(new Float64Array([Math.PI])),
      i8: ndarray(new Int8Array([-128, 127, 0])),
      i16: ndarray(new Int16Array([-32768, 5])),
      i32: ndarray(new Int32Array([2 ** 31 - 1, -1, 7])),
      u8: ndarray(new Uint8Array([255])),
      u16: ndarray(new Uint16Array([65535, 1, 2])),
      u32: ndarray(new Uint32Array([2 ** 32 - 1])),
    };
    const written = writeArtifact(dir, artifact('thing', { a: [1, 'x'], nested: { ok: true } }, arrays, { 'note.txt': join(src, 'note.txt') }));
    expect(written.sort()).toEqual(['arrays.bin', 'files/note.txt', 'manifest.json']);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe('fairtune-artifact/1');
    for (const e of Object.values(manifest.arrays) as { offset: number }[]) expect(e.offset % 8).toBe(0);
    const back = readArtifact(dir);
    expect(back.kind).toBe('thing');
    expect(back.meta).toEqual({ a: [1, 'x'], nested: { ok: true } });
    for (const [name, arr] of Object.entries(arrays)) {
      expect(back.arrays[name]!.dtype).toBe(arr.dtype);
      expect(back.arrays[name]!.shape).toEqual(arr.shape);
      expect(Array.from(back.arrays[name]!.data)).toEqual(Array.from(arr.data));
    }
    expect(readFileSync(back.files['note.txt']!, 'utf8')).toBe('hello');
  });

  it('rejects a shape that does not match the data and unsafe file names', () => {
    expect(() => ndarray(new Float32Array(5), [2, 3])).toThrow('shape [2, 3] holds 6 elements but the data has 5');
    const src = tempDir();
    writeFileSync(join(src, 'x'), '');
    expect(() => writeArtifact(tempDir(), artifact('k', {}, {}, { '../x': join(src, 'x') }))).toThrow('k artifact file name "../x" must be a plain file name');
  });

  it('canonical JSON sorts keys, drops undefined and is stable', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 2, y: undefined }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"z":2}]},"b":1}');
    expect(canonicalJson({ x: NaN })).toBe('{"x":"NaN"}');
  });
});
