/**
 * Metadata and array conventions of the well-known artifact kinds. These are the contracts
 * between plugin packages: a data plugin writes `samples`, a model plugin reads them, a
 * fairness plugin reads `predictions` and `embeddings`. Plugins never import each other.
 */
import type { JsonObject, JsonValue } from './artifact.js';

export type AttributeValue = string | number | null;

/** A signal stored as array `array` of shape [T] (one channel) or [T, C]. */
export interface SignalRef {
  readonly array: string;
  /** Sampling rate in Hz. */
  readonly fs: number;
  readonly units?: string;
  readonly channels?: readonly string[];
}

/**
 * A label series stored as array `array` of shape [K]. Label k covers
 * [offsetSeconds + k·shiftSeconds, … + windowSeconds) of the recording, unless `timesArray`
 * gives explicit centre times in seconds.
 */
export interface LabelSeries {
  readonly array: string;
  readonly units?: string;
  /** Codes (e.g. activity ids), not measurements: aligned to a window by the mode, never averaged. */
  readonly categorical?: boolean;
  readonly windowSeconds?: number;
  readonly shiftSeconds?: number;
  readonly offsetSeconds?: number;
  readonly timesArray?: string;
}

export interface RecordingRecord {
  /** Unique recording id within the dataset (e.g. `S1`, `100001`). */
  readonly id: string;
  /** Subject the recording belongs to; splits are made by subject. */
  readonly subject: string;
  /** Demographics: `sex` ('male' | 'female'), `age` (years), `skinType`, … as the source provides them. */
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly signals: Readonly<Record<string, SignalRef>>;
  /** e.g. `hr` (beats per minute), `activity`, `quality`. */
  readonly labels: Readonly<Record<string, LabelSeries>>;
  /** Files the recording was read from, with SHA-256 checksums. */
  readonly files?: readonly { readonly path: string; readonly sha256: string }[];
}

/**
 * One signal-processing step applied to a dataset's signals. Preprocessing stages append the
 * step to `DatasetMeta.processing`; windowing carries the list into the samples, training into
 * the model's `inputSpec`, so `eval.predict` can replay the same chain on another dataset.
 * `signals` lists the signal keys the step touched (absent: every signal).
 */
export type SignalProcessingStep =
  | { readonly op: 'bandpass'; readonly low: number; readonly high: number; readonly order: number; readonly signals?: readonly string[] }
  | { readonly op: 'resample'; readonly fs: number; readonly signals?: readonly string[] };

/** Meta of a `dataset` artifact: raw recordings as a loader read them. */
export interface DatasetMeta {
  /** Dataset name: `dalia`, `but-ppg`, `mimic`, … */
  readonly name: string;
  /** True when the data came from a synthetic cohort generator. */
  readonly synthetic: boolean;
  readonly source: { readonly root: string; readonly note?: string };
  readonly recordings: readonly RecordingRecord[];
  /** Processing steps applied since loading, in order (absent or empty: raw as loaded). */
  readonly processing?: readonly SignalProcessingStep[];
}

export type TaskKind = 'regression' | 'classification';

/**
 * Meta of a `samples` artifact. Arrays:
 * - `x` float32 [N, L] (one channel) or [N, L, C] for signals, [N, H, W, C] for images
 * - `y` float32 [N] (regression target, or 0/1 for binary classification)
 * - `subject` int32 [N]: index into `subjects`
 * - `split` int8 [N] (optional): index into `splits`, −1 = unassigned
 * - `group` int32 [N] (optional): index into `groups.names`, −1 = unknown attribute
 */
export interface SamplesMeta {
  readonly name: string;
  readonly synthetic: boolean;
  readonly modality: string;
  readonly task: TaskKind;
  readonly target: { readonly name: string; readonly units?: string };
  readonly signal?: {
    readonly fs: number;
    readonly length: number;
    readonly channels: readonly string[];
    readonly windowSeconds: number;
    readonly shiftSeconds: number;
    readonly normalisation?: string;
    /** Dataset signal keys stacked as channels (e.g. `["ppg"]`). */
    readonly signals?: readonly string[];
    /** Processing applied to the dataset before windowing. */
    readonly processing?: readonly SignalProcessingStep[];
    /**
     * Rule applied to recordings shorter than one window (`tile`, `pad-edge`, `drop`); recorded
     * only when at least one recording was that short, so a model trained on such windows has
     * its evaluation data extended (or dropped) the same way.
     */
    readonly short?: string;
  };
  /** Image samples: how `x` (uint8 [N, H, W, 3], RGB) was made and how a model normalises it. */
  readonly image?: ImageSpec;
  readonly subjects: readonly string[];
  /** attribute name → value per subject index. */
  readonly subjectAttributes: Readonly<Record<string, readonly AttributeValue[]>>;
  readonly splits?: readonly string[];
  readonly groups?: GroupsMeta;
  /** Window quality checks the samples passed (`preprocess.quality`). */
  readonly quality?: QualityChecks;
}

