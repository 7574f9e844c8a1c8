/**
 * Secret params. A params schema marks a property `"x-fairtune-secret": true` (a download token,
 * an API key): its value reaches the stage, and nothing FairTune writes holds it. Validation
 * records where each stage's secrets sit (`ResolvedStage.secrets`, pointers into its params,
 * nested plugins' params included); the run record (pipeline.json, environment.json, events,
 * summary), the cache (entry files, artifact manifests, text files such as reports) and the
 * readable recipe of the cache key hold `[redacted]` in their place. A secret's text is also
 * replaced where it appears elsewhere (a log line, an error message, an artifact's metadata),
 * when it is at least MIN_SCRUB_LENGTH characters long.
 */
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import { NESTED_PLUGIN_KEYWORD, type NestedPlugin } from '../contracts/nested-plugin.js';
import { SECRET_PARAM_KEYWORD } from '../contracts/stage-plugin.js';
import { escapePointer } from './pointer.js';

export const REDACTED = '[redacted]';
/** Shorter secrets are replaced only where the schema puts them (replacing "ab" in every text would garble it). */
export const MIN_SCRUB_LENGTH = 6;

/**
 * Pointers (into `params`) of every value given for a property marked secret, walking the schema's
 * `properties`, `additionalProperties`, `items` and `allOf`/`anyOf`/`oneOf` branches, and nested
 * plugins' own schemas (through `lookup`) at properties marked `x-fairtune-plugin`.
 */
export function secretPointers(schema: unknown, params: JsonValue, lookup: (kind: string, name: string) => NestedPlugin | undefined = () => undefined): string[] {
  const out = new Set<string>();
  const visit = (sub: unknown, value: JsonValue | undefined, pointer: string, depth: number): void => {
    if (!isObject(sub) || value === undefined || depth > 64) return;
    if (sub[SECRET_PARAM_KEYWORD] === true) {
      out.add(pointer);
      return;
    }
    for (const branch of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = sub[branch];
      if (Array.isArray(list)) for (const b of list) visit(b, value, pointer, depth + 1);
    }
    const kind = sub[NESTED_PLUGIN_KEYWORD];
    if (typeof kind === 'string' && isObject(value) && typeof value['name'] === 'string') {
      const plugin = lookup(kind, value['name']);
      if (plugin && value['params'] !== undefined) visit(plugin.paramsSchema, value['params'], `${pointer}/params`, depth + 1);
    }
    if (isObject(value)) {
      const props = isObject(sub['properties']) ? sub['properties'] : {};
      for (const key of Object.keys(value)) {
        const p = `${pointer}/${escapePointer(key)}`;
        if (Object.hasOwn(props, key)) visit(props[key], value[key], p, depth + 1);
        else if (isObject(sub['additionalProperties'])) visit(sub['additionalProperties'], value[key], p, depth + 1);
      }
    }
    if (Array.isArray(value) && isObject(sub['items'])) value.forEach((v, i) => visit(sub['items'], v, `${pointer}/${i}`, depth + 1));
  };
  visit(schema, params, '', 0);
  return [...out];
}

/** A copy of `value` with `[redacted]` at each pointer that exists in it. */
export function redactAt<T extends JsonValue>(value: T, pointers: readonly string[]): T {
  if (!pointers.length) return value;
  const copy = structuredClone(value);
  for (const pointer of pointers) {
    const parts = pointer.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (!parts.length) continue;
    let target: JsonValue | undefined = copy;
    for (const part of parts.slice(0, -1)) target = isObject(target) || Array.isArray(target) ? (Object.hasOwn(target, part) ? (target as JsonObject)[part] : undefined) : undefined;
    const last = parts[parts.length - 1]!;
    if ((isObject(target) || Array.isArray(target)) && Object.hasOwn(target, last)) (target as JsonObject)[last] = REDACTED;
  }
  return copy;
}

/** The text of every value at `pointers` in `params` (strings as they are; numbers and booleans as JSON writes them). */
export function secretValues(params: JsonValue, pointers: readonly string[]): string[] {
  const out: string[] = [];
  for (const pointer of pointers) {
    let v: JsonValue | undefined = params;
    for (const part of pointer.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))) {
      v = (isObject(v) || Array.isArray(v)) && Object.hasOwn(v, part) ? (v as JsonObject)[part] : undefined;
    }
    if (typeof v === 'string' && v) out.push(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
    else if (v !== undefined && v !== null) out.push(JSON.stringify(v));
  }
  return out;
}

/**
 * Replaces the text of a run's secrets wherever it appears: structured records go through `json`,
 * plain text through `text`. Only secrets of at least MIN_SCRUB_LENGTH characters are replaced
 * in free text; shorter ones are redacted where the schema puts them (`redactAt`).
 */
export class Redactor {
  readonly #values: string[];

  constructor(values: Iterable<string>) {
    // Longest first, so a secret that contains another is replaced whole.
    this.#values = [...new Set([...values].filter((v) => v.length >= MIN_SCRUB_LENGTH))].sort((a, b) => b.length - a.length);
  }

  get active(): boolean {
    return this.#values.length > 0;
  }

  /** The secrets' own texts (for byte-level scrubbing of files). */
  get values(): readonly string[] {
    return this.#values;
  }

  text(s: string): string {
    let out = s;
    for (const v of this.#values) if (out.includes(v)) out = out.replaceAll(v, REDACTED);
    return out;
  }

  /** A copy of a JSON-like value with every string (keys included) scrubbed. */
  json<T>(value: T): T {
    if (!this.active) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.text(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) Object.defineProperty(out, this.text(k), { value: walk(x), enumerable: true, writable: true, configurable: true });
        return out;
      }
      return v;
    };
    return walk(value) as T;
  }
}

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
