// An example third-party plugin package. It depends only on @fairtune/core's plugin contracts (@fairtune/core/plugin)
// (peer dependency) and exports one inversify ContainerModule named `containerModule`.
// Load it from a pipeline with  "plugins": ["fairtune-plugin-example"]  or  --plugin fairtune-plugin-example.
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN, artifact, ndarray, requireArray, runAsync } from '@fairtune/core/plugin';

/** @type {import('@fairtune/core/plugin').StagePlugin<{ lower: number, upper: number }>} */
export const winsorize = {
  type: 'example.winsorize',
  version: '1.0.0',
  description: 'Clips a series to its [lower, upper] quantiles (winsorizing), e.g. to tame outliers before statistics.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      lower: { type: 'number', minimum: 0, maximum: 1, default: 0.05, description: 'Lower quantile.' },
      upper: { type: 'number', minimum: 0, maximum: 1, default: 0.95, description: 'Upper quantile.' },
    },
  },
  inputs: { series: { kind: 'demo-series', description: 'Numbers to clip.' } },
  outputs: { series: { kind: 'demo-series', description: 'Clipped numbers.' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const { lower, upper } = ctx.params;
      if (lower > upper) throw new Error(`lower quantile ${lower} is above upper quantile ${upper}`);
      const values = requireArray(ctx.inputs.series, 'values').data;
      const sorted = Float64Array.from(values).sort();
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))];
      const lo = at(lower);
      const hi = at(upper);
      let clipped = 0;
      const out = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        out[i] = Math.min(hi, Math.max(lo, values[i]));
        if (out[i] !== values[i]) clipped++;
      }
      emit.metric('clipped', clipped);
      emit.artifact('series', artifact('demo-series', { winsorized: [lo, hi] }, { values: ndarray(out) }));
    }),
};

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).toConstantValue(winsorize);
});
