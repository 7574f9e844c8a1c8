/**
 * `--kind dataset`: a loader stage reading a small CSV layout into core's `dataset` kind, so the
 * built-in chain (preprocess.*, split.*, windowing, training, metrics) runs on the new data
 * unchanged. A smaller cousin of examples/fairtune-plugin-csv-ppg: `subjects.csv` (a `subject`
 * column and attribute columns) and one `<subject>.csv` per recording with one row per sample at
 * a declared rate. It reads files outside the pipeline, so it has a `fingerprint` (the files'
 * names, sizes and times join the cache key); its test writes the layout with a fixture writer.
 */
import { packageJson, readme, type TemplateContext, type TemplateFile } from './common.js';

const loaderType = (ctx: TemplateContext) => `${ctx.ns}.load`;

function csvSource(): string {
  return `/**
 * The folder layout: \`subjects.csv\` (a \`subject\` column, then attribute columns such as \`sex\`,
 * \`age\`) and \`<subject>.csv\` per recording (a header of column names, then one row per sample).
 * Cells are plain: no quoting, so no commas inside a cell. Errors name the file and 1-based line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FairtuneError, type AttributeValue } from '@fairtune/core/plugin';

export const SUBJECTS_FILE = 'subjects.csv';

export interface Table {
  readonly file: string;
  readonly columns: readonly string[];
  readonly rows: readonly { readonly line: number; readonly cells: readonly string[] }[];
}

export function readTable(file: string): Table {
  const lines = readFileSync(file, 'utf8').replace(/^\\uFEFF/, '').split(/\\r?\\n/);
  const header = lines[0]?.trim();
  if (!header) throw new FairtuneError('FT_DATA_FORMAT', file + ': empty file (expected a header line)', { file });
  const columns = header.split(',').map((c) => c.trim());
  const rows: { line: number; cells: string[] }[] = [];
  lines.slice(1).forEach((text, k) => {
    if (text.trim() === '') return;
    const cells = text.split(',');
    if (cells.length !== columns.length) throw new FairtuneError('FT_DATA_FORMAT', file + ':' + (k + 2) + ': ' + cells.length + ' fields, the header has ' + columns.length, { file });
    rows.push({ line: k + 2, cells });
  });
  return { file, columns, rows };
}

/** The index of \`name\` in the header, or an error naming the file and its columns. */
export function columnIndex(table: Table, name: string): number {
  const i = table.columns.indexOf(name);
  if (i < 0) throw new FairtuneError('FT_DATA_FORMAT', table.file + ': no column "' + name + '" (columns: ' + table.columns.join(', ') + ')', { file: table.file });
  return i;
}

/** Subjects with their attributes: an empty cell is null, a number a number, anything else text. */
export function readSubjects(root: string): { id: string; attributes: Record<string, AttributeValue> }[] {
  const table = readTable(join(root, SUBJECTS_FILE));
  const idAt = columnIndex(table, 'subject');
  return table.rows.map(({ cells }) => {
    const attributes: Record<string, AttributeValue> = {};
    table.columns.forEach((c, i) => {
      const v = cells[i]!.trim();
      if (i !== idAt) attributes[c] = v === '' ? null : Number.isFinite(Number(v)) ? Number(v) : v;
    });
    return { id: cells[idAt]!.trim(), attributes };
  });
}

/** Recording files: every \`*.csv\` but the subjects table, sorted (so outputs do not depend on directory order). */
export function recordingFiles(root: string): string[] {
  return readdirSync(root)
    .filter((f) => f.endsWith('.csv') && f !== SUBJECTS_FILE && statSync(join(root, f)).isFile())
    .sort();
}

/** A numeric column as float32, every cell a finite number. */
export function numericColumn(table: Table, name: string): Float32Array {
  const at = columnIndex(table, name);
  return Float32Array.from(table.rows, ({ line, cells }) => {
    const v = Number(cells[at]);
    if (cells[at]!.trim() === '' || !Number.isFinite(v)) throw new FairtuneError('FT_DATA_FORMAT', table.file + ':' + line + ': column ' + name + ' is "' + cells[at] + '", not a finite number', { file: table.file });
    return v;
  });
}
`;
}

