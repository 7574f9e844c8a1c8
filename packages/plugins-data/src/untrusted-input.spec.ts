/**
 * Issue 10 §4, the data side: a data root that is a file, a dangling link, a loop of links or
 * the file system root is a one-line error naming the path (not a stack trace, not a silent fall
 * back to synthetic data); a WFDB header cannot make the reader open a file outside the record's
 * folder, and a negative sampling rate or signal count is refused with the file and field named.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DataCommand } from './cli/inspect.js';
import { parseHeader, readRecord } from './formats/wfdb/index.js';
import { dataRootState, loaderPreflight, rootFingerprint, type LoaderParams } from './loaders/common.js';
import { tempDir } from './test-utils/paths.js';

const params = (root: string, synthetic: LoaderParams['synthetic'] = 'auto') => ({ root, synthetic }) as LoaderParams;

function fakeIo(cwd: string) {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  return { io: { cwd, env: {}, stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) }, out: () => out, err: () => err };
}

/** The error `f` throws, which must be one line. */
function oneLineError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected an error');
}

describe('issue 10 §4: data roots that are not folders', () => {
  it('a file, a dangling link, a loop of links and / as the data root: one line naming the path', () => {
    const dir = tempDir('roots');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    const loop = join(dir, 'loop-a');
    symlinkSync(join(dir, 'loop-b'), loop);
    symlinkSync(loop, join(dir, 'loop-b'));
    expect(oneLineError(() => rootFingerprint(params(file)))).toBe(`data root ${file} is not a folder (it is a file); point 'root' at the dataset folder`);
    expect(oneLineError(() => rootFingerprint(params(dangling)))).toBe(`data root ${dangling} is a symbolic link to ${join(dir, 'nowhere')}, which does not exist`);
    expect(oneLineError(() => rootFingerprint(params(loop)))).toBe(`data root ${loop} is a loop of symbolic links`);
    expect(oneLineError(() => rootFingerprint(params('/')))).toBe(`data root / is the file system root; point 'root' at the dataset folder`);
    // Pointing root at a file is a param to change; a root that leads nowhere is missing data.
    expect(() => rootFingerprint(params(file))).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'root', file } }));
    expect(() => rootFingerprint(params(dangling))).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { param: 'root', file: dangling } }));
    // Not "absent": a broken root is never silently replaced by the synthetic cohort.
    expect(() => dataRootState(dangling)).toThrow(/symbolic link/);
    expect(loaderPreflight('dalia', params(dangling))).toEqual([`dalia: data root ${dangling} is a symbolic link to ${join(dir, 'nowhere')}, which does not exist; the run will fail`]);
    // A root that is simply absent still means the synthetic cohort.
    expect(rootFingerprint(params(join(dir, 'absent')))).toMatch(/^absent:/);
  });

  it('a dangling link or a loop inside the data root: one line naming the entry', () => {
    const dir = tempDir('inside');
    const root = join(dir, 'root');
    mkdirSync(join(root, 'S1'), { recursive: true });
    writeFileSync(join(root, 'S1', 'S1.pkl'), 'x');
    symlinkSync(join(dir, 'gone'), join(root, 'S1', 'broken'));
    expect(oneLineError(() => rootFingerprint(params(root)))).toBe(`data root ${root}: ${join(root, 'S1', 'broken')} is a symbolic link to ${join(dir, 'gone')}, which does not exist`);
    expect(() => rootFingerprint(params(root))).toThrow(expect.objectContaining({ code: 'FT_FINGERPRINT', about: { file: join(root, 'S1', 'broken') } }));
    const root2 = join(dir, 'root2');
    mkdirSync(root2);
    symlinkSync(join(root2, 'l2'), join(root2, 'l1'));
    symlinkSync(join(root2, 'l1'), join(root2, 'l2'));
    expect(oneLineError(() => rootFingerprint(params(root2)))).toBe(`data root ${root2}: ${join(root2, 'l1')} is a loop of symbolic links`);
  });
});

describe('issue 10 §4: hostile WFDB headers', () => {
  it('a header naming ../../../../etc/passwd as its data file is refused with the header and field named; nothing outside the folder is opened', () => {
    const dir = tempDir('wfdb');
    const rec = join(dir, 'rec');
    mkdirSync(rec);
    writeFileSync(join(rec, 'evil.hea'), 'evil 1 100 10\n../../../../etc/passwd 16 200 16 0 0 0 0 PPG\n');
    expect(oneLineError(() => readRecord(join(rec, 'evil.hea')))).toBe(`${join(rec, 'evil.hea')}: signal 0: data file name "../../../../etc/passwd" must be a plain file name in the record's folder (no "/", "\\" or "..")`);
    expect(() => parseHeader('r 1 100 10\n/etc/passwd 16\n', 'r.hea')).toThrow(/r\.hea: signal 0: data file name "\/etc\/passwd" must be a plain file name/);
    expect(() => parseHeader('r 1 100 10\n..\\x.dat 16\n', 'r.hea')).toThrow(/data file name "\.\.\\x\.dat"/);
    expect(() => parseHeader('r/2 1 100 20\n../../etc/seg 10\nb 10\n', 'r.hea')).toThrow(/r\.hea: segment line 1: record name "\.\.\/\.\.\/etc\/seg" must be a plain name/);
    // data inspect says so and exits 1.
    const f = fakeIo(rec);
    return new DataCommand().run(['inspect', 'evil.hea'], f.io).then((code) => {
      expect(code).toBe(1);
      expect(f.err()).toBe(`fairtune data inspect: cannot read ${join(rec, 'evil.hea')}: signal 0: data file name "../../../../etc/passwd" must be a plain file name in the record's folder (no "/", "\\" or "..")\n`);
    });
  });

  it('a negative sampling rate, signal count, sample count or segment length is refused by data inspect with the file and field named', async () => {
    const dir = tempDir('neg');
    writeFileSync(join(dir, 'fs.hea'), 'fs 1 -250 10\nfs.dat 16\n');
    writeFileSync(join(dir, 'fs.dat'), Buffer.alloc(20));
    writeFileSync(join(dir, 'n.hea'), 'n -2 250 10\n');
    const f = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', 'fs.hea'], f.io)).toBe(1);
    expect(f.err()).toBe(`fairtune data inspect: cannot read ${join(dir, 'fs.hea')}: record line: sampling frequency -250 is negative\n`);
    const g = fakeIo(dir);
    expect(await new DataCommand().run(['inspect', 'n.hea'], g.io)).toBe(1);
    expect(g.err()).toBe(`fairtune data inspect: cannot read ${join(dir, 'n.hea')}: record line: number of signals -2 is negative\n`);
    expect(() => parseHeader('r 1 250 -10\nr.dat 16\n', 'r.hea')).toThrow('r.hea: record line: number of samples -10 is negative');
    expect(() => parseHeader('r/1 1 250\nseg -5\n', 'r.hea')).toThrow('r.hea: segment line 1: length -5 of segment seg is negative');
    expect(() => parseHeader('r/0 1 250\n', 'r.hea')).toThrow('r.hea: record line: number of segments 0 must be at least 1');
  });
});
