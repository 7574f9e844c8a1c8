/**
 * What `fairtune study ask` prints: Optuna 3.1's `_format_output` of the record
 * `{number, params}`, byte for byte for json (`json.dumps`, Python's separators and float
 * spelling) and table (`_dump_table`: numbers right-aligned, strings left, a dict cell as Python's
 * `str(dict)`), with `--flatten` giving `params_<name>` columns. yaml (`yaml.safe_dump`: keys
 * sorted, block style) is written for the values a trial's params can hold.
 */
import type { Distribution, ParamValue } from '@fairtune/core/plugin';
import { PyFloat, pyFloatRepr, pyJsonDumps, type PyJson } from '../storage/python-json.js';
import type { OutputFormat } from './ask-tell-args.js';

/** A cell: Python's value kinds as they reach `_format_value` (a float param is a Python float even when whole). */
type Cell = { readonly kind: 'int' | 'float'; readonly v: number } | { readonly kind: 'str'; readonly v: string } | { readonly kind: 'bool'; readonly v: boolean } | { readonly kind: 'none' } | { readonly kind: 'dict'; readonly v: readonly (readonly [string, Cell])[] };

/** A param's value as Python holds it: a float distribution's value is a float, an int's an int, a choice as JSON gave it. */
export function paramCell(value: ParamValue, d: Distribution | undefined): Cell {
  if (value === null) return { kind: 'none' };
  if (typeof value === 'boolean') return { kind: 'bool', v: value };
  if (typeof value === 'string') return { kind: 'str', v: value };
  return { kind: d?.type === 'float' || !Number.isSafeInteger(value) ? 'float' : 'int', v: value };
}

/** The ask record, Optuna's columns in order: number, then params (in the search space's order). */
export function formatAsk(number: number, params: readonly (readonly [string, Cell])[], format: OutputFormat, flatten: boolean): string {
  const row: [string, Cell][] = [['number', { kind: 'int', v: number }]];
  if (flatten) for (const [k, v] of params) row.push([`params_${k}`, v]);
  else row.push(['params', { kind: 'dict', v: params }]);
  if (format === 'json') return jsonObject(row);
  if (format === 'table') return table(row).trim();
  return yaml(row).trim();
}

function toPyJson(c: Cell): PyJson {
  switch (c.kind) {
    case 'float':
      return new PyFloat(c.v);
    case 'dict':
      return undefined as never;
    case 'none':
      return null;
    default:
      return c.v;
  }
}

/** `json.dumps` of an ordered object (entries keep their order, even integer-like keys, which a JS object would move). */
function jsonObject(entries: readonly (readonly [string, Cell])[]): string {
  return `{${entries.map(([k, v]) => `${pyJsonDumps(k)}: ${v.kind === 'dict' ? jsonObject(v.v) : pyJsonDumps(toPyJson(v))}`).join(', ')}}`;
}

/** Python's `repr(str)`: single quotes unless the text has a single quote and no double one. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** `str(value)` in Python (a dict's items by `repr`). */
function pyStr(c: Cell, inside = false): string {
  switch (c.kind) {
    case 'int':
      return String(c.v);
    case 'float':
      return pyFloatRepr(c.v).replace('Infinity', 'inf').replace('NaN', 'nan');
    case 'bool':
      return c.v ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'str':
      return inside ? pyStrRepr(c.v) : c.v;
    case 'dict':
      return `{${c.v.map(([k, v]) => `${pyStrRepr(k)}: ${pyStr(v, true)}`).join(', ')}}`;
  }
}

/** Optuna's `_dump_table` for one record. */
function table(row: readonly (readonly [string, Cell])[]): string {
  let separator = '+';
  let header = '|';
  let line = '|';
  for (const [name, cell] of row) {
    const text = cell.kind === 'none' ? 'None' : pyStr(cell);
    // CellValue: None and numbers (bool is an int in Python) are NUMERIC, anything else STRING.
    const numeric = cell.kind !== 'str' && cell.kind !== 'dict';
    const width = Math.max(name.length, text.length);
    separator += `${'-'.repeat(width + 2)}+`;
    header += ` ${numeric ? name.padStart(width) : name.padEnd(width)} |`;
    const shown = cell.kind === 'none' ? ' '.repeat(width) : numeric ? text.padStart(width) : text.padEnd(width);
    line += ` ${shown} |`;
  }
  return `${separator}\n${header}\n${separator}\n${line}\n${separator}\n`;
}

/** `yaml.safe_dump` (PyYAML's defaults: sorted keys, block style, `{}` for an empty dict). */
function yaml(row: readonly (readonly [string, Cell])[], indent = ''): string {
  const sorted = [...row].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let out = '';
  for (const [k, v] of sorted) {
    if (v.kind === 'dict' && v.v.length) out += `${indent}${yamlScalar({ kind: 'str', v: k })}:\n${yaml(v.v, `${indent}  `)}`;
    else out += `${indent}${yamlScalar({ kind: 'str', v: k })}: ${v.kind === 'dict' ? '{}' : yamlScalar(v)}\n`;
  }
  return out;
}

/** Strings PyYAML's resolver would read as something else (bool, null, int, float), so it quotes them. */
const YAML_IMPLICIT = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL|[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|<<|=|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?.*)$/;

function yamlScalar(c: Cell): string {
  switch (c.kind) {
    case 'none':
      return 'null';
    case 'bool':
      return c.v ? 'true' : 'false';
    case 'int':
      return String(c.v);
    case 'float': {
      if (Number.isNaN(c.v)) return '.nan';
      if (c.v === Infinity) return '.inf';
      if (c.v === -Infinity) return '-.inf';
      const r = pyFloatRepr(c.v).toLowerCase();
      return !r.includes('.') && r.includes('e') ? r.replace('e', '.0e') : r;
    }
    case 'str': {
      const s = c.v;
      // Plain when PyYAML's analyser allows it: printable ASCII without indicators or edge blanks.
      const plain = s.length > 0 && /^[A-Za-z0-9_./()][A-Za-z0-9_./() '-]*$/.test(s) && !s.endsWith(' ') && !YAML_IMPLICIT.test(s) && !/ -|: | #/.test(s);
      if (plain) return s;
      if (/^[\x20-\x7e]*$/.test(s)) return `'${s.replace(/'/g, "''")}'`;
      return JSON.stringify(s);
    }
    case 'dict':
      return '{}';
  }
}
