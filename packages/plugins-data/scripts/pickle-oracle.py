#!/usr/bin/env python3
"""Opt-in oracle: loads pickles with CPython + numpy and prints a JSON summary per file
(keys, dtypes, shapes, float sums, questionnaire values) so the TypeScript reader/writer can
be compared value by value.  Usage: pickle-oracle.py FILE... ; or --write DIR to write
py3 protocol 2-5 fixtures of a small DaLiA-shaped dict."""
import json, pickle, sys
import numpy as np

def summarise(v):
    if isinstance(v, np.ndarray):
        return {"dtype": v.dtype.str, "shape": list(v.shape), "sum": float(np.asarray(v, dtype=np.float64).sum()),
                "first": [float(x) for x in np.asarray(v, dtype=np.float64).ravel()[:3]]}
    if isinstance(v, dict):
        return {str(k): summarise(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode('latin1')
    return v

def dalia_like(n_bvp=1536, numpy_scalars=False, chest_rows=None):
    rng = np.random.default_rng(7)
    t64 = n_bvp; t32 = t64 // 2; t4 = t64 // 16; t700 = chest_rows or t64 * 700 // 64
    q = {'WEIGHT': 78.0, 'Gender': ' m', 'AGE': 34, 'HEIGHT': 182.0, 'SKIN': 3, 'SPORT': 6}
    if numpy_scalars:
        q = {'WEIGHT': np.float64(78.0), 'Gender': ' m', 'AGE': np.int64(34), 'HEIGHT': np.float64(182.0), 'SKIN': np.int64(3), 'SPORT': np.int64(6)}
    return {
        'rpeaks': np.arange(0, t700, 600, dtype=np.int32),
        'signal': {
            'chest': {'ACC': rng.normal(size=(t700, 3)), 'ECG': rng.normal(size=(t700, 1)), 'Resp': rng.normal(size=(t700, 1)),
                      'EDA': np.zeros((t700, 1)), 'EMG': np.full((t700, 1), -1.5), 'Temp': np.full((t700, 1), -273.15, dtype=np.float32)},
            'wrist': {'ACC': np.round(rng.normal(size=(t32, 3)) * 64) / 64, 'BVP': rng.normal(size=(t64, 1)) * 100,
                      'EDA': rng.random((t4, 1)), 'TEMP': 32 + rng.random((t4, 1))},
        },
        'label': 60 + rng.random((t64 - 512) // 128 + 1) * 40,
        'activity': np.floor(rng.random((t4, 1)) * 9),
        'questionnaire': q,
        'subject': 'S1',
    }

if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == '--write':
        import os
        d = sys.argv[2]
        os.makedirs(d, exist_ok=True)
        # Chest rows are cut to 700 (1 s) to keep the committed fixtures small.
        obj = dalia_like(n_bvp=640, chest_rows=700)
        for proto in (2, 3, 4, 5):
            with open(os.path.join(d, f'py3-protocol{proto}.pkl'), 'wb') as f:
                pickle.dump(obj, f, protocol=proto)
        with open(os.path.join(d, 'py3-protocol2-npscalars.pkl'), 'wb') as f:
            pickle.dump(dalia_like(n_bvp=640, numpy_scalars=True, chest_rows=700), f, protocol=2)
        with open(os.path.join(d, 'expected.json'), 'w') as f:
            json.dump(summarise(obj), f, indent=1, sort_keys=True)
        sys.exit(0)
    out = {}
    for path in sys.argv[1:]:
        with open(path, 'rb') as f:
            out[path] = summarise(pickle.load(f, encoding='latin1'))
    json.dump(out, sys.stdout, sort_keys=True)
