/**
 * The flags of `fairtune study ask` and `fairtune study tell`, parsed as Optuna 3.1's `optuna ask`
 * and `optuna tell` parse theirs (argparse: `--flag value` or `--flag=value`, `-f json` or
 * `-fjson`, `--values` taking one or more numbers, negative ones included), so a script written
 * for Optuna's CLI runs unchanged once `--storage` names one of our storages.
 *
 * What argparse rejects (an unknown flag, a missing value, a choice outside the list, a value
 * that is not a float) is a UsageError (exit 2, as argparse exits 2); everything found wrong
 * later (bad JSON, an unknown sampler) is the command's error (exit 1, as Python's traceback).
 */
import { UsageError, type StudyDirection } from '@fairtune/core/plugin';

export type OutputFormat = 'json' | 'table' | 'yaml';
export type TellState = 'complete' | 'pruned' | 'fail';

export interface CommonArgs {
  /** `--storage` as given; absent: `OPTUNA_STORAGE`, then the default storage. */
  readonly storage?: string;
  /** `--prefix`: the Redis key prefix (ours; Optuna's CLI cannot open a Redis journal). */
  readonly prefix: string;
  readonly studyName?: string;
  /** `-q/--quiet`: no info lines on stderr (Optuna: warnings and errors only). */
  readonly quiet: boolean;
  /** `--log-file`: info lines are appended there too. */
  readonly logFile?: string;
  /** `--debug`: an error's stack trace on stderr. */
  readonly debug: boolean;
}

export interface AskArgs extends CommonArgs {
  readonly direction?: StudyDirection;
  readonly directions?: readonly StudyDirection[];
  readonly sampler?: string;
  readonly samplerKwargs?: string;
  readonly searchSpace?: string;
  readonly format: OutputFormat;
  readonly flatten: boolean;
}

export interface TellArgs extends CommonArgs {
  readonly trialNumber?: number;
  readonly values?: readonly number[];
  readonly state?: TellState;
  readonly skipIfFinished: boolean;
}

type Kind = { readonly take: 'flag' } | { readonly take: 'one'; readonly choices?: readonly string[] } | { readonly take: 'many'; readonly choices?: readonly string[] };

const DIRECTIONS = ['minimize', 'maximize'] as const;

const COMMON: Readonly<Record<string, Kind>> = {
  '--storage': { take: 'one' },
  '--prefix': { take: 'one' },
  '--study-name': { take: 'one' },
  '--quiet': { take: 'flag' },
  '--verbose': { take: 'flag' },
  '--log-file': { take: 'one' },
  '--debug': { take: 'flag' },
};

const ASK: Readonly<Record<string, Kind>> = {
  ...COMMON,
  '--direction': { take: 'one', choices: DIRECTIONS },
  '--directions': { take: 'many', choices: DIRECTIONS },
  '--sampler': { take: 'one' },
  '--sampler-kwargs': { take: 'one' },
  '--search-space': { take: 'one' },
  '--format': { take: 'one', choices: ['json', 'table', 'yaml'] },
  '--flatten': { take: 'flag' },
};

const TELL: Readonly<Record<string, Kind>> = {
  ...COMMON,
  '--trial-number': { take: 'one' },
  '--values': { take: 'many' },
  '--state': { take: 'one', choices: ['complete', 'pruned', 'fail'] },
  '--skip-if-finished': { take: 'flag' },
};

const SHORT: Readonly<Record<string, string>> = { '-f': '--format', '-q': '--quiet', '-v': '--verbose' };

/** argparse's test for an argument that is a negative number rather than an option. */
const NEGATIVE_NUMBER = /^-\d+$|^-\d*\.\d+$/;

