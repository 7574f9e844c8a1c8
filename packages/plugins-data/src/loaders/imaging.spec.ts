import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { runStandalone, type Artifact, type SamplesMeta, type StageEvent } from '@fairtune/core';
import { tempDir } from '../test-utils/paths.js';
import { Fitzpatrick17kLoader } from './fitzpatrick17k.js';
import { Ham10000Loader } from './ham10000.js';
import { Writable } from 'node:stream';
import { DataCommand } from '../cli/inspect.js';

type Meta = SamplesMeta & { dropped: Record<string, number>; ids: string[]; source: { root: string } };
const meta = (a: Artifact) => a.meta as unknown as Meta;
const FITZ_HEADER = 'md5hash,fitzpatrick_scale,fitzpatrick_centaur,label,nine_partition_label,three_partition_label,qc,url,url_alphanum';
const HAM_HEADER = 'lesion_id,image_id,dx,dx_type,age,sex,localization';
const SMALL = { size: 16, resize: 16, synthetic: 'never' };

/** A solid-colour JPEG (or PNG) of w×h, colour from the id so images differ. */
async function writeImage(path: string, rgb: [number, number, number], w = 24, h = 20): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (path.toLowerCase().endsWith('.png') ? img.png() : img.jpeg({ quality: 95 })).toFile(path);
}

const md5 = (k: number) => k.toString(16).padStart(32, 'a');

/**
 * Fitzpatrick17k fixture (datasets.md §4.3): a −1 row, malignant rows, a qc row, types I–III and
 * IV–VI; images as <md5>.jpg, <MD5>.JPG (upper case), <md5>.png, and one found by url_alphanum.
 */
