/**
 * WFDB header (`.hea`) parsing, per header(5): record line, signal lines, segment lines of a
 * multi-segment record, and comments. Pure text → structure; no file access here.
 */
import { FairtuneError } from '@fairtune/core/plugin';

export interface WfdbSignalSpec {
  /** Data file name, or `~` for a signal without data (layout headers). */
  readonly fileName: string;
  readonly format: number;
  readonly samplesPerFrame: number;
  readonly skew: number;
  /** Bytes to skip at the start of the data file (`fmt+offset`). */
  readonly byteOffset: number;
  /** ADC units per physical unit; header gain 0 or missing means 200 (WFDB default). */
  readonly gain: number;
  readonly baseline: number;
  readonly units: string;
  readonly adcResolution: number;
  readonly adcZero: number;
  readonly initValue: number | undefined;
  /** 16-bit checksum as written (signed or unsigned); compare modulo 65536. */
  readonly checksum: number | undefined;
  readonly blockSize: number;
  readonly description: string;
}

export interface WfdbSegmentSpec {
  /** Segment record name, or `~` for a null (gap) segment. */
  readonly name: string;
  readonly length: number;
}

export interface WfdbHeader {
  readonly recordName: string;
  /** Present for multi-segment records. */
  readonly nSegments: number | undefined;
  readonly nSignals: number;
  /** Frame rate in Hz. */
  readonly fs: number;
  readonly counterFrequency: number | undefined;
  readonly baseCounter: number | undefined;
  /** Frames per signal; undefined when the header omits it (derive from the file size). */
  readonly nSamples: number | undefined;
  readonly baseTime: string | undefined;
  readonly baseDate: string | undefined;
  readonly signals: readonly WfdbSignalSpec[];
  readonly segments: readonly WfdbSegmentSpec[] | undefined;
  readonly comments: readonly string[];
}

/** Thrown for any header or data problem, or a missing file; the message names the file. */
export class WfdbError extends FairtuneError {
  override readonly name = 'WfdbError';
  constructor(
    readonly file: string,
    reason: string,
    /** FT_DATA_FORMAT (a file that cannot be read as WFDB) or FT_DATA_MISSING (a file that is not there). */
    code: 'FT_DATA_FORMAT' | 'FT_DATA_MISSING' = 'FT_DATA_FORMAT',
  ) {
    super(code, `${file}: ${reason}`, { file });
  }
}

const DEFAULT_FS = 250;
const DEFAULT_GAIN = 200;

function num(text: string, what: string, file: string, integer = false): number {
  const v = Number(text);
  if (text === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new WfdbError(file, `${what} "${text}" is not ${integer ? 'an integer' : 'a number'}`);
  }
  return v;
}

/** Parses the text of a `.hea` file; `file` is used in error messages. */
export function parseHeader(text: string, file: string): WfdbHeader {
  const comments: string[] = [];
  const lines: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    // Trailing comments on data lines are allowed by header(5).
    const hash = line.indexOf('#');
    lines.push(hash >= 0 ? line.slice(0, hash).trim() : line);
  }
  if (lines.length === 0) throw new WfdbError(file, 'header has no record line');
  const rec = lines[0]!.split(/\s+/);
  const nameField = rec[0]!;
  let recordName = nameField;
  let nSegments: number | undefined;
  const slash = nameField.indexOf('/');
  if (slash >= 0) {
    recordName = nameField.slice(0, slash);
    nSegments = num(nameField.slice(slash + 1), 'number of segments', file, true);
  }
  if (nSegments !== undefined && nSegments < 1) throw new WfdbError(file, `record line: number of segments ${nSegments} must be at least 1`);
  if (rec.length < 2) throw new WfdbError(file, 'record line lacks the number of signals');
  const nSignals = num(rec[1]!, 'number of signals', file, true);
  if (nSignals < 0) throw new WfdbError(file, `record line: number of signals ${nSignals} is negative`);
  let fs = DEFAULT_FS;
  let counterFrequency: number | undefined;
  let baseCounter: number | undefined;
  if (rec[2] !== undefined) {
    const m = /^([^/()]+)(?:\/([^()]+)(?:\(([^)]*)\))?)?$/.exec(rec[2]);
    if (!m) throw new WfdbError(file, `sampling frequency field "${rec[2]}" is malformed`);
    fs = num(m[1]!, 'sampling frequency', file);
    if (fs < 0) throw new WfdbError(file, `record line: sampling frequency ${m[1]} is negative`);
    if (fs === 0) fs = DEFAULT_FS;
    if (m[2] !== undefined) counterFrequency = num(m[2], 'counter frequency', file);
    if (counterFrequency !== undefined && counterFrequency < 0) throw new WfdbError(file, `record line: counter frequency ${m[2]} is negative`);
    if (m[3] !== undefined) baseCounter = num(m[3], 'base counter', file);
  }
  const nSamples = rec[3] !== undefined ? num(rec[3], 'number of samples', file, true) : undefined;
  if (nSamples !== undefined && nSamples < 0) throw new WfdbError(file, `record line: number of samples ${nSamples} is negative`);
  const baseTime = rec[4];
  const baseDate = rec[5];

  const signals: WfdbSignalSpec[] = [];
  let segments: WfdbSegmentSpec[] | undefined;
  if (nSegments !== undefined) {
    segments = [];
    for (let i = 0; i < nSegments; i++) {
      const line = lines[1 + i];
      if (line === undefined) throw new WfdbError(file, `header declares ${nSegments} segments but lists ${i}`);
      const parts = line.split(/\s+/);
      if (parts.length < 2) throw new WfdbError(file, `segment line ${i + 1} "${line}" needs a name and a length`);
      const name = parts[0]!;
      if (name !== '~' && !isPlainName(name)) throw new WfdbError(file, `segment line ${i + 1}: record name "${name}" must be a plain name in the record's folder (no "/", "\\" or "..")`);
      const length = num(parts[1]!, `length of segment ${name}`, file, true);
      if (length < 0) throw new WfdbError(file, `segment line ${i + 1}: length ${length} of segment ${name} is negative`);
      segments.push({ name, length });
    }
  } else {
    for (let i = 0; i < nSignals; i++) {
      const line = lines[1 + i];
      if (line === undefined) throw new WfdbError(file, `header declares ${nSignals} signals but lists ${i}`);
      signals.push(parseSignalLine(line, file, i));
    }
    // Signals sharing a file must share its format (they form one interleaved stream).
    for (let i = 1; i < signals.length; i++) {
      const a = signals[i - 1]!;
      const b = signals[i]!;
      if (a.fileName === b.fileName && a.fileName !== '~' && a.format !== b.format) {
        throw new WfdbError(file, `signals ${i - 1} and ${i} share ${a.fileName} but have formats ${a.format} and ${b.format}`);
      }
    }
  }
  return { recordName, nSegments, nSignals, fs, counterFrequency, baseCounter, nSamples, baseTime, baseDate, signals, segments, comments };
}