/**
 * Images stored as uint8 RGB [N, H, W, 3] after decoding, resizing (shorter side to `resize`)
 * and centre-cropping to `height` × `width`. They stay uint8 in the artifact (a quarter of
 * float32's size); a model converts each batch to float as (x / 255 − mean) / std per channel.
 */
export interface ImageSpec {
  readonly height: number;
  readonly width: number;
  readonly channels: 3;
  /** Shorter side after resizing, before the centre crop. */
  readonly resize: number;
  /** Per-channel mean and standard deviation on the 0–1 scale (ImageNet's by default). */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Decoder and its version (e.g. `sharp 0.35.5, libvips 8.17.3`): decoders differ by a few grey levels. */
  readonly decoder: string;
}

/** Window quality checks: a window failing any of them is dropped. */
export interface QualityChecks {
  /** Drop windows whose `aux/quality` label is 0 (BUT-PPG's annotation). */
  readonly useQualityFlag: boolean;
  /** Longest run of unchanged samples, as a fraction of the window. */
  readonly maxFlatFraction: number;
  /** Fraction of samples at the window's minimum or maximum. */
  readonly maxClippingFraction: number;
  /** Plausible target range, e.g. [30, 220] bpm. */
  readonly targetRange: readonly [number, number];
}

/** How samples were grouped: the attributes (joined with `|`), the group names, and the age cut. */
export interface GroupsMeta {
  readonly attributes: readonly string[];
  readonly names: readonly string[];
  /** Age groups are `<=T` / `>T` for this T (see `groupKey`). */
  readonly ageThreshold?: number;
}

/**
 * The input a model expects; `eval.predict` replays `processing`, resamples and windows other
 * datasets to it. Models fine-tuned on windowed samples record every field.
 */
export interface InputSpec {
  readonly modality: string;
  readonly fs?: number;
  readonly length: number;
  readonly channels?: number;
  /** Dataset signal keys the model reads, stacked as channels. */
  readonly signals?: readonly string[];
  /** Processing the training data went through before windowing. */
  readonly processing?: readonly SignalProcessingStep[];
  /** Per-window normalisation of the training windows (`none`, `minmax`, `zscore`). */
  readonly normalisation?: string;
  /** Quality checks the training windows passed. */
  readonly quality?: QualityChecks;
  /** Rule the training windowing applied to recordings shorter than a window (`signal.short` of the samples); `eval.predict` replays it. */
  readonly short?: string;
  /** Image models: the size and normalisation the training images had; evaluation applies the same. */
  readonly image?: ImageSpec;
}

/**
 * Meta of `backbone` and `model` artifacts. Arrays: one float32 array per variable, named by
 * its path (e.g. `blocks.0.attention.wqkv`).
 */
export interface ModelMeta {
  readonly architecture: string;
  readonly config: JsonValue;
  readonly inputSpec: InputSpec;
  readonly task?: TaskKind;
  readonly parameterCount: number;
  readonly trainableParameterCount?: number;
  /** Training strategy (mitigation) a fine-tuned model was trained with; labels its predictions. */
  readonly method?: string;
  /** Per-epoch training curves, e.g. `{ epoch, trainLoss, valLoss, valMae }`; reports plot them. */
  readonly history?: readonly Readonly<Record<string, number>>[];
  /** Target the model predicts (label series name and units). */
  readonly target?: { readonly name: string; readonly units?: string };
  /** Groups of the training samples; `eval.predict` groups another dataset the same way. */
  readonly groups?: GroupsMeta;
  /** Fine-tuned models: the resolved training params (strategy included) and the seed, as model cards report them. */
  readonly training?: JsonObject;
  /** Pretrained backbones: the pretraining's params and seed. */
  readonly pretraining?: JsonObject;
  /** The epoch whose weights were kept (1-based), and the validation metric that chose it. */
  readonly bestEpoch?: number;
  readonly selectionMetric?: string;
  /** The training strategy's final state (e.g. GroupDRO's group weights). */
  readonly strategyState?: JsonValue;
  /** The weights file a backbone was loaded from (absolute path), when it was loaded from one. */
  readonly weights?: { readonly file: string };
}

/**
 * Meta of a `predictions` artifact. Arrays: `yTrue` float32 [N], `yPred` float32 [N]
 * (regression value, or probability of the positive class), `subject` int32 [N], and when
 * known `group` int32 [N] and `split` int8 [N].
 */
