/**
 * Downloading openly licensed datasets into the data root: HTTP(S) GET with progress, resume
 * of a partial `.part` file via `Range`, and SHA-256 verification before the file is moved
 * into place. PhysioNet projects publish SHA256SUMS.txt, which drives a per-file download;
 * PPG-DaLiA is one zip (UCI) that is verified when a checksum is given and then extracted.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { FairtuneError } from '@fairtune/core/plugin';

export interface DownloadProgress {
  (file: string, done: number, total: number | undefined): void;
}

export interface DownloadResult {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly resumedFrom: number;
  readonly skipped: boolean;
}

async function hashFile(path: string, hash = createHash('sha256')): Promise<ReturnType<typeof createHash>> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash;
}

/** Downloads `url` to `dest` (resuming `dest.part`), verifying `sha256` when given. */
export async function downloadFile(url: string, dest: string, opts: { sha256?: string; onProgress?: DownloadProgress; signal?: AbortSignal } = {}): Promise<DownloadResult> {
  mkdirSync(dirname(dest), { recursive: true });
  if (existsSync(dest) && opts.sha256) {
    const have = (await hashFile(dest)).digest('hex');
    if (have === opts.sha256.toLowerCase()) return { path: dest, sha256: have, bytes: statSync(dest).size, resumedFrom: 0, skipped: true };
  }
  const part = `${dest}.part`;
  let offset = existsSync(part) ? statSync(part).size : 0;
  const res = await fetch(url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, signal: opts.signal ?? null });
  if (res.status === 416 && offset > 0) {
    // The partial file is already complete (or bigger than the resource): start over.
    rmSync(part);
    return downloadFile(url, dest, opts);
  }
  if (!(res.status === 200 || res.status === 206)) throw new FairtuneError('FT_DOWNLOAD_FAILED', `${url}: HTTP ${res.status} ${res.statusText}`, { file: url });
  if (res.status === 200) offset = 0; // server ignored the range: restart
  const hash = offset > 0 ? await hashFile(part) : createHash('sha256');
  const len = res.headers.get('content-length');
  const total = len !== null ? offset + Number(len) : undefined;
  const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  let done = offset;
  try {
    if (!res.body) throw new FairtuneError('FT_DOWNLOAD_FAILED', `${url}: empty response body`, { file: url });
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      done += chunk.length;
      opts.onProgress?.(dest, done, total);
    }
  } finally {
    await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  }
  if (total !== undefined && done !== total) throw new FairtuneError('FT_DOWNLOAD_FAILED', `${url}: connection ended after ${done} of ${total} bytes; run again to resume from ${part}`, { file: url });
  const sha = hash.digest('hex');
  if (opts.sha256 && sha !== opts.sha256.toLowerCase()) {
    rmSync(part);
    throw new FairtuneError('FT_DATA_FORMAT', `${dest}: SHA-256 mismatch (expected ${opts.sha256}, got ${sha}); the partial download was removed`, { file: dest });
  }
  renameSync(part, dest);
  return { path: dest, sha256: sha, bytes: done, resumedFrom: offset, skipped: false };
}

/** Parses PhysioNet's `SHA256SUMS.txt` (`<hex>  <relative path>` per line). */
export function parseSha256Sums(text: string): { sha256: string; path: string }[] {
  return text
    .split(/\r?\n/)
    .map((l) => /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ sha256: m[1]!.toLowerCase(), path: m[2]! }));
}

/** Downloads every file listed in `<baseUrl>/SHA256SUMS.txt` into `root`, verified. */
export async function downloadPhysionetProject(baseUrl: string, root: string, opts: { onProgress?: (done: number, total: number, file: string) => void; signal?: AbortSignal } = {}): Promise<DownloadResult[]> {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const res = await fetch(`${base}SHA256SUMS.txt`, { signal: opts.signal ?? null });
  if (!res.ok) throw new FairtuneError('FT_DOWNLOAD_FAILED', `${base}SHA256SUMS.txt: HTTP ${res.status} ${res.statusText}`, { file: `${base}SHA256SUMS.txt` });
  const list = parseSha256Sums(await res.text());
  if (list.length === 0) throw new FairtuneError('FT_DATA_FORMAT', `${base}SHA256SUMS.txt lists no files`, { file: `${base}SHA256SUMS.txt` });
  const out: DownloadResult[] = [];
  const absRoot = resolve(root);
  for (const [i, f] of list.entries()) {
    const dest = resolve(absRoot, f.path);
    if (!dest.startsWith(absRoot + sep)) throw new FairtuneError('FT_DATA_FORMAT', `${base}SHA256SUMS.txt: path ${f.path} escapes the data root`, { file: `${base}SHA256SUMS.txt` });
    out.push(await downloadFile(base + f.path.split('/').map(encodeURIComponent).join('/'), dest, { sha256: f.sha256, signal: opts.signal }));
    opts.onProgress?.(i + 1, list.length, f.path);
  }
  return out;
}

/** Where each openly downloadable dataset lives (users may override the URL). */
export const DATASET_SOURCES = {
  dalia: { url: 'https://archive.ics.uci.edu/static/public/495/ppg+dalia.zip', kind: 'zip' as const },
  'but-ppg': { url: 'https://physionet.org/files/butppg/2.0.0/', kind: 'physionet' as const },
};

/** Why MIMIC-III data cannot be fetched like the open datasets, and how users obtain it. */
export const MIMIC_ACCESS_NOTE =
  'MIMIC-III clinical tables (PATIENTS.csv with GENDER) require credentialed PhysioNet access: complete the CITI "Data or Specimens Only Research" training, sign the MIMIC-III data use agreement at https://physionet.org/content/mimiciii/ and download PATIENTS.csv yourself; the matched waveform subset is at https://physionet.org/content/mimic3wdb-matched/1.0/. FairTune cannot download credentialed data for you.';

/** `download: true` asked of the MIMIC loader: the data are credentialed, so the param cannot work. */
export function mimicDownloadError(): FairtuneError {
  return new FairtuneError('FT_PARAM_INVALID', `MIMIC cannot be downloaded automatically. ${MIMIC_ACCESS_NOTE}`, { param: 'download' });
}
