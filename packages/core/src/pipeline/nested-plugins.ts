/**
 * Resolution of nested plugins (see contracts/nested-plugin.ts): the one place where a nested
 * plugin's name and params are checked. Pipeline validation and `runStandalone` call it after a
 * stage's own params validated; the stage then receives the resolved params.
 */
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import { NESTED_PLUGIN_KEYWORD, type NestedPlugin, type NestedPluginUse } from '../contracts/nested-plugin.js';
import { compileSchema, describeAjvError } from './ajv.js';
import type { PipelineIssue } from './issues.js';
import { escapePointer } from './load.js';
import { nearest } from './nearest.js';
import { FairtuneError } from '../contracts/errors.js';

/** Where a params schema places a nested plugin: a pointer pattern (`*` stands for any array index or map key) and the kind. */
export interface NestedPluginSlot {
  readonly pointer: string;
  readonly kind: string;
}

/** The loaded plugins of a kind, or undefined when no loaded package declares the kind. */
export type NestedPluginLookup = (kind: string) => readonly NestedPlugin[] | undefined;

export interface NestedResolution {
  /** Nested plugins found, in schema order (the order they join the cache key). */
  readonly uses: NestedPluginUse[];
  /** Problems, with JSON pointers relative to the stage's params. */
  readonly errors: PipelineIssue[];
}

/**
 * Every property of a params schema marked `x-fairtune-plugin`, found through `properties`,
 * `items` (a single schema) and `additionalProperties` (a schema).
 */
export function nestedPluginSlots(schema: unknown, pointer = ''): NestedPluginSlot[] {
  if (!isObject(schema)) return [];
  const kind = schema[NESTED_PLUGIN_KEYWORD];
  if (typeof kind === 'string') return [{ pointer, kind }];
  const out: NestedPluginSlot[] = [];
  if (isObject(schema['properties'])) {
    for (const [key, sub] of Object.entries(schema['properties'])) out.push(...nestedPluginSlots(sub, `${pointer}/${escapePointer(key)}`));
  }
  if (isObject(schema['additionalProperties'])) out.push(...nestedPluginSlots(schema['additionalProperties'], `${pointer}/*`));
  if (isObject(schema['items'])) out.push(...nestedPluginSlots(schema['items'], `${pointer}/*`));
  return out;
}

/**
 * Resolves every nested plugin in `params`, which have been validated against `schema` with
 * defaults applied. For each `{ name, params }` at a marked property: an unknown name is an
 * error at `…/name` (with the nearest known name and the full list); the params are checked
 * against the plugin's schema with defaults applied (errors at `…/params/<field>`) and written
 * back, so `params` afterwards holds the resolved values. Values of the wrong shape are left to
 * the stage's own schema, which reports them.
 */
export function resolveNestedPlugins(schema: unknown, params: JsonObject, lookup: NestedPluginLookup): NestedResolution {
  const uses: NestedPluginUse[] = [];
  const errors: PipelineIssue[] = [];
  const visit = (sub: unknown, value: JsonValue | undefined, pointer: string): void => {
    if (!isObject(sub) || value === undefined) return;
    const kind = sub[NESTED_PLUGIN_KEYWORD];
    if (typeof kind === 'string') {
      resolveOne(kind, value, pointer, lookup, uses, errors);
      return;
    }
    if (isObject(value)) {
      const props = isObject(sub['properties']) ? sub['properties'] : {};
      for (const [key, s] of Object.entries(props)) if (Object.hasOwn(value, key)) visit(s, value[key], `${pointer}/${escapePointer(key)}`);
      if (isObject(sub['additionalProperties'])) {
        for (const key of Object.keys(value)) if (!Object.hasOwn(props, key)) visit(sub['additionalProperties'], value[key], `${pointer}/${escapePointer(key)}`);
      }
    }
    if (Array.isArray(value) && isObject(sub['items'])) value.forEach((v, i) => visit(sub['items'], v, `${pointer}/${i}`));
  };
  visit(schema, params, '');
  return { uses, errors };
}

function resolveOne(kind: string, value: JsonValue, pointer: string, lookup: NestedPluginLookup, uses: NestedPluginUse[], errors: PipelineIssue[]): void {
  if (!isObject(value) || typeof value['name'] !== 'string') return; // the stage's schema reports the shape
  const name = value['name'];
  const plugins = lookup(kind);
  if (!plugins) {
    errors.push({ path: pointer, message: `no loaded plugin package declares the nested plugin kind "${kind}"` });
    return;
  }
  const plugin = plugins.find((p) => p.name === name);
  if (!plugin) {
    const known = plugins.map((p) => p.name).sort();
    const near = nearest(name, known);
    errors.push({
      path: `${pointer}/name`,
      message: `unknown ${kind} "${name}"${near ? ` (did you mean "${near}"?)` : ''}; ${known.length ? `known ${kind} plugins: ${known.join(', ')}` : `no ${kind} plugins are loaded`}`,
    });
    return;
  }
  const given = value['params'] ?? {};
  if (!isObject(given)) return; // reported by the stage's schema
  const resolved = structuredClone(given);
  const validate = compileSchema(plugin.paramsSchema);
  if (!validate(resolved)) {
    for (const e of validate.errors ?? []) {
      let path = `${pointer}/params${e.instancePath}`;
      if (e.keyword === 'additionalProperties') path += `/${escapePointer(String((e.params as { additionalProperty: string }).additionalProperty))}`;
      if (e.keyword === 'required') path += `/${escapePointer(String((e.params as { missingProperty: string }).missingProperty))}`;
      errors.push({ path, message: `${describeAjvError(e)} (${kind} ${plugin.name})` });
    }
  }
  value['params'] = resolved;
  uses.push({ pointer, kind, name: plugin.name, version: plugin.version });
}

/**
 * One nested plugin's params, checked against its schema with defaults applied, exactly as
 * validation resolves them; throws an error listing every problem. For plugin authors' tests
 * (e.g. calling a training strategy's `create` with the params a pipeline would give it).
 */
export function resolveNestedParams(kind: string, plugin: NestedPlugin, params: JsonObject = {}): JsonObject {
  const holder: JsonObject = { plugin: { name: plugin.name, params: structuredClone(params) } };
  const schema = { type: 'object', properties: { plugin: { [NESTED_PLUGIN_KEYWORD]: kind } } };
  const { errors } = resolveNestedPlugins(schema, holder, () => [plugin]);
  if (errors.length) throw new FairtuneError('FT_PIPELINE_INVALID', `invalid params for ${kind} "${plugin.name}":\n${errors.map((e) => `  ${e.path.replace(/^\/plugin\//, '')}: ${e.message}`).join('\n')}`, { pointer: errors[0]!.path.replace(/^\/plugin/, '') });
  return (holder['plugin'] as { params: JsonObject }).params;
}

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
