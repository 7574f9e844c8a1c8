/**
 * uint8 images → the ViT's token matrix, one batch at a time (a whole 16k-image set at 224² would
 * need 9.6 GB as float32): normalisation (x/255 − mean)/std per channel, optional seeded
 * augmentation (horizontal flip, translation), and the patchify step of the patch-embedding
 * convolution (kernel = stride = p), done here in plain JS so the graph has no image transposes.
 *
 * Output rows: per image one class-token row [0, …, 0, 1] followed by its P patch rows
 * [patch values in (channel, row, column) order, 0], i.e. [B·(1+P), 3p² + 1]. The trailing
 * indicator column lets the model add the class token inside the patch-embedding matmul.
 */
import { Rng } from '@fairtune/core/plugin';
import { patchValues, vitTokens, type VitConfig } from './config.js';

export interface ImageNorm {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/** Per-image augmentation: mirror left–right, then shift by (dx, dy) pixels with edge replication. */
export interface Augmentation {
  readonly flip: boolean;
  readonly dx: number;
  readonly dy: number;
}

/**
 * Draws one augmentation per row from a stream seeded by (seed, epoch, step), so an epoch's
 * augmentations are reproducible whatever ran before. Flip with probability ½, shifts uniform in
 * [−maxShift, maxShift] pixels on each axis.
 */
export function drawAugmentations(seed: number, epoch: number, step: number, count: number, maxShift: number): Augmentation[] {
  const rng = Rng.derive(seed, `augment/${epoch}/${step}`);
  return Array.from({ length: count }, () => ({ flip: rng.next() < 0.5, dx: rng.int(2 * maxShift + 1) - maxShift, dy: rng.int(2 * maxShift + 1) - maxShift }));
}

/** Default translation for training: an eighth of the side (4 px at 32², 28 px at 224²), as a light random crop. */
export function defaultMaxShift(c: VitConfig): number {
  return Math.max(1, Math.floor(c.imageSize / 16));
}

/**
 * Builds the token matrix for `rows` of x (uint8 [N, S, S, 3], S = imageSize).
 * `aug[k]` (optional) augments row k.
 */
export function imageTokens(x: Uint8Array, rows: ArrayLike<number>, c: VitConfig, norm: ImageNorm, aug?: readonly Augmentation[]): Float32Array {
  const S = c.imageSize;
  const p = c.patchSize;
  const g = S / p;
  const K = patchValues(c);
  const T = vitTokens(c);
  const width = K + 1;
  const out = new Float32Array(rows.length * T * width);
  // Lookup tables: value → normalised float per channel (256 entries each).
  const lut = [0, 1, 2].map((ch) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - norm.mean[ch]!) / norm.std[ch]!));
  const clamp = (v: number) => (v < 0 ? 0 : v >= S ? S - 1 : v);
  const colMap = new Int32Array(S);
  const rowMap = new Int32Array(S);
  for (let r = 0; r < rows.length; r++) {
    const a = aug?.[r];
    // Output pixel (y, x) reads source (y − dy, x' − dx), x' mirrored first when flipping.
    for (let i = 0; i < S; i++) {
      const xs = a ? clamp(i - a.dx) : i;
      colMap[i] = a?.flip ? S - 1 - xs : xs;
      rowMap[i] = a ? clamp(i - a.dy) : i;
    }
    const img = rows[r]! * S * S * 3;
    const base = r * T * width;
    out[base + K] = 1; // class-token row
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++) {
        const o = base + (1 + gy * g + gx) * width;
        for (let ch = 0; ch < 3; ch++) {
          const l = lut[ch]!;
          for (let ky = 0; ky < p; ky++) {
            const src = img + rowMap[gy * p + ky]! * S * 3 + ch;
            const dst = o + (ch * p + ky) * p;
            for (let kx = 0; kx < p; kx++) out[dst + kx] = l[x[src + colMap[gx * p + kx]! * 3]!]!;
          }
        }
      }
    }
  }
  return out;
}