async function fitzFixture(): Promise<string> {
  const root = tempDir('fitz');
  mkdirSync(join(root, 'images'));
  const url = (k: number) => `https://www.dermaamin.com/site/images/clinical-pic/x/${k}.jpg`;
  const alnum = (k: number) => `${url(k).replace(/[^A-Za-z0-9]/g, '')}.jpg`;
  const rows = [
    [md5(1), '-1', '-1', 'psoriasis', 'inflammatory', 'non-neoplastic', '', url(1), alnum(1)],
    [md5(2), '2', '2', 'melanoma', 'malignant melanoma', 'malignant', '', url(2), alnum(2)],
    [md5(3), '5', '4', 'nevus', 'benign melanocyte', 'benign', '1 Diagnostic', url(3), alnum(3)],
    [md5(4), '6', '6', 'psoriasis', 'inflammatory', 'non-neoplastic', '', url(4), alnum(4)],
    [md5(5), '3', '3', 'basal cell carcinoma', 'malignant epidermal', 'malignant', '', url(5), alnum(5)],
    [md5(6), '4', '-1', 'eczema, "nummular"', 'inflammatory', 'non-neoplastic', '', url(6), alnum(6)],
  ];
  const cell = (c: string) => (/[",]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  writeFileSync(join(root, 'fitzpatrick17k.csv'), [FITZ_HEADER, ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n');
  await writeImage(join(root, 'images', `${md5(1)}.jpg`), [200, 150, 120]);
  await writeImage(join(root, 'images', `${md5(2)}.jpg`), [250, 0, 0]);
  await writeImage(join(root, 'images', `${md5(3).toUpperCase()}.JPG`), [0, 250, 0]);
  await writeImage(join(root, 'images', `${md5(4)}.png`), [0, 0, 250]);
  await writeImage(join(root, 'images', alnum(5)), [250, 250, 0]);
  await writeImage(join(root, `${md5(6)}.jpeg`), [0, 250, 250]);
  return root;
}

/** HAM10000 fixture: two images of one lesion over part_1/part_2, empty age with unknown sex, akiec, unknown sex, empty sex. */
async function hamFixture(variant: 'kaggle' | 'dataverse' | 'indexed' = 'kaggle'): Promise<string> {
  const root = tempDir('ham');
  const parts = [join(root, 'HAM10000_images_part_1'), join(root, 'HAM10000_images_part_2')];
  for (const p of parts) mkdirSync(p);
  const rows = [
    ['HAM_0000118', 'ISIC_0027419', 'bkl', 'histo', '80.0', 'male', 'scalp'],
    ['HAM_0000118', 'ISIC_0025030', 'bkl', 'histo', '80.0', 'male', 'scalp'],
    ['HAM_0002730', 'ISIC_0026769', 'mel', 'histo', '55.0', 'female', 'back'],
    ['HAM_0001466', 'ISIC_0031633', 'akiec', 'histo', '75.0', 'female', 'face'],
    ['HAM_0000001', 'ISIC_0000001', 'nv', 'follow_up', '', 'unknown', 'back'],
    ['HAM_0000002', 'ISIC_0000002', 'nv', 'follow_up', '45.0', 'unknown', 'trunk'],
    ['HAM_0000003', 'ISIC_0000003', 'bcc', 'histo', '65.0', '', 'trunk'],
    ['HAM_0000004', 'ISIC_0000004', 'nv', 'consensus', '60.0', 'male', 'hand'],
  ];
  const lines = rows.map((r, i) => {
    const cells = [...r];
    if (variant === 'indexed') cells[1] = `${cells[1]}.jpg`;
    if (variant === 'dataverse') cells.push('vidir_modern');
    return (variant === 'indexed' ? [String(i), ...cells] : cells).join(',');
  });
  const header = variant === 'dataverse' ? `${HAM_HEADER},dataset` : variant === 'indexed' ? `,${HAM_HEADER}` : HAM_HEADER;
  writeFileSync(join(root, 'HAM10000_metadata.csv'), [header, ...lines].join('\n') + '\n');
  for (const [i, r] of rows.entries()) await writeImage(join(parts[i % 2]!, `${r[1]}.jpg`), [20 * i, 100, 200], 40, 30);
  return root;
}

let synthBase: string;
beforeAll(() => {
  synthBase = tempDir('synth-img');
  process.env['FAIRTUNE_SYNTHETIC_DIR'] = synthBase;
});

describe('data.fitzpatrick17k on the published format', () => {
  let root: string;
  beforeAll(async () => {
    root = await fitzFixture();
  });

  it('drops fitzpatrick_scale −1, maps the label and skin type, finds images under every name and decodes [N, H, W, 3] uint8', async () => {
    const { outputs } = await runStandalone(new Fitzpatrick17kLoader(), { params: { root, ...SMALL } });
    const s = outputs['samples']!;
    const m = meta(s);
    expect(m.dropped).toEqual({ fitzpatrickScaleMinus1: 1 });
    expect(m.subjects).toEqual([md5(2), md5(3), md5(4), md5(5), md5(6)]);
    expect(Array.from(s.arrays['y']!.data)).toEqual([1, 0, 0, 1, 0]);
    expect(Array.from(s.arrays['subject']!.data)).toEqual([0, 1, 2, 3, 4]);
    expect(m.subjectAttributes['skinType']).toEqual(['I-III', 'IV-VI', 'IV-VI', 'I-III', 'IV-VI']);
    expect(m.subjectAttributes['fitzpatrick']).toEqual([2, 5, 6, 3, 4]);
    expect([m.modality, m.task, m.target.name]).toEqual(['image', 'classification', 'malignant']);
    expect(m.image).toMatchObject({ height: 16, width: 16, channels: 3, resize: 16, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(m.image!.decoder).toMatch(/^sharp /);
    const x = s.arrays['x']!;
    expect([x.dtype, ...x.shape]).toEqual(['uint8', 5, 16, 16, 3]);
    // Image 0 is red, 1 green, 2 blue (the PNG), 3 yellow (url_alphanum), 4 cyan (root, .jpeg).
    const centre = (i: number) => Array.from(x.data.subarray(i * 768 + (8 * 16 + 8) * 3, i * 768 + (8 * 16 + 8) * 3 + 3)).map((v) => (v > 128 ? 1 : 0));
    expect([0, 1, 2, 3, 4].map(centre)).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1, 1, 0],
      [0, 1, 1],
    ]);
  });

  it('names a missing column and the file', async () => {
    const bad = tempDir('fitz-col');
    writeFileSync(join(bad, 'fitzpatrick17k.csv'), 'md5hash,fitzpatrick_centaur,three_partition_label\nabc,1,benign\n');
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: bad, ...SMALL } })).rejects.toThrow(/fitzpatrick17k\.csv: missing column\(s\) fitzpatrick_scale/);
  });

  it('names the row, column and value of a bad fitzpatrick_scale, an unknown partition and a duplicate id', async () => {
    const csv = readFileSync(join(root, 'fitzpatrick17k.csv'), 'utf8').split('\n');
    const write = (lines: string[]) => {
      const dir = tempDir('fitz-bad');
      writeFileSync(join(dir, 'fitzpatrick17k.csv'), lines.join('\n'));
      return dir;
    };
    const seven = write([csv[0]!, csv[1]!, csv[2]!.replace(`${md5(2)},2,`, `${md5(2)},7,`)]);
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: seven, ...SMALL } })).rejects.toThrow(/fitzpatrick17k\.csv: row 3, column fitzpatrick_scale: "7" is not a Fitzpatrick type/);
    const text = write([csv[0]!, csv[2]!.replace(`${md5(2)},2,`, `${md5(2)},II,`)]);
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: text, ...SMALL } })).rejects.toThrow(/row 2, column fitzpatrick_scale: "II"/);
    const part = write([csv[0]!, csv[2]!.replace(',malignant,', ',cancerous,')]);
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: part, ...SMALL } })).rejects.toThrow(/row 2, column three_partition_label: unknown value "cancerous"/);
    const dup = write([csv[0]!, csv[2]!, csv[3]!, csv[2]!]);
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: dup, ...SMALL } })).rejects.toThrow(new RegExp(`row 4, column md5hash: duplicate id ${md5(2)} \\(also row 2\\)`));
  });

  it('lists missing images with their count, or drops and counts them', async () => {
    const dir = await fitzFixture();
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'images', `${md5(2)}.jpg`));
    rmSync(join(dir, 'images', `${md5(4)}.png`));
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: dir, ...SMALL } })).rejects.toThrow(new RegExp(`2 image\\(s\\) listed in .*fitzpatrick17k\\.csv are missing \\(first: ${md5(2)}, ${md5(4)}\\)`));
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: dir, ...SMALL } })).rejects.toMatchObject({ code: 'FT_DATA_MISSING' });
    const { outputs } = await runStandalone(new Fitzpatrick17kLoader(), { params: { root: dir, ...SMALL, missingImages: 'drop' } });
    expect(meta(outputs['samples']!).dropped).toEqual({ fitzpatrickScaleMinus1: 1, missingImage: 2 });
    expect(meta(outputs['samples']!).subjects).toEqual([md5(3), md5(5), md5(6)]);
  });

  it('names a corrupt image, or drops it and keeps the others aligned', async () => {
    const dir = await fitzFixture();
    const path = join(dir, 'images', `${md5(2)}.jpg`);
    writeFileSync(path, readFileSync(path).subarray(0, 200));
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: dir, ...SMALL } })).rejects.toThrow(new RegExp(`1 image\\(s\\) cannot be decoded; first: .*${md5(2)}\\.jpg: cannot decode image`));
    await expect(runStandalone(new Fitzpatrick17kLoader(), { params: { root: dir, ...SMALL } })).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file: path } });
    const { outputs, events } = await runStandalone(new Fitzpatrick17kLoader(), { params: { root: dir, ...SMALL, missingImages: 'drop' } });
    const s = outputs['samples']!;
    expect(meta(s).dropped).toEqual({ fitzpatrickScaleMinus1: 1, unreadableImage: 1 });
    expect(meta(s).subjects).toEqual([md5(3), md5(4), md5(5), md5(6)]);
    expect(Array.from(s.arrays['y']!.data)).toEqual([0, 0, 1, 0]);
    // After compaction image 0 is the green one (md5 3), image 1 the blue PNG.
    expect(s.arrays['x']!.shape).toEqual([4, 16, 16, 3]);
    expect(s.arrays['x']!.data[(8 * 16 + 8) * 3 + 1]).toBeGreaterThan(200);
    expect(s.arrays['x']!.data[768 + (8 * 16 + 8) * 3 + 2]).toBeGreaterThan(200);
    expect(events.some((e: StageEvent) => e.type === 'progress' && e.unit === 'images' && e.done === 5 && e.total === 5)).toBe(true);
  });
});

