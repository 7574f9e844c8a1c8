import { beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { outputOf, runStandalone, type KindArtifact, type SamplesMeta, type StageEvent } from '@fairtune/core';
import { tempDir } from '../test-utils/paths.js';
import { readCsvTable } from '../loaders/csv.js';
import { Fitzpatrick17kLoader, readFitzpatrickTable } from '../loaders/fitzpatrick17k.js';
import { Ham10000Loader } from '../loaders/ham10000.js';
import { DEFAULT_FITZPATRICK_EFFECT, DEFAULT_HAM_EFFECT, FITZPATRICK_COLUMNS, HAM_COLUMNS, writeFitzpatrickCohort, writeHam10000Cohort } from './imaging-cohorts.js';

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.set(relative(dir, join(d, e.name)), readFileSync(join(d, e.name)));
    }
  };
  walk(dir);
  return out;
}

beforeAll(() => {
  process.env['FAIRTUNE_SYNTHETIC_DIR'] = tempDir('synth-cohorts');
});

describe('synthetic imaging cohorts', () => {
  it('Fitzpatrick17k: same seed, same bytes; another seed, other files; the published column set', async () => {
    const p = { images: 40, imageSize: 32, seed: 7, groupEffect: DEFAULT_FITZPATRICK_EFFECT };
    const a = files(await writeFitzpatrickCohort(tempDir('fz-a'), p));
    const b = files(await writeFitzpatrickCohort(tempDir('fz-b'), p));
    expect(a.size).toBe(41);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k)!.equals(v)).toBe(true);
    const c = files(await writeFitzpatrickCohort(tempDir('fz-c'), { ...p, seed: 8 }));
    expect(c.get('fitzpatrick17k.csv')!.equals(a.get('fitzpatrick17k.csv')!)).toBe(false);
    const dir = tempDir('fz-d');
    await writeFitzpatrickCohort(dir, p);
    expect(readCsvTable(join(dir, 'fitzpatrick17k.csv')).columns).toEqual([...FITZPATRICK_COLUMNS]);
  });

  it('HAM10000: same seed, same bytes; several images per lesion sharing its metadata; both folders used', async () => {
    const p = { images: 60, imageSize: 32, seed: 3, groupEffect: DEFAULT_HAM_EFFECT };
    const dirA = await writeHam10000Cohort(tempDir('ham-a'), p);
    const a = files(dirA);
    const b = files(await writeHam10000Cohort(tempDir('ham-b'), p));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k)!.equals(v)).toBe(true);
    const t = readCsvTable(join(dirA, 'HAM10000_metadata.csv'));
    expect(t.columns).toEqual([...HAM_COLUMNS]);
    expect(t.rows.length).toBe(60);
    const byLesion = new Map<string, Record<string, string>[]>();
    for (const r of t.rows) byLesion.set(r['lesion_id']!, [...(byLesion.get(r['lesion_id']!) ?? []), r]);
    expect(byLesion.size).toBeLessThan(60);
    for (const rows of byLesion.values()) for (const r of rows) expect([r['age'], r['sex'], r['dx']]).toEqual([rows[0]!['age'], rows[0]!['sex'], rows[0]!['dx']]);
    expect([...a.keys()].filter((k) => k.startsWith('HAM10000_images_part_1/')).length).toBe(30);
    expect([...a.keys()].filter((k) => k.startsWith('HAM10000_images_part_2/')).length).toBe(30);
  });

  it('prevalence by skin type follows groupEffect', async () => {
    const dir = await writeFitzpatrickCohort(tempDir('fz-prev'), { images: 300, imageSize: 16, seed: 1, groupEffect: { darkContrastScale: 1, prevalenceLight: 0.5, prevalenceDark: 0.05 } });
    const rows = readFitzpatrickTable(dir).rows;
    const rate = (dark: boolean) => {
      const g = rows.filter((r) => r.fitzpatrick >= 4 === dark);
      return g.filter((r) => r.malignant).length / g.length;
    };
    expect(rate(false)).toBeGreaterThan(0.38);
    expect(rate(true)).toBeLessThan(0.15);
  });
});

