/**
 * Artifacts: the typed values that flow between stages.
 *
 * An artifact is a `kind` (what it is: `dataset`, `model`, …), JSON metadata, named numeric
 * arrays and named files. The executor persists it in the content-addressed cache as
 * `manifest.json` + one binary `arrays.bin` (little-endian, offsets in the manifest) + `files/`,
 * so numbers never travel as JSON arrays. See docs/artifacts.md for the on-disk format.
 */
import type { KindMeta } from './artifact-kinds.js';
import { FairtuneError } from './errors.js';

export type DType = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'uint8' | 'uint16' | 'uint32';

export interface TypedArrayByDType {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
}
export type TypedArray = TypedArrayByDType[DType];

/** A dense row-major n-dimensional array. */
export interface NdArray<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayByDType[D];
}

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Well-known kinds. The set is open: a third-party plugin may declare its own kind string;
 * ports match kinds by string equality.
 */
export const ArtifactKinds = {
  /** Raw recordings per subject as a loader read them (signals with rates, labels, attributes). */
  dataset: 'dataset',
  /** Fixed-size samples ready for a model (windows or images) with labels, subjects, splits, groups. */
  samples: 'samples',
  /** A pretrained backbone without a task head. */
  backbone: 'backbone',
  /** A trained model (backbone + head) ready for prediction. */
  model: 'model',
  /** Per-sample predictions with targets, subjects, groups and splits. */
  predictions: 'predictions',
  /** Per-sample embeddings (penultimate layer) with groups. */
  embeddings: 'embeddings',
  /** A JSON object of metric values. */
  metrics: 'metrics',
  /** Human-readable output (Markdown, JSON, SVG) copied into the run directory. */
  report: 'report',
  /** A JSON value without arrays (configuration, search results, …). */
  json: 'json',
} as const;
export type WellKnownArtifactKind = (typeof ArtifactKinds)[keyof typeof ArtifactKinds];

/** `meta` must be JSON-serialisable (it is stored as JSON). */
export interface Artifact<M = unknown> {
  readonly kind: string;
  readonly meta: M;
  readonly arrays: Readonly<Record<string, NdArray>>;
  /** Logical file name → absolute path. Files must live in the stage's `workDir` (or already in the cache). */
  readonly files: Readonly<Record<string, string>>;
}

const CONSTRUCTORS: { [D in DType]: { new (n: number): TypedArrayByDType[D]; BYTES_PER_ELEMENT: number } } = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
};

/** The typed-array constructor of a dtype (views over stored bytes are built with it). */
export function typedArrayConstructor<D extends DType>(dtype: D): (typeof CONSTRUCTORS)[D] {
  return CONSTRUCTORS[dtype];
}

export function bytesPerElement(dtype: DType): number {
  return CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
}

export function dtypeOf(data: TypedArray): DType {
  for (const [dtype, ctor] of Object.entries(CONSTRUCTORS)) {
    if (data instanceof (ctor as unknown as typeof Float32Array)) return dtype as DType;
  }
  throw new TypeError(`unsupported typed array ${Object.prototype.toString.call(data)}`);
}

/** Allocates a zero-filled array of the given dtype. */
export function allocate<D extends DType>(dtype: D, length: number): TypedArrayByDType[D] {
  return new CONSTRUCTORS[dtype](length);
}

/** Wraps a typed array with a shape (defaults to 1-D), checking the element count. */
export function ndarray<T extends TypedArray>(data: T, shape?: readonly number[]): NdArray {
  const s = shape ?? [data.length];
  const count = s.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`shape [${s.join(', ')}] holds ${count} elements but the data has ${data.length}`);
  }
  return { dtype: dtypeOf(data), shape: [...s], data } as NdArray;
}

/**
 * An artifact of kind `K`, its meta typed by the kind (`KindArtifact<'samples'>` has `SamplesMeta`).
 * A union of kinds gives a union of artifacts, so testing `a.kind` narrows the meta.
 */
export type KindArtifact<K extends string> = K extends string ? Artifact<KindMeta<K>> & { readonly kind: K } : never;

/**
 * Builds an artifact; arrays and files default to empty. The meta is checked against the kind's
 * meta type (`artifact('samples', meta)` needs a `SamplesMeta`); a kind of a plugin's own takes
 * any meta unless the plugin declares its type (see `ArtifactKindMetas`).
 */
