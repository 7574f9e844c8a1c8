/**
 * Pipeline composition, applied before validation:
 *
 * - `extends`: a file names a base pipeline file (relative to itself); stages and groups merge by
 *   id, params deep-merge, objects merge key by key, arrays and scalars replace, and a stage, group
 *   or param that the child sets to `null` is removed from what the base defined. `name` is never
 *   inherited. Chains work; a cycle or an unreadable base is an error naming both files.
 * - `matrix`: a stage's own `matrix` ({ axis: [values] }) or a named group's (`groups.<g>.matrix`,
 *   over the group's `stages`) repeats the stage over the product of the axes' values. `%{axis}`
 *   in any string of the stage binds a value (the whole string `"%{seed}"` keeps the value's JSON
 *   type; inside text it is the value's label; `%{axis.field}` reads a field of an object value;
 *   `%%{` is a literal `%{`). Copies get ids `name[axis=label,…]` (see stage-ref.ts).
 * - inputs naming a matrixed stage resolve by shared axes: from a copy, a reference binds every
 *   axis the two stages share to the copy's own value; axes the referring stage lacks match every
 *   value (so a report collects all copies), unless the reference pins them (`metrics[seed=7]`,
 *   `metrics[method=erm]`; `*` matches all). One match is a single input; several become a list,
 *   allowed only for ports that take several.
 *
 * The result is a plain pipeline (no `extends`, `groups` or `matrix`) plus each expanded stage's
 * origin, so `--set` and `--force` can address a template (every copy) or one copy.
 */
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import { PipelineError, type PipelineIssue } from './issues.js';
import { escapePointer, listSome, readPipelineJson } from './load.js';
import { copyId, encodeLabel, formatSelector, MAX_ID_LENGTH, parseReference, type StageSelector } from './stage-ref.js';
import { abbreviate } from './strict-json.js';

export interface StageOrigin {
  /** Id of the stage as written in the file. */
  readonly template: string;
  /** Axis → label of this copy, in the copy id's order (empty for a stage without a matrix). */
  readonly bindings: ReadonlyMap<string, string>;
}

export interface Expansion {
  /** The pipeline with every stage expanded (no `groups`, no `matrix`). */
  readonly spec: JsonValue;
  /** Expanded stage id → where it came from. */
  readonly origins: ReadonlyMap<string, StageOrigin>;
}

const MAX_EXTENDS_DEPTH = 32;

/** Reads a pipeline file and resolves its `extends` chain into one pipeline object. */
export function readComposedPipeline(file: string, issues: PipelineIssue[]): JsonValue {
  return compose(resolve(file), file, [], issues);
}

