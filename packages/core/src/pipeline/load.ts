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

/** Keys that would reach an object's prototype when used as a property name. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Applies `stage.param[.sub…]=value` overrides to a parsed pipeline (before validation). The stage
 * part is a stage id or, through `select`, a selector of matrix copies (`finetune[seed=7]`); it
 * ends at the first dot after its closing bracket. Unknown stages are reported; unknown params
 * are left to the schema check.
 */
export function applyOverrides(
  spec: JsonValue,
  sets: readonly string[],
  issues: PipelineIssue[],
  select?: (stage: string, ids: readonly string[]) => string[] | string,
): JsonValue {
  if (!sets.length) return spec;
  const copy = structuredClone(spec) as JsonObject;
  const stages = copy['stages'];
  for (const set of sets) {
    // The stage part may hold "[axis=value]"; the assignment's "=" comes after its closing bracket.
    const bracket = set.indexOf('[');
    const firstDot = set.indexOf('.');
    const firstEq = set.indexOf('=');
    const close = bracket >= 0 && (firstDot < 0 || bracket < firstDot) && bracket < firstEq ? set.indexOf(']', bracket) : -1;
    const eq = set.indexOf('=', close + 1);
    const lhs = eq > 0 ? set.slice(0, eq) : '';
    const dot = lhs.indexOf('.', close + 1);
    const stagePart = dot > 0 ? lhs.slice(0, dot) : '';
    const paramPath = dot > 0 ? lhs.slice(dot + 1).split('.') : [];
    if (eq <= 0 || !stagePart || !paramPath.length || paramPath.some((p) => !p)) {
      issues.push({ path: '', message: `--set "${set}" must look like <stage>.<param>=<value>` });
      continue;
    }
    const reserved = paramPath.find((p) => RESERVED_KEYS.has(p));
    if (reserved) {
      issues.push({ path: '', message: `--set "${set}": "${reserved}" is a reserved name, not a param` });
      continue;
    }
    const ids = stages && typeof stages === 'object' && !Array.isArray(stages) ? Object.keys(stages) : [];
    const targets = ids.includes(stagePart) ? [stagePart] : select ? select(stagePart, ids) : '';
    if (typeof targets === 'string') {
      issues.push({ path: `/stages/${escapePointer(stagePart)}`, message: `--set "${set}" names stage "${stagePart}", which the pipeline does not have (${targets ? `${targets}; ` : ''}stages: ${ids.join(', ')})` });
      continue;
    }
    for (const stageId of targets) setParam(copy, stageId, paramPath, parseSetValue(set.slice(eq + 1)), set, issues);
  }
  return copy;
}

function setParam(copy: JsonObject, stageId: string, paramPath: readonly string[], value: JsonValue, set: string, issues: PipelineIssue[]): void {
  const stage = (copy['stages'] as JsonObject)[stageId] as JsonObject;
  if (!stage || typeof stage !== 'object' || Array.isArray(stage)) return; // reported by validation
  let target = (Object.hasOwn(stage, 'params') ? stage['params'] : (stage['params'] = {})) as JsonObject;
  for (const key of paramPath.slice(0, -1)) {
    const next = Object.hasOwn(target, key) ? target[key] : undefined;
    if (next === undefined || next === null) target = target[key] = {};
    else if (typeof next === 'object' && !Array.isArray(next)) target = next;
    else {
      issues.push({ path: `/stages/${escapePointer(stageId)}/params/${escapePointer(key)}`, message: `--set "${set}": "${key}" is not an object` });
      return;
    }
  }
  target[paramPath[paramPath.length - 1]!] = value;
}
