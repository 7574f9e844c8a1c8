/**
 * `csv-ppg.load`: a folder of PPG recordings in CSV (see folder.ts) as a core `dataset`
 * artifact, the shape `data.dalia` emits, so the built-in chain (`preprocess.*`, `split.*`,
 * windowing, training, metrics) runs on it unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artifact, FairtuneError, ndarray, runAsync, type DatasetMeta, type NdArray, type RecordingRecord, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { readSubjects, recordingFiles, subjectOf, SUBJECTS_FILE } from './folder.js';
import { readRecording } from './recording.js';

export interface CsvPpgParams {
  root: string;
  fs: number;
  timeColumn: string;
  signals: string[];
  labels: string[];
  units: Record<string, string>;
  name: string;
}

const columnList = (what: string, dflt: string[], minItems: number) => ({
  type: 'array',
  items: { type: 'string', minLength: 1 },
  uniqueItems: true,
  minItems,
  default: dflt,
  description: `Columns holding ${what}, one sample per row.`,
});

export const csvPpgLoader: StagePlugin<CsvPpgParams> = {
  type: 'csv-ppg.load',
  version: '1.0.0',
  description: 'Loads a folder of CSV recordings (time, signal and label columns at one rate) and subjects.csv (subject id and attributes) as a dataset.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['root', 'fs'],
    properties: {
      root: { type: 'string', minLength: 1, description: 'The folder with subjects.csv and the recording CSVs.' },
      fs: { type: 'number', exclusiveMinimum: 0, description: 'Sampling rate of every recording in Hz; the time column is checked against it.' },
      timeColumn: { type: 'string', minLength: 1, default: 'time', description: 'Column of sample times in seconds.' },
      signals: columnList('signals (each becomes a dataset signal)', ['ppg'], 1),
      labels: columnList('per-sample labels such as heart rate (each becomes a label series)', ['hr'], 0),
      units: { type: 'object', additionalProperties: { type: 'string' }, default: { hr: 'bpm', ppg: 'a.u.' }, description: 'Units by column name.' },
      name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', default: 'csv-ppg', description: 'Dataset name recorded in the artifact.' },
    },
  },
  inputs: {},
  outputs: { dataset: { kind: 'dataset', description: 'One recording per CSV file, with its subject\'s attributes.' } },

  // The files are read outside the pipeline: their names, sizes and times join the cache key.
  fingerprint(p) {
    const root = resolve(p.root);
    const hash = createHash('sha256');
    for (const f of readdirSync(root).sort()) {
      const st = statSync(join(root, f));
      hash.update(`${f}\0${st.size}\0${st.mtimeMs}\n`);
    }
    return hash.digest('hex');
  },

  run: (ctx: StageContext<CsvPpgParams>) =>
    runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const root = resolve(p.root);
      const clash = p.signals.find((s) => p.labels.includes(s) || s === p.timeColumn) ?? p.labels.find((l) => l === p.timeColumn);
      if (clash) throw new FairtuneError('FT_PARAM_INVALID', `params: column "${clash}" is named twice among timeColumn, signals and labels`, { param: p.labels.includes(clash) ? 'labels' : 'signals' });
      if (!existsSync(join(root, SUBJECTS_FILE))) throw new FairtuneError('FT_DATA_MISSING', `${join(root, SUBJECTS_FILE)}: file not found (params.root must be a folder with ${SUBJECTS_FILE} and one CSV per recording)`, { file: join(root, SUBJECTS_FILE) });
      const subjects = readSubjects(root);
      const files = recordingFiles(root);
      const arrays: Record<string, NdArray> = {};
      const recordings: RecordingRecord[] = [];
      for (const [k, file] of files.entries()) {
        await emit.checkpoint();
        const path = join(root, file);
        const subject = subjectOf(path, subjects);
        const id = file.slice(0, -'.csv'.length);
        const rec = readRecording(path, p.fs, p.timeColumn, [...p.signals, ...p.labels]);
        for (const [c, values] of Object.entries(rec.columns)) arrays[`${id}/${c}`] = ndarray(values);
        recordings.push({
          id,
          subject: subject.id,
          attributes: subject.attributes,
          signals: Object.fromEntries(p.signals.map((s) => [s, { array: `${id}/${s}`, fs: p.fs, ...(p.units[s] ? { units: p.units[s] } : {}) }])),
          // One label per row: label k covers [k/fs, (k+1)/fs), so windows average the rows they span.
          labels: Object.fromEntries(p.labels.map((l) => [l, { array: `${id}/${l}`, windowSeconds: 1 / p.fs, shiftSeconds: 1 / p.fs, offsetSeconds: 0, ...(p.units[l] ? { units: p.units[l] } : {}) }])),
          files: [{ path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') }],
        });
        emit.progress(k + 1, files.length, `read ${file}`, 'recordings');
      }
      const unused = subjects.filter((s) => !recordings.some((r) => r.subject === s.id)).map((s) => s.id);
      if (unused.length) emit.log('warn', `${join(root, 'subjects.csv')}: no recording for subject(s) ${unused.join(', ')}`);
      emit.metric('recordings', recordings.length);
      emit.metric('subjects', subjects.length - unused.length);
      const meta: DatasetMeta = { name: p.name, synthetic: false, source: { root }, recordings };
      emit.artifact('dataset', artifact('dataset', meta, arrays));
    }),
};
