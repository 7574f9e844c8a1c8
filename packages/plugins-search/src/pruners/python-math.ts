/**
 * Python's arithmetic where a pruner's decision depends on its last bit.
 *
 * - `crc32`: `binascii.crc32` (IEEE 802.3, as zlib), over UTF-8 bytes.
 * - `pyLog(x, base)`: `math.log(x, base)` = log(x) / log(base) in doubles, with each log correctly
 *   rounded as glibc's `log` gives it. V8's `Math.log` differs from glibc in the last bit often
 *   enough to matter: Hyperband's ⌊log₃(243)⌋ is 4 in CPython (log(243)/log(3) = 4.999…) and 5
 *   with `Math.log`. Correct rounding is computed with 160-bit fixed point.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(text: string): number {
  let c = 0xffffffff;
  for (const b of Buffer.from(text, 'utf8')) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const P = 160n;
const ONE = 1n << P;
const SCALE = 2 ** 160;

/** atanh(t) for a fixed-point |t| ≤ 1/3: t + t³/3 + t⁵/5 + … */
function atanhFixed(t: bigint): bigint {
  const t2 = (t * t) >> P;
  let sum = 0n;
  let term = t;
  for (let n = 1n; term > 1n || term < -1n; n += 2n) {
    sum += term / n;
    term = (term * t2) >> P;
  }
  return sum;
}

const LN2 = 2n * atanhFixed(ONE / 3n);
const view = new DataView(new ArrayBuffer(8));

/** The natural logarithm, correctly rounded (x > 0 finite; otherwise as Math.log). */
export function correctlyRoundedLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Math.log(x);
  if (x === 1) return 0;
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2: number;
  if (biased === 0) exp2 = -1074;
  else {
    mantissa |= 1n << 52n;
    exp2 = biased - 1075;
  }
  // x = mantissa·2^exp2 = m·2^k with m in [0.75, 1.5)
  const bits = mantissa.toString(2).length;
  let k = exp2 + bits - 1;
  const shift = exp2 - k + Number(P);
  let m = shift >= 0 ? mantissa << BigInt(shift) : mantissa >> BigInt(-shift);
  if (m >= (3n * ONE) / 2n) {
    k += 1;
    m >>= 1n;
  }
  const r = BigInt(k) * LN2 + 2n * atanhFixed(((m - ONE) << P) / (m + ONE));
  return Number(r) / SCALE;
}

/** CPython's `math.log(x, base)`. */
export function pyLog(x: number, base: number): number {
  return correctlyRoundedLog(x) / correctlyRoundedLog(base);
}
