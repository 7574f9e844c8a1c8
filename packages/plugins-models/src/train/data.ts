/** Reading `samples` artifacts into the arrays the trainers use, with input checks that name the problem. */
import { FairtuneError, requireArray, type KindArtifact, type SamplesMeta } from '@fairtune/core/plugin';
import type { PpgGptConfig } from '../ppg-gpt/config.js';
import { preprocessWindows } from '../ppg-gpt/model.js';

export interface SampleSet {
  readonly meta: SamplesMeta;
  readonly n: number;
  /** Preprocessed windows (min–max + clamp), [n, windowLength]. */
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly subject: Int32Array;
  readonly split: Int8Array | undefined;
  readonly group: Int32Array | undefined;
  /** The samples' per-window labels other than the target (`aux/<name>`, e.g. `aux/activity`), carried into the predictions. */
  readonly aux: Readonly<Record<string, Float32Array>>;
}

/**
 * Checks the samples against the model's input (window length and rate) and preprocesses them.
 * `port` names the input in error messages.
 */
export function readSamples(a: KindArtifact<'samples'>, config: PpgGptConfig, port = 'samples'): SampleSet {
  if (a.kind !== 'samples') throw new FairtuneError('FT_INPUT_KIND', `input "${port}" is a ${a.kind as string} artifact, expected samples`, { port });
  const meta = a.meta;
  const x = requireArray(a, 'x', 'float32');
  const n = x.shape[0] ?? 0;
  const length = x.shape[1] ?? 0;
  const channels = x.shape.length === 3 ? x.shape[2]! : 1;
  if (x.shape.length < 2 || x.shape.length > 3 || channels !== 1) {
    throw new FairtuneError('FT_ARRAY_MISSING', `samples "${meta.name}": x has shape [${x.shape.join(', ')}]; PPG-GPT needs one-channel windows [N, L] or [N, L, 1]`, { port });
  }
  const fs = meta.signal?.fs;
  if (length !== config.windowLength || (fs !== undefined && Math.abs(fs - config.fs) > 1e-9)) {
    throw new FairtuneError(
      'FT_INPUT_CONTENT',
      `samples "${meta.name}" have windows of ${length} samples at ${fs ?? 'unknown'} Hz but the model expects ${config.windowLength} samples at ${config.fs} Hz; ` +
        `re-window/resample the dataset to the model's inputSpec`,
      { port },
    );
  }
  if (n === 0) throw new FairtuneError('FT_INPUT_CONTENT', `samples "${meta.name}" contain no samples`, { port });
  const y = requireArray(a, 'y', 'float32').data as Float32Array;
  const subject = requireArray(a, 'subject', 'int32').data as Int32Array;
  if (y.length !== n || subject.length !== n) throw new FairtuneError('FT_ARRAY_MISSING', `samples "${meta.name}": y (${y.length}) and subject (${subject.length}) must have one entry per window (${n})`, { port });
  const split = a.arrays['split'] ? (requireArray(a, 'split', 'int8').data as Int8Array) : undefined;
  const group = a.arrays['group'] ? (requireArray(a, 'group', 'int32').data as Int32Array) : undefined;
  if (split && split.length !== n) throw new FairtuneError('FT_ARRAY_MISSING', `samples "${meta.name}": split has ${split.length} entries, expected ${n}`, { port });
  if (group && group.length !== n) throw new FairtuneError('FT_ARRAY_MISSING', `samples "${meta.name}": group has ${group.length} entries, expected ${n}`, { port });
  if (meta.task === 'classification') {
    for (let i = 0; i < n; i++) if (y[i] !== 0 && y[i] !== 1) throw new FairtuneError('FT_INPUT_CONTENT', `samples "${meta.name}": classification target y[${i}] = ${y[i]}, expected 0 or 1`, { port });
  }
  const aux: Record<string, Float32Array> = {};
  for (const [name, arr] of Object.entries(a.arrays)) {
    if (name.startsWith('aux/') && arr.shape.length === 1 && arr.data.length === n) aux[name] = Float32Array.from(arr.data as ArrayLike<number>);
  }
  return { meta, n, x: preprocessWindows(x.data as Float32Array, n, length, { port }), y, subject, split, group, aux };
}

/** Indices of the samples whose split is named `name` (empty when the split does not exist). */
/** What `splitIndices` reads of a sample set (PPG windows and images alike). */
export interface SplitRows {
  readonly n: number;
  readonly split?: Int8Array;
  readonly meta: { readonly splits?: readonly string[] };
}

/**
 * The training rows of `trainSplit`: one split name, or several joined by `+`
 * (`train+validation`, for a final model trained on everything but the test split), in row order.
 * A name the samples lack is an error naming it. Training on the split that selects the
 * checkpoint needs `selection: 'last'` (nothing is left to select on).
 */
export function trainSplitRows(s: SplitRows, trainSplit: string, validationSplit: string, selection: 'best' | 'last' | undefined): Int32Array {
  const names = trainSplit.split('+').map((n) => n.trim());
  const known = s.meta.splits ?? [];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length && names.length > 1) throw new FairtuneError('FT_PARAM_INVALID', `trainSplit "${trainSplit}": the samples have no split ${unknown.map((n) => `"${n}"`).join(', ')} (splits: ${known.join(', ') || 'none'})`, { param: 'trainSplit' });
  if (names.includes(validationSplit) && (selection ?? 'best') !== 'last') {
    throw new FairtuneError('FT_PARAM_INVALID', `trainSplit "${trainSplit}" trains on the validation split "${validationSplit}", which then cannot choose the best epoch: set selection to "last"`, { param: 'trainSplit' });
  }
  if (names.length === 1) return splitIndices(s, names[0]!);
  const parts = names.map((n) => splitIndices(s, n));
  return Int32Array.from(parts.flatMap((p) => Array.from(p))).sort();
}

export function splitIndices(s: SplitRows, name: string): Int32Array {
  const k = s.meta.splits?.indexOf(name) ?? -1;
  if (k < 0 || !s.split) return new Int32Array(0);
  const out: number[] = [];
  for (let i = 0; i < s.n; i++) if (s.split[i] === k) out.push(i);
  return Int32Array.from(out);
}

/**
 * Throws when a target of the given rows (the training and validation rows) is NaN/±Inf, naming
 * the sample, its subject and split; otherwise a NaN y only surfaces later as a diverged loss.
 * Rows outside training/validation (e.g. test) may lack a label: they are only predicted.
 */
export function requireFiniteTargets(s: Omit<SampleSet, 'x'>, rows: ArrayLike<number>): void {
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    const y = s.y[i]!;
    if (Number.isFinite(y)) continue;
    const subject = s.meta.subjects?.[s.subject[i]!] ?? String(s.subject[i]);
    const split = s.split ? (s.meta.splits?.[s.split[i]!] ?? String(s.split[i])) : 'none';
    throw new FairtuneError(
      'FT_INPUT_CONTENT',
      `samples "${s.meta.name}": target y[${i}] = ${y} (subject "${subject}", split "${split}") is not finite; ` +
        `training and validation targets must be finite (drop the sample or impute its target)`,
    );
  }
}

/** Gathers rows of a row-major [n, width] array. */
export function gatherRows(data: Float32Array, width: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * width);
  for (let r = 0; r < idx.length; r++) out.set(data.subarray(idx[r]! * width, (idx[r]! + 1) * width), r * width);
  return out;
}
