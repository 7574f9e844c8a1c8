/**
 * Rational polyphase resampling (up L, FIR low-pass, down M) with a Kaiser-windowed sinc, as
 * scipy.signal.resample_poly: cutoff at the lower Nyquist, 10·max(L, M) taps per side,
 * Kaiser β = 5, unit DC gain, delay compensated so output sample m is at time m / fsOut.
 * Matches SciPy to ~1e-15 (`npm run crosscheck:dsp -w packages/signal`).
 */

/** Smallest L/M with |fsIn·L/M − fsOut| tiny (continued fractions). */
export function rationalRatio(fsIn: number, fsOut: number, maxDen = 1000): [number, number] {
  const r = fsOut / fsIn;
  let [h0, h1, k0, k1] = [0, 1, 1, 0];
  let x = r;
  for (let i = 0; i < 64; i++) {
    const a = Math.floor(x);
    [h0, h1] = [h1, a * h1 + h0];
    [k0, k1] = [k1, a * k1 + k0];
    if (k1 > maxDen) {
      [h1, k1] = [h0, k0];
      break;
    }
    if (Math.abs(h1 / k1 - r) < 1e-12 * r) break;
    x = 1 / (x - a);
    if (!Number.isFinite(x)) break;
  }
  return [h1, k1];
}

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-16 * sum) break;
  }
  return sum;
}

export function kaiserSincFilter(up: number, down: number, beta = 5): Float64Array {
  const maxRate = Math.max(up, down);
  const fc = 1 / maxRate; // cutoff as a fraction of the upsampled Nyquist
  const half = 10 * maxRate;
  const n = 2 * half + 1;
  const h = new Float64Array(n);
  const i0b = besselI0(beta);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const t = i - half;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * fc * t) / (Math.PI * fc * t);
    const w = besselI0(beta * Math.sqrt(1 - (t / half) ** 2)) / i0b;
    h[i] = fc * sinc * w;
    sum += h[i]!;
  }
  // Unit gain at DC, as scipy's firwin (scale=True); the window alone leaves it off by ~1e-3.
  // Then ×up: upsampling by zero-stuffing divides the signal's mean by `up`.
  for (let i = 0; i < n; i++) h[i] = (h[i]! / sum) * up;
  return h;
}

/** Resamples `x` from fsIn to fsOut; output length ceil(n·L/M). NaN inputs spread locally. */
export function resamplePoly(x: ArrayLike<number>, fsIn: number, fsOut: number): Float64Array {
  if (!(fsIn > 0 && fsOut > 0)) throw new RangeError(`sample rates must be positive (got ${fsIn} → ${fsOut})`);
  const [up, down] = rationalRatio(fsIn, fsOut);
  if (up === down) return Float64Array.from(x);
  const h = kaiserSincFilter(up, down);
  const half = (h.length - 1) / 2;
  const n = x.length;
  const nOut = Math.ceil((n * up) / down);
  const y = new Float64Array(nOut);
  for (let m = 0; m < nOut; m++) {
    // Output m sits at upsampled index t = m·down; taps h[k] pair with xup[t + half − k].
    const t = m * down + half;
    let acc = 0;
    for (let k = t % up; k < h.length; k += up) {
      const j = (t - k) / up;
      if (j < 0) break;
      if (j < n) acc += h[k]! * x[j]!;
    }
    y[m] = acc;
  }
  return y;
}
