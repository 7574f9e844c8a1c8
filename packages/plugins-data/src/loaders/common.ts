/**
 * What every loader stage shares: the params for data root, subject subset, bad-subject
 * policy and synthetic fallback; root resolution (generating the synthetic cohort in the real
 * format when the root is absent); file checksums; and the per-subject loop.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { join, parse, resolve } from 'node:path';
import { FairtuneError, type StageEmitter } from '@fairtune/core/plugin';
import { prefixedError } from '../errors.js';
import { DEFAULT_GROUP_EFFECT, DEFAULT_PULSE_REFLECTION, type GroupEffect } from '../synthetic/physiology.js';
import { GENERATOR_VERSION, ensureCohort } from '../synthetic/cohort.js';

export type SyntheticMode = 'auto' | 'never' | 'always';

export interface LoaderParams {
  root: string;
  subjects?: string[];
  skipBadSubjects: boolean;
  synthetic: SyntheticMode;
  syntheticSubjects: number;
  syntheticMinutes: number;
  syntheticSeed: number;
  groupEffect: GroupEffect;
  download: boolean;
  downloadUrl?: string;
  downloadSha256?: string;
}

export function loaderSchema(defaults: { root: string; subjects: number; minutes: number }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      root: { type: 'string', minLength: 1, default: defaults.root, description: 'Dataset root directory (environment variables are substituted by the core).' },
      subjects: { type: 'array', items: { type: 'string' }, description: 'Subset of subject ids to load (default: all).' },
      skipBadSubjects: { type: 'boolean', default: false, description: 'Skip an unreadable subject with a warning instead of failing.' },
      synthetic: { enum: ['auto', 'never', 'always'], default: 'auto', description: "auto: generate a synthetic cohort in the real format when root does not exist." },
      syntheticSubjects: { type: 'integer', minimum: 2, maximum: 200, default: defaults.subjects },
      syntheticMinutes: { type: 'number', exclusiveMinimum: 0, maximum: 300, default: defaults.minutes },
      syntheticSeed: { type: 'integer', default: 42 },
      groupEffect: {
        type: 'object',
        additionalProperties: false,
        default: { ...DEFAULT_GROUP_EFFECT },
        properties: {
          group: { enum: ['male', 'female'], default: DEFAULT_GROUP_EFFECT.group },
          artefactScale: { type: 'number', minimum: 0, default: DEFAULT_GROUP_EFFECT.artefactScale },
          noiseScale: { type: 'number', minimum: 0, default: DEFAULT_GROUP_EFFECT.noiseScale },
          labelNoiseBpm: { type: 'number', minimum: 0, default: DEFAULT_GROUP_EFFECT.labelNoiseBpm },
          pulseReflection: {
            type: 'number',
            minimum: 0,
            maximum: 1,
            default: DEFAULT_PULSE_REFLECTION,
            description: 'Learnable part of the group effect: strength of the stronger, later reflected wave in the group\'s pulse (0 = none).',
          },
          restingHrDifference: {
            type: 'boolean',
            description: 'Resting HR depends on sex (female 62-82, male 56-76 bpm) when true or absent; false draws every subject from 58-78 bpm (no group difference at all when the other terms are neutral too).',
          },
        },
      },
      download: { type: 'boolean', default: false, description: 'When root does not exist, download the openly licensed dataset into it first (progress, resume, SHA-256 check).' },
      downloadUrl: { type: 'string', description: 'Override the download location.' },
      downloadSha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'Expected SHA-256 of a single-archive download.' },
      ...extra,
    },
  };
}

export interface ResolvedRoot {
  readonly root: string;
  readonly synthetic: boolean;
  readonly note?: string;
}

/**
 * Real root if it exists (and synthetic ≠ 'always'); otherwise the synthetic cohort
 * directory, generated (or reused) in the dataset's real on-disk format.
 */
