/**
 * `report.model-card`: a short model card of one trained model (src/report/model-card.ts) —
 * model, method and its params, training data and group sizes per split, metrics with CIs on
 * each evaluation, synthetic or real, intended use and known limits — written as
 * model-card.md and model-card.json into the stage's workDir and listed in its `report`
 * artifact. Inputs: the fine-tune's model, the eval.metrics outputs of its evaluations, and
 * optionally the fine-tune's predictions (every split) for the group sizes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifact, FairtuneError, optionalInput, requireArray, requireInput, requireInputs, runAsync, type JsonObject, type StagePlugin } from '@fairtune/core/plugin';
import { buildModelCard, modelCardMarkdown, splitSizes, type ModelCardInput } from '../report/model-card.js';

export interface ModelCardParams {
  title?: string;
  intendedUse: string;
  limitations: string[];
}

export const DEFAULT_INTENDED_USE =
  'Research on bias in PPG heart-rate estimation and its mitigation: comparing methods and group-wise errors. Not validated for clinical or consumer use; not a medical device.';

export const modelCardStage: StagePlugin<ModelCardParams> = {
  type: 'report.model-card',
  version: '1',
  description: 'A short model card of one trained model (data, groups and their sizes per split, method and its params, metrics with CIs, synthetic or real, known limits), as model-card.md and model-card.json.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      title: { type: 'string', minLength: 1, description: 'Card title (default: "Model card: <training strategy>").' },
      intendedUse: { type: 'string', minLength: 1, default: DEFAULT_INTENDED_USE },
      limitations: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'Known limits to add to those the card derives from its inputs.' },
    },
  },
  inputs: {
    model: { kind: 'model', description: 'The trained model (train.finetune): architecture, training strategy and settings, groups.' },
    metrics: { kind: 'metrics', multiple: true, description: 'eval.metrics outputs of this model (one per evaluation set).' },
    predictions: { kind: 'predictions', optional: true, description: "The fine-tune's predictions on every split: subjects and windows per split and group." },
  },
  outputs: { report: { kind: 'report' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const model = requireInput(ctx.inputs, 'model', 'model');
      const metrics = requireInputs(ctx.inputs, 'metrics', 'metrics');
      if (metrics.length === 0) throw new FairtuneError('FT_INPUT_MISSING', 'input "metrics": at least one eval.metrics output is needed', { port: 'metrics' });
      const pred = optionalInput(ctx.inputs, 'predictions', 'predictions');
      let training: ModelCardInput['training'];
      if (pred) {
        const meta = pred.meta;
        training = { meta, sizes: splitSizes(meta, requireArray(pred, 'subject').data, pred.arrays['group']?.data, pred.arrays['split']?.data) };
      }
      const card = buildModelCard({
        ...(p.title ? { title: p.title } : {}),
        model: model.meta,
        metrics: metrics.map((m) => m.meta),
        ...(training ? { training } : {}),
        intendedUse: p.intendedUse,
        limitations: p.limitations,
      });
      const files = { 'model-card.md': join(ctx.workDir, 'model-card.md'), 'model-card.json': join(ctx.workDir, 'model-card.json') };
      writeFileSync(files['model-card.md'], modelCardMarkdown(card));
      writeFileSync(files['model-card.json'], `${JSON.stringify(card, null, 2)}\n`);
      if (card.synthetic) emit.log('info', 'model card: synthetic data (stated in the card)');
      emit.log('info', `model card: ${card.method.name}, ${card.evaluations.length} evaluation(s), ${card.limitations.length} known limit(s)`);
      emit.artifact('report', artifact('report', { title: card.title, synthetic: card.synthetic, method: card.method.name } as JsonObject, {}, files));
    }),
};
