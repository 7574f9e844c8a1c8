/**
 * Artifacts: the typed values that flow between stages.
 *
 * An artifact is a `kind` (what it is: `dataset`, `model`, …), JSON metadata, named numeric
 * arrays and named files. The executor persists it in the content-addressed cache as
 * `manifest.json` + one binary `arrays.bin` (little-endian, offsets in the manifest) + `files/`,
 * so numbers never travel as JSON arrays. See docs/artifacts.md for the on-disk format.
 */

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

/** Builds an artifact; arrays and files default to empty. */
export function artifact<M>(
  kind: string,
  meta: M,
  arrays: Record<string, NdArray> = {},
  files: Record<string, string> = {},
): Artifact<M> {
  return { kind, meta, arrays, files };
}

/**
 * The one artifact bound to input `port`, or an error naming the port. The executor always binds
 * a required input; a stage run by hand (runStandalone, a test) may not have it, and then the
 * error says which input is missing rather than failing on `undefined`.
 */
export function requireInput(inputs: Readonly<Record<string, Artifact | readonly Artifact[]>>, port: string): Artifact {
  const a = inputs[port];
  if (a === undefined) throw new Error(`input "${port}" is missing`);
  if (Array.isArray(a)) throw new Error(`input "${port}" must be one artifact, got a list of ${a.length}`);
  return a as Artifact;
}

/** The artifacts bound to a `multiple` input `port` (one artifact counts as a list of one), or an error naming the port. */
export function requireInputs(inputs: Readonly<Record<string, Artifact | readonly Artifact[]>>, port: string): Artifact[] {
  const a = inputs[port];
  if (a === undefined) throw new Error(`input "${port}" is missing`);
  return [a].flat() as Artifact[];
}

/** Returns the named array or throws an error that names the artifact kind and the missing array. */
export function requireArray(a: Artifact, name: string, dtype?: DType): NdArray {
  const arr = a.arrays[name];
  if (!arr) throw new Error(`${a.kind} artifact has no array "${name}" (has: ${Object.keys(a.arrays).join(', ') || 'none'})`);
  if (dtype && arr.dtype !== dtype) throw new Error(`${a.kind} artifact array "${name}" is ${arr.dtype}, expected ${dtype}`);
  return arr;
}