export async function resolveDataRoot(
  dataset: string,
  p: LoaderParams,
  emit: StageEmitter,
  generate: (dir: string) => string,
  generatorParams: unknown,
  subdir: string,
  download?: (root: string) => Promise<void>,
): Promise<ResolvedRoot> {
  const root = resolve(p.root);
  if (p.download && p.synthetic !== 'always' && dataRootState(root) === 'absent') {
    if (!download) throw new FairtuneError('FT_PARAM_INVALID', `${dataset}: no download is available for this dataset`, { param: 'download' });
    emit.log('info', `downloading ${dataset} into ${root}`);
    await download(root);
  }
  const exists = p.synthetic !== 'always' && dataRootState(root) === 'folder';
  if (p.synthetic === 'never' || (p.synthetic === 'auto' && exists)) {
    if (!exists) throw new FairtuneError('FT_DATA_MISSING', `${dataset}: data root ${root} does not exist (synthetic: 'never'). Point 'root' at the dataset or allow synthetic data.`, { file: root, param: 'root' });
    return { root, synthetic: false };
  }
  const { dir, reused } = ensureCohort(dataset, generatorParams, (tmp) => {
    generate(tmp);
  });
  const why = p.synthetic === 'always' ? "synthetic: 'always'" : `data root ${root} does not exist`;
  const cohort = `the synthetic ${dataset} cohort (${JSON.stringify(generatorParams)}) in ${dir}`;
  emit.log('warn', `SYNTHETIC DATA: ${why}; ${reused ? 'reusing' : 'generated'} ${cohort}`);
  // The meta's note leaves out whether this run generated the cohort or reused it: the data are
  // the same either way, and the output must not depend on what an earlier run left on disk.
  const note = `SYNTHETIC DATA: ${why}; using ${cohort}`;
  return { root: resolve(dir, subdir), synthetic: true, note };
}

/** Streams a file through SHA-256 (1 MiB blocks; multi-GB pickles never sit in memory). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Runs `load` for each subject, emitting progress; a failing subject either fails the stage
 * (error message names the subject and the file) or, with skipBadSubjects, is skipped with a
 * warning.
 */
export async function forEachSubject<T>(
  subjects: readonly string[],
  p: LoaderParams,
  emit: StageEmitter,
  load: (subject: string) => T,
): Promise<T[]> {
  const out: T[] = [];
  let done = 0;
  emit.progress(0, subjects.length, 'loading subjects', 'subjects');
  for (const s of subjects) {
    await emit.checkpoint();
    try {
      out.push(load(s));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (!p.skipBadSubjects) throw prefixedError(err, `subject ${s}: ${msg}`);
      emit.log('warn', `skipping subject ${s}: ${msg}`);
    }
    done++;
    emit.progress(done, subjects.length, `subject ${s}`, 'subjects');
  }
  // None to load is absent data; every one failing (each warned about above) is unreadable data.
  if (out.length === 0) throw new FairtuneError(subjects.length === 0 ? 'FT_DATA_MISSING' : 'FT_DATA_FORMAT', `no subject could be loaded (${subjects.length} tried)`);
  return out;
}

export function selectSubjects(all: readonly string[], wanted: readonly string[] | undefined, where: string): string[] {
  if (!wanted || wanted.length === 0) return [...all];
  const missing = wanted.filter((w) => !all.includes(w));
  if (missing.length) throw new FairtuneError('FT_PARAM_INVALID', `${where}: subject(s) ${missing.join(', ')} not found (available: ${all.join(', ')})`, { param: 'subjects' });
  return all.filter((s) => wanted.includes(s));
}

/**
 * Heart rates outside [min, max] bpm are not physiological readings but artefacts (a monitor
 * writes 0 with the lead off; R-peak detection on noise gives extreme values): loaders treat
 * them as missing.
 */
export const PLAUSIBLE_HR_BPM = { min: 30, max: 220 } as const;

export function isPlausibleHr(bpm: number): boolean {
  return bpm >= PLAUSIBLE_HR_BPM.min && bpm <= PLAUSIBLE_HR_BPM.max;
}

