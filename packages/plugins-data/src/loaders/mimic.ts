/**
 * MIMIC-III Waveform Database Matched Subset: per subject directory (`pXX/pXXNNNN/`) the
 * master multi-segment records' PLETH (125 Hz, NaN in gaps and where missing), an HR
 * reference per 8-s/2-s window from the numerics record's monitor HR (ECG-derived), falling
 * back to R-peaks detected in lead II; sex (and age) from a user-supplied PATIENTS.csv.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { injectable } from 'inversify';
import { artifact, FairtuneError, ndarray, runAsync, type AttributeValue, type DatasetMeta, type NdArray, type RecordingRecord, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { readRecord, demographicsFromComments, type WfdbRecord } from '../formats/wfdb/index.js';
import { writeMimicCohort } from '../synthetic/mimic.js';
import { withDefaults } from '../synthetic/cohort.js';
import { detectRPeaks } from '@fairtune/signal';
import { readCsvTable, requireColumns } from './csv.js';
import { MIMIC_ACCESS_NOTE, mimicDownloadError } from '../download/download.js';
import { f32, forEachSubject, isPlausibleHr, loaderSchema, PLAUSIBLE_HR_BPM, resolveDataRoot, selectSubjects, sexFrom, sha256File, type LoaderParams, loaderPreflight, rootFingerprint } from './common.js';

export interface MimicParams extends LoaderParams {
  clinicalTable?: string;
  windowSeconds: number;
  shiftSeconds: number;
}

/** Subject directories (relative, e.g. `p00/p000020/`) from the top RECORDS file or a scan. */
export function listMimicSubjects(root: string): string[] {
  const rec = join(root, 'RECORDS');
  if (existsSync(rec)) return readFileSync(rec, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => /^p\d\d\/p\d{6}\/?$/.test(l)).map((l) => (l.endsWith('/') ? l : `${l}/`));
  const out: string[] = [];
  for (const a of readdirSync(root).filter((d) => /^p\d\d$/.test(d))) {
    for (const b of readdirSync(join(root, a)).filter((d) => /^p\d{6}$/.test(d) && statSync(join(root, a, d)).isDirectory())) out.push(`${a}/${b}/`);
  }
  return out.sort();
}

export function subjectIdOf(rel: string): string {
  return String(Number(/p(\d{6})\/?$/.exec(rel)![1]));
}

/** Mean of `values` (sampled at fsV) over each window; NaN where none are valid. */
function windowMean(values: Float64Array, fsV: number, nWin: number, win: number, shift: number): Float32Array {
  const out = new Float32Array(nWin);
  for (let j = 0; j < nWin; j++) {
    const a = Math.floor(j * shift * fsV);
    const e = Math.max(a + 1, Math.floor((j * shift + win) * fsV));
    let s = 0;
    let c = 0;
    for (let i = a; i < Math.min(e, values.length); i++) {
      if (Number.isFinite(values[i]!)) {
        s += values[i]!;
        c++;
      }
    }
    out[j] = c ? s / c : NaN;
  }
  return out;
}

function hrFromEcg(ecg: Float64Array, fs: number, nWin: number, win: number, shift: number): Float32Array {
  const peaks = detectRPeaks(ecg, fs);
  const out = new Float32Array(nWin);
  for (let j = 0; j < nWin; j++) {
    const a = j * shift * fs;
    const e = a + win * fs;
    const inside = peaks.filter((p) => p >= a && p < e);
    // HR = 60·(k−1)/(t_k − t_1) over the beats inside the window.
    out[j] = inside.length >= 3 ? (60 * (inside.length - 1)) / ((inside[inside.length - 1]! - inside[0]!) / fs) : NaN;
    if (!isPlausibleHr(out[j]!)) out[j] = NaN;
  }
  return out;
}

