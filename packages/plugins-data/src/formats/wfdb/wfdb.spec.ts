import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WFDB_FIXTURES, tempDir } from '../../test-utils/paths.js';
import { readRecord, parseHeader, readAnnotations, encodeAnnotations, decodeAnnotations, writeRecord, writeMultiSegmentHeader, WfdbError, demographicsFromComments, BEAT_CODES, decodeSamples, encodeSamples } from './index.js';

describe('WFDB reader on real PhysioNet records', () => {
  it('reads MIT-BIH record 100 (format 212) with matching checksums and known first samples', () => {
    const rec = readRecord(join(WFDB_FIXTURES, '100.hea'));
    expect(rec.fs).toBe(360);
    expect(rec.nFrames).toBe(650000);
    expect(rec.channels.map((c) => c.name)).toEqual(['MLII', 'V5']);
    expect(rec.channels.map((c) => c.checksumOk)).toEqual([true, true]);
    // Header initial values 995 and 1011, ADC zero 1024, gain 200.
    expect(rec.channels[0]!.digital![0]).toBe(995);
    expect(rec.channels[1]!.digital![0]).toBe(1011);
    expect(rec.channels[0]!.physical[0]).toBeCloseTo(-0.145, 12);
    expect(rec.channels[1]!.physical[0]).toBeCloseTo(-0.065, 12);
    expect(demographicsFromComments(rec.comments)).toEqual({ age: 69, sex: 'male' });
  });

  it('reads the 2274 annotations of 100.atr', () => {
    const ann = readAnnotations(join(WFDB_FIXTURES, '100.atr'));
    expect(ann.samples.length).toBe(2274);
    // Samples increase monotonically and stay within the record.
    for (let i = 1; i < ann.samples.length; i++) expect(ann.samples[i]!).toBeGreaterThanOrEqual(ann.samples[i - 1]!);
    expect(ann.samples[ann.samples.length - 1]!).toBeLessThan(650000);
    expect(ann.aux[0]).toBe('(N');
    const beats = Array.from(ann.codes).filter((c) => BEAT_CODES.has(c)).length;
    expect(beats).toBeGreaterThan(2200);
  });

  it('decodes all ten formats of binformats with matching checksums and initial values', () => {
    const rec = readRecord(join(WFDB_FIXTURES, 'binformats'));
    const header = parseHeader(readFileSync(join(WFDB_FIXTURES, 'binformats.hea'), 'latin1'), 'binformats.hea');
    expect(rec.channels).toHaveLength(10);
    rec.channels.forEach((c, i) => {
      expect([c.name, c.checksumOk]).toEqual([header.signals[i]!.description, true]);
      expect(c.digital![0]).toBe(header.signals[i]!.initValue);
      expect(c.digital!.length).toBe(499);
    });
  });

  it('reads a MIMIC format-80 segment with baselines from ADC zero', () => {
    const rec = readRecord(join(WFDB_FIXTURES, '3000003_0003.hea'));
    expect(rec.fs).toBe(125);
    expect(rec.baseTime).toBe('19:46:25.757');
    expect(rec.channels.map((c) => [c.name, c.checksumOk, c.digital![0]])).toEqual([
      ['II', true, -5],
      ['V', true, 0],
    ]);
  });

  it('reads the multi-segment record s25047 with its layout, gaps as NaN and per-channel checksums', () => {
    const rec = readRecord(join(WFDB_FIXTURES, 's25047', 's25047-2704-05-04-10-44'));
    expect(rec.nSegments).toBe(20);
    expect(rec.nFrames).toBe(543240);
    expect(rec.channels.map((c) => c.name)).toEqual(['II', 'V', 'ABP']);
    expect(rec.channels.every((c) => c.checksumOk)).toBe(true);
    const abp = rec.channels[2]!.physical;
    // Leading '~ 25740' gap, and ABP absent from segment 0001 (2 signals only).
    expect(Number.isNaN(abp[0]!)).toBe(true);
    expect(Number.isNaN(rec.channels[0]!.physical[25739]!)).toBe(true);
    expect(Number.isFinite(rec.channels[0]!.physical[25740]!)).toBe(true);
    expect(Number.isNaN(abp[25740]!)).toBe(true);
    // Segment 0018 (last 93975 frames) has ABP: gain 1.25, baseline -100.
    expect(Number.isFinite(abp[543240 - 10]!)).toBe(true);
    const numerics = readRecord(join(WFDB_FIXTURES, 's25047', 's25047-2704-05-04-10-44n'));
    expect(numerics.fs).toBeCloseTo(1 / 60, 9);
    expect(numerics.channels[0]!.name).toBe('HR');
    expect(numerics.channels.every((c) => c.checksumOk)).toBe(true);
    expect(demographicsFromComments(numerics.comments)).toEqual({});
  });
});

