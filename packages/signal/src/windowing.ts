/**
 * Cuts a dataset's recordings into fixed-length samples: the windows, the target label and every
 * other label (as `aux/<name>`) aligned to each window, per-window normalisation, and recordings
 * shorter than one window. `preprocess.window` and `eval.predict` (windowing another dataset to a
 * model's input) share it.
 */
import { FairtuneError, ndarray, type AttributeValue, type NdArray, type SamplesMeta } from '@fairtune/core/plugin';
import { alignLabel, normaliseWindow, windowStarts, type Normalisation } from './window.js';
import { channelCount, channelOf } from './channels.js';
import type { DatasetArrays, LoopHooks } from './processing.js';

export type ShortRecordings = 'drop' | 'pad-edge' | 'tile';

export interface WindowingOptions {
  readonly windowSeconds: number;
  readonly shiftSeconds: number;
  /** Signal keys stacked as channels (must share a sample rate). */
  readonly signals: readonly string[];
  /** Label series used as y. */
  readonly target: string;
  readonly normalisation: Normalisation;
  /** Recordings shorter than one window: drop them, pad with the edge value, or tile them. */
  readonly short: ShortRecordings;
}

export interface WindowingResult {
  readonly meta: SamplesMeta;
  readonly arrays: Record<string, NdArray>;
  /** Recordings dropped or extended for being shorter than one window, windows dropped for NaN samples or labels. */
  readonly counts: { readonly droppedShort: number; readonly extendedShort: number; readonly droppedNaN: number };
}

/** Extends a too-short signal to `n` samples by repeating the edge value or tiling it. */
export function extendSignal(x: Float64Array, n: number, mode: 'pad-edge' | 'tile'): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mode === 'tile' ? x[i % x.length]! : x[Math.min(i, x.length - 1)]!;
  return out;
}