/** Flags → their values (strings; `true` for plain flags). `argv` is the command line after `ask`/`tell`. */
function parseFlags(action: string, argv: readonly string[], spec: Readonly<Record<string, Kind>>): Map<string, string[] | true> {
  const out = new Map<string, string[] | true>();
  const isOption = (a: string) => a.startsWith('-') && a !== '-' && !NEGATIVE_NUMBER.test(a);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    if (a.startsWith('--') && a.includes('=')) [a, inline] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    else if (/^-[a-z]./.test(a) && SHORT[a.slice(0, 2)]) [a, inline] = [a.slice(0, 2), a.slice(2)];
    const flag = SHORT[a] ?? a;
    const kind = spec[flag];
    if (!kind) throw new UsageError(isOption(a) ? `study ${action}: unrecognized argument ${a} (flags: ${Object.keys(spec).join(', ')})` : `study ${action}: unexpected argument "${a}"`);
    if (kind.take === 'flag') {
      if (inline !== undefined) throw new UsageError(`argument ${flag}: ignored explicit argument '${inline}'`);
      out.set(flag, true);
      continue;
    }
    const values: string[] = [];
    if (inline !== undefined) values.push(inline);
    else if (kind.take === 'one') {
      if (i + 1 >= argv.length || isOption(argv[i + 1]!)) throw new UsageError(`argument ${flag}: expected one argument`);
      values.push(argv[++i]!);
    } else {
      while (i + 1 < argv.length && !isOption(argv[i + 1]!)) values.push(argv[++i]!);
      if (!values.length) throw new UsageError(`argument ${flag}: expected at least one argument`);
    }
    if (kind.choices) for (const v of values) if (!kind.choices.includes(v)) throw new UsageError(`argument ${flag}: invalid choice: '${v}' (choose from ${kind.choices.map((c) => `'${c}'`).join(', ')})`);
    out.set(flag, values); // argparse keeps the last occurrence
  }
  return out;
}

function one(flags: Map<string, string[] | true>, flag: string): string | undefined {
  const v = flags.get(flag);
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}

function common(flags: Map<string, string[] | true>): CommonArgs {
  const storage = one(flags, '--storage');
  const studyName = one(flags, '--study-name');
  const logFile = one(flags, '--log-file');
  return {
    ...(storage !== undefined ? { storage } : {}),
    prefix: one(flags, '--prefix') ?? '',
    ...(studyName !== undefined ? { studyName } : {}),
    quiet: flags.has('--quiet'),
    ...(logFile !== undefined ? { logFile } : {}),
    debug: flags.has('--debug'),
  };
}

export function parseAskArgs(argv: readonly string[]): AskArgs {
  const flags = parseFlags('ask', argv, ASK);
  const pick = (flag: string) => one(flags, flag);
  const directions = flags.get('--directions');
  const [direction, sampler, samplerKwargs, searchSpace] = ['--direction', '--sampler', '--sampler-kwargs', '--search-space'].map(pick);
  return {
    ...common(flags),
    ...(direction !== undefined ? { direction: direction as StudyDirection } : {}),
    ...(Array.isArray(directions) ? { directions: directions as StudyDirection[] } : {}),
    ...(sampler !== undefined ? { sampler } : {}),
    ...(samplerKwargs !== undefined ? { samplerKwargs } : {}),
    ...(searchSpace !== undefined ? { searchSpace } : {}),
    format: (pick('--format') ?? 'json') as OutputFormat,
    flatten: flags.has('--flatten'),
  };
}

export function parseTellArgs(argv: readonly string[]): TellArgs {
  const flags = parseFlags('tell', argv, TELL);
  const n = one(flags, '--trial-number');
  let trialNumber: number | undefined;
  if (n !== undefined) {
    // argparse's type=int: an optional sign, digits, surrounding blanks.
    if (!/^\s*[+-]?\d+\s*$/.test(n)) throw new UsageError(`argument --trial-number: invalid int value: '${n}'`);
    trialNumber = Number(n);
  }
  const values = flags.get('--values');
  const state = one(flags, '--state');
  return {
    ...common(flags),
    ...(trialNumber !== undefined ? { trialNumber } : {}),
    ...(Array.isArray(values) ? { values: values.map((v) => pythonFloat(v, '--values')) } : {}),
    ...(state !== undefined ? { state: state as TellState } : {}),
    skipIfFinished: flags.has('--skip-if-finished'),
  };
}

/** Python's `float(text)`: decimal and exponent forms, `inf`/`infinity`/`nan` in any case, blanks around. Underscores are refused. */
export function pythonFloat(text: string, flag: string): number {
  const t = text.trim();
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return Number(t);
  throw new UsageError(`argument ${flag}: invalid float value: '${text}'`);
}

/** The index of the action word (`ask`, `tell`, …) of a `study` command line: the first argument that is not a flag or a flag's value; -1 if none. */
export function studyActionIndex(argv: readonly string[]): number {
  const takesValue = new Set(Object.entries({ ...ASK, ...TELL }).filter(([, k]) => k.take !== 'flag').map(([f]) => f));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) return i;
    if (takesValue.has(a) || a === '-f') i++;
  }
  return -1;
}
