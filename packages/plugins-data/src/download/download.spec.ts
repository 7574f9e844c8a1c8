import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { outputOf, runStandalone } from '@fairtune/core';
import { tempDir } from '../test-utils/paths.js';
import { downloadFile, parseSha256Sums } from './download.js';
import { writeButPpgCohort } from '../synthetic/but-ppg.js';
import { withDefaults } from '../synthetic/cohort.js';
import { ButPpgLoader } from '../loaders/but-ppg.js';
import { MimicLoader } from '../loaders/mimic.js';
import { DaliaLoader, readDaliaSubject } from '../loaders/dalia.js';
import { writeDaliaCohort } from '../synthetic/dalia.js';
import { downloadDalia } from './datasets.js';
import { buildZip, type ZipWriterEntry } from './test-utils/zip-writer.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let server: Server;
let base: string;
const files = new Map<string, Buffer>();
let cutNext = 0; // when > 0, the next full response stops after this many bytes
const rangesSeen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = files.get(decodeURIComponent(req.url ?? ''));
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      rangesSeen.push(req.headers.range!);
      const start = Number(range[1]);
      res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length });
    if (cutNext > 0) {
      res.write(body.subarray(0, cutNext));
      cutNext = 0;
      // Let the client receive the first bytes, then drop the connection mid-body.
      setTimeout(() => res.destroy(), 100);
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('download', () => {
  it('resumes an interrupted download with a Range request and verifies SHA-256', async () => {
    const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff));
    files.set('/big.bin', body);
    const dest = join(tempDir('dl'), 'big.bin');
    cutNext = 70_000;
    await expect(downloadFile(`${base}/big.bin`, dest, { sha256: sha(body) })).rejects.toThrow();
    expect(existsSync(`${dest}.part`)).toBe(true);
    const progress: number[] = [];
    const r = await downloadFile(`${base}/big.bin`, dest, { sha256: sha(body), onProgress: (_f, d) => progress.push(d) });
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(rangesSeen.at(-1)).toBe(`bytes=${r.resumedFrom}-`);
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect(progress.at(-1)).toBe(body.length);
    expect((await downloadFile(`${base}/big.bin`, dest, { sha256: sha(body) })).skipped).toBe(true);
  });

  it('rejects a checksum mismatch and removes the partial file', async () => {
    files.set('/x.bin', Buffer.from('hello'));
    const dest = join(tempDir('dl2'), 'x.bin');
    await expect(downloadFile(`${base}/x.bin`, dest, { sha256: '0'.repeat(64) })).rejects.toThrow(/x\.bin: SHA-256 mismatch/);
    await expect(downloadFile(`${base}/x.bin`, dest, { sha256: '0'.repeat(64) })).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file: dest } });
    expect(existsSync(`${dest}.part`) || existsSync(dest)).toBe(false);
    await expect(downloadFile(`${base}/missing`, dest)).rejects.toThrow(/HTTP 404/);
    await expect(downloadFile(`${base}/missing`, dest)).rejects.toMatchObject({ code: 'FT_DOWNLOAD_FAILED', about: { file: `${base}/missing` } });
  });

  it('data.but-ppg download: fetches a PhysioNet-style project via SHA256SUMS.txt and loads it', async () => {
    const src = join(tempDir('butsrc'), 'butppg');
    writeButPpgCohort(src, { ...withDefaults({ subjects: 2, minutes: 1 }), recordsPerSubject: 1 });
    const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
    const sums: string[] = [];
    for (const f of walk(src)) {
      const rel = relative(src, f);
      const b = readFileSync(f);
      files.set(`/butppg/${rel}`, b);
      sums.push(`${sha(b)} ${rel}`);
    }
    files.set('/butppg/SHA256SUMS.txt', Buffer.from(sums.join('\n') + '\n'));
    expect(parseSha256Sums(sums.join('\n'))).toHaveLength(sums.length);
    const root = join(tempDir('butdl'), 'butppg');
    const { outputs } = await runStandalone(new ButPpgLoader(), { params: { root, download: true, downloadUrl: `${base}/butppg/`, synthetic: 'never' } });
    const meta = outputOf({ outputs }, 'dataset', 'dataset').meta;
    expect(meta.synthetic).toBe(false);
    expect(meta.recordings.map((r) => r.id)).toEqual(['100001', '112001']);
    writeFileSync(join(tempDir('noop'), 'x'), '');
  });

  /** A small DaLiA cohort as the archive entries `PPG_FieldStudy/S<n>/…` (each subject with an `S<n>_E4.zip`). */
  function fieldStudyEntries(): { src: string; entries: ZipWriterEntry[] } {
    const src = tempDir('daliasrc');
    writeDaliaCohort(src, { ...withDefaults({ subjects: 2, minutes: 1, seed: 7 }), chest: false, protocol: 2 });
    const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
    const entries: ZipWriterEntry[] = [{ name: 'PPG_FieldStudy/' }];
    for (const f of walk(join(src, 'PPG_FieldStudy')).sort()) entries.push({ name: relative(src, f), data: readFileSync(f), method: 8 });
    for (const s of ['S1', 'S2']) {
      const e4 = buildZip([{ name: 'ACC.csv', data: Buffer.from('1495437325.000000, 1495437325.000000, 1495437325.000000\n32.000000, 32.000000, 32.000000\n-62,-10,7\n') }]);
      entries.push({ name: `PPG_FieldStudy/${s}/${s}_E4.zip`, data: e4, method: 0 });
    }
    return { src: join(src, 'PPG_FieldStudy'), entries };
  }

  it('data.dalia download: UCI zip with a nested data.zip (zip64), interrupted and resumed, SHA-256 verified, extracted and loaded', async () => {
    const { src, entries } = fieldStudyEntries();
    // The UCI layout: the readme next to data.zip, which holds PPG_FieldStudy/.
    const inner = buildZip(entries, { forceZip64: true });
    const outer = buildZip([
      { name: 'PPG_FieldStudy_readme.pdf', data: Buffer.from('%PDF-1.4\n% test readme\n'), method: 0 },
      { name: 'data.zip', data: inner, method: 0 },
    ]);
    files.set('/static/public/495/ppg+dalia.zip', outer);
    const root = join(tempDir('daliadl'), 'PPG_FieldStudy');
    const params = { root, download: true, downloadUrl: `${base}/static/public/495/ppg+dalia.zip`, downloadSha256: sha(outer), synthetic: 'never' as const };
    cutNext = Math.floor(outer.length / 3);
    await expect(runStandalone(new DaliaLoader(), { params })).rejects.toThrow(/connection ended|terminated|socket/i);
    expect(existsSync(root)).toBe(false);
    expect(statSync(join(`${root}.download`, 'ppg_dalia.zip.part')).size).toBeGreaterThan(0);
    const ranges = rangesSeen.length;
    const { outputs, events } = await runStandalone(new DaliaLoader(), { params });
    expect(rangesSeen.length).toBe(ranges + 1);
    expect(Number(/^bytes=(\d+)-$/.exec(rangesSeen.at(-1)!)![1])).toBeGreaterThan(0);
    const byteProgress = events.filter((e) => e.type === 'progress' && e.unit === 'bytes') as { done: number; total?: number }[];
    expect(byteProgress.at(-1)).toMatchObject({ done: outer.length, total: outer.length });
    // PPG_FieldStudy became the root, the E4 zips stayed zipped, the work folder is gone.
    expect(readdirSync(root).sort()).toEqual(['S1', 'S2']);
    expect(readdirSync(join(root, 'S1')).sort()).toEqual(['S1.pkl', 'S1_E4.zip', 'S1_activity.csv', 'S1_quest.csv']);
    expect(existsSync(`${root}.download`)).toBe(false);
    const ds = outputOf({ outputs }, 'dataset', 'dataset');
    const meta = ds.meta;
    expect(meta.synthetic).toBe(false);
    expect(meta.recordings.map((r) => r.id)).toEqual(['S1', 'S2']);
    for (const id of ['S1', 'S2']) {
      const want = readDaliaSubject(src, id, false);
      expect(Array.from(ds.arrays[`${id}/ppg`]!.data)).toEqual(Array.from(want.bvp));
      expect(Array.from(ds.arrays[`${id}/hr`]!.data)).toEqual(Array.from(want.label));
      expect(meta.recordings.find((r) => r.id === id)!.attributes).toEqual(want.attributes);
    }
    const pklSha = meta.recordings[0]!.files!.find((f) => f.path.endsWith('S1.pkl'))!.sha256;
    expect(pklSha).toBe(sha(readFileSync(join(src, 'S1', 'S1.pkl'))));
  });

  it('DaLiA archive variants: PPG_FieldStudy.zip nested, folder at the top, and an archive without the folder', async () => {
    const { entries } = fieldStudyEntries();
    const variants: Record<string, Buffer> = {
      '/nested.zip': buildZip([{ name: 'PPG_FieldStudy.zip', data: buildZip(entries), method: 8 }]),
      '/flat.zip': buildZip(entries, { dataDescriptor: true }),
      '/wrong.zip': buildZip([{ name: 'other/readme.txt', data: Buffer.from('not DaLiA') }, { name: 'other/S1_E4.zip', data: buildZip([{ name: 'ACC.csv', data: Buffer.from('1\n') }]) }]),
    };
    for (const [path, body] of Object.entries(variants)) files.set(path, body);
    for (const path of ['/nested.zip', '/flat.zip']) {
      const root = join(tempDir('daliavar'), 'data', 'PPG_FieldStudy');
      await downloadDalia(root, { downloadUrl: `${base}${path}` }, () => {});
      expect(readdirSync(root).sort()).toEqual(['S1', 'S2']);
      expect(readdirSync(join(root, 'S2')).sort()).toEqual(['S2.pkl', 'S2_E4.zip', 'S2_activity.csv', 'S2_quest.csv']);
      expect(existsSync(`${root}.download`)).toBe(false);
    }
    const root = join(tempDir('daliawrong'), 'PPG_FieldStudy');
    await expect(downloadDalia(root, { downloadUrl: `${base}/wrong.zip` }, () => {})).rejects.toThrow(/ppg_dalia\.zip: no PPG_FieldStudy folder in the archive \(extracted ppg_dalia\.zip\); is downloadUrl the PPG-DaLiA zip\?/);
    expect(existsSync(root)).toBe(false);
    // A corrupt archive fails naming the entry; the verified download stays for a rerun.
    const bad = buildZip(entries.map((e) => (e.name === 'PPG_FieldStudy/S2/S2.pkl' ? { ...e, crcOverride: 1 } : e)));
    files.set('/bad.zip', bad);
    const badRoot = join(tempDir('daliabad'), 'PPG_FieldStudy');
    await expect(downloadDalia(badRoot, { downloadUrl: `${base}/bad.zip`, downloadSha256: sha(bad) }, () => {})).rejects.toThrow(/entry "PPG_FieldStudy\/S2\/S2\.pkl": CRC-32 mismatch/);
    expect(existsSync(badRoot)).toBe(false);
    expect(readFileSync(join(`${badRoot}.download`, 'ppg_dalia.zip')).equals(bad)).toBe(true);
  });

  it('MIMIC download explains credentialed access', async () => {
    await expect(runStandalone(new MimicLoader(), { params: { root: join(tempDir('m'), 'mimic'), download: true } })).rejects.toThrow(/credentialed PhysioNet access/);
    await expect(runStandalone(new MimicLoader(), { params: { root: join(tempDir('m'), 'mimic'), download: true } })).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'download' } });
  });
});