/** Windows every recording of the dataset; throws (naming the recording) on missing signals or labels. */
export async function windowDataset(input: DatasetArrays, p: WindowingOptions, hooks: LoopHooks = {}): Promise<WindowingResult> {
  const { meta } = input;
  let fs: number | undefined;
  const subjects: string[] = [];
  const subjectAttr: Record<string, AttributeValue>[] = [];
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  const subj: number[] = [];
  const aux = new Map<string, number[]>();
  let channels: string[] = [];
  let droppedShort = 0;
  let droppedNaN = 0;
  let extendedShort = 0;
  for (const [ri, rec] of meta.recordings.entries()) {
    await hooks.checkpoint?.();
    const refs = p.signals.map((s) => {
      const r = rec.signals[s];
      if (!r) throw new FairtuneError('FT_INPUT_CONTENT', `recording ${rec.id} has no signal "${s}" (has ${Object.keys(rec.signals).join(', ')})`);
      return r;
    });
    const rate = refs[0]!.fs;
    for (const [k, r] of refs.entries()) {
      if (r.fs !== rate) throw new FairtuneError('FT_INPUT_CONTENT', `recording ${rec.id}: signal ${p.signals[k]} is at ${r.fs} Hz but ${p.signals[0]} is at ${rate} Hz; add preprocess.resample first`);
    }
    if (fs === undefined) fs = rate;
    else if (fs !== rate) throw new FairtuneError('FT_INPUT_CONTENT', `recording ${rec.id} is at ${rate} Hz, earlier recordings at ${fs} Hz; resample the dataset to one rate first`);
    const target = rec.labels[p.target];
    if (!target) throw new FairtuneError('FT_INPUT_CONTENT', `recording ${rec.id} has no label "${p.target}" (has ${Object.keys(rec.labels).join(', ')})`);
    let chs: Float64Array[] = [];
    const names: string[] = [];
    refs.forEach((r, k) => {
      const arr = input.arrays[r.array];
      if (!arr) throw new FairtuneError('FT_ARRAY_MISSING', `dataset has no array "${r.array}"`);
      for (let c = 0; c < channelCount(arr); c++) {
        chs.push(channelOf(arr, c));
        names.push(channelCount(arr) > 1 ? `${p.signals[k]}.${r.channels?.[c] ?? c}` : p.signals[k]!);
      }
    });
    if (channels.length === 0) channels = names;
    const L = Math.round(p.windowSeconds * rate);
    const S = Math.max(1, Math.round(p.shiftSeconds * rate));
    const n = Math.min(...chs.map((c) => c.length));
    let starts = windowStarts(n, L, S);
    let extended = false;
    if (starts.length === 0) {
      if (p.short === 'drop') {
        droppedShort++;
        continue;
      }
      chs = chs.map((c) => extendSignal(c.subarray(0, n), L, p.short as 'pad-edge' | 'tile'));
      starts = [0];
      extended = true;
      extendedShort++;
    }
    // A subject enters the samples with its first kept window, so one whose windows are all
    // dropped does not count in splits.
    let si = -1;
    const subjectIndex = () => {
      if (si < 0) si = subjects.indexOf(rec.subject);
      if (si < 0) {
        si = subjects.push(rec.subject) - 1;
        subjectAttr.push({ ...rec.attributes });
      }
      return si;
    };
    const labelArray = (name: string, l: typeof target) => {
      const arr = input.arrays[l.array];
      if (!arr) throw new FairtuneError('FT_ARRAY_MISSING', `recording ${rec.id} label "${name}" points at array "${l.array}", which the dataset artifact does not have`);
      return arr.data;
    };
    const tv = labelArray(p.target, target);
    const timing = (l: typeof target, name: string) => {
      if (l.windowSeconds === undefined && l.shiftSeconds === undefined) {
        throw new FairtuneError('FT_INPUT_CONTENT', `recording ${rec.id} label "${name}" has no windowSeconds/shiftSeconds, so its samples cannot be placed in time`);
      }
      return { windowSeconds: l.windowSeconds ?? l.shiftSeconds!, shiftSeconds: l.shiftSeconds ?? l.windowSeconds!, offsetSeconds: l.offsetSeconds ?? 0 };
    };
    // An extended short record keeps its label: the label's window is the record itself.
    const wSec = extended ? n / rate : p.windowSeconds;
    for (const s0 of starts) {
      const t0 = s0 / rate;
      const y = alignLabel(tv, timing(target, p.target), t0, wSec, { categorical: target.categorical === true });
      const w = new Float32Array(L * chs.length);
      let bad = !Number.isFinite(y);
      for (let c = 0; c < chs.length && !bad; c++) {
        const seg = chs[c]!.slice(s0, s0 + L);
        if (seg.some((v) => !Number.isFinite(v))) bad = true;
        normaliseWindow(seg, p.normalisation);
        for (let i = 0; i < L; i++) w[i * chs.length + c] = seg[i]!;
      }
      if (bad) {
        droppedNaN++;
        continue;
      }
      xs.push(w);
      ys.push(y);
      subj.push(subjectIndex());
      for (const [name, l] of Object.entries(rec.labels)) {
        if (name === p.target) continue;
        const data = labelArray(name, l);
        if (!aux.has(name)) aux.set(name, new Array(xs.length - 1).fill(NaN));
        aux.get(name)!.push(alignLabel(data, timing(l, name), t0, wSec, { categorical: l.categorical === true }));
      }
      for (const vals of aux.values()) if (vals.length < xs.length) vals.push(NaN);
    }
    hooks.progress?.(ri + 1, meta.recordings.length, rec.id);
  }
  if (xs.length === 0) throw new FairtuneError('FT_INPUT_CONTENT', `windowing produced no windows from ${meta.recordings.length} recording(s)` + (droppedShort ? ` (${droppedShort} shorter than ${p.windowSeconds} s were dropped; use short: 'pad-edge' or 'tile')` : ''));
  const L = xs[0]!.length / channels.length;
  const x = new Float32Array(xs.length * xs[0]!.length);
  xs.forEach((w, i) => x.set(w, i * w.length));
  const subjectAttributes: Record<string, AttributeValue[]> = {};
  for (const key of new Set(subjectAttr.flatMap((a) => Object.keys(a)))) subjectAttributes[key] = subjectAttr.map((a) => a[key] ?? null);
  const targetUnits = meta.recordings[0]?.labels[p.target]?.units;
  const out: SamplesMeta = {
    name: meta.name,
    synthetic: meta.synthetic,
    modality: 'ppg',
    task: 'regression',
    target: { name: p.target, ...(targetUnits ? { units: targetUnits } : {}) },
    signal: {
      fs: fs!,
      length: L,
      channels,
      windowSeconds: p.windowSeconds,
      shiftSeconds: p.shiftSeconds,
      normalisation: p.normalisation,
      signals: [...p.signals],
      processing: [...(meta.processing ?? [])],
      // The rule is part of what the windows are only when it touched a recording; a model
      // trained on them records it (InputSpec.short) and eval.predict replays it.
      ...(droppedShort + extendedShort > 0 ? { short: p.short } : {}),
    },
    subjects,
    subjectAttributes,
  };
  const arrays: Record<string, NdArray> = {
    x: ndarray(x, channels.length > 1 ? [xs.length, L, channels.length] : [xs.length, L]),
    y: ndarray(Float32Array.from(ys)),
    subject: ndarray(Int32Array.from(subj)),
  };
  for (const [name, vals] of aux) arrays[`aux/${name}`] = ndarray(Float32Array.from(vals));
  return { meta: out, arrays, counts: { droppedShort, extendedShort, droppedNaN } };
}
