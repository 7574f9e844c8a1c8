/**
 * Image decoding for the imaging loaders, with sharp (libvips): decode, resize the shorter side
 * to `resize`, centre-crop to `size` × `size`, RGB uint8. The geometry follows torchvision's
 * `Resize(resize)` + `CenterCrop(size)` (the MEDFAIR/FairTune preprocessing): the longer side
 * becomes trunc(resize · long / short), the crop offset round-half-even((side − size) / 2).
 * Resampling is sharp's bilinear (`linear` kernel) like torchvision's default; values differ
 * from Pillow's by a few grey levels (different IDCT and filter), so the decoder and its version
 * travel with the samples (`ImageSpec.decoder`).
 */
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { FairtuneError } from '@fairtune/core/plugin';
import { prefixedError } from '../errors.js';

export interface DecodeGeometry {
  /** Output side (square crop). */
  readonly size: number;
  /** Shorter side after resizing, before the crop (≥ size). */
  readonly resize: number;
}

/** `sharp 0.35.5, libvips 8.18.7`: what ImageSpec.decoder records. */
export function decoderName(): string {
  return `sharp ${sharp.versions.sharp ?? '?'}, libvips ${sharp.versions.vips}`;
}

/** ImageNet's per-channel mean and std (0–1 scale), the default normalisation. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** torchvision's default: resize = round(size · 256 / 224) (256 for 224). */
export function defaultResize(size: number): number {
  return Math.round((size * 256) / 224);
}

/** Python's round() (half to even), as torchvision's CenterCrop uses it. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Resized width/height and crop offsets for a `width` × `height` source. */
export function cropPlan(width: number, height: number, g: DecodeGeometry): { w: number; h: number; left: number; top: number } {
  if (!(g.resize >= g.size)) throw new FairtuneError('FT_PARAM_INVALID', `resize (${g.resize}) must be at least size (${g.size})`, { param: 'resize' });
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.max(g.resize, Math.trunc((g.resize * long) / short));
  const w = width <= height ? g.resize : newLong;
  const h = width <= height ? newLong : g.resize;
  return { w, h, left: roundHalfEven((w - g.size) / 2), top: roundHalfEven((h - g.size) / 2) };
}

/**
 * Decodes one image file into `out` (size·size·3 bytes, RGB, row-major [H, W, 3]). Alpha is
 * dropped, greyscale and CMYK are converted to sRGB. Throws naming the file when it cannot be
 * decoded (not an image, truncated, unsupported).
 */
export async function decodeImageInto(path: string, g: DecodeGeometry, out: Uint8Array): Promise<void> {
  const n = g.size * g.size * 3;
  if (out.length !== n) throw new Error(`decode buffer holds ${out.length} bytes, ${g.size}×${g.size}×3 = ${n} needed`);
  let data: Buffer;
  let info: OutputInfo;
  try {
    // Read once: the header (for the crop plan) and the decode share the bytes.
    const bytes = await readFile(path);
    // failOn 'truncated': a cut-off JPEG is an error, not a grey lower half.
    const meta = await sharp(bytes, { failOn: 'truncated' }).metadata();
    if (!meta.width || !meta.height) throw new FairtuneError('FT_DATA_FORMAT', 'no image size in the header', { file: path });
    const plan = cropPlan(meta.width, meta.height, g);
    ({ data, info } = await sharp(bytes, { failOn: 'truncated' })
      .removeAlpha()
      .toColourspace('srgb')
      .resize({ width: plan.w, height: plan.h, fit: 'fill', kernel: 'linear' })
      .extract({ left: plan.left, top: plan.top, width: g.size, height: g.size })
      .raw()
      .toBuffer({ resolveWithObject: true }));
  } catch (err) {
    // A file that vanished since it was listed is missing; a geometry param keeps its own code.
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw prefixedError(err, `${path}: cannot decode image (${firstLine(err)})`, missing ? 'FT_DATA_MISSING' : 'FT_DATA_FORMAT', { file: path });
  }
  if (info.width !== g.size || info.height !== g.size || info.channels !== 3) {
    throw new Error(`${path}: decoded to ${info.width}×${info.height}×${info.channels}, expected ${g.size}×${g.size}×3`);
  }
  out.set(data);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/**
 * Runs `work(i)` for i in [0, count) with at most `concurrency` in flight; `onDone` after each.
 * Every failure is collected (not just the first), so a caller can list or drop them all.
 */
export async function pooled(count: number, concurrency: number, work: (i: number) => Promise<void>, onDone: (done: number) => Promise<void> | void): Promise<Map<number, Error>> {
  const failures = new Map<number, Error>();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        await work(i);
      } catch (err) {
        failures.set(i, err instanceof Error ? err : new Error(String(err)));
      }
      done++;
      await onDone(done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return failures;
}
