/**
 * Applies recorded signal-processing steps (`SignalProcessingStep`) to a dataset. The
 * preprocessing stages run one step each; `eval.predict` replays a model's whole chain on
 * another dataset, so both go through this one implementation.
 */
import { FairtuneError, type DatasetMeta, type NdArray, type RecordingRecord, type SignalProcessingStep, type SignalRef } from '@fairtune/core/plugin';
import { butterBandpass, filtfiltWithGaps } from './butterworth.js';
import { resamplePoly } from './resample.js';
import { channelCount, channelOf, fromChannels } from './channels.js';

export interface DatasetArrays {
  readonly meta: DatasetMeta;
  readonly arrays: Readonly<Record<string, NdArray>>;
}

/** Called between recordings: `checkpoint` may throw to abort, `progress` reports work done. */
export interface LoopHooks {
  readonly checkpoint?: () => Promise<void>;
  readonly progress?: (done: number, total: number, recording: string) => void;
}

/**
 * The filter of a band-pass step at rate `fs`. The design's RangeError on an order or band it
 * cannot take (`low` not below `high`, say) is about the step's params: it is coded as such,
 * with the same message.
 */
function bandpassSections(step: Extract<SignalProcessingStep, { op: 'bandpass' }>, fs: number): ReturnType<typeof butterBandpass> {
  try {
    return butterBandpass(step.order, step.low, step.high, fs);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const orderOk = Number.isInteger(step.order) && step.order >= 1 && step.order <= 12;
    throw new FairtuneError('FT_PARAM_INVALID', e.message, { param: orderOk ? 'low' : 'order' }, { cause: e });
  }
}

/** A per-channel signal transform of one step; one instance serves a whole dataset (it caches filters per rate). */
function stepTransform(step: SignalProcessingStep): (x: Float64Array, fs: number, where: string) => { y: Float64Array; fs: number } {
  switch (step.op) {
    case 'resample':
      if (!(step.fs > 0)) throw new FairtuneError('FT_PARAM_INVALID', `resample step: fs must be positive (got ${step.fs})`, { param: 'fs' });
      return (x, fs) => ({ y: fs === step.fs ? x : resamplePoly(x, fs, step.fs), fs: step.fs });
    case 'bandpass': {
      const cache = new Map<number, ReturnType<typeof butterBandpass>>();
      return (x, fs, where) => {
        if (step.high >= fs / 2) throw new FairtuneError('FT_PARAM_INVALID', `band-pass: high edge ${step.high} Hz is not below the Nyquist rate of ${where} (${fs / 2} Hz); resample first or lower 'high'`, { param: 'high' });
        let sos = cache.get(fs);
        if (!sos) cache.set(fs, (sos = bandpassSections(step, fs)));
        return { y: filtfiltWithGaps(sos, x), fs };
      };
    }
    default:
      throw new FairtuneError('FT_INPUT_CONTENT', `unknown signal-processing step ${JSON.stringify(step)}; known ops: bandpass, resample`);
  }
}

/**
 * Applies one step to every signal it names (every signal when `step.signals` is absent) of
 * every recording, and appends it to `meta.processing`. Arrays of untouched signals are shared.
 */
export async function applyProcessingStep(input: DatasetArrays, step: SignalProcessingStep, hooks: LoopHooks = {}): Promise<DatasetArrays> {
  const fn = stepTransform(step);
  const { meta } = input;
  const arrays: Record<string, NdArray> = { ...input.arrays };
  const recordings: RecordingRecord[] = [];
  let done = 0;
  for (const rec of meta.recordings) {
    await hooks.checkpoint?.();
    const signals: Record<string, SignalRef> = {};
    for (const [key, ref] of Object.entries(rec.signals)) {
      if (step.signals && !step.signals.includes(key)) {
        signals[key] = ref;
        continue;
      }
      const arr = input.arrays[ref.array];
      if (!arr) throw new FairtuneError('FT_ARRAY_MISSING', `dataset has no array "${ref.array}" (recording ${rec.id}, signal ${key})`);
      let fs = ref.fs;
      const chs = Array.from({ length: channelCount(arr) }, (_, c) => {
        const r = fn(channelOf(arr, c), ref.fs, `${rec.id}/${key}`);
        fs = r.fs;
        return r.y;
      });
      arrays[ref.array] = fromChannels(chs, arr.shape.length > 1);
      signals[key] = { ...ref, fs };
    }
    recordings.push({ ...rec, signals });
    hooks.progress?.(++done, meta.recordings.length, rec.id);
  }
  return { meta: { ...meta, recordings, processing: [...(meta.processing ?? []), step] }, arrays };
}

/** Structural equality of two steps (key order and absent vs. undefined ignored). */
export function sameStep(a: SignalProcessingStep, b: SignalProcessingStep): boolean {
  const norm = (s: SignalProcessingStep) => JSON.stringify(Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined).sort(([x], [y]) => x.localeCompare(y))));
  return norm(a) === norm(b);
}

/**
 * The steps of `wanted` still to apply to a dataset that already went through `applied`:
 * the rest of `wanted` when `applied` is a prefix of it. Otherwise null — the dataset took a
 * different path and replaying would process it twice or in another order.
 */
export function remainingSteps(applied: readonly SignalProcessingStep[], wanted: readonly SignalProcessingStep[]): SignalProcessingStep[] | null {
  if (applied.length > wanted.length) return null;
  for (let i = 0; i < applied.length; i++) if (!sameStep(applied[i]!, wanted[i]!)) return null;
  return wanted.slice(applied.length);
}

/** Human-readable form of a step, for logs: `bandpass 0.5–8 Hz (order 2) on ppg`. */
export function describeStep(step: SignalProcessingStep): string {
  const on = step.signals ? ` on ${step.signals.join(', ')}` : '';
  return step.op === 'bandpass' ? `bandpass ${step.low}–${step.high} Hz (order ${step.order})${on}` : `resample to ${step.fs} Hz${on}`;
}
