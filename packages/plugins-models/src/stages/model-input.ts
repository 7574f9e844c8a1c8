/**
 * Brings a raw `dataset` artifact to a model's input: replays the processing chain the model's
 * training data went through (recorded in `ModelMeta.inputSpec.processing`), resamples to the
 * model's rate, windows to its length, applies the training windows' quality checks and groups
 * the subjects as the training samples were grouped. The result is an in-memory `samples` artifact.
 */
import { artifact, DEFAULT_AGE_THRESHOLD, errorCode, FairtuneError, ndarray, subjectGroups, type KindArtifact, type ModelMeta, type NdArray, type QualityChecks, type SamplesMeta, type StageEmitter } from '@fairtune/core/plugin';
import {
  applyProcessingStep,
  compactSubjects,
  describeStep,
  filterSamples,
  qualityMask,
  remainingSteps,
  windowDataset,
  type DatasetArrays,
  type Normalisation,
  type ShortRecordings,
} from '@fairtune/signal';

/** `as-training`: the training windows' checks (flag only when the model has none recorded); `flag`: the dataset's quality flag only; `none`: keep every window. */
export type QualityMode = 'as-training' | 'flag' | 'none';

export interface DatasetInputOptions {
  /** Window shift in seconds; default: the window length (non-overlapping windows). */
  readonly shiftSeconds?: number;
  /** `as-training`: the model's recorded rule (`inputSpec.short`), else `tile`. */
  readonly short: ShortRecordings | 'as-training';
  readonly quality: QualityMode;
  /** Group attributes; default: those of the model's training samples. */
  readonly groups?: readonly string[];
  readonly ageThreshold?: number;
}

const NORMALISATIONS = new Set(['none', 'minmax', 'zscore']);
/** `flag` mode: the quality flag alone (the other checks can never fail). */
const FLAG_ONLY: QualityChecks = { useQualityFlag: true, maxFlatFraction: 1, maxClippingFraction: 1, targetRange: [-Infinity, Infinity] };

const SHORT_RULES: ReadonlySet<string> = new Set(['drop', 'pad-edge', 'tile']);

/**
 * The short-recording rule for a dataset brought to a model's input: an explicit one, else the
 * rule the model's training windows were made with, else `tile` (a model whose training data had
 * no short recordings has no rule to replay, and dropping would leave a 10-s dataset empty).
 */
export function shortRule(requested: ShortRecordings | 'as-training', recorded: string | undefined): ShortRecordings {
  if (requested !== 'as-training') return requested;
  if (recorded === undefined) return 'tile';
  if (!SHORT_RULES.has(recorded)) throw new FairtuneError('FT_INPUT_CONTENT', `the model's inputSpec.short "${recorded}" is not one of drop, pad-edge, tile`);
  return recorded as ShortRecordings;
}

