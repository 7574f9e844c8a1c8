/**
 * Reads a predictions CSV (header row, one row per sample) into metric arrays. Every error
 * names the file, the line and the column.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { FairtuneError, type ErrorSubject, type TaskKind } from '@fairtune/core/plugin';

/** A predictions CSV that cannot be read (FT_DATA_MISSING) or is not in the expected form (FT_DATA_FORMAT). */
export class InputError extends FairtuneError {
  override readonly name = 'InputError';
  constructor(message: string, about: ErrorSubject = {}, options?: ErrorOptions, code: 'FT_DATA_FORMAT' | 'FT_DATA_MISSING' = 'FT_DATA_FORMAT') {
    super(code, message, about, options);
  }
}

export interface CsvColumns {
  readonly target: string;
  readonly prediction: string;
  readonly groups: readonly string[];
  readonly subject?: string;
}

export interface PredictionTable {
  readonly yTrue: Float64Array;
  readonly yPred: Float64Array;
  /** Group id per row (−1 when a group cell is empty). */
  readonly group: Int32Array;
  /** Group values (several group columns joined with `|`), sorted; index = group id. */
  readonly groupNames: readonly string[];
  readonly subject?: Int32Array;
  readonly subjectNames?: readonly string[];
  /** Rows with an empty group cell. */
  readonly unknownGroupRows: number;
}

export function readPredictionsCsv(path: string, displayName: string, task: TaskKind, columns: CsvColumns): PredictionTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${displayName}: cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file: path }, { cause: err }, 'FT_DATA_MISSING');
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, bom: true, skip_empty_lines: true, trim: true }) as unknown as typeof records;
  } catch (err) {
    throw new InputError(`${displayName}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  if (records.length === 0) throw new InputError(`${displayName}: the file is empty (expected a header row)`, { file: path });
  const header = records[0]!.record;
  const col = (name: string, option: string): number => {
    const idx = header.indexOf(name);
    if (idx < 0) throw new InputError(`${displayName}: line 1: no column "${name}" (given by ${option}); columns are: ${header.join(', ')}`, { file: path });
    if (header.indexOf(name, idx + 1) >= 0) throw new InputError(`${displayName}: line 1: column "${name}" appears more than once in the header`, { file: path });
    return idx;
  };
  const tIdx = col(columns.target, '--target');
  const pIdx = col(columns.prediction, '--prediction');
  const gIdx = columns.groups.map((g) => col(g, '--group'));
  const sIdx = columns.subject !== undefined ? col(columns.subject, '--subject') : -1;
  const rows = records.slice(1);
  if (rows.length === 0) throw new InputError(`${displayName}: no data rows after the header`, { file: path });

  const yTrue = new Float64Array(rows.length);
  const yPred = new Float64Array(rows.length);
  const groupKeys: (string | null)[] = [];
  const subjectKeys: string[] = [];
  rows.forEach(({ record, info }, r) => {
    const where = (c: number) => `${displayName}: line ${info.lines}, column ${c + 1} ("${header[c]}")`;
    const num = (c: number): number => {
      const cell = record[c]!;
      const v = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(v)) throw new InputError(`${where(c)}: expected a number, got ${cell === '' ? 'an empty cell' : `"${cell}"`}`, { file: path });
      return v;
    };
    yTrue[r] = num(tIdx);
    yPred[r] = num(pIdx);
    if (task === 'classification') {
      if (yTrue[r] !== 0 && yTrue[r] !== 1) throw new InputError(`${where(tIdx)}: classification targets must be 0 or 1, got "${record[tIdx]}"`, { file: path });
    }
    const parts = gIdx.map((c) => record[c]!);
    groupKeys.push(parts.some((p) => p === '') ? null : parts.join('|'));
    if (sIdx >= 0) {
      if (record[sIdx] === '') throw new InputError(`${where(sIdx)}: empty subject id`, { file: path });
      subjectKeys.push(record[sIdx]!);
    }
  });
  const groupNames = [...new Set(groupKeys.filter((k): k is string => k !== null))].sort();
  const gid = new Map(groupNames.map((n, i) => [n, i]));
  const group = Int32Array.from(groupKeys, (k) => (k === null ? -1 : gid.get(k)!));
  const unknownGroupRows = groupKeys.filter((k) => k === null).length;
  if (sIdx < 0) return { yTrue, yPred, group, groupNames, unknownGroupRows };
  const subjectNames = [...new Set(subjectKeys)];
  const sid = new Map(subjectNames.map((n, i) => [n, i]));
  return { yTrue, yPred, group, groupNames, unknownGroupRows, subject: Int32Array.from(subjectKeys, (k) => sid.get(k)!), subjectNames };
}
