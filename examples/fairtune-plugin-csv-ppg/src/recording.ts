/** One recording CSV: the time column checked against the declared rate, numeric columns as float32. */
import { columnIndex, readCsv } from './csv.js';
import { FairtuneError } from '@fairtune/core/plugin';

export interface RecordingColumns {
  readonly samples: number;
  /** Seconds of the first row (the time column's origin). */
  readonly start: number;
  readonly columns: Record<string, Float32Array>;
}

/**
 * Reads `columns` of `file`. Every row must be `1/fs` seconds after the previous one (to within
 * a quarter sample: a dropped or repeated row would shift every later label), and every cell a
 * finite number; errors name the file, line and column.
 */
export function readRecording(file: string, fs: number, timeColumn: string, columns: readonly string[]): RecordingColumns {
  const table = readCsv(file);
  const timeAt = columnIndex(table, timeColumn, 'time');
  const at = columns.map((c) => [c, columnIndex(table, c, 'signal or label')] as const);
  const n = table.rows.length;
  if (n < 2) throw new FairtuneError('FT_DATA_FORMAT', `${file}: ${n} data row(s); a recording needs at least 2`, { file: file });
  const out: Record<string, Float32Array> = Object.fromEntries(columns.map((c) => [c, new Float32Array(n)]));
  const number = (cells: readonly string[], i: number, line: number, column: string) => {
    const v = Number(cells[i]);
    if (cells[i]!.trim() === '' || !Number.isFinite(v)) throw new FairtuneError('FT_DATA_FORMAT', `${file}:${line}: column ${column} is "${cells[i]}", not a finite number`, { file: file });
    return v;
  };
  let start = 0;
  table.rows.forEach(({ line, cells }, k) => {
    const t = number(cells, timeAt, line, timeColumn);
    if (k === 0) start = t;
    else if (Math.abs(t - (start + k / fs)) > 0.25 / fs) {
      throw new FairtuneError('FT_DATA_FORMAT', `${file}:${line}: ${timeColumn} is ${t} s, expected ${(start + k / fs).toFixed(6)} s at the declared ${fs} Hz (row ${k + 1} after a start at ${start} s)`, { file: file });
    }
    for (const [c, i] of at) out[c]![k] = number(cells, i, line, c);
  });
  return { samples: n, start, columns: out };
}

/** The rate a time column implies: rows per second over the whole recording (for `data inspect`). */
export function impliedRate(file: string, timeColumn: string): { fs: number; samples: number } {
  const table = readCsv(file);
  const timeAt = columnIndex(table, timeColumn, 'time');
  const n = table.rows.length;
  if (n < 2) throw new FairtuneError('FT_DATA_FORMAT', `${file}: ${n} data row(s); a recording needs at least 2`, { file: file });
  const first = Number(table.rows[0]!.cells[timeAt]);
  const last = Number(table.rows[n - 1]!.cells[timeAt]);
  if (!Number.isFinite(first) || !Number.isFinite(last) || last <= first) throw new FairtuneError('FT_DATA_FORMAT', `${file}: column ${timeColumn} does not increase (${first} … ${last})`, { file: file });
  return { fs: Math.round(((n - 1) / (last - first)) * 1000) / 1000, samples: n };
}
