import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directory of the real PhysioNet records copied into the package's test fixtures. */
export const WFDB_FIXTURES = fileURLToPath(new URL('../../test/fixtures/wfdb/', import.meta.url));
/** Small DaLiA-shaped pickles written by CPython 3 + numpy (scripts/pickle-oracle.py --write). */
export const PICKLE_FIXTURES = fileURLToPath(new URL('../../test/fixtures/pickle/', import.meta.url));

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `fairtune-data-${label}-`));
}
