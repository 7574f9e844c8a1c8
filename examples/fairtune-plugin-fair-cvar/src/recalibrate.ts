/**
 * `cvar.recalibrate`: group-wise linear recalibration of regression predictions. On the rows of
 * the fit split (validation by default) it fits, per group g, ŷ' = a_g + b_g·ŷ by least squares
 * against yTrue, and applies each group's correction to every row of that group (all splits).
 * A group with too few fit rows, or whose predictions do not vary there, gets the correction
 * fitted on all fit rows (and a warning naming it); so do rows of unknown group (−1).
 */
import { artifact, FairtuneError, inputPorts, ndarray, requireArray, runAsync, stageInputs, type PredictionsMeta, type StageContext, type StagePlugin } from '@fairtune/core/plugin';

export interface RecalibrateParams {
  fitSplit: string;
  minSamples: number;
}

export interface LinearFit {
  readonly intercept: number;
  readonly slope: number;
  readonly n: number;
}

/** Least squares y ≈ a + b·x over the rows `use` selects; undefined when x does not vary. */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>, use: (i: number) => boolean): LinearFit | undefined {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) if (use(i)) (n++, (sx += x[i]!), (sy += y[i]!));
  if (n < 2) return undefined;
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) if (use(i)) (sxx += (x[i]! - mx) ** 2), (sxy += (x[i]! - mx) * (y[i]! - my));
  if (sxx <= 1e-12 * n * Math.max(1, mx * mx)) return undefined;
  const slope = sxy / sxx;
  return { intercept: my - slope * mx, slope, n };
}

/** Declared with inputPorts so that stageInputs types each input's meta by its kind. */
const PORTS = inputPorts({ predictions: { kind: 'predictions', description: 'Regression predictions with group and split arrays.' } });

export const recalibrateStage: StagePlugin<RecalibrateParams> = {
  type: 'cvar.recalibrate',
  version: '1.0.0',
  description: 'Fits a per-group linear correction of regression predictions on one split (validation by default) and applies it to all rows.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      fitSplit: { type: 'string', minLength: 1, default: 'val', description: 'Split (a name in the predictions\' splits) the corrections are fitted on.' },
      minSamples: { type: 'integer', minimum: 2, default: 10, description: 'Fewest fit rows a group needs for a correction of its own.' },
    },
  },
  inputs: PORTS,
  outputs: { predictions: { kind: 'predictions', description: 'The same rows, yPred recalibrated per group.' } },
  run: (ctx: StageContext<RecalibrateParams>) =>
    runAsync(ctx.signal, async (emit) => {
      // Checked against the declared ports and typed by them: input.meta is a PredictionsMeta.
      const input = stageInputs(ctx.inputs, PORTS).predictions;
      const meta = input.meta;
      if (meta.task !== 'regression') throw new FairtuneError('FT_INPUT_CONTENT', `predictions: task is "${meta.task}"; cvar.recalibrate corrects regression outputs only`, { port: 'predictions' });
      const splitNames = meta.splits ?? [];
      const fitIndex = splitNames.indexOf(ctx.params.fitSplit);
      if (fitIndex < 0) throw new FairtuneError('FT_PARAM_INVALID', `params.fitSplit: "${ctx.params.fitSplit}" is not a split of the predictions (splits: ${splitNames.join(', ') || 'none'})`, { param: 'fitSplit' });
      const groupNames = meta.groups?.names;
      if (!groupNames) throw new FairtuneError('FT_INPUT_CONTENT', 'predictions: meta.groups is absent; group the samples (split.groups) before predicting', { port: 'predictions' });
      const yTrue = requireArray(input, 'yTrue').data;
      const yPred = requireArray(input, 'yPred').data;
      const group = requireArray(input, 'group', 'int32').data;
      const split = requireArray(input, 'split', 'int8').data;
      const inFit = (i: number) => split[i] === fitIndex;
      const global = fitLine(yPred, yTrue, inFit);
      if (!global) throw new FairtuneError('FT_INPUT_CONTENT', `predictions: split "${ctx.params.fitSplit}" has fewer than 2 rows or constant yPred; nothing to fit`, { port: 'predictions' });
      const fits = groupNames.map((name, g) => {
        const own = fitLine(yPred, yTrue, (i) => group[i] === g && inFit(i));
        if (own && own.n >= ctx.params.minSamples) return own;
        emit.log('warn', `group ${name}: ${own ? `${own.n} fit rows` : 'under 2 fit rows or constant yPred'} in split ${ctx.params.fitSplit} (minSamples ${ctx.params.minSamples}); using the correction fitted on all groups`);
        return global;
      });
      const out = new Float32Array(yPred.length);
      for (let i = 0; i < out.length; i++) {
        const f = group[i]! >= 0 && group[i]! < fits.length ? fits[group[i]!]! : global;
        out[i] = f.intercept + f.slope * yPred[i]!;
      }
      groupNames.forEach((name, g) => {
        emit.metric(`slope/${name}`, fits[g]!.slope);
        emit.metric(`intercept/${name}`, fits[g]!.intercept);
      });
      const recalibrated: PredictionsMeta = { ...meta, method: `${meta.method ?? 'model'}+group-recalibration` };
      emit.artifact('predictions', artifact('predictions', recalibrated, { ...input.arrays, yPred: ndarray(out) }));
    }),
};