export interface PredictionsMeta {
  readonly task: TaskKind;
  readonly target: { readonly name: string; readonly units?: string };
  readonly dataset: string;
  readonly synthetic: boolean;
  readonly subjects: readonly string[];
  readonly splits?: readonly string[];
  readonly groups?: GroupsMeta;
  /** Label of what produced the predictions (mitigation/method name), used by reports. */
  readonly method?: string;
}

/** Meta of an `embeddings` artifact. Arrays: `z` float32 [N, D], `subject`, `group`, `split` as in predictions. */
export type EmbeddingsMeta = PredictionsMeta;

/** Per-group values of one stratified breakdown (by true-value bin, by activity) in a metrics meta. */
export interface StratifiedMetrics {
  readonly strata: readonly string[];
  /** group → stratum → errors of the group's rows in that stratum. */
  readonly groups: Readonly<Record<string, Readonly<Record<string, { readonly n: number; readonly subjects: number; readonly mae: number | null; readonly bias: number | null }>>>>;
  /** stratum → largest MAE difference between eligible groups (null: fewer than two). */
  readonly maeGap: Readonly<Record<string, number | null>>;
}

/**
 * Meta of a `metrics` artifact, as `eval.metrics` writes it and reports and model cards read it.
 * No arrays. Every field is optional to readers (another metrics stage may write fewer), and a
 * writer may add fields of its own. A metric that could not be computed is `null` (JSON has no
 * NaN). Flat metric keys (`mae`, `group.female.mae`, `gap.mae`, …) are those of the CIs.
 */
export interface MetricsMeta {
  /** Method (mitigation) label; null when unknown. */
  readonly method?: string | null;
  /** Evaluation dataset. */
  readonly dataset?: string;
  /** Dataset the model was fine-tuned on, when it differs (a source → target transfer). */
  readonly trainedOn?: string;
  readonly synthetic?: boolean;
  readonly task?: TaskKind;
  readonly target?: { readonly name: string; readonly units?: string };
  /** Split evaluated (null: every row). */
  readonly split?: string | null;
  /** Stage seed: two methods' metrics with the same seed share split and initialisation (reports pair them). */
  readonly seed?: number;
  /** Rows and subjects evaluated. */
  readonly n?: number;
  readonly subjects?: number;
  readonly groupAttributes?: readonly string[];
  readonly groupNames?: readonly string[];
  readonly overall?: Readonly<Record<string, number | null>>;
  /** group name → metric → value. */
  readonly groups?: Readonly<Record<string, Readonly<Record<string, number | null>>>>;
  readonly minSubjects?: number;
  readonly smallGroups?: readonly { readonly group: string; readonly subjects: number }[];
  readonly gapGroups?: readonly string[];
  readonly gapNote?: string | null;
  readonly byTargetBin?: StratifiedMetrics & { readonly edges?: readonly number[]; readonly units?: string | null };
  readonly byActivity?: StratifiedMetrics & { readonly column?: string };
  /** Representation metrics of the embeddings (MMD² between groups, Silhouette by group). */
  readonly representation?: { readonly mmd2?: number | null; readonly silhouette?: number | null; readonly [key: string]: JsonValue | undefined };
  /** Subject-level bootstrap CIs by flat metric key. */
  readonly ci?: {
    readonly level?: number;
    readonly replicates?: number;
    readonly intervals?: Readonly<Record<string, { readonly lo: number | null; readonly hi: number | null; readonly valid?: number }>>;
    readonly [key: string]: JsonValue | undefined | Readonly<Record<string, unknown>>;
  };
  readonly warnings?: readonly string[];
  readonly [key: string]: unknown;
}

/**
 * Meta type of each well-known artifact kind: `KindMeta<'samples'>` is `SamplesMeta`. A plugin
 * that declares a kind of its own adds it by declaration merging, and then its ports and
 * `artifact()` calls are typed like the built-in ones:
 *
 * ```ts
 * declare module '@fairtune/core/plugin' {
 *   interface ArtifactKindMetas { 'csv-table': { columns: string[] } }
 * }
 * ```
 */
export interface ArtifactKindMetas {
  dataset: DatasetMeta;
  samples: SamplesMeta;
  backbone: ModelMeta;
  model: ModelMeta;
  predictions: PredictionsMeta;
  embeddings: EmbeddingsMeta;
  metrics: MetricsMeta;
  /** Reports carry files; their meta is free-form JSON (a title, the method, `synthetic`, …). */
  report: { readonly [key: string]: JsonValue };
  json: JsonValue;
}

/** The meta type of kind `K` (a union of kinds gives the union of metas; an unknown kind, `unknown`). */
export type KindMeta<K extends string> = string extends K ? unknown : K extends keyof ArtifactKindMetas ? ArtifactKindMetas[K] : unknown;
