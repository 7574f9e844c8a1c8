/**
 * Digital Butterworth band-pass design (analog prototype → low-pass-to-band-pass transform →
 * bilinear transform with pre-warped band edges, as scipy.signal.butter(N, [lo, hi], 'band')
 * does), realised as second-order sections, and zero-phase forward-backward filtering with
 * odd-extension padding and steady-state initial conditions (as scipy's sosfiltfilt).
 */

type C = readonly [number, number];
const cadd = (a: C, b: C): C => [a[0] + b[0], a[1] + b[1]];
const csub = (a: C, b: C): C => [a[0] - b[0], a[1] - b[1]];
const cmul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cdiv = (a: C, b: C): C => {
  const d = b[0] * b[0] + b[1] * b[1];
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
};
const cscale = (a: C, k: number): C => [a[0] * k, a[1] * k];
function csqrt(a: C): C {
  const r = Math.hypot(a[0], a[1]);
  const re = Math.sqrt((r + a[0]) / 2);
  const im = Math.sign(a[1] || 1) * Math.sqrt(Math.max(0, (r - a[0]) / 2));
  return [re, im];
}

/** One biquad: b0 + b1 z⁻¹ + b2 z⁻² over 1 + a1 z⁻¹ + a2 z⁻². */
export interface Sos {
  readonly b: readonly [number, number, number];
  readonly a: readonly [number, number, number];
}

/** Butterworth band-pass of prototype order `order` (filter order 2·order), edges in Hz. */
export function butterBandpass(order: number, lowHz: number, highHz: number, fs: number): Sos[] {
  if (!Number.isInteger(order) || order < 1 || order > 12) throw new RangeError(`Butterworth order must be an integer in 1..12, got ${order}`);
  if (!(lowHz > 0 && highHz > lowHz && highHz < fs / 2)) throw new RangeError(`band [${lowHz}, ${highHz}] Hz must satisfy 0 < low < high < Nyquist (${fs / 2} Hz)`);
  // Pre-warp so the digital filter is exactly -3 dB at the requested edges.
  const wl = 2 * fs * Math.tan((Math.PI * lowHz) / fs);
  const wh = 2 * fs * Math.tan((Math.PI * highHz) / fs);
  const bw = wh - wl;
  const w0sq = wl * wh;
  const poles: C[] = [];
  for (let k = 0; k < order; k++) {
    const theta = (Math.PI * (2 * k + order + 1)) / (2 * order);
    const p: C = [Math.cos(theta), Math.sin(theta)];
    // s² − p·bw·s + w0² = 0
    const pb = cscale(p, bw);
    const disc = csqrt(csub(cmul(pb, pb), [4 * w0sq, 0]));
    poles.push(cscale(cadd(pb, disc), 0.5), cscale(csub(pb, disc), 0.5));
  }
  // Bilinear transform z = (2fs + s) / (2fs − s).
  const zp = poles.map((s) => cdiv(cadd([2 * fs, 0], s), csub([2 * fs, 0], s)));
  const upper = zp.filter((z) => z[1] > 1e-12);
  const real = zp.filter((z) => Math.abs(z[1]) <= 1e-12).map((z) => z[0]).sort((a, b) => a - b);
  const sos: { b: [number, number, number]; a: [number, number, number] }[] = upper.map((z) => ({ b: [1, 0, -1], a: [1, -2 * z[0], z[0] * z[0] + z[1] * z[1]] }));
  for (let i = 0; i + 1 < real.length; i += 2) sos.push({ b: [1, 0, -1], a: [1, -(real[i]! + real[i + 1]!), real[i]! * real[i + 1]!] });
  if (sos.length !== order) throw new Error(`internal: Butterworth design produced ${sos.length} sections for order ${order}`);
  // Unit gain at the digital centre frequency.
  const wc = 2 * Math.atan(Math.sqrt(w0sq) / (2 * fs));
  const g = Math.abs(sosResponse(sos, wc));
  sos[0]!.b = [sos[0]!.b[0] / g, sos[0]!.b[1] / g, sos[0]!.b[2] / g];
  return sos;
}

/** Complex magnitude of the cascade at normalised angular frequency ω (rad/sample). */
export function sosResponse(sos: readonly Sos[], omega: number): number {
  const z1: C = [Math.cos(-omega), Math.sin(-omega)];
  const z2: C = [Math.cos(-2 * omega), Math.sin(-2 * omega)];
  let h: C = [1, 0];
  for (const s of sos) {
    const num = cadd(cadd([s.b[0], 0], cscale(z1, s.b[1])), cscale(z2, s.b[2]));
    const den = cadd(cadd([s.a[0], 0], cscale(z1, s.a[1])), cscale(z2, s.a[2]));
    h = cmul(h, cdiv(num, den));
  }
  return Math.hypot(h[0], h[1]);
}

/** Causal filtering (transposed direct form II per section) with optional initial states. */
export function sosfilt(sos: readonly Sos[], x: Float64Array, zi?: Float64Array[]): Float64Array {
  const y = Float64Array.from(x);
  sos.forEach((s, k) => {
    let z1 = zi ? zi[k]![0]! : 0;
    let z2 = zi ? zi[k]![1]! : 0;
    const [b0, b1, b2] = s.b;
    const [, a1, a2] = s.a;
    for (let i = 0; i < y.length; i++) {
      const xi = y[i]!;
      const yi = b0 * xi + z1;
      z1 = b1 * xi - a1 * yi + z2;
      z2 = b2 * xi - a2 * yi;
      y[i] = yi;
    }
  });
  return y;
}

/** Steady-state section states for a constant input `level` (scipy's sosfilt_zi × level). */
function sosZi(sos: readonly Sos[], level: number): Float64Array[] {
  let u = level;
  return sos.map((s) => {
    const [b0, b1, b2] = s.b;
    const [, a1, a2] = s.a;
    const g = (b0 + b1 + b2) / (1 + a1 + a2);
    const y = g * u;
    const z2 = b2 * u - a2 * y;
    const z1 = b1 * u - a1 * y + z2;
    u = y;
    return Float64Array.of(z1, z2);
  });
}

/** Zero-phase filtering: forward, then backward, over an odd extension of 3·(2·sections+1) samples. */
export function sosfiltfilt(sos: readonly Sos[], x: Float64Array): Float64Array {
  const n = x.length;
  if (n === 0) return new Float64Array(0);
  const pad = Math.min(n - 1, 3 * (2 * sos.length + 1));
  const ext = new Float64Array(n + 2 * pad);
  for (let i = 0; i < pad; i++) {
    ext[i] = 2 * x[0]! - x[pad - i]!;
    ext[n + pad + i] = 2 * x[n - 1]! - x[n - 2 - i]!;
  }
  ext.set(x, pad);
  const fwd = sosfilt(sos, ext, sosZi(sos, ext[0]!));
  fwd.reverse();
  const back = sosfilt(sos, fwd, sosZi(sos, fwd[0]!));
  back.reverse();
  return back.slice(pad, pad + n);
}

/**
 * Filters a signal that may contain NaN gaps: each finite run is filtered on its own and NaN
 * stays NaN (MIMIC gaps would otherwise poison the whole record).
 */
export function filtfiltWithGaps(sos: readonly Sos[], x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length).fill(NaN);
  let i = 0;
  while (i < x.length) {
    if (!Number.isFinite(x[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < x.length && Number.isFinite(x[j]!)) j++;
    const run = Float64Array.from({ length: j - i }, (_, k) => x[i + k]!);
    if (run.length > 1) out.set(sosfiltfilt(sos, run), i);
    else out[i] = 0;
    i = j;
  }
  return out;
}