describe('data.ham10000 on the published format', () => {
  it('drops empty age or sex, nulls unknown sex, maps mel/akiec, one subject per lesion over both folders', async () => {
    for (const variant of ['kaggle', 'dataverse', 'indexed'] as const) {
      const root = await hamFixture(variant);
      const { outputs } = await runStandalone(new Ham10000Loader(), { params: { root, ...SMALL } });
      const s = outputs['samples']!;
      const m = meta(s);
      expect(m.dropped).toEqual({ emptyAge: 1, emptySex: 1, sexUnknown: 1 });
      expect(m.ids).toEqual(['ISIC_0027419', 'ISIC_0025030', 'ISIC_0026769', 'ISIC_0031633', 'ISIC_0000002', 'ISIC_0000004']);
      expect(m.subjects).toEqual(['HAM_0000118', 'HAM_0002730', 'HAM_0001466', 'HAM_0000002', 'HAM_0000004']);
      expect(Array.from(s.arrays['subject']!.data)).toEqual([0, 0, 1, 2, 3, 4]);
      expect(Array.from(s.arrays['y']!.data)).toEqual([0, 0, 1, 1, 0, 0]);
      expect(m.subjectAttributes['sex']).toEqual(['male', 'female', 'female', null, 'male']);
      expect(m.subjectAttributes['age']).toEqual([80, 55, 75, 45, 60]);
      expect(m.subjectAttributes['dx']).toEqual(['bkl', 'mel', 'akiec', 'nv', 'nv']);
      expect(s.arrays['x']!.shape).toEqual([6, 16, 16, 3]);
    }
  });

  it('labels by the malignant param', async () => {
    const root = await hamFixture();
    const { outputs } = await runStandalone(new Ham10000Loader(), { params: { root, ...SMALL, malignant: ['mel', 'akiec', 'bkl'] } });
    expect(Array.from(outputs['samples']!.arrays['y']!.data)).toEqual([1, 1, 1, 1, 0, 0]);
  });

  it('names bad sex, dx and age values, a missing column, a duplicate image id and a missing image', async () => {
    const root = await hamFixture();
    const csv = readFileSync(join(root, 'HAM10000_metadata.csv'), 'utf8');
    const withCsv = (text: string) => {
      writeFileSync(join(root, 'HAM10000_metadata.csv'), text);
      return runStandalone(new Ham10000Loader(), { params: { root, ...SMALL } });
    };
    await expect(withCsv(csv.replace('55.0,female', '55.0,f'))).rejects.toThrow(/HAM10000_metadata\.csv: row 4, column sex: unknown value "f"/);
    await expect(withCsv(csv.replace('55.0,female', '55.0,f'))).rejects.toMatchObject({ code: 'FT_DATA_FORMAT', about: { file: expect.stringMatching(/HAM10000_metadata\.csv$/) } });
    await expect(withCsv(csv.replace('mel,histo', 'melanoma,histo'))).rejects.toThrow(/row 4, column dx: unknown diagnosis "melanoma"/);
    await expect(withCsv(csv.replace('75.0,female', 'old,female'))).rejects.toThrow(/row 5, column age: "old" is not an age/);
    await expect(withCsv(csv.replace('ISIC_0025030', 'ISIC_0027419'))).rejects.toThrow(/row 3, column image_id: duplicate id ISIC_0027419 \(also row 2\)/);
    await expect(withCsv(csv.replace(HAM_HEADER, 'lesion_id,image_id,dx,dx_type,age,gender,localization'))).rejects.toThrow(/HAM10000_metadata\.csv: missing column\(s\) sex/);
    await expect(withCsv(csv.replace(HAM_HEADER, 'lesion_id,image_id,dx,dx_type,age,gender,localization'))).rejects.toMatchObject({ code: 'FT_DATA_FORMAT' });
    await expect(withCsv(csv.replace('ISIC_0000004', 'ISIC_9999999'))).rejects.toThrow(/1 image\(s\) listed in .*HAM10000_metadata\.csv are missing \(first: ISIC_9999999\)/);
  });
});

