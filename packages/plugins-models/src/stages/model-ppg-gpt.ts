/** `model.ppg-gpt`: builds a PPG-GPT backbone from a preset or explicit sizes, or loads a weights file. */
import { weightsFingerprint } from './weights-fingerprint.js';
import { injectable } from 'inversify';
import { FairtuneError, runAsync, type JsonObject, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { resolve } from 'node:path';
import { backendParam, seedParam } from './params.js';
import { PRESETS, type PpgGptConfig } from '../ppg-gpt/config.js';

export const architectureParams = {
  preset: { type: 'string', enum: Object.keys(PRESETS), default: 'small', description: 'Size preset: tiny, small (CPU), 19m (the paper\'s published configuration), 85m, 345m, 1b (assumed shapes, docs/models.md; 345m and 1b need @tensorflow/tfjs-node(-gpu)).' },
  windowLength: { type: 'integer', minimum: 1, description: 'Samples per window (default 1200 = 30 s at 40 Hz).' },
  fs: { type: 'number', exclusiveMinimum: 0, description: 'Sampling rate the model expects (default 40 Hz).' },
  patchSize: { type: 'integer', minimum: 1, description: 'Samples per patch/token (default 40).' },
  dModel: { type: 'integer', minimum: 4 },
  nHeads: { type: 'integer', minimum: 1 },
  nLayers: { type: 'integer', minimum: 1 },
  ffnMultiplier: { type: 'integer', minimum: 1 },
  dropout: { type: 'number', minimum: 0, maximum: 0.99 },
  attentionDropout: { type: 'number', minimum: 0, maximum: 0.99 },
  ropeTheta: { type: 'number', exclusiveMinimum: 0 },
} as const;

interface Params {
  seed?: number;
  weights?: string;
  backend?: string;
  [k: string]: unknown;
}

@injectable()
export class PpgGptModelStage implements StagePlugin<Params> {
  readonly type = 'model.ppg-gpt';
  readonly version = '2';
  readonly description = 'PPG-GPT backbone (GPT-PPG design): seeded initialisation or pretrained weights from a safetensors file.';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...architectureParams,
      seed: seedParam,
      weights: { type: 'string', minLength: 1, description: 'Path of a safetensors weights file (see docs/models.md); sizes come from its __metadata__.config when present.' },
      backend: backendParam,
    },
  };
  readonly inputs = {};
  readonly outputs = { backbone: { kind: 'backbone', description: 'PPG-GPT backbone weights + ModelMeta' } };

  /** The weights file's path, size and time, so a replaced file re-runs the stage (none given: no fingerprint). */
  fingerprint(p: Params): string | undefined {
    // 'recorded': backbones loaded before the file was recorded in their meta (for train.pretrain's
    // onWeights) get a new key, so no cached one without the record is reused.
    const fingerprint = weightsFingerprint(p.weights, this.type);
    return fingerprint === undefined ? undefined : `recorded\u0000${fingerprint}`;
  }

  run(ctx: StageContext<Params>) {
    return runAsync(ctx.signal, async (emit) => {
      // Tensor code loads here, on first use (one import at a time: jest's ESM linker fails on concurrent ones).
      const { configFromParams, modelArtifact, startEngine } = await import('./common.js');
      const { PpgGpt } = await import('../ppg-gpt/model.js');
      const { readSafetensors } = await import('../ppg-gpt/weights.js');
      await startEngine(emit, ctx.params.backend);
      let params = ctx.params as JsonObject;
      let file: ReturnType<typeof readSafetensors> | undefined;
      if (ctx.params.weights) {
        const path = resolve(ctx.params.weights);
        file = readSafetensors(path);
        const metaConfig = file.metadata['config'];
        if (metaConfig !== undefined) {
          let parsed: Partial<PpgGptConfig>;
          try {
            parsed = JSON.parse(metaConfig) as Partial<PpgGptConfig>;
          } catch (err) {
            throw new FairtuneError('FT_DATA_FORMAT', `weights file ${path}: __metadata__.config is not JSON (${(err as Error).message})`, { file: path }, { cause: err });
          }
          // Explicit stage params win over the file's metadata, which wins over the preset.
          params = { ...(parsed as JsonObject), ...(ctx.params as JsonObject) };
        }
      }
      const config = configFromParams(params, `${this.type} params`);
      // Before any tensor exists: 345m and 1b cannot train in the wasm32 heap, so building them there fails now.
      const { checkPpgGptMemory } = await import('../ppg-gpt/memory.js');
      const { tensorBackend } = await import('../engine/backend.js');
      checkPpgGptMemory(config, 1, tensorBackend(), `${this.type} (preset ${config.preset})`);
      const seed = ctx.params.seed ?? ctx.seed;
      const model = file ? PpgGpt.fromArrays(config, file.tensors, undefined, `weights file ${resolve(ctx.params.weights!)}`, { file: resolve(ctx.params.weights!) }) : PpgGpt.create(config, seed);
      try {
        emit.metric('parameters_total', model.parameterCount);
        emit.log('info', `PPG-GPT ${config.preset} (d ${config.dModel}, ${config.nHeads} heads, ${config.nLayers} layers): ${model.parameterCount} parameters` + (file ? ' loaded from file' : ` initialised with seed ${seed}`));
        // The file is recorded, so train.pretrain can pass a loaded backbone through (onWeights).
        emit.artifact('backbone', modelArtifact('backbone', model, { preset: config.preset }, undefined, undefined, file ? { weights: { file: resolve(ctx.params.weights!) } } : {}));
      } finally {
        model.dispose();
      }
    });
  }
}
