/**
 * A compact Pan-Tompkins-style R-peak detector (band-pass 5-15 Hz, derivative, squaring,
 * 150-ms moving integration, adaptive threshold, 250-ms refractory period), used to derive
 * HR references from ECG when a dataset ships none. NaN samples are treated as gaps.
 */
import { butterBandpass, filtfiltWithGaps } from './butterworth.js';

export function detectRPeaks(ecg: Float64Array, fs: number): number[] {
  const hi = Math.min(15, fs / 2 - 1);
  const band = filtfiltWithGaps(butterBandpass(2, 5, hi, fs), ecg);
  const n = band.length;
  const energy = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    const d = band[i]! - band[i - 1]!;
    energy[i] = Number.isFinite(d) ? d * d : 0;
  }
  const win = Math.max(1, Math.round(0.15 * fs));
  const integ = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += energy[i]! - (i >= win ? energy[i - win]! : 0);
    integ[i] = s / win;
  }
  const peaks: number[] = [];
  const block = Math.round(2 * fs);
  const refractory = Math.round(0.25 * fs);
  for (let b0 = 0; b0 < n; b0 += block) {
    let mx = 0;
    for (let i = b0; i < Math.min(n, b0 + block); i++) mx = Math.max(mx, integ[i]!);
    const thr = 0.3 * mx;
    for (let i = Math.max(1, b0); i < Math.min(n - 1, b0 + block); i++) {
      if (integ[i]! > thr && integ[i]! >= integ[i - 1]! && integ[i]! > integ[i + 1]!) {
        // The R peak is the largest band-passed value in the integration window before.
        let best = i;
        for (let k = Math.max(0, i - win); k <= i; k++) if (Math.abs(band[k]!) > Math.abs(band[best]!)) best = k;
        if (peaks.length === 0 || best - peaks[peaks.length - 1]! > refractory) peaks.push(best);
      }
    }
  }
  return peaks;
}
