/**
 * BUT-PPG (PhysioNet `butppg` v1/v2): per record the PPG (30 Hz; `PPG_R` by default), ACC
 * (100 Hz, release-2 IDs), the record's reference HR and quality flag from
 * `quality-hr-ann.csv`, demographics from `subject-info.csv`. Release-1 "transposed" headers
 * (one signal line per sample, value in the baseline) are flattened. Subject = first 3 ID digits.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { injectable } from 'inversify';
import { artifact, FairtuneError, ndarray, runAsync, type AttributeValue, type DatasetMeta, type NdArray, type RecordingRecord, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { readRecord, type WfdbRecord } from '../formats/wfdb/index.js';
import { writeButPpgCohort } from '../synthetic/but-ppg.js';
import { withDefaults } from '../synthetic/cohort.js';
import { readCsvTable, requireColumns } from './csv.js';
import { downloadButPpg } from '../download/datasets.js';
import { f32, forEachSubject, isPresent, loaderSchema, numOrNull, resolveDataRoot, selectSubjects, sexFrom, sha256File, type LoaderParams, loaderPreflight, rootFingerprint } from './common.js';

const MOTION = ['rest', 'higher pressure', 'moving on lens', 'walking', 'coughing', 'laughing', 'ambient light change', 'talking'];

/** Reference labels of one record from `quality-hr-ann.csv`. */
export interface ButPpgLabels {
  /** 0/1; NaN when the cell is empty or invalid (see `problem`). */
  readonly quality: number;
  /** bpm; NaN when the cell is empty or invalid (see `problem`). */
  readonly hr: number;
  /** 1-based line number in the CSV (the header is line 1). */
  readonly row: number;
  /** What is wrong with the row's Quality/HR cells, e.g. `column HR (record 100002) is empty`. */
  readonly problem?: string;
}

export interface ButPpgIndex {
  readonly root: string;
  readonly records: string[];
  readonly quality: Map<string, ButPpgLabels>;
  readonly info: Map<string, Record<string, string>>;
  /** 1-based line number of each record's row in `subject-info.csv`. */
  readonly infoRow: Map<string, number>;
  readonly qualityPath: string;
  readonly infoPath: string;
  readonly files: { path: string; sha256: string }[];
}

function findFile(root: string, name: string): string | undefined {
  const hit = readdirSync(root).find((f) => f.toLowerCase() === name.toLowerCase());
  return hit ? join(root, hit) : undefined;
}

export function indexButPpg(root: string, withChecksums = true): ButPpgIndex {
  if (!existsSync(root)) throw new FairtuneError('FT_DATA_MISSING', `${root}: BUT-PPG root not found`, { file: root });
  const qPath = findFile(root, 'quality-hr-ann.csv');
  const iPath = findFile(root, 'subject-info.csv');
  if (!qPath) throw new FairtuneError('FT_DATA_MISSING', `${join(root, 'quality-hr-ann.csv')}: file not found (BUT-PPG labels)`, { file: join(root, 'quality-hr-ann.csv') });
  if (!iPath) throw new FairtuneError('FT_DATA_MISSING', `${join(root, 'subject-info.csv')}: file not found (BUT-PPG demographics)`, { file: join(root, 'subject-info.csv') });
  const q = readCsvTable(qPath);
  requireColumns(qPath, q.columns, ['id', 'quality', 'hr']);
  const quality = new Map<string, ButPpgLabels>();
  q.rows.forEach((r, i) => {
    const row = i + 2;
    const id = r['id']!;
    if (!/^\d{6}$/.test(id)) throw new FairtuneError('FT_DATA_FORMAT', `${qPath}: row ${row} (${Object.values(r).join(',')}) needs a 6-digit ID`, { file: qPath });
    // Number('') is 0: an empty HR cell must not become 0 bpm, so emptiness is checked first.
    const problems: string[] = [];
    const qCell = r['quality']!;
    const hrCell = r['hr']!;
    const qv = qCell === '' ? Number.NaN : Number(qCell);
    const hr = numOrNull(hrCell) ?? Number.NaN;
    if (qCell === '') problems.push(`column Quality (record ${id}) is empty`);
    else if (qv !== 0 && qv !== 1) problems.push(`column Quality (record ${id}) is "${qCell}", expected 0 or 1`);
    if (hrCell === '') problems.push(`column HR (record ${id}) is empty`);
    else if (Number.isNaN(hr)) problems.push(`column HR (record ${id}) is "${hrCell}", not a number`);
    quality.set(id, {
      quality: qv === 0 || qv === 1 ? qv : Number.NaN,
      hr,
      row,
      ...(problems.length ? { problem: problems.join('; ') } : {}),
    });
  });
  const inf = readCsvTable(iPath);
  requireColumns(iPath, inf.columns, ['id', 'gender', 'age']);
  const info = new Map(inf.rows.map((r) => [r['id']!, r]));
  const infoRow = new Map(inf.rows.map((r, i) => [r['id']!, i + 2]));
  let records: string[];
  const recPath = join(root, 'RECORDS');
  if (existsSync(recPath)) {
    records = [...new Set(readFileSync(recPath, 'utf8').split(/\r?\n/).map((l) => l.trim().split('/')[0]!).filter((l) => /^\d{6}$/.test(l)))];
  } else {
    records = readdirSync(root).filter((d) => /^\d{6}$/.test(d) && statSync(join(root, d)).isDirectory());
  }
  records.sort();
  const files = [qPath, iPath, ...(existsSync(recPath) ? [recPath] : [])].map((p) => ({ path: p, sha256: withChecksums ? sha256File(p) : '' }));
  return { root, records, quality, info, infoRow, qualityPath: qPath, infoPath: iPath, files };
}

