/**
 * Synthetic Fitzpatrick17k and HAM10000 cohorts written in the published formats (the CSV with
 * its exact column set, JPEG files encoded with sharp), so the real loaders read them. Every
 * image has its own derived random stream, so the files do not depend on the encoding order:
 * the same params give the same bytes. The effect sizes below were fixed before any model was
 * trained on these cohorts (IMAGING_GENERATOR_VERSION 1) and are documented in docs/imaging.md;
 * change them only with a version bump, never to tune a model result.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '@fairtune/core/plugin';
import { pooled } from '../images/decode.js';
import { DERMOSCOPY_RGB, SKIN_RGB, drawLesion, renderView, type LesionKind, type Rgb } from './skin-images.js';

/** Version of the imaging generators (separate from the PPG generators' GENERATOR_VERSION). */
export const IMAGING_GENERATOR_VERSION = 1;

export const FITZPATRICK_COLUMNS = ['md5hash', 'fitzpatrick_scale', 'fitzpatrick_centaur', 'label', 'nine_partition_label', 'three_partition_label', 'qc', 'url', 'url_alphanum'] as const;
export const HAM_COLUMNS = ['lesion_id', 'image_id', 'dx', 'dx_type', 'age', 'sex', 'localization'] as const;

export interface FitzpatrickGroupEffect {
  /** Lesion contrast multiplier on skin types IV–VI (1 = no effect). */
  readonly darkContrastScale: number;
  /** Share of malignant images among types I–III and IV–VI. */
  readonly prevalenceLight: number;
  readonly prevalenceDark: number;
}

export const DEFAULT_FITZPATRICK_EFFECT: FitzpatrickGroupEffect = { darkContrastScale: 0.5, prevalenceLight: 0.16, prevalenceDark: 0.1 };

export interface HamGroupEffect {
  /** Background mottling amplitude (grey levels) for age > 60; 3 for the others. */
  readonly olderTexture: number;
  /** Lesion contrast multiplier for women (1 = no effect). */
  readonly femaleContrastScale: number;
  /** Share of malignant (mel/akiec) lesions at age ≤ 60 and > 60. */
  readonly prevalenceAgeLe60: number;
  readonly prevalenceAgeGt60: number;
}

export const DEFAULT_HAM_EFFECT: HamGroupEffect = { olderTexture: 14, femaleContrastScale: 0.8, prevalenceAgeLe60: 0.1, prevalenceAgeGt60: 0.24 };

export interface ImagingCohortParams<E> {
  readonly images: number;
  /** Width of the written images (Fitzpatrick: square; HAM10000: 4:3 like its 600×450 files). */
  readonly imageSize: number;
  readonly seed: number;
  readonly groupEffect: E;
}

/** Real Fitzpatrick17k counts of types 1..6 (datasets.md §4.1): the synthetic type mix. */
const FITZPATRICK_TYPE_COUNTS = [2947, 4808, 3308, 2781, 1533, 635];
/** Share of rows written with fitzpatrick_scale −1 (565 of 16,577 in the real file). */
const UNLABELLED_SKIN_SHARE = 0.035;
const NOISE = 4;

const FITZ_CLASSES: Record<LesionKind, { three: string; nine: string[]; label: string[] }> = {
  malignant: { three: 'malignant', nine: ['malignant melanoma', 'malignant epidermal', 'malignant dermal', 'malignant cutaneous lymphoma'], label: ['melanoma', 'squamous cell carcinoma', 'kaposi sarcoma', 'mycosis fungoides'] },
  benign: { three: 'benign', nine: ['benign melanocyte', 'benign epidermal', 'benign dermal'], label: ['nevus', 'seborrheic keratosis', 'dermatofibroma'] },
  inflammatory: { three: 'non-neoplastic', nine: ['inflammatory', 'genodermatoses'], label: ['psoriasis', 'neurofibromatosis'] },
};

export async function encodeJpeg(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

function csvLine(cells: readonly string[]): string {
  return cells.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',');
}

