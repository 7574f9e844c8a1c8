"""Reference side of the DSP cross-check (see crosscheck_dsp.ts).

For each band-pass case: the magnitude response of scipy.signal.butter(order, [low, high],
'bandpass', fs=fs, output='sos') at the same frequencies (sosfreqz), and
scipy.signal.sosfiltfilt of that design on the same input. For each resampling case:
scipy.signal.resample_poly(x, up, down) (default Kaiser window, beta 5). Prints the largest
absolute differences, relative to the signal's peak, and exits 1 beyond the tolerance.
"""
import json
import sys

import numpy as np
from scipy import signal

TOL = 1e-9
cases = json.load(open(sys.argv[1]))
worst = {}
failed = False


def record(family, label, ours, ref, scale=1.0):
    global failed
    d = float(np.max(np.abs(np.asarray(ours) - np.asarray(ref)))) / scale
    worst[family] = max(worst.get(family, 0.0), d)
    if not d <= TOL:
        failed = True
        print(f"MISMATCH {family} {label}: largest difference {d:.3g}")


for c in cases["bandpass"]:
    label = f"fs={c['fs']} [{c['low']}, {c['high']}] order={c['order']}"
    sos = signal.butter(c["order"], [c["low"], c["high"]], btype="bandpass", fs=c["fs"], output="sos")
    _, h = signal.sosfreqz(sos, worN=np.asarray(c["freqs"]), fs=c["fs"])
    record("band-pass |H(f)|", label, c["response"], np.abs(h))
    x = np.asarray(c["x"])
    ref = signal.sosfiltfilt(sos, x)
    record("band-pass sosfiltfilt", label, c["y"], ref, scale=np.max(np.abs(x)))

for c in cases["resample"]:
    label = f"{c['fsIn']} -> {c['fsOut']} Hz (up {c['up']}, down {c['down']})"
    x = np.asarray(c["x"])
    ref = signal.resample_poly(x, c["up"], c["down"])
    if len(ref) != len(c["y"]):
        failed = True
        print(f"MISMATCH resample_poly {label}: length {len(c['y'])} vs {len(ref)}")
        continue
    record("resample_poly", label, c["y"], ref, scale=np.max(np.abs(x)))

for family, d in worst.items():
    print(f"{family:24s} largest difference {d:.2e}")
print(f"overall largest difference {max(worst.values()):.2e} (tolerance {TOL:g}); scipy {signal.__name__} from SciPy", end=" ")
import scipy
print(scipy.__version__)
sys.exit(1 if failed else 0)
