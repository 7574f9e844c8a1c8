/**
 * Synthetic BUT-PPG cohort in the PhysioNet release layout: `<ID>/<ID>_PPG` (30 Hz, PPG_R/G/B,
 * format 16), `<ID>_ECG` (1000 Hz), `<ID>_ACC` (100 Hz, release-2 IDs only), `<ID>.qrs`, plus
 * BOM-prefixed `quality-hr-ann.csv` and `subject-info.csv` and `RECORDS`. The first subject
 * (ID 100) is written in the release-1 "transposed" header form (one signal line per sample).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@fairtune/core/plugin';
import { writeRecord, writeAnnotations } from '../formats/wfdb/index.js';
import { activityAt, ecgSignal, heartRate, ppgSignal, subjectProfile, wristAcceleration } from './physiology.js';
import { cohortDemographics, type CohortParams } from './cohort.js';

export interface ButPpgCohortParams extends CohortParams {
  readonly recordsPerSubject: number;
}

const BOM = '\uFEFF';
const SECONDS = 10;

/** Motion code (0 rest … 7 talking) → DaLiA-like activity used to drive HR and acceleration. */
const MOTION_ACTIVITY = [1, 1, 8, 7, 0, 6, 1, 8];

function writeTransposed(dir: string, name: string, values: Float64Array, gain: number, units: string, desc: string, fs: number): void {
  // Release-1 quirk: nSamples = 1, one signal line per sample, all data bytes zero; the
  // value sits in each line's baseline: x = (0 − baseline) / gain.
  const lines = [`${name} ${values.length} ${fs} 1`];
  for (let i = 0; i < values.length; i++) lines.push(`${name}.dat 16 ${gain}(${-Math.round(values[i]! * gain)})/${units} 16 0 0 0 0 ${desc}`);
  writeFileSync(join(dir, `${name}.hea`), lines.join('\n') + '\n');
  writeFileSync(join(dir, `${name}.dat`), new Uint8Array(values.length * 2));
}

export function writeButPpgCohort(root: string, p: ButPpgCohortParams, onSubject?: (i: number) => void): void {
  mkdirSync(root, { recursive: true });
  const demos = cohortDemographics(p.seed, p.subjects);
  const quality: string[] = ['ID,Quality,HR'];
  const info: string[] = ['ID,Gender,Age [years],Height [cm],Weight [kg],Ear/finger,Motion,Blood pressure [mmHg],Glycaemia [mmol/l],SpO2 [%]'];
  const records: string[] = [];
  for (let s = 0; s < p.subjects; s++) {
    const subject = s === 0 ? 100 : 111 + s;
    const release1 = subject < 112;
    const demo = demos[s]!;
    const rng = Rng.derive(p.seed, `but-ppg/${subject}`);
    const affected = demo.sex === p.groupEffect.group;
    const profile = subjectProfile(rng, affected, p.groupEffect, demo.sex);
    for (let k = 0; k < p.recordsPerSubject; k++) {
      const id = `${subject}${String(k + 1).padStart(3, '0')}`;
      const dir = join(root, id);
      mkdirSync(dir, { recursive: true });
      const motion = k === 0 ? 0 : rng.int(8);
      const act4 = new Float64Array(SECONDS * 4).fill(MOTION_ACTIVITY[motion]!);
      const trace = heartRate(rng, profile, act4, SECONDS);
      const acc = wristAcceleration(rng, activityAt([{ id: MOTION_ACTIVITY[motion]!, start: 0 }], SECONDS, 4), SECONDS, 100);
      const ppg = ppgSignal(rng, profile, trace, acc, 100, SECONDS, 30);
      // Camera channel means: red carries most of the pulsatile signal in finger recordings.
      const base = [180 + rng.uniform(-20, 20), 60 + rng.uniform(-10, 10), 40 + rng.uniform(-10, 10)];
      const scale = [0.08, 0.03, 0.02];
      const rgb = base.map((b, c) => Float64Array.from(ppg, (v) => b + scale[c]! * v));
      const ecg = ecgSignal(rng, trace.beats, SECONDS, 1000);
      const qrs = Array.from(trace.beats, (t) => Math.round(t * 1000)).filter((v) => v >= 0 && v < SECONDS * 1000);
      if (release1) {
        writeTransposed(dir, `${id}_PPG`, rgb[0]!, 100, 'NU', 'PPG', 30);
        writeTransposed(dir, `${id}_ECG`, ecg, 1000, 'mV', 'ECG', 1000);
      } else {
        writeRecord(dir, `${id}_PPG`, ['PPG_R', 'PPG_G', 'PPG_B'].map((name, c) => ({ name, units: 'NU', gain: 100, physical: rgb[c]! })), { fs: 30, format: 16 });
        writeRecord(dir, `${id}_ECG`, [{ name: 'ECG', units: 'mV', gain: 1000, physical: ecg }], { fs: 1000, format: 16 });
        writeRecord(dir, `${id}_ACC`, ['ACC_X', 'ACC_Y', 'ACC_Z'].map((name, a) => ({ name, units: 'g', gain: 1000, physical: acc[a]! })), { fs: 100, format: 16 });
      }
      writeAnnotations(join(dir, `${id}.qrs`), qrs);
      records.push(`${id}/${id}_PPG`, `${id}/${id}_ECG`);
      if (!release1) records.push(`${id}/${id}_ACC`);
      const rr = qrs.slice(1).map((v, i) => v - qrs[i]!);
      const hr = 60 / (rr.reduce((a, b) => a + b, 0) / rr.length / 1000);
      // Good quality is likelier at rest; the group effect lowers it for the affected group.
      const pGood = (motion <= 1 ? 0.75 : 0.3) * (affected ? 1 / p.groupEffect.noiseScale : 1);
      const q = rng.next() < pGood ? 1 : 0;
      quality.push(`${id},${q},${Math.round(hr + rng.normal(0, 1) * profile.labelNoiseBpm)}`);
      const ear = k % 3 === 2 ? 0 : 1;
      const bp = k === 1 ? '' : `${Math.round(rng.normal(120, 10))}/${Math.round(rng.normal(78, 7))}`;
      info.push(`${id},${demo.sex === 'male' ? 'M' : 'F'},${demo.age},${demo.height},${demo.weight},${ear},${motion},${bp},${(5 + rng.uniform(0, 1.5)).toFixed(1)},${Math.round(rng.uniform(95, 99))}`);
    }
    onSubject?.(s);
  }
  writeFileSync(join(root, 'quality-hr-ann.csv'), BOM + quality.join('\r\n') + '\r\n');
  writeFileSync(join(root, 'subject-info.csv'), BOM + info.join('\r\n') + '\r\n');
  writeFileSync(join(root, 'RECORDS'), records.join('\n') + '\n');
}