/** The loader's header, params, schema and ports. */
function loaderDeclarationSource(ctx: TemplateContext): string {
  return `/**
 * \`${loaderType(ctx)}\`: a folder in the layout of csv.ts as a core \`dataset\` artifact: one recording per
 * \`<subject>.csv\`, its signal and label columns as arrays, the subject's attributes from
 * subjects.csv. Labels are per sample (label k covers [k/fs, (k+1)/fs)), so windowing averages them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artifact, FairtuneError, ndarray, runAsync, type DatasetMeta, type NdArray, type RecordingRecord, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { numericColumn, readSubjects, readTable, recordingFiles, SUBJECTS_FILE } from './csv.js';

export interface LoadParams {
  root: string;
  fs: number;
  signal: string;
  label: string;
  name: string;
}

export const loaderStage: StagePlugin<LoadParams> = {
  type: '${loaderType(ctx)}',
  // Bump when the output changes for the same folder and params: the version is part of the cache key.
  version: '1.0.0',
  description: 'Loads a folder of <subject>.csv recordings (signal and label columns at one rate) and subjects.csv as a dataset.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['root', 'fs'],
    properties: {
      root: { type: 'string', minLength: 1, description: 'The folder with subjects.csv and one <subject>.csv per recording.' },
      fs: { type: 'number', exclusiveMinimum: 0, description: 'Sampling rate of every recording, in Hz.' },
      signal: { type: 'string', minLength: 1, default: 'ppg', description: 'Column holding the signal.' },
      label: { type: 'string', minLength: 1, default: 'hr', description: 'Column holding the per-sample label (e.g. heart rate).' },
      name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', default: '${ctx.ns}', description: 'Dataset name recorded in the artifact.' },
    },
  },
  inputs: {},
  outputs: { dataset: { kind: 'dataset', description: 'One recording per CSV file, with its subject\\'s attributes.' } },

`;
}

/** The loader's fingerprint and run(): reading the folder into a dataset artifact. */
function loaderBehaviourSource(ctx: TemplateContext): string {
  return `  // The data lives outside the pipeline: a change on disk must change the cache key (stat, not read: it must be cheap).
  fingerprint(p) {
    const root = resolve(p.root);
    const hash = createHash('sha256');
    for (const f of readdirSync(root).sort()) {
      const st = statSync(join(root, f));
      hash.update(f + '\\0' + st.size + '\\0' + st.mtimeMs + '\\n');
    }
    return hash.digest('hex');
  },

  run: (ctx: StageContext<LoadParams>) =>
    runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const root = resolve(p.root);
      if (!existsSync(join(root, SUBJECTS_FILE))) throw new FairtuneError('FT_DATA_MISSING', join(root, SUBJECTS_FILE) + ': file not found (params.root must be a folder with ' + SUBJECTS_FILE + ' and one CSV per recording)', { file: join(root, SUBJECTS_FILE) });
      const subjects = new Map(readSubjects(root).map((s) => [s.id, s]));
      const files = recordingFiles(root);
      const arrays: Record<string, NdArray> = {};
      const recordings: RecordingRecord[] = [];
      for (const [k, file] of files.entries()) {
        // Between files: yields so progress renders, and throws once the run is aborted.
        await emit.checkpoint();
        const path = join(root, file);
        const id = file.slice(0, -'.csv'.length);
        const subject = subjects.get(id);
        if (!subject) throw new FairtuneError('FT_DATA_FORMAT', path + ': no subject "' + id + '" in ' + SUBJECTS_FILE, { file: path });
        const table = readTable(path);
        arrays[id + '/' + p.signal] = ndarray(numericColumn(table, p.signal));
        arrays[id + '/' + p.label] = ndarray(numericColumn(table, p.label));
        recordings.push({
          id,
          subject: id,
          attributes: subject.attributes,
          signals: { [p.signal]: { array: id + '/' + p.signal, fs: p.fs } },
          labels: { [p.label]: { array: id + '/' + p.label, windowSeconds: 1 / p.fs, shiftSeconds: 1 / p.fs, offsetSeconds: 0 } },
          files: [{ path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') }],
        });
        emit.progress(k + 1, files.length, 'read ' + file, 'recordings');
      }
      if (!recordings.length) throw new FairtuneError('FT_DATA_MISSING', root + ': no recording CSV next to ' + SUBJECTS_FILE, { file: root });
      emit.metric('recordings', recordings.length);
      const meta: DatasetMeta = { name: p.name, synthetic: false, source: { root }, recordings };
      emit.artifact('dataset', artifact('dataset', meta, arrays));
    }),
};
`;
}

function loaderSource(ctx: TemplateContext): string {
  return loaderDeclarationSource(ctx) + loaderBehaviourSource(ctx);
}

function fixtureSource(): string {
  return `/**
 * Writes a folder in the loader's layout into a new temporary directory: subjects S1 (female, 31)
 * and S2 (male, no age), each a recording of \`seconds\` at \`fs\` Hz: a 1.2 Hz sine as ppg and a
 * constant heart rate (72, 80) as hr. Deterministic, so two loads give identical artifacts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function writeFixture(options: { fs?: number; seconds?: number } = {}): string {
  const fs = options.fs ?? 32;
  const n = Math.round(fs * (options.seconds ?? 4));
  const root = mkdtempSync(join(tmpdir(), 'fairtune-plugin-fixture-'));
  writeFileSync(join(root, 'subjects.csv'), 'subject,sex,age\\nS1,female,31\\nS2,male,\\n');
  for (const [id, hr] of [['S1', 72], ['S2', 80]] as const) {
    const rows = Array.from({ length: n }, (_, k) => Math.sin((2 * Math.PI * 1.2 * k) / fs).toFixed(5) + ',' + hr);
    writeFileSync(join(root, id + '.csv'), ['ppg,hr', ...rows].join('\\n') + '\\n');
  }
  return root;
}
`;
}

