/** `model.vit`: a ViT backbone from a preset, seeded or with timm weights from a safetensors file. */
import { weightsFingerprint } from './weights-fingerprint.js';
import { injectable } from 'inversify';
import { runAsync, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { resolve } from 'node:path';
import { backendParam, seedParam } from './params.js';

const VIT_PRESET_NAMES = ['tiny', 'small', 'vit-s16', 'vit-b16'];

interface Params {
  preset: string;
  imageSize?: number;
  classes: number;
  weights?: string;
  seed?: number;
  backend?: string;
}

@injectable()
export class VitModelStage implements StagePlugin<Params> {
  readonly type = 'model.vit';
  // 2: a backbone loaded from a file records it (meta.weights), which train.pretrain reads to skip pretraining; weights "" means none.
  readonly version = '2';
  readonly description = "Vision Transformer backbone with timm's variable names: seeded initialisation or timm weights (e.g. vit_base_patch16_224.safetensors), position embeddings resampled to the image size.";
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      preset: { type: 'string', enum: VIT_PRESET_NAMES, default: 'tiny', description: 'tiny (32², CPU), small (64²), vit-s16 (ViT-S/16), vit-b16 (ViT-B/16, the FairTune paper).' },
      imageSize: { type: 'integer', minimum: 1, description: "Input side in pixels (default: the preset's); a multiple of the patch size. Weights for another size get their position embeddings resampled." },
      classes: { type: 'integer', minimum: 1, default: 1, description: 'Head outputs (1 for binary classification); a file whose head differs gets a fresh head.' },
      weights: {
        type: 'string',
        description: 'Path of a timm VisionTransformer state dict in safetensors format. An empty string means none (what "${FAIRTUNE_VIT_WEIGHTS:-}" gives when the variable is unset), so one pipeline serves both.',
      },
      seed: seedParam,
      backend: backendParam,
    },
  };
  readonly inputs = {};
  readonly outputs = { backbone: { kind: 'backbone', description: 'ViT weights (timm layout and names) + ModelMeta' } };

  /** The weights file's path, size and time, so a replaced file re-runs the stage (none given: no fingerprint). */
  fingerprint(p: Params): string | undefined {
    return weightsFingerprint(p.weights, this.type);
  }

  run(ctx: StageContext<Params>) {
    return runAsync(ctx.signal, async (emit) => {
      const { startEngine } = await import('./common.js');
      const { vitArtifact } = await import('./vit-common.js');
      const { VIT_PRESETS, validateVitConfig } = await import('../vit/config.js');
      const { Vit, initialHead } = await import('../vit/model.js');
      const { importTimm } = await import('../vit/weights.js');
      const { readSafetensors } = await import('../io/safetensors.js');
      await startEngine(emit, ctx.params.backend);
      const p = ctx.params;
      const preset = p.preset as keyof typeof VIT_PRESETS;
      const config = { ...VIT_PRESETS[preset], numClasses: p.classes, ...(p.imageSize !== undefined ? { imageSize: p.imageSize } : {}) };
      validateVitConfig(config, `${this.type} params`);
      const seed = p.seed ?? ctx.seed;
      let model: import('../vit/model.js').Vit;
      if (p.weights) {
        const path = resolve(p.weights);
        const imp = importTimm(readSafetensors(path).tensors, config, `weights file ${path}`, path);
        if (imp.ignored.length) emit.log('warn', `weights file ${path}: ${imp.ignored.length} tensor(s) not used by the model: ${imp.ignored.join(', ')}`);
        if (imp.resampled) emit.log('info', `position embeddings resampled from a ${imp.resampled.from}² to a ${imp.resampled.to}² patch grid (bicubic, class token kept)`);
        if (imp.newHead) emit.log('info', `the file's head does not have ${config.numClasses} output(s): a new head, initialised with seed ${seed}`);
        model = Vit.fromArrays(config, { ...imp.arrays, ...(imp.newHead ? initialHead(config, seed) : {}) }, `weights file ${path}`, { file: path });
      } else {
        model = Vit.create(config, seed);
      }
      try {
        emit.metric('parameters_total', model.parameterCount);
        emit.log('info', `ViT ${preset} (${config.imageSize}², patch ${config.patchSize}, dim ${config.dim}, depth ${config.depth}, ${config.heads} heads): ${model.parameterCount} parameters` + (p.weights ? ' loaded from file' : ` initialised with seed ${seed}`));
        emit.artifact('backbone', vitArtifact('backbone', model, { preset }, p.weights ? { info: { weights: { file: resolve(p.weights) } } } : {}));
      } finally {
        model.dispose();
      }
    });
  }
}
