import { describe, expect, it } from '@jest/globals';
import { butterBandpass, sosResponse, sosfiltfilt, sosfilt, filtfiltWithGaps } from './butterworth.js';
import { rationalRatio, resamplePoly } from './resample.js';
import { alignLabel, clippingFraction, flatFraction, normaliseWindow, windowStarts } from './window.js';
import { detectRPeaks } from './rpeaks.js';

const w = (hz: number, fs: number) => (2 * Math.PI * hz) / fs;
const sine = (hz: number, fs: number, n: number, phase = 0) => Float64Array.from({ length: n }, (_, i) => Math.sin(2 * Math.PI * hz * (i / fs) + phase));
const rms = (x: ArrayLike<number>, a = 0, b = x.length) => {
  let s = 0;
  for (let i = a; i < b; i++) s += x[i]! ** 2;
  return Math.sqrt(s / (b - a));
};

describe('Butterworth band-pass', () => {
  it('is exactly -3 dB at both edges, 1 at the centre and rolls off at 20·N dB/decade', () => {
    for (const order of [1, 2, 4]) {
      const sos = butterBandpass(order, 0.5, 8, 64);
      expect(sos).toHaveLength(order);
      expect(sosResponse(sos, w(0.5, 64))).toBeCloseTo(Math.SQRT1_2, 9);
      expect(sosResponse(sos, w(8, 64))).toBeCloseTo(Math.SQRT1_2, 9);
      expect(sosResponse(sos, 2 * Math.atan(Math.sqrt(2 * 64 * Math.tan(Math.PI * 0.5 / 64) * 2 * 64 * Math.tan(Math.PI * 8 / 64)) / 128))).toBeCloseTo(1, 9);
      expect(sosResponse(sos, 0)).toBeCloseTo(0, 12);
      expect(sosResponse(sos, Math.PI)).toBeCloseTo(0, 12);
    }
    // 4th-order prototype: one decade above 8 Hz is out of band (Nyquist 32), check 2× instead.
    const sos = butterBandpass(4, 0.5, 4, 64);
    expect(20 * Math.log10(sosResponse(sos, w(16, 64)))).toBeLessThan(-40);
  });

  it('rejects invalid bands', () => {
    expect(() => butterBandpass(2, 5, 40, 64)).toThrow(/Nyquist/);
    expect(() => butterBandpass(0, 1, 2, 64)).toThrow(/order/);
  });

  it('zero-phase filtering keeps an in-band sine in phase and removes drift and out-of-band tone', () => {
    const fs = 64;
    const n = 64 * 30;
    const x = sine(1.5, fs, n);
    const noisy = Float64Array.from(x, (v, i) => v + 2 + 0.05 * i / fs + 0.8 * Math.sin(2 * Math.PI * 20 * i / fs));
    const y = sosfiltfilt(butterBandpass(3, 0.5, 8, fs), noisy);
    let err = 0;
    for (let i = 200; i < n - 200; i++) err = Math.max(err, Math.abs(y[i]! - x[i]!));
    expect(err).toBeLessThan(0.03);
    // A causal pass alone shifts the phase: the error is large.
    const causal = sosfilt(butterBandpass(3, 0.5, 8, fs), noisy);
    let errC = 0;
    for (let i = 200; i < n - 200; i++) errC = Math.max(errC, Math.abs(causal[i]! - x[i]!));
    expect(errC).toBeGreaterThan(0.3);
  });

  it('filters finite runs separately and keeps NaN gaps', () => {
    const x = sine(1, 32, 640);
    for (let i = 300; i < 340; i++) x[i] = NaN;
    const y = filtfiltWithGaps(butterBandpass(2, 0.5, 5, 32), x);
    expect(Number.isNaN(y[310]!)).toBe(true);
    expect(Number.isFinite(y[299]!) && Number.isFinite(y[340]!)).toBe(true);
  });
});

describe('polyphase resampling', () => {
  it('finds rational ratios', () => {
    expect(rationalRatio(64, 40)).toEqual([5, 8]);
    expect(rationalRatio(30, 125)).toEqual([25, 6]);
    expect(rationalRatio(125, 40)).toEqual([8, 25]);
  });

  it('preserves an in-band sine at the new sample times', () => {
    const y = resamplePoly(sine(1.3, 64, 64 * 20), 64, 40);
    expect(y.length).toBe(800);
    const want = sine(1.3, 40, 800);
    let err = 0;
    for (let i = 40; i < 760; i++) err = Math.max(err, Math.abs(y[i]! - want[i]!));
    expect(err).toBeLessThan(0.01);
    const up = resamplePoly(sine(2, 30, 300), 30, 125);
    expect(up.length).toBe(1250);
    let errUp = 0;
    const wantUp = sine(2, 125, 1250);
    for (let i = 100; i < 1150; i++) errUp = Math.max(errUp, Math.abs(up[i]! - wantUp[i]!));
    expect(errUp).toBeLessThan(0.01);
  });

  it('anti-aliases: a 28 Hz tone at 64 Hz is attenuated > 40 dB when going to 40 Hz', () => {
    const y = resamplePoly(sine(28, 64, 64 * 20), 64, 40);
    expect(20 * Math.log10(rms(y, 50, 750) / Math.SQRT1_2)).toBeLessThan(-40);
  });
});

