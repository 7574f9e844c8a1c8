/**
 * `fairtune data inspect <folder> --plugin fairtune-plugin-csv-ppg`: the subjects with their
 * attributes and, per recording, the rate its time column implies and its sample count. Reads
 * what the loader reads, so a folder the loader rejects is named here with the same file and row.
 */
import { join } from 'node:path';
import type { DatasetInspector, JsonValue } from '@fairtune/core/plugin';
import { headerOf } from './csv.js';
import { isCsvFolder, readSubjects, recordingFiles, subjectOf } from './folder.js';
import { impliedRate } from './recording.js';

export function inspectCsvFolder(root: string, timeColumn = 'time'): JsonValue {
  const subjects = readSubjects(root);
  const rows = new Map<string, { signals: JsonValue[]; recordings: number }>();
  for (const file of recordingFiles(root)) {
    const path = join(root, file);
    const subject = subjectOf(path, subjects);
    const { fs, samples } = impliedRate(path, timeColumn);
    const entry = rows.get(subject.id) ?? { signals: [], recordings: 0 };
    entry.recordings++;
    for (const column of headerOf(path).filter((c) => c !== timeColumn)) entry.signals.push({ name: `${file}:${column}`, fs, samples });
    rows.set(subject.id, entry);
  }
  const attributeNames = [...new Set(subjects.flatMap((s) => Object.keys(s.attributes)))];
  const attributeCounts: Record<string, Record<string, number>> = {};
  for (const a of attributeNames) {
    const counts: Record<string, number> = {};
    for (const s of subjects) counts[String(s.attributes[a] ?? null)] = (counts[String(s.attributes[a] ?? null)] ?? 0) + 1;
    attributeCounts[a] = counts;
  }
  return {
    kind: 'dataset',
    dataset: 'csv-ppg',
    root,
    subjects: subjects.map((s) => ({ id: s.id, ...s.attributes, records: rows.get(s.id)?.recordings ?? 0, signals: rows.get(s.id)?.signals ?? [] })),
    attributeCounts,
  };
}

export const csvPpgInspector: DatasetInspector = {
  format: 'CSV folder (subjects.csv + one CSV per recording)',
  canInspect: isCsvFolder,
  inspect: (root) => inspectCsvFolder(root),
};
