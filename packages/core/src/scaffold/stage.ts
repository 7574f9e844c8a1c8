/**
 * `--kind stage`: a stage reading `predictions` and emitting `metrics`, the mean signed error
 * (yPred − yTrue) per group on one split. Small, but it uses what a real stage needs: a params
 * schema with defaults and descriptions, typed ports, `runAsync` with a checkpoint, metric events,
 * and errors naming the port, param or array at fault (the conformance suite checks the first).
 */
import { packageJson, readme, type TemplateContext, type TemplateFile } from './common.js';

const stageType = (ctx: TemplateContext) => `${ctx.ns}.signed-error`;

/** The module header, params type and the computation (a plain function, testable without a run). */
function stageHelpersSource(ctx: TemplateContext): string {
  return `/**
 * \`${stageType(ctx)}\`: the mean signed error (yPred − yTrue) of regression predictions per group,
 * on the rows of one split. Positive: the model over-predicts for that group. The gap (largest
 * minus smallest group mean, over groups with at least \`minRows\` rows) is a one-number summary
 * of how unevenly the model is biased across groups.
 */
import { artifact, FairtuneError, inputPorts, requireArray, runAsync, stageInputs, type StageContext, type StagePlugin } from '@fairtune/core/plugin';

export interface SignedErrorParams {
  split: string;
  minRows: number;
}

export interface GroupSignedError {
  readonly group: string;
  readonly rows: number;
  /** Mean of yPred − yTrue over the group's rows; null when it has none. */
  readonly mean: number | null;
}

/** Mean signed error per group (index into \`names\`) over the rows \`use\` keeps; rows of group −1 are left out. */
export function signedErrorByGroup(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, group: ArrayLike<number>, names: readonly string[], use: (i: number) => boolean): GroupSignedError[] {
  const sum = new Float64Array(names.length);
  const rows = new Float64Array(names.length);
  for (let i = 0; i < yTrue.length; i++) {
    const g = group[i]!;
    if (g < 0 || !use(i)) continue;
    if (g >= names.length) throw new FairtuneError('FT_INPUT_CONTENT', 'predictions: row ' + i + ' has group ' + g + ', but meta.groups.names has ' + names.length + ' names', { port: 'predictions' });
    sum[g] += yPred[i]! - yTrue[i]!;
    rows[g]++;
  }
  return names.map((name, g) => ({ group: name, rows: rows[g]!, mean: rows[g] ? sum[g]! / rows[g]! : null }));
}

`;
}

/** The stage object: schema, ports and run(), which checks its input and emits events. */
function stagePluginSource(ctx: TemplateContext): string {
  return `/** Declared with inputPorts so that stageInputs types each input's meta by its kind (predictions → PredictionsMeta). */
const PORTS = inputPorts({ predictions: { kind: 'predictions', description: 'Regression predictions with group (and split) arrays.' } });

export const signedErrorStage: StagePlugin<SignedErrorParams> = {
  type: '${stageType(ctx)}',
  // Bump when the output changes for the same params and inputs: the version is part of the cache key.
  version: '1.0.0',
  description: 'Mean signed error (yPred − yTrue) of regression predictions per group on one split, and the gap between groups.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      split: { type: 'string', minLength: 1, default: 'test', description: 'Split whose rows are measured (a name in the predictions\\' splits), or "all".' },
      minRows: { type: 'integer', minimum: 1, default: 1, description: 'Fewest rows a group needs to count towards the gap.' },
    },
  },
  inputs: PORTS,
  outputs: { metrics: { kind: 'metrics', description: 'Per-group mean signed error, row counts and the gap.' } },
  run: (ctx: StageContext<SignedErrorParams>) =>
    runAsync(ctx.signal, async (emit) => {
      // Checked against the ports (a missing input is an FT_INPUT_MISSING error naming it) and typed by them.
      const input = stageInputs(ctx.inputs, PORTS).predictions;
      const meta = input.meta;
      // Errors a user can act on carry an FT_ code (docs/errors.md) and say what they are about.
      if (meta.task !== 'regression') throw new FairtuneError('FT_INPUT_CONTENT', 'predictions: task is "' + meta.task + '"; ${stageType(ctx)} measures regression outputs only', { port: 'predictions' });
      const names = meta.groups?.names;
      if (!names) throw new FairtuneError('FT_INPUT_CONTENT', 'predictions: meta.groups is absent; group the samples (split.groups) before predicting', { port: 'predictions' });
      const yTrue = requireArray(input, 'yTrue').data;
      const yPred = requireArray(input, 'yPred').data;
      const group = requireArray(input, 'group', 'int32').data;
      let use = (_i: number) => true;
      if (ctx.params.split !== 'all') {
        const at = (meta.splits ?? []).indexOf(ctx.params.split);
        if (at < 0) throw new FairtuneError('FT_PARAM_INVALID', 'params.split: "' + ctx.params.split + '" is not a split of the predictions (splits: ' + ((meta.splits ?? []).join(', ') || 'none') + '; or "all")', { param: 'split' });
        const split = requireArray(input, 'split', 'int8').data;
        use = (i) => split[i] === at;
      }
      // Yield once before the pass over the rows: an abort (Ctrl-C, a failed stage) is seen here.
      await emit.checkpoint();
      const groups = signedErrorByGroup(yTrue, yPred, group, names, use);
      const counted = groups.filter((g) => g.mean !== null && g.rows >= ctx.params.minRows).map((g) => g.mean!);
      const gap = counted.length >= 2 ? Math.max(...counted) - Math.min(...counted) : null;
      for (const g of groups) {
        if (g.mean === null) emit.log('warn', 'group ' + g.group + ': no rows in split ' + ctx.params.split);
        else emit.metric('signedError/' + g.group, g.mean);
      }
      if (gap !== null) emit.metric('signedErrorGap', gap);
      const perGroup: Record<string, { meanSignedError: number | null; rows: number }> = {};
      for (const g of groups) perGroup[g.group] = { meanSignedError: g.mean, rows: g.rows };
      emit.artifact('metrics', artifact('metrics', { label: 'mean signed error (yPred − yTrue)', split: ctx.params.split, groups: perGroup, gap }));
    }),
};
`;
}

