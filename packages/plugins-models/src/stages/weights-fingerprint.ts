/**
 * Cache fingerprint of a model stage's weights file: its absolute path, size and modification
 * time (a stat, not a read, as core asks of fingerprints). Without it the key holds only the path,
 * so converting another checkpoint to the same file name would silently reuse the old backbone.
 * No file given: undefined, which leaves the key as it was before fingerprints existed here.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { FairtuneError } from '@fairtune/core/plugin';

export function weightsFingerprint(weights: string | undefined, stageType: string): string | undefined {
  if (!weights) return undefined;
  const path = resolve(weights);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Absent (or under a path that is not a folder): FT_DATA_MISSING; present but unreadable: FT_FINGERPRINT.
    throw new FairtuneError(code === 'ENOENT' || code === 'ENOTDIR' ? 'FT_DATA_MISSING' : 'FT_FINGERPRINT', `${stageType}: weights file ${path}: cannot read (${code ?? (err as Error).message})`, { file: path }, { cause: err });
  }
  if (!st.isFile()) throw new FairtuneError('FT_DATA_MISSING', `${stageType}: weights ${path} is not a file`, { file: path });
  return `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
}
