/**
 * PPG-DaLiA (PPG_FieldStudy) reading: per subject the wrist BVP (64 Hz), wrist ACC (32 Hz,
 * g), HR label per 8-s window / 2-s shift, activity (4 Hz) and questionnaire from `S<n>.pkl`;
 * `S<n>_quest.csv` fills questionnaire fields the pickle lacks. Chest signals are never
 * materialised (lazy pickle arrays).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { injectable } from 'inversify';
import { artifact, FairtuneError, ndarray, runAsync, type AttributeValue, type DatasetMeta, type NdArray, type RecordingRecord, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { isNdArray, openPickle, pyString, PickledNdArray } from '../formats/pickle/index.js';
import { writeDaliaCohort } from '../synthetic/dalia.js';
import { withDefaults } from '../synthetic/cohort.js';
import { downloadDalia } from '../download/datasets.js';
import { f32, forEachSubject, loaderSchema, numOrNull, resolveDataRoot, selectSubjects, sexFrom, sha256File, type LoaderParams, loaderPreflight, rootFingerprint } from './common.js';

export interface DaliaSubject {
  readonly id: string;
  readonly bvp: Float32Array;
  readonly acc: Float32Array; // [T32, 3]
  readonly label: Float32Array;
  readonly activity: Float32Array;
  readonly attributes: Record<string, AttributeValue>;
  readonly files: { path: string; sha256: string }[];
}

export function listDaliaSubjects(root: string): string[] {
  if (!existsSync(root)) throw new FairtuneError('FT_DATA_MISSING', `${root}: DaLiA root not found`, { file: root });
  return readdirSync(root)
    .filter((d) => /^S\d+$/.test(d) && statSync(join(root, d)).isDirectory())
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

/** `# KEY,value` lines (tolerant: `#` optional, `,` or `;`, keys upper-cased). */
export function parseQuestCsv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\uFEFF/, '').replace(/^#/, '').trim();
    if (!line) continue;
    const m = /^([^,;]+)[,;](.*)$/.exec(line);
    if (m) out[m[1]!.trim().toUpperCase()] = m[2]!.trim();
  }
  return out;
}

function arrayAt(root: Record<string, unknown>, path: string[], file: string): PickledNdArray {
  let o: unknown = root;
  for (const k of path) {
    if (o === null || typeof o !== 'object' || !(k in (o as object))) throw new FairtuneError('FT_DATA_FORMAT', `${file}: key ${path.join('.')} is missing`, { file });
    o = (o as Record<string, unknown>)[k];
  }
  if (!isNdArray(o)) throw new FairtuneError('FT_DATA_FORMAT', `${file}: ${path.join('.')} is not a numpy array`, { file });
  return o;
}

export function readDaliaSubject(root: string, id: string, withChecksums = true): DaliaSubject {
  const dir = join(root, id);
  const pkl = join(dir, `${id}.pkl`);
  if (!existsSync(pkl)) throw new FairtuneError('FT_DATA_MISSING', `${pkl}: subject file is missing`, { file: pkl });
  const doc = openPickle(pkl);
  let bvpA: PickledNdArray, accA: PickledNdArray, labelA: PickledNdArray, actA: PickledNdArray;
  let quest: Record<string, unknown> = {};
  let bvp: Float32Array, acc: Float32Array, label: Float32Array, activity: Float32Array;
  try {
    const top = doc.root;
    if (top === null || typeof top !== 'object' || Array.isArray(top)) throw new FairtuneError('FT_DATA_FORMAT', `${pkl}: top-level object is not a dict`, { file: pkl });
    const d = top as Record<string, unknown>;
    bvpA = arrayAt(d, ['signal', 'wrist', 'BVP'], pkl);
    accA = arrayAt(d, ['signal', 'wrist', 'ACC'], pkl);
    labelA = arrayAt(d, ['label'], pkl);
    actA = arrayAt(d, ['activity'], pkl);
    if (d['questionnaire'] && typeof d['questionnaire'] === 'object') quest = d['questionnaire'] as Record<string, unknown>;
    bvp = f32(bvpA.toFloat64());
    acc = f32(accA.toFloat64());
    label = f32(labelA.toFloat64());
    activity = f32(actA.toFloat64());
  } finally {
    doc.close();
  }
  const t64 = bvp.length;
  if (accA.shape.length !== 2 || accA.shape[1] !== 3) throw new FairtuneError('FT_DATA_FORMAT', `${pkl}: signal.wrist.ACC has shape (${accA.shape.join(', ')}), expected (T, 3)`, { file: pkl });
  const t32 = accA.shape[0]!;
  if (Math.abs(t64 - 2 * t32) > 2) throw new FairtuneError('FT_DATA_FORMAT', `${pkl}: BVP has ${t64} samples at 64 Hz but ACC has ${t32} at 32 Hz (durations differ)`, { file: pkl });
  const nWin = Math.floor((t64 - 512) / 128) + 1;
  if (label.length !== nWin) throw new FairtuneError('FT_DATA_FORMAT', `${pkl}: label has ${label.length} windows, BVP length ${t64} implies floor((${t64}-512)/128)+1 = ${nWin}`, { file: pkl });
  const q: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(quest)) q[k.toUpperCase()] = typeof v === 'number' ? v : pyString(v) ?? v;
  const files = [{ path: pkl, sha256: withChecksums ? sha256File(pkl) : '' }];
  const questPath = join(dir, `${id}_quest.csv`);
  const needed = ['GENDER', 'AGE', 'SKIN'];
  if (needed.some((k) => q[k] === undefined) && existsSync(questPath)) {
    const csv = parseQuestCsv(readFileSync(questPath, 'utf8'));
    for (const k of [...needed, 'HEIGHT', 'WEIGHT', 'SPORT']) if (q[k] === undefined && csv[k] !== undefined) q[k] = csv[k];
    files.push({ path: questPath, sha256: withChecksums ? sha256File(questPath) : '' });
  }
  const attributes: Record<string, AttributeValue> = {
    sex: sexFrom(q['GENDER']),
    age: numOrNull(q['AGE']),
    skinType: numOrNull(q['SKIN']),
    height: numOrNull(q['HEIGHT']),
    weight: numOrNull(q['WEIGHT']),
    sport: numOrNull(q['SPORT']),
  };
  return { id, bvp, acc, label, activity, attributes, files };
}

