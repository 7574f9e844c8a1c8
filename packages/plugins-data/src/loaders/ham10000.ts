/**
 * HAM10000 (Tschandl et al. 2018): `HAM10000_metadata.csv` and the images in
 * `HAM10000_images_part_1/` and `_part_2/`. Rules as MEDFAIR: rows with empty age or sex
 * dropped, malignant = mel or akiec (param). Deviation: sex `unknown` is kept for the label but
 * its attribute is null (left out of sex groups; MEDFAIR counts it as non-male). One subject
 * per lesion (lesion_id), so a subject-level split is a lesion-level split.
 */
import { join } from 'node:path';
import { injectable } from 'inversify';
import { FairtuneError, runAsync, type AttributeValue, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { readCsvTable, requireColumns } from './csv.js';
import { applyMissingPolicy, decodeAll, findImageDirs, imageLoaderSchema, imagePreflight, imageRootFingerprint, imageSamples, imageSpec, indexImageFiles, resolveImageRoot, type ImageLoaderParams } from './imaging.js';
import { DEFAULT_HAM_EFFECT, writeHam10000Cohort, type HamGroupEffect } from '../synthetic/imaging-cohorts.js';

export const HAM_CSV = 'HAM10000_metadata.csv';
export const HAM_DX = ['akiec', 'bcc', 'bkl', 'df', 'mel', 'nv', 'vasc'] as const;
export const MEDFAIR_MALIGNANT = ['mel', 'akiec'];

export interface HamRow {
  readonly lesionId: string;
  readonly imageId: string;
  readonly dx: string;
  readonly age: number;
  readonly sex: 'male' | 'female' | null;
  readonly localization: string;
  readonly row: number;
}

export interface HamTable {
  readonly csv: string;
  readonly rows: HamRow[];
  readonly dropped: Record<string, number>;
}

/** Reads and validates the metadata; applies the age/sex rules. Errors name the file, row, column and value. */
export function readHamTable(root: string): HamTable {
  const csv = join(root, HAM_CSV);
  const table = readCsvTable(csv);
  requireColumns(csv, table.columns, ['lesion_id', 'image_id', 'dx', 'age', 'sex']);
  const rows: HamRow[] = [];
  const seen = new Map<string, number>();
  const dropped: Record<string, number> = {};
  const count = (k: string) => (dropped[k] = (dropped[k] ?? 0) + 1);
  table.rows.forEach((r, i) => {
    const row = i + 2;
    const at = (col: string) => `${csv}: row ${row}, column ${col}`;
    const lesionId = r['lesion_id']!;
    // Some repackagings write image ids with the file extension.
    const imageId = r['image_id']!.replace(/\.(jpe?g|png)$/i, '');
    if (!lesionId) throw new FairtuneError('FT_DATA_FORMAT', `${at('lesion_id')}: empty id`, { file: csv });
    if (!imageId) throw new FairtuneError('FT_DATA_FORMAT', `${at('image_id')}: empty id`, { file: csv });
    const first = seen.get(imageId.toLowerCase());
    if (first !== undefined) throw new FairtuneError('FT_DATA_FORMAT', `${at('image_id')}: duplicate id ${imageId} (also row ${first})`, { file: csv });
    seen.set(imageId.toLowerCase(), row);
    const dx = r['dx']!.toLowerCase();
    if (!(HAM_DX as readonly string[]).includes(dx)) throw new FairtuneError('FT_DATA_FORMAT', `${at('dx')}: unknown diagnosis "${r['dx']}" (expected ${HAM_DX.join(', ')})`, { file: csv });
    const ageText = r['age']!;
    const age = Number(ageText);
    if (ageText !== '' && !(Number.isFinite(age) && age >= 0 && age <= 120)) throw new FairtuneError('FT_DATA_FORMAT', `${at('age')}: "${ageText}" is not an age in years`, { file: csv });
    const sexText = r['sex']!.toLowerCase();
    if (!['male', 'female', 'unknown', ''].includes(sexText)) throw new FairtuneError('FT_DATA_FORMAT', `${at('sex')}: unknown value "${r['sex']}" (expected male, female, unknown)`, { file: csv });
    // Empty cells are pandas' nulls, which MEDFAIR drops; 'unknown' is a string it keeps.
    if (ageText === '') return void count('emptyAge');
    if (sexText === '') return void count('emptySex');
    if (sexText === 'unknown') count('sexUnknown');
    rows.push({ lesionId, imageId, dx, age, sex: sexText === 'unknown' ? null : (sexText as 'male' | 'female'), localization: r['localization'] ?? '', row });
  });
  return { csv, rows, dropped };
}

/** Image path per row, from the part_1/part_2 folders (any case; also a single `HAM10000_images/` or `images/`) or the root. */
export function locateHamImages(root: string, rows: readonly HamRow[]): (string | null)[] {
  const index = indexImageFiles([...findImageDirs(root, (n) => /^ham10000_images(_part_?[12])?$/.test(n) || n === 'images'), root]);
  return rows.map((r) => index.get(r.imageId.toLowerCase()) ?? null);
}

/** Lesions in order of first appearance, with their attributes (from the lesion's first row) and each row's lesion index. */
export function hamLesions(rows: readonly HamRow[]): { ids: string[]; subject: number[]; attributes: Record<string, AttributeValue[]>; inconsistent: string[] } {
  const index = new Map<string, number>();
  const ids: string[] = [];
  const attributes: Record<string, AttributeValue[]> = { age: [], sex: [], dx: [] };
  const inconsistent: string[] = [];
  const subject = rows.map((r) => {
    let k = index.get(r.lesionId);
    if (k === undefined) {
      k = ids.length;
      index.set(r.lesionId, k);
      ids.push(r.lesionId);
      attributes['age']!.push(r.age);
      attributes['sex']!.push(r.sex);
      attributes['dx']!.push(r.dx);
    } else if (attributes['age']![k] !== r.age || attributes['sex']![k] !== r.sex || attributes['dx']![k] !== r.dx) {
      inconsistent.push(`${r.lesionId} (row ${r.row})`);
    }
    return k;
  });
  return { ids, subject, attributes, inconsistent };
}

const EFFECT_SCHEMA = {
  olderTexture: { type: 'number', minimum: 0, maximum: 100, default: DEFAULT_HAM_EFFECT.olderTexture, description: 'Synthetic: background mottling (grey levels) for age > 60 (3 otherwise).' },
  femaleContrastScale: { type: 'number', minimum: 0, maximum: 2, default: DEFAULT_HAM_EFFECT.femaleContrastScale, description: 'Synthetic: lesion contrast multiplier for women (1 = no effect).' },
  prevalenceAgeLe60: { type: 'number', minimum: 0, maximum: 1, default: DEFAULT_HAM_EFFECT.prevalenceAgeLe60, description: 'Synthetic: share of malignant lesions at age ≤ 60.' },
  prevalenceAgeGt60: { type: 'number', minimum: 0, maximum: 1, default: DEFAULT_HAM_EFFECT.prevalenceAgeGt60, description: 'Synthetic: share of malignant lesions at age > 60.' },
};

export interface HamParams extends ImageLoaderParams<HamGroupEffect> {
  malignant: string[];
}

@injectable()
export class Ham10000Loader implements StagePlugin<HamParams> {
  readonly type = 'data.ham10000';
  readonly version = '1';
  readonly description = 'Loads HAM10000 (HAM10000_metadata.csv + image folders) as image samples: malignant (mel, akiec) vs the rest, age and sex per lesion, one subject per lesion; synthetic cohort in the published format when the root is absent.';
  readonly paramsSchema = imageLoaderSchema('data/HAM10000', EFFECT_SCHEMA, {
    malignant: { type: 'array', items: { enum: [...HAM_DX] }, minItems: 1, uniqueItems: true, default: MEDFAIR_MALIGNANT, description: 'Diagnoses labelled 1 (MEDFAIR: mel and akiec; add bcc for the clinical malignant set).' },
  });
  readonly inputs = {};
  readonly outputs = { samples: { kind: 'samples', description: 'x uint8 [N, H, W, 3], y malignant 0/1, one subject per lesion' } };

  preflight(p: HamParams): string[] {
    return imagePreflight('ham10000', p);
  }

  fingerprint(p: HamParams): string {
    return imageRootFingerprint(p);
  }

  run(ctx: StageContext<HamParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const resolved = await resolveImageRoot('ham10000', p, emit, (dir) =>
        writeHam10000Cohort(dir, { images: p.syntheticImages, imageSize: p.syntheticImageSize, seed: p.syntheticSeed, groupEffect: { ...DEFAULT_HAM_EFFECT, ...p.groupEffect } }),
      );
      const table = readHamTable(resolved.root);
      const dropped = { ...table.dropped };
      const located = locateHamImages(resolved.root, table.rows);
      const present = applyMissingPolicy('ham10000', table.rows.map((r) => r.imageId), located, p.missingImages, table.csv, dropped);
      const { x, kept } = await decodeAll(present.map((i) => located[i]!), p, emit, dropped);
      const rows = kept.map((k) => table.rows[present[k]!]!);
      if (rows.length === 0) throw new FairtuneError('FT_DATA_MISSING', `ham10000: no image left in ${table.csv} after the rules (dropped: ${JSON.stringify(dropped)})`, { file: table.csv });
      const lesions = hamLesions(rows);
      if (lesions.inconsistent.length) emit.log('warn', `ham10000: ${lesions.inconsistent.length} row(s) disagree with their lesion's first row on age, sex or dx; the first row's values are used (${lesions.inconsistent.slice(0, 5).join(', ')})`);
      const y = rows.map((r) => (p.malignant.includes(r.dx) ? 1 : 0));
      emit.log('info', `ham10000: ${rows.length} images of ${lesions.ids.length} lesions, ${y.filter((v) => v === 1).length} malignant (${p.malignant.join(', ')}); dropped ${JSON.stringify(dropped)}`);
      emit.metric('images', rows.length);
      emit.artifact(
        'samples',
        imageSamples({
          name: 'ham10000',
          synthetic: resolved.synthetic,
          source: { root: resolved.root, ...(resolved.note ? { note: resolved.note } : {}) },
          spec: imageSpec(p),
          x,
          y,
          subject: lesions.subject,
          subjects: lesions.ids,
          subjectAttributes: lesions.attributes,
          dropped,
          ids: rows.map((r) => r.imageId),
        }),
      );
    });
  }
}
