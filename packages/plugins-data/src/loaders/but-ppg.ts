/**
 * BUT-PPG (PhysioNet `butppg` v1/v2): per record the PPG (30 Hz; `PPG_R` by default), ACC
 * (100 Hz, release-2 IDs), the record's reference HR and quality flag from
 * `quality-hr-ann.csv`, demographics from `subject-info.csv`. Release-1 "transposed" headers
 * (one signal line per sample, value in the baseline) are flattened. Subject = first 3 ID digits.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { injectable } from 'inversify';
import { artifact, ndarray, runAsync, type AttributeValue, type DatasetMeta, type NdArray, type RecordingRecord, type StageContext, type StagePlugin } from '@fairtune/core';
import { readRecord, type WfdbRecord } from '../formats/wfdb/index.js';
import { writeButPpgCohort } from '../synthetic/but-ppg.js';
import { withDefaults } from '../synthetic/cohort.js';
import { readCsvTable, requireColumns } from './csv.js';
import { downloadButPpg } from '../download/datasets.js';
import { f32, forEachSubject, loaderSchema, resolveDataRoot, selectSubjects, sha256File, type LoaderParams, loaderPreflight, rootFingerprint } from './common.js';

const MOTION = ['rest', 'higher pressure', 'moving on lens', 'walking', 'coughing', 'laughing', 'ambient light change', 'talking'];

export interface ButPpgIndex {
  readonly root: string;
  readonly records: string[];
  readonly quality: Map<string, { quality: number; hr: number }>;
  readonly info: Map<string, Record<string, string>>;
  readonly files: { path: string; sha256: string }[];
}

function findFile(root: string, name: string): string | undefined {
  const hit = readdirSync(root).find((f) => f.toLowerCase() === name.toLowerCase());
  return hit ? join(root, hit) : undefined;
}

export function indexButPpg(root: string, withChecksums = true): ButPpgIndex {
  if (!existsSync(root)) throw new Error(`${root}: BUT-PPG root not found`);
  const qPath = findFile(root, 'quality-hr-ann.csv');
  const iPath = findFile(root, 'subject-info.csv');
  if (!qPath) throw new Error(`${join(root, 'quality-hr-ann.csv')}: file not found (BUT-PPG labels)`);
  if (!iPath) throw new Error(`${join(root, 'subject-info.csv')}: file not found (BUT-PPG demographics)`);
  const q = readCsvTable(qPath);
  requireColumns(qPath, q.columns, ['id', 'quality', 'hr']);
  const quality = new Map<string, { quality: number; hr: number }>();
  q.rows.forEach((r, i) => {
    const quality1 = Number(r['quality']);
    const hr = Number(r['hr']);
    if (!/^\d{6}$/.test(r['id']!) || !(quality1 === 0 || quality1 === 1) || !Number.isFinite(hr)) {
      throw new Error(`${qPath}: row ${i + 2} (${Object.values(r).join(',')}) needs a 6-digit ID, Quality 0/1 and a numeric HR`);
    }
    quality.set(r['id']!, { quality: quality1, hr });
  });
  const inf = readCsvTable(iPath);
  requireColumns(iPath, inf.columns, ['id', 'gender', 'age']);
  const info = new Map(inf.rows.map((r) => [r['id']!, r]));
  let records: string[];
  const recPath = join(root, 'RECORDS');
  if (existsSync(recPath)) {
    records = [...new Set(readFileSync(recPath, 'utf8').split(/\r?\n/).map((l) => l.trim().split('/')[0]!).filter((l) => /^\d{6}$/.test(l)))];
  } else {
    records = readdirSync(root).filter((d) => /^\d{6}$/.test(d) && statSync(join(root, d)).isDirectory());
  }
  records.sort();
  const files = [qPath, iPath, ...(existsSync(recPath) ? [recPath] : [])].map((p) => ({ path: p, sha256: withChecksums ? sha256File(p) : '' }));
  return { root, records, quality, info, files };
}

/** PPG samples of a record; flattens the release-1 transposed header form. */
export function butPpgSignal(rec: WfdbRecord, preferred: string): { values: Float64Array; fs: number; channel: string; transposed: boolean } {
  if (rec.nFrames === 1 && rec.channels.length > 1) {
    return { values: Float64Array.from(rec.channels, (c) => c.physical[0]!), fs: rec.fs, channel: rec.channels[0]!.name, transposed: true };
  }
  const ch = rec.channels.find((c) => c.name === preferred) ?? rec.channels[0];
  if (!ch) throw new Error(`${rec.headerPath}: record has no signals`);
  return { values: ch.physical, fs: ch.fs, channel: ch.name, transposed: false };
}

export interface ButPpgParams extends LoaderParams {
  ppgChannel: string;
  recordsPerSubject: number;
}

@injectable()
export class ButPpgLoader implements StagePlugin<ButPpgParams> {
  readonly type = 'data.but-ppg';
  readonly version = '1';
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
          const ppgRec = readRecord(join(resolved.root, id, `${id}_PPG`));
          const bad = ppgRec.channels.find((c) => !c.checksumOk);
          if (bad) throw new Error(`${ppgRec.headerPath}: checksum mismatch in signal ${bad.name}`);
          const ppg = butPpgSignal(ppgRec, p.ppgChannel);
          const q = index.quality.get(id);
          if (!q) throw new Error(`${join(resolved.root, 'quality-hr-ann.csv')}: no row for record ${id}`);
          const info = index.info.get(id);
          if (!info) throw new Error(`${join(resolved.root, 'subject-info.csv')}: no row for record ${id}`);
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
          const sex = (info['gender'] ?? '').toUpperCase();
          const motion = info['motion'] !== undefined && info['motion'] !== '' ? Number(info['motion']) : null;
          const attributes: Record<string, AttributeValue> = {
            sex: sex === 'M' ? 'male' : sex === 'F' ? 'female' : null,
            age: info['age'] ? Number(info['age']) : null,
            height: info['height'] ? Number(info['height']) : null,
            weight: info['weight'] ? Number(info['weight']) : null,
            site: info['ear/finger'] === '0' ? 'ear' : info['ear/finger'] === '1' ? 'finger' : null,
            motion: motion !== null && MOTION[motion] ? MOTION[motion]! : null,
          };
          recs.push({
            id,
            subject,
            attributes,
            signals,
            labels: {
              hr: { array: `${id}/hr`, units: 'bpm', windowSeconds: ppg.values.length / ppg.fs, shiftSeconds: ppg.values.length / ppg.fs, offsetSeconds: 0 },
              quality: { array: `${id}/quality`, windowSeconds: ppg.values.length / ppg.fs, shiftSeconds: ppg.values.length / ppg.fs, offsetSeconds: 0 },
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
      emit.artifact('dataset', artifact('dataset', meta as never, arrays));
    });
  }
}
