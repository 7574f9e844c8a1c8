/**
 * JSON as Python's `json` module writes and reads it, for files shared with Optuna.
 *
 * - `NaN`, `Infinity` and `-Infinity` are bare tokens (Python's default `allow_nan=True`);
 *   `JSON.parse` rejects them and `JSON.stringify` writes `null`, which Optuna would read as None.
 * - Python tells floats from ints by their text (`1.0` vs `1`); a number known to be a Python
 *   float is wrapped in `PyFloat` and written as `repr(float)` writes it (`1.0`, `1e-05`, `1e+16`).
 * - Output matches `json.dumps(obj)` with its defaults: `", "` and `": "` separators and
 *   `ensure_ascii` (every character outside printable ASCII escaped as `\uXXXX`).
 */

/** A number written as a Python float. */
export class PyFloat {
  constructor(readonly value: number) {}
}

export type PyJson = null | boolean | number | string | PyFloat | readonly PyJson[] | { readonly [key: string]: PyJson | undefined };

/** `repr(x)` for a Python float. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() gives the shortest digits that round-trip, as Python's repr does.
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
  if (!m) throw new Error(`unexpected number format ${x.toExponential()}`);
  const sign = m[1]!;
  const digits = m[2]! + (m[3] ?? '');
  const exp = Number(m[4]);
  // CPython's float_repr_style 'short': scientific when the exponent is < -4 or >= 16.
  if (exp < -4 || exp >= 16) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || '0'}`;
}

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `json.dumps(value)` as Python writes it. Plain numbers are written as ints when they are safe integers, else as floats. */
export function pyJsonDumps(value: PyJson | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isSafeInteger(value) ? String(value) : pyFloatRepr(value);
    case 'string':
      return pyString(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => pyJsonDumps(v as PyJson)).join(', ')}]`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, PyJson | undefined>)) {
    if (v === undefined) continue;
    parts.push(`${pyString(k)}: ${pyJsonDumps(v)}`);
  }
  return `{${parts.join(', ')}}`;
}

/** `json.loads(text)`: standard JSON plus Python's `NaN`, `Infinity` and `-Infinity`. */
export function pyJsonLoads(text: string): unknown {
  if (!text.includes('NaN') && !text.includes('Infinity')) return JSON.parse(text);
  return new Parser(text).document();
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Parser {
  #i = 0;
  constructor(readonly text: string) {}

  document(): unknown {
    const v = this.#value();
    this.#ws();
    if (this.#i !== this.text.length) this.#fail('extra data');
    return v;
  }

  #fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.#i} in JSON`);
  }

  #ws(): void {
    while (this.#i < this.text.length && WS.has(this.text[this.#i]!)) this.#i++;
  }

  #literal(word: string): boolean {
    if (this.text.startsWith(word, this.#i)) {
      this.#i += word.length;
      return true;
    }
    return false;
  }

  #value(): unknown {
    this.#ws();
    const c = this.text[this.#i];
    if (c === '{') return this.#object();
    if (c === '[') return this.#array();
    if (c === '"') return this.#string();
    if (this.#literal('true')) return true;
    if (this.#literal('false')) return false;
    if (this.#literal('null')) return null;
    if (this.#literal('NaN')) return NaN;
    if (this.#literal('Infinity')) return Infinity;
    if (this.#literal('-Infinity')) return -Infinity;
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(this.text);
    if (!m) this.#fail('unexpected token');
    this.#i += m[0].length;
    return Number(m[0]);
  }

  #string(): string {
    const start = this.#i;
    this.#i++;
    for (;;) {
      const c = this.text[this.#i];
      if (c === undefined) this.#fail('unterminated string');
      if (c === '\\') this.#i += 2;
      else if (c === '"') break;
      else this.#i++;
    }
    this.#i++;
    return JSON.parse(this.text.slice(start, this.#i)) as string;
  }

  #array(): unknown[] {
    this.#i++;
    const out: unknown[] = [];
    this.#ws();
    if (this.text[this.#i] === ']') {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.#value());
      this.#ws();
      const c = this.text[this.#i++];
      if (c === ']') return out;
      if (c !== ',') this.#fail("expected ',' or ']'");
    }
  }

  #object(): Record<string, unknown> {
    this.#i++;
    const out: Record<string, unknown> = {};
    this.#ws();
    if (this.text[this.#i] === '}') {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      if (this.text[this.#i] !== '"') this.#fail('expected a key');
      const key = this.#string();
      this.#ws();
      if (this.text[this.#i++] !== ':') this.#fail("expected ':'");
      // defineProperty: a key named __proto__ is data, as JSON.parse keeps it.
      Object.defineProperty(out, key, { value: this.#value(), enumerable: true, writable: true, configurable: true });
      this.#ws();
      const c = this.text[this.#i++];
      if (c === '}') return out;
      if (c !== ',') this.#fail("expected ',' or '}'");
    }
  }
}