export function artifact<const K extends string>(
  kind: K,
  meta: KindMeta<K>,
  arrays: Record<string, NdArray> = {},
  files: Record<string, string> = {},
): KindArtifact<K> {
  return { kind, meta, arrays, files } as Artifact as KindArtifact<K>;
}

/** Whether `a` is of kind `kind` (one or several), narrowing its meta's type to that kind's. */
export function isKind<const K extends string>(a: Artifact, kind: K | readonly K[]): a is KindArtifact<K> {
  return ([kind].flat() as readonly string[]).includes(a.kind);
}

type StageInputValues = Readonly<Record<string, Artifact | readonly Artifact[]>>;

function kindProblem(port: string, a: Artifact, kinds: readonly string[]): FairtuneError | undefined {
  if (kinds.includes(a.kind)) return undefined;
  return new FairtuneError('FT_INPUT_KIND', `input "${port}" is a ${a.kind} artifact, expected ${kinds.join(' or ')}`, { port });
}

/**
 * The one artifact bound to input `port`, or an error naming the port. The executor always binds
 * a required input; a stage run by hand (runStandalone, a test) may not have it, and then the
 * error says which input is missing rather than failing on `undefined`. With `kind` (one kind or
 * several), the artifact's kind is checked and its meta typed by it.
 */
export function requireInput<const K extends string>(inputs: StageInputValues, port: string, kind: K | readonly K[]): KindArtifact<K>;
export function requireInput(inputs: StageInputValues, port: string): Artifact;
export function requireInput(inputs: StageInputValues, port: string, kind?: string | readonly string[]): Artifact {
  const a = inputs[port];
  if (a === undefined) throw new FairtuneError('FT_INPUT_MISSING', `input "${port}" is missing`, { port });
  if (Array.isArray(a)) throw new FairtuneError('FT_INPUT_KIND', `input "${port}" must be one artifact, got a list of ${a.length}`, { port });
  const problem = kind === undefined ? undefined : kindProblem(port, a as Artifact, [kind].flat());
  if (problem) throw problem;
  return a as Artifact;
}

/** Like `requireInput`, for an optional port: `undefined` when it is not connected. */
export function optionalInput<const K extends string>(inputs: StageInputValues, port: string, kind: K | readonly K[]): KindArtifact<K> | undefined;
export function optionalInput(inputs: StageInputValues, port: string): Artifact | undefined;
export function optionalInput(inputs: StageInputValues, port: string, kind?: string | readonly string[]): Artifact | undefined {
  return inputs[port] === undefined ? undefined : requireInput(inputs, port, kind as string);
}

/**
 * The artifacts bound to a `multiple` input `port` (one artifact counts as a list of one), or an
 * error naming the port; with `kind`, each is checked and typed as in `requireInput`.
 */
export function requireInputs<const K extends string>(inputs: StageInputValues, port: string, kind: K | readonly K[]): KindArtifact<K>[];
export function requireInputs(inputs: StageInputValues, port: string): Artifact[];
export function requireInputs(inputs: StageInputValues, port: string, kind?: string | readonly string[]): Artifact[] {
  const a = inputs[port];
  if (a === undefined) throw new FairtuneError('FT_INPUT_MISSING', `input "${port}" is missing`, { port });
  const list = [a].flat() as Artifact[];
  for (const item of list) {
    const problem = kind === undefined ? undefined : kindProblem(port, item, [kind].flat());
    if (problem) throw problem;
  }
  return list;
}

/** Returns the named array or throws an error that names the artifact kind and the missing array. */
export function requireArray(a: Artifact, name: string, dtype?: DType): NdArray {
  const arr = a.arrays[name];
  if (!arr) throw new FairtuneError('FT_ARRAY_MISSING', `${a.kind} artifact has no array "${name}" (has: ${Object.keys(a.arrays).join(', ') || 'none'})`);
  if (dtype && arr.dtype !== dtype) throw new FairtuneError('FT_ARRAY_MISSING', `${a.kind} artifact array "${name}" is ${arr.dtype}, expected ${dtype}`);
  return arr;
}
