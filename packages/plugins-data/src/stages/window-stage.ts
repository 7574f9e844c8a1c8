/**
 * preprocess.window: dataset → samples. Cuts each recording's signals into windows (length
 * and shift in seconds), aligns the target label (and every other label as `aux/<name>`) to
 * each window, normalises per window, and handles recordings shorter than one window.
 */
import { injectable } from 'inversify';
import { artifact, requireInput, runAsync, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { windowDataset, type WindowingOptions } from '@fairtune/signal';
import { prefixedError } from '../errors.js';

/** The params are the windowing options, defaults applied from the schema below. */
export type WindowParams = WindowingOptions;

@injectable()
export class WindowStage implements StagePlugin<WindowParams> {
  readonly type = 'preprocess.window';
  readonly version = '3';
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
      const input = requireInput(ctx.inputs, 'dataset', 'dataset');
      const out = await windowDataset({ meta: input.meta, arrays: input.arrays }, p, {
        checkpoint: () => emit.checkpoint(),
        progress: (done, total, id) => emit.progress(done, total, id, 'recordings'),
      }).catch((e: unknown) => {
        // Name the stage in data errors; an abort passes through unchanged.
        throw ctx.signal.aborted || !(e instanceof Error) ? e : prefixedError(e, `preprocess.window: ${e.message}`);
      });
      const { droppedShort, extendedShort, droppedNaN } = out.counts;
      if (droppedShort) emit.log('warn', `${droppedShort} recording(s) shorter than ${p.windowSeconds} s were dropped (short: 'drop'); use short: 'pad-edge' or 'tile' to keep them`);
      if (extendedShort) emit.log('info', `${extendedShort} short recording(s) extended with '${p.short}'`);
      if (droppedNaN) emit.log('info', `${droppedNaN} window(s) dropped for missing samples or labels`);
      emit.metric('windows', out.arrays['y']!.shape[0]!);
      emit.artifact('samples', artifact('samples', out.meta, out.arrays));
    });
  }
}
