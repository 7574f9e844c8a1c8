/**
 * Image decoding throughput: sharp (this package's decoder: decode + resize shorter side to
 * 256 + centre crop 224, RGB uint8) against Pillow doing the same (open, convert RGB, bilinear
 * resize, crop, numpy array), on HAM10000-sized 600×450 JPEGs written here. Prints images/s.
 *   npm run bench:decode -w packages/plugins-data [-- --images 200 --size 224]
 * Pillow is /usr/bin/python3 with PIL (Debian python3-pil); skipped, with a message, if absent.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@fairtune/core/plugin';
import { decodeImageInto, decoderName, defaultResize, pooled } from '../images/decode.js';
import { encodeJpeg } from '../synthetic/imaging-cohorts.js';
import { DERMOSCOPY_RGB, drawLesion, renderView } from '../synthetic/skin-images.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const PILLOW = `
import sys, time, glob
import numpy as np
from PIL import Image
size, resize = int(sys.argv[2]), int(sys.argv[3])
paths = sorted(glob.glob(sys.argv[1] + '/*.jpg'))
def load(p):
    im = Image.open(p).convert('RGB')
    w, h = im.size
    if w <= h: nw, nh = resize, int(resize * h / w)
    else: nw, nh = int(resize * w / h), resize
    im = im.resize((nw, nh), Image.BILINEAR)
    l, t = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    return np.asarray(im.crop((l, t, l + size, t + size)))
load(paths[0])
t0 = time.perf_counter()
for p in paths: a = load(p)
dt = time.perf_counter() - t0
print(f"{len(paths) / dt:.1f} {dt / len(paths) * 1000:.2f}")
`;

async function main(): Promise<void> {
  const n = arg('images', 200);
  const size = arg('size', 224);
  const resize = defaultResize(size);
  const dir = mkdtempSync(join(tmpdir(), 'fairtune-decode-bench-'));
  try {
    // 20 distinct 600×450 lesion images, copied to n files (decoding cost depends on content, not on the name).
    const distinct = 20;
    for (let k = 0; k < distinct; k++) {
      const rng = Rng.derive(1, `bench-${k}`);
      const rgb = renderView(rng, drawLesion(rng, k % 3 === 0 ? 'malignant' : 'benign', 1), { width: 600, height: 450, skin: DERMOSCOPY_RGB, noise: 4, texture: 6, vignette: true });
      writeFileSync(join(dir, `img_${String(k).padStart(5, '0')}.jpg`), await encodeJpeg(rgb, 600, 450));
    }
    for (let k = distinct; k < n; k++) copyFileSync(join(dir, `img_${String(k % distinct).padStart(5, '0')}.jpg`), join(dir, `img_${String(k).padStart(5, '0')}.jpg`));
    const paths = Array.from({ length: n }, (_, k) => join(dir, `img_${String(k).padStart(5, '0')}.jpg`));
    const g = { size, resize };
    const out = new Uint8Array(size * size * 3);
    await decodeImageInto(paths[0]!, g, out); // warm-up
    console.log(`${n} JPEGs of 600×450 → resize ${resize} → crop ${size}, RGB uint8; ${decoderName()}; Node ${process.version}`);
    for (const conc of [1, 4]) {
      const buffers = Array.from({ length: conc }, () => new Uint8Array(size * size * 3));
      const t0 = performance.now();
      await pooled(n, conc, (i) => decodeImageInto(paths[i]!, g, buffers[i % conc]!), () => undefined);
      const s = (performance.now() - t0) / 1000;
      console.log(`sharp, ${conc} in flight: ${(n / s).toFixed(1)} images/s (${((s / n) * 1000).toFixed(2)} ms/image)`);
    }
    const py = spawnSync('/usr/bin/python3', ['-c', PILLOW, dir, String(size), String(resize)], { encoding: 'utf8' });
    if (py.error || py.status !== 0) {
      console.log(`Pillow: SKIPPED (${py.error ? py.error.message : (py.stderr || '').trim().split('\n').pop()})`);
    } else {
      const ver = spawnSync('/usr/bin/python3', ['-c', 'import PIL, sys; print(PIL.__version__, sys.version.split()[0])'], { encoding: 'utf8' }).stdout.trim();
      const [rate, ms] = py.stdout.trim().split(' ');
      console.log(`Pillow ${ver.split(' ')[0]} (CPython ${ver.split(' ')[1]}), 1 process: ${rate} images/s (${ms} ms/image)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
