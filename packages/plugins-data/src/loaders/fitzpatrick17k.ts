/**
 * Fitzpatrick17k (Groh et al. 2021): `fitzpatrick17k.csv` and the images, preprocessed as
 * MEDFAIR and FairTune do: rows with fitzpatrick_scale −1 dropped, label malignant
 * (three_partition_label == 'malignant') vs benign and non-neoplastic, skin type binarised
 * I–III / IV–VI with the six-level type kept. One subject per image (the md5hash).
 */
import { join } from 'node:path';
import { injectable } from 'inversify';
import { FairtuneError, runAsync, type AttributeValue, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { readCsvTable, requireColumns } from './csv.js';
import { applyMissingPolicy, decodeAll, findImageDirs, imageLoaderSchema, imagePreflight, imageRootFingerprint, imageSamples, imageSpec, indexImageFiles, resolveImageRoot, type ImageLoaderParams } from './imaging.js';
import { DEFAULT_FITZPATRICK_EFFECT, FITZPATRICK_COLUMNS, writeFitzpatrickCohort, type FitzpatrickGroupEffect } from '../synthetic/imaging-cohorts.js';

export const FITZPATRICK_CSV = 'fitzpatrick17k.csv';
const PARTITIONS = ['malignant', 'benign', 'non-neoplastic'];

export interface FitzpatrickRow {
  readonly md5hash: string;
  /** 1..6 */
  readonly fitzpatrick: number;
  readonly malignant: boolean;
  readonly urlAlphanum: string;
  /** CSV record number (the header is row 1). */
  readonly row: number;
}

export interface FitzpatrickTable {
  readonly csv: string;
  readonly rows: FitzpatrickRow[];
  readonly dropped: Record<string, number>;
}

/** Reads and validates the CSV; applies the −1 rule. Errors name the file, row, column and value. */
export function readFitzpatrickTable(root: string): FitzpatrickTable {
  const csv = join(root, FITZPATRICK_CSV);
  const table = readCsvTable(csv);
  requireColumns(csv, table.columns, ['md5hash', 'fitzpatrick_scale', 'three_partition_label']);
  const rows: FitzpatrickRow[] = [];
  const seen = new Map<string, number>();
  let unlabelled = 0;
  table.rows.forEach((r, i) => {
    const row = i + 2;
    const at = (col: string) => `${csv}: row ${row}, column ${col}`;
    const md5 = r['md5hash']!;
    if (!md5) throw new FairtuneError('FT_DATA_FORMAT', `${at('md5hash')}: empty id`, { file: csv });
    const first = seen.get(md5.toLowerCase());
    if (first !== undefined) throw new FairtuneError('FT_DATA_FORMAT', `${at('md5hash')}: duplicate id ${md5} (also row ${first})`, { file: csv });
    seen.set(md5.toLowerCase(), row);
    const scaleText = r['fitzpatrick_scale']!;
    const scale = Number(scaleText);
    if (scaleText === '' || !Number.isInteger(scale) || !(scale === -1 || (scale >= 1 && scale <= 6))) {
      throw new FairtuneError('FT_DATA_FORMAT', `${at('fitzpatrick_scale')}: "${scaleText}" is not a Fitzpatrick type (1..6, or -1 for unlabelled)`, { file: csv });
    }
    const partition = r['three_partition_label']!.toLowerCase();
    if (!PARTITIONS.includes(partition)) throw new FairtuneError('FT_DATA_FORMAT', `${at('three_partition_label')}: unknown value "${r['three_partition_label']}" (expected ${PARTITIONS.join(', ')})`, { file: csv });
    if (scale === -1) {
      unlabelled++;
      return;
    }
    rows.push({ md5hash: md5, fitzpatrick: scale, malignant: partition === 'malignant', urlAlphanum: r['url_alphanum'] ?? '', row });
  });
  return { csv, rows, dropped: unlabelled ? { fitzpatrickScaleMinus1: unlabelled } : {} };
}

/** Image path per row: `<md5hash>` or `<url_alphanum>` with or without .jpg/.jpeg/.png (any case), in `images/` or the root. */
export function locateFitzpatrickImages(root: string, rows: readonly FitzpatrickRow[]): (string | null)[] {
  const index = indexImageFiles([...findImageDirs(root, (n) => n === 'images' || n === 'imgs' || n === 'finalfitz17k'), root]);
  return rows.map((r) => index.get(r.md5hash.toLowerCase()) ?? (r.urlAlphanum ? index.get(r.urlAlphanum.toLowerCase().replace(/\.(jpe?g|png)$/, '')) : undefined) ?? null);
}

export function skinTypeGroup(fitzpatrick: number): 'I-III' | 'IV-VI' {
  return fitzpatrick <= 3 ? 'I-III' : 'IV-VI';
}

const EFFECT_SCHEMA = {
  darkContrastScale: { type: 'number', minimum: 0, maximum: 2, default: DEFAULT_FITZPATRICK_EFFECT.darkContrastScale, description: 'Synthetic: lesion contrast multiplier on skin types IV–VI (1 = no effect).' },
  prevalenceLight: { type: 'number', minimum: 0, maximum: 1, default: DEFAULT_FITZPATRICK_EFFECT.prevalenceLight, description: 'Synthetic: share of malignant images on types I–III.' },
  prevalenceDark: { type: 'number', minimum: 0, maximum: 1, default: DEFAULT_FITZPATRICK_EFFECT.prevalenceDark, description: 'Synthetic: share of malignant images on types IV–VI.' },
};

export type FitzpatrickParams = ImageLoaderParams<FitzpatrickGroupEffect>;

@injectable()
export class Fitzpatrick17kLoader implements StagePlugin<FitzpatrickParams> {
  readonly type = 'data.fitzpatrick17k';
  readonly version = '1';
  readonly description = 'Loads Fitzpatrick17k (fitzpatrick17k.csv + images) as image samples: malignant vs the rest, skin type I–III / IV–VI and 1..6, rows with fitzpatrick_scale −1 dropped (MEDFAIR); synthetic cohort in the published format when the root is absent.';
  readonly paramsSchema = imageLoaderSchema('data/fitzpatrick17k', EFFECT_SCHEMA);
  readonly inputs = {};
  readonly outputs = { samples: { kind: 'samples', description: 'x uint8 [N, H, W, 3], y malignant 0/1, one subject per image' } };

  preflight(p: FitzpatrickParams): string[] {
    return imagePreflight('fitzpatrick17k', p);
  }

  fingerprint(p: FitzpatrickParams): string {
    return imageRootFingerprint(p);
  }

  run(ctx: StageContext<FitzpatrickParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const resolved = await resolveImageRoot('fitzpatrick17k', p, emit, (dir) =>
        writeFitzpatrickCohort(dir, { images: p.syntheticImages, imageSize: p.syntheticImageSize, seed: p.syntheticSeed, groupEffect: { ...DEFAULT_FITZPATRICK_EFFECT, ...p.groupEffect } }),
      );
      const table = readFitzpatrickTable(resolved.root);
      const dropped = { ...table.dropped };
      const located = locateFitzpatrickImages(resolved.root, table.rows);
      const present = applyMissingPolicy('fitzpatrick17k', table.rows.map((r) => r.md5hash), located, p.missingImages, table.csv, dropped);
      const { x, kept } = await decodeAll(present.map((i) => located[i]!), p, emit, dropped);
      const rows = kept.map((k) => table.rows[present[k]!]!);
      if (rows.length === 0) throw new FairtuneError('FT_DATA_MISSING', `fitzpatrick17k: no image left in ${table.csv} after the rules (dropped: ${JSON.stringify(dropped)})`, { file: table.csv });
      const skinType: AttributeValue[] = rows.map((r) => skinTypeGroup(r.fitzpatrick));
      const positives = rows.filter((r) => r.malignant).length;
      emit.log('info', `fitzpatrick17k: ${rows.length} images, ${positives} malignant, ${skinType.filter((s) => s === 'I-III').length} of types I-III; dropped ${JSON.stringify(dropped)}`);
      emit.metric('images', rows.length);
      emit.artifact(
        'samples',
        imageSamples({
          name: 'fitzpatrick17k',
          synthetic: resolved.synthetic,
          source: { root: resolved.root, ...(resolved.note ? { note: resolved.note } : {}) },
          spec: imageSpec(p),
          x,
          y: rows.map((r) => (r.malignant ? 1 : 0)),
          subject: rows.map((_, i) => i),
          subjects: rows.map((r) => r.md5hash),
          subjectAttributes: { skinType, fitzpatrick: rows.map((r) => r.fitzpatrick) },
          dropped,
          ids: rows.map((r) => r.md5hash),
        }),
      );
    });
  }
}

export { FITZPATRICK_COLUMNS };
