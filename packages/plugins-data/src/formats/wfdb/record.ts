/**
 * Reading WFDB records: single-segment records (any mix of data files and formats listed in
 * formats.ts) and multi-segment records with or without a layout header. Physical values are
 * (digital − baseline) / gain; the format's invalid value becomes NaN. Checksums are verified
 * per signal (16-bit sum, compared modulo 65536).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { decodeSamples, INVALID_VALUE, SUPPORTED_FORMATS, bytesForSamples, samplesInBytes } from './formats.js';
import { parseHeader, WfdbError, type WfdbHeader, type WfdbSignalSpec } from './header.js';

export interface WfdbChannel {
  /** The signal description (e.g. `PLETH`, `MLII`), or `sig<i>` when the header has none. */
  readonly name: string;
  /** Sample rate of this channel: frame rate × samples per frame. */
  readonly fs: number;
  readonly units: string;
  readonly samplesPerFrame: number;
  /** Physical values, NaN where the sample is missing. */
  readonly physical: Float64Array;
  /** Digital values (single-segment records only). */
  readonly digital: Int32Array | undefined;
  /** Gain/baseline/format of the (first) segment the channel was read from. */
  readonly gain: number;
  readonly baseline: number;
  readonly format: number;
  readonly initValue: number | undefined;
  /** True when every checksum the header(s) carry for this channel matched (or none was given). */
  readonly checksumOk: boolean;
}

export interface WfdbRecord {
  readonly name: string;
  readonly headerPath: string;
  readonly fs: number;
  /** Frames (samples per channel at the frame rate). */
  readonly nFrames: number;
  /** 1 for a single-segment record. */
  readonly nSegments: number;
  readonly baseTime: string | undefined;
  readonly baseDate: string | undefined;
  readonly comments: readonly string[];
  readonly channels: readonly WfdbChannel[];
  /** Every file read (headers and data), absolute paths, for provenance. */
  readonly files: readonly string[];
}

/** Splits a `.hea` path or a record path/name into directory and record name. */
export function resolveRecordPath(pathOrName: string, cwd = process.cwd()): { dir: string; name: string; headerPath: string } {
  const abs = resolve(cwd, pathOrName);
  const base = basename(abs).replace(/\.hea$/, '');
  const dir = dirname(abs);
  return { dir, name: base, headerPath: join(dir, `${base}.hea`) };
}

export function readHeaderFile(headerPath: string): WfdbHeader {
  if (!existsSync(headerPath)) throw new WfdbError(headerPath, 'header file not found', 'FT_DATA_MISSING');
  return parseHeader(readFileSync(headerPath, 'latin1'), headerPath);
}

/** Reads a record by `.hea` path or record path (relative paths resolve against `cwd`). */
export function readRecord(pathOrName: string, cwd?: string): WfdbRecord {
  const { dir, headerPath } = resolveRecordPath(pathOrName, cwd);
  const header = readHeaderFile(headerPath);
  return header.nSegments !== undefined ? readMultiSegment(dir, headerPath, header) : readSingleSegment(dir, headerPath, header);
}

function channelName(spec: WfdbSignalSpec, index: number): string {
  return spec.description !== '' ? spec.description : `sig${index}`;
}

function checksumMatches(digital: Int32Array, expected: number | undefined): boolean {
  if (expected === undefined) return true;
  let sum = 0;
  for (let i = 0; i < digital.length; i++) sum = (sum + digital[i]!) & 0xffff;
  return sum === (expected & 0xffff);
}

