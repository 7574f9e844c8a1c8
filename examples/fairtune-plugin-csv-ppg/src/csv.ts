/**
 * CSV reading for the folder format (RFC 4180: quoted fields, doubled quotes, CRLF or LF). Errors
 * name the file and the 1-based line, so a user can open the file at the bad row.
 */
import { readFileSync } from 'node:fs';
import { FairtuneError } from '@fairtune/core/plugin';

export interface CsvTable {
  readonly file: string;
  readonly columns: readonly string[];
  /** Rows as cell arrays, with the 1-based line each started on. */
  readonly rows: readonly { readonly line: number; readonly cells: readonly string[] }[];
}

export function parseCsv(text: string, file: string): CsvTable {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') cells.push(cell), (cell = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.length > 1 || cells[0] !== '') records.push({ line: start, cells });
      cells = [];
      cell = '';
      start = ++line;
    } else cell += c;
  }
  if (quoted) throw new FairtuneError('FT_DATA_FORMAT', `${file}:${start}: unterminated quoted field`, { file: file });
  if (cell !== '' || cells.length) records.push({ line: start, cells: [...cells, cell] });
  const [header, ...rows] = records;
  if (!header) throw new FairtuneError('FT_DATA_FORMAT', `${file}: empty file (expected a header line)`, { file: file });
  const columns = header.cells.map((c) => c.trim());
  for (const r of rows) {
    if (r.cells.length !== columns.length) throw new FairtuneError('FT_DATA_FORMAT', `${file}:${r.line}: ${r.cells.length} fields, the header has ${columns.length}`, { file: file });
  }
  return { file, columns, rows };
}

export function readCsv(file: string): CsvTable {
  return parseCsv(readFileSync(file, 'utf8'), file);
}

/** Index of `name` in the header, or an error naming the file and the columns it has. */
export function columnIndex(table: CsvTable, name: string, what: string): number {
  const i = table.columns.indexOf(name);
  if (i < 0) throw new FairtuneError('FT_DATA_FORMAT', `${table.file}: no ${what} column "${name}" (columns: ${table.columns.join(', ')})`, { file: table.file });
  return i;
}

/** The first header line only: cheap recognition of a folder's format. */
export function headerOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const end = text.search(/\r?\n/);
  return parseCsv(end < 0 ? text : text.slice(0, end), file).columns.slice();
}
