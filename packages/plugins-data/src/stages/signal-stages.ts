/** preprocess.resample and preprocess.bandpass: dataset → dataset, per signal and channel. */
import { injectable } from 'inversify';
import { artifact, runAsync, type DatasetMeta, type NdArray, type RecordingRecord, type SignalRef, type StageContext, type StagePlugin } from '@fairtune/core';
import { resamplePoly } from '../dsp/resample.js';
import { butterBandpass, filtfiltWithGaps } from '../dsp/butterworth.js';
import { asSingle, channelCount, channelOf, datasetMeta, fromChannels } from './util.js';

async function mapSignals(
  ctx: StageContext<{ signals?: string[] }>,
  emit: { progress: (d: number, t?: number, m?: string, u?: string) => void; checkpoint: () => Promise<void> },
  fn: (x: Float64Array, ref: SignalRef, where: string) => { y: Float64Array; fs: number },
): Promise<{ meta: DatasetMeta; arrays: Record<string, NdArray> }> {
  const input = asSingle(ctx.inputs['dataset'], 'dataset', 'dataset');
  const meta = datasetMeta(input);
  const arrays: Record<string, NdArray> = { ...input.arrays };
  const recordings: RecordingRecord[] = [];
  let done = 0;
  for (const rec of meta.recordings) {
    await emit.checkpoint();
    const signals: Record<string, SignalRef> = {};
    for (const [key, ref] of Object.entries(rec.signals)) {
      if (ctx.params.signals && !ctx.params.signals.includes(key)) {
        signals[key] = ref;
        continue;
      }
      const arr = input.arrays[ref.array];
      if (!arr) throw new Error(`dataset has no array "${ref.array}" (recording ${rec.id}, signal ${key})`);
      let fs = ref.fs;
      const chs = Array.from({ length: channelCount(arr) }, (_, c) => {
        const r = fn(channelOf(arr, c), ref, `${rec.id}/${key}`);
        fs = r.fs;
        return r.y;
      });
      arrays[ref.array] = fromChannels(chs, arr.shape.length > 1);
      signals[key] = { ...ref, fs };
    }
    recordings.push({ ...rec, signals });
    emit.progress(++done, meta.recordings.length, rec.id, 'recordings');
  }
  return { meta: { ...meta, recordings }, arrays };
}

export interface ResampleParams {
  fs: number;
  signals?: string[];
}

@injectable()
export class ResampleStage implements StagePlugin<ResampleParams> {
  readonly type = 'preprocess.resample';
  readonly version = '1';
  readonly description = 'Resamples dataset signals to a target rate (rational polyphase, Kaiser-windowed sinc anti-aliasing).';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    required: ['fs'],
    properties: {
      fs: { type: 'number', exclusiveMinimum: 0, description: 'Target sample rate in Hz.' },
      signals: { type: 'array', items: { type: 'string' }, description: 'Signal keys to resample (default all, e.g. ["ppg"]).' },
    },
  };
  readonly inputs = { dataset: { kind: 'dataset' } };
  readonly outputs = { dataset: { kind: 'dataset' } };
  run(ctx: StageContext<ResampleParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const { meta, arrays } = await mapSignals(ctx, emit, (x, ref) => ({ y: ref.fs === ctx.params.fs ? x : resamplePoly(x, ref.fs, ctx.params.fs), fs: ctx.params.fs }));
      emit.artifact('dataset', artifact('dataset', meta as never, arrays));
    });
  }
}

export interface BandpassParams {
  low: number;
  high: number;
  order: number;
  signals?: string[];
}

@injectable()
export class BandpassStage implements StagePlugin<BandpassParams> {
  readonly type = 'preprocess.bandpass';
  readonly version = '1';
  readonly description = 'Zero-phase Butterworth band-pass filter (forward-backward, NaN gaps kept).';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      low: { type: 'number', exclusiveMinimum: 0, default: 0.5, description: 'Lower edge (Hz, -3 dB per pass).' },
      high: { type: 'number', exclusiveMinimum: 0, default: 8, description: 'Upper edge (Hz).' },
      order: { type: 'integer', minimum: 1, maximum: 8, default: 4, description: 'Butterworth prototype order (band-pass order 2·order).' },
      signals: { type: 'array', items: { type: 'string' }, default: ['ppg'] },
    },
  };
  readonly inputs = { dataset: { kind: 'dataset' } };
  readonly outputs = { dataset: { kind: 'dataset' } };
  run(ctx: StageContext<BandpassParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const { low, high, order } = ctx.params;
      const cache = new Map<number, ReturnType<typeof butterBandpass>>();
      const { meta, arrays } = await mapSignals(ctx, emit, (x, ref, where) => {
        if (high >= ref.fs / 2) throw new Error(`preprocess.bandpass: high edge ${high} Hz is not below the Nyquist rate of ${where} (${ref.fs / 2} Hz); resample first or lower 'high'`);
        let sos = cache.get(ref.fs);
        if (!sos) cache.set(ref.fs, (sos = butterBandpass(order, low, high, ref.fs)));
        return { y: filtfiltWithGaps(sos, x), fs: ref.fs };
      });
      emit.artifact('dataset', artifact('dataset', meta as never, arrays));
    });
  }
}
