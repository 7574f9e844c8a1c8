/** Dataset-specific download recipes used by the loaders' `download` option. */
import { existsSync, mkdirSync, renameSync, rmSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FairtuneError } from '@fairtune/core/plugin';
import { DATASET_SOURCES, downloadFile, downloadPhysionetProject } from './download.js';
import { extractZip } from './unzip.js';

/**
 * PPG-DaLiA: the UCI zip (verified against `downloadSha256` when given; UCI publishes no
 * checksum), extracted; while no `PPG_FieldStudy/` folder has appeared, the zips it held
 * (UCI nests `data.zip`; other mirrors ship `PPG_FieldStudy.zip`) are extracted in turn, up to
 * three levels. The per-subject `S<n>_E4.zip` raw-device archives are left as shipped. Each
 * nested zip is deleted once extracted and the work folder once `PPG_FieldStudy/` has become
 * `root`, so the disk holds at most the archive plus its contents. On failure the downloaded
 * archive stays in `<root>.download/` and a rerun with the same SHA-256 reuses it.
 */
export async function downloadDalia(root: string, p: { downloadUrl?: string; downloadSha256?: string }, progress: (done: number, total?: number) => void): Promise<void> {
  const work = `${root}.download`;
  mkdirSync(work, { recursive: true });
  const zip = join(work, 'ppg_dalia.zip');
  await downloadFile(p.downloadUrl ?? DATASET_SOURCES.dalia.url, zip, { ...(p.downloadSha256 ? { sha256: p.downloadSha256 } : {}), onProgress: (_f, d, t) => progress(d, t) });
  const find = (dir: string, depth = 0): string | undefined => {
    if (!existsSync(dir)) return undefined;
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
  const seen: string[] = [];
  for (let round = 0; round < 3 && zips.length > 0 && !find(extracted); round++) {
    const next: string[] = [];
    for (const z of zips) {
      seen.push(basename(z));
      for (const f of await extractZip(z, extracted)) if (f.toLowerCase().endsWith('.zip') && !/_E4\.zip$/i.test(f)) next.push(f);
      if (z !== zip) rmSync(z);
    }
    zips = next;
  }
  const found = find(extracted);
  if (!found) throw new FairtuneError('FT_PARAM_INVALID', `${zip}: no PPG_FieldStudy folder in the archive (extracted ${seen.join(', ')}); is downloadUrl the PPG-DaLiA zip?`, { param: 'downloadUrl', file: zip });
  mkdirSync(dirname(root), { recursive: true });
  renameSync(found, root);
  rmSync(work, { recursive: true, force: true });
}

/** BUT-PPG: every file of the PhysioNet project, each verified against SHA256SUMS.txt. */
export async function downloadButPpg(root: string, p: { downloadUrl?: string }, progress: (done: number, total: number, file: string) => void): Promise<void> {
  const tmp = `${root}.download`;
  await downloadPhysionetProject(p.downloadUrl ?? DATASET_SOURCES['but-ppg'].url, tmp, { onProgress: progress });
  renameSync(tmp, root);
}
