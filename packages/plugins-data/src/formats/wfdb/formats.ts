/**
 * Byte layouts of the WFDB sample formats (signal(5)). Decoding works on the interleaved
 * stream of one data file: `n` samples in frame order, returned as digital values.
 */

/** Digital value that marks a missing sample in each format (none for format 8). */
export const INVALID_VALUE: Readonly<Record<number, number | undefined>> = {
  8: undefined,
  16: -32768,
  61: -32768,
  80: -128,
  160: -32768,
  24: -(2 ** 23),
  32: -(2 ** 31),
  212: -2048,
  310: -512,
  311: -512,
};

export const SUPPORTED_FORMATS: readonly number[] = [8, 16, 24, 32, 61, 80, 160, 212, 310, 311];

/** Valid digital range per format, used by the writer to clip. */
export const DIGITAL_RANGE: Readonly<Record<number, readonly [number, number]>> = {
  8: [-128, 127],
  16: [-32768, 32767],
  61: [-32768, 32767],
  80: [-128, 127],
  160: [-32768, 32767],
  24: [-(2 ** 23), 2 ** 23 - 1],
  32: [-(2 ** 31), 2 ** 31 - 1],
  212: [-2048, 2047],
  310: [-512, 511],
  311: [-512, 511],
};

/** Minimum number of bytes that hold `n` samples (a trailing partial group is written short). */
export function bytesForSamples(format: number, n: number): number {
  switch (format) {
    case 8:
    case 80:
      return n;
    case 16:
    case 61:
    case 160:
      return 2 * n;
    case 24:
      return 3 * n;
    case 32:
      return 4 * n;
    case 212:
      return Math.floor(n / 2) * 3 + (n % 2 ? 2 : 0);
    case 310:
      return Math.floor(n / 3) * 4 + [0, 2, 4][n % 3]!;
    case 311:
      return Math.floor(n / 3) * 4 + [0, 2, 3][n % 3]!;
    default:
      throw new Error(`unsupported WFDB format ${format}`);
  }
}

/** Number of whole samples that fit in `bytes` bytes. */
export function samplesInBytes(format: number, bytes: number): number {
  switch (format) {
    case 8:
    case 80:
      return bytes;
    case 16:
    case 61:
    case 160:
      return Math.floor(bytes / 2);
    case 24:
      return Math.floor(bytes / 3);
    case 32:
      return Math.floor(bytes / 4);
    case 212:
      return Math.floor(bytes / 3) * 2 + (bytes % 3 >= 2 ? 1 : 0);
    case 310:
      return Math.floor(bytes / 4) * 3 + (bytes % 4 >= 2 ? 1 : 0);
    case 311:
      return Math.floor(bytes / 4) * 3 + [0, 0, 1, 2][bytes % 4]!;
    default:
      throw new Error(`unsupported WFDB format ${format}`);
  }
}

/**
 * Decodes `n` samples of `format` from `buf` (already positioned after any byte offset).
 * `buf` must hold at least `bytesForSamples(format, n)` bytes; a short final group is
 * zero-padded by the caller. Format 8 returns the raw first differences (see `undifference`).
 */
export function decodeSamples(format: number, buf: Uint8Array, n: number): Int32Array {
  const out = new Int32Array(n);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  switch (format) {
    case 8:
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      return out;
    case 80:
      for (let i = 0; i < n; i++) out[i] = buf[i]! - 128;
      return out;
    case 16:
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
      return out;
    case 61:
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, false);
      return out;
    case 160:
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, true) - 32768;
      return out;
    case 24:
      for (let i = 0; i < n; i++) {
        const v = buf[3 * i]! | (buf[3 * i + 1]! << 8) | (buf[3 * i + 2]! << 16);
        out[i] = (v << 8) >> 8; // sign-extend 24 bits
      }
      return out;
    case 32:
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    case 212: {
      for (let i = 0, b = 0; i < n; i += 2, b += 3) {
        const b0 = buf[b]!;
        const b1 = buf[b + 1] ?? 0;
        let s0 = b0 | ((b1 & 0x0f) << 8);
        if (s0 > 2047) s0 -= 4096;
        out[i] = s0;
        if (i + 1 < n) {
          let s1 = (buf[b + 2] ?? 0) | ((b1 & 0xf0) << 4);
          if (s1 > 2047) s1 -= 4096;
          out[i + 1] = s1;
        }
      }
      return out;
    }
    case 310: {
      for (let i = 0, b = 0; i < n; i += 3, b += 4) {
        const b0 = buf[b] ?? 0;
        const b1 = buf[b + 1] ?? 0;
        const b2 = buf[b + 2] ?? 0;
        const b3 = buf[b + 3] ?? 0;
        const v = [(b0 >> 1) | ((b1 & 7) << 7), (b2 >> 1) | ((b3 & 7) << 7), ((b1 >> 3) & 0x1f) | (((b3 >> 3) & 0x1f) << 5)];
        for (let k = 0; k < 3 && i + k < n; k++) out[i + k] = v[k]! > 511 ? v[k]! - 1024 : v[k]!;
      }
      return out;
    }
    case 311: {
      for (let i = 0, b = 0; i < n; i += 3, b += 4) {
        const w = ((buf[b] ?? 0) | ((buf[b + 1] ?? 0) << 8) | ((buf[b + 2] ?? 0) << 16) | ((buf[b + 3] ?? 0) << 24)) >>> 0;
        for (let k = 0; k < 3 && i + k < n; k++) {
          const v = (w >>> (10 * k)) & 0x3ff;
          out[i + k] = v > 511 ? v - 1024 : v;
        }
      }
      return out;
    }
    default:
      throw new Error(`unsupported WFDB format ${format}`);
  }
}

/** Encodes digital samples (already clipped to the format's range) into bytes. Writer side. */
export function encodeSamples(format: number, values: Int32Array): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(bytesForSamples(format, n));
  const dv = new DataView(out.buffer);
  switch (format) {
    case 80:
      for (let i = 0; i < n; i++) out[i] = (values[i]! + 128) & 0xff;
      return out;
    case 16:
      for (let i = 0; i < n; i++) dv.setInt16(2 * i, values[i]!, true);
      return out;
    case 61:
      for (let i = 0; i < n; i++) dv.setInt16(2 * i, values[i]!, false);
      return out;
    case 160:
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, values[i]! + 32768, true);
      return out;
    case 24:
      for (let i = 0; i < n; i++) {
        const v = values[i]! & 0xffffff;
        out[3 * i] = v & 0xff;
        out[3 * i + 1] = (v >> 8) & 0xff;
        out[3 * i + 2] = (v >> 16) & 0xff;
      }
      return out;
    case 32:
      for (let i = 0; i < n; i++) dv.setInt32(4 * i, values[i]!, true);
      return out;
    case 212:
      for (let i = 0, b = 0; i < n; i += 2, b += 3) {
        const s0 = values[i]! & 0xfff;
        const s1 = i + 1 < n ? values[i + 1]! & 0xfff : 0;
        out[b] = s0 & 0xff;
        out[b + 1] = ((s0 >> 8) & 0x0f) | ((s1 >> 4) & 0xf0);
        if (i + 1 < n) out[b + 2] = s1 & 0xff;
      }
      return out;
    default:
      throw new Error(`the WFDB writer supports formats 16, 24, 32, 61, 80, 160 and 212, not ${format}`);
  }
}
