/** ViT (de)serialisation for the model stages: backbone/model artifacts in timm's layout and names. */
import { artifact, ArtifactKinds, FairtuneError, type Artifact, type ImageSpec, type KindArtifact, type InputSpec, type JsonObject, type ModelMeta, type SamplesMeta, type TaskKind } from '@fairtune/core/plugin';
import { validateVitConfig, type VitConfig, type VitPresetName } from '../vit/config.js';
import { Vit } from '../vit/model.js';

/** ModelMeta.config of a ViT: its sizes plus what training recorded. */
export interface StoredVitConfig extends VitConfig {
  readonly preset?: VitPresetName;
  /** = depth; search.fairtune counts mask bits from `config.nLayers` (3 per block). */
  readonly nLayers?: number;
  readonly mask?: string;
  readonly selection?: 'best' | 'last';
}

export function vitInputSpec(c: VitConfig, image?: ImageSpec): InputSpec {
  // `length` is the image side for image models; `image` (the training samples' spec) tells evaluation how to decode and normalise.
  return { modality: 'image', length: c.imageSize, channels: 3, ...(image ? { image } : {}) };
}

export function vitArtifact(kind: 'backbone' | 'model', model: Vit, extra: Partial<StoredVitConfig>, o: { task?: TaskKind; trainable?: number; info?: JsonObject; trainedOn?: SamplesMeta } = {}): Artifact {
  const config = { ...model.config, nLayers: model.config.depth, ...extra } as unknown as JsonObject;
  const t = o.trainedOn;
  const meta: ModelMeta = {
    architecture: 'vit',
    config,
    inputSpec: vitInputSpec(model.config, t?.image),
    ...(kind === 'model' && t ? { target: t.target } : {}),
    ...(kind === 'model' && t?.groups ? { groups: t.groups } : {}),
    ...(o.task ? { task: o.task } : {}),
    parameterCount: model.parameterCount,
    ...(o.trainable !== undefined ? { trainableParameterCount: o.trainable } : {}),
    ...(o.info ?? {}),
  };
  return artifact(kind === 'backbone' ? ArtifactKinds.backbone : ArtifactKinds.model, meta, model.toArrays());
}

export function isVitArtifact(a: KindArtifact<'backbone' | 'model'>): boolean {
  return a.meta.architecture === 'vit';
}

export function loadVit(a: KindArtifact<'backbone' | 'model'>, port: string): { model: Vit; stored: StoredVitConfig; meta: ModelMeta } {
  const meta = a.meta;
  if (meta.architecture !== 'vit') throw new FairtuneError('FT_INPUT_CONTENT', `input "${port}": architecture "${meta.architecture}" is not vit`, { port });
  const stored = meta.config as unknown as StoredVitConfig;
  validateVitConfig(stored, `input "${port}" config`, port);
  const { preset: _p, nLayers: _n, mask: _m, selection: _s, ...config } = stored;
  return { model: Vit.fromArrays(config as VitConfig, a.arrays, `input "${port}" (${a.kind})`, { port }), stored, meta };
}
