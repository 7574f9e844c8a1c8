/**
 * The normal and truncated-normal functions TPE needs, in plain double precision, following
 * Optuna's `samplers/_tpe/_truncnorm.py` (itself after SciPy's truncnorm): the mass of an interval
 * is computed in log space in the tail where it is accurate (symmetry puts every case there), and
 * the quantile function inverts log Φ. `erf`/`erfc` are the FreeBSD/Sun `s_erf.c` approximations
 * (the same coefficients as Optuna's `_erf.py`; relative error below 1e-15).
 */

// Math functions and constants bound once: looking up globals on every call is slow in some
// hosts (jest's vm contexts), and these run in TPE's inner loops.
const { abs, exp, log, log1p, sqrt, max, min } = Math;
const INF = Number.POSITIVE_INFINITY;
const EPSILON = Number.EPSILON;
const NaN_ = Number.NaN;
const isNaN_ = Number.isNaN;
const isFinite_ = Number.isFinite;
const LOW_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1; // little-endian: word 0

const ERX = 8.45062911510467529297e-1;
const EFX = 1.28379167095512586316e-1;

// Polynomials of s_erf.c, written out (Horner) so that they compile to straight-line code.
function pOverQSmall(z: number): number {
  const r = 1.28379167095512558561e-1 + z * (-3.25042107247001499370e-1 + z * (-2.84817495755985104766e-2 + z * (-5.77027029648944159157e-3 + z * -2.37630166566501626084e-5)));
  const s = 1 + z * (3.97917223959155352819e-1 + z * (6.50222499887672944485e-2 + z * (5.08130628187576562776e-3 + z * (1.32494738004321644526e-4 + z * -3.96022827877536812320e-6))));
  return r / s;
}

function pOverQMid(s: number): number {
  const p = -2.36211856075265944077e-3 + s * (4.14856118683748331666e-1 + s * (-3.72207876035701323847e-1 + s * (3.18346619901161753674e-1 + s * (-1.10894694282396677476e-1 + s * (3.54783043256182359371e-2 + s * -2.16637559486879084300e-3)))));
  const q = 1 + s * (1.06420880400844228286e-1 + s * (5.40397917702171048937e-1 + s * (7.18286544141962662868e-2 + s * (1.26171219808761642112e-1 + s * (1.36370839120290507362e-2 + s * 1.19844998467991074170e-2)))));
  return p / q;
}

/** erfc(x)·… tail factor for x ≥ 1.25: exp(−x² − 0.5625 + R/S)/x. */
function erfcTail(ax: number): number {
  const s = 1 / (ax * ax);
  let r: number;
  let q: number;
  if (ax < 1 / 0.35) {
    r = -9.86494403484714822705e-3 + s * (-6.93858572707181764372e-1 + s * (-1.05586262253232909814e1 + s * (-6.23753324503260060396e1 + s * (-1.62396669462573470355e2 + s * (-1.84605092906711035994e2 + s * (-8.12874355063065934246e1 + s * -9.81432934416914548592))))));
    q = 1 + s * (1.96512716674392571292e1 + s * (1.37657754143519042600e2 + s * (4.34565877475229228821e2 + s * (6.45387271733267880336e2 + s * (4.29008140027567833386e2 + s * (1.08635005541779435134e2 + s * (6.57024977031928170135 + s * -6.04244152148580987438e-2)))))));
  } else {
    r = -9.86494292470009928597e-3 + s * (-7.99283237680523006574e-1 + s * (-1.77579549177547519889e1 + s * (-1.60636384855821916062e2 + s * (-6.37566443368389627722e2 + s * (-1.02509513161107724954e3 + s * -4.83519191608651397019e2)))));
    q = 1 + s * (3.03380607434824582924e1 + s * (3.25792512996573918826e2 + s * (1.53672958608443695994e3 + s * (3.19985821950859553908e3 + s * (2.55305040643316442583e3 + s * (4.74528541206955367215e2 + s * -2.24409524465858183362e1))))));
  }
  const z = truncLowWord(ax);
  return (exp(-z * z - 0.5625) * exp((z - ax) * (z + ax) + r / q)) / ax;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** x with the low 32 bits of its mantissa cleared (SET_LOW_WORD(x, 0) in s_erf.c). */
function truncLowWord(x: number): number {
  f64[0] = x;
  u32[LOW_WORD] = 0;
  return f64[0];
}

export function erf(x: number): number {
  if (isNaN_(x)) return NaN_;
  const ax = abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -28) return x + EFX * x;
    return x + x * pOverQSmall(x * x);
  }
  if (ax < 1.25) {
    const v = ERX + pOverQMid(ax - 1);
    return x >= 0 ? v : -v;
  }
  if (ax >= 6) return x >= 0 ? 1 : -1;
  const v = 1 - erfcTail(ax);
  return x >= 0 ? v : -v;
}