/** A finite number from a numeric or numeric-string value; null when absent, empty or not a number. */
export function numOrNull(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** True when `v` holds something (not undefined/null/blank). */
export function isPresent(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
}

/**
 * Sex from the datasets' codings (`M`/`F` in BUT-PPG and MIMIC-III, `m`/`f` in DaLiA, or the
 * words; case and surrounding spaces ignored); null otherwise.
 */
export function sexFrom(v: unknown): 'male' | 'female' | null {
  if (typeof v !== 'string') return null;
  const s = v.trim().toLowerCase();
  if (s === 'm' || s === 'male') return 'male';
  if (s === 'f' || s === 'female') return 'female';
  return null;
}

export function f32(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(x as ArrayLike<number>);
}

/**
 * Notice shown before the run starts (StagePlugin.preflight): whether this loader will read
 * real data or fall back to the synthetic cohort.
 */
export function loaderPreflight(dataset: string, p: LoaderParams): string[] {
  const root = resolve(p.root);
  if (p.synthetic === 'always') return [`SYNTHETIC DATA: ${dataset} uses the synthetic cohort (synthetic: 'always'), not ${root}`];
  try {
    if (dataRootState(root) === 'folder') return [];
  } catch (err) {
    return [`${dataset}: ${(err as Error).message}; the run will fail`];
  }
  if (p.download) return [`${dataset}: data root ${root} is absent; it will be downloaded first`];
  if (p.synthetic === 'never') return [];
  return [`SYNTHETIC DATA: ${dataset} data root ${root} is absent, so this run uses the synthetic ${dataset}-format cohort (set the root param or its environment variable to use real data)`];
}

/**
 * Cache fingerprint (StagePlugin.fingerprint) of a data root: every file's relative path, size
 * and modification time, so putting real data where the synthetic fallback ran, or changing a
 * file, re-runs the loader. Stat only; capped to keep huge trees cheap.
 */
export function rootFingerprint(p: LoaderParams, limit = 200_000): string {
  const root = resolve(p.root);
  const absent = `absent:${root}:${p.synthetic === 'never' ? 'no-synthetic' : `synthetic-generator-v${GENERATOR_VERSION}`}`;
  // synthetic: 'always' reads no root, whatever is there (a broken one included).
  let state: 'absent' | 'folder';
  try {
    state = dataRootState(root);
  } catch (err) {
    if (p.synthetic === 'always' && !existsSync(root)) return absent;
    throw err;
  }
  // Absent root: the synthetic cohort is what gets read, so its generator version is the external input.
  if (state === 'absent') return absent;
  const hash = createHash('sha256');
  let count = 0;
  // Iterative (an explicit stack of folders), so a deep tree cannot overflow the call stack.
  const stack: { dir: string; rel: string; entries?: import('node:fs').Dirent[]; next: number }[] = [{ dir: root, rel: '', next: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (!top.entries) {
      try {
        top.entries = readdirSync(top.dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
      } catch (err) {
        throw new FairtuneError('FT_FINGERPRINT', `data root ${root}: cannot list ${top.dir} (${fsCode(err)})`, { file: top.dir }, { cause: err });
      }
    }
    if (top.next >= top.entries.length) {
      stack.pop();
      continue;
    }
    const entry = top.entries[top.next++]!;
    if (++count > limit) throw new FairtuneError('FT_PARAM_INVALID', `data root ${root} holds more than ${limit} entries; point 'root' at the dataset folder itself`, { param: 'root', file: root });
    const path = join(top.dir, entry.name);
    if (entry.isDirectory()) stack.push({ dir: path, rel: `${top.rel}${entry.name}/`, next: 0 });
    else {
      let st: import('node:fs').Stats;
      try {
        st = statSync(path);
      } catch (err) {
        throw new FairtuneError('FT_FINGERPRINT', `data root ${root}: ${brokenEntry(path, err)}`, { file: path }, { cause: err });
      }
      hash.update(`${top.rel}${entry.name}\u0000${st.size}\u0000${st.mtimeMs}\n`);
    }
  }
  return `present:${root}:${hash.digest('hex')}`;
}

/**
 * What a data root is: `absent` (nothing there: the loader falls back to the synthetic cohort or
 * downloads) or a `folder`. Anything else throws a one-line error naming the path: a file, a
 * symbolic link to nothing or a loop of links (not "absent": the user pointed at something that
 * is broken), the file system root, a folder that cannot be read.
 */
export function dataRootState(root: string): 'absent' | 'folder' {
  let st: import('node:fs').Stats;
  try {
    st = statSync(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !isLink(root)) return 'absent';
    throw new FairtuneError('FT_DATA_MISSING', `data root ${brokenEntry(root, err)}`, { file: root, param: 'root' }, { cause: err });
  }
  if (!st.isDirectory()) throw new FairtuneError('FT_PARAM_INVALID', `data root ${root} is not a folder (it is a ${st.isFile() ? 'file' : 'special file'}); point 'root' at the dataset folder`, { param: 'root', file: root });
  if (root === parse(root).root) throw new FairtuneError('FT_PARAM_INVALID', `data root ${root} is the file system root; point 'root' at the dataset folder`, { param: 'root', file: root });
  return 'folder';
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Why `path` cannot be read, naming it: a dangling link (and its target), a loop of links, … */
function brokenEntry(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return `${path} is a loop of symbolic links`;
  if (code === 'ENOENT' && isLink(path)) {
    let target = '?';
    try {
      target = readlinkSync(path);
    } catch {
      /* keep "?" */
    }
    return `${path} is a symbolic link to ${target}, which does not exist`;
  }
  if (code === 'ENOTDIR') return `${path}: a part of the path is a file, not a folder`;
  return `${path} cannot be read (${fsCode(err)})`;
}

function fsCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? ((err as Error).message ?? String(err)).split('\n')[0]!;
}