function stageSource(ctx: TemplateContext): string {
  return stageHelpersSource(ctx) + stagePluginSource(ctx);
}

function indexSource(): string {
  return `/**
 * The package's entry point: FairTune imports it and loads \`containerModule\`, which binds the
 * stage to core's STAGE_PLUGIN token (a multi-injection: every package adds its own).
 */
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN } from '@fairtune/core/plugin';
import { signedErrorStage } from './signed-error.js';

export { signedErrorStage, signedErrorByGroup, type SignedErrorParams, type GroupSignedError } from './signed-error.js';

export const containerModule = new ContainerModule((options) => {
  // A block body: inversify 8 rejects a callback that returns a value.
  options.bind(STAGE_PLUGIN).toConstantValue(signedErrorStage);
});
`;
}

function specSource(ctx: TemplateContext): string {
  return `import { describe, expect, it } from '@jest/globals';
import { artifact, ndarray, type KindArtifact, type PredictionsMeta } from '@fairtune/core/plugin';
import { checkStageConformance, expectConformance, runStandalone } from '@fairtune/core/testing';
import { signedErrorStage } from './signed-error.js';

/** Predictions with a known bias: group "female" over-predicted by 2, "male" under-predicted by 1; splits alternate train/val/test. */
function predictions(): KindArtifact<'predictions'> {
  const n = 60;
  const yTrue = Float32Array.from({ length: n }, (_, i) => 60 + i);
  const group = Int32Array.from({ length: n }, (_, i) => i % 2);
  const split = Int8Array.from({ length: n }, (_, i) => Math.floor(i / 2) % 3);
  const yPred = yTrue.map((y, i) => y + (group[i] === 0 ? 2 : -1));
  const meta: PredictionsMeta = {
    task: 'regression', target: { name: 'hr', units: 'bpm' }, dataset: 'synthetic', synthetic: true, subjects: ['s0'],
    splits: ['train', 'val', 'test'], groups: { attributes: ['sex'], names: ['female', 'male'] },
  };
  return artifact('predictions', meta, { yTrue: ndarray(yTrue), yPred: ndarray(yPred), group: ndarray(group), split: ndarray(split), subject: ndarray(new Int32Array(n)) });
}

describe('${stageType(ctx)}', () => {
  it('conforms to the stage contract', async () => {
    await expectConformance(checkStageConformance(signedErrorStage, { params: { split: 'test' }, inputs: { predictions: predictions() } }));
  });

  it('measures a known per-group bias on the test split', async () => {
    const { outputs, events } = await runStandalone(signedErrorStage, { inputs: { predictions: predictions() } });
    const meta = outputs['metrics']!.meta as { groups: Record<string, { meanSignedError: number; rows: number }>; gap: number };
    expect(meta.groups['female']!.meanSignedError).toBeCloseTo(2, 6);
    expect(meta.groups['male']!.meanSignedError).toBeCloseTo(-1, 6);
    expect(meta.groups['female']!.rows + meta.groups['male']!.rows).toBe(20);
    expect(meta.gap).toBeCloseTo(3, 6);
    expect(events).toContainEqual({ type: 'metric', name: 'signedErrorGap', value: meta.gap });
  });

  it('names a split the predictions do not have', async () => {
    const run = runStandalone(signedErrorStage, { params: { split: 'dev' }, inputs: { predictions: predictions() } });
    await expect(run).rejects.toThrow(/params\\.split: "dev" is not a split/);
    await expect(run).rejects.toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'split' } });
  });
});
`;
}

export function stageFiles(ctx: TemplateContext): TemplateFile[] {
  const type = stageType(ctx);
  const section = `## Stage \`${type}\`

Reads \`predictions\` (regression, with \`group\` and \`split\` arrays) and emits \`metrics\`: the mean
signed error (yPred − yTrue) of each group on the rows of \`split\` (default \`test\`; \`all\` for every
row), and \`gap\`, the largest minus the smallest group mean among groups with at least \`minRows\`
rows. Each group's value and the gap are also stage metrics (\`signedError/<group>\`, \`signedErrorGap\`).`;
  const snippet = `{
  "plugins": ["${ctx.name}"],
  "stages": {
    "bias": { "type": "${type}", "params": { "split": "test" }, "inputs": { "predictions": "predict" } }
  }
}`;
  return [
    packageJson(ctx, `FairTune-TS plugin: ${type}, the mean signed error of predictions per group`),
    { path: 'src/signed-error.ts', text: stageSource(ctx) },
    { path: 'src/index.ts', text: indexSource() },
    { path: 'src/signed-error.spec.ts', text: specSource(ctx) },
    readme(ctx, `A stage plugin: \`${type}\`, the mean signed error of regression predictions per group.`, section, snippet),
  ];
}
