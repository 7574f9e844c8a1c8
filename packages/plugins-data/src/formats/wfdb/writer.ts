/**
 * Writing WFDB records for synthetic cohorts and fixtures: one interleaved data file per
 * record, header with gain/baseline/ADC fields, INITVAL = first sample and CHECKSUM = signed
 * 16-bit sum (as WFDB's own tools write them). Physical NaN is written as the invalid value.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIGITAL_RANGE, INVALID_VALUE, encodeSamples } from './formats.js';

export interface WfdbWriteSignal {
  readonly name: string;
  readonly units?: string;
  readonly gain: number;
  readonly baseline?: number;
  readonly adcResolution?: number;
  /** Physical values (quantised as round(x·gain + baseline)); NaN → the format's invalid value. */
  readonly physical?: ArrayLike<number>;
  /** Digital values written as given (alternative to `physical`). */
  readonly digital?: ArrayLike<number>;
}

export interface WfdbWriteOptions {
  readonly fs: number;
  /** 16 (default), 212, 80, 61, 160, 24 or 32. */
  readonly format?: number;
  readonly baseTime?: string;
  readonly baseDate?: string;
  readonly comments?: readonly string[];
  /** Data file name (default `<name>.dat`). */
  readonly dataFile?: string;
}

function fmtNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(12)));
}

/** Quantises physical values to digital for one signal. */
export function toDigital(sig: WfdbWriteSignal, format: number): Int32Array {
  const [lo, hi] = DIGITAL_RANGE[format] ?? [-32768, 32767];
  const invalid = INVALID_VALUE[format];
  if (sig.digital) return Int32Array.from(sig.digital as ArrayLike<number>);
  const x = sig.physical;
  if (!x) throw new Error(`signal ${sig.name} needs physical or digital values`);
  const out = new Int32Array(x.length);
  const baseline = sig.baseline ?? 0;
  // The invalid value is reserved for NaN, so valid samples clip one above it.
  const min = invalid === lo ? lo + 1 : lo;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Number.isNaN(v)) {
      if (invalid === undefined) throw new Error(`format ${format} cannot represent NaN in signal ${sig.name}`);
      out[i] = invalid;
    } else out[i] = Math.min(hi, Math.max(min, Math.round(v * sig.gain + baseline)));
  }
  return out;
}

/** Writes `<dir>/<name>.hea` and the data file; returns the paths. */
export function writeRecord(dir: string, name: string, signals: readonly WfdbWriteSignal[], opts: WfdbWriteOptions): { header: string; data: string } {
  const format = opts.format ?? 16;
  if (signals.length === 0) throw new Error(`record ${name} needs at least one signal`);
  const digital = signals.map((s) => toDigital(s, format));
  const n = digital[0]!.length;
  digital.forEach((d, i) => {
    if (d.length !== n) throw new Error(`record ${name}: signal ${signals[i]!.name} has ${d.length} samples, signal 0 has ${n}`);
  });
  const stream = new Int32Array(n * signals.length);
  for (let f = 0; f < n; f++) for (let s = 0; s < signals.length; s++) stream[f * signals.length + s] = digital[s]![f]!;
  const dataFile = opts.dataFile ?? `${name}.dat`;
  mkdirSync(dir, { recursive: true });
  const dataPath = join(dir, dataFile);
  writeFileSync(dataPath, encodeSamples(format, stream));
  const defaultRes: Record<number, number> = { 80: 8, 212: 12, 16: 16, 61: 16, 160: 16, 24: 24, 32: 32 };
  const lines: string[] = [];
  let recLine = `${name} ${signals.length} ${fmtNumber(opts.fs)} ${n}`;
  if (opts.baseTime) recLine += ` ${opts.baseTime}${opts.baseDate ? ` ${opts.baseDate}` : ''}`;
  lines.push(recLine);
  signals.forEach((s, i) => {
    const d = digital[i]!;
    let sum = 0;
    for (let j = 0; j < d.length; j++) sum = (sum + d[j]!) & 0xffff;
    const checksum = sum >= 0x8000 ? sum - 0x10000 : sum;
    const init = d.length ? d[0]! : 0;
    const baseline = s.baseline ?? 0;
    lines.push(
      `${dataFile} ${format} ${fmtNumber(s.gain)}(${baseline})/${s.units ?? 'mV'} ${s.adcResolution ?? defaultRes[format] ?? 16} 0 ${init} ${checksum} 0 ${s.name}`,
    );
  });
  for (const c of opts.comments ?? []) lines.push(`# ${c}`);
  const headerPath = join(dir, `${name}.hea`);
  writeFileSync(headerPath, lines.join('\n') + '\n');
  return { header: headerPath, data: dataPath };
}

export interface LayoutSignal {
  readonly name: string;
  readonly gain: number;
  readonly baseline?: number;
  readonly units?: string;
  readonly adcResolution?: number;
}

/**
 * Writes a variable-layout multi-segment master header `<name>.hea` and its layout header
 * `<layoutName>.hea`. `segments` lists data segment names (already written with writeRecord)
 * or `~` gaps, with their lengths in frames.
 */
export function writeMultiSegmentHeader(
  dir: string,
  name: string,
  opts: { fs: number; layoutName: string; layout: readonly LayoutSignal[]; segments: readonly { name: string; length: number }[]; baseTime?: string; baseDate?: string; comments?: readonly string[] },
): string {
  mkdirSync(dir, { recursive: true });
  const total = opts.segments.reduce((a, s) => a + s.length, 0);
  const time = opts.baseTime ? ` ${opts.baseTime}${opts.baseDate ? ` ${opts.baseDate}` : ''}` : '';
  const layoutLines = [`${opts.layoutName} ${opts.layout.length} ${fmtNumber(opts.fs)} 0${opts.baseTime ? ` ${opts.baseTime}` : ''}`];
  for (const s of opts.layout) {
    layoutLines.push(`~ 0 ${fmtNumber(s.gain)}(${s.baseline ?? 0})/${s.units ?? 'mV'} ${s.adcResolution ?? 8} 0 ${s.baseline ?? 0} 0 0 ${s.name}`);
  }
  writeFileSync(join(dir, `${opts.layoutName}.hea`), layoutLines.join('\n') + '\n');
  const lines = [`${name}/${opts.segments.length + 1} ${opts.layout.length} ${fmtNumber(opts.fs)} ${total}${time}`, `${opts.layoutName} 0`];
  for (const s of opts.segments) lines.push(`${s.name} ${s.length}`);
  for (const c of opts.comments ?? []) lines.push(`# ${c}`);
  const p = join(dir, `${name}.hea`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}