@injectable()
export class MimicLoader implements StagePlugin<MimicParams> {
  readonly type = 'data.mimic';
  readonly version = '2';
  readonly description = 'Loads MIMIC-III matched-subset WFDB records: PLETH 125 Hz, HR reference per window from numerics HR (or ECG R-peaks), sex/age from PATIENTS.csv.';
  readonly paramsSchema = loaderSchema(
    { root: 'data/mimic3wdb-matched', subjects: 8, minutes: 3 },
    {
      clinicalTable: { type: 'string', description: 'Path to MIMIC-III PATIENTS.csv (credentialed); default <root>/PATIENTS.csv when present.' },
      windowSeconds: { type: 'number', exclusiveMinimum: 0, default: 8 },
      shiftSeconds: { type: 'number', exclusiveMinimum: 0, default: 2 },
    },
  );
  readonly inputs = {};
  readonly outputs = { dataset: { kind: 'dataset', description: 'MIMIC PLETH recordings' } };

  preflight(p: MimicParams): string[] {
    return loaderPreflight('mimic', p);
  }

  fingerprint(p: MimicParams): string {
    // The clinical table may live outside the waveform root; its change must re-run the loader too.
    const table = p.clinicalTable && existsSync(p.clinicalTable) ? statSync(p.clinicalTable) : undefined;
    return `${rootFingerprint(p)}|table:${p.clinicalTable ?? ''}:${table ? `${table.size}:${table.mtimeMs}` : 'absent'}`;
  }