/** PPG samples of a record; flattens the release-1 transposed header form. */
export function butPpgSignal(rec: WfdbRecord, preferred: string): { values: Float64Array; fs: number; channel: string; transposed: boolean } {
  if (rec.nFrames === 1 && rec.channels.length > 1) {
    return { values: Float64Array.from(rec.channels, (c) => c.physical[0]!), fs: rec.fs, channel: rec.channels[0]!.name, transposed: true };
  }
  const ch = rec.channels.find((c) => c.name === preferred) ?? rec.channels[0];
  if (!ch) throw new FairtuneError('FT_DATA_FORMAT', `${rec.headerPath}: record has no signals`, { file: rec.headerPath });
  return { values: ch.physical, fs: ch.fs, channel: ch.name, transposed: false };
}

export interface ButPpgParams extends LoaderParams {
  ppgChannel: string;
  recordsPerSubject: number;
}

@injectable()
export class ButPpgLoader implements StagePlugin<ButPpgParams> {
  readonly type = 'data.but-ppg';
  readonly version = '2';
  readonly description = 'Loads BUT-PPG (PhysioNet, releases 1 and 2): 10-s smartphone PPG records at 30 Hz, ACC, reference HR and quality, demographics.';
  readonly paramsSchema = loaderSchema(
    { root: 'data/but-ppg', subjects: 8, minutes: 1 },
    {
      ppgChannel: { type: 'string', default: 'PPG_R', description: 'PPG channel to use when the record has several (release 2: PPG_R/G/B).' },
      recordsPerSubject: { type: 'integer', minimum: 1, maximum: 100, default: 6, description: 'Synthetic cohort: 10-s records per subject.' },
    },
  );
  readonly inputs = {};
  readonly outputs = { dataset: { kind: 'dataset', description: 'BUT-PPG records' } };

  preflight(p: ButPpgParams): string[] {
    return loaderPreflight('but-ppg', p);
  }

  fingerprint(p: ButPpgParams): string {
    return rootFingerprint(p);
  }

