/** Dataset-specific download recipes used by the loaders' `download` option. */
import { existsSync, mkdirSync, renameSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_SOURCES, downloadFile, downloadPhysionetProject } from './download.js';
import { extractZip } from './unzip.js';

/**
 * PPG-DaLiA: the UCI zip (verified against `downloadSha256` when given; UCI publishes no
 * checksum), extracted, then its nested `data.zip`, until `PPG_FieldStudy/` appears; that
 * folder becomes `root`.
 */
export async function downloadDalia(root: string, p: { downloadUrl?: string; downloadSha256?: string }, progress: (done: number, total?: number) => void): Promise<void> {
  const work = `${root}.download`;
  mkdirSync(work, { recursive: true });
  const zip = join(work, 'ppg_dalia.zip');
  await downloadFile(p.downloadUrl ?? DATASET_SOURCES.dalia.url, zip, { ...(p.downloadSha256 ? { sha256: p.downloadSha256 } : {}), onProgress: (_f, d, t) => progress(d, t) });
  const find = (dir: string, depth = 0): string | undefined => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name === 'PPG_FieldStudy') return join(dir, e.name);
      if (e.isDirectory() && depth < 3) {
        const hit = find(join(dir, e.name), depth + 1);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  const extracted = join(work, 'x');
  rmSync(extracted, { recursive: true, force: true });
  let zips = [zip];
  for (let round = 0; round < 3 && !find(extracted, 0); round++) {
    const next: string[] = [];
    for (const z of zips) for (const f of await extractZip(z, extracted)) if (f.endsWith('.zip') && !/_E4\.zip$/.test(f)) next.push(f);
    zips = next;
    if (zips.length === 0) break;
  }
  const found = existsSync(extracted) ? find(extracted) : undefined;
  if (!found) throw new Error(`${zip}: the archive does not contain a PPG_FieldStudy folder`);
  renameSync(found, root);
  rmSync(extracted, { recursive: true, force: true });
}

/** BUT-PPG: every file of the PhysioNet project, each verified against SHA256SUMS.txt. */
export async function downloadButPpg(root: string, p: { downloadUrl?: string }, progress: (done: number, total: number, file: string) => void): Promise<void> {
  const tmp = `${root}.download`;
  await downloadPhysionetProject(p.downloadUrl ?? DATASET_SOURCES['but-ppg'].url, tmp, { onProgress: progress });
  renameSync(tmp, root);
}