describe('the loaders fall back to the synthetic cohorts', () => {
  /** Mean |centre 6×6 − border ring| over images with y = 1 in group `skin`: how visible malignant lesions are. */
  const lesionContrast = (s: KindArtifact<'samples'>, skin: string) => {
    const m = s.meta;
    const size = m.image!.height;
    const x = s.arrays['x']!.data;
    const y = s.arrays['y']!.data;
    const out: number[] = [];
    for (let i = 0; i < y.length; i++) {
      if (y[i] !== 1 || m.subjectAttributes['skinType']![i] !== skin) continue;
      let centre = 0;
      let ring = 0;
      let nc = 0;
      let nr = 0;
      for (let r = 0; r < size; r++)
        for (let c = 0; c < size; c++) {
          const v = x[(i * size * size + r * size + c) * 3]! + x[(i * size * size + r * size + c) * 3 + 1]! + x[(i * size * size + r * size + c) * 3 + 2]!;
          if (Math.abs(r - size / 2) < 3 && Math.abs(c - size / 2) < 3) (centre += v), nc++;
          else if (r === 0 || c === 0 || r === size - 1 || c === size - 1) (ring += v), nr++;
        }
      out.push(Math.abs(centre / nc - ring / nr));
    }
    return out.reduce((a, b) => a + b, 0) / out.length;
  };

  it('data.fitzpatrick17k: generates, warns, reuses; malignant lesions are less visible on IV–VI by the set contrast effect', async () => {
    const params = { root: join(tempDir('fz-root'), 'absent'), size: 32, syntheticImages: 240, syntheticImageSize: 32, syntheticSeed: 5 };
    const first = await runStandalone(new Fitzpatrick17kLoader(), { params });
    const warn = (ev: StageEvent[]) => ev.filter((e) => e.type === 'log' && e.level === 'warn').map((e) => (e as { message: string }).message);
    expect(warn(first.events)[0]).toMatch(/^SYNTHETIC DATA: data root .*absent does not exist; generated the synthetic fitzpatrick17k cohort/);
    const s = outputOf(first, 'samples', 'samples');
    // `dropped` is the loader's own count of skipped rows, beyond SamplesMeta.
    const m = s.meta as SamplesMeta & { dropped: Record<string, number> };
    expect(m.synthetic).toBe(true);
    expect(m.dropped['fitzpatrickScaleMinus1']).toBeGreaterThan(0);
    expect(s.arrays['x']!.shape).toEqual([s.arrays['y']!.shape[0], 32, 32, 3]);
    const again = await runStandalone(new Fitzpatrick17kLoader(), { params });
    expect(warn(again.events)[0]).toMatch(/reusing the synthetic fitzpatrick17k cohort/);
    expect(Buffer.from(again.outputs['samples']!.arrays['x']!.data.buffer).equals(Buffer.from(s.arrays['x']!.data.buffer))).toBe(true);
    const none = await runStandalone(new Fitzpatrick17kLoader(), { params: { ...params, groupEffect: { darkContrastScale: 1 } } });
    const effect = lesionContrast(s, 'IV-VI');
    expect(effect).toBeLessThan(0.75 * lesionContrast(outputOf(none, 'samples', 'samples'), 'IV-VI'));
    expect(effect).toBeLessThan(lesionContrast(s, 'I-III'));
  });

  it('data.ham10000: lesion subjects with several images, age and sex attributes', async () => {
    const s = outputOf(await runStandalone(new Ham10000Loader(), { params: { root: join(tempDir('ham-root'), 'absent'), size: 24, syntheticImages: 120, syntheticImageSize: 32 } }), 'samples', 'samples');
    const m = s.meta;
    expect(m.synthetic).toBe(true);
    expect(m.subjects.length).toBeLessThan(s.arrays['y']!.shape[0]!);
    expect(new Set(m.subjectAttributes['sex']!.filter((v) => v !== null))).toEqual(new Set(['male', 'female']));
    expect(m.subjectAttributes['age']!.every((a) => typeof a === 'number' && a % 5 === 0)).toBe(true);
    expect(s.arrays['x']!.shape).toEqual([s.arrays['y']!.shape[0], 24, 24, 3]);
  });
});
