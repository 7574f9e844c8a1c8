/**
 * Synthetic PPG-DaLiA cohort in the real on-disk format: `S<n>/S<n>.pkl` (Python-2-style
 * protocol-2 pickle of numpy arrays with every key of the real files, chest signals included
 * when asked), `S<n>_quest.csv` and `S<n>_activity.csv`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@fairtune/core/plugin';
import { py, writePickleFile, type PyValue } from '../formats/pickle/index.js';
import { ACTIVITIES, activityAt, activitySchedule, ecgSignal, heartRate, ppgSignal, subjectProfile, windowLabels, wristAcceleration } from './physiology.js';
import { cohortDemographics, type CohortParams } from './cohort.js';

export interface DaliaCohortParams extends CohortParams {
  /** Write the 700-Hz chest channels as the real files have them (large; default true). */
  readonly chest: boolean;
  /** Pickle protocol of the written files (the real files are Python 2: protocol 0 or 2). */
  readonly protocol: 0 | 2;
}

function column(x: Float64Array): Float64Array {
  return x;
}

/** Builds one subject's pickle value (exported for the benchmark). */
export function daliaSubjectValue(p: DaliaCohortParams, index: number): { value: PyValue; quest: string; activityCsv: string } {
  const id = `S${index + 1}`;
  const demo = cohortDemographics(p.seed, p.subjects)[index]!;
  const rng = Rng.derive(p.seed, `dalia/${id}`);
  const profile = subjectProfile(rng, demo.sex === p.groupEffect.group, p.groupEffect, demo.sex);
  // Whole 2-s steps keep T64 = 2·T32 = 16·T4 exact.
  const seconds = Math.max(10, Math.round(p.minutes * 30) * 2);
  const schedule = activitySchedule(rng, seconds);
  const act4 = activityAt(schedule, seconds, 4);
  const trace = heartRate(rng, profile, act4, seconds);
  const acc = wristAcceleration(rng, act4, seconds, 32);
  const bvp = ppgSignal(rng, profile, trace, acc, 32, seconds, 64);
  const labels = windowLabels(trace.beats, seconds);
  for (let j = 0; j < labels.length; j++) labels[j] = labels[j]! + rng.normal(0, 1) * profile.labelNoiseBpm;
  const t32 = 32 * seconds;
  const accData = new Float64Array(t32 * 3);
  for (let i = 0; i < t32; i++) {
    for (let a = 0; a < 3; a++) {
      // E4 ACC is in 1/64 g steps, range [-2, 2) g.
      accData[i * 3 + a] = Math.min(127, Math.max(-128, Math.round(acc[a]![i]! * 64))) / 64;
    }
  }
  const t4 = 4 * seconds;
  const eda = Float64Array.from({ length: t4 }, (_, i) => 0.4 + 0.1 * Math.sin(i / 200) + rng.normal(0, 0.005));
  const temp = Float64Array.from({ length: t4 }, (_, i) => 32.5 + 0.5 * Math.sin(i / 500));
  const chest: Record<string, PyValue> = {};
  const t700 = (64 * seconds * 700) / 64;
  let rpeaks = new Int32Array(0);
  if (p.chest) {
    const ecg = ecgSignal(rng, trace.beats, seconds, 700, 0.25);
    rpeaks = Int32Array.from(Array.from(trace.beats, (t) => Math.round((t - 0.25) * 700)).filter((s) => s >= 0 && s < t700));
    const cacc = new Float64Array(t700 * 3);
    for (let i = 0; i < t700; i++) for (let a = 0; a < 3; a++) cacc[i * 3 + a] = acc[a]![Math.min(t32 - 1, Math.floor((i * 32) / 700))]! * 0.5;
    const resp = Float64Array.from({ length: t700 }, (_, i) => Math.sin((2 * Math.PI * profile.respirationHz * i) / 700));
    chest['ACC'] = py.array('f8', [t700, 3], cacc);
    chest['ECG'] = py.array('f8', [t700, 1], ecg);
    chest['EMG'] = py.array('f8', [t700, 1], new Float64Array(t700).fill(-1.5));
    chest['EDA'] = py.array('f8', [t700, 1], new Float64Array(t700));
    chest['Temp'] = py.array('f4', [t700, 1], new Float32Array(t700).fill(-273.15));
    chest['Resp'] = py.array('f8', [t700, 1], resp);
  } else {
    rpeaks = Int32Array.from(Array.from(trace.beats, (t) => Math.round((t - 0.25) * 700)).filter((s) => s >= 0 && s < t700));
  }
  const value = py.dict({
    rpeaks: py.array('i4', [rpeaks.length], rpeaks),
    signal: py.dict({
      chest: py.dict(chest),
      wrist: py.dict({
        ACC: py.array('f8', [t32, 3], accData),
        BVP: py.array('f8', [64 * seconds, 1], column(bvp)),
        EDA: py.array('f8', [t4, 1], eda),
        TEMP: py.array('f8', [t4, 1], temp),
      }),
    }),
    label: py.array('f8', [labels.length], labels),
    activity: py.array('f8', [t4, 1], act4),
    questionnaire: py.dict({
      WEIGHT: py.float(demo.weight),
      Gender: demo.sex === 'male' ? ' m' : ' f',
      AGE: py.int(demo.age),
      HEIGHT: py.float(demo.height),
      SKIN: py.int(demo.skin),
      SPORT: py.int(demo.sport),
    }),
    subject: id,
  });
  const quest = [`# SUBJECT_ID,${id}`, `# AGE,${demo.age}`, `# GENDER, ${demo.sex === 'male' ? 'm' : 'f'}`, `# HEIGHT,${demo.height}`, `# WEIGHT,${demo.weight}`, `# SKIN,${demo.skin}`, `# SPORT,${demo.sport}`].join('\n') + '\n';
  const names: Record<number, string> = { 1: 'SITTING', 2: 'STAIRS', 3: 'TABLE SOCCER', 4: 'CYCLING', 5: 'DRIVING', 6: 'LUNCH', 7: 'WALKING', 8: 'WORKING' };
  const activityCsv = [`# SUBJECT_ID,${id}`, ...schedule.filter((s) => s.id !== 0).map((s) => `${names[s.id] ?? ACTIVITIES[s.id]!.name.toUpperCase()},${s.start}`)].join('\n') + '\n';
  return { value, quest, activityCsv };
}

export function writeDaliaCohort(dir: string, p: DaliaCohortParams, onSubject?: (i: number) => void): void {
  const root = join(dir, 'PPG_FieldStudy');
  for (let i = 0; i < p.subjects; i++) {
    const id = `S${i + 1}`;
    const sdir = join(root, id);
    mkdirSync(sdir, { recursive: true });
    const { value, quest, activityCsv } = daliaSubjectValue(p, i);
    writePickleFile(join(sdir, `${id}.pkl`), value, p.protocol);
    writeFileSync(join(sdir, `${id}_quest.csv`), quest);
    writeFileSync(join(sdir, `${id}_activity.csv`), activityCsv);
    onSubject?.(i);
  }
}
