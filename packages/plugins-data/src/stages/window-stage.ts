/**
 * preprocess.window: dataset → samples. Cuts each recording's signals into windows (length
 * and shift in seconds), aligns the target label (and every other label as `aux/<name>`) to
 * each window, normalises per window, and handles recordings shorter than one window.
 */
import { injectable } from 'inversify';
import { artifact, ndarray, runAsync, type AttributeValue, type NdArray, type SamplesMeta, type StageContext, type StagePlugin } from '@fairtune/core';
import { alignLabel, normaliseWindow, windowStarts, type Normalisation } from '../dsp/window.js';
import { asSingle, channelCount, channelOf, datasetMeta } from './util.js';

export interface WindowParams {
  windowSeconds: number;
  shiftSeconds: number;
  signals: string[];
  target: string;
  normalisation: Normalisation;
  short: 'drop' | 'pad-edge' | 'tile';
}

/** Extends a too-short signal to `n` samples by repeating the edge value or tiling it. */
function extend(x: Float64Array, n: number, mode: 'pad-edge' | 'tile'): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mode === 'tile' ? x[i % x.length]! : x[Math.min(i, x.length - 1)]!;
  return out;
}

@injectable()
export class WindowStage implements StagePlugin<WindowParams> {
  readonly type = 'preprocess.window';
  readonly version = '2';
  readonly description = 'Windows dataset signals into fixed-length samples with per-window labels and normalisation.';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      windowSeconds: { type: 'number', exclusiveMinimum: 0, default: 8 },
      shiftSeconds: { type: 'number', exclusiveMinimum: 0, default: 2 },
      signals: { type: 'array', items: { type: 'string' }, minItems: 1, default: ['ppg'], description: 'Signals stacked as channels (must share a sample rate).' },
      target: { type: 'string', default: 'hr', description: 'Label series used as y.' },
      normalisation: { enum: ['none', 'minmax', 'zscore'], default: 'zscore' },
      short: { enum: ['drop', 'pad-edge', 'tile'], default: 'drop', description: 'Recordings shorter than one window: drop (with a warning count), pad with the edge value, or tile.' },
    },
  };
  readonly inputs = { dataset: { kind: 'dataset' } };
  readonly outputs = { samples: { kind: 'samples' } };

  run(ctx: StageContext<WindowParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const input = asSingle(ctx.inputs['dataset'], 'dataset', 'dataset');
      const meta = datasetMeta(input);
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
      let paddedShort = 0;
      for (const [ri, rec] of meta.recordings.entries()) {
        await emit.checkpoint();
        const refs = p.signals.map((s) => {
          const r = rec.signals[s];
          if (!r) throw new Error(`recording ${rec.id} has no signal "${s}" (has ${Object.keys(rec.signals).join(', ')})`);
          return r;
        });
        const rate = refs[0]!.fs;
        for (const [k, r] of refs.entries()) {
          if (r.fs !== rate) throw new Error(`recording ${rec.id}: signal ${p.signals[k]} is at ${r.fs} Hz but ${p.signals[0]} is at ${rate} Hz; add preprocess.resample first`);
        }
        if (fs === undefined) fs = rate;
        else if (fs !== rate) throw new Error(`recording ${rec.id} is at ${rate} Hz, earlier recordings at ${fs} Hz; resample the dataset to one rate first`);
        const target = rec.labels[p.target];
        if (!target) throw new Error(`recording ${rec.id} has no label "${p.target}" (has ${Object.keys(rec.labels).join(', ')})`);
        let chs: Float64Array[] = [];
        const names: string[] = [];
        refs.forEach((r, k) => {
          const arr = input.arrays[r.array];
          if (!arr) throw new Error(`dataset has no array "${r.array}"`);
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
        if (starts.length === 0) {
          if (p.short === 'drop') {
            droppedShort++;
            continue;
          }
          chs = chs.map((c) => extend(c.subarray(0, n), L, p.short as 'pad-edge' | 'tile'));
          starts = [0];
          paddedShort++;
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
          if (!arr) throw new Error(`preprocess.window: recording ${rec.id} label "${name}" points at array "${l.array}", which the dataset artifact does not have`);
          return arr.data;
        };
        const tv = labelArray(p.target, target);
        const timing = (l: typeof target, name: string) => {
          if (l.windowSeconds === undefined && l.shiftSeconds === undefined) {
            throw new Error(`preprocess.window: recording ${rec.id} label "${name}" has no windowSeconds/shiftSeconds, so its samples cannot be placed in time`);
          }
          return { windowSeconds: l.windowSeconds ?? l.shiftSeconds!, shiftSeconds: l.shiftSeconds ?? l.windowSeconds!, offsetSeconds: l.offsetSeconds ?? 0 };
        };
        // A padded short record keeps its label: the label's window is the record itself.
        const wSec = paddedShort && starts.length === 1 && n < L ? n / rate : p.windowSeconds;
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
        emit.progress(ri + 1, meta.recordings.length, rec.id, 'recordings');
      }
      if (droppedShort) emit.log('warn', `${droppedShort} recording(s) shorter than ${p.windowSeconds} s were dropped (short: 'drop'); use short: 'pad-edge' or 'tile' to keep them`);
      if (paddedShort) emit.log('info', `${paddedShort} short recording(s) extended with '${p.short}'`);
      if (droppedNaN) emit.log('info', `${droppedNaN} window(s) dropped for missing samples or labels`);
      if (xs.length === 0) throw new Error(`preprocess.window produced no windows from ${meta.recordings.length} recording(s)`);
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
        signal: { fs: fs!, length: L, channels, windowSeconds: p.windowSeconds, shiftSeconds: p.shiftSeconds, normalisation: p.normalisation },
        subjects,
        subjectAttributes,
      };
      const arrays: Record<string, NdArray> = {
        x: ndarray(x, channels.length > 1 ? [xs.length, L, channels.length] : [xs.length, L]),
        y: ndarray(Float32Array.from(ys)),
        subject: ndarray(Int32Array.from(subj)),
      };
      for (const [name, vals] of aux) arrays[`aux/${name}`] = ndarray(Float32Array.from(vals));
      emit.metric('windows', xs.length);
      emit.artifact('samples', artifact('samples', out as never, arrays));
    });
  }
}
