/**
 * Cross-check of the DSP against SciPy (not part of `jest`).
 *
 *   npm run crosscheck:dsp -w packages/signal
 *
 * Seeded random cases at the rates the pipelines meet (DaLiA 64 Hz, BUT-PPG 30 Hz, MIMIC
 * 125 Hz, ACC 32/100 Hz): the Butterworth band-pass (magnitude response against
 * `scipy.signal.butter(..., output='sos')` + `sosfreqz`, and zero-phase filtering against
 * `sosfiltfilt` of SciPy's own design) and polyphase resampling (against `resample_poly`).
 * Inputs and outputs go to a temporary JSON file that scripts/crosscheck_dsp.py (Debian
 * python3-scipy) recomputes; it prints the largest differences and exits non-zero beyond tolerance.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@fairtune/core/plugin';
import { butterBandpass, rationalRatio, resamplePoly, sosfiltfilt, sosResponse } from '../src/index.js';

const rng = new Rng(20261122);
const signal = (n: number, fs: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 1.3 * i) / fs) + 0.4 * Math.sin((2 * Math.PI * 0.05 * i) / fs) + 0.3 * rng.normal() + 2);

const bandpass: unknown[] = [];
for (const [fs, low, high, order] of [
  [64, 0.5, 8, 2],
  [64, 0.5, 8, 4],
  [30, 0.5, 8, 2],
  [125, 0.5, 8, 4],
  [32, 0.3, 5, 3],
  [100, 1, 20, 1],
] as const) {
  const sos = butterBandpass(order, low, high, fs);
  const freqs = Array.from({ length: 200 }, (_, k) => ((k + 0.5) / 200) * (fs / 2));
  const x = signal(Math.round(fs * (5 + 20 * rng.next())), fs);
  bandpass.push({
    fs, low, high, order, freqs,
    response: freqs.map((f) => sosResponse(sos, (2 * Math.PI * f) / fs)),
    x: Array.from(x),
    y: Array.from(sosfiltfilt(sos, x)),
  });
}

const resample: unknown[] = [];
for (const [fsIn, fsOut] of [
  [64, 40],
  [30, 40],
  [125, 40],
  [64, 32],
  [100, 30],
  [32, 64],
] as const) {
  const x = signal(Math.round(fsIn * (3 + 10 * rng.next())), fsIn);
  const [up, down] = rationalRatio(fsIn, fsOut);
  resample.push({ fsIn, fsOut, up, down, x: Array.from(x), y: Array.from(resamplePoly(x, fsIn, fsOut)) });
}

const dir = mkdtempSync(join(tmpdir(), 'fairtune-dsp-'));
const file = join(dir, 'cases.json');
writeFileSync(file, JSON.stringify({ bandpass, resample }));
const script = join(dirname(fileURLToPath(import.meta.url)), 'crosscheck_dsp.py');
const r = spawnSync('/usr/bin/python3', [script, file], { stdio: 'inherit' });
if (r.error) {
  console.error(`cannot run /usr/bin/python3 (${r.error.message}); install python3-scipy with apt-get`);
  process.exit(2);
}
process.exit(r.status ?? 1);
