/** One configured ajv instance per process: all errors, defaults applied, formats, inline errorMessage. */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { NESTED_PLUGIN_KEYWORD } from '../contracts/nested-plugin.js';
import { SECRET_PARAM_KEYWORD } from '../contracts/stage-plugin.js';

// ajv-formats is CJS with `exports.default`; nodenext types the default import as module.exports.
const addFormats = addFormatsImport.default;

let shared: Ajv | undefined;

export function sharedAjv(): Ajv {
  if (!shared) {
    shared = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, verbose: true });
    addFormats(shared);
    // Plugin authors may annotate schemas with `errorMessage` (plain sentence) on a property.
    shared.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
    // Marks a property holding a nested plugin `{ name, params }` (resolved by pipeline/nested-plugins.ts).
    shared.addKeyword({ keyword: NESTED_PLUGIN_KEYWORD, schemaType: 'string' });
    // Marks a secret param (pipeline/secrets.ts): redacted in records, the cache and the key recipe.
    shared.addKeyword({ keyword: SECRET_PARAM_KEYWORD, schemaType: 'boolean' });
  }
  return shared;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles (once per schema object) a validator that also fills in defaults. */
export function compileSchema(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = sharedAjv().compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

/** Turns an ajv error into a plain sentence, preferring the schema's own `errorMessage`. */
export function describeAjvError(e: ErrorObject): string {
  const custom = (e.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
  if (typeof custom === 'string') return custom;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown parameter "${String((e.params as { additionalProperty: string }).additionalProperty)}"`;
    case 'required':
      return `missing required parameter "${String((e.params as { missingProperty: string }).missingProperty)}"`;
    case 'enum':
      return `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `must be of type ${String((e.params as { type: string }).type)}`;
    default:
      return e.message ?? `fails ${e.keyword}`;
  }
}
