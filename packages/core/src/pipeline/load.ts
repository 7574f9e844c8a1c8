/**
 * Reading a pipeline file: JSON parsing with line/column errors, environment references
 * (`${VAR}` / `${VAR:-default}` in any string) and `--set stage.param=value` overrides.
 */
import { readFileSync } from 'node:fs';
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import { PipelineError, type PipelineIssue } from './issues.js';

/** Converts a character offset into 1-based line and column. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

export function readPipelineJson(file: string): JsonValue {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PipelineError(file, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    const message = (err as Error).message;
    const m = /position (\d+)/.exec(message);
    const where = m ? (({ line, column }) => ` (line ${line}, column ${column})`)(lineColumn(text, Number(m[1]))) : '';
    throw new PipelineError(file, [{ path: '', message: `not valid JSON${where}: ${message}` }]);
  }
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string. When the whole string is one
 * reference and its value is a JSON number or boolean, the result is that number or boolean
 * (so `"epochs": "${EPOCHS:-5}"` is the number 5). `$${` escapes a literal `${`.
 */
export function substituteEnv(value: JsonValue, env: NodeJS.ProcessEnv, issues: PipelineIssue[], path = ''): JsonValue {
  if (typeof value === 'string') {
    const ESC = '\u0000';
    const text = value.replaceAll('$${', ESC).replace(ENV_REF, (_all, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      issues.push({ path, message: `environment variable ${name} is not set and has no default (write \${${name}:-default})` });
      return '';
    });
    const whole = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/.test(value);
    if (whole && /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false)$/.test(text)) return JSON.parse(text) as JsonValue;
    return text.replaceAll(ESC, '${');
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, issues, `${path}/${i}`));
  if (value && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, issues, `${path}/${escapePointer(k)}`);
    return out;
  }
  return value;
}

export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Parses `--set` values: JSON when it parses (numbers, booleans, arrays, quoted strings), else the raw string. */
function parseSetValue(raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    return raw;
  }
}

/**
 * Applies `stage.param[.sub…]=value` overrides to a parsed pipeline (before validation).
 * Unknown stages are reported; unknown params are left to the schema check.
 */
export function applyOverrides(spec: JsonValue, sets: readonly string[], issues: PipelineIssue[]): JsonValue {
  if (!sets.length) return spec;
  const copy = structuredClone(spec) as JsonObject;
  const stages = copy['stages'];
  for (const set of sets) {
    const eq = set.indexOf('=');
    const lhs = eq > 0 ? set.slice(0, eq) : '';
    const parts = lhs.split('.');
    if (eq <= 0 || parts.length < 2 || parts.some((p) => !p)) {
      issues.push({ path: '', message: `--set "${set}" must look like <stage>.<param>=<value>` });
      continue;
    }
    const [stageId, ...paramPath] = parts as [string, ...string[]];
    if (!stages || typeof stages !== 'object' || Array.isArray(stages) || !(stageId in stages)) {
      const known = stages && typeof stages === 'object' ? Object.keys(stages).join(', ') : '';
      issues.push({ path: `/stages/${escapePointer(stageId)}`, message: `--set "${set}" names stage "${stageId}", which the pipeline does not have (stages: ${known})` });
      continue;
    }
    const stage = (stages as JsonObject)[stageId] as JsonObject;
    let target = (stage['params'] ??= {}) as JsonObject;
    for (const key of paramPath.slice(0, -1)) {
      const next = target[key];
      if (next === undefined || next === null) target = target[key] = {};
      else if (typeof next === 'object' && !Array.isArray(next)) target = next;
      else {
        issues.push({ path: `/stages/${stageId}/params/${key}`, message: `--set "${set}": "${key}" is not an object` });
        target = {};
      }
    }
    target[paramPath[paramPath.length - 1]!] = parseSetValue(set.slice(eq + 1));
  }
  return copy;
}
