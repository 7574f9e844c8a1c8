/** Helpers shared by the model stages: backend selection, model (de)serialisation, param schemas. */
import type { Artifact, InputSpec, JsonObject, KindArtifact, ModelMeta, SamplesMeta, StageEmitter, TaskKind } from '@fairtune/core/plugin';
import { artifact, ArtifactKinds, FairtuneError } from '@fairtune/core/plugin';
import { initEngine } from '../engine/backend.js';
import { PRESETS, validateConfig, type Pooling, type PpgGptConfig, type PresetName } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';

/** Initialises the engine and records the backend in the run record. */
export async function startEngine(emit: StageEmitter, backend: string | undefined): Promise<void> {
  const info = await initEngine(backend);
  emit.environment('tensorBackend', info.backend);
  emit.log('info', `tensor backend: ${info.detail}` + (info.skipped.length ? ` (skipped: ${info.skipped.join('; ')})` : ''));
}

/** Extra model info stored in ModelMeta.config next to the architecture sizes. */
export interface StoredConfig extends PpgGptConfig {
  readonly preset?: PresetName;
  readonly pooling?: Pooling;
  readonly targetMean?: number;
  readonly targetStd?: number;
  readonly mask?: string;
}

export function configFromParams(p: JsonObject, where: string): PpgGptConfig & { preset: PresetName } {
  const preset = (p['preset'] as PresetName | undefined) ?? 'small';
  const base = PRESETS[preset];
  const pick = <K extends keyof PpgGptConfig>(k: K): PpgGptConfig[K] => (p[k] !== undefined ? (p[k] as PpgGptConfig[K]) : base[k]);
  const c = {
    preset,
    windowLength: pick('windowLength'),
    fs: pick('fs'),
    patchSize: pick('patchSize'),
    dModel: pick('dModel'),
    nHeads: pick('nHeads'),
    nLayers: pick('nLayers'),
    ffnMultiplier: pick('ffnMultiplier'),
    dropout: pick('dropout'),
    attentionDropout: pick('attentionDropout'),
    ropeTheta: pick('ropeTheta'),
  };
  validateConfig(c, where);
  return c;
}

/**
 * The model's input spec. With the samples it was trained on, it also records how they were
 * made (signals, processing chain, normalisation, quality checks), so `eval.predict` can bring a raw
 * dataset to the same input.
 */
export function inputSpecOf(config: PpgGptConfig, trainedOn?: SamplesMeta): InputSpec {
  const s = trainedOn?.signal;
  return {
    modality: 'ppg',
    fs: config.fs,
    length: config.windowLength,
    channels: 1,
    ...(s?.signals ? { signals: s.signals } : {}),
    ...(s?.processing ? { processing: s.processing } : {}),
    ...(s?.normalisation ? { normalisation: s.normalisation } : {}),
    ...(trainedOn?.quality ? { quality: trainedOn.quality } : {}),
    ...(s?.short ? { short: s.short } : {}),
  };
}

export function modelArtifact(kind: 'backbone' | 'model', model: PpgGpt, extra: Partial<StoredConfig>, task?: TaskKind, trainable?: number, info: JsonObject = {}, trainedOn?: SamplesMeta): Artifact {
  const config = { ...model.config, ...extra } as unknown as JsonObject;
  const meta: ModelMeta = {
    architecture: 'ppg-gpt',
    config,
    inputSpec: inputSpecOf(model.config, trainedOn),
    // A fine-tuned model predicts a target for groups; a backbone has neither.
    ...(kind === 'model' && trainedOn ? { target: trainedOn.target } : {}),
    ...(kind === 'model' && trainedOn?.groups ? { groups: trainedOn.groups } : {}),
    ...(task ? { task } : {}),
    parameterCount: model.parameterCount,
    ...(trainable !== undefined ? { trainableParameterCount: trainable } : {}),
    // e.g. `method` (training strategy) and `history` (per-epoch curves read by report.compare).
    ...info,
  };
  return artifact(kind === 'backbone' ? ArtifactKinds.backbone : ArtifactKinds.model, meta, model.toArrays());
}

/** Rebuilds a model from a backbone/model artifact (task head included when the artifact has one). */
export function loadModel(a: KindArtifact<'backbone' | 'model'>, port: string): { model: PpgGpt; stored: StoredConfig; meta: ModelMeta } {
  const meta = a.meta;
  if (meta.architecture !== 'ppg-gpt') throw new FairtuneError('FT_INPUT_CONTENT', `input "${port}": architecture "${meta.architecture}" is not ppg-gpt`, { port });
  const stored = meta.config as unknown as StoredConfig;
  validateConfig(stored, `input "${port}" config`, port);
  const model = PpgGpt.fromArrays(stored, a.arrays, a.kind === 'model' ? stored.pooling : undefined, `input "${port}" (${a.kind})`, { port });
  return { model, stored, meta };
}