function compose(absFile: string, shownFile: string, chain: readonly string[], issues: PipelineIssue[]): JsonValue {
  const raw = readPipelineJson(shownFile);
  if (!isObject(raw) || !('extends' in raw)) return raw;
  const ext = raw['extends'];
  const { extends: _e, ...child } = raw;
  if (typeof ext !== 'string' || !ext) {
    issues.push({ path: '/extends', message: `"extends" must name a base pipeline file (a path relative to ${shownFile})` });
    return child;
  }
  const baseAbs = resolve(dirname(absFile), ext);
  const baseShown = relative(process.cwd(), baseAbs) || baseAbs;
  const here = [...chain, absFile];
  if (here.includes(baseAbs)) {
    const cycle = [...here.slice(here.indexOf(baseAbs)), baseAbs].map((f) => relative(process.cwd(), f) || f);
    issues.push({ path: '/extends', message: `${shownFile} extends ${baseShown}, which forms a cycle: ${cycle.join(' → ')}` });
    return child;
  }
  if (here.length > MAX_EXTENDS_DEPTH) {
    issues.push({ path: '/extends', message: `more than ${MAX_EXTENDS_DEPTH} levels of "extends" from ${shownFile}` });
    return child;
  }
  if (!existsSync(baseAbs)) {
    issues.push({ path: '/extends', message: `${shownFile} extends "${ext}", but ${baseShown} does not exist` });
    return child;
  }
  let base: JsonValue;
  try {
    base = compose(baseAbs, baseShown, here, issues);
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    for (const i of err.issues) issues.push({ path: '/extends', message: `base ${baseShown} (extended by ${shownFile}): ${i.path || '/'}: ${i.message}` });
    return child;
  }
  if (!isObject(base)) {
    issues.push({ path: '/extends', message: `base ${baseShown} (extended by ${shownFile}) is not a JSON object` });
    return child;
  }
  // A base's plugin paths are relative to the base's own folder: make them absolute before the
  // child's folder becomes the one they are resolved from.
  if (Array.isArray(base['plugins'])) define(base, 'plugins', base['plugins'].map((p) => (typeof p === 'string' && /^\.\.?\//.test(p) ? resolve(dirname(baseAbs), p) : p)));
  return mergePipeline(base, child);
}

/** The child over its base: every field but `name` inherited; `stages` and `groups` merged by id. */
export function mergePipeline(base: JsonObject, child: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(base)) if (k !== 'name' && k !== 'extends') define(out, k, v);
  for (const [k, v] of Object.entries(child)) {
    if (v === null && Object.hasOwn(out, k)) delete out[k];
    else define(out, k, Object.hasOwn(out, k) ? deepMerge(out[k]!, v) : v);
  }
  return out;
}

/** Objects merge key by key (a `null` removes the base's key); anything else replaces. */
export function deepMerge(base: JsonValue, over: JsonValue): JsonValue {
  if (!isObject(base) || !isObject(over)) return over;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(base)) define(out, k, v);
  for (const [k, v] of Object.entries(over)) {
    if (v === null && Object.hasOwn(base, k)) delete out[k];
    else define(out, k, Object.hasOwn(base, k) ? deepMerge(base[k]!, v) : v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Matrix expansion

interface Axis {
  readonly name: string;
  readonly values: readonly JsonValue[];
  readonly labels: readonly string[];
}

interface Template {
  readonly id: string;
  readonly stage: JsonObject;
  readonly axes: readonly Axis[];
  /** The trial group it belongs to: its `%{…}` names stay unbound until a trial binds them. */
  readonly trialGroup?: GroupAxes;
  /** Every combination: labels and values per axis, and the copy's id. */
  readonly copies: readonly { readonly id: string; readonly labels: ReadonlyMap<string, string>; readonly values: ReadonlyMap<string, JsonValue> }[];
}

export interface ExpandOptions {
  /** Whether a stage type's input port takes a list (undefined when the type or port is unknown). */
  readonly multiplePort?: (type: string, port: string) => boolean | undefined;
}

export function expandPipeline(raw: JsonValue, issues: PipelineIssue[], options: ExpandOptions = {}): Expansion {
  const origins = new Map<string, StageOrigin>();
  if (!isObject(raw) || !isObject(raw['stages'])) return { spec: raw, origins };
  const stages = raw['stages'];
  const groupAxes = readGroups(raw['groups'], stages, issues);
  const templates = new Map<string, Template>();
  for (const [id, stage] of Object.entries(stages)) {
    if (!isObject(stage)) continue; // the envelope check reports it
    const base = `/stages/${escapePointer(id)}`;
    const axes: Axis[] = [];
    const owner = new Map<string, string>();
    for (const g of groupAxes) {
      if (!g.stages.includes(id)) continue;
      for (const a of g.axes) {
        if (owner.has(a.name)) issues.push({ path: `/groups/${escapePointer(g.name)}/matrix/${escapePointer(a.name)}`, message: `stage "${id}" gets axis "${a.name}" twice (from ${owner.get(a.name)} and group "${g.name}"); an axis name means one axis per stage` });
        else {
          owner.set(a.name, `group "${g.name}"`);
          axes.push(a);
        }
      }
    }
    if ('matrix' in stage) {
      for (const a of readAxes(stage['matrix'], `${base}/matrix`, issues)) {
        if (owner.has(a.name)) issues.push({ path: `${base}/matrix/${escapePointer(a.name)}`, message: `axis "${a.name}" is already given to stage "${id}" by ${owner.get(a.name)}` });
        else {
          owner.set(a.name, 'its own matrix');
          axes.push(a);
        }
      }
    }
    const trialGroups = groupAxes.filter((g) => g.trials && g.stages.includes(id));
    if (trialGroups.length > 1) issues.push({ path: base, message: `stage "${id}" is in two trial groups (${trialGroups.map((g) => g.name).join(', ')}); a stage belongs to at most one` });
    if (trialGroups.length && axes.length) issues.push({ path: base, message: `stage "${id}" is in trial group "${trialGroups[0]!.name}" and has matrix axes (${axes.map((a) => a.name).join(', ')}); a trial subgraph inside a matrix is not supported yet` });
    templates.set(id, { id, stage, axes, trialGroup: trialGroups[0], copies: combinations(id, axes) });
  }

  // A written id may itself look like a copy's (an expanded pipeline read back); ids stay unique.
  const out: JsonObject = {};
  for (const [id, stage] of Object.entries(stages)) if (!isObject(stage)) define(out, id, stage); // the envelope check reports it at its id
  for (const t of templates.values()) {
    const base = `/stages/${escapePointer(t.id)}`;
    if (t.axes.length && t.id.includes('[')) issues.push({ path: base, message: `a stage with a matrix needs a plain id (letters, digits, "-", "_"); "[…]" is added to its copies' ids` });
    let tooLong = false;
    for (const copy of t.copies) {
      // Validation counts characters; a file name's limit is in bytes (UTF-8).
      if (!tooLong && copy.id.length <= MAX_ID_LENGTH && Buffer.byteLength(copy.id) > MAX_ID_LENGTH) {
        tooLong = true;
        issues.push({ path: base, message: `the id of a copy of "${t.id}", ${JSON.stringify(copy.id.slice(0, 60))}…, is ${Buffer.byteLength(copy.id)} bytes long in UTF-8; ids become folder names and have at most ${MAX_ID_LENGTH}: shorten the matrix values (an object value's "id" names it)` });
      }
      if (Object.hasOwn(out, copy.id) || (copy.id !== t.id && Object.hasOwn(stages, copy.id))) {
        issues.push({ path: base, message: `expanding "${t.id}" gives the id "${copy.id}", which another stage already has` });
        continue;
      }
      const { matrix: _m, inputs, ...fields } = t.stage;
      const stage: JsonObject = {};
      for (const [k, v] of Object.entries(fields)) define(stage, k, bindValues(v, copy.values, t, `${base}/${escapePointer(k)}`, issues));
      if (inputs !== undefined) define(stage, 'inputs', resolveInputs(inputs, t, copy, templates, `${base}/inputs`, issues, options));
      define(out, copy.id, stage);
      origins.set(copy.id, { template: t.id, bindings: copy.labels });
    }
  }
  checkTrialUsers(templates, groupAxes, issues);
  const { groups: _g, stages: _s, ...rest } = raw;
  const spec: JsonObject = {};
  for (const [k, v] of Object.entries(rest)) define(spec, k, v);
  // Trial groups stay: they are bound while the pipeline runs.
  const trialGroups: JsonObject = {};
  for (const g of groupAxes) if (g.trials) define(trialGroups, g.name, { stages: [...g.stages], trials: g.trials });
  if (Object.keys(trialGroups).length) define(spec, 'groups', trialGroups);
  define(spec, 'stages', out);
  return { spec, origins };
}

/** A stage's `trials` names a trial group; it runs outside that group and is not a matrix copy. */
function checkTrialUsers(templates: ReadonlyMap<string, Template>, groups: readonly GroupAxes[], issues: PipelineIssue[]): void {
  for (const t of templates.values()) {
    if (!('trials' in t.stage)) continue;
    const path = `/stages/${escapePointer(t.id)}/trials`;
    const name = t.stage['trials'];
    const group = groups.find((g) => g.name === name);
    if (!group?.trials) {
      const known = groups.filter((g) => g.trials).map((g) => g.name);
      issues.push({ path, message: `"trials" names ${JSON.stringify(name)}, which is not a trial group of this pipeline (${known.length ? `trial groups: ${known.join(', ')}` : 'it has none: declare one in "groups" with "stages" and "trials"'})` });
    } else if (group.stages.includes(t.id)) issues.push({ path, message: `stage "${t.id}" runs the trials of group "${group.name}" and belongs to it` });
  }
}

interface GroupAxes {
  readonly name: string;
  readonly stages: readonly string[];
  readonly axes: readonly Axis[];
  /** A trial group: the names its optimiser binds, with their defaults (see contracts/trials.ts). */
  readonly trials?: JsonObject;
}

function readGroups(groups: JsonValue | undefined, stages: JsonObject, issues: PipelineIssue[]): GroupAxes[] {
  if (groups === undefined) return [];
  if (!isObject(groups)) {
    issues.push({ path: '/groups', message: '"groups" must be an object: group name → { stages, matrix }' });
    return [];
  }
  const out: GroupAxes[] = [];
  for (const [name, g] of Object.entries(groups)) {
    const base = `/groups/${escapePointer(name)}`;
    if (!isObject(g)) {
      issues.push({ path: base, message: 'a group is an object { "stages": [stage ids], "matrix": { axis: [values] } }' });
      continue;
    }
    for (const k of Object.keys(g)) if (!['stages', 'matrix', 'trials', 'description'].includes(k)) issues.push({ path: `${base}/${escapePointer(k)}`, message: `unknown field "${k}" of a group (fields: stages, matrix or trials, description)` });
    const list = g['stages'];
    const ids: string[] = [];
    if (!Array.isArray(list) || !list.length) issues.push({ path: `${base}/stages`, message: 'a group needs "stages": a non-empty list of stage ids' });
    else
      list.forEach((s, i) => {
        if (typeof s !== 'string' || !isObject(stages[s])) issues.push({ path: `${base}/stages/${i}`, message: `group "${name}" lists ${JSON.stringify(s)}, which is not a stage of this pipeline` });
        else ids.push(s);
      });
    if ('trials' in g) {
      const trials = g['trials'];
      if ('matrix' in g) issues.push({ path: base, message: `group "${name}" has both "matrix" (values bound when the pipeline is read) and "trials" (values bound by the stage that runs its trials); give one` });
      if (!isObject(trials)) issues.push({ path: `${base}/trials`, message: '"trials" must be an object: name → default value of each value a trial binds' });
      else {
        for (const k of Object.keys(trials)) if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k)) issues.push({ path: `${base}/trials/${escapePointer(k)}`, message: `"${k}" must start with a letter and use only letters, digits, "-" and "_"` });
        out.push({ name, stages: ids, axes: [], trials });
      }
      continue;
    }
    if (!('matrix' in g)) issues.push({ path: base, message: `group "${name}" needs a "matrix" (or "trials")` });
    out.push({ name, stages: ids, axes: 'matrix' in g ? readAxes(g['matrix'], `${base}/matrix`, issues) : [] });
  }
  return out;
}

function readAxes(matrix: JsonValue | undefined, path: string, issues: PipelineIssue[]): Axis[] {
  if (!isObject(matrix) || !Object.keys(matrix).length) {
    issues.push({ path, message: '"matrix" must be an object of at least one axis: { "<axis>": [values] }' });
    return [];
  }
  const axes: Axis[] = [];
  for (const [name, values] of Object.entries(matrix)) {
    const p = `${path}/${escapePointer(name)}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
      issues.push({ path: p, message: `axis name "${name}" must start with a letter and use only letters, digits, "-" and "_"` });
      continue;
    }
    if (!Array.isArray(values) || !values.length) {
      issues.push({ path: p, message: `axis "${name}" needs a non-empty list of values` });
      continue;
    }
    const labels: string[] = [];
    let ok = true;
    values.forEach((v, i) => {
      const label = labelOf(v);
      if (label === undefined) {
        issues.push({ path: `${p}/${i}`, message: `a matrix value is a string, number or boolean, or an object with a string "id" naming it (got ${JSON.stringify(v)})` });
        ok = false;
      } else if (label === '*') {
        issues.push({ path: `${p}/${i}`, message: `"*" cannot be a matrix value: in selectors it means every value` });
        ok = false;
      } else if (labels.includes(label)) {
        issues.push({ path: `${p}/${i}`, message: `axis "${name}" lists "${label}" twice` });
        ok = false;
      } else labels.push(label);
    });
    if (ok) axes.push({ name, values, labels });
  }
  return axes;
}

function labelOf(v: JsonValue): string | undefined {
  if (typeof v === 'string') return v.length ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  if (isObject(v) && typeof v['id'] === 'string' && v['id']) return v['id'];
  return undefined;
}

function combinations(id: string, axes: readonly Axis[]): Template['copies'] {
  let combos: [string, string, JsonValue][][] = [[]];
  for (const a of axes) combos = combos.flatMap((c) => a.values.map((v, i) => [...c, [a.name, a.labels[i]!, v] as [string, string, JsonValue]]));
  return combos.map((c) => ({
    id: copyId(id, c.map(([a, l]) => [a, l] as const)),
    labels: new Map(c.map(([a, l]) => [a, l])),
    values: new Map(c.map(([a, , v]) => [a, v])),
  }));
}

// ---------------------------------------------------------------------------------------------
// %{…} references

const REF = /%\{([^{}]*)\}/g;
/** A name bound later, by a trial: the reference stays in the text. */
const DEFERRED = Symbol('deferred') as unknown as JsonValue;

/** Replaces `%{axis}` / `%{axis.field}` in every string of a value with the copy's values. */
function bindValues(value: JsonValue, values: ReadonlyMap<string, JsonValue>, t: Template, path: string, issues: PipelineIssue[]): JsonValue {
  if (typeof value === 'string') return bindString(value, values, t, path, issues);
  if (Array.isArray(value)) return value.map((v, i) => bindValues(v, values, t, `${path}/${i}`, issues));
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) define(out, k, bindValues(v, values, t, `${path}/${escapePointer(k)}`, issues));
    return out;
  }
  return value;
}

function bindString(text: string, values: ReadonlyMap<string, JsonValue>, t: Template, path: string, issues: PipelineIssue[], inReference = false): JsonValue {
  if (!text.includes('%{')) return text;
  const ESC = '\u0000';
  const escaped = text.replaceAll('%%{', ESC);
  const whole = /^%\{([^{}]*)\}$/.exec(escaped);
  if (whole) {
    // The value with its JSON type; an object value stands for its id unless a field is named.
    const v = lookup(whole[1]!, values, t, path, issues);
    if (v === undefined || v === DEFERRED) return text;
    if (isObject(v) && !whole[1]!.includes('.') && typeof v['id'] === 'string') return v['id'];
    return structuredClone(v);
  }
  return escaped
    .replace(REF, (all, ref: string) => {
      const v = lookup(ref, values, t, path, issues);
      if (v === undefined || v === DEFERRED) return all.replace('%{', ESC_LATER);
      const textOf = typeof v === 'string' ? v : isObject(v) && typeof v['id'] === 'string' && !ref.includes('.') ? v['id'] : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
      // Inside a stage reference (`t[v=%{w}]`) a value is a label, written as ids write it.
      return inReference ? encodeLabel(textOf) : textOf;
    })
    .replaceAll(ESC, t.trialGroup ? '%%{' : '%{') // a trial's stage is bound again later
    .replaceAll(ESC_LATER, '%{');
}

const ESC_LATER = '\u0001';

/**
 * Binds a trial's values into one of its stages (the `%{…}` left by expansion); `%%{` becomes a
 * literal `%{` now. Unknown names are reported as issues (pointers relative to `/stages/<id>`).
 */
export function bindTrialValues(stage: JsonValue, values: ReadonlyMap<string, JsonValue>, id: string, issues: PipelineIssue[]): JsonValue {
  const t: Template = { id, stage: {}, axes: [...values.keys()].map((name) => ({ name, values: [], labels: [] })), copies: [] };
  return bindValues(stage, values, t, `/stages/${escapePointer(id)}`, issues);
}

function lookup(ref: string, values: ReadonlyMap<string, JsonValue>, t: Template, path: string, issues: PipelineIssue[]): JsonValue | undefined {
  const [axis, ...fields] = ref.trim().split('.');
  if (axis && !values.has(axis) && t.trialGroup?.trials && Object.hasOwn(t.trialGroup.trials, axis)) return DEFERRED;
  if (!axis || !values.has(axis)) {
    const axes = t.axes.map((a) => a.name);
    const trial = t.trialGroup?.trials ? Object.keys(t.trialGroup.trials) : undefined;
    const known = trial ? `it is in trial group "${t.trialGroup!.name}", which binds ${trial.join(', ') || 'nothing'}` : axes.length ? `its axes: ${axes.join(', ')}` : 'it has no matrix';
    issues.push({ path, message: `"%{${ref}}" names no ${trial ? 'trial binding or matrix axis' : 'matrix axis'} of stage "${t.id}" (${known}; write %%{ for a literal "%{")` });
    return undefined;
  }
  let v: JsonValue | undefined = values.get(axis);
  for (const f of fields) {
    if (!isObject(v) || !Object.hasOwn(v, f)) {
      issues.push({ path, message: `"%{${ref}}": the value of axis "${axis}" has no field "${f}"` });
      return undefined;
    }
    v = v[f];
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Inputs

function resolveInputs(
  inputs: JsonValue,
  t: Template,
  copy: Template['copies'][number],
  templates: ReadonlyMap<string, Template>,
  path: string,
  issues: PipelineIssue[],
  options: ExpandOptions,
): JsonValue {
  if (!isObject(inputs)) return inputs; // the envelope check reports it
  const out: JsonObject = {};
  for (const [port, given] of Object.entries(inputs)) {
    const p = `${path}/${escapePointer(port)}`;
    if (typeof given !== 'string' && !(Array.isArray(given) && given.every((g) => typeof g === 'string'))) {
      define(out, port, given);
      continue;
    }
    const list = typeof given === 'string' ? [given] : (given as string[]);
    const refs: string[] = [];
    list.forEach((r, i) => {
      const rp = typeof given === 'string' ? p : `${p}/${i}`;
      const bound = bindString(r, copy.values, t, rp, issues, true);
      refs.push(...(typeof bound === 'string' ? resolveReference(bound, copy.labels, templates, rp, issues) : [r]));
    });
    const type = typeof t.stage['type'] === 'string' ? t.stage['type'] : '';
    if (typeof given === 'string' && refs.length === 1) define(out, port, refs[0]!);
    else if (typeof given === 'string' && refs.length > 1 && options.multiplePort?.(type, port) === false) {
      // Worded the same for every copy of this stage, so the copies' reports collapse into one.
      const hint = pinHint(given, refs[0]!, copy.labels);
      const free = parseReference(hint);
      const axes = typeof free === 'string' || !free.bindings ? [] : [...free.bindings.keys()];
      issues.push({ path: p, message: `"${given}" matches ${refs.length} stages (${axes.length ? `axis ${axes.join(', ')} is not bound by this stage` : 'copies'}) but input "${port}" of ${type} takes one: pin the axes this stage does not have, e.g. "${hint}"` });
      define(out, port, refs[0]!);
    } else define(out, port, refs);
  }
  return out;
}

/** `given` pinned on the axes of the first match that the referring copy does not bind itself. */
function pinHint(given: string, first: string, own: ReadonlyMap<string, string>): string {
  const parsed = parseReference(first);
  const written = parseReference(given);
  if (typeof parsed === 'string' || typeof written === 'string' || !parsed.bindings) return first;
  const pins = [...parsed.bindings].filter(([axis]) => !own.has(axis) || written.bindings?.has(axis));
  const head = formatSelector({ name: parsed.name, bindings: new Map(pins) });
  return parsed.output !== undefined ? `${head}.${parsed.output}` : head;
}

/** One written reference → the expanded references it stands for (itself when it names no matrixed stage). */
function resolveReference(text: string, own: ReadonlyMap<string, string>, templates: ReadonlyMap<string, Template>, path: string, issues: PipelineIssue[]): string[] {
  const ref = parseReference(text);
  if (typeof ref === 'string') {
    issues.push({ path, message: ref });
    return [text];
  }
  const target = templates.get(ref.name);
  if (!target) return [text]; // validation reports the missing stage with a suggestion
  const axes = target.axes.map((a) => a.name);
  for (const [axis, label] of ref.bindings ?? []) {
    const a = target.axes.find((x) => x.name === axis);
    if (!a) {
      issues.push({ path, message: `"${text}": stage "${ref.name}" has no axis "${axis}" (${axes.length ? `axes: ${axes.join(', ')}` : 'it has no matrix'})` });
      return [text];
    }
    if (label !== '*' && !a.labels.includes(label)) {
      issues.push({ path, message: `"${text}": axis "${axis}" of "${ref.name}" has no value "${label}" (values: ${a.labels.join(', ')})` });
      return [text];
    }
  }
  const matches = target.copies.filter((c) =>
    axes.every((axis) => {
      const pinned = ref.bindings?.get(axis);
      if (pinned !== undefined) return pinned === '*' || pinned === c.labels.get(axis);
      const mine = own.get(axis);
      return mine === undefined || mine === c.labels.get(axis);
    }),
  );
  if (!matches.length) {
    const wanted = axes.filter((a) => own.has(a)).map((a) => `${a}=${own.get(a)}`);
    issues.push({ path, message: `"${text}" matches no copy of "${ref.name}"${wanted.length ? ` with ${wanted.join(', ')}` : ''} (its copies: ${listSome(target.copies.map((c) => c.id), 8)})` });
    return [text];
  }
  return matches.map((c) => (ref.output !== undefined ? `${c.id}.${ref.output}` : c.id));
}

// ---------------------------------------------------------------------------------------------
// Addressing copies: --set and --force

/**
 * The expanded stages a selector names: `name` is the stage of that id or every copy of the
 * template `name`; `name[a=x,b=*]` the copies whose bindings match. An error sentence when none.
 */
export function selectStages(text: string, ids: readonly string[], origins: ReadonlyMap<string, StageOrigin>): string[] | string {
  if (ids.includes(text)) return [text];
  const sel = parseReference(text);
  if (typeof sel === 'string') return sel;
  if (sel.output !== undefined) return `"${text}" names an output; name a stage`;
  return matchSelector(sel, ids, origins);
}

function matchSelector(sel: StageSelector, ids: readonly string[], origins: ReadonlyMap<string, StageOrigin>): string[] | string {
  const copies = ids.filter((id) => (origins.get(id)?.template ?? id) === sel.name);
  if (!copies.length) return `no stage "${sel.name}"`;
  const out = copies.filter((id) => {
    const b = origins.get(id)?.bindings ?? new Map<string, string>();
    return [...(sel.bindings ?? [])].every(([axis, label]) => b.has(axis) && (label === '*' || b.get(axis) === label));
  });
  if (!out.length) return `"${formatSelector(sel)}" matches no copy of "${sel.name}" (copies: ${copies.join(', ')})`;
  return out;
}

/**
 * Validation issues found on an expanded copy point into the file at its template, naming the copies
 * (one line for the same problem in several copies).
 */
export function issuesToTemplates(issues: readonly PipelineIssue[], origins: ReadonlyMap<string, StageOrigin>): PipelineIssue[] {
  const byKey = new Map<string, { issue: PipelineIssue; copies: string[] }>();
  const out: { issue: PipelineIssue; copies: string[] }[] = [];
  for (const issue of issues) {
    const m = /^\/stages\/([^/]+)(.*)$/.exec(issue.path);
    const id = m ? m[1]!.replaceAll('~1', '/').replaceAll('~0', '~') : undefined;
    const origin = id !== undefined ? origins.get(id) : undefined;
    if (!origin || !origin.bindings.size) {
      out.push({ issue, copies: [] });
      continue;
    }
    const path = `/stages/${escapePointer(origin.template)}${m![2]}`;
    const message = issue.message.replaceAll(id!, origin.template);
    const key = `${path}\u0000${message}`;
    const known = byKey.get(key);
    if (known) known.copies.push(id!);
    else {
      const entry = { issue: { path, message }, copies: [id!] };
      byKey.set(key, entry);
      out.push(entry);
    }
  }
  return out.map(({ issue, copies }) =>
    copies.length === 0 ? issue : { path: issue.path, message: `${issue.message} (in ${abbreviate(copies[0]!, 120)}${copies.length > 1 ? ` and ${copies.length - 1} other cop${copies.length === 2 ? 'y' : 'ies'}` : ''})` },
  );
}

function isObject(v: unknown): v is JsonObject {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Own-property assignment that is safe for any key, `__proto__` included. */
function define(o: JsonObject, k: string, v: JsonValue | undefined): void {
  if (v === undefined) return;
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * A pipeline object as a file again: after `${…}` and `%{…}` were substituted, the literal `${` and
 * `%{` left in strings are escaped (`$${`, `%%{`), so the expanded pipeline and the run record's
 * pipeline.json validate to the same stages. Stages of trial groups keep their unbound `%{name}`.
 */
export function escapeLiterals(spec: JsonObject): JsonObject {
  const trial = new Set<string>();
  if (isObject(spec['groups'])) for (const g of Object.values(spec['groups'])) if (isObject(g) && isObject(g['trials']) && Array.isArray(g['stages'])) for (const id of g['stages']) if (typeof id === 'string') trial.add(id);
  const walk = (v: JsonValue, matrixText: boolean): JsonValue => {
    if (typeof v === 'string') {
      // (a function: in a replacement string "$$" would stand for one "$")
      const env = v.replaceAll('${', () => '$${');
      return matrixText ? env.replaceAll('%{', '%%{') : env;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, matrixText));
    if (isObject(v)) {
      const out: JsonObject = {};
      for (const [k, x] of Object.entries(v)) define(out, k, walk(x, matrixText));
      return out;
    }
    return v;
  };
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'stages' && isObject(v)) {
      const stages: JsonObject = {};
      for (const [id, st] of Object.entries(v)) define(stages, id, walk(st, !trial.has(id)));
      define(out, k, stages);
    } else define(out, k, walk(v, false));
  }
  return out;
}