function indexSource(): string {
  return `/**
 * The package's entry point: FairTune imports it and loads \`containerModule\`, which binds the
 * loader stage to core's STAGE_PLUGIN token (a multi-injection: every package adds its own).
 */
import { ContainerModule } from 'inversify';
import { STAGE_PLUGIN } from '@fairtune/core/plugin';
import { loaderStage } from './loader.js';

export { loaderStage, type LoadParams } from './loader.js';
export { SUBJECTS_FILE } from './csv.js';

export const containerModule = new ContainerModule((options) => {
  // A block body: inversify 8 rejects a callback that returns a value.
  options.bind(STAGE_PLUGIN).toConstantValue(loaderStage);
});
`;
}

function specSource(ctx: TemplateContext): string {
  return `import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKind } from '@fairtune/core/plugin';
import { checkStageConformance, expectConformance, runStandalone } from '@fairtune/core/testing';
import { loaderStage } from './loader.js';
import { writeFixture } from './test-utils/fixture.js';

describe('${loaderType(ctx)}', () => {
  it('conforms to the stage contract', async () => {
    await expectConformance(checkStageConformance(loaderStage, { params: { root: writeFixture(), fs: 32 } }));
  });

  it('loads one recording per subject file, with the attributes of subjects.csv', async () => {
    const { outputs } = await runStandalone(loaderStage, { params: { root: writeFixture({ fs: 32, seconds: 4 }), fs: 32 } });
    const dataset = outputs['dataset']!;
    if (!isKind(dataset, 'dataset')) throw new Error('the loader emitted a ' + dataset.kind + ' artifact');
    const meta = dataset.meta;
    expect(meta.recordings.map((r) => [r.id, r.attributes])).toEqual([
      ['S1', { sex: 'female', age: 31 }],
      ['S2', { sex: 'male', age: null }],
    ]);
    expect(meta.recordings[0]!.signals['ppg']).toEqual({ array: 'S1/ppg', fs: 32 });
    expect(dataset.arrays['S1/ppg']!.shape).toEqual([128]);
    expect(Array.from(dataset.arrays['S2/hr']!.data.slice(0, 2))).toEqual([80, 80]);
  });

  it('names the file and line of a bad cell', async () => {
    const root = writeFixture();
    writeFileSync(join(root, 'S2.csv'), 'ppg,hr\\n0.1,80\\nabc,80\\n');
    const run = runStandalone(loaderStage, { params: { root, fs: 32 } });
    await expect(run).rejects.toThrow(/S2\\.csv:3: column ppg is "abc", not a finite number/);
    await expect(run).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file: join(root, 'S2.csv') } });
  });
});
`;
}

export function datasetFiles(ctx: TemplateContext): TemplateFile[] {
  const type = loaderType(ctx);
  const section = `## Stage \`${type}\` (a dataset loader)

Reads a folder laid out as

- \`subjects.csv\`: a \`subject\` column, then one column per attribute (\`sex\`, \`age\`, …; an empty
  cell is unknown, a number is read as a number);
- \`<subject>.csv\`, one per recording: a header, then one row per sample at \`fs\` Hz, with the
  \`signal\` column (default \`ppg\`) and the per-sample \`label\` column (default \`hr\`). Plain cells:
  no quoting.

and emits a core \`dataset\` artifact (one recording per file, the subject's attributes, the signal
at \`fs\`, the label as a per-sample series), so the built-in \`preprocess.*\`, \`split.*\`, windowing,
training and metrics stages run on it. Its \`fingerprint\` (file names, sizes, times) joins the
cache key: changing the files re-runs the loader. \`src/test-utils/fixture.ts\` writes a small
folder in this layout for the tests.`;
  const snippet = `{
  "plugins": ["${ctx.name}"],
  "stages": {
    "data": { "type": "${type}", "params": { "root": "data/my-study", "fs": 64 } },
    "window": { "type": "preprocess.window", "inputs": { "dataset": "data" } }
  }
}`;
  return [
    packageJson(ctx, `FairTune-TS plugin: ${type}, a dataset loader for a folder of CSV recordings`),
    { path: 'src/csv.ts', text: csvSource() },
    { path: 'src/loader.ts', text: loaderSource(ctx) },
    { path: 'src/index.ts', text: indexSource() },
    { path: 'src/test-utils/fixture.ts', text: fixtureSource() },
    { path: 'src/loader.spec.ts', text: specSource(ctx) },
    readme(ctx, `A dataset plugin: \`${type}\`, a loader for a folder of CSV recordings and a subjects table.`, section, snippet),
  ];
}
