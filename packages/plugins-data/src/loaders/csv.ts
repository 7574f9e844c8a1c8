/** Small, strict CSV reading for the datasets' side tables (BOM, quotes, CRLF tolerated). */
import { existsSync, readFileSync } from 'node:fs';
import { FairtuneError } from '@fairtune/core/plugin';

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      row.push(field);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Header name → normalised key: lower case, without a `[unit]` suffix or surrounding spaces. */
export function normaliseColumn(name: string): string {
  return name.replace(/\[[^\]]*\]/g, '').trim().toLowerCase();
}

/** Reads a CSV with a header into objects keyed by normalised column names. */
export function readCsvTable(path: string): { columns: string[]; rows: Record<string, string>[] } {
  if (!existsSync(path)) throw new FairtuneError('FT_DATA_MISSING', `${path}: file not found`, { file: path });
  const rows = parseCsv(readFileSync(path, 'utf8'));
  if (rows.length === 0) throw new FairtuneError('FT_DATA_FORMAT', `${path}: empty CSV file`, { file: path });
  const columns = rows[0]!.map(normaliseColumn);
  return {
    columns,
    rows: rows.slice(1).map((r, i) => {
      if (r.length !== columns.length) throw new FairtuneError('FT_DATA_FORMAT', `${path}: row ${i + 2} has ${r.length} fields, the header has ${columns.length}`, { file: path });
      return Object.fromEntries(columns.map((c, k) => [c, r[k]!.trim()]));
    }),
  };
}

export function requireColumns(path: string, columns: readonly string[], needed: readonly string[]): void {
  const missing = needed.filter((n) => !columns.includes(n));
  if (missing.length) throw new FairtuneError('FT_DATA_FORMAT', `${path}: missing column(s) ${missing.join(', ')} (has ${columns.join(', ')})`, { file: path });
}
