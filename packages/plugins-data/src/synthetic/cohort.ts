/**
 * Shared pieces of the synthetic cohorts: demographics, the deterministic output directory
 * `.fairtune/synthetic/<dataset>-<hash of params>` and atomic completion: each generator writes
 * into its own `<dir>.tmp-<pid>-<random>/` (with `.owner.json` naming its process, so
 * `fairtune cache gc` can collect the folder of a killed generation), then renames it into
 * place. A complete cohort is never deleted or replaced: a generator that finds one there
 * (another run finished first) discards its copy and uses that one, so a run reading a
 * cohort never sees it half-written or disappearing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { processOwner, Rng } from '@fairtune/core/plugin';
import { DEFAULT_GROUP_EFFECT, type GroupEffect } from './physiology.js';

export interface CohortParams {
  readonly subjects: number;
  readonly minutes: number;
  readonly seed: number;
  readonly groupEffect: GroupEffect;
}

export interface Demographics {
  readonly sex: 'male' | 'female';
  readonly age: number;
  readonly height: number;
  readonly weight: number;
  readonly skin: number;
  readonly sport: number;
}

/** Balanced sexes (alternating, shuffled by seed) and ages spread over 20-75 so both age groups exist. */
export function cohortDemographics(seed: number, n: number): Demographics[] {
  const rng = Rng.derive(seed, 'demographics');
  const sexes = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'male' : 'female') as 'male' | 'female');
  rng.shuffle(sexes);
  return sexes.map((sex, i) => {
    const age = Math.round(20 + ((i * 53) % 56) + rng.uniform(0, 1));
    const height = Math.round(sex === 'male' ? rng.normal(180, 7) : rng.normal(167, 6));
    return { sex, age, height, weight: Math.round(height - 100 + rng.normal(0, 8)), skin: 2 + rng.int(4), sport: 1 + rng.int(6) };
  });
}

export function withDefaults(p: Partial<CohortParams> & { subjects: number; minutes: number }): CohortParams {
  return { subjects: p.subjects, minutes: p.minutes, seed: p.seed ?? 42, groupEffect: { ...DEFAULT_GROUP_EFFECT, ...(p.groupEffect ?? {}) } };
}

/** Version of the generators: bump when their output changes so old directories are not reused. */
export const GENERATOR_VERSION = 4;

export function cohortHash(dataset: string, params: unknown): string {
  return createHash('sha256').update(JSON.stringify({ dataset, v: GENERATOR_VERSION, params })).digest('hex').slice(0, 12);
}

export function syntheticBaseDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['FAIRTUNE_SYNTHETIC_DIR'] ?? join('.fairtune', 'synthetic'));
}

/** Written into a generation's temporary folder: `{ pid, hostname, started }` of the generating process. */
export const OWNER_FILE = '.owner.json';

/**
 * Returns the cohort directory, generating it with `write(tmpDir)` unless a complete copy
 * exists. `reused` tells whether an existing copy (or one another process completed while
 * this one generated) is returned.
 */
export function ensureCohort(dataset: string, params: unknown, write: (dir: string) => void, baseDir = syntheticBaseDir()): { dir: string; reused: boolean } {
  const staged = stageCohort(dataset, params, baseDir);
  if ('reused' in staged) return staged;
  try {
    write(staged.tmp);
    return publishCohort(staged, dataset, params);
  } catch (err) {
    return abandonCohort(staged, err);
  }
}

/**
 * ensureCohort for generators that write asynchronously (the imaging cohorts encode JPEGs with
 * sharp, whose encoder is asynchronous only); same folders, marker and publication.
 */
export async function ensureCohortAsync(dataset: string, params: unknown, write: (dir: string) => Promise<void>, baseDir = syntheticBaseDir()): Promise<{ dir: string; reused: boolean }> {
  const staged = stageCohort(dataset, params, baseDir);
  if ('reused' in staged) return staged;
  try {
    await write(staged.tmp);
    return publishCohort(staged, dataset, params);
  } catch (err) {
    return abandonCohort(staged, err);
  }
}

interface StagedCohort {
  readonly dir: string;
  readonly marker: string;
  readonly tmp: string;
}

/** The complete cohort when one exists, else a fresh temporary folder (owned by this process) to write it into. */
function stageCohort(dataset: string, params: unknown, baseDir: string): StagedCohort | { dir: string; reused: true } {
  const dir = join(baseDir, `${dataset}-${cohortHash(dataset, params)}`);
  const marker = join(dir, '.complete.json');
  if (existsSync(marker)) return { dir, reused: true };
  mkdirSync(baseDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp);
  try {
    writeFileSync(join(tmp, OWNER_FILE), JSON.stringify(processOwner()));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, marker, tmp };
}

function publishCohort(s: StagedCohort, dataset: string, params: unknown): { dir: string; reused: boolean } {
  writeFileSync(join(s.tmp, '.complete.json'), JSON.stringify({ dataset, generatorVersion: GENERATOR_VERSION, params }, null, 1));
  rmSync(join(s.tmp, OWNER_FILE), { force: true });
  const published = publish(s.tmp, s.dir);
  if (!published) rmSync(s.tmp, { recursive: true, force: true });
  return { dir: s.dir, reused: !published };
}

/** A failed generation leaves nothing behind; another process's completed copy still serves. */
function abandonCohort(s: StagedCohort, err: unknown): { dir: string; reused: boolean } {
  rmSync(s.tmp, { recursive: true, force: true });
  if (existsSync(s.marker)) return { dir: s.dir, reused: true };
  throw err;
}

/** Renames a complete cohort into place; false when a complete one is already there (never replaced). */
function publish(tmp: string, dir: string): boolean {
  for (let attempt = 0; ; attempt++) {
    try {
      renameSync(tmp, dir);
      return true;
    } catch (err) {
      if (!existsSync(dir)) {
        if (attempt < 3) continue;
        throw err;
      }
      if (existsSync(join(dir, '.complete.json'))) return false;
      if (attempt >= 3) throw err;
      // A folder without the completion marker is no generator's output (made by hand, or
      // damaged) and nobody reads it: move it aside in one step, delete it, and try again.
      const aside = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}-incomplete`;
      try {
        renameSync(dir, aside);
      } catch {
        continue;
      }
      rmSync(aside, { recursive: true, force: true });
    }
  }
}

export function readCompletion(dir: string): unknown {
  const p = join(dir, '.complete.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined;
}
