/**
 * Strict reading of JSON that people and tools outside FairTune write (pipeline files, `--set`
 * values). `JSON.parse` gives the value; one more pass over the text rejects what it accepts
 * silently or what would break later steps:
 *
 * - a key given twice in one object (JSON.parse keeps the last one);
 * - a reserved key (`__proto__`, `constructor`, `prototype`): such names reach an object's
 *   prototype when used as property names, so no key of a pipeline may be one;
 * - nesting deeper than MAX_JSON_DEPTH levels (composition, validation and the cache key walk
 *   values recursively; a file nested 200,000 deep is refused here, not a stack overflow there).
 *
 * The pass is a loop over the characters with an explicit stack, so any depth of input is safe.
 * Each problem names its JSON pointer and its line and column.
 */
import { escapePointer } from './pointer.js';

/** Deepest nesting of objects and arrays accepted in a pipeline file or a `--set` value. */
export const MAX_JSON_DEPTH = 100;

/** Keys that reach an object's prototype when used as a property name. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface JsonProblem {
  /** JSON pointer of the offending key or value. */
  readonly pointer: string;
  /** Character offset in the text. */
  readonly offset: number;
  readonly message: string;
}

type Frame = { kind: 'object'; keys: Map<string, number>; key: string | undefined; expectKey: boolean } | { kind: 'array'; index: number };

/** Converts a character offset into 1-based line and column. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Problems of JSON text that `JSON.parse` accepted (call it first: the text is assumed to be
 * valid JSON). Stops at the first problem of depth; reports at most `limit` problems.
 */
export function strictJsonProblems(text: string, options: { maxDepth?: number; limit?: number } = {}): JsonProblem[] {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const limit = options.limit ?? 20;
  const problems: JsonProblem[] = [];
  const stack: Frame[] = [];
  const pointer = (extra?: string): string => {
    let p = '';
    for (const f of stack) p += f.kind === 'array' ? `/${f.index}` : f.key !== undefined ? `/${escapePointer(f.key)}` : '';
    return extra !== undefined ? `${p}/${escapePointer(extra)}` : p;
  };
  const n = text.length;
  let i = 0;
  while (i < n && problems.length < limit) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const where = () => {
          const at = lineColumn(text, i);
          return `line ${at.line}, column ${at.column}`;
        };
        if (RESERVED_KEYS.has(key)) {
          problems.push({ pointer: pointer(key), offset: i, message: `"${key}" is a reserved name and cannot be a key (${where()}); reserved: ${[...RESERVED_KEYS].join(', ')}` });
        }
        const first = top.keys.get(key);
        if (first !== undefined) {
          const f = lineColumn(text, first);
          problems.push({ pointer: pointer(key), offset: i, message: `duplicate key "${key}" (${where()}; first at line ${f.line}, column ${f.column}): each key may appear once in an object` });
        } else top.keys.set(key, i);
        top.key = key;
        top.expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      if (stack.length >= maxDepth) {
        const { line, column } = lineColumn(text, i);
        problems.push({ pointer: pointer(), offset: i, message: `nested more than ${maxDepth} levels deep (line ${line}, column ${column})` });
        break;
      }
      stack.push(c === 123 ? { kind: 'object', keys: new Map(), key: undefined, expectKey: true } : { kind: 'array', index: 0 });
    } else if (c === 125 /* } */ || c === 93 /* ] */) stack.pop();
    else if (c === 44 /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') {
        top.expectKey = true;
        top.key = undefined;
      }
      else if (top) top.index++;
    }
    i++;
  }
  return problems;
}

/** `text` shortened for messages: at most about `max` characters, saying how long it was. */
export function abbreviate(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(8, max - 20))}…(${text.length} characters)`;
}