export function erfc(x: number): number {
  if (isNaN_(x)) return NaN_;
  const ax = abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -56) return 1 - x;
    const y = pOverQSmall(x * x);
    if (x < 0.25) return 1 - (x + x * y);
    return 0.5 - (x * y + (x - 0.5));
  }
  if (ax < 1.25) {
    const pq = pOverQMid(ax - 1);
    return x >= 0 ? 1 - ERX - pq : 1 + ERX + pq;
  }
  if (ax < 28) {
    if (x < 0 && ax >= 6) return 2;
    const r = erfcTail(ax);
    return x > 0 ? r : 2 - r;
  }
  return x > 0 ? 0 : 2;
}

const SQRT1_2 = Math.SQRT1_2;
const LOG_SQRT_2PI = 0.5 * log(2 * Math.PI);

/** Φ(a), the standard normal CDF. */
export function ndtr(a: number): number {
  const x = a * SQRT1_2;
  if (x < -SQRT1_2) return 0.5 * erfc(-x);
  if (x < SQRT1_2) return 0.5 + 0.5 * erf(x);
  return 1 - 0.5 * erfc(x);
}

/** log Φ(a), accurate in both tails (asymptotic series below −20, as Optuna and SciPy). */
export function logNdtr(a: number): number {
  if (a > 6) return -ndtr(-a); // log(1 − ε) ≈ −ε
  if (a > -20) return log(ndtr(a));
  const logLhs = -0.5 * a * a - log(-a) - LOG_SQRT_2PI;
  let lastTotal = 0;
  let rhs = 1;
  let numerator = 1;
  let denomFactor = 1;
  const denomCons = 1 / (a * a);
  let sign = 1;
  for (let i = 1; abs(lastTotal - rhs) > EPSILON && i < 100; i++) {
    lastTotal = rhs;
    sign = -sign;
    denomFactor *= denomCons;
    numerator *= 2 * i - 1;
    rhs += sign * numerator * denomFactor;
  }
  return logLhs + log(rhs);
}

/** log φ(x) of the standard normal. */
export function normLogPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

/** log(e^p − e^q) for p ≥ q. */
function logDiff(logP: number, logQ: number): number {
  return logP + log1p(-exp(logQ - logP));
}

/** log(e^p + e^q). */
export function logAddExp(p: number, q: number): number {
  if (p === -INF) return q;
  if (q === -INF) return p;
  const m = max(p, q);
  return m + log1p(exp(-abs(p - q)));
}

/** log(Φ(b) − Φ(a)), the log mass of the standard normal on [a, b] (a ≤ b). */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b));
  // Central case: 1 − Φ(a) − Φ(−b) without cancellation near 1.
  return log1p(-ndtr(a) - ndtr(-b));
}

/**
 * x with log Φ(x) = y: safeguarded Newton on log Φ from a normal-quantile start, bracketed in
 * [−100, 100] as Optuna's bisection is (Optuna bisects 100 times; the root is the same to ~1e-15).
 */
export function ndtriExp(y: number): number {
  if (isNaN_(y)) return NaN_;
  if (y >= 0) return 100;
  let lo = -100;
  let hi = 100;
  // Start: the tail asymptote x ≈ −√(−2y) for very small probabilities, Acklam's quantile otherwise.
  let x = y < -700 ? -sqrt(-2 * y - log(-2 * y)) : ndtriApprox(exp(y));
  if (!(x > lo && x < hi)) x = max(lo + 1e-9, min(hi - 1e-9, isFinite_(x) ? x : 0));
  for (let it = 0; it < 100; it++) {
    const f = logNdtr(x) - y;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    // d/dx log Φ(x) = φ(x)/Φ(x)
    const slope = exp(normLogPdf(x) - logNdtr(x));
    let next = x - f / slope;
    if (!(next > lo && next < hi) || !isFinite_(next)) next = 0.5 * (lo + hi);
    if (abs(next - x) <= 1e-15 * max(1, abs(x))) return next;
    x = next;
  }
  return x;
}

/** Acklam's rational approximation of Φ⁻¹(p) (relative error ~1e-9), refined by ndtriExp. */
function ndtriApprox(p: number): number {
  if (p <= 0) return -INF;
  if (p >= 1) return INF;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  if (p < pLow) {
    const q = sqrt(-2 * log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - pLow) {
    const q = sqrt(-2 * log1p(-p));
    return -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Quantile q ∈ [0, 1] of the standard normal truncated to [a, b] (Optuna's `_truncnorm.ppf`). */
export function truncnormPpf(q: number, a: number, b: number): number {
  if (a === b) return NaN_;
  if (q === 0) return a;
  if (q === 1) return b;
  if (a < 0) {
    const logPhiX = logAddExp(logNdtr(a), log(q) + logGaussMass(a, b));
    return ndtriExp(logPhiX);
  }
  const logPhiX = logAddExp(logNdtr(-b), log1p(-q) + logGaussMass(a, b));
  return -ndtriExp(logPhiX);
}

/**
 * log density at x of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale]. Includes the
 * −log(scale) term that Optuna before 3.5 left out (optuna/optuna#5109), so kernels of different
 * widths are weighed correctly.
 */
export function truncnormLogPdf(x: number, a: number, b: number, loc: number, scale: number): number {
  if (a === b) return NaN_;
  const z = (x - loc) / scale;
  if (z < a || z > b) return -INF;
  return normLogPdf(z) - logGaussMass(a, b) - log(scale);
}