describe('WFDB header parsing edge cases', () => {
  it('parses spf, skew, offset, missing baseline, gain 0, exponent gains and descriptions with spaces', () => {
    const h = parseHeader(
      ['# leading comment', 'rec 3 500/1000(5) 100 10:00:00 01/02/2000', 'a.dat 16x2:1+24 0/uV 12 5 7 123 0 ECG lead II', 'a.dat 16 1.5e2(-3)/mmHg', 'b.dat 212', '# <age>: 60 <sex>: F'].join('\n'),
      'rec.hea',
    );
    expect([h.fs, h.counterFrequency, h.baseCounter, h.nSamples, h.baseTime, h.baseDate]).toEqual([500, 1000, 5, 100, '10:00:00', '01/02/2000']);
    expect(h.signals[0]).toMatchObject({ samplesPerFrame: 2, skew: 1, byteOffset: 24, gain: 200, baseline: 5, units: 'uV', adcZero: 5, initValue: 7, checksum: 123, description: 'ECG lead II' });
    expect(h.signals[1]).toMatchObject({ gain: 150, baseline: -3, units: 'mmHg' });
    expect(h.signals[2]).toMatchObject({ gain: 200, baseline: 0, units: 'mV', format: 212 });
    expect(demographicsFromComments(h.comments)).toEqual({ age: 60, sex: 'female' });
  });

  it('rejects malformed headers with the file name', () => {
    expect(() => parseHeader('rec 2 100 10\na.dat 16\n', 'x.hea')).toThrow(/x\.hea: header declares 2 signals but lists 1/);
    expect(() => parseHeader('rec 1 100 10\na.dat 1z6\n', 'x.hea')).toThrow(/format field "1z6"/);
  });
});