describe('fairtune data inspect on the imaging roots', () => {
  const inspect = async (root: string, json = true) => {
    let out = '';
    const sink = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
    const rc = await new DataCommand().run(['inspect', root, ...(json ? ['--json'] : [])], { cwd: '/', env: {}, stdout: sink, stderr: sink } as never);
    return { rc, out };
  };

  it('Fitzpatrick17k: kept images, labels, skin-type counts, dropped and missing images', async () => {
    const root = await fitzFixture();
    (await import('node:fs')).rmSync(join(root, 'images', `${md5(4)}.png`));
    const { rc, out } = await inspect(root);
    expect(rc).toBe(0);
    expect(JSON.parse(out)).toEqual({
      kind: 'dataset', dataset: 'fitzpatrick17k', root, images: 5, labels: { malignant: 2, other: 3 },
      attributeCounts: { skinType: { 'I-III': 2, 'IV-VI': 3 }, fitzpatrick: { '2': 1, '3': 1, '4': 1, '5': 1, '6': 1 } },
      dropped: { fitzpatrickScaleMinus1: 1 }, missingImages: 1,
    });
    expect((await inspect(root, false)).out).toMatch(/dataset: fitzpatrick17k\n[\s\S]*missingImages: 1/);
  });

  it('HAM10000: age, sex and their intersection, dx, dropped rows', async () => {
    const root = await hamFixture();
    const { rc, out } = await inspect(root);
    expect(rc).toBe(0);
    expect(JSON.parse(out)).toEqual({
      kind: 'dataset', dataset: 'ham10000', root, images: 6, lesions: 5, labels: { malignant: 2, other: 4 },
      attributeCounts: {
        age: { '<=60': 3, '>60': 3 },
        sex: { female: 2, male: 3, null: 1 },
        'sex|age': { 'female|<=60': 1, 'female|>60': 1, 'male|<=60': 1, 'male|>60': 2, null: 1 },
        dx: { akiec: 1, bkl: 2, mel: 1, nv: 2 },
      },
      dropped: { emptyAge: 1, emptySex: 1, sexUnknown: 1 }, missingImages: 0,
    });
  });
});
