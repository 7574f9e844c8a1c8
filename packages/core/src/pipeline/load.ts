/**
 * Reading a pipeline file: JSON parsing with line/column errors, environment references
 * (`${VAR}` / `${VAR:-default}` in any string) and `--set stage.param=value` overrides.
 * Files and `--set` values are read strictly (strict-json.ts): a duplicate key, a reserved key
 * or nesting deeper than MAX_JSON_DEPTH is an error with its JSON pointer and line and column.
 */
import { readFileSync } from 'node:fs';
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import { PipelineError, type PipelineIssue } from './issues.js';
import { escapePointer } from './pointer.js';
import { abbreviate, lineColumn, RESERVED_KEYS, strictJsonProblems } from './strict-json.js';

export { escapePointer };

export function readPipelineJson(file: string): JsonValue {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PipelineError(file, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    const message = (err as Error).message;
    const m = /position (\d+)/.exec(message);
    const where = m ? (({ line, column }) => ` (line ${line}, column ${column})`)(lineColumn(text, Number(m[1]))) : '';
    throw new PipelineError(file, [{ path: '', message: `not valid JSON${where}: ${message}` }]);
  }
  const problems = strictJsonProblems(text);
  if (problems.length) throw new PipelineError(file, problems.map((p) => ({ path: p.pointer, message: p.message })));
  return value;
}

/** `${VAR}` or `${VAR:-default}`; a default may hold matrix references (`${LABEL:-%{method}}`). */
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:%\{[^{}]*\}|[^}])*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string. When the whole string is one
 * reference and its value is a JSON number or boolean, the result is that number or boolean
 * (so `"epochs": "${EPOCHS:-5}"` is the number 5). When it is `null`, the key holding the string
 * is left out of its object (`"weights": "${WEIGHTS:-null}"` is no param at all unless WEIGHTS is
 * set, so the stage's defaults and cache key are those of a pipeline without the line; an empty
 * string could not say "absent"). `$${` escapes a literal `${`.
 */
export function substituteEnv(value: JsonValue, env: NodeJS.ProcessEnv, issues: PipelineIssue[], path = ''): JsonValue {
  if (typeof value === 'string') {
    const ESC = '\u0000';
    const text = value.replaceAll('$${', ESC).replace(ENV_REF, (_all, name: string, fallback: string | undefined) => {
      const v = env[name];
      // An environment value is text: in a stage, a "%{" in it must not become a matrix reference.
      if (v !== undefined && v !== '') return path.startsWith('/stages/') || path.startsWith('/groups/') ? v.replaceAll('%{', '%%{') : v;
      if (fallback !== undefined) return fallback;
      issues.push({ path, message: `environment variable ${name} is not set and has no default (write \${${name}:-default})` });
      return '';
    });
    const whole = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-(?:%\{[^{}]*\}|[^}])*)?\}$/.test(value);
    if (whole && /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(text)) return JSON.parse(text) as JsonValue;
    return text.replaceAll(ESC, '${');
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, issues, `${path}/${i}`));
  if (value && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = substituteEnv(v, env, issues, `${path}/${escapePointer(k)}`);
      // Only a reference that became null is left out: a literal null keeps its meaning (extends removes the base's key).
      if (sub === null && typeof v === 'string') continue;
      defineKey(out, k, sub);
    }
    return out;
  }
  return value;
}

/**
 * Parses `--set` values: JSON when it parses (numbers, booleans, arrays, quoted strings), else the
 * raw string. JSON is read strictly (no duplicate or reserved keys, bounded depth): a sentence
 * when it breaks those rules.
 */
function parseSetValue(raw: string): { value: JsonValue } | { problem: string } {
  let value: JsonValue;
  try {
    value = JSON.parse(raw) as JsonValue;
  } catch {
    return { value: raw };
  }
  const problems = strictJsonProblems(raw, { limit: 1 });
  if (problems.length) return { problem: `${problems[0]!.pointer ? `at ${problems[0]!.pointer}: ` : ''}${problems[0]!.message}` };
  return { value };
}

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
    const stageName = stagePart.includes('[') ? stagePart.slice(0, stagePart.indexOf('[')) : stagePart;
    const reserved = [stageName, ...paramPath].find((p) => RESERVED_KEYS.has(p));
    if (reserved) {
      issues.push({ path: '', message: `--set "${abbreviate(set, 120)}": "${reserved}" is a reserved name, not a ${reserved === stageName ? 'stage' : 'param'} (reserved: ${[...RESERVED_KEYS].join(', ')})` });
      continue;
    }
    const parsed = parseSetValue(set.slice(eq + 1));
    if ('problem' in parsed) {
      issues.push({ path: '', message: `--set "${abbreviate(set, 120)}": the value ${parsed.problem}` });
      continue;
    }
    const ids = stages && typeof stages === 'object' && !Array.isArray(stages) ? Object.keys(stages) : [];
    const targets = ids.includes(stagePart) ? [stagePart] : select ? select(stagePart, ids) : '';
    if (typeof targets === 'string') {
      issues.push({ path: `/stages/${escapePointer(stagePart)}`, message: `--set "${abbreviate(set, 120)}" names stage "${abbreviate(stagePart)}", which the pipeline does not have (${targets ? `${targets}; ` : ''}stages: ${listSome(ids)})` });
      continue;
    }
    for (const stageId of targets) setParam(copy, stageId, paramPath, parsed.value, set, issues);
  }
  return copy;
}

function setParam(copy: JsonObject, stageId: string, paramPath: readonly string[], value: JsonValue, set: string, issues: PipelineIssue[]): void {
  const stage = (copy['stages'] as JsonObject)[stageId] as JsonObject;
  if (!stage || typeof stage !== 'object' || Array.isArray(stage)) return; // reported by validation
  let target = (Object.hasOwn(stage, 'params') ? stage['params'] : (stage['params'] = {})) as JsonObject;
  if (!target || typeof target !== 'object' || Array.isArray(target)) return; // "params" is not an object: reported by validation
  for (const key of paramPath.slice(0, -1)) {
    const next = Object.hasOwn(target, key) ? target[key] : undefined;
    if (next === undefined || next === null) target = defineKey(target, key, {}) as JsonObject;
    else if (typeof next === 'object' && !Array.isArray(next)) target = next;
    else {
      issues.push({ path: `/stages/${escapePointer(stageId)}/params/${escapePointer(key)}`, message: `--set "${set}": "${key}" is not an object` });
      return;
    }
  }
  defineKey(target, paramPath[paramPath.length - 1]!, value);
}

/** Own-property assignment that is safe for any key; returns the value. */
function defineKey(o: JsonObject, k: string, v: JsonValue): JsonValue {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return v;
}

/** The first few items of a long list, and how many more: messages stay readable for 1,000-stage pipelines. */
export function listSome(items: readonly string[], most = 12): string {
  return items.length <= most ? items.join(', ') : `${items.slice(0, most).join(', ')}, … (${items.length - most} more)`;
}