export interface DaliaParams extends LoaderParams {
  syntheticChest: boolean;
}

@injectable()
export class DaliaLoader implements StagePlugin<DaliaParams> {
  readonly type = 'data.dalia';
  readonly version = '2';
  readonly description = 'Loads PPG-DaLiA (PPG_FieldStudy): wrist BVP 64 Hz, ACC 32 Hz, HR per 8-s/2-s window, activity, questionnaire; synthetic DaLiA-format cohort when the root is absent.';
  readonly paramsSchema = loaderSchema(
    { root: 'data/PPG_FieldStudy', subjects: 12, minutes: 4 },
    { syntheticChest: { type: 'boolean', default: true, description: 'Write 700-Hz chest channels into synthetic pickles, as the real files have.' } },
  );
  readonly inputs = {};
  readonly outputs = { dataset: { kind: 'dataset', description: 'DaLiA recordings per subject' } };

  preflight(p: DaliaParams): string[] {
    return loaderPreflight('dalia', p);
  }

  fingerprint(p: DaliaParams): string {
    return rootFingerprint(p);
  }

  run(ctx: StageContext<DaliaParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const gen = { ...withDefaults({ subjects: p.syntheticSubjects, minutes: p.syntheticMinutes, seed: p.syntheticSeed, groupEffect: p.groupEffect }), chest: p.syntheticChest, protocol: 2 as const };
      const resolved = await resolveDataRoot('dalia', p, emit, (dir) => {
        writeDaliaCohort(dir, gen);
        return dir;
      }, gen, 'PPG_FieldStudy', (root) => downloadDalia(root, p, (done, total) => emit.progress(done, total, 'downloading PPG-DaLiA', 'bytes')));
      const subjects = selectSubjects(listDaliaSubjects(resolved.root), p.subjects, resolved.root);
      const arrays: Record<string, NdArray> = {};
      const recordings: RecordingRecord[] = await forEachSubject(subjects, p, emit, (id) => {
        const s = readDaliaSubject(resolved.root, id);
        arrays[`${id}/ppg`] = ndarray(s.bvp);
        arrays[`${id}/acc`] = ndarray(s.acc, [s.acc.length / 3, 3]);
        arrays[`${id}/hr`] = ndarray(s.label);
        arrays[`${id}/activity`] = ndarray(s.activity);
        return {
          id,
          subject: id,
          attributes: s.attributes,
          signals: { ppg: { array: `${id}/ppg`, fs: 64, units: 'a.u.' }, acc: { array: `${id}/acc`, fs: 32, units: 'g', channels: ['x', 'y', 'z'] } },
          labels: {
            hr: { array: `${id}/hr`, units: 'bpm', windowSeconds: 8, shiftSeconds: 2, offsetSeconds: 0 },
            // Activity ids (0 transient … 8 working) are codes: windows take the mode, not the mean.
            activity: { array: `${id}/activity`, categorical: true, windowSeconds: 0.25, shiftSeconds: 0.25, offsetSeconds: 0 },
          },
          files: s.files,
        };
      });
      const meta: DatasetMeta = { name: 'dalia', synthetic: resolved.synthetic, source: { root: resolved.root, ...(resolved.note ? { note: resolved.note } : {}) }, recordings };
      emit.artifact('dataset', artifact('dataset', meta, arrays));
    });
  }
}