describe('WFDB writer round trips', () => {
  it('writes formats 16, 212 (odd count) and 80 with NaN as invalid value, readable with checksums', () => {
    const dir = tempDir('wfdb');
    const n = 101;
    const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 7) * 2);
    const b = Float64Array.from({ length: n }, (_, i) => (i === 50 ? NaN : Math.cos(i / 5)));
    for (const format of [16, 212, 80]) {
      const gain = format === 80 ? 50 : 400;
      writeRecord(dir, `r${format}`, [{ name: 'A', gain, physical: a }, { name: 'B', gain, baseline: 3, units: 'NU', physical: b }], { fs: 125, format, comments: ['<sex>: M'] });
      const rec = readRecord(join(dir, `r${format}`));
      expect(rec.channels.map((c) => c.checksumOk)).toEqual([true, true]);
      expect(rec.nFrames).toBe(n);
      for (let i = 0; i < n; i++) {
        expect(Math.abs(rec.channels[0]!.physical[i]! - a[i]!)).toBeLessThanOrEqual(0.5 / gain + 1e-12);
        if (i === 50) expect(Number.isNaN(rec.channels[1]!.physical[i]!)).toBe(true);
        else expect(Math.abs(rec.channels[1]!.physical[i]! - b[i]!)).toBeLessThanOrEqual(0.5 / gain + 1e-12);
      }
      expect(rec.channels[1]!.units).toBe('NU');
    }
  });

  it('byte-level format 212 and 310/311 decoding matches the documented bit layout', () => {
    const values = Int32Array.from([-2048 + 1, 2047, -1, 5, 1000]);
    const bytes = encodeSamples(212, values);
    expect(bytes.length).toBe(8); // 2 full groups + a 2-byte odd tail
    expect(Array.from(decodeSamples(212, bytes, 5))).toEqual(Array.from(values));
    // 311: three 10-bit values in one LE word.
    const w = (5 & 0x3ff) | ((-3 & 0x3ff) << 10) | ((511 & 0x3ff) << 20);
    const buf = Uint8Array.from([w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, (w >>> 24) & 0xff]);
    expect(Array.from(decodeSamples(311, buf, 3))).toEqual([5, -3, 511]);
    // 310: s0 = (b0>>1)|(b1&7)<<7 ; s1 = (b2>>1)|(b3&7)<<7 ; s2 from the high bits.
    expect(Array.from(decodeSamples(310, Uint8Array.from([0x0a, 0x00, 0x06, 0x00]), 2))).toEqual([5, 3]);
  });

  it('reports a checksum written unsigned as matching, and a wrong one as not', () => {
    const dir = tempDir('wfdb-ck');
    writeRecord(dir, 'r', [{ name: 'A', gain: 1, digital: [-5, -6, -7] }], { fs: 10 });
    const hea = join(dir, 'r.hea');
    writeFileSync(hea, readFileSync(hea, 'latin1').replace(' -18 0 A', ` ${65536 - 18} 0 A`));
    expect(readRecord(hea).channels[0]!.checksumOk).toBe(true);
    writeFileSync(hea, readFileSync(hea, 'latin1').replace(` ${65536 - 18} 0 A`, ' 77 0 A'));
    expect(readRecord(hea).channels[0]!.checksumOk).toBe(false);
  });

  it('handles samples per frame, byte offsets and format 8 differences', () => {
    const dir = tempDir('wfdb-spf');
    // Two signals: A with 2 samples/frame, B with 1; 3 frames; 4-byte preamble.
    const stream = Int16Array.from([1, 2, 100, 3, 4, 101, 5, 6, 102]);
    const data = new Uint8Array(4 + stream.byteLength);
    data.set(new Uint8Array(stream.buffer), 4);
    writeFileSync(join(dir, 's.dat'), data);
    writeFileSync(join(dir, 's.hea'), 's 2 10 3\ns.dat 16x2+4 1(0)/mV 16 0 1 21 0 A\ns.dat 16+4 2 16 0 100 303 0 B\n');
    const rec = readRecord(join(dir, 's.hea'));
    expect(rec.channels[0]!.fs).toBe(20);
    expect(Array.from(rec.channels[0]!.digital!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(rec.channels[1]!.physical)).toEqual([50, 50.5, 51]);
    expect(rec.channels.map((c) => c.checksumOk)).toEqual([true, true]);
    writeFileSync(join(dir, 'd.dat'), Int8Array.from([1, 2, -3]));
    writeFileSync(join(dir, 'd.hea'), 'd 1 10 3\nd.dat 8 1 8 0 10 36 0 X\n');
    expect(Array.from(readRecord(join(dir, 'd')).channels[0]!.digital!)).toEqual([11, 13, 10]);
  });

  it('errors clearly on a short or missing data file and on unknown formats', () => {
    const dir = tempDir('wfdb-bad');
    writeFileSync(join(dir, 'short.hea'), 'short 1 10 100\nshort.dat 16 200 16 0 0 0 0 X\n');
    writeFileSync(join(dir, 'short.dat'), new Uint8Array(50));
    expect(() => readRecord(join(dir, 'short'))).toThrow(/short\.dat: data file is short: 100 frames .* need 200 bytes .* found 50/);
    writeFileSync(join(dir, 'miss.hea'), 'miss 1 10 100\nmiss.dat 16\n');
    expect(() => readRecord(join(dir, 'miss'))).toThrow(WfdbError);
    expect(() => readRecord(join(dir, 'miss'))).toThrow(/miss\.dat: data file is missing/);
    expect(() => readRecord(join(dir, 'miss'))).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { file: join(dir, 'miss.dat') } }));
    expect(() => readRecord(join(dir, 'none'))).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { file: join(dir, 'none.hea') } }));
    expect(() => readRecord(join(dir, 'short'))).toThrow(expect.objectContaining({ code: 'FT_DATA_FORMAT' }));
    writeFileSync(join(dir, 'flac.hea'), 'flac 1 10 100\nflac.dat 516\n');
    expect(() => readRecord(join(dir, 'flac'))).toThrow(/flac\.hea: signal 0 \(sig0\) uses unsupported WFDB format 516/);
  });

  it('writes and reads a variable-layout multi-segment record with a gap and a missing channel', () => {
    const dir = tempDir('wfdb-ms');
    const seg1 = Float64Array.from({ length: 40 }, (_, i) => i / 100);
    writeRecord(dir, 'x_0001', [{ name: 'II', gain: 100, physical: seg1 }, { name: 'PLETH', gain: 255, baseline: -128, units: 'NU', physical: seg1 }], { fs: 125, format: 80 });
    writeRecord(dir, 'x_0002', [{ name: 'PLETH', gain: 255, baseline: -128, units: 'NU', physical: seg1.subarray(0, 30) }], { fs: 125, format: 80 });
    writeMultiSegmentHeader(dir, 'p1', {
      fs: 125,
      layoutName: 'x_layout',
      layout: [{ name: 'PLETH', gain: 255, baseline: -128, units: 'NU' }, { name: 'II', gain: 100 }],
      segments: [{ name: 'x_0001', length: 40 }, { name: '~', length: 10 }, { name: 'x_0002', length: 30 }],
    });
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const rec = readRecord(join(dir, 'p1.hea'));
    expect(rec.nFrames).toBe(80);
    expect(rec.channels.map((c) => c.name)).toEqual(['PLETH', 'II']);
    const [pleth, ii] = rec.channels;
    expect(pleth!.physical[39]).toBeCloseTo(0.39, 2);
    expect(Number.isNaN(pleth!.physical[45]!)).toBe(true);
    expect(pleth!.physical[50 + 29]).toBeCloseTo(0.29, 2);
    expect(Number.isNaN(ii!.physical[60]!)).toBe(true);
    expect(rec.channels.every((c) => c.checksumOk)).toBe(true);
  });

  it('round-trips annotations including SKIP for long intervals', () => {
    const samples = [5, 100, 2000, 70000, 70001];
    const ann = decodeAnnotations(encodeAnnotations(samples, [1, 1, 5, 1, 28]));
    expect(Array.from(ann.samples)).toEqual(samples);
    expect(Array.from(ann.codes)).toEqual([1, 1, 5, 1, 28]);
  });
});