export async function samplesFromDataset(dataset: KindArtifact<'dataset'>, model: ModelMeta, o: DatasetInputOptions, emit: StageEmitter, signal: AbortSignal, port = 'data'): Promise<KindArtifact<'samples'>> {
  const spec = model.inputSpec;
  const meta = dataset.meta;
  const where = `input "${port}" (dataset "${meta.name}")`;
  // Errors from the shared signal code name the input they came from and keep their code (a
  // dataset the model's processing or windows cannot be applied to, when uncoded); an abort passes through.
  const named = (e: unknown): never => {
    throw e instanceof Error && !signal.aborted ? new FairtuneError(errorCode(e) ?? 'FT_INPUT_CONTENT', `${where}: ${e.message}`, { port }, { cause: e }) : e;
  };
  if (!spec.fs) throw new FairtuneError('FT_INPUT_CONTENT', `the model's inputSpec has no sample rate, so dataset "${meta.name}" cannot be resampled to it`);
  const signals = spec.signals ?? ['ppg'];
  if (!spec.signals) emit.log('warn', `the model does not record which signals it was trained on; reading "${signals.join(', ')}"`);
  const target = model.target?.name ?? 'hr';
  const hooks = { checkpoint: () => emit.checkpoint(), progress: (d: number, t: number, id: string) => emit.progress(d, t, id, 'recordings') };
  let data: DatasetArrays = { meta, arrays: dataset.arrays };

  // 1. The training data's processing chain, minus what the dataset already went through.
  if (spec.processing) {
    const applied = meta.processing ?? [];
    const rest = remainingSteps(applied, spec.processing);
    if (rest === null) {
      throw new FairtuneError(
        'FT_INPUT_CONTENT',
        `${where} was processed with [${applied.map(describeStep).join('; ')}] but the model's training data with [${spec.processing.map(describeStep).join('; ') || 'nothing'}]; ` +
          `connect the loader's output (eval.predict replays the model's processing) or a dataset processed the same way`,
        { port },
      );
    }
    for (const step of rest) {
      emit.log('info', `${meta.name}: ${describeStep(step)} (as the model's training data)`);
      data = await applyProcessingStep(data, step, hooks).catch(named);
    }
  } else {
    emit.log('warn', `the model does not record its training data's processing (trained before it was recorded?); ${meta.name} is only resampled and windowed`);
  }

  // 2. The model's sample rate (the chain usually ends there already).
  const rates = new Set(data.meta.recordings.flatMap((r) => signals.map((s) => r.signals[s]?.fs).filter((f): f is number => f !== undefined)));
  if ([...rates].some((f) => Math.abs(f - spec.fs!) > 1e-9)) {
    emit.log('info', `${meta.name}: resample ${[...rates].join('/')} Hz to the model's ${spec.fs} Hz`);
    data = await applyProcessingStep(data, { op: 'resample', fs: spec.fs, signals }, hooks).catch(named);
  }

  // 3. Windows of the model's length.
  const normalisation = (spec.normalisation ?? 'none') as Normalisation;
  if (!NORMALISATIONS.has(normalisation)) throw new FairtuneError('FT_INPUT_CONTENT', `the model's inputSpec normalisation "${normalisation}" is not one of none, minmax, zscore`);
  const windowSeconds = spec.length / spec.fs;
  const short = shortRule(o.short, spec.short);
  const w = await windowDataset(data, { windowSeconds, shiftSeconds: o.shiftSeconds ?? windowSeconds, signals, target, normalisation, short }, hooks).catch(named);
  const { droppedShort, extendedShort, droppedNaN } = w.counts;
  const why = o.short !== 'as-training' ? '' : spec.short ? " (as the model's training windows)" : " (the model's training data had no short recordings)";
  if (extendedShort) emit.log('info', `${meta.name}: ${extendedShort} recording(s) shorter than the model's ${windowSeconds}-s input extended with '${short}'${why}`);
  if (droppedShort) emit.log('warn', `${meta.name}: ${droppedShort} recording(s) shorter than the model's ${windowSeconds}-s input dropped (short: 'drop'${why})`);
  if (droppedNaN) emit.log('info', `${meta.name}: ${droppedNaN} window(s) dropped for missing samples or labels`);
  let samplesMeta: SamplesMeta = w.meta;
  let arrays: Record<string, NdArray> = w.arrays;

  // 4. Quality checks.
  if (o.quality !== 'none') {
    const checks = o.quality === 'flag' ? FLAG_ONLY : (spec.quality ?? FLAG_ONLY);
    if (o.quality === 'as-training' && !spec.quality) emit.log('info', `the model records no quality checks of its training windows; ${meta.name}: dropping flagged windows only`);
    const q = qualityMask(arrays, checks);
    const n = q.keep.length;
    if (q.kept === 0) throw new FairtuneError('FT_INPUT_CONTENT', `${where}: every one of ${n} window(s) fails the quality checks (flag ${q.dropped.flag}, flat ${q.dropped.flat}, clipping ${q.dropped.clipping}, target ${q.dropped.target}); set quality: 'none' to evaluate them anyway`, { port });
    if (q.kept < n) emit.log('info', `${meta.name}: quality (${o.quality}) kept ${q.kept}/${n} windows (dropped: flag ${q.dropped.flag}, flat ${q.dropped.flat}, clipping ${q.dropped.clipping}, target ${q.dropped.target})`);
    const compact = compactSubjects({ ...samplesMeta, quality: checks }, filterSamples(arrays, q.keep));
    if (compact.removed.length) emit.log('info', `${meta.name}: ${compact.removed.length} subject(s) without windows left: ${compact.removed.join(', ')}`);
    samplesMeta = compact.meta;
    arrays = compact.arrays;
  }

  // 5. Groups, named as in training.
  const attributes = o.groups ?? model.groups?.attributes;
  if (attributes && attributes.length) {
    const ageThreshold = o.ageThreshold ?? model.groups?.ageThreshold ?? DEFAULT_AGE_THRESHOLD;
    let grouped: ReturnType<typeof subjectGroups>;
    try {
      grouped = subjectGroups(samplesMeta.subjectAttributes, samplesMeta.subjects.length, attributes, ageThreshold);
    } catch (e) {
      // subjectGroups' own code (an attribute the dataset lacks is FT_PARAM_INVALID: this stage's `groups` param chooses them).
      throw new FairtuneError(errorCode(e) ?? 'FT_INPUT_CONTENT', `${where}: cannot group subjects by ${attributes.join('|')}: ${(e as Error).message}`, { port, param: 'groups' }, { cause: e });
    }
    const group = Int32Array.from(arrays['subject']!.data, (s) => {
      const g = grouped.perSubject[s];
      return g === null || g === undefined ? -1 : grouped.names.indexOf(g);
    });
    const unknown = grouped.perSubject.filter((g) => g === null).length;
    if (unknown) emit.log('warn', `${meta.name}: ${unknown} subject(s) lack ${attributes.join('/')} and get group -1`);
    const unseen = grouped.names.filter((g) => model.groups && !model.groups.names.includes(g));
    if (unseen.length) emit.log('warn', `${meta.name}: group(s) ${unseen.join(', ')} did not occur in the model's training data`);
    samplesMeta = { ...samplesMeta, groups: { attributes, names: grouped.names, ...(attributes.includes('age') ? { ageThreshold } : {}) } };
    arrays = { ...arrays, group: ndarray(group) };
  }
  emit.log('info', `${meta.name}: ${arrays['y']!.shape[0]} window(s) of ${windowSeconds} s from ${samplesMeta.subjects.length} subject(s)`);
  return artifact('samples', samplesMeta, arrays);
}