function readSingleSegment(dir: string, headerPath: string, header: WfdbHeader): WfdbRecord {
  const specs = header.signals;
  const files = [headerPath];
  // Consecutive signals with the same file name form one interleaved stream.
  const groups: { fileName: string; first: number; count: number }[] = [];
  specs.forEach((s, i) => {
    const g = groups[groups.length - 1];
    if (g && g.fileName === s.fileName && s.fileName !== '~') g.count++;
    else groups.push({ fileName: s.fileName, first: i, count: 1 });
  });
  for (const [i, s] of specs.entries()) {
    if (s.fileName !== '~' && s.format !== 0 && !SUPPORTED_FORMATS.includes(s.format)) {
      const hint = s.format >= 500 && s.format < 600 ? ' (FLAC-compressed formats 508/516/524 need a FLAC decoder)' : '';
      throw new WfdbError(headerPath, `signal ${i} (${channelName(s, i)}) uses unsupported WFDB format ${s.format}${hint}`);
    }
  }
  let nFrames = header.nSamples;
  const digital: (Int32Array | undefined)[] = new Array(specs.length).fill(undefined);
  const dataCache = new Map<string, Uint8Array>();
  const loadData = (fileName: string): Uint8Array => {
    const p = join(dir, fileName);
    let buf = dataCache.get(p);
    if (!buf) {
      if (!existsSync(p) || !statSync(p).isFile()) throw new WfdbError(p, `data file is missing (named in ${headerPath})`, 'FT_DATA_MISSING');
      buf = readFileSync(p);
      dataCache.set(p, buf);
      files.push(p);
    }
    return buf;
  };
  for (const g of groups) {
    const group = specs.slice(g.first, g.first + g.count);
    const fmt = group[0]!.format;
    if (g.fileName === '~' || fmt === 0) continue;
    const path = join(dir, g.fileName);
    const bytes = loadData(g.fileName);
    const offset = group[0]!.byteOffset;
    const spfSum = group.reduce((a, s) => a + s.samplesPerFrame, 0);
    const available = Math.max(0, bytes.length - offset);
    if (nFrames === undefined) nFrames = Math.floor(samplesInBytes(fmt, available) / spfSum);
    const n = nFrames * spfSum;
    const need = bytesForSamples(fmt, n);
    if (available < need) {
      throw new WfdbError(
        path,
        `data file is short: ${nFrames} frames of ${g.count} signal(s) in format ${fmt} need ${need} bytes after offset ${offset}, found ${available}`,
      );
    }
    const stream = decodeSamples(fmt, bytes.subarray(offset, offset + need), n);
    let within = 0;
    for (let k = 0; k < group.length; k++) {
      const spec = group[k]!;
      const spf = spec.samplesPerFrame;
      const out = new Int32Array(nFrames * spf);
      for (let f = 0, o = 0; f < nFrames; f++) {
        const base = f * spfSum + within;
        for (let j = 0; j < spf; j++) out[o++] = stream[base + j]!;
      }
      if (fmt === 8) {
        // Format 8 stores first differences; x[-1] is the header's initial value.
        let acc = spec.initValue ?? 0;
        for (let i = 0; i < out.length; i++) {
          acc += out[i]!;
          out[i] = acc;
        }
      }
      digital[g.first + k] = out;
      within += spf;
    }
  }
  nFrames ??= 0;
  const channels: WfdbChannel[] = specs.map((spec, i) => {
    const d = digital[i];
    const len = nFrames! * spec.samplesPerFrame;
    const physical = new Float64Array(len);
    if (!d) physical.fill(NaN);
    else {
      const invalid = INVALID_VALUE[spec.format];
      for (let j = 0; j < len; j++) {
        const v = d[j]!;
        physical[j] = v === invalid ? NaN : (v - spec.baseline) / spec.gain;
      }
    }
    return {
      name: channelName(spec, i),
      fs: header.fs * spec.samplesPerFrame,
      units: spec.units,
      samplesPerFrame: spec.samplesPerFrame,
      physical,
      digital: d,
      gain: spec.gain,
      baseline: spec.baseline,
      format: spec.format,
      initValue: spec.initValue,
      checksumOk: d ? checksumMatches(d, spec.checksum) : true,
    };
  });
  return {
    name: header.recordName,
    headerPath,
    fs: header.fs,
    nFrames,
    nSegments: 1,
    baseTime: header.baseTime,
    baseDate: header.baseDate,
    comments: header.comments,
    channels,
    files,
  };
}

