/**
 * Dataset inspectors: what `fairtune data inspect <path>` asks to describe a dataset folder.
 * A plugin package that loads a dataset format binds one to DATASET_INSPECTOR, so the command
 * (contributed by @fairtune/plugins-data) describes that format too, without knowing it.
 * Inspectors are asked in binding order (built-in packages load first); the first whose
 * `canInspect` is true describes the folder.
 */
import type { ServiceIdentifier } from 'inversify';
import type { JsonValue } from './artifact.js';

export interface DatasetInspector {
  /** The format's name as people write it (`DaLiA`, `CSV folder`): listed when no inspector recognises a path. */
  readonly format: string;
  /**
   * Whether `path` (absolute, an existing directory) looks like this format: cheap (a stat or a
   * header line), no throwing; the wrong answer for another format's folder hides that format.
   */
  canInspect(path: string): boolean;
  /**
   * Describes the dataset at `path`: JSON with `kind: 'dataset'`, `dataset` (the format), `root`
   * and, for per-subject tables, `subjects: [{ id, <attributes…>, signals: [{ name, fs, samples }],
   * labels: { <name>: count } }]` and `attributeCounts`. Throws an Error naming the file (and row,
   * column) that cannot be read.
   */
  inspect(path: string): JsonValue;
}

export const DATASET_INSPECTOR: ServiceIdentifier<DatasetInspector> = Symbol.for('@fairtune/core:DatasetInspector');
