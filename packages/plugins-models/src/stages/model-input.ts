/**
 * Brings a raw `dataset` artifact to a model's input: replays the processing chain the model's
 * training data went through (recorded in `ModelMeta.inputSpec.processing`), resamples to the
 * model's rate, windows to its length, drops windows flagged as poor quality and groups the
 * subjects as the training samples were grouped. The result is an in-memory `samples` artifact.
 */
import { artifact, ndarray, subjectGroups, type Artifact, type DatasetMeta, type ModelMeta, type NdArray, type SamplesMeta, type StageEmitter } from '@fairtune/core';
import { applyProcessingStep, describeStep, filterSamples, remainingSteps, windowDataset, type DatasetArrays, type Normalisation, type ShortRecordings } from '@fairtune/signal';

export interface DatasetInputOptions {
  /** Window shift in seconds; default: the window length (non-overlapping windows). */
  readonly shiftSeconds?: number;
  readonly short: ShortRecordings;
  /** Drop windows whose `quality` label is 0 (e.g. BUT-PPG's annotated poor-quality records). */
  readonly dropLowQuality: boolean;
  /** Group attributes; default: those of the model's training samples. */
  readonly groups?: readonly string[];
  readonly ageThreshold?: number;
}

const NORMALISATIONS = new Set(['none', 'minmax', 'zscore']);

export async function samplesFromDataset(dataset: Artifact, model: ModelMeta, o: DatasetInputOptions, emit: StageEmitter, port = 'data'): Promise<Artifact> {
  const spec = model.inputSpec;
  const meta = dataset.meta as unknown as DatasetMeta;
  const where = `input "${port}" (dataset "${meta.name}")`;
  if (!spec.fs) throw new Error(`the model's inputSpec has no sample rate, so dataset "${meta.name}" cannot be resampled to it`);
  const signals = spec.signals ?? ['ppg'];
  if (!spec.signals) emit.log('warn', `the model does not record which signals it was trained on; reading "${signals.join(', ')}"`);
  const target = model.target?.name ?? 'hr';

  // 1. The training data's processing chain, minus what the dataset already went through.
  const wanted = spec.processing ?? [];
  const applied = meta.processing ?? [];
  const rest = remainingSteps(applied, wanted);
  if (rest === null) {
    throw new Error(
      `${where} was processed with [${applied.map(describeStep).join('; ')}] but the model's training data with [${wanted.map(describeStep).join('; ') || 'nothing'}]; ` +
        `connect the loader's output (eval.predict replays the model's processing) or a dataset processed the same way`,
    );
  }
  if (!spec.processing) emit.log('warn', `the model does not record its training data's processing; only resampling and windowing ${meta.name}`);
  let data: DatasetArrays = { meta, arrays: dataset.arrays };
  const hooks = { checkpoint: () => emit.checkpoint(), progress: (d: number, t: number, id: string) => emit.progress(d, t, id, 'recordings') };
  for (const step of rest) {
    emit.log('info', `${meta.name}: ${describeStep(step)} (as the model's training data)`);
    data = await applyProcessingStep(data, step, hooks);
  }

  // 2. The model's sample rate (the chain usually ends there already).
  const rates = new Set(data.meta.recordings.flatMap((r) => signals.map((s) => r.signals[s]?.fs).filter((f): f is number => f !== undefined)));
  if ([...rates].some((f) => Math.abs(f - spec.fs!) > 1e-9)) {
    emit.log('info', `${meta.name}: resample ${[...rates].join('/')} Hz to the model's ${spec.fs} Hz`);
    data = await applyProcessingStep(data, { op: 'resample', fs: spec.fs, signals }, hooks);
  }

  // 3. Windows of the model's length.
  const normalisation = (spec.normalisation ?? 'none') as Normalisation;
  if (!NORMALISATIONS.has(normalisation)) throw new Error(`the model's inputSpec normalisation "${normalisation}" is not one of none, minmax, zscore`);
  const windowSeconds = spec.length / spec.fs;
  const w = await windowDataset(data, { windowSeconds, shiftSeconds: o.shiftSeconds ?? windowSeconds, signals, target, normalisation, short: o.short }, hooks).catch((e: unknown) => {
    throw e instanceof Error ? new Error(`${where}: ${e.message}`, { cause: e }) : e;
  });
  const { droppedShort, extendedShort, droppedNaN } = w.counts;
  if (extendedShort) emit.log('info', `${meta.name}: ${extendedShort} recording(s) shorter than the model's ${windowSeconds}-s input extended with '${o.short}'`);
  if (droppedShort) emit.log('warn', `${meta.name}: ${droppedShort} recording(s) shorter than the model's ${windowSeconds}-s input dropped (short: 'drop')`);
  if (droppedNaN) emit.log('info', `${meta.name}: ${droppedNaN} window(s) dropped for missing samples or labels`);
  let arrays: Record<string, NdArray> = w.arrays;

  // 4. Quality annotations.
  const quality = arrays['aux/quality'];
  if (o.dropLowQuality && quality) {
    const keep = Array.from(quality.data, (q) => q !== 0);
    const dropped = keep.filter((k) => !k).length;
    if (dropped === keep.length) throw new Error(`${where}: every window is annotated as poor quality (quality = 0); set dropLowQuality: false to evaluate them anyway`);
    if (dropped) emit.log('info', `${meta.name}: ${dropped} of ${keep.length} window(s) annotated as poor quality dropped (dropLowQuality)`);
    arrays = filterSamples(arrays, keep);
  }

  // 5. Groups, named as in training.
  let samplesMeta: SamplesMeta = w.meta;
  const attributes = o.groups ?? model.groups?.attributes;
  if (attributes && attributes.length) {
    const ageThreshold = o.ageThreshold ?? model.groups?.ageThreshold;
    let grouped: ReturnType<typeof subjectGroups>;
    try {
      grouped = subjectGroups(samplesMeta.subjectAttributes, samplesMeta.subjects.length, attributes, ageThreshold);
    } catch (e) {
      throw new Error(`${where}: cannot group subjects by ${attributes.join('|')}: ${(e as Error).message}`);
    }
    const subject = arrays['subject']!.data;
    const group = Int32Array.from(subject, (s) => {
      const g = grouped.perSubject[s];
      return g === null || g === undefined ? -1 : grouped.names.indexOf(g);
    });
    const unknown = grouped.perSubject.filter((g) => g === null).length;
    if (unknown) emit.log('warn', `${meta.name}: ${unknown} subject(s) lack ${attributes.join('/')} and get group -1`);
    const unseen = grouped.names.filter((g) => model.groups && !model.groups.names.includes(g));
    if (unseen.length) emit.log('warn', `${meta.name}: group(s) ${unseen.join(', ')} did not occur in the model's training data`);
    samplesMeta = { ...samplesMeta, groups: { attributes, names: grouped.names, ...(ageThreshold !== undefined && attributes.includes('age') ? { ageThreshold } : {}) } };
    arrays = { ...arrays, group: ndarray(group) };
  }
  emit.log('info', `${meta.name}: ${arrays['y']!.shape[0]} window(s) of ${windowSeconds} s from ${samplesMeta.subjects.length} subject(s)`);
  return artifact('samples', samplesMeta as never, arrays);
}
