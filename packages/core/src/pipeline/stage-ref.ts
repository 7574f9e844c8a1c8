/**
 * The grammar of stage ids and references, shared by composition (matrix copies), validation,
 * `--set` and `--force`.
 *
 *   stage id   = name [ "[" binding { "," binding } "]" ]        e.g. finetune[method=erm,seed=7]
 *   binding    = axis "=" label                                  axis: a name; label: see below
 *   reference  = stage-id [ "." output ]                         e.g. finetune[seed=7].model
 *   selector   = name [ "[" axis "=" (label | "*") { "," … } "]" ]   (in inputs, --set, --force)
 *   name       = letter { letter | digit | "-" | "_" }
 *
 * A label is the text of a matrix value (a string as is, a number or boolean as JSON writes it, an
 * object's `id`). Labels may contain dots and `=`; the characters that delimit ids or paths, or
 * that some file systems refuse (`[ ] , / \ % : * ? < > |`, quotes, whitespace and control
 * characters) are written percent-encoded (`%2C` for a comma), so an id is also a safe file name.
 * `*` as a whole label means "every value" in selectors, so no value may be the text `*`. A reference's output follows the first
 * dot after the closing bracket, or the first dot of a plain id.
 */

export const STAGE_NAME_PATTERN = '[A-Za-z][A-Za-z0-9_-]*';
const LABEL_CHARS = "[^\\[\\],/\\\\%\\s\"'\\x00-\\x1f:*?<>|]|%[0-9A-F]{2}";
/** Ids as written in files (`name`) and as expanded (`name[axis=label,…]`). */
export const STAGE_ID_PATTERN = `^${STAGE_NAME_PATTERN}(\\[${STAGE_NAME_PATTERN}=(?:${LABEL_CHARS})*(?:,${STAGE_NAME_PATTERN}=(?:${LABEL_CHARS})*)*\\])?$`;
/** Longest stage id or pipeline name: ids become file names (work folders, report folders). */
export const MAX_ID_LENGTH = 200;

const NAME_RE = new RegExp(`^${STAGE_NAME_PATTERN}$`);

/** Percent-encodes the characters a label may not carry in an id. */
export function encodeLabel(label: string): string {
  return label.replace(/[[\],/\\%\s"'\x00-\x1f:*?<>|]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function decodeLabel(text: string): string {
  return text.replace(/%([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The id of a matrix copy: `name[a=label,b=label]` (the plain name when there are no axes). */
export function copyId(name: string, bindings: readonly (readonly [string, string])[]): string {
  if (!bindings.length) return name;
  return `${name}[${bindings.map(([axis, label]) => `${axis}=${encodeLabel(label)}`).join(',')}]`;
}

export interface StageSelector {
  /** The stage name (a template's id, or a plain stage's id). */
  readonly name: string;
  /** Axis → label (decoded) or `*`; absent when the text had no brackets. */
  readonly bindings?: ReadonlyMap<string, string>;
}

export interface ParsedReference extends StageSelector {
  readonly output?: string;
}

/** Parses `name`, `name[a=x,b=*]`, each optionally followed by `.output`; an error sentence when malformed. */
export function parseReference(text: string): ParsedReference | string {
  const bracket = text.indexOf('[');
  const firstDot = text.indexOf('.');
  if (bracket < 0 || (firstDot >= 0 && firstDot < bracket)) {
    const name = firstDot < 0 ? text : text.slice(0, firstDot);
    const output = firstDot < 0 ? undefined : text.slice(firstDot + 1);
    if (!NAME_RE.test(name)) return `"${text}" is not a stage reference (a stage id, optionally followed by ".<output>")`;
    return { name, output };
  }
  const close = text.indexOf(']', bracket);
  if (close < 0) return `"${text}" has "[" without a closing "]"`;
  const name = text.slice(0, bracket);
  if (!NAME_RE.test(name)) return `"${text}": "${name}" is not a stage name`;
  const rest = text.slice(close + 1);
  if (rest && !rest.startsWith('.')) return `"${text}": expected ".<output>" after "]"`;
  const bindings = new Map<string, string>();
  const inner = text.slice(bracket + 1, close);
  for (const part of inner ? inner.split(',') : []) {
    const eq = part.indexOf('=');
    const axis = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !NAME_RE.test(axis)) return `"${text}": "${part}" should be <axis>=<value> (or <axis>=*)`;
    if (bindings.has(axis)) return `"${text}" names axis "${axis}" twice`;
    bindings.set(axis, decodeLabel(part.slice(eq + 1)));
  }
  return { name, bindings, output: rest ? rest.slice(1) : undefined };
}

/** `name[a=x]` back to text (labels encoded), for messages. */
export function formatSelector(s: StageSelector): string {
  return s.bindings ? `${s.name}[${[...s.bindings].map(([a, l]) => `${a}=${l === '*' ? '*' : encodeLabel(l)}`).join(',')}]` : s.name;
}
