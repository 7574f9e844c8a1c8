import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { cropPlan, decodeImageInto, decoderName, defaultResize, pooled } from './decode.js';
import { tempDir } from '../test-utils/paths.js';

const RED = [220, 20, 20];
const GREEN = [20, 200, 30];
const BLUE = [30, 40, 210];
const WHITE = [250, 250, 250];

/** W×H RGB with four colour quadrants: top-left red, top-right green, bottom-left blue, bottom-right white. */
function quadrants(W: number, H: number): Buffer {
  const b = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const c = y < H / 2 ? (x < W / 2 ? RED : GREEN) : x < W / 2 ? BLUE : WHITE;
      b.set(c, (y * W + x) * 3);
    }
  return b;
}

const px = (img: Uint8Array, size: number, y: number, x: number) => Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));
const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

describe('cropPlan (torchvision Resize(shorter side) + CenterCrop)', () => {
  it('matches torchvision on the common shapes', () => {
    expect(defaultResize(224)).toBe(256);
    expect(defaultResize(112)).toBe(128);
    // HAM10000's 600×450: long side trunc(256·600/450) = 341; left round-half-even(58.5) = 58.
    expect(cropPlan(600, 450, { size: 224, resize: 256 })).toEqual({ w: 341, h: 256, left: 58, top: 16 });
    // Portrait: the height is the long side.
    expect(cropPlan(450, 600, { size: 224, resize: 256 })).toEqual({ w: 256, h: 341, left: 16, top: 58 });
    // Python round(): 1.5 → 2, 2.5 → 2.
    expect(cropPlan(31, 10, { size: 8, resize: 10 })).toEqual({ w: 31, h: 10, left: 12, top: 1 });
    expect(cropPlan(13, 10, { size: 8, resize: 10 }).left).toBe(2);
    expect(() => cropPlan(10, 10, { size: 12, resize: 10 })).toThrow(/resize \(10\) must be at least size \(12\)/);
    expect(() => cropPlan(10, 10, { size: 12, resize: 10 })).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'resize' } }));
  });
});

describe('decodeImageInto', () => {
  const dir = tempDir('decode');

  it('resizes the shorter side, centre-crops and keeps RGB order and H/W orientation (quadrant image)', async () => {
    // 40 wide × 20 high, lossless PNG: resize 10 → 20×10, crop 8 at left 6, top 1.
    const path = join(dir, 'quad.png');
    await sharp(quadrants(40, 20), { raw: { width: 40, height: 20, channels: 3 } }).png().toFile(path);
    const out = new Uint8Array(8 * 8 * 3);
    await decodeImageInto(path, { size: 8, resize: 10 }, out);
    // Crop columns 0..3 come from the left half (resized x 6..9), 4..7 from the right; rows 0..3 top.
    expect(near(px(out, 8, 1, 1), RED, 4)).toBe(true);
    expect(near(px(out, 8, 1, 6), GREEN, 4)).toBe(true);
    expect(near(px(out, 8, 6, 1), BLUE, 4)).toBe(true);
    expect(near(px(out, 8, 6, 6), WHITE, 4)).toBe(true);
    // A tall image: the crop is taken from the middle rows.
    const tall = join(dir, 'tall.png');
    await sharp(quadrants(20, 60), { raw: { width: 20, height: 60, channels: 3 } }).png().toFile(tall);
    await decodeImageInto(tall, { size: 8, resize: 10 }, out);
    // Resized 10×30, crop top 11: rows 0..3 are above the middle (y 11..14 < 15), rows 4..7 below.
    expect(near(px(out, 8, 0, 0), RED, 4)).toBe(true);
    expect(near(px(out, 8, 7, 7), WHITE, 4)).toBe(true);
  });

  it('turns greyscale into three equal channels and drops alpha; records the decoder version', async () => {
    const grey = join(dir, 'grey.png');
    await sharp(Buffer.from(Array.from({ length: 16 * 12 }, (_, i) => (i % 16) * 10)), { raw: { width: 16, height: 12, channels: 1 } }).toColourspace('b-w').png().toFile(grey);
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const out = new Uint8Array(8 * 8 * 3);
    await decodeImageInto(grey, { size: 8, resize: 8 }, out);
    for (let i = 0; i < 64; i++) expect([out[i * 3 + 1], out[i * 3 + 2]]).toEqual([out[i * 3], out[i * 3]]);
    expect(out[3 * 7]!).toBeGreaterThan(out[0]! + 50);
    const rgba = join(dir, 'rgba.png');
    await sharp({ create: { width: 9, height: 9, channels: 4, background: { r: 10, g: 100, b: 200, alpha: 0.3 } } }).png().toFile(rgba);
    await decodeImageInto(rgba, { size: 8, resize: 8 }, out);
    expect(near(px(out, 8, 4, 4), [10, 100, 200], 3)).toBe(true);
    expect(decoderName()).toMatch(/^sharp \d+\.\d+\.\d+, libvips \d+\.\d+/);
  });

  it('names the file of a truncated JPEG and of a file that is not an image', async () => {
    const jpg = await sharp(quadrants(64, 48), { raw: { width: 64, height: 48, channels: 3 } }).jpeg().toBuffer();
    const cut = join(dir, 'cut.jpg');
    writeFileSync(cut, jpg.subarray(0, Math.floor(jpg.length / 2)));
    const out = new Uint8Array(8 * 8 * 3);
    await expect(decodeImageInto(cut, { size: 8, resize: 10 }, out)).rejects.toThrow(/cut\.jpg: cannot decode image/);
    const text = join(dir, 'text.jpg');
    writeFileSync(text, 'not an image');
    await expect(decodeImageInto(text, { size: 8, resize: 10 }, out)).rejects.toThrow(/text\.jpg: cannot decode image \(.*unsupported image format/);
    await expect(decodeImageInto(text, { size: 8, resize: 10 }, out)).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file: text } });
    await expect(decodeImageInto(join(dir, 'gone.jpg'), { size: 8, resize: 10 }, out)).rejects.toMatchObject({ code: 'FT_DATA_MISSING' });
  });
});

describe('pooled', () => {
  it('keeps at most `concurrency` in flight and collects every failure', async () => {
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    const failures = await pooled(
      10,
      3,
      async (i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        if (i % 4 === 1) throw new Error(`bad ${i}`);
      },
      (n) => void done.push(n),
    );
    expect(peak).toBe(3);
    expect([...failures.keys()].sort()).toEqual([1, 5, 9]);
    expect(done).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
