/**
 * Synthetic MIMIC-III matched-subset cohort: `RECORDS`, `pXX/pXXNNNN/` with a variable-layout
 * multi-segment master header (layout, a segment with II + PLETH, a `~` gap, a segment with
 * PLETH only), format-80 segments at 125 Hz, a numerics record (HR/PULSE at 1 Hz, format 16,
 * gain 10) and a top-level `PATIENTS.csv` with the MIMIC-III quoted header.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@fairtune/core/plugin';
import { writeMultiSegmentHeader, writeRecord } from '../formats/wfdb/index.js';
import { activityAt, activitySchedule, ecgSignal, heartRate, ppgSignal, subjectProfile, wristAcceleration } from './physiology.js';
import { cohortDemographics, type CohortParams } from './cohort.js';

const FS = 125;

export function mimicSubjectId(i: number): number {
  return 20 + i * 137;
}

export function writeMimicCohort(root: string, p: CohortParams, onSubject?: (i: number) => void): void {
  mkdirSync(root, { recursive: true });
  const demos = cohortDemographics(p.seed, p.subjects);
  const top: string[] = [];
  const patients = ['"ROW_ID","SUBJECT_ID","GENDER","DOB","DOD","DOD_HOSP","DOD_SSN","EXPIRE_FLAG"'];
  for (let s = 0; s < p.subjects; s++) {
    const sid = mimicSubjectId(s);
    const pid = `p${String(sid).padStart(6, '0')}`;
    const rel = `${pid.slice(0, 3)}/${pid}/`;
    const dir = join(root, rel);
    mkdirSync(dir, { recursive: true });
    top.push(rel);
    const demo = demos[s]!;
    const rng = Rng.derive(p.seed, `mimic/${sid}`);
    const profile = subjectProfile(rng, demo.sex === p.groupEffect.group, p.groupEffect, demo.sex);
    const seconds = Math.max(30, Math.round(p.minutes * 60));
    // ICU patients are mostly still; occasional movement drives artefacts.
    const sched = activitySchedule(rng, seconds).map((a) => ({ ...a, id: a.id === 1 || a.id === 5 ? a.id : 8 }));
    const act4 = activityAt(sched, seconds, 4);
    const trace = heartRate(rng, profile, act4, seconds);
    const acc = wristAcceleration(rng, act4, seconds, 25);
    const raw = ppgSignal(rng, profile, trace, acc, 25, seconds, FS);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of raw) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const pleth = Float64Array.from(raw, (v) => 0.1 + (0.8 * (v - lo)) / (hi - lo || 1));
    const ecg = ecgSignal(rng, trace.beats, seconds, FS);
    const n = seconds * FS;
    const gap = 5 * FS;
    const n1 = Math.floor((n - gap) * 0.6);
    const n2 = n - gap - n1;
    const base = `${3000000 + sid}`;
    const year = 2100 + rng.int(80);
    const recName = `${pid}-${year}-04-28-17-47`;
    writeRecord(dir, `${base}_0001`, [
      { name: 'II', units: 'mV', gain: 127, baseline: -64, adcResolution: 8, physical: ecg.subarray(0, n1) },
      { name: 'PLETH', units: 'NU', gain: 255, baseline: -128, adcResolution: 8, physical: pleth.subarray(0, n1) },
    ], { fs: FS, format: 80, baseTime: '17:47:00.000' });
    writeRecord(dir, `${base}_0002`, [{ name: 'PLETH', units: 'NU', gain: 255, baseline: -128, adcResolution: 8, physical: pleth.subarray(n1 + gap) }], { fs: FS, format: 80 });
    writeMultiSegmentHeader(dir, recName, {
      fs: FS,
      layoutName: `${base}_layout`,
      layout: [{ name: 'PLETH', gain: 255, baseline: -128, units: 'NU' }, { name: 'II', gain: 127, baseline: -64, units: 'mV' }],
      segments: [{ name: `${base}_0001`, length: n1 }, { name: '~', length: gap }, { name: `${base}_0002`, length: n2 }],
      baseTime: '17:47:00.000',
      baseDate: `28/04/${year}`,
      comments: ['Location: micu'],
    });
    // Numerics at 1 Hz: monitor HR (ECG-derived) and PULSE (PPG-derived), gain 10.
    const hr1 = Float64Array.from({ length: seconds }, (_, t) => trace.hr[Math.min(trace.hr.length - 1, t * trace.fsHr)]! + rng.normal(0, 0.5));
    const pulse = Float64Array.from(hr1, (v) => v + rng.normal(0, 2));
    writeRecord(dir, `${recName}n`, [
      { name: 'HR', units: 'bpm', gain: 10, physical: hr1 },
      { name: 'PULSE', units: 'bpm', gain: 10, physical: pulse },
    ], { fs: 1, format: 16, baseTime: '17:47:00.000', baseDate: `28/04/${year}`, dataFile: `${recName}n.dat` });
    writeFileSync(join(dir, 'RECORDS'), `${recName}\n${recName}n\n`);
    const dobYear = year - demo.age;
    patients.push(`${s + 1},${sid},"${demo.sex === 'male' ? 'M' : 'F'}",${dobYear}-01-15 00:00:00,,,,0`);
    onSubject?.(s);
  }
  writeFileSync(join(root, 'RECORDS'), top.join('\n') + '\n');
  writeFileSync(join(root, 'PATIENTS.csv'), patients.join('\n') + '\n');
}