/** Writes `<dir>/fitzpatrick17k.csv` and `<dir>/images/<md5hash>.jpg`; returns dir. */
export async function writeFitzpatrickCohort(dir: string, p: ImagingCohortParams<FitzpatrickGroupEffect>): Promise<string> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const rows: string[][] = new Array(p.images);
  const size = p.imageSize;
  await pooled(
    p.images,
    4,
    async (i) => {
      const rng = Rng.derive(p.seed, `fitzpatrick17k-image-${i}`);
      const type = 1 + rng.weightedIndices(FITZPATRICK_TYPE_COUNTS, 1)[0]!;
      const dark = type >= 4;
      const malignant = rng.next() < (dark ? p.groupEffect.prevalenceDark : p.groupEffect.prevalenceLight);
      const kind: LesionKind = malignant ? 'malignant' : rng.next() < 0.3 ? 'benign' : 'inflammatory';
      const lesion = drawLesion(rng, kind, dark ? p.groupEffect.darkContrastScale : 1);
      const rgb = renderView(rng, lesion, { width: size, height: size, skin: SKIN_RGB[type - 1]!, noise: NOISE, texture: 3, vignette: false });
      const jpeg = await encodeJpeg(rgb, size, size);
      const md5 = createHash('md5').update(jpeg).digest('hex');
      writeFileSync(join(dir, 'images', `${md5}.jpg`), jpeg);
      const scale = rng.next() < UNLABELLED_SKIN_SHARE ? -1 : type;
      const centaurDraw = rng.next();
      const centaur = centaurDraw < 0.06 ? -1 : centaurDraw < 0.66 ? type : Math.min(6, Math.max(1, type + (rng.next() < 0.5 ? -1 : 1)));
      const cls = FITZ_CLASSES[kind];
      const k = rng.int(cls.nine.length);
      const url = `https://synthetic.invalid/fitzpatrick17k/${i}.jpg`;
      rows[i] = [md5, String(scale), String(centaur), cls.label[k]!, cls.nine[k]!, cls.three, rng.next() < 0.02 ? '1 Diagnostic' : '', url, `${url.replace(/[^A-Za-z0-9]/g, '')}.jpg`];
    },
    () => undefined,
  ).then(throwFirst);
  writeFileSync(join(dir, 'fitzpatrick17k.csv'), [FITZPATRICK_COLUMNS.join(','), ...rows.map(csvLine)].join('\n') + '\n');
  return dir;
}

const HAM_BENIGN: { dx: string; weight: number; pigment: Rgb; dxType: string }[] = [
  { dx: 'nv', weight: 6705, pigment: [105, 62, 38], dxType: 'follow_up' },
  { dx: 'bkl', weight: 1099, pigment: [150, 110, 80], dxType: 'histo' },
  { dx: 'bcc', weight: 514, pigment: [215, 140, 140], dxType: 'histo' },
  { dx: 'vasc', weight: 142, pigment: [170, 40, 60], dxType: 'consensus' },
  { dx: 'df', weight: 115, pigment: [130, 85, 65], dxType: 'consensus' },
];
const HAM_MALIGNANT: { dx: string; weight: number; pigment: Rgb; dxType: string }[] = [
  { dx: 'mel', weight: 1113, pigment: [45, 28, 24], dxType: 'histo' },
  { dx: 'akiec', weight: 327, pigment: [150, 70, 60], dxType: 'histo' },
];
const LOCALIZATIONS = ['abdomen', 'acral', 'back', 'chest', 'ear', 'face', 'foot', 'genital', 'hand', 'lower extremity', 'neck', 'scalp', 'trunk', 'unknown', 'upper extremity'];

interface HamLesion {
  readonly id: string;
  readonly age: number | null;
  readonly sex: string;
  readonly dx: (typeof HAM_BENIGN)[number];
  readonly malignant: boolean;
  readonly localization: string;
  readonly views: number;
}