function parseSignalLine(line: string, file: string, index: number): WfdbSignalSpec {
  const parts = line.split(/\s+/);
  const where = `signal ${index}`;
  if (parts.length < 2) throw new WfdbError(file, `${where} line "${line}" needs a file name and a format`);
  const fileName = parts[0]!;
  // The data file lives in the record's folder: a path would let a header read any file on the machine.
  if (fileName !== '~' && !isPlainName(fileName)) throw new WfdbError(file, `${where}: data file name "${fileName}" must be a plain file name in the record's folder (no "/", "\\" or "..")`);
  const fm = /^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$/.exec(parts[1]!);
  if (!fm) throw new WfdbError(file, `${where}: format field "${parts[1]}" is malformed`);
  const format = Number(fm[1]);
  const samplesPerFrame = fm[2] !== undefined ? Number(fm[2]) : 1;
  const skew = fm[3] !== undefined ? Number(fm[3]) : 0;
  const byteOffset = fm[4] !== undefined ? Number(fm[4]) : 0;
  let gain = DEFAULT_GAIN;
  let baseline: number | undefined;
  let units = 'mV';
  if (parts[2] !== undefined) {
    const gm = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\(([-+]?\d+)\))?(?:\/(.*))?$/.exec(parts[2]);
    if (!gm) throw new WfdbError(file, `${where}: gain field "${parts[2]}" is malformed`);
    gain = Number(gm[1]);
    if (gain === 0) gain = DEFAULT_GAIN;
    if (gm[2] !== undefined) baseline = Number(gm[2]);
    if (gm[3] !== undefined && gm[3] !== '') units = gm[3];
  }
  const adcResolution = parts[3] !== undefined ? num(parts[3], `${where} ADC resolution`, file, true) : 0;
  const adcZero = parts[4] !== undefined ? num(parts[4], `${where} ADC zero`, file, true) : 0;
  const initValue = parts[5] !== undefined ? num(parts[5], `${where} initial value`, file, true) : undefined;
  const checksum = parts[6] !== undefined ? num(parts[6], `${where} checksum`, file, true) : undefined;
  const blockSize = parts[7] !== undefined ? num(parts[7], `${where} block size`, file, true) : 0;
  const description = parts.slice(8).join(' ');
  return {
    fileName,
    format,
    samplesPerFrame,
    skew,
    byteOffset,
    gain,
    baseline: baseline ?? adcZero,
    units,
    adcResolution,
    adcZero,
    initValue,
    checksum,
    blockSize,
    description,
  };
}

/** A file or record name with no directory part: not empty, no separators, not "." or "..". */
function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\u0000]/.test(name);
}

/**
 * Reads `<sex>: F` / `<age>: 60` tokens (MIMIC-II style) and the MIT-BIH `# 69 M …` first
 * comment from header comments. Values like `??`/`?` mean unknown and are omitted.
 */
export function demographicsFromComments(comments: readonly string[]): { sex?: 'male' | 'female'; age?: number } {
  const out: { sex?: 'male' | 'female'; age?: number } = {};
  for (const c of comments) {
    const sex = /<sex>:\s*([A-Za-z]+)/.exec(c);
    if (sex) {
      const s = sex[1]!.toUpperCase();
      if (s === 'F' || s === 'FEMALE') out.sex = 'female';
      else if (s === 'M' || s === 'MALE') out.sex = 'male';
    }
    const age = /<age>:\s*(\d+(?:\.\d+)?)/.exec(c);
    if (age) out.age = Number(age[1]);
  }
  if (out.sex === undefined && out.age === undefined) {
    for (const c of comments) {
      const mit = /^(\d{1,3})\s+([MF])\b/.exec(c);
      if (mit) {
        out.age = Number(mit[1]);
        out.sex = mit[2] === 'F' ? 'female' : 'male';
        break;
      }
    }
  }
  return out;
}
