/**
 * A synthetic CSV-folder dataset for the tests: subjects.csv and one recording per subject (two
 * for S1), a seeded PPG-like pulse at each subject's heart rate plus noise, and an hr column.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@fairtune/core/plugin';

export interface FixtureSubject {
  id: string;
  sex: string;
  age: number | '';
  hr: number;
}

export const FIXTURE_SUBJECTS: FixtureSubject[] = [
  { id: 'S1', sex: 'female', age: 31, hr: 62 },
  { id: 'S2', sex: 'M', age: 58, hr: 75 },
  { id: 'S2_b', sex: 'f', age: '', hr: 90 },
];

export function writeCsvFolder(options: { fs?: number; seconds?: number; seed?: number; dir?: string } = {}): string {
  const fs = options.fs ?? 32;
  const seconds = options.seconds ?? 10;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'csv-ppg-'));
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(options.seed ?? 1);
  writeFileSync(join(dir, 'subjects.csv'), ['subject,sex,age,site', ...FIXTURE_SUBJECTS.map((s) => `${s.id},${s.sex},${s.age},"ward, north"`)].join('\n') + '\n');
  const recording = (file: string, hr: number, start: number) => {
    const lines = ['time,ppg,hr'];
    for (let k = 0; k < fs * seconds; k++) {
      const t = start + k / fs;
      const ppg = Math.sin((2 * Math.PI * hr * t) / 60) + 0.05 * rng.normal(0, 1);
      lines.push(`${t.toFixed(6)},${ppg.toFixed(5)},${hr}`);
    }
    writeFileSync(join(dir, file), lines.join('\r\n') + '\r\n');
  };
  recording('S1_rest.csv', FIXTURE_SUBJECTS[0]!.hr, 0);
  recording('S1_walk.csv', FIXTURE_SUBJECTS[0]!.hr + 20, 100);
  recording('S2.csv', FIXTURE_SUBJECTS[1]!.hr, 0);
  recording('S2_b.csv', FIXTURE_SUBJECTS[2]!.hr, 0);
  return dir;
}