/** Lesion-level draws: demographics, diagnosis (prevalence by age) and 1–3 images per lesion. */
function hamLesions(p: ImagingCohortParams<HamGroupEffect>): HamLesion[] {
  const rng = Rng.derive(p.seed, 'ham10000-lesions');
  const lesions: HamLesion[] = [];
  for (let total = 0; total < p.images; ) {
    const emptyAge = rng.next() < 0.006;
    const age = emptyAge ? null : 5 * Math.round(Math.min(85, Math.max(0, rng.normal(52, 17))) / 5);
    const sd = rng.next();
    const sex = sd < 0.003 ? '' : sd < 0.009 ? 'unknown' : sd < 0.55 ? 'male' : 'female';
    const malignant = rng.next() < (age !== null && age > 60 ? p.groupEffect.prevalenceAgeGt60 : p.groupEffect.prevalenceAgeLe60);
    const pool = malignant ? HAM_MALIGNANT : HAM_BENIGN;
    const dx = pool[rng.weightedIndices(pool.map((d) => d.weight), 1)[0]!]!;
    const v = rng.next();
    const views = Math.min(p.images - total, v < 0.75 ? 1 : v < 0.93 ? 2 : 3);
    lesions.push({ id: `HAM_${String(lesions.length + 1).padStart(7, '0')}`, age, sex, dx, malignant, localization: LOCALIZATIONS[rng.int(LOCALIZATIONS.length)]!, views });
    total += views;
  }
  return lesions;
}

/** Writes `<dir>/HAM10000_metadata.csv` and the two image folders; returns dir. */
export async function writeHam10000Cohort(dir: string, p: ImagingCohortParams<HamGroupEffect>): Promise<string> {
  const parts = [join(dir, 'HAM10000_images_part_1'), join(dir, 'HAM10000_images_part_2')];
  for (const d of parts) mkdirSync(d, { recursive: true });
  const lesions = hamLesions(p);
  const images = lesions.flatMap((l, k) => Array.from({ length: l.views }, (_, v) => ({ lesion: l, k, v })));
  const width = p.imageSize;
  const height = Math.round((p.imageSize * 3) / 4);
  await pooled(
    images.length,
    4,
    async (j) => {
      const { lesion, k } = images[j]!;
      // Lesion shape from the lesion's own stream: every view shows the same lesion.
      const shape = drawLesion(Rng.derive(p.seed, `ham10000-lesion-${k}`), lesion.malignant ? 'malignant' : 'benign', lesion.sex === 'female' ? p.groupEffect.femaleContrastScale : 1, lesion.dx.pigment);
      const older = lesion.age !== null && lesion.age > 60;
      const rgb = renderView(Rng.derive(p.seed, `ham10000-image-${j}`), shape, { width, height, skin: DERMOSCOPY_RGB, noise: NOISE, texture: older ? p.groupEffect.olderTexture : 3, vignette: true });
      const jpeg = await encodeJpeg(rgb, width, height);
      writeFileSync(join(parts[j < images.length / 2 ? 0 : 1]!, `${imageId(j)}.jpg`), jpeg);
    },
    () => undefined,
  ).then(throwFirst);
  const rows = images.map(({ lesion: l }, j) => [l.id, imageId(j), l.dx.dx, l.dx.dxType, l.age === null ? '' : l.age.toFixed(1), l.sex, l.localization]);
  writeFileSync(join(dir, 'HAM10000_metadata.csv'), [HAM_COLUMNS.join(','), ...rows.map(csvLine)].join('\n') + '\n');
  return dir;
}

function imageId(j: number): string {
  return `ISIC_${String(24306 + j).padStart(7, '0')}`;
}

function throwFirst(failures: Map<number, Error>): void {
  const first = [...failures.entries()].sort((a, b) => a[0] - b[0])[0];
  if (first) throw new Error(`synthetic image ${first[0]}: ${first[1].message}`, { cause: first[1] });
}