  run(ctx: StageContext<ButPpgParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const gen = { ...withDefaults({ subjects: p.syntheticSubjects, minutes: p.syntheticMinutes, seed: p.syntheticSeed, groupEffect: p.groupEffect }), recordsPerSubject: p.recordsPerSubject };
      const resolved = await resolveDataRoot('but-ppg', p, emit, (dir) => {
        writeButPpgCohort(join(dir, 'butppg'), gen);
        return dir;
      }, gen, 'butppg', (root) => downloadButPpg(root, p, (done, total, file) => emit.progress(done, total, file, 'files')));
      const index = indexButPpg(resolved.root);
      const bySubject = new Map<string, string[]>();
      for (const r of index.records) bySubject.set(r.slice(0, 3), [...(bySubject.get(r.slice(0, 3)) ?? []), r]);
      const subjects = selectSubjects([...bySubject.keys()], p.subjects, resolved.root);
      const arrays: Record<string, NdArray> = {};
      const perSubject = await forEachSubject(subjects, p, emit, (subject) => {
        const recs: RecordingRecord[] = [];
        const local: Record<string, NdArray> = {};
        for (const id of bySubject.get(subject)!) {
          const q = index.quality.get(id);
          if (!q) throw new FairtuneError('FT_DATA_FORMAT', `${index.qualityPath}: no row for record ${id}`, { file: index.qualityPath });
          if (q.problem) {
            // A record without its reference label cannot be used; fail, or skip it on request.
            const msg = `${index.qualityPath}: row ${q.row}, ${q.problem}`;
            if (!p.skipBadSubjects) throw new FairtuneError('FT_DATA_FORMAT', msg, { file: index.qualityPath });
            emit.log('warn', `${msg}; record skipped (skipBadSubjects)`);
            continue;
          }
          const info = index.info.get(id);
          if (!info) throw new FairtuneError('FT_DATA_FORMAT', `${index.infoPath}: no row for record ${id}`, { file: index.infoPath });
          const ppgRec = readRecord(join(resolved.root, id, `${id}_PPG`));
          const bad = ppgRec.channels.find((c) => !c.checksumOk);
          if (bad) throw new FairtuneError('FT_DATA_FORMAT', `${ppgRec.headerPath}: checksum mismatch in signal ${bad.name}`, { file: ppgRec.headerPath });
          const ppg = butPpgSignal(ppgRec, p.ppgChannel);
          local[`${id}/ppg`] = ndarray(f32(ppg.values));
          local[`${id}/hr`] = ndarray(Float32Array.of(q.hr));
          local[`${id}/quality`] = ndarray(Float32Array.of(q.quality));
          const signals: RecordingRecord['signals'] = { ppg: { array: `${id}/ppg`, fs: ppg.fs, units: ppgRec.channels[0]!.units, channels: [ppg.channel] } };
          const files = ppgRec.files.map((f) => ({ path: f, sha256: sha256File(f) }));
          const accPath = join(resolved.root, id, `${id}_ACC.hea`);
          if (existsSync(accPath)) {
            const accRec = readRecord(accPath);
            const n = accRec.nFrames;
            const acc = new Float32Array(n * 3);
            for (let i = 0; i < n; i++) for (let a = 0; a < Math.min(3, accRec.channels.length); a++) acc[i * 3 + a] = accRec.channels[a]!.physical[i]!;
            local[`${id}/acc`] = ndarray(acc, [n, 3]);
            (signals as Record<string, unknown>)['acc'] = { array: `${id}/acc`, fs: accRec.fs, units: accRec.channels[0]!.units, channels: accRec.channels.slice(0, 3).map((c) => c.name) };
            files.push(...accRec.files.map((f) => ({ path: f, sha256: sha256File(f) })));
          }
          // A present but unreadable demographic cell becomes null (unknown), with a warning
          // that says where, never a silent NaN.
          const where = (column: string) => `${index.infoPath}: row ${index.infoRow.get(id)}, column ${column} (record ${id})`;
          const numeric = (key: string, column: string): number | null => {
            const v = numOrNull(info[key]);
            if (v === null && isPresent(info[key])) emit.log('warn', `${where(column)}: "${info[key]}" is not a number; ${key} set to null`);
            return v;
          };
          const sex = sexFrom(info['gender']);
          if (sex === null && isPresent(info['gender'])) emit.log('warn', `${where('Gender')}: "${info['gender']}" is not M or F; sex set to null`);
          const motionCode = numeric('motion', 'Motion');
          const motion = motionCode !== null && Number.isInteger(motionCode) ? (MOTION[motionCode] ?? null) : null;
          if (motionCode !== null && motion === null) emit.log('warn', `${where('Motion')}: ${motionCode} is not a motion code 0–${MOTION.length - 1}; motion set to null`);
          const attributes: Record<string, AttributeValue> = {
            sex,
            age: numeric('age', 'Age'),
            height: numeric('height', 'Height'),
            weight: numeric('weight', 'Weight'),
            site: info['ear/finger'] === '0' ? 'ear' : info['ear/finger'] === '1' ? 'finger' : null,
            motion,
          };
          recs.push({
            id,
            subject,
            attributes,
            signals,
            labels: {
              hr: { array: `${id}/hr`, units: 'bpm', windowSeconds: ppg.values.length / ppg.fs, shiftSeconds: ppg.values.length / ppg.fs, offsetSeconds: 0 },
              // Quality is a 0/1 flag: a code, aligned by the mode if it is ever averaged over.
              quality: { array: `${id}/quality`, categorical: true, windowSeconds: ppg.values.length / ppg.fs, shiftSeconds: ppg.values.length / ppg.fs, offsetSeconds: 0 },
            },
            files,
          });
        }
        Object.assign(arrays, local);
        return recs;
      });
      const meta: DatasetMeta = {
        name: 'but-ppg',
        synthetic: resolved.synthetic,
        source: { root: resolved.root, ...(resolved.note ? { note: resolved.note } : {}) },
        recordings: perSubject.flat(),
      };
      emit.artifact('dataset', artifact('dataset', meta, arrays));
    });
  }
}