  run(ctx: StageContext<MimicParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const gen = withDefaults({ subjects: p.syntheticSubjects, minutes: p.syntheticMinutes, seed: p.syntheticSeed, groupEffect: p.groupEffect });
      const resolved = await resolveDataRoot('mimic', p, emit, (dir) => {
        writeMimicCohort(join(dir, 'mimic3wdb-matched'), gen);
        return dir;
      }, gen, 'mimic3wdb-matched', async () => {
        throw mimicDownloadError();
      });
      const root = resolved.root;
      const tablePath = p.clinicalTable ?? (existsSync(join(root, 'PATIENTS.csv')) ? join(root, 'PATIENTS.csv') : undefined);
      // `notes`: why a value became unknown; reported when the subject is loaded (the real
      // table lists every MIMIC-III patient, most of whom have no waveforms here).
      const patients = new Map<string, { sex: AttributeValue; dobYear: number | null; notes: string[] }>();
      const tableFiles: { path: string; sha256: string }[] = [];
      if (tablePath) {
        const t = readCsvTable(tablePath);
        requireColumns(tablePath, t.columns, ['subject_id', 'gender']);
        if (!t.columns.includes('dob')) emit.log('warn', `${tablePath}: no DOB column; ages come from the record headers where they have one`);
        t.rows.forEach((r, i) => {
          const sid = String(Number(r['subject_id']));
          const where = `${tablePath}: row ${i + 2}, subject ${sid}`;
          const notes: string[] = [];
          const sex = sexFrom(r['gender']);
          if (sex === null) notes.push(`${where}: GENDER "${r['gender']}" is not M or F; sex unknown unless the record header gives it`);
          let dobYear: number | null = null;
          if (r['dob'] !== undefined) {
            // MIMIC-III writes `YYYY-MM-DD hh:mm:ss` (shifted dates).
            const m = /^(\d{4})-/.exec(r['dob']);
            if (m) dobYear = Number(m[1]);
            else notes.push(`${where}: DOB "${r['dob']}" has no year; age taken from the record header when it has one`);
          }
          patients.set(sid, { sex, dobYear, notes });
        });
        tableFiles.push({ path: tablePath, sha256: sha256File(tablePath) });
      } else {
        emit.log('warn', `no clinical table: sex is unknown for every MIMIC subject. ${MIMIC_ACCESS_NOTE}`);
      }
      const rels = listMimicSubjects(root);
      const ids = rels.map(subjectIdOf);
      const subjects = selectSubjects(ids, p.subjects, root);
      const arrays: Record<string, NdArray> = {};
      const perSubject = await forEachSubject(subjects, p, emit, (sid) => {
        const dir = join(root, rels[ids.indexOf(sid)]!);
        const recFile = join(dir, 'RECORDS');
        const names = existsSync(recFile)
          ? readFileSync(recFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean)
          : readdirSync(dir).filter((f) => f.endsWith('.hea') && /^p\d{6}-/.test(f)).map((f) => f.slice(0, -4));
        for (const note of patients.get(sid)?.notes ?? []) emit.log('warn', note);
        const masters = names.filter((n) => !n.endsWith('n'));
        const out: RecordingRecord[] = [];
        for (const name of masters) {
          const rec: WfdbRecord = readRecord(join(dir, name));
          const bad = rec.channels.find((c) => !c.checksumOk);
          if (bad) throw new FairtuneError('FT_DATA_FORMAT', `${rec.headerPath}: checksum mismatch in signal ${bad.name}`, { file: rec.headerPath });
          const pleth = rec.channels.find((c) => c.name === 'PLETH');
          if (!pleth) {
            emit.log('info', `${rec.headerPath}: no PLETH signal, record skipped`);
            continue;
          }
          const seconds = pleth.physical.length / pleth.fs;
          const nWin = Math.max(0, Math.floor((seconds - p.windowSeconds) / p.shiftSeconds) + 1);
          let hr: Float32Array;
          let hrSource: string;
          const files = [...rec.files];
          const numPath = join(dir, `${name}n.hea`);
          const numHr = existsSync(numPath) ? readRecord(numPath) : undefined;
          const hrCh = numHr?.channels.find((c) => c.name === 'HR');
          if (numHr && hrCh) {
            // Same plausibility rule as the ECG path: a monitor writes 0 bpm with the lead off,
            // which must not be averaged into the window's reference HR.
            const values = Float64Array.from(hrCh.physical);
            let dropped = 0;
            for (let i = 0; i < values.length; i++) {
              if (Number.isFinite(values[i]!) && !isPlausibleHr(values[i]!)) {
                values[i] = NaN;
                dropped++;
              }
            }
            if (dropped > 0) {
              emit.log('info', `${numPath}: ${dropped} of ${values.length} HR samples outside ${PLAUSIBLE_HR_BPM.min}–${PLAUSIBLE_HR_BPM.max} bpm dropped before the window means`);
            }
            hr = windowMean(values, hrCh.fs, nWin, p.windowSeconds, p.shiftSeconds);
            hrSource = 'numerics HR';
            files.push(...numHr.files);
          } else {
            const ii = rec.channels.find((c) => ['II', 'I', 'V', 'III', 'MCL1'].includes(c.name));
            if (!ii) throw new FairtuneError('FT_DATA_MISSING', `${rec.headerPath}: no numerics HR (${numPath}) and no ECG lead to derive HR from`, { file: numPath });
            hr = hrFromEcg(ii.physical, ii.fs, nWin, p.windowSeconds, p.shiftSeconds);
            hrSource = `R-peaks in ${ii.name}`;
          }
          const patient = patients.get(sid);
          const fromComments = demographicsFromComments(rec.comments);
          const year = rec.baseDate ? Number(rec.baseDate.split('/')[2]) : Number(/-(\d{4})-/.exec(name)?.[1] ?? NaN);
          const age = patient?.dobYear != null && Number.isFinite(year) ? Math.min(90, year - patient.dobYear) : fromComments.age ?? null;
          arrays[`${name}/ppg`] = ndarray(f32(pleth.physical));
          arrays[`${name}/hr`] = ndarray(hr);
          out.push({
            id: name,
            subject: sid,
            attributes: { sex: patient?.sex ?? fromComments.sex ?? null, age, hrSource },
            signals: { ppg: { array: `${name}/ppg`, fs: pleth.fs, units: pleth.units } },
            labels: { hr: { array: `${name}/hr`, units: 'bpm', windowSeconds: p.windowSeconds, shiftSeconds: p.shiftSeconds, offsetSeconds: 0 } },
            files: [...files.map((f) => ({ path: f, sha256: sha256File(f) })), ...tableFiles],
          });
        }
        return out;
      });
      const meta: DatasetMeta = {
        name: 'mimic',
        synthetic: resolved.synthetic,
        source: { root, ...(resolved.note ? { note: resolved.note } : {}) },
        recordings: perSubject.flat(),
      };
      emit.artifact('dataset', artifact('dataset', meta, arrays));
    });
  }
}