describe('windowing helpers', () => {
  it('computes window starts, normalisations and DaLiA label alignment', () => {
    expect(windowStarts(1536, 512, 128)).toHaveLength(9);
    const a = Float32Array.of(1, 2, 3, 4);
    normaliseWindow(a, 'minmax');
    expect(Array.from(a)).toEqual([0, 1 / 3, 2 / 3, 1].map(Math.fround));
    const z = Float64Array.of(1, 2, 3, 4);
    normaliseWindow(z, 'zscore');
    expect(z.reduce((s, v) => s + v, 0)).toBeCloseTo(0, 12);
    expect(z.reduce((s, v) => s + v * v, 0) / 4).toBeCloseTo(1, 12);
    const c = Float64Array.of(5, 5, 5);
    normaliseWindow(c, 'zscore');
    expect(Array.from(c)).toEqual([0, 0, 0]);
    const labels = [60, 61, 62, 63, 64];
    const timing = { windowSeconds: 8, shiftSeconds: 2, offsetSeconds: 0 };
    expect([0, 2, 4, 8].map((t0) => alignLabel(labels, timing, t0, 8))).toEqual([60, 61, 62, 64]);
    // 20-s windows over 8-s labels: mean of the labels wholly inside [2, 22): k = 1..4.
    expect(alignLabel(labels, timing, 2, 20)).toBeCloseTo((61 + 62 + 63 + 64) / 4, 12);
    // A 10-s record label under an 8-s centred window.
    expect(alignLabel([77], { windowSeconds: 10, shiftSeconds: 10, offsetSeconds: 0 }, 1, 8)).toBe(77);
    expect(alignLabel(labels, timing, 40, 8)).toBeNaN();
  });

  it('aligns categorical labels (activity codes) by the mode, ties to the earliest-starting value', () => {
    // DaLiA activity: one code per 0.25 s; an 8-s window of 4 s sitting (1) then 4 s walking (7).
    const timing = { windowSeconds: 0.25, shiftSeconds: 0.25, offsetSeconds: 0 };
    const codes = [...new Array<number>(16).fill(1), ...new Array<number>(16).fill(7)];
    expect(alignLabel(codes, timing, 0, 8)).toBe(4); // numeric alignment averages (= "cycling")
    expect(alignLabel(codes, timing, 0, 8, { categorical: true })).toBe(1); // 16 vs 16: earliest wins
    const later = [...new Array<number>(16).fill(7), ...new Array<number>(16).fill(1)];
    expect(alignLabel(later, timing, 0, 8, { categorical: true })).toBe(7);
    // majority, with undefined codes (NaN) ignored; window [2, 10) covers codes 8..39
    const mixed = [...new Array<number>(12).fill(1), ...new Array<number>(20).fill(7), Number.NaN, Number.NaN, 1, 1, 1, 1, 1, 1];
    expect(alignLabel(mixed, timing, 2, 8, { categorical: true })).toBe(7);
    expect(alignLabel([Number.NaN, Number.NaN], timing, 0, 0.5, { categorical: true })).toBeNaN();
    // a label window as long as the signal window picks the nearest label, never a mean, either way
    expect(alignLabel([3, 5], { windowSeconds: 8, shiftSeconds: 8, offsetSeconds: 0 }, 8, 8, { categorical: true })).toBe(5);
  });

  it('measures clipping and flat lines', () => {
    expect(clippingFraction([0, 1, 1, 1, 0.5, 0])).toBeCloseTo(5 / 6, 12);
    expect(flatFraction([1, 2, 2, 2, 2, 3])).toBeCloseTo(4 / 6, 12);
    expect(flatFraction(sine(1, 10, 50))).toBeLessThan(0.1);
  });
});

describe('R-peak detection', () => {
  it('finds regular beats in a synthetic ECG at 72 bpm', () => {
    const fs = 250;
    const x = new Float64Array(fs * 10);
    for (let b = 0.3; b < 10; b += 60 / 72) for (let i = 0; i < x.length; i++) x[i]! += Math.exp(-(((i / fs - b) / 0.012) ** 2));
    const peaks = detectRPeaks(x, fs);
    expect(peaks.length).toBe(12);
    const rr = peaks.slice(1).map((p, i) => (p - peaks[i]!) / fs);
    expect(60 / (rr.reduce((a, b) => a + b, 0) / rr.length)).toBeCloseTo(72, 0);
  });
});
