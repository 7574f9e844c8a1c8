/** preprocess.resample and preprocess.bandpass: dataset → dataset, per signal and channel; each records its step in the dataset meta (`processing`), so a model trained on the result can replay it on another dataset. */
import { injectable } from 'inversify';
import { artifact, requireInput, runAsync, type SignalProcessingStep, type StageContext, type StageEmitter, type StagePlugin } from '@fairtune/core/plugin';
import { applyProcessingStep } from '@fairtune/signal';
import { prefixedError } from '../errors.js';

/** Runs one processing step over the stage's dataset input (the step is recorded in the dataset meta). */
async function runStep(ctx: StageContext<{ signals?: string[] }>, emit: StageEmitter, step: SignalProcessingStep): Promise<void> {
  const input = requireInput(ctx.inputs, 'dataset', 'dataset');
  const out = await applyProcessingStep({ meta: input.meta, arrays: input.arrays }, step, {
    checkpoint: () => emit.checkpoint(),
    progress: (done, total, id) => emit.progress(done, total, id, 'recordings'),
  }).catch((e: unknown) => {
    // Name the stage in data errors; an abort passes through unchanged.
    throw ctx.signal.aborted || !(e instanceof Error) ? e : prefixedError(e, `preprocess.${step.op}: ${e.message}`);
  });
  emit.artifact('dataset', artifact('dataset', out.meta, out.arrays));
}

export interface ResampleParams {
  fs: number;
  signals?: string[];
}

@injectable()
export class ResampleStage implements StagePlugin<ResampleParams> {
  readonly type = 'preprocess.resample';
  readonly version = '3';
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
    const { fs, signals } = ctx.params;
    return runAsync(ctx.signal, (emit) => runStep(ctx, emit, { op: 'resample', fs, ...(signals ? { signals } : {}) }));
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
  readonly version = '2';
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
    const { low, high, order, signals } = ctx.params;
    return runAsync(ctx.signal, (emit) => runStep(ctx, emit, { op: 'bandpass', low, high, order, ...(signals ? { signals } : {}) }));
  }
}
