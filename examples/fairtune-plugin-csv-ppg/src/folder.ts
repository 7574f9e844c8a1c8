/**
 * The "CSV folder" format: `subjects.csv` (a `subject` column and one column per attribute,
 * e.g. `sex`, `age`) and one CSV per recording, `<subject>.csv` or `<subject>_<session>.csv`,
 * with a time column (seconds) and signal and label columns sampled at one declared rate.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FairtuneError, type AttributeValue } from '@fairtune/core/plugin';
import { columnIndex, headerOf, readCsv, type CsvTable } from './csv.js';

export const SUBJECTS_FILE = 'subjects.csv';
export const SUBJECT_COLUMN = 'subject';

export interface Subject {
  readonly id: string;
  readonly attributes: Record<string, AttributeValue>;
}

/** Whether `root` holds this format: a subjects table with a `subject` column, and a recording. */
export function isCsvFolder(root: string): boolean {
  const table = join(root, SUBJECTS_FILE);
  if (!existsSync(table) || !statSync(table).isFile()) return false;
  try {
    return headerOf(table).includes(SUBJECT_COLUMN) && recordingFiles(root).length > 0;
  } catch {
    return false; // unreadable: not recognisably this format; `inspect` would name the problem
  }
}

/** Recording files (every `*.csv` but the subjects table), sorted by name. */
export function recordingFiles(root: string): string[] {
  return readdirSync(root)
    .filter((f) => f.endsWith('.csv') && f !== SUBJECTS_FILE && statSync(join(root, f)).isFile())
    .sort();
}

/**
 * Attribute cells: empty → null, a number → number, `sex` normalised to 'male' / 'female' (as
 * the built-in loaders write it, so `split.groups` by sex lines up across datasets).
 */
function attribute(table: CsvTable, column: string, raw: string, line: number): AttributeValue {
  const v = raw.trim();
  if (v === '') return null;
  if (column === 'sex') {
    const s = v.toLowerCase();
    if (s === 'm' || s === 'male') return 'male';
    if (s === 'f' || s === 'female') return 'female';
    throw new FairtuneError('FT_DATA_FORMAT', `${table.file}:${line}: column sex is "${v}"; expected male, female, m, f or empty`, { file: table.file });
  }
  const n = Number(v);
  return Number.isFinite(n) && /^[-+]?[\d.]/.test(v) ? n : v;
}

export function readSubjects(root: string): Subject[] {
  const table = readCsv(join(root, SUBJECTS_FILE));
  const idAt = columnIndex(table, SUBJECT_COLUMN, 'subject id');
  const seen = new Map<string, number>();
  return table.rows.map(({ line, cells }) => {
    const id = cells[idAt]!.trim();
    if (!id) throw new FairtuneError('FT_DATA_FORMAT', `${table.file}:${line}: empty subject id`, { file: table.file });
    if (seen.has(id)) throw new FairtuneError('FT_DATA_FORMAT', `${table.file}:${line}: subject "${id}" is listed twice (also on line ${seen.get(id)})`, { file: table.file });
    seen.set(id, line);
    const attributes: Record<string, AttributeValue> = {};
    table.columns.forEach((c, i) => {
      if (i !== idAt) attributes[c] = attribute(table, c, cells[i]!, line);
    });
    return { id, attributes };
  });
}

/** The subject a recording file belongs to: its stem, or the longest subject id followed by `_`. */
export function subjectOf(file: string, subjects: readonly Subject[]): Subject {
  const stem = basename(file, '.csv');
  const match = subjects.filter((s) => stem === s.id || stem.startsWith(`${s.id}_`)).sort((a, b) => b.id.length - a.id.length)[0];
  if (!match) throw new FairtuneError('FT_DATA_FORMAT', `${file}: no subject in ${SUBJECTS_FILE} for this recording (name it <subject>.csv or <subject>_<session>.csv)`, { file: file });
  return match;
}
