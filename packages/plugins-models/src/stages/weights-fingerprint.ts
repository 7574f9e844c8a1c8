/**
 * Cache fingerprint of a model stage's weights file: its absolute path, size and modification
 * time (a stat, not a read, as core asks of fingerprints). Without it the key holds only the path,
 * so converting another checkpoint to the same file name would silently reuse the old backbone.
 * No file given: undefined, which leaves the key as it was before fingerprints existed here.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

export function weightsFingerprint(weights: string | undefined, stageType: string): string | undefined {
  if (!weights) return undefined;
  const path = resolve(weights);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new Error(`${stageType}: weights file ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!st.isFile()) throw new Error(`${stageType}: weights ${path} is not a file`);
  return `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
}