function readMultiSegment(dir: string, headerPath: string, header: WfdbHeader): WfdbRecord {
  const segments = header.segments ?? [];
  const files = [headerPath];
  let layoutSpecs: readonly WfdbSignalSpec[] | undefined;
  let start = 0;
  const first = segments[0];
  if (first && first.length === 0 && first.name !== '~') {
    // Variable-layout record: the first (zero-length) segment's header lists the channels.
    const layoutPath = join(dir, `${first.name}.hea`);
    layoutSpecs = readHeaderFile(layoutPath).signals;
    files.push(layoutPath);
    start = 1;
  }
  const dataSegments = segments.slice(start);
  const totalFrames = header.nSamples ?? dataSegments.reduce((a, s) => a + s.length, 0);
  const segRecords: (WfdbRecord | undefined)[] = dataSegments.map((s) => {
    if (s.name === '~') return undefined;
    const rec = readSingleSegment(dir, join(dir, `${s.name}.hea`), readHeaderFile(join(dir, `${s.name}.hea`)));
    if (rec.nFrames !== s.length) {
      throw new WfdbError(rec.headerPath, `segment has ${rec.nFrames} frames but the master header ${headerPath} says ${s.length}`);
    }
    files.push(...rec.files);
    return rec;
  });
  // Fixed layout: the channels are those of the first data segment, matched by position.
  const fixed = layoutSpecs === undefined;
  const template = layoutSpecs
    ? layoutSpecs.map((s, i) => ({ name: channelName(s, i), units: s.units, spf: s.samplesPerFrame, gain: s.gain, baseline: s.baseline, format: s.format }))
    : (segRecords.find((r) => r) ?? { channels: [] as WfdbChannel[] }).channels.map((c) => ({
        name: c.name,
        units: c.units,
        spf: c.samplesPerFrame,
        gain: c.gain,
        baseline: c.baseline,
        format: c.format,
      }));
  const physical = template.map((t) => new Float64Array(totalFrames * t.spf).fill(NaN));
  const ok = template.map(() => true);
  let pos = 0;
  dataSegments.forEach((seg, si) => {
    const rec = segRecords[si];
    if (rec) {
      rec.channels.forEach((c, ci) => {
        const idx = fixed ? ci : template.findIndex((t) => t.name === c.name);
        if (idx < 0 || idx >= template.length) {
          throw new WfdbError(rec.headerPath, `signal "${c.name}" is not in the record layout of ${headerPath}`);
        }
        const spf = template[idx]!.spf;
        if (c.samplesPerFrame !== spf) {
          throw new WfdbError(rec.headerPath, `signal "${c.name}" has ${c.samplesPerFrame} samples per frame, the layout says ${spf}`);
        }
        if (pos * spf + c.physical.length > physical[idx]!.length) {
          throw new WfdbError(rec.headerPath, `segments hold more samples than the ${totalFrames} frames of ${headerPath}`);
        }
        physical[idx]!.set(c.physical, pos * spf);
        ok[idx] = ok[idx]! && c.checksumOk;
      });
    }
    pos += seg.length;
  });
  const channels: WfdbChannel[] = template.map((t, i) => ({
    name: t.name,
    fs: header.fs * t.spf,
    units: t.units,
    samplesPerFrame: t.spf,
    physical: physical[i]!,
    digital: undefined,
    gain: t.gain,
    baseline: t.baseline,
    format: t.format,
    initValue: undefined,
    checksumOk: ok[i]!,
  }));
  return {
    name: header.recordName,
    headerPath,
    fs: header.fs,
    nFrames: totalFrames,
    nSegments: header.nSegments ?? dataSegments.length,
    baseTime: header.baseTime,
    baseDate: header.baseDate,
    comments: header.comments,
    channels,
    files,
  };
}
