import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runStandalone, type DatasetMeta } from '@fairtune/core';
import { tempDir } from '../test-utils/paths.js';
import { downloadFile, parseSha256Sums } from './download.js';
import { writeButPpgCohort } from '../synthetic/but-ppg.js';
import { withDefaults } from '../synthetic/cohort.js';
import { ButPpgLoader } from '../loaders/but-ppg.js';
import { MimicLoader } from '../loaders/mimic.js';

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
    expect(existsSync(`${dest}.part`) || existsSync(dest)).toBe(false);
    await expect(downloadFile(`${base}/missing`, dest)).rejects.toThrow(/HTTP 404/);
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
    const meta = outputs['dataset']!.meta as unknown as DatasetMeta;
    expect(meta.synthetic).toBe(false);
    expect(meta.recordings.map((r) => r.id)).toEqual(['100001', '112001']);
    writeFileSync(join(tempDir('noop'), 'x'), '');
  });

  it('MIMIC download explains credentialed access', async () => {
    await expect(runStandalone(new MimicLoader(), { params: { root: join(tempDir('m'), 'mimic'), download: true } })).rejects.toThrow(/credentialed PhysioNet access/);
  });
});
